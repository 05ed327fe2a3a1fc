import type { PlatformError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import { type ErrorContext, fromNodeError } from "./errors.js"

/**
 * A node callback API (threadpool request) as an Effect. Its interruption waits for the
 * callback: the request cannot be cancelled, and the caller's finalizers (unpinning or
 * closing an fd the request uses) must not run before it is done.
 */
export const nodeAsync = <A>(
  ctx: ErrorContext,
  f: (cb: (err: NodeJS.ErrnoException | null, value: A) => void) => void
): Effect.Effect<A, PlatformError> =>
  Effect.async<A, PlatformError>((resume) => {
    let done = false
    let onDone: (() => void) | undefined
    try {
      f((err, value) => {
        if (done) return
        done = true
        if (onDone !== undefined) onDone()
        else resume(err ? Effect.fail(fromNodeError(err, ctx)) : Effect.succeed(value))
      })
    } catch (err) {
      done = true
      resume(Effect.fail(fromNodeError(err, ctx)))
      return
    }
    if (done) return
    return Effect.async<void>((resumeCancel) => {
      if (done) return resumeCancel(Effect.void)
      onDone = () => resumeCancel(Effect.void)
    })
  })
