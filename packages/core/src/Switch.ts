/**
 * Eio's `Switch` on Effect: a lexical group of fibers and release hooks.
 *
 * - `run(sw => body)` returns only after the body **and every fiber forked into the switch**
 *   finished, then runs the release hooks (LIFO, one at a time, uninterruptibly).
 * - The first failure (of the body or any fiber) turns the switch off: every other fiber in
 *   it, the body included, is interrupted; `run` waits for them and fails with that failure.
 *   Later real failures are kept in the `Cause` (in parallel); the interruptions the switch
 *   itself caused are not reported.
 * - The switch is also a `Scope`: `Effect.acquireRelease` inside the body registers its release
 *   on the switch, and {@link Switch.scope} can be handed to `Scope.extend`.
 *
 * Where Effect already has Eio's combinator, use it: `Effect.all` (Fiber.all/both),
 * `Effect.raceFirst` (Fiber.first), `Effect.timeout` (Time.with_timeout).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Switch } from "@effio/runtime"
 *
 * const program = Switch.run((sw) =>
 *   Effect.gen(function*() {
 *     yield* Switch.fork(sw, worker("a"))
 *     yield* Switch.fork(sw, worker("b"))
 *     yield* Switch.onRelease(sw, Effect.log("released"))
 *   })
 * )
 * ```
 * @module
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { finished, impl, make, type SwitchFinished, TypeId } from "./internal/switch.js"


/**
 * A switch. `E` is the error type its forked fibers may fail with (contravariant: a
 * `Switch<unknown>`, the default, accepts fibers of any error type).
 */
export interface Switch<in E = unknown> {
  readonly [TypeId]: { readonly _E: (_: E) => void }
  /** The scope holding the switch's release hooks. */
  readonly scope: Scope.Scope
  /** `"on"` while running, `"off"` once failed/cancelled, `"finished"` after `run` returned. */
  readonly state: "on" | "off" | "finished"
}

export { SwitchFinished } from "./internal/switch.js"

/**
 * Runs `body` with a new switch. Returns when the body and every fiber forked into the
 * switch have finished and the release hooks have run; fails with the first failure.
 * Interrupting the calling fiber interrupts everything in the switch (and still waits).
 * Resources acquired with `Effect.acquireRelease` in the body are released with the switch.
 */
export const run: <A, E, R, EChild = unknown>(
  body: (sw: Switch<EChild>) => Effect.Effect<A, E, R>
) => Effect.Effect<A, E | EChild, Exclude<R, Scope.Scope>> = make(false)

/**
 * Like {@link run}, but the switch is protected from the caller's interruption: an
 * interruption of the calling fiber waits until the switch has finished on its own
 * (Eio's `Switch.run_protected`).
 */
export const runProtected: <A, E, R, EChild = unknown>(
  body: (sw: Switch<EChild>) => Effect.Effect<A, E | EChild, R>
) => Effect.Effect<A, E | EChild, Exclude<R, Scope.Scope>> = make(true)

const forkWith = (kind: "fiber" | "daemon") =>
  function fork<E>(sw: Switch<E>, ...rest: Array<unknown>): any {
    if (rest.length === 0) return (effect: Effect.Effect<unknown, E, unknown>) => fork(sw, effect)
    const effect = rest[0] as Effect.Effect<unknown, E, unknown>
    return Effect.suspend(() => {
      const s = impl(sw)
      if (s.state === "finished") return finished(kind === "daemon" ? "forkDaemon" : "fork")
      // A switch that is off never starts new fibers: the fiber is born interrupted.
      if (s.state === "off") return Effect.forkDaemon(Effect.interrupt)
      return s.start(effect, kind)
    })
  }

/**
 * Forks `effect` into the switch and returns its fiber. Its failure turns the switch off.
 * Forking into a switch that is off never starts the effect (the fiber is interrupted).
 * `Switch.fork(sw, effect)` or `effect.pipe(Switch.fork(sw))`.
 */
export const fork: {
  <E>(sw: Switch<E>): <A, E1 extends E, R>(effect: Effect.Effect<A, E1, R>) => Effect.Effect<Fiber.RuntimeFiber<A, E1>, SwitchFinished, R>
  <A, E, R>(sw: Switch<E>, effect: Effect.Effect<A, E, R>): Effect.Effect<Fiber.RuntimeFiber<A, E>, SwitchFinished, R>
} = forkWith("fiber")

