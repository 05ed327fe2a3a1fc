// The Uring service over one open ring: every op an Effect.async resumed by its CQE.
import { BadArgument, type PlatformError, SystemError } from "@effect/platform/Error"
import {
  constants,
  decodeStatx,
  errno,
  type OpCallback,
  type ProbeResult,
  probe,
  type Ring,
  STATX_SIZE
} from "@effio/uring-native"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ErrorHint, UringService } from "../Uring.js"
import { type ErrorContext, fromErrno, isRingClosed, ringClosed } from "./errors.js"

const ETIME = -errno.ETIME!
const ECANCELED = -errno.ECANCELED!
const EAGAIN = -errno.EAGAIN!

// RESOLVE_BENEATH / RESOLVE_IN_ROOT: the kernel answers EAGAIN when a concurrent rename or
// mount makes a `..` step unverifiable; the lookup is to be retried (as Eio does).
const RESOLVE_SCOPED = (constants.RESOLVE_BENEATH ?? 0x08) | (constants.RESOLVE_IN_ROOT ?? 0x10)

const ctxFor = (method: string, pathOrDescriptor: string | number, hint: ErrorHint | undefined): ErrorContext => ({
  module: hint?.module ?? "FileSystem",
  method: hint?.method ?? method,
  syscall: hint?.syscall ?? method,
  pathOrDescriptor: hint?.pathOrDescriptor ?? pathOrDescriptor,
  confined: hint?.confined
})

// A prep that threw: a PlatformError of its own (a check the prep made before queueing), a
// bad argument, or a ring already closed; anything else is a defect.
const rejectedOp = (error: unknown, ctx: ErrorContext): Effect.Effect<never, PlatformError> =>
  error instanceof BadArgument || error instanceof SystemError
    ? Effect.fail(error)
    : error instanceof TypeError || error instanceof RangeError
    ? Effect.fail(new BadArgument({ module: ctx.module, method: ctx.method, description: error.message, cause: error }))
    : isRingClosed(error)
    ? Effect.fail(ringClosed(ctx, error))
    : Effect.die(error)

