/**
 * Throughput measurement inside one process: ops counted over a timed window that follows a
 * warm-up, with the process's CPU time (user + sys, all threads) from `process.cpuUsage()`
 * taken around exactly that window.
 */

/** What one timed window gave. */
export interface Measured {
  /** Ops completed inside the timed window. */
  readonly ops: number
  /** Wall-clock length of the window. */
  readonly seconds: number
  readonly opsPerSec: number
  /** User and system CPU time of the whole process during the window, in µs. */
  readonly userUs: number
  readonly sysUs: number
  /** (user + sys) / ops. */
  readonly cpuUsPerOp: number
}

export interface Timing {
  readonly warmupMs: number
  readonly durationMs: number
}

/** Seconds per case from `EFFIO_BENCH_SECONDS` (default 3) and a warm-up of a third of that, at most 1 s. */
export const timingFromEnv = (): Timing => {
  const raw = Number(process.env.EFFIO_BENCH_SECONDS ?? "3")
  const seconds = Number.isFinite(raw) && raw > 0 ? raw : 3
  return { durationMs: seconds * 1000, warmupMs: Math.min(1000, (seconds * 1000) / 3) }
}

/** Shared by the workers of {@link timedAsync}: count `ops`, finish once `stop` is set. */
export interface Counter {
  ops: number
  stop: boolean
}

/**
 * `depth` callback-style workers for {@link timedAsync}: each calls `chain(counter, resolve,
 * reject)` and resolves once it has seen `counter.stop`; settles when all are done.
 */
export const chains = (depth: number, counter: Counter, chain: (counter: Counter, resolve: () => void, reject: (e: unknown) => void) => void) =>
  Promise.all(Array.from({ length: depth }, () => new Promise<void>((resolve, reject) => chain(counter, resolve, reject))))

const toMeasured = (ops: number, ns: bigint, cpu: NodeJS.CpuUsage): Measured => {
  const seconds = Number(ns) / 1e9
  return { ops, seconds, opsPerSec: ops / seconds, userUs: cpu.user, sysUs: cpu.system, cpuUsPerOp: (cpu.user + cpu.system) / ops }
}

/** Optional callbacks around the timed window (e.g. to watch GC only while it runs). */
export interface WindowHooks {
  readonly onStart?: () => void
  readonly onEnd?: () => void
}

/**
 * Starts the workers with `start(counter)`, which must return a promise that settles once every
 * worker has seen `counter.stop` and finished (or rejects as soon as one fails: the measurement
 * then rejects with that error). Warm-up, then the timed window, then stop and drain.
 */
export const timedAsync = async (timing: Timing, start: (counter: Counter) => Promise<unknown>, hooks: WindowHooks = {}): Promise<Measured> => {
  const counter: Counter = { ops: 0, stop: false }
  const done = start(counter)
  const early = done.then(() => {
    throw new Error("the workers finished before they were told to stop")
  })
  early.catch(() => {})
  const sleep = (ms: number) => Promise.race([new Promise((r) => setTimeout(r, ms)), early])
  await sleep(timing.warmupMs)
  hooks.onStart?.()
  const ops0 = counter.ops
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await sleep(timing.durationMs)
  const ops1 = counter.ops
  const cpu = process.cpuUsage(cpu0)
  const t1 = process.hrtime.bigint()
  hooks.onEnd?.()
  counter.stop = true
  await done
  return toMeasured(ops1 - ops0, t1 - t0, cpu)
}

/** Calls the synchronous `step` (one op each) in a loop: warm-up, then the timed window. */
export const timedSync = (timing: Timing, step: () => void): Measured => {
  const loop = (ms: number): number => {
    const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6))
    let ops = 0
    do {
      for (let i = 0; i < 256; i++) step()
      ops += 256
    } while (process.hrtime.bigint() < end)
    return ops
  }
  loop(timing.warmupMs)
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const ops = loop(timing.durationMs)
  const cpu = process.cpuUsage(cpu0)
  const t1 = process.hrtime.bigint()
  return toMeasured(ops, t1 - t0, cpu)
}
