import { type PlatformError, SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Fd, type Uring } from "@effio/runtime"
import { decodeStatx as decode } from "@effio/uring-native"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { C, infoFromStatx, nodeCall, truncateLength } from "./common.js"

const ctx = (method: string, syscall: string, fd: number) => ({
  module: "FileSystem" as const,
  method,
  syscall,
  pathOrDescriptor: fd
})

/**
 * `FileSystem.File` over io_uring, with `NodeFileSystem`'s cursor semantics but no lock:
 * every read/write is positional (an explicit offset in the SQE). A read or write reserves
 * its range of the cursor when it starts, so concurrent fibers on one handle get distinct,
 * consecutive ranges (as if serialised) without waiting for each other; a short transfer
 * gives back the unused part when no later op has reserved past it. In append mode writes
 * go to the end of the file (offset -1 with O_APPEND) and leave the cursor alone.
 */
export class UringFile implements FileSystem.File {
  readonly [FileSystem.FileTypeId]: FileSystem.FileTypeId = FileSystem.FileTypeId
  readonly fd: FileSystem.File.Descriptor
  private position = 0

  /**
   * Regular files and block devices: positional I/O at the cursor, and every op is finite
   * (the kernel cannot cancel it anyway), so it runs uninterruptibly and cheaply. Pipes,
   * FIFOs, sockets, ttys and other character devices: I/O at the fd's own position (-1) with
   * cancellable ops, so a read that never gets data can still be interrupted.
   */
  private readonly seekable: boolean

  constructor(
    private readonly uring: Uring.UringService,
    readonly ref: Fd.FdRef,
    private readonly append: boolean,
    seekable?: boolean
  ) {
    this.fd = FileSystem.FileDescriptor(ref.fd)
    this.seekable = seekable ?? isSeekable(ref.fd)
  }

  get stat(): Effect.Effect<FileSystem.File.Info, PlatformError> {
    return Effect.suspend(() => {
      const out = new Uint8Array(256)
      return this.uring.opFinite(
        Fd.pinned(this.ref, (r, fd, cb) => r.statx(fd, "", C.AT_EMPTY_PATH, C.STATX_BASIC_STATS | C.STATX_BTIME, out, cb)),
        ctx("stat", "statx", this.ref.fd)
      ).pipe(Effect.map(() => out))
    }).pipe(Effect.map((out) => infoFromStatx(decode(out))))
  }

  get sync(): Effect.Effect<void, PlatformError> {
    return Effect.asVoid(this.uring.opFinite(Fd.pinned(this.ref, (r, fd, cb) => r.fsync(fd, cb)), ctx("sync", "fsync", this.ref.fd)))
  }

  seek(offset: FileSystem.SizeInput, from: FileSystem.SeekMode): Effect.Effect<void> {
    return Effect.sync(() => {
      const n = Number(offset)
      if (from === "start") this.position = n
      else this.position += n
    })
  }

  // One read or write of `buffer` at `position` (-1: the fd's own position).
  private io(method: string, write: boolean, buffer: Uint8Array, position: number) {
    const prep = Fd.pinned(this.ref, (r, fd, cb) =>
      write ? r.write(fd, buffer, 0, buffer.length, position, cb) : r.read(fd, buffer, 0, buffer.length, position, cb))
    const where = ctx(method, write ? "write" : "read", this.ref.fd)
    return this.seekable ? this.uring.opFinite(prep, where) : this.uring.op(prep, where)
  }

  /** Reads at `offset` without touching the cursor (`pread`). */
  readAt(buffer: Uint8Array, offset: FileSystem.SizeInput): Effect.Effect<FileSystem.Size, PlatformError> {
    return Effect.map(this.io("read", false, buffer, Number(offset)), FileSystem.Size)
  }

  /** Writes at `offset` without touching the cursor (`pwrite`). */
  writeAt(buffer: Uint8Array, offset: FileSystem.SizeInput): Effect.Effect<FileSystem.Size, PlatformError> {
    return Effect.map(this.io("write", true, buffer, Number(offset)), FileSystem.Size)
  }

