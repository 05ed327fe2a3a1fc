import { describe, expect, it } from "@effect/vitest"
import { Switch } from "@effio/core"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Ref } from "effect"

// A log the tests assert the order of events on.
const makeLog = Effect.map(Ref.make<Array<string>>([]), (ref) => ({
  add: (s: string) => Ref.update(ref, (a) => [...a, s]),
  get: Ref.get(ref)
}))

const failures = (cause: Cause.Cause<unknown>) => Array.from(Cause.failures(cause))

describe("Switch", () => {
  it.live("rule 1: run returns after the body and every forked fiber, then runs hooks", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const result = yield* Switch.run((sw) =>
        Effect.gen(function*() {
          yield* Switch.onRelease(sw, log.add("hook"))
          yield* Switch.fork(sw, Effect.sleep("30 millis").pipe(Effect.zipRight(log.add("slow child"))))
          yield* Switch.fork(sw, log.add("fast child"))
          yield* log.add("body end")
          return 42
        })
      )
      yield* log.add("run returned")
      expect(result).toBe(42)
      const events = yield* log.get
      expect(events.indexOf("slow child")).toBeGreaterThan(events.indexOf("body end"))
      expect(events.slice(-2)).toEqual(["hook", "run returned"])
      expect(events).toContain("fast child")
    }))

  it.live("rule 2: the first failure interrupts the others, run waits and fails with it", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const exit = yield* Effect.exit(Switch.run((sw) =>
        Effect.gen(function*() {
          yield* Switch.fork(
            sw,
            Effect.never.pipe(Effect.onInterrupt(() => Effect.sleep("20 millis").pipe(Effect.zipRight(log.add("sibling cleaned")))))
          )
          yield* Switch.fork(sw, Effect.sleep("5 millis").pipe(Effect.zipRight(Effect.fail("boom"))))
          yield* Effect.never.pipe(Effect.onInterrupt(() => log.add("body interrupted")))
        })
      ))
      yield* log.add("run returned")
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(failures(exit.cause)).toEqual(["boom"])
        // Interruptions the switch caused are not reported next to a real failure.
        expect(Cause.isInterrupted(exit.cause)).toBe(false)
      }
      const events = yield* log.get
      expect(events).toContain("body interrupted")
      expect(events.indexOf("sibling cleaned")).toBeLessThan(events.indexOf("run returned"))
    }))

  it.live("rule 2: later real failures are kept in the Cause after the first", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const exit = yield* Effect.exit(Switch.run((sw) =>
        Effect.gen(function*() {
          // This one fails while being interrupted (its finalizer fails): a later real failure.
          yield* Switch.fork(
            sw,
            Deferred.succeed(started, undefined).pipe(
              Effect.zipRight(Effect.never),
              Effect.onInterrupt(() => Effect.die("second"))
            )
          )
          yield* Deferred.await(started)
          yield* Switch.fork(sw, Effect.fail("first"))
          yield* Effect.never
        })
      ))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(Option.getOrNull(Cause.failureOption(exit.cause))).toBe("first")
        expect(Array.from(Cause.defects(exit.cause))).toEqual(["second"])
      }
    }))

  it.live("rule 3: fail returns at once, the body can clean up, run fails with the error", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const exit = yield* Effect.exit(Switch.run((sw) =>
        Effect.gen(function*() {
          yield* Switch.fail(sw, "stop")
          yield* log.add("after fail")
          yield* Effect.never
        }).pipe(Effect.onInterrupt(() => log.add("body cleanup")))
      ))
      expect(Exit.isFailure(exit) && failures(exit.cause)).toEqual(["stop"])
      expect(yield* log.get).toEqual(["after fail", "body cleanup"])
    }))

  it.live("rule 4: hooks run LIFO, one at a time, uninterruptibly, all of them, failures reported", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      let running = 0
      let overlap = false
      const hook = (name: string) =>
        Effect.gen(function*() {
          running++
          if (running > 1) overlap = true
          yield* Effect.sleep("5 millis")
          running--
          yield* log.add(name)
        })
      const exit = yield* Effect.exit(Switch.run((sw) =>
        Effect.gen(function*() {
          yield* Switch.onRelease(sw, hook("a"))
          yield* Switch.onRelease(sw, Effect.die("hook b failed"))
          yield* Switch.onRelease(sw, hook("c"))
          return "ok"
        })
      ))
      expect(yield* log.get).toEqual(["c", "a"])
      expect(overlap).toBe(false)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(Array.from(Cause.defects(exit.cause))).toEqual(["hook b failed"])
    }))

  it.live("rule 4: hooks run on failure and on interruption, and cannot be interrupted", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      yield* Effect.exit(Switch.run((sw) =>
        Switch.onRelease(sw, log.add("on failure")).pipe(Effect.zipRight(Effect.fail("x")))
      ))
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Switch.run((sw) =>
        Effect.gen(function*() {
          yield* Switch.onRelease(sw, Effect.sleep("30 millis").pipe(Effect.zipRight(log.add("slow hook done"))))
          yield* Deferred.succeed(started, undefined)
          yield* Effect.never
        })
      ))
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* log.get).toEqual(["on failure", "slow hook done"])
    }))

  it.live("rule 5: forking into a switch that is off never starts the child", () =>
    Effect.gen(function*() {
      let started = false
      const exit = yield* Effect.exit(Switch.run((sw) =>
        Effect.gen(function*() {
          yield* Switch.fail(sw, "off")
          const child = yield* Effect.uninterruptible(Switch.fork(sw, Effect.sync(() => {
            started = true
          })))
          const childExit = yield* Effect.uninterruptible(Fiber.await(child))
          expect(Exit.isInterrupted(childExit)).toBe(true)
        })
      ))
      expect(started).toBe(false)
      expect(Exit.isFailure(exit) && failures(exit.cause)).toEqual(["off"])
    }))

  it.live("rule 5: a finished switch refuses fork/check and runs onRelease at once", () =>
    Effect.gen(function*() {
      const sw = yield* Switch.run((sw) => Effect.succeed(sw))
      expect(sw.state).toBe("finished")
      const forkErr = yield* Effect.flip(Switch.fork(sw, Effect.void))
      expect(forkErr._tag).toBe("SwitchFinished")
      expect((yield* Effect.flip(Switch.check(sw)))._tag).toBe("SwitchFinished")
      let ran = false
      const relErr = yield* Effect.flip(Switch.onRelease(sw, Effect.sync(() => {
        ran = true
      })))
      expect(relErr._tag).toBe("SwitchFinished")
      expect(ran).toBe(true)
    }))

  it.live("rule 6: interrupting run interrupts the children (nested switches too) and runs the hooks", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const ready = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Switch.run((sw) =>
        Effect.gen(function*() {
          yield* Switch.onRelease(sw, log.add("outer hook"))
          yield* Switch.fork(sw, Effect.never.pipe(Effect.onInterrupt(() => log.add("child interrupted"))))
          yield* Switch.fork(
            sw,
            Switch.run((inner) =>
              Effect.gen(function*() {
                yield* Switch.onRelease(inner, log.add("inner hook"))
                yield* Switch.fork(inner, Effect.never.pipe(Effect.onInterrupt(() => log.add("grandchild interrupted"))))
                yield* Deferred.succeed(ready, undefined)
                yield* Effect.never
              })
            )
          )
          yield* Effect.never
        })
      ))
      yield* Deferred.await(ready)
      expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
      const events = yield* log.get
      expect(events).toContain("child interrupted")
      expect(events).toContain("grandchild interrupted")
      expect(events.indexOf("inner hook")).toBeLessThan(events.indexOf("outer hook"))
      expect(events.at(-1)).toBe("outer hook")
    }))

  it.live("rule 6: a child switch may fail without failing its parent", () =>
    Effect.gen(function*() {
      const result = yield* Switch.run((sw) =>
        Effect.gen(function*() {
          const inner = yield* Effect.either(Switch.run((inner) => Switch.fork(inner, Effect.fail("inner failed"))))
          expect(inner._tag).toBe("Left")
          yield* Switch.check(sw)
          return "parent fine"
        })
      )
      expect(result).toBe("parent fine")
    }))

  it.live("rule 7: daemons are interrupted once only daemons remain; a failing daemon fails the switch", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const result = yield* Switch.run((sw) =>
        Effect.gen(function*() {
          yield* Switch.forkDaemon(sw, Effect.never.pipe(Effect.onInterrupt(() => log.add("daemon stopped"))))
          yield* Switch.fork(sw, Effect.sleep("10 millis").pipe(Effect.zipRight(log.add("worker done"))))
          return "done"
        })
      )
      expect(result).toBe("done")
      expect(yield* log.get).toEqual(["worker done", "daemon stopped"])

      const exit = yield* Effect.exit(Switch.run((sw) =>
        Effect.gen(function*() {
          yield* Switch.forkDaemon(sw, Effect.fail("daemon failed"))
          yield* Effect.never
        })
      ))
      expect(Exit.isFailure(exit) && failures(exit.cause)).toEqual(["daemon failed"])
    }))

  it.live("rule 7: forkPromise failures go into the Deferred and do not fail the switch", () =>
    Effect.gen(function*() {
      const result = yield* Switch.run((sw) =>
        Effect.gen(function*() {
          const bad = yield* Switch.forkPromise(sw, Effect.fail("promise failed"))
          const good = yield* Switch.forkPromise(sw, Effect.succeed(7))
          const badResult = yield* Effect.either(Deferred.await(bad))
          return [badResult, yield* Deferred.await(good)] as const
        })
      )
      expect(result[0]._tag).toBe("Left")
      expect(result[1]).toBe(7)
    }))

  it.live("resources acquired in the body are released with the switch", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      yield* Switch.run((sw) =>
        Effect.gen(function*() {
          yield* Effect.acquireRelease(log.add("acquire"), () => log.add("release"))
          yield* Switch.fork(sw, Effect.sleep("10 millis").pipe(Effect.zipRight(log.add("child"))))
        })
      )
      expect(yield* log.get).toEqual(["acquire", "child", "release"])
    }))

  it.live("pipeable fork: effect.pipe(Switch.fork(sw))", () =>
    Effect.gen(function*() {
      const n = yield* Switch.run((sw) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.succeed(3).pipe(Switch.fork(sw))
          return yield* Fiber.join(fiber)
        })
      )
      expect(n).toBe(3)
    }))
})
