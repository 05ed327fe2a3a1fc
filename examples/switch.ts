/**
 * Structured concurrency: three workers in one Switch. Worker "c" fails; the switch turns
 * off, the other workers are interrupted (their clean-up runs), the release hooks run in
 * reverse order, and the program fails with c's error (exit code 1).
 *
 *   npx tsx examples/switch.ts
 */
import { Runtime, Switch } from "@effio/runtime"
import { Effect } from "effect"

Runtime.run((env) => {
  const say = (line: string) => env.stdout.write(`${line}\n`)
  // Clean-up code may not fail: a failed write to stdout there is a defect.
  const note = (line: string) => Effect.orDie(say(line))
  const worker = (name: string, ticks: number, failAt?: number) =>
    Effect.gen(function*() {
      for (let i = 1; i <= ticks; i++) {
        yield* env.clock.sleep("20 millis")
        yield* say(`${name}: tick ${i}`)
        if (i === failAt) return yield* Effect.fail(new Error(`${name} gave up at tick ${i}`))
      }
      yield* say(`${name}: done`)
    }).pipe(Effect.onInterrupt(() => note(`${name}: interrupted, cleaning up`)))

  return Switch.run((sw) =>
    Effect.gen(function*() {
      yield* Switch.onRelease(sw, note("hook 1: released last"))
      yield* Switch.onRelease(sw, note("hook 2: released first"))
      yield* Switch.fork(sw, worker("a", 10))
      yield* Switch.fork(sw, worker("b", 10))
      yield* Switch.fork(sw, worker("c", 10, 3))
      yield* say("main: all workers started")
    })
  ).pipe(Effect.tapError((e) => say(`main: the switch failed: ${e instanceof Error ? e.message : String(e)}`)))
})