  // Reserve [start, start+len) of the cursor; on a short or failed transfer give back what
  // was not used, unless a later op already reserved beyond it.
  private reserve(len: number): number {
    const start = this.position
    this.position = start + len
    return start
  }
  private settle(start: number, len: number, done: number): void {
    if (this.position === start + len) this.position = start + done
  }

  // A read or write at the cursor. Seekable: reserve, op, settle in one uninterruptible
  // region (the op is finite), so the cursor is always consistent. Otherwise the fd's own
  // position is used and the op stays cancellable.
  private atCursor(method: string, write: boolean, buffer: Uint8Array): Effect.Effect<number, PlatformError> {
    if (!this.seekable || (write && this.append)) return this.io(method, write, buffer, -1)
    return Effect.uninterruptible(Effect.suspend(() => {
      const len = buffer.length
      const start = this.reserve(len)
      return Effect.matchEffect(this.io(method, write, buffer, start), {
        onFailure: (e) => {
          this.settle(start, len, 0)
          return Effect.fail(e)
        },
        onSuccess: (n) => {
          this.settle(start, len, n)
          return Effect.succeed(n)
        }
      })
    }))
  }

  read(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError> {
    return Effect.map(this.atCursor("read", false, buffer), FileSystem.Size)
  }

  readAlloc(size: FileSystem.SizeInput): Effect.Effect<Option.Option<Uint8Array>, PlatformError> {
    return Effect.suspend(() => {
      const n = Number(size)
      const buffer = Buffer.allocUnsafeSlow(n)
      return Effect.map(this.atCursor("readAlloc", false, buffer), (got) =>
        got === 0
          ? Option.none()
          : Option.some(got === n ? buffer : Uint8Array.prototype.slice.call(buffer, 0, got) as Uint8Array))
    })
  }

  truncate(length?: FileSystem.SizeInput): Effect.Effect<void, PlatformError> {
    return Effect.suspend(() => {
      const len = truncateLength(length)
      const op = this.uring.supports("ftruncate")
        ? Effect.asVoid(
          this.uring.opFinite(Fd.pinned(this.ref, (r, fd, cb) => r.ftruncate(fd, len, cb)), ctx("truncate", "ftruncate", this.ref.fd))
        )
        : // No IORING_OP_FTRUNCATE before Linux 6.9: node's ftruncate (threadpool).
          this.ref.use("truncate", (fd) =>
            nodeCall<void>("truncate", "ftruncate", fd, (cb) => fs.ftruncate(fd, len, (err) => cb(err, undefined))))
      return Effect.tap(op, () =>
        Effect.sync(() => {
          if (!this.append && this.position > len) this.position = len
        }))
    })
  }

  private writeOnce(method: string, buffer: Uint8Array): Effect.Effect<number, PlatformError> {
    return this.atCursor(method, true, buffer)
  }

  write(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError> {
    return Effect.map(this.writeOnce("write", buffer), FileSystem.Size)
  }

  writeAll(buffer: Uint8Array): Effect.Effect<void, PlatformError> {
    const loop = (rest: Uint8Array): Effect.Effect<void, PlatformError> =>
      rest.length === 0 ? Effect.void : Effect.flatMap(this.writeOnce("writeAll", rest), (n) =>
        n === 0
          ? Effect.fail(
            new SystemError({
              module: "FileSystem",
              method: "writeAll",
              reason: "WriteZero",
              pathOrDescriptor: this.ref.fd,
              description: "write returned 0 bytes written"
            })
          )
          : loop(rest.subarray(n)))
    return loop(buffer)
  }
}

const isSeekable = (fd: number): boolean => {
  try {
    const st = fs.fstatSync(fd)
    return st.isFile() || st.isBlockDevice()
  } catch {
    return false
  }
}
