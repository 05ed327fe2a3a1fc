import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Fd, type Uring } from "@effio/core"
import { allocRecycled, type OpCallback, type Ring } from "@effio/uring-native"
import * as Effect from "effect/Effect"
import { infoFromStatx } from "./common.js"
import { C } from "./constants.js"
import { CursorFile, isSeekable } from "./cursorFile.js"
import { ftruncate, statxFd } from "./ringIo.js"

/** pwrite or pread of `buffer[0, len)` at `position` (-1: the fd's own). */
const transfer = (r: Ring, fd: number, write: boolean, buffer: Uint8Array, len: number, position: number, cb: OpCallback): number =>
  write ? r.write(fd, buffer, 0, len, position, cb) : r.read(fd, buffer, 0, len, position, cb)

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

  // The hot path of `read`/`write`/`readAlloc`/`writeAll` at the cursor and of
  // `readAt`/`writeAt` on a seekable fd: one uninterruptible op whose prep checks the offset
  // (or reserves the cursor range) and whose completion settles it and makes the value, with
  // no suspend/matchEffect/map layers around it (bench fs-random: each layer is ~0.1-0.2 µs
  // of a ~6 µs op).
  protected override atCursorAs<A>(method: string, write: boolean, buffer: Uint8Array, map: (n: number) => A): Effect.Effect<A, PlatformError> {
    if (!this.seekable || (write && this.append)) return super.atCursorAs(method, write, buffer, map)
    return this.uring.opFinite(
      Fd.pinned(this.ref, (r, fd, cb) => {
        // the length when the op runs (a view of a resizable buffer may have changed since)
        const len = buffer.length
        const start = this.checkedReserve(method, len)
        const settled: OpCallback = (res, flags) => {
          this.settle(start, len, res < 0 ? 0 : res)
          cb(res, flags)
        }
        try {
          return transfer(r, fd, write, buffer, len, start, settled)
        } catch (error) {
          this.settle(start, len, 0)
          throw error
        }
      }),
      this.where(method, write ? "write" : "read"),
      map
    )
  }

  protected override sizedAt(method: string, write: boolean, buffer: Uint8Array, offset: FileSystem.SizeInput): Effect.Effect<FileSystem.Size, PlatformError> {
    if (!this.seekable) return super.sizedAt(method, write, buffer, offset)
    return this.uring.opFinite(
      Fd.pinned(this.ref, (r, fd, cb) => transfer(r, fd, write, buffer, buffer.length, this.checkedOffset(method, offset), cb)),
      this.where(method, write ? "write" : "read"),
      FileSystem.Size
    )
  }

  protected io(method: string, write: boolean, buffer: Uint8Array, position: number): Effect.Effect<number, PlatformError> {
    const prep = Fd.pinned(this.ref, (r, fd, cb) => transfer(r, fd, write, buffer, buffer.length, position, cb))
    const where = this.where(method, write ? "write" : "read")
    return this.seekable ? this.uring.opFinite(prep, where) : this.uring.op(prep, where)
  }

  // readAlloc's buffers (and so FileSystem.stream's chunks of 512 KiB to 2 MiB) come from
  // allocRecycled: a loop over a large file allocates one per chunk, and fresh memory costs a
  // page fault and a zeroed page per 4 KiB before the kernel's copy.
  protected override allocate(size: number): Buffer {
    return allocRecycled(size)
  }

  // No IORING_OP_FTRUNCATE before Linux 6.9: node's ftruncate (threadpool) there, whose
  // messages name no path (`named`).
  protected ftruncate(len: number): Effect.Effect<void, PlatformError> {
    return this.named(ftruncate(this.uring, this.ref, len, this.where("truncate", "ftruncate")))
  }
}
