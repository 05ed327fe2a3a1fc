/**
 * The `Uring` service: one io_uring for the event loop, with every op as an `Effect`.
 *
 * Interrupting a fiber that waits on an op submits `IORING_OP_ASYNC_CANCEL` for it, and the
 * interruption completes only when the op's own completion arrives, so no op outlives the
 * memory it reads or writes. Negative results become `SystemError`s with the errno's reason.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Uring } from "@effio/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const uring = yield* Uring.Uring
 *   const buf = new Uint8Array(4096)
 *   const n = yield* uring.read(fd, buf, 0, buf.length, 0)
 * }).pipe(Effect.provide(Uring.layer()))
 * ```
 * @module
 */
import type { PlatformError } from "@effect/platform/Error"
import type { Bytes, OpCallback, OpenHow, ProbeResult, Ring, Statx } from "@effio/uring-native"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { ErrorContext, UringUnavailable } from "./internal/errors.js"
import { acquirePrivate, acquireShared, cancelFiniteOps as loopCancelFinite } from "./internal/loopRing.js"
import { fromRing as internalFromRing } from "./internal/uring.js"

export type { ErrorContext } from "./internal/errors.js"
export type { Statx } from "@effio/uring-native"

export { UringUnavailable } from "./internal/errors.js"

/** Wraps an open ring as the service. The caller owns the ring's lifetime. */
export const fromRing: (ring: Ring, probed?: ProbeResult) => UringService = internalFromRing

/** Options for {@link layer} / {@link make}. */
export interface UringOptions {
  /** Submission queue depth (default 256). */
  readonly queueDepth?: number | undefined
  /**
   * A kernel thread that takes the SQEs and issues them (`IORING_SETUP_SQPOLL`): the loop
   * thread makes no `io_uring_enter` while it is awake, and what issuing does inline (the
   * copy of a page-cache read) runs on another core, as node's threadpool does. It polls
   * for `idleMs` (default 20) after its last SQE, keeping a core busy. Default false. Where
   * the kernel refuses it, the ring is an ordinary one (`ring.info().sqPoll` says which).
   * On the shared ring, the first user's choice holds.
   */
  readonly sqPoll?: boolean | { readonly idleMs?: number } | undefined
}

/** Optional overrides of the `SystemError` fields an op reports. */
export type ErrorHint = Partial<ErrorContext>

