/**
 * effect-nop: the round trip of one Effect-level io_uring op (`IORING_OP_NOP` through the
 * `Uring` service), against the raw ring below it and a `setImmediate` hop wrapped in
 * `Effect.async` beside it, under Effect's default scheduler and Effio's loop scheduler.
 *
 * The exported case functions run inside child processes (see lib/child.ts); `effectNop`
 * is the parent side that runs the cases and prints the report.
 */
import type { Uring } from "@effio/runtime"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as EffectScheduler from "effect/Scheduler"
import * as os from "node:os"
import type { Benchmark } from "./lib/benchmark.ts"
import { type ChildCase, runChildren } from "./lib/child.ts"
import { type GcStats, watchGc } from "./lib/gc.ts"
import { type Counter, type Measured, type Timing, timedAsync, timingFromEnv } from "./lib/measure.ts"
import { ringNotes } from "./lib/proc.ts"
import { fmtInt, fmtNum, printTable } from "./lib/table.ts"

/** Fibers of the concurrent cases. */
const FIBERS = 32
/** flatMap steps of the CPU work in case g: 2 fiber ops each, so ~3000 ops (one op-count yield at 2048). */
const WORK_STEPS = 1500

type SchedulerName = "default" | "loop"

interface Args {
  readonly timing: Timing
  readonly fibers: number
  readonly scheduler: SchedulerName
  /** immediateHop only: the async returns a canceller (as every Uring op does). */
  readonly cancellable?: boolean
}

type CaseResult = Measured & { readonly notes?: string; readonly gc: GcStats }

// ---------------------------------------------------------------------------------------------
// Child-side helpers

/**
 * Starts `start(counter)` under timedAsync; also returns the total ops (warm-up included, for
 * checks against the ring's counters) and the GCs of the timed window.
 */
const measure = async (timing: Timing, start: (counter: Counter) => Promise<unknown>) => {
  let counter: Counter | undefined
  let watch: ReturnType<typeof watchGc> | undefined
  let gc: GcStats | undefined
  const m = await timedAsync(
    timing,
    (c) => {
      counter = c
      return start(c)
    },
    { onStart: () => (watch = watchGc()), onEnd: () => (gc = watch!.stop()) }
  )
  return { m: { ...m, gc: gc! }, total: counter!.ops }
}

/** Runs `effect` on the named scheduler, after checking that the fiber really runs on it. */
const runOn = async <A>(scheduler: SchedulerName, effect: Effect.Effect<A, unknown>): Promise<A> => {
  const { Scheduler } = await import("@effio/runtime")
  const expected = scheduler === "loop" ? Scheduler.loopScheduler : EffectScheduler.defaultScheduler
  const checked = Effect.flatMap(FiberRef.get(FiberRef.currentScheduler), (s) =>
    s === expected ? effect : Effect.die(new Error(`the fiber runs on the wrong scheduler (wanted ${scheduler})`)))
  return Effect.runPromise(scheduler === "loop" ? Scheduler.withLoopScheduler(checked) : checked)
}

/** `loop` in one fiber, or in `fibers` concurrent fibers. */
const spread = (fibers: number, loop: Effect.Effect<void>): Effect.Effect<void> =>
  fibers === 1 ? loop : Effect.forEach(Array.from({ length: fibers }), () => loop, { concurrency: fibers, discard: true })

/** `steps` flatMap steps (2 fiber ops each) summing steps..1; returns the sum. */
const work = (n: number, acc: number): Effect.Effect<number> =>
  n === 0 ? Effect.succeed(acc) : Effect.flatMap(Effect.succeed(n), (x) => work(n - 1, acc + x))
const WORK_SUM = (WORK_STEPS * (WORK_STEPS + 1)) / 2

/** Counts setTimeout/setImmediate calls made while `f` runs (to show which hops a scheduler took). */
const countingHops = async <A>(f: () => Promise<A>): Promise<{ value: A; timeouts: number; immediates: number }> => {
  const st = globalThis.setTimeout
  const si = globalThis.setImmediate
  let timeouts = 0
  let immediates = 0
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => (timeouts++, st(...args))) as typeof setTimeout
  globalThis.setImmediate = ((...args: Parameters<typeof setImmediate>) => (immediates++, si(...args))) as typeof setImmediate
  try {
    const value = await f()
    return { value, timeouts, immediates }
  } finally {
    globalThis.setTimeout = st
    globalThis.setImmediate = si
  }
}

