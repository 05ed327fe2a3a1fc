// io_uring ops on a pinned fd (an `FdRef`), shared by the FileSystem methods, the io_uring
// `File` and the io_uring directory backend.
import type { PlatformError } from "@effect/platform/Error"
import { type Errors, Fd, type Uring } from "@effio/core"
import { decodeStatx, type OpCallback, type Ring, type Statx, STATX_SIZE } from "@effio/uring-native"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { writeZero } from "./common.js"
import { C } from "./constants.js"
import type { ReadAt } from "./readWhole.js"

/** An `FdRef` whose close goes through the ring, or is a plain close(2) once the ring is gone. */
export const fdRef = (uring: Uring.UringService, fd: number): Fd.FdRef => new Fd.FdRef(fd, (fd) => Fd.closeFd(uring, fd))

/**
 * Reads of `ref` through the ring (`ReadAt`): one read into all of `buf` at `position` (-1:
 * the fd's own position). `finite`: the fd is a regular file or block device, whose reads
 * always complete promptly (`Uring.opFinite`); otherwise the read can be cancelled (pipes,
 * FIFOs, ttys).
 */
export const ringRead = (uring: Uring.UringService, ref: Fd.FdRef): ReadAt => (buf, position, finite, where, parallel) =>
  readOp(uring, Fd.pinned(ref, (r, fd, cb) => readInto(r, fd, buf, position, cb, finite, parallel)), finite, where)

/** {@link ringRead} of a bare fd that its one user keeps open for as long as it reads. */
export const ringReadFd = (uring: Uring.UringService, fd: number): ReadAt => (buf, position, finite, where, parallel) =>
  readOp(uring, (r, cb) => readInto(r, fd, buf, position, cb, finite, parallel), finite, where)

// A read of a regular file that is one of several in flight goes to an io-wq worker (see ReadAt).
const readInto = (r: Ring, fd: number, buf: Uint8Array, position: number, cb: OpCallback, finite: boolean, parallel?: boolean) =>
  r.read(fd, buf, 0, buf.length, position, cb, parallel === true && finite ? ASYNC : undefined)
const ASYNC = { async: true } as const

const readOp = (uring: Uring.UringService, prep: (r: Ring, cb: OpCallback) => number, finite: boolean, where: Errors.ErrorContext) =>
  finite ? uring.opFinite(prep, where) : uring.op(prep, where)

/** The most one write of {@link writeAll} asks for: a large write is interruptible between them. */
export const WRITE_CHUNK = 1024 * 1024

/**
 * Writes all of `data`: at `position` onwards, or at the fd's own position (the end with
 * O_APPEND) when `position` is -1, at most {@link WRITE_CHUNK} bytes a write, so an
 * interruption takes effect within one chunk. A write of 0 bytes is a `WriteZero` failure.
 */
export const writeAll = (
  uring: Uring.UringService,
  ref: Fd.FdRef,
  data: Uint8Array,
  position: number,
  where: Errors.ErrorContext
): Effect.Effect<void, PlatformError> => {
  const loop = (off: number): Effect.Effect<void, PlatformError> =>
    off >= data.length
      ? Effect.void
      : Effect.flatMap(
        uring.op(
          Fd.pinned(ref, (r, fd, cb) => r.write(fd, data, off, Math.min(WRITE_CHUNK, data.length - off), position < 0 ? -1 : position + off, cb)),
          where
        ),
        (n) => (n === 0 ? Effect.fail(writeZero(where.method, where.pathOrDescriptor ?? ref.fd)) : loop(off + n))
      )
  return loop(0)
}

/** statx(2) of the fd itself through the ring (`AT_EMPTY_PATH`). */
export const statxFd = (
  uring: Uring.UringService,
  ref: Fd.FdRef,
  mask: number,
  where: Errors.ErrorContext
): Effect.Effect<Statx, PlatformError> =>
  Effect.suspend(() => {
    const out = new Uint8Array(STATX_SIZE)
    return Effect.as(uring.opFinite(Fd.pinned(ref, (r, fd, cb) => r.statx(fd, "", C.AT_EMPTY_PATH, mask, out, cb)), where), out)
  }).pipe(Effect.map(decodeStatx))

/** ftruncate(2): through the ring where the kernel has `IORING_OP_FTRUNCATE` (Linux 6.9), else node's. */
export const ftruncate = (
  uring: Uring.UringService,
  ref: Fd.FdRef,
  length: number,
  where: Errors.ErrorContext
): Effect.Effect<void, PlatformError> =>
  uring.supports("ftruncate")
    ? Effect.asVoid(uring.opFinite(Fd.pinned(ref, (r, fd, cb) => r.ftruncate(fd, length, cb)), where))
    : ref.use(where.method, (fd) => Fd.nodeAsync<void>(where, (cb) => fs.ftruncate(fd, length, (err) => cb(err, undefined))))