/** The `Uring` service: typed io_uring ops as Effects. */
export interface UringService {
  /** The underlying ring (escape hatch for ops not wrapped here). */
  readonly ring: Ring
  /**
   * Cancels the finite ops in flight on this ring (they cannot be interrupted): each
   * completes through its own CQE, and its fiber ends as interrupted. Returns how many.
   */
  readonly cancelFinite: () => number
  /** What {@link probe} found (ops, features, kernel). */
  readonly probe: ProbeResult
  /** True when the kernel supports opcode `name` (e.g. `"ftruncate"`). */
  readonly supports: (name: string) => boolean
  /**
   * Submits the op that `prep` queues (it must call `ring.<op>(..., cb)` and return its id)
   * and waits for its completion; the raw result, negative errno included. Interruption
   * cancels the op and waits for its CQE; `onLateSuccess` receives a result that arrived
   * after the interruption (e.g. to close an fd nobody will see).
   */
  readonly submit: (prep: (ring: Ring, cb: OpCallback) => number, onLateSuccess?: (res: number) => void) => Effect.Effect<number>
  /** Like `submit`, with a negative result turned into a `SystemError` described by `ctx`. */
  readonly op: (
    prep: (ring: Ring, cb: OpCallback) => number,
    ctx: ErrorContext,
    onLateSuccess?: (res: number) => void
  ) => Effect.Effect<number, PlatformError>
  /**
   * Like `op`, for ops that always complete promptly (metadata ops, regular-file I/O): no
   * ASYNC_CANCEL; the op runs uninterruptibly and an interruption takes effect when its CQE
   * arrives. Much cheaper than `op`. Never use it for ops that can block indefinitely
   * (pipes, sockets, FIFOs, poll, timeouts).
   *
   * `map` turns a successful result into the op's value inside the same step (no
   * `Effect.map` layer). `prep` may throw a `PlatformError` (a check it makes before
   * queueing, e.g. a bad offset): the op then fails with it and nothing is queued.
   */
  readonly opFinite: <A = number>(
    prep: (ring: Ring, cb: OpCallback) => number,
    ctx: ErrorContext,
    map?: (res: number) => A
  ) => Effect.Effect<A, PlatformError>
  readonly nop: Effect.Effect<number>
  /** pread(2); `position` -1 reads at the fd's current position (pipes, ttys, sockets). */
  readonly read: (fd: number, buffer: Bytes, offset: number, length: number, position: number, hint?: ErrorHint) => Effect.Effect<number, PlatformError>
  /** pwrite(2); `position` -1 writes at the current position (or the end with O_APPEND). */
  readonly write: (fd: number, buffer: Bytes, offset: number, length: number, position: number, hint?: ErrorHint) => Effect.Effect<number, PlatformError>
  readonly readv: (fd: number, buffers: ReadonlyArray<Bytes>, position: number, hint?: ErrorHint) => Effect.Effect<number, PlatformError>
  readonly writev: (fd: number, buffers: ReadonlyArray<Bytes>, position: number, hint?: ErrorHint) => Effect.Effect<number, PlatformError>
  readonly fsync: (fd: number, hint?: ErrorHint) => Effect.Effect<void, PlatformError>
  readonly fdatasync: (fd: number, hint?: ErrorHint) => Effect.Effect<void, PlatformError>
  /** openat2(2) → fd. An fd opened after the caller was interrupted is closed, never leaked. */
  readonly openat2: (dirfd: number, path: string, how: OpenHow, hint?: ErrorHint) => Effect.Effect<number, PlatformError>
  readonly close: (fd: number, hint?: ErrorHint) => Effect.Effect<void, PlatformError>
  readonly statx: (dirfd: number, path: string, flags: number, mask?: number, hint?: ErrorHint) => Effect.Effect<Statx, PlatformError>
  readonly unlinkat: (dirfd: number, path: string, flags: number, hint?: ErrorHint) => Effect.Effect<void, PlatformError>
  readonly renameat: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags?: number, hint?: ErrorHint) => Effect.Effect<void, PlatformError>
  readonly linkat: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags?: number, hint?: ErrorHint) => Effect.Effect<void, PlatformError>
  readonly mkdirat: (dirfd: number, path: string, mode: number, hint?: ErrorHint) => Effect.Effect<void, PlatformError>
  readonly symlinkat: (target: string, newdirfd: number, linkpath: string, hint?: ErrorHint) => Effect.Effect<void, PlatformError>
  readonly fallocate: (fd: number, mode: number, offset: number, length: number, hint?: ErrorHint) => Effect.Effect<void, PlatformError>
  /** ftruncate through the ring (check `supports("ftruncate")`). */
  readonly ftruncate: (fd: number, length: number, hint?: ErrorHint) => Effect.Effect<void, PlatformError>
  readonly splice: (fdIn: number, offIn: number, fdOut: number, offOut: number, length: number, flags?: number, hint?: ErrorHint) => Effect.Effect<number, PlatformError>
  /** Waits until `fd` is ready for `events` (`POLLIN`, `POLLOUT`, ...); returns the ready mask. */
  readonly poll: (fd: number, events: number, hint?: ErrorHint) => Effect.Effect<number, PlatformError>
  /** Sleeps with an `IORING_OP_TIMEOUT`. */
  readonly sleep: (duration: Duration.DurationInput) => Effect.Effect<void>
}

/** The `Uring` service tag. */
export class Uring extends Context.Tag("@effio/core/Uring")<Uring, UringService>() {}

/**
 * The event loop's ring, shared: the first user opens it, every io_uring layer of this
 * thread (`Uring.layer`, `UringFileSystem.layer`, net's layers) acquires the same one, and
 * the last release closes it (in-flight ops cancelled and drained). A worker thread gets its
 * own. Fails with {@link UringUnavailable} where io_uring cannot be used.
 */
export const make = (options: UringOptions = {}): Effect.Effect<UringService, UringUnavailable, Scope.Scope> =>
  acquireShared(options)

/**
 * A ring of its own, not shared with the loop's other users, closed when the scope closes
 * (benchmarks, tests that count a ring's submissions).
 */
export const makePrivate = (options: UringOptions = {}): Effect.Effect<UringService, UringUnavailable, Scope.Scope> =>
  acquirePrivate(options)

/** A scoped Layer providing {@link Uring}: the loop's shared ring (see {@link make}). */
export const layer = (options: UringOptions = {}): Layer.Layer<Uring, UringUnavailable> => Layer.scoped(Uring, make(options))

/**
 * Cancels every finite op (see `UringService.opFinite`) in flight on the loop's ring; they
 * complete through their own CQEs and their fibers end as interrupted. `Runtime.run` calls
 * it when SIGINT/SIGTERM arrives, so a program blocked on a hung mount can still end.
 * Returns how many ops it asked the kernel to cancel.
 */
export const cancelFiniteOps: () => number = loopCancelFinite