/**
 * Forks a daemon: a fiber the switch does not wait for. Daemons are interrupted once only
 * daemons remain; a failing daemon still fails the switch.
 */
export const forkDaemon: {
  <E>(sw: Switch<E>): <A, E1 extends E, R>(effect: Effect.Effect<A, E1, R>) => Effect.Effect<Fiber.RuntimeFiber<A, E1>, SwitchFinished, R>
  <A, E, R>(sw: Switch<E>, effect: Effect.Effect<A, E, R>): Effect.Effect<Fiber.RuntimeFiber<A, E>, SwitchFinished, R>
} = forkWith("daemon")

/**
 * Forks `effect` and returns a `Deferred` with its result. Its failure goes into the
 * Deferred and does not fail the switch; the switch still waits for it and interrupts it.
 */
export const forkPromise: {
  (sw: Switch<any>): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Deferred.Deferred<A, E>, SwitchFinished, R>
  <A, E, R>(sw: Switch<any>, effect: Effect.Effect<A, E, R>): Effect.Effect<Deferred.Deferred<A, E>, SwitchFinished, R>
} = function forkPromise(sw: Switch<any>, ...rest: Array<unknown>): any {
  if (rest.length === 0) return (effect: Effect.Effect<unknown, unknown, unknown>) => forkPromise(sw, effect)
  const effect = rest[0] as Effect.Effect<unknown, unknown, unknown>
  return Effect.flatMap(Deferred.make<unknown, unknown>(), (deferred) =>
    Effect.suspend(() => {
      const s = impl(sw)
      if (s.state === "finished") return finished("forkPromise")
      if (s.state === "off") return Effect.as(Deferred.interrupt(deferred), deferred)
      return Effect.as(s.start(effect, "promise", (exit) => Deferred.unsafeDone(deferred, exit)), deferred)
    }))
}

/**
 * Registers a release hook, run when the switch finishes (LIFO, uninterruptibly, even on
 * failure or interruption). On a finished switch the hook runs at once and this fails
 * with {@link SwitchFinished}.
 */
export const onRelease: {
  <X, R>(finalizer: Effect.Effect<X, never, R>): (sw: Switch<any>) => Effect.Effect<void, SwitchFinished, R>
  <X, R>(sw: Switch<any>, finalizer: Effect.Effect<X, never, R>): Effect.Effect<void, SwitchFinished, R>
} = function onRelease(...args: Array<unknown>): any {
  if (args.length === 1) return (sw: Switch<any>) => onRelease(sw, args[0] as Effect.Effect<unknown>)
  const sw = args[0] as Switch<any>
  const finalizer = args[1] as Effect.Effect<unknown, never, unknown>
  return Effect.suspend(() => {
    const s = impl(sw)
    if (s.state === "finished") return Effect.zipRight(Effect.uninterruptible(finalizer), finished("onRelease"))
    // The hook runs later, from `run`: capture the caller's context for it now.
    return Effect.flatMap(Effect.context<unknown>(), (ctx) =>
      Scope.addFinalizer(s.scope, Effect.provide(finalizer, ctx as any) as Effect.Effect<unknown>))
  })
}

/**
 * Turns the switch off with `error`: every fiber in it, the body included, is interrupted
 * and `run` fails with `error` (or with an earlier failure). Returns at once.
 */
export const fail: {
  <E>(error: E): (sw: Switch<E>) => Effect.Effect<void>
  <E>(sw: Switch<E>, error: E): Effect.Effect<void>
} = function fail(...args: Array<unknown>): any {
  if (args.length === 1) return (sw: Switch<any>) => fail(sw, args[0])
  const sw = args[0] as Switch<any>
  return Effect.fiberIdWith((caller) =>
    Effect.sync(() => {
      const s = impl(sw)
      if (s.state !== "finished") s.turnOff(Cause.fail(args[1]), caller)
    })
  )
}

/**
 * Succeeds while the switch is on; interrupts the caller when it is off (it is being
 * cancelled); fails with {@link SwitchFinished} after `run` returned.
 */
export const check = (sw: Switch<any>): Effect.Effect<void, SwitchFinished> =>
  Effect.suspend(() => {
    const s = impl(sw)
    if (s.state === "finished") return finished("check")
    if (s.state === "off") return Effect.interrupt
    return Effect.void
  })

/** True for values made by {@link run}. */
export const isSwitch = (u: unknown): u is Switch<unknown> => typeof u === "object" && u !== null && TypeId in u
