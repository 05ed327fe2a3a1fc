// Resources whose acquisition waits (accept, connect): the wait must stay interruptible, which
// Effect.acquireRelease's acquire is not.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * Like `Effect.acquireRelease`, but `acquire` can be interrupted while it waits. Once it has
 * succeeded, the release is registered before anything else can interrupt (an acquire that
 * can be interrupted must itself give back what it got when cancelled).
 */
export const acquireInterruptible = <A, E, R, R2>(
  acquire: Effect.Effect<A, E, R>,
  release: (a: A) => Effect.Effect<void, never, R2>
): Effect.Effect<A, E, R | R2 | Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(restore(acquire), (a) => Effect.as(Effect.addFinalizer(() => release(a)), a)))