/** Wraps an open ring as the service. The caller owns the ring's lifetime. */
export const fromRing = (ring: Ring, probed: ProbeResult = probe()): UringService => {
  const ops = new Set(probed.ops)
  // Ids of the finite ops in flight, so a signal can cancel them: they cannot be interrupted,
  // and on a hung mount (NFS, FUSE) or a FIFO they would keep the program from ending. Each
  // op takes a cell of `finite` from a free list and gives it back (-1) at its completion:
  // two array stores and a pop/push, ~2 ns, where a Set's add and delete measured 62 ns.
  const finite: Array<number> = []
  const freeCells: Array<number> = []
  const cancelledFinite = new Set<number>()
  const cancelFinite = (): number => {
    let n = 0
    for (const id of finite) {
      if (id >= 0 && ring.cancel(id)) {
        cancelledFinite.add(id)
        n++
      }
    }
    return n
  }

  // One Effect.async per op: the CQE callback resumes the fiber with the final value or
  // error directly (no extra combinators on the hot path). The returned canceller submits
  // ASYNC_CANCEL and completes only when the op's own CQE arrives.
  //
  // Ops that always complete promptly (metadata ops, regular-file I/O: the kernel cannot
  // cancel those anyway) skip the canceller: Effect wraps an async that returns a canceller
  // in `onInterrupt`, which costs ~2 µs and ~2.7 KB per op. They run uninterruptibly
  // instead, so an interruption takes effect when their CQE arrives: the same guarantee
  // (no op outlives the fiber's interruption) at a tenth of the cost.
  const start = <E, A = number>(
    prep: (ring: Ring, cb: OpCallback) => number,
    settle: (res: number) => Effect.Effect<A, E>,
    rejected: (error: unknown) => Effect.Effect<never, E>,
    onLateSuccess: ((res: number) => void) | undefined,
    cancellable: boolean
  ): Effect.Effect<A, E> =>
    cancellable ? startCancellable(prep, settle, rejected, onLateSuccess) : startFinite(prep, settle, rejected)

  const startFinite = <E, A>(
    prep: (ring: Ring, cb: OpCallback) => number,
    settle: (res: number) => Effect.Effect<A, E>,
    rejected: (error: unknown) => Effect.Effect<never, E>
  ): Effect.Effect<A, E> =>
    Effect.uninterruptible(
      Effect.async<A, E>((resume) => {
        let id = -1
        let cell = -1
        let done = false
        try {
          id = prep(ring, (res) => {
            done = true
            if (cell >= 0) {
              finite[cell] = -1
              freeCells.push(cell)
            }
            // Cancelled by cancelFinite (a signal is ending the program): the fiber ends as
            // interrupted, not with ECANCELED as a failure, so the exit code says "signal".
            if (cancelledFinite.size > 0 && cancelledFinite.delete(id) && res === ECANCELED) resume(Effect.interrupt)
            else resume(settle(res))
          })
          // Not registered when it completed inside prep (e.g. a closed FdRef).
          if (!done && id >= 0) {
            cell = freeCells.length > 0 ? freeCells.pop()! : finite.length
            finite[cell] = id
          }
        } catch (error) {
          resume(rejected(error))
        }
      })
    )

  const startCancellable = <E, A>(
    prep: (ring: Ring, cb: OpCallback) => number,
    settle: (res: number) => Effect.Effect<A, E>,
    rejected: (error: unknown) => Effect.Effect<never, E>,
    onLateSuccess: ((res: number) => void) | undefined
  ) =>
    Effect.async<A, E>((resume) => {
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

  // A negative result is a SystemError described by `ctx`; `map` (when given) makes the
  // value of a successful one.
  const rawOp = <A>(
    prep: (ring: Ring, cb: OpCallback) => number,
    ctx: ErrorContext,
    onLateSuccess: ((res: number) => void) | undefined,
    cancellable: boolean,
    map: ((res: number) => A) | undefined
  ) =>
    start<PlatformError, A>(
      prep,
      (res) => {
        if (res < 0) return Effect.fail(fromErrno(res, ctx))
        if (map === undefined) return Effect.succeed(res as A)
        // map runs in the completion callback: a throw must end this fiber (a defect, as in
        // Effect.map), not escape into the ring's batch and leave the fiber suspended.
        try {
          return Effect.succeed(map(res))
        } catch (defect) {
          return Effect.die(defect)
        }
      },
      (error) => rejectedOp(error, ctx),
      onLateSuccess,
      cancellable
    )
  const op = (prep: (ring: Ring, cb: OpCallback) => number, ctx: ErrorContext, onLateSuccess?: (res: number) => void) =>
    rawOp<number>(prep, ctx, onLateSuccess, true, undefined)
  const opFinite = <A = number>(prep: (ring: Ring, cb: OpCallback) => number, ctx: ErrorContext, map?: (res: number) => A) =>
    rawOp<A>(prep, ctx, undefined, false, map)

  const unit = (eff: Effect.Effect<number, PlatformError>) => Effect.asVoid(eff)
  const closeQuietly = (fd: number) => ring.closeFd(fd, () => {})

  return {
    ring,
    probe: probed,
    cancelFinite,
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
    openat2: (dirfd, path, how, hint) => {
      const ctx = ctxFor("openat2", path, hint)
      const scoped = how !== null && typeof how === "object" && ((how.resolve ?? 0) & RESOLVE_SCOPED) !== 0
      const attempt: Effect.Effect<number, PlatformError> = start<PlatformError>(
        (r, cb) => r.openat2(dirfd, path, how, cb),
        (res) => (res === EAGAIN && scoped ? attempt : res < 0 ? Effect.fail(fromErrno(res, ctx)) : Effect.succeed(res)),
        (error) => rejectedOp(error, ctx),
        closeQuietly,
        true
      )
      return attempt
    },
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

