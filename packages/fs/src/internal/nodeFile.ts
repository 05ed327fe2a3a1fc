import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Fd } from "@effio/core"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { infoFromStats } from "./common.js"
import { CursorFile, isSeekable } from "./cursorFile.js"
import type { ReadAt } from "./readWhole.js"

/** Where a node call happened, for its `SystemError`. */
export interface NodeCtx {
  readonly method: string
  readonly syscall: string
  readonly pathOrDescriptor: string | number | undefined
}

/**
 * A node callback API as a FileSystem Effect whose interruption waits for the callback
 * (`Fd.nodeAsync`): the threadpool request cannot be cancelled, and the caller's finalizers
 * (closing an fd the request uses) must not run before it is done.
 */
export const nodeAsync = <A>(
  ctx: NodeCtx,
  f: (cb: (err: NodeJS.ErrnoException | null, value: A) => void) => void
): Effect.Effect<A, PlatformError> => Fd.nodeAsync({ module: "FileSystem", ...ctx }, f)

/** Reads of `ref` with node's `fs.read` (`ReadAt`; position -1: the fd's own position). */
export const nodeRead = (ref: Fd.FdRef): ReadAt => (buf, position, _finite, where) =>
  ref.use(where.method, (fd) => Fd.nodeAsync<number>(where, (cb) => fs.read(fd, buf, 0, buf.length, position < 0 ? null : position, cb)))

/** Closes an fd with node's `fs.close`; errors (already closed) are ignored. */
export const closeNodeFd = (fd: number): Effect.Effect<void> =>
  Effect.ignore(nodeAsync<void>({ method: "close", syscall: "close", pathOrDescriptor: fd }, (cb) => fs.close(fd, (err) => cb(err, undefined))))

/**
 * `FileSystem.File` on node's `fs` callbacks (the fallback backend), with the cursor
 * semantics of {@link CursorFile}. The fd is pinned by its `FdRef` for each op, so closing
 * waits for ops in flight; threadpool requests cannot be cancelled, so an interrupted op
 * gives its cursor reservation back.
 */
export class NodeFile extends CursorFile {
  protected readonly finiteOps = false

  constructor(ref: Fd.FdRef, append: boolean, path?: string, seekable: boolean = isSeekable(ref.fd)) {
    super(ref, append, seekable, path)
  }

  // node's messages name no path ("EBADF: bad file descriptor, write"): `named` adds it.
  private call<A>(method: string, syscall: string, f: (fd: number, cb: (err: NodeJS.ErrnoException | null, value: A) => void) => void) {
    return this.named(this.ref.use(method, (fd) => Fd.nodeAsync<A>(this.where(method, syscall), (cb) => f(fd, cb))))
  }

  get stat(): Effect.Effect<FileSystem.File.Info, PlatformError> {
    return Effect.map(this.call<fs.Stats>("stat", "fstat", (fd, cb) => fs.fstat(fd, cb)), infoFromStats)
  }

  get sync(): Effect.Effect<void, PlatformError> {
    return this.call<void>("sync", "fsync", (fd, cb) => fs.fsync(fd, (err) => cb(err, undefined)))
  }

  protected io(method: string, write: boolean, buffer: Uint8Array, position: number): Effect.Effect<number, PlatformError> {
    const at = position < 0 ? null : position
    return write
      ? this.call<number>(method, "write", (fd, cb) => fs.write(fd, buffer, 0, buffer.length, at, cb))
      : this.call<number>(method, "read", (fd, cb) => fs.read(fd, buffer, 0, buffer.length, at, cb))
  }

  protected ftruncate(len: number): Effect.Effect<void, PlatformError> {
    return this.call<void>("truncate", "ftruncate", (fd, cb) => fs.ftruncate(fd, len, (err) => cb(err, undefined)))
  }
}
