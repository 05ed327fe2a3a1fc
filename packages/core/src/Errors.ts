/**
 * errno → `SystemError` (`@effect/platform/Error`) mapping shared by every Effio package.
 *
 * Reasons are finer than `@effect/platform-node`'s: ENOENT→NotFound, EACCES/EPERM (and EXDEV
 * under confinement)→PermissionDenied, EEXIST→AlreadyExists, EISDIR/ENOTDIR/ELOOP/EBADF→
 * BadResource, EBUSY→Busy, EAGAIN→WouldBlock, ETIMEDOUT/ETIME→TimedOut, EINVAL→InvalidData,
 * others Unknown. The errno name is in the description.
 * @module
 */
export { type ErrorContext, fromErrno, fromNodeError, reasonOf } from "./internal/errors.js"
export { BackendUnavailable, ErrnoError, isBrokenStdio, isRingClosed, UringUnavailable } from "./internal/errors.js"
export type { Reason } from "./internal/errno.js"
