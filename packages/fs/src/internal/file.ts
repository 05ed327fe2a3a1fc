import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import { Fd, type Uring } from "@effio/core"
import * as Effect from "effect/Effect"
import { infoFromStatx } from "./common.js"
import { C } from "./constants.js"
import { CursorFile, isSeekable } from "./cursorFile.js"
import { ftruncate, statxFd } from "./ringIo.js"

/**
 * `FileSystem.File` over io_uring (cursor semantics in {@link CursorFile}). Seekable fds
 * (regular files, block devices) use finite positional ops: the kernel cannot cancel them
 * anyway, so they run uninterruptibly and cheaply. Pipes, FIFOs, sockets and ttys use
 * cancellable ops at the fd's own position, so a read that never gets data can be interrupted.
 */
export class UringFile extends CursorFile {
  protected readonly finiteOps: boolean

  constructor(
    private readonly uring: Uring.UringService,
    ref: Fd.FdRef,
    append: boolean,
    path?: string,
    seekable: boolean = isSeekable(ref.fd)
  ) {
    super(ref, append, seekable, path)
    this.finiteOps = seekable
  }

  get stat(): Effect.Effect<FileSystem.File.Info, PlatformError> {
    return Effect.map(statxFd(this.uring, this.ref, C.STATX_BASIC_STATS | C.STATX_BTIME, this.where("stat", "statx")), infoFromStatx)
  }

  get sync(): Effect.Effect<void, PlatformError> {
    return Effect.asVoid(this.uring.opFinite(Fd.pinned(this.ref, (r, fd, cb) => r.fsync(fd, cb)), this.where("sync", "fsync")))
  }

  protected io(method: string, write: boolean, buffer: Uint8Array, position: number): Effect.Effect<number, PlatformError> {
    const prep = Fd.pinned(this.ref, (r, fd, cb) =>
      write ? r.write(fd, buffer, 0, buffer.length, position, cb) : r.read(fd, buffer, 0, buffer.length, position, cb))
    const where = this.where(method, write ? "write" : "read")
    return this.seekable ? this.uring.opFinite(prep, where) : this.uring.op(prep, where)
  }

  // No IORING_OP_FTRUNCATE before Linux 6.9: node's ftruncate (threadpool) there, whose
  // messages name no path (`named`).
  protected ftruncate(len: number): Effect.Effect<void, PlatformError> {
    return this.named(ftruncate(this.uring, this.ref, len, this.where("truncate", "ftruncate")))
  }
}
