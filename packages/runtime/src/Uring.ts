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
import { BadArgument, type PlatformError, SystemError } from "@effect/platform/Error"
import {
  type Bytes,
  constants,
  decodeStatx,
  type OpCallback,
  type OpenHow,
  type ProbeResult,
  probe,
  Ring,
  RingUnavailableError,
  STATX_SIZE,
  type Statx
} from "@effio/uring-native"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type ErrorContext, fromErrno } from "./internal/errors.js"

export type { ErrorContext } from "./internal/errors.js"
export type { Statx } from "@effio/uring-native"

/** io_uring cannot be used here; `reason` says why (errno name included). */
export class UringUnavailable extends Data.TaggedError("UringUnavailable")<{
  readonly reason: string
  readonly errno?: number | undefined
}> {
  override get message(): string {
    return `io_uring is unavailable: ${this.reason}`
  }
}

/** Options for {@link layer} / {@link make}. */
export interface UringOptions {
  /** Submission queue depth (default 256). */
  readonly queueDepth?: number | undefined
}

/** Optional overrides of the `SystemError` fields an op reports. */
export type ErrorHint = Partial<ErrorContext>

/** The `Uring` service: typed io_uring ops as Effects. */
export interface UringService {
  /** The underlying ring (escape hatch for ops not wrapped here). */
  readonly ring: Ring
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
   */
  readonly opFinite: (prep: (ring: Ring, cb: OpCallback) => number, ctx: ErrorContext) => Effect.Effect<number, PlatformError>
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
export class Uring extends Context.Tag("@effio/runtime/Uring")<Uring, UringService>() {}

const ETIME = -62

const ctxFor = (method: string, pathOrDescriptor: string | number, hint: ErrorHint | undefined): ErrorContext => ({
  module: hint?.module ?? "FileSystem",
  method: hint?.method ?? method,
  syscall: hint?.syscall ?? method,
  pathOrDescriptor: hint?.pathOrDescriptor ?? pathOrDescriptor,
  confined: hint?.confined
})

/** Wraps an open ring as the service. The caller owns the ring's lifetime. */
export const fromRing = (ring: Ring, probed: ProbeResult = probe()): UringService => {
  const ops = new Set(probed.ops)

  // One Effect.async per op: the CQE callback resumes the fiber with the final value or
  // error directly (no extra combinators on the hot path). The returned canceller submits
  // ASYNC_CANCEL and completes only when the op's own CQE arrives.
  //
  // Ops that always complete promptly (metadata ops, regular-file I/O: the kernel cannot
  // cancel those anyway) skip the canceller: Effect wraps an async that returns a canceller
  // in `onInterrupt`, which costs ~2 µs and ~2.7 KB per op. They run uninterruptibly
  // instead, so an interruption takes effect when their CQE arrives: the same guarantee
  // (no op outlives the fiber's interruption) at a tenth of the cost.
  const start = <E>(
    prep: (ring: Ring, cb: OpCallback) => number,
    settle: (res: number) => Effect.Effect<number, E>,
    rejected: (error: unknown) => Effect.Effect<never, E>,
    onLateSuccess: ((res: number) => void) | undefined,
    cancellable: boolean
  ): Effect.Effect<number, E> =>
    cancellable ? startCancellable(prep, settle, rejected, onLateSuccess) : Effect.uninterruptible(
      Effect.async<number, E>((resume) => {
        try {
          prep(ring, (res) => resume(settle(res)))
        } catch (error) {
          resume(rejected(error))
        }
      })
    )

  const startCancellable = <E>(
    prep: (ring: Ring, cb: OpCallback) => number,
    settle: (res: number) => Effect.Effect<number, E>,
    rejected: (error: unknown) => Effect.Effect<never, E>,
    onLateSuccess: ((res: number) => void) | undefined
  ) =>
    Effect.async<number, E>((resume) => {
      let done = false
      let result = 0
      let cancelled: ((_: Effect.Effect<void>) => void) | undefined
      let id: number
      try {
        id = prep(ring, (res) => {
          done = true
          result = res
          if (cancelled === undefined) resume(settle(res))
          else {
            if (res >= 0 && onLateSuccess) onLateSuccess(res)
            cancelled(Effect.void)
          }
        })
      } catch (error) {
        resume(rejected(error))
        return
      }
      if (done) return // completed synchronously (e.g. refused before reaching the ring)
      return Effect.async<void>((resumeCancel) => {
        if (done) {
          // The CQE won the race but the interruption drops its value.
          if (result >= 0 && onLateSuccess) onLateSuccess(result)
          return resumeCancel(Effect.void)
        }
        cancelled = resumeCancel
        ring.cancel(id)
      })
    })

  const submit = (prep: (ring: Ring, cb: OpCallback) => number, onLateSuccess?: (res: number) => void) =>
    start(prep, Effect.succeed, Effect.die, onLateSuccess, true)

  const rawOp = (
    prep: (ring: Ring, cb: OpCallback) => number,
    ctx: ErrorContext,
    onLateSuccess: ((res: number) => void) | undefined,
    cancellable: boolean
  ) =>
    start<PlatformError>(
      prep,
      (res) => (res < 0 ? Effect.fail(fromErrno(res, ctx)) : Effect.succeed(res)),
      (error) =>
        error instanceof TypeError || error instanceof RangeError
          ? Effect.fail(new BadArgument({ module: ctx.module, method: ctx.method, description: error.message, cause: error }))
          : (error as { code?: unknown })?.code === "ERR_RING_CLOSED"
          // The layer that owned the ring was released while this resource lived on.
          ? Effect.fail(
            new SystemError({
              reason: "BadResource",
              module: ctx.module,
              method: ctx.method,
              syscall: ctx.syscall,
              pathOrDescriptor: ctx.pathOrDescriptor,
              description: "the io_uring ring is closed (its Layer was released)",
              cause: error
            })
          )
          : Effect.die(error),
      onLateSuccess,
      cancellable
    )
  const op = (prep: (ring: Ring, cb: OpCallback) => number, ctx: ErrorContext, onLateSuccess?: (res: number) => void) =>
    rawOp(prep, ctx, onLateSuccess, true)
  const opFinite = (prep: (ring: Ring, cb: OpCallback) => number, ctx: ErrorContext) => rawOp(prep, ctx, undefined, false)

  const unit = (eff: Effect.Effect<number, PlatformError>) => Effect.asVoid(eff)
  const closeQuietly = (fd: number) => ring.closeFd(fd, () => {})

  return {
    ring,
    probe: probed,
    supports: (name) => ops.has(name),
    submit,
    op,
    opFinite,
    nop: start((r, cb) => r.nop(cb), Effect.succeed, Effect.die, undefined, false),
    read: (fd, buffer, offset, length, position, hint) =>
      op((r, cb) => r.read(fd, buffer, offset, length, position, cb), ctxFor("read", fd, hint)),
    write: (fd, buffer, offset, length, position, hint) =>
      op((r, cb) => r.write(fd, buffer, offset, length, position, cb), ctxFor("write", fd, hint)),
    readv: (fd, buffers, position, hint) => op((r, cb) => r.readv(fd, buffers, position, cb), ctxFor("readv", fd, hint)),
    writev: (fd, buffers, position, hint) => op((r, cb) => r.writev(fd, buffers, position, cb), ctxFor("writev", fd, hint)),
    fsync: (fd, hint) => unit(opFinite((r, cb) => r.fsync(fd, cb), ctxFor("fsync", fd, hint))),
    fdatasync: (fd, hint) => unit(opFinite((r, cb) => r.fdatasync(fd, cb), ctxFor("fdatasync", fd, hint))),
    openat2: (dirfd, path, how, hint) =>
      op((r, cb) => r.openat2(dirfd, path, how, cb), ctxFor("openat2", path, hint), closeQuietly),
    close: (fd, hint) => unit(opFinite((r, cb) => r.closeFd(fd, cb), ctxFor("close", fd, hint))),
    statx: (dirfd, path, flags, mask = constants.STATX_BASIC_STATS! | constants.STATX_BTIME!, hint) =>
      Effect.suspend(() => {
        const out = new Uint8Array(STATX_SIZE)
        return Effect.as(
          opFinite((r, cb) => r.statx(dirfd, path, flags, mask, out, cb), ctxFor("statx", path === "" ? dirfd : path, hint)),
          out
        )
      }).pipe(Effect.map(decodeStatx)),
    unlinkat: (dirfd, path, flags, hint) =>
      unit(opFinite((r, cb) => r.unlinkat(dirfd, path, flags, cb), ctxFor(flags & constants.AT_REMOVEDIR! ? "rmdir" : "unlink", path, hint))),
    renameat: (olddirfd, oldpath, newdirfd, newpath, flags = 0, hint) =>
      unit(opFinite((r, cb) => r.renameat(olddirfd, oldpath, newdirfd, newpath, flags, cb), ctxFor("rename", oldpath, hint))),
    linkat: (olddirfd, oldpath, newdirfd, newpath, flags = 0, hint) =>
      unit(opFinite((r, cb) => r.linkat(olddirfd, oldpath, newdirfd, newpath, flags, cb), ctxFor("link", oldpath, hint))),
    mkdirat: (dirfd, path, mode, hint) => unit(opFinite((r, cb) => r.mkdirat(dirfd, path, mode, cb), ctxFor("mkdir", path, hint))),
    symlinkat: (target, newdirfd, linkpath, hint) =>
      unit(opFinite((r, cb) => r.symlinkat(target, newdirfd, linkpath, cb), ctxFor("symlink", linkpath, hint))),
    fallocate: (fd, mode, offset, length, hint) =>
      unit(opFinite((r, cb) => r.fallocate(fd, mode, offset, length, cb), ctxFor("fallocate", fd, hint))),
    ftruncate: (fd, length, hint) => unit(opFinite((r, cb) => r.ftruncate(fd, length, cb), ctxFor("ftruncate", fd, hint))),
    splice: (fdIn, offIn, fdOut, offOut, length, flags = 0, hint) =>
      op((r, cb) => r.splice(fdIn, offIn, fdOut, offOut, length, flags, cb), ctxFor("splice", fdIn, hint)),
    poll: (fd, events, hint) => op((r, cb) => r.pollAdd(fd, events, cb), ctxFor("poll", fd, hint)),
    sleep: (duration) =>
      Effect.suspend(() => {
        const ms = Duration.toMillis(Duration.decode(duration))
        if (!Number.isFinite(ms)) return Effect.never
        const ns = Math.max(0, Math.round(ms * 1_000_000))
        return Effect.flatMap(submit((r, cb) => r.timeout(ns, cb)), (res) =>
          res === ETIME || res >= 0 ? Effect.void : Effect.die(new Error(`io_uring timeout failed with ${res}`)))
      })
  }
}

/**
 * Opens a ring for the current event loop, closed (in-flight ops cancelled and drained) when
 * the scope closes. Fails with {@link UringUnavailable} where io_uring cannot be used.
 */
export const make = (options: UringOptions = {}): Effect.Effect<UringService, UringUnavailable, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.try({
        try: () => new Ring({ entries: options.queueDepth ?? 256 }),
        catch: (e) =>
          e instanceof RingUnavailableError
            ? new UringUnavailable({ reason: e.message, errno: e.errno })
            : new UringUnavailable({ reason: String(e) })
      }),
      (ring) => Effect.sync(() => ring.close())
    ),
    (ring) => fromRing(ring)
  )

/** A scoped Layer providing {@link Uring}: one ring, closed when the layer is released. */
export const layer = (options: UringOptions = {}): Layer.Layer<Uring, UringUnavailable> => Layer.scoped(Uring, make(options))
