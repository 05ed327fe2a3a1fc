// The event loop's ring, shared: one io_uring per loop (per thread: a worker thread loads its
// own copy of this module, so it gets its own ring), opened by its first user and closed when
// the last one releases it. Every io_uring layer (Uring, FileSystem, net) acquires it here.
import { Ring, RingUnavailableError } from "@effio/uring-native"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { UringOptions, UringService } from "../Uring.js"
import { UringUnavailable } from "./errors.js"
import { fromRing } from "./uring.js"

interface Entry {
  readonly service: UringService
  users: number
}

let current: Entry | undefined

/**
 * Completion queue entries of the loop's ring (16 bytes each: 256 KiB). A multishot op whose
 * CQE finds the CQ full is ended by the kernel: with 1,000 connections a 1,024-entry CQ
 * overflowed every round and each recv had to be re-armed (81k arms for 82k completions).
 */
const CQ_ENTRIES = 16384

/** Default submission queue depth of the loop's ring. */
export const defaultQueueDepth = 256

const openRing = ({ queueDepth: entries = defaultQueueDepth, sqPoll }: UringOptions): Effect.Effect<Ring, UringUnavailable> =>
  Effect.try({
    try: () => new Ring({ entries, cqEntries: Math.max(entries * 4, CQ_ENTRIES), ...(sqPoll === undefined ? {} : { sqPoll }) }),
    catch: (e) =>
      e instanceof RingUnavailableError
        ? new UringUnavailable({ reason: e.message, errno: e.errno })
        : new UringUnavailable({ reason: String(e) })
  })

/** A private ring, closed (in-flight ops cancelled and drained) when the scope closes. */
export const acquirePrivate = (config: UringOptions = {}): Effect.Effect<UringService, UringUnavailable, Scope.Scope> =>
  Effect.map(Effect.acquireRelease(openRing(config), (ring) => Effect.sync(() => ring.close())), (ring) => fromRing(ring))

/**
 * The loop's ring for the scope's lifetime. The first user's config (`queueDepth`, `sqPoll`)
 * opens it; later users share it as it is (the depth bounds only how many SQEs wait for one
 * flush: more are queued natively).
 */
export const acquireShared = (config: UringOptions = {}): Effect.Effect<UringService, UringUnavailable, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.suspend(() => {
        // A ring closed behind our back (someone called `ring.close()`) is replaced.
        if (current !== undefined && current.service.ring.info().open) {
          current.users++
          return Effect.succeed(current)
        }
        return Effect.map(openRing(config), (ring): Entry => (current = { service: fromRing(ring), users: 1 }))
      }),
      (entry) =>
        Effect.sync(() => {
          if (--entry.users > 0) return
          if (current === entry) current = undefined
          entry.service.ring.close()
        })
    ),
    (entry) => entry.service
  )

/** The loop's ring when one is open (no reference is taken). */
export const currentShared = (): UringService | undefined => current?.service

/**
 * Cancels the finite ops in flight on the loop's ring (see `Uring.cancelFinite`): what a
 * signal handler does so that a program blocked on a hung mount can still end.
 */
export const cancelFiniteOps = (): number => current?.service.cancelFinite() ?? 0