/** The ring saw exactly the ops the workers counted (each worker counts only a completed nop). */
const checkRing = (info: { completions: number; submitted: number }, total: number) => {
  if (info.completions !== total || info.submitted !== total) {
    throw new Error(`counted ${total} nops but the ring submitted ${info.submitted} and completed ${info.completions}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Cases (run in children)

/** a, a'. Raw `ring.nop(cb)` in `fibers` chains: each completion callback issues that chain's next nop. */
export const ringNop = async (a: Args): Promise<CaseResult> => {
  const { Ring, errnoName } = await import("@effio/uring-native")
  const ring = new Ring({ entries: 64 })
  const { m, total } = await measure(a.timing, (counter) =>
    Promise.all(Array.from({ length: a.fibers }, () =>
      new Promise<void>((resolve, reject) => {
        const done = (res: number) => {
          if (res !== 0) return reject(new Error(`nop completed with ${res} (${errnoName(res)})`))
          counter.ops++
          if (counter.stop) resolve()
          else issue()
        }
        const issue = () => {
          try {
            ring.nop(done)
          } catch (e) {
            reject(e)
          }
        }
        issue()
      })))
  )
  const info = ring.info()
  ring.close()
  checkRing(info, total)
  return { ...m, notes: ringNotes(info) }
}

/** b, c, e. `uring.nop` looped in `fibers` fibers. */
export const uringNop = async (a: Args): Promise<CaseResult> => {
  const { Uring } = await import("@effio/runtime")
  let info: ReturnType<Uring.UringService["ring"]["info"]> | undefined
  const { m, total } = await measure(a.timing, (counter) =>
    runOn(
      a.scheduler,
      Effect.gen(function*() {
        const uring = yield* Uring.Uring
        const loop: Effect.Effect<void> = Effect.flatMap(uring.nop, (res) => {
          if (res !== 0) return Effect.die(new Error(`uring.nop gave ${res}`))
          counter.ops++
          return counter.stop ? Effect.void : loop
        })
        yield* spread(a.fibers, loop)
        info = uring.ring.info()
      }).pipe(Effect.provide(Uring.layer()))
    )
  )
  checkRing(info!, total)
  return { ...m, notes: ringNotes(info!) }
}

/**
 * d, f. Anchor: `Effect.async` resumed from `setImmediate`, looped in `fibers` fibers. With
 * `cancellable` the register function returns a canceller (`clearImmediate`), which makes
 * Effect wrap the async in `onInterrupt`, as it does for every Uring op.
 */
export const immediateHop = async (a: Args): Promise<CaseResult> => {
  let fired = 0
  const hop = a.cancellable
    ? Effect.async<number>((resume) => {
      const h = setImmediate(() => {
        fired++
        resume(Effect.succeed(fired))
      })
      return Effect.sync(() => clearImmediate(h))
    })
    : Effect.async<number>((resume) => {
      setImmediate(() => {
        fired++
        resume(Effect.succeed(fired))
      })
    })
  const { m, total } = await measure(a.timing, (counter) => {
    const loop: Effect.Effect<void> = Effect.flatMap(hop, (n) => {
      if (!(n > counter.ops)) return Effect.die(new Error(`hop resumed with ${n} after ${counter.ops} hops`))
      counter.ops++
      return counter.stop ? Effect.void : loop
    })
    return runOn(a.scheduler, spread(a.fibers, loop))
  })
  if (fired !== total) throw new Error(`counted ${total} hops but ${fired} setImmediate callbacks ran`)
  return m
}

/**
 * g. Each fiber: `uring.nop`, then ~3000 trivial Effect ops (one op-count yield at 2048).
 * One op = one iteration (nop + work). The setTimeout/setImmediate counts show whether a
 * scheduler took its macrotask hop (since Effect 3.20 each fiber has its own drain runner,
 * whose depth restarts whenever the fiber suspends, e.g. on the nop).
 */
export const nopThenWork = async (a: Args): Promise<CaseResult> => {
  const { Uring } = await import("@effio/runtime")
  let info: ReturnType<Uring.UringService["ring"]["info"]> | undefined
  const { value: { m, total }, timeouts, immediates } = await countingHops(() =>
    measure(a.timing, (counter) =>
      runOn(
        a.scheduler,
        Effect.gen(function*() {
          const uring = yield* Uring.Uring
          const loop: Effect.Effect<void> = Effect.flatMap(uring.nop, (res) => {
            if (res !== 0) return Effect.die(new Error(`uring.nop gave ${res}`))
            return Effect.flatMap(work(WORK_STEPS, 0), (sum) => {
              if (sum !== WORK_SUM) return Effect.die(new Error(`work summed to ${sum}, not ${WORK_SUM}`))
              counter.ops++
              return counter.stop ? Effect.void : loop
            })
          })
          yield* spread(a.fibers, loop)
          info = uring.ring.info()
        }).pipe(Effect.provide(Uring.layer()))
      )
    )
  )
  checkRing(info!, total)
  return { ...m, notes: `${ringNotes(info!)}; whole run: ${timeouts} setTimeout, ${immediates} setImmediate calls` }
}

/** g2. One fiber looping `Effect.yieldNow()` (no I/O): every yield is one scheduler drain. */
export const yieldLoop = async (a: Args): Promise<CaseResult> => {
  const { value: { m, total }, timeouts, immediates } = await countingHops(() =>
    measure(a.timing, (counter) => {
      const loop: Effect.Effect<void> = Effect.flatMap(Effect.yieldNow(), () => {
        counter.ops++
        return counter.stop ? Effect.void : loop
      })
      return runOn(a.scheduler, spread(a.fibers, loop))
    })
  )
  if (!(total > 0)) throw new Error("the fiber never resumed after a yield")
  return { ...m, notes: `whole run: ${timeouts} setTimeout, ${immediates} setImmediate calls` }
}

// ---------------------------------------------------------------------------------------------
// Parent side

const RAW = "a. Ring.nop chain (raw, no Effect)"
const RAW32 = `a'. Ring.nop, ${FIBERS} chains (raw, no Effect)`
const B = "b. uring.nop, 1 fiber, default scheduler"
const C = "c. uring.nop, 1 fiber, loop scheduler"
const D = "d. anchor: setImmediate async, 1 fiber, default scheduler"
const D2 = "d'. anchor: setImmediate async + canceller, 1 fiber, default scheduler"
const E = `e. uring.nop, ${FIBERS} fibers, loop scheduler`
const E2 = `e'. uring.nop, ${FIBERS} fibers, default scheduler`
const F = `f. anchor: setImmediate async, ${FIBERS} fibers, loop scheduler`
const G_DEFAULT = `g. ${FIBERS} fibers: uring.nop + ~3000 Effect ops, default scheduler`
const G_LOOP = `g. ${FIBERS} fibers: uring.nop + ~3000 Effect ops, loop scheduler`
const Y_DEFAULT = "g2. 1 fiber looping Effect.yieldNow(), default scheduler"
const Y_LOOP = "g2. 1 fiber looping Effect.yieldNow(), loop scheduler"

const cases = (timing: Timing): ReadonlyArray<ChildCase> => {
  const c = (name: string, fn: string, fibers: number, scheduler: SchedulerName, cancellable = false): ChildCase => ({
    name,
    module: import.meta.url,
    fn,
    args: { timing, fibers, scheduler, cancellable } satisfies Args
  })
  return [
    c(RAW, "ringNop", 1, "default"),
    c(RAW32, "ringNop", FIBERS, "default"),
    c(B, "uringNop", 1, "default"),
    c(C, "uringNop", 1, "loop"),
    c(D, "immediateHop", 1, "default"),
    c(D2, "immediateHop", 1, "default", true),
    c(E, "uringNop", FIBERS, "loop"),
    c(E2, "uringNop", FIBERS, "default"),
    c(F, "immediateHop", FIBERS, "loop"),
    c(G_DEFAULT, "nopThenWork", FIBERS, "default"),
    c(G_LOOP, "nopThenWork", FIBERS, "loop"),
    c(Y_DEFAULT, "yieldLoop", 1, "default"),
    c(Y_LOOP, "yieldLoop", 1, "loop")
  ]
}

const run = async (): Promise<boolean> => {
  const timing = timingFromEnv()
  const load0 = os.loadavg()[0]!
  const list = cases(timing)
  const outcomes = await runChildren<CaseResult>(list, (c, o) =>
    console.error(`  ${c.name}: ${o.ok ? `${fmtInt(o.value.opsPerSec)} ops/s` : `FAILED: ${o.error}`}`)
  )
  const byName = new Map(list.map((c, i) => [c.name, outcomes[i]!] as const))
  const measured = (name: string): Measured | undefined => {
    const o = byName.get(name)
    return o?.ok ? o.value : undefined
  }

  console.log(`\n### effect-nop: Effect-level op round trips (IORING_OP_NOP) vs a setImmediate hop`)
  console.log(
    `\n${fmtNum(timing.durationMs / 1000, 1)} s per case after ${fmtNum(timing.warmupMs / 1000, 1)} s warm-up, each in a fresh process; ` +
      `node ${process.version}, Linux ${os.release()}, ${os.availableParallelism()} CPUs, ` +
      `load average ${fmtNum(load0)} at start / ${fmtNum(os.loadavg()[0])} at end. ` +
      `Sequential cases: one op waits for the previous one. g counts iterations (nop + ${WORK_STEPS} flatMap steps), ` +
      `g2 counts yields; their setTimeout counts include the harness's own 2 sleeps. CPU = user+sys of the whole process over the timed window; GC % = GC pause time ` +
      `in the window (major = mark-compacts; a run with major GCs has had hot allocation sites pretenured by V8 and is ` +
      `typically 1.5–3× slower per op).\n`
  )
  printTable(
    ["case", "ops/s", "CPU µs/op", "CPU %", "GC % (major)", "notes"],
    list.map((c, i) => {
      const o = outcomes[i]!
      if (!o.ok) return [c.name, "–", "–", "–", "–", `FAILED: ${o.error.split("\n")[0]}`]
      const m = o.value
      const gcPct = `${fmtNum((m.gc.ms / (m.seconds * 1000)) * 100, 1)} (${m.gc.major})`
      return [c.name, fmtInt(m.opsPerSec), fmtNum(m.cpuUsPerOp), fmtNum(((m.userUs + m.sysUs) / (m.seconds * 1e6)) * 100, 0), gcPct, m.notes ?? ""]
    }),
    ["left", "right", "right", "right", "right", "left"]
  )

  const ratio = (label: string, num: string, den: string, target?: number) => {
    const n = measured(num)
    const d = measured(den)
    const r = n && d ? n.opsPerSec / d.opsPerSec : undefined
    const cpu = n && d ? d.cpuUsPerOp / n.cpuUsPerOp : undefined
    const verdict = target === undefined || r === undefined ? "" : r >= target ? "PASS" : "MISS"
    return [label, r === undefined ? "n/a" : `${fmtNum(r)}×`, cpu === undefined ? "n/a" : `${fmtNum(cpu)}×`, target === undefined ? "" : `≥ ${target}×`, verdict]
  }
  console.log("")
  printTable(
    ["ratio", "ops/s", "CPU/op (den/num)", "target", "result"],
    [
      ratio("b vs d: uring.nop (default sched) vs setImmediate hop", B, D, 1),
      ratio("c vs d: uring.nop (loop sched) vs setImmediate hop", C, D, 1),
      ratio("b vs d': uring.nop vs interruptible setImmediate hop", B, D2),
      ratio("d' vs d: cost of returning a canceller from Effect.async", D2, D),
      ratio("c vs b: loop vs default scheduler, 1 fiber", C, B),
      ratio("b vs a: Effect uring.nop vs raw Ring.nop", B, RAW),
      ratio(`e vs f: ${FIBERS} fibers uring.nop vs setImmediate hop`, E, F, 1),
      ratio(`e vs a': ${FIBERS} fibers uring.nop vs ${FIBERS} raw Ring.nop chains`, E, RAW32),
      ratio(`e vs e': loop vs default scheduler, ${FIBERS} fibers`, E, E2),
      ratio("g loop vs g default", G_LOOP, G_DEFAULT),
      ratio("g2 loop vs g2 default", Y_LOOP, Y_DEFAULT)
    ],
    ["left", "right", "right", "right", "left"]
  )
  return outcomes.every((o) => o.ok)
}

export const effectNop: Benchmark = {
  name: "effect-nop",
  description: "Effect-level io_uring op round trips (uring.nop) vs raw Ring.nop and a setImmediate hop, per scheduler",
  run
}
