// Resources whose acquisition waits (accept, connect): the wait must stay interruptible, which
// Effect.acquireRelease's acquire is not.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * Like `Effect.acquireRelease`, but the wait `acquire` can be interrupted. What it gave is
 * turned into the resource by `build` and its release registered uninterruptibly, so nothing
 * that arrived is lost between the wait and the release (a wait that is interrupted must give
 * back what it got itself, e.g. an op's late result).
 */
export const acquireInterruptible = <A, E, R, B = A, E2 = never, R2 = never, R3 = never>(
  acquire: Effect.Effect<A, E, R>,
  release: (b: B) => Effect.Effect<void, never, R3>,
  build?: (a: A) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E | E2, R | R2 | R3 | Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(restore(acquire), (a) =>
      Effect.flatMap(build ? build(a) : Effect.succeed(a as unknown as B), (b) =>
        Effect.as(Effect.addFinalizer(() => release(b)), b))))
