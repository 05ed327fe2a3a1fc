/**
 * A scheduler for Effect fibers that cooperates with the io_uring loop.
 *
 * Effect's default scheduler chains fiber drains through microtasks and, after 2048 chained
 * drains, hops through `setTimeout(0)`, which Node clamps to at least 1 ms. This one hops
 * through `setImmediate` instead (no added latency: it runs after this loop turn's poll
 * phase). Queued SQEs need no help from the scheduler: the addon submits them from a
 * `uv_prepare_t` right before the loop blocks, and at the end of every completion batch;
 * `beforeYield` can add an earlier flush (e.g. `ring.submit()`) where that measures better.
 *
 * Measured (bench/effect-nop): a fiber looping `Effect.yieldNow()` runs 3.1–3.6× faster than
 * on the default scheduler, which idles in the ≥1 ms `setTimeout` clamp; I/O-bound fibers see
 * no difference, because Effect's per-fiber runner restarts its drain count whenever the
 * fiber suspends on an op.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Scheduler } from "@effio/runtime"
 * program.pipe(Effect.provide(Scheduler.layer()))
 * ```
 * @module
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as EffectScheduler from "effect/Scheduler"

/** Options for {@link make}. */
export interface LoopSchedulerOptions {
  /** Chained microtask drains before a macrotask hop (default 2048, as Effect's). */
  readonly maxMicrotaskDrains?: number
  /** Called right before yielding to the event loop, e.g. to submit queued SQEs. */
  readonly beforeYield?: () => void
}

/** Makes the loop-cooperating scheduler. */
export const make = (options: LoopSchedulerOptions = {}): EffectScheduler.Scheduler => {
  const max = options.maxMicrotaskDrains ?? 2048
  const beforeYield = options.beforeYield
  const runnerFor = EffectScheduler.SchedulerRunner.cached((depth, drain) => {
    if (depth >= max) {
      beforeYield?.()
      setImmediate(() => drain(0))
    } else {
      Promise.resolve(undefined).then(() => drain(depth + 1))
    }
  })
  return {
    shouldYield: EffectScheduler.defaultShouldYield,
    scheduleTask: (task, priority, fiber) => runnerFor(fiber).scheduleTask(task, priority)
  }
}

/** The process-wide instance used by {@link layer} and `Runtime.run`. */
export const loopScheduler: EffectScheduler.Scheduler = make()

/** Installs {@link loopScheduler} for every fiber run under this layer. */
export const layer = (scheduler: EffectScheduler.Scheduler = loopScheduler): Layer.Layer<never> =>
  Layer.setScheduler(scheduler)

/** Runs `effect` on {@link loopScheduler}. */
export const withLoopScheduler = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withScheduler(effect, loopScheduler)
