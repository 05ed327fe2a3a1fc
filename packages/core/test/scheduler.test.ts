import { describe, expect, it } from "@effect/vitest"
import { Scheduler } from "@effio/core"
import { Effect } from "effect"
import * as EffectScheduler from "effect/Scheduler"

const YIELDS = 10_000

/** A fiber that yields to the scheduler `YIELDS` times; `progress.i` is its iteration. */
const yieldLoop = (progress: { i: number }) =>
  Effect.gen(function*() {
    for (progress.i = 0; progress.i < YIELDS; progress.i++) yield* Effect.yieldNow()
    return progress.i
  })

/**
 * Runs `run` with `globalThis.setTimeout` wrapped to count zero-delay timers (what Effect's
 * default scheduler hops through); the original is restored afterwards. Vitest's own timers
 * are captured at start-up and do not go through the wrapper.
 */
const countZeroDelayTimeouts = async (run: () => Promise<unknown>): Promise<number> => {
  const original = globalThis.setTimeout
  let calls = 0
  const spy = ((fn: (...args: Array<unknown>) => void, ms?: number, ...args: Array<unknown>) => {
    if (ms === undefined || ms === 0) calls++
    return original(fn, ms, ...args)
  }) as typeof setTimeout
  globalThis.setTimeout = spy
  try {
    await run()
  } finally {
    globalThis.setTimeout = original
  }
  expect(globalThis.setTimeout).toBe(original)
  return calls
}

describe("Scheduler", () => {
  it("withLoopScheduler: 10,000 yields never touch setTimeout", async () => {
    const progress = { i: 0 }
    const calls = await countZeroDelayTimeouts(() => Effect.runPromise(Scheduler.withLoopScheduler(yieldLoop(progress))))
    expect(progress.i).toBe(YIELDS)
    expect(calls).toBe(0)
  })

  it("control: Effect's default scheduler does hop through setTimeout(0) for the same loop", async () => {
    const progress = { i: 0 }
    const calls = await countZeroDelayTimeouts(() =>
      Effect.runPromise(Effect.withScheduler(yieldLoop(progress), EffectScheduler.defaultScheduler))
    )
    expect(progress.i).toBe(YIELDS)
    // One hop per 2048 chained drains.
    expect(calls).toBeGreaterThanOrEqual(3)
  })

  it("Scheduler.layer() installs the loop scheduler for the provided effect", async () => {
    const progress = { i: 0 }
    const calls = await countZeroDelayTimeouts(() => Effect.runPromise(yieldLoop(progress).pipe(Effect.provide(Scheduler.layer()))))
    expect(progress.i).toBe(YIELDS)
    expect(calls).toBe(0)
  })

  it("fairness: a setImmediate callback runs during the long yield loop, not after it", async () => {
    const progress = { i: 0 }
    let ranAt = -1
    setImmediate(() => {
      ranAt = progress.i
    })
    await Effect.runPromise(Scheduler.withLoopScheduler(yieldLoop(progress)))
    expect(ranAt).toBeGreaterThan(0)
    expect(ranAt).toBeLessThan(YIELDS)
    // After at most maxMicrotaskDrains (2048) drains, plus slack.
    expect(ranAt).toBeLessThanOrEqual(2048 + 16)
  })

  it("control: a scheduler that never leaves the microtask queue starves setImmediate (the check can fail)", async () => {
    const progress = { i: 0 }
    let ranAt = -1
    setImmediate(() => {
      ranAt = progress.i
    })
    const greedy = Scheduler.make({ maxMicrotaskDrains: Number.POSITIVE_INFINITY })
    await Effect.runPromise(Effect.withScheduler(yieldLoop(progress), greedy))
    const seenDuringLoop = ranAt
    await new Promise((resolve) => setImmediate(resolve))
    expect(seenDuringLoop).toBe(-1)
    expect(ranAt).toBe(YIELDS)
  })

  it("make: maxMicrotaskDrains bounds the chain and beforeYield runs before each loop hop", async () => {
    let hops = 0
    let immediatesSeen = 0
    const scheduler = Scheduler.make({
      maxMicrotaskDrains: 16,
      beforeYield: () => {
        hops++
      }
    })
    // A setImmediate chain: counts loop turns while the fiber yields.
    let stop = false
    const tick = () => {
      immediatesSeen++
      if (!stop) setImmediate(tick)
    }
    setImmediate(tick)
    const progress = { i: 0 }
    await Effect.runPromise(Effect.withScheduler(yieldLoop(progress), scheduler))
    stop = true
    expect(progress.i).toBe(YIELDS)
    // One hop per 17 drains (depth 0..16), one drain per yield.
    expect(hops).toBeGreaterThanOrEqual(Math.floor(YIELDS / 17) - 5)
    expect(hops).toBeLessThanOrEqual(Math.ceil(YIELDS / 17) + 5)
    expect(immediatesSeen).toBeGreaterThanOrEqual(hops - 5)
  })
})
