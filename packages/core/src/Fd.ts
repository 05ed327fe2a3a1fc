/**
 * Reference-counted file descriptors for ring ops (Eio's `Rcfd`): an fd is never closed
 * while a kernel op using it is in flight.
 *
 * @example
 * ```ts
 * const ref = new Fd.FdRef(fd, (fd) => uring.close(fd))
 * const n = yield* uring.op(Fd.pinned(ref, (ring, fd, cb) => ring.read(fd, buf, 0, buf.length, 0, cb)), ctx)
 * yield* ref.close // waits for the read's completion, then closes
 * ```
 * @module
 */
export { closeFd, FdRef } from "./internal/fdref.js"
export { pinned } from "./internal/flow.js"
export { nodeAsync } from "./internal/node.js"
