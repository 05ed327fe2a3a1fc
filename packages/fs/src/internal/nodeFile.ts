import { type PlatformError, SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Errors, type Fd } from "@effio/runtime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { infoFromStats } from "./common.js"

/** Where a node call happened, for its `SystemError`. */
export interface NodeCtx {
  readonly method: string
  readonly syscall: string
  readonly pathOrDescriptor: string | number | undefined
}

/**
 * A node callback API as an Effect whose interruption waits for the callback: the
 * threadpool request cannot be cancelled, and the caller's finalizers (closing an fd the
 * request uses) must not run before it is done.
 */
export const nodeAsync = <A>(
  ctx: NodeCtx,
  f: (cb: (err: NodeJS.ErrnoException | null, value: A) => void) => void
): Effect.Effect<A, PlatformError> =>
  Effect.async<A, PlatformError>((resume) => {
    let done = false
    let onDone: (() => void) | undefined
    const fail = (err: unknown) => Effect.fail(Errors.fromNodeError(err, { module: "FileSystem", ...ctx }))
    try {
      f((err, value) => {
        if (done) return
        done = true
        if (onDone !== undefined) onDone()
        else resume(err ? fail(err) : Effect.succeed(value))
      })
    } catch (err) {
      done = true
      resume(fail(err))
      return
    }
    if (done) return
    return Effect.async<void>((resumeCancel) => {
      if (done) return resumeCancel(Effect.void)
      onDone = () => resumeCancel(Effect.void)
    })
  })

/** Closes an fd with node's `fs.close`; errors (already closed) are ignored. */
export const closeNodeFd = (fd: number): Effect.Effect<void> =>
  Effect.ignore(nodeAsync<void>({ method: "close", syscall: "close", pathOrDescriptor: fd }, (cb) => fs.close(fd, (err) => cb(err, undefined))))

/**
 * `FileSystem.File` on node's `fs` callbacks (the fallback backend), with the same cursor
 * semantics as `UringFile`: every read/write is positional; an op reserves its range of the
 * cursor when it starts and a short transfer gives back the unused part when no later op has
 * reserved past it; in append mode writes go to the end (O_APPEND) and leave the cursor alone.
 * The fd is pinned by its `FdRef` for each op, so closing waits for ops in flight.
 */
export class NodeFile implements FileSystem.File {
  readonly [FileSystem.FileTypeId]: FileSystem.FileTypeId = FileSystem.FileTypeId
  readonly fd: FileSystem.File.Descriptor
  private position = 0

  constructor(
    readonly ref: Fd.FdRef,
    private readonly append: boolean
  ) {
    this.fd = FileSystem.FileDescriptor(ref.fd)
  }

  private call<A>(method: string, syscall: string, f: (fd: number, cb: (err: NodeJS.ErrnoException | null, value: A) => void) => void) {
    return this.ref.use(method, (fd) => nodeAsync<A>({ method, syscall, pathOrDescriptor: fd }, (cb) => f(fd, cb)))
  }

  get stat(): Effect.Effect<FileSystem.File.Info, PlatformError> {
    return Effect.map(this.call<fs.Stats>("stat", "fstat", (fd, cb) => fs.fstat(fd, cb)), infoFromStats)
  }

  get sync(): Effect.Effect<void, PlatformError> {
    return this.call<void>("sync", "fsync", (fd, cb) => fs.fsync(fd, (err) => cb(err, undefined)))
  }

  seek(offset: FileSystem.SizeInput, from: FileSystem.SeekMode): Effect.Effect<void> {
    return Effect.sync(() => {
      const n = Number(offset)
      if (from === "start") this.position = n
      else this.position += n
    })
  }

  private pread(method: string, buffer: Uint8Array, position: number) {
    return this.call<number>(method, "read", (fd, cb) => fs.read(fd, buffer, 0, buffer.length, position, cb))
  }

  private pwrite(method: string, buffer: Uint8Array, position: number | null) {
    return this.call<number>(method, "write", (fd, cb) => fs.write(fd, buffer, 0, buffer.length, position, cb))
  }

  private reserve(len: number): number {
    const start = this.position
    this.position = start + len
    return start
  }
  private settle(start: number, len: number, done: number): void {
    if (this.position === start + len) this.position = start + done
  }

  // Runs a transfer on a reserved range of the cursor.
  private atCursor(len: number, op: (start: number) => Effect.Effect<number, PlatformError>): Effect.Effect<number, PlatformError> {
    return Effect.suspend(() => {
      const start = this.reserve(len)
      return Effect.matchEffect(op(start), {
        onFailure: (e) => {
          this.settle(start, len, 0)
          return Effect.fail(e)
        },
        onSuccess: (n) => {
          this.settle(start, len, n)
          return Effect.succeed(n)
        }
      }).pipe(Effect.onInterrupt(() => Effect.sync(() => this.settle(start, len, 0))))
    })
  }

  read(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError> {
    return Effect.map(this.atCursor(buffer.length, (at) => this.pread("read", buffer, at)), FileSystem.Size)
  }

  readAlloc(size: FileSystem.SizeInput): Effect.Effect<Option.Option<Uint8Array>, PlatformError> {
    return Effect.suspend(() => {
      const n = Number(size)
      const buffer = new Uint8Array(n)
      return Effect.map(this.atCursor(n, (at) => this.pread("readAlloc", buffer, at)), (got) =>
        got === 0 ? Option.none() : Option.some(got === n ? buffer : buffer.slice(0, got)))
    })
  }

  truncate(length?: FileSystem.SizeInput): Effect.Effect<void, PlatformError> {
    return Effect.suspend(() => {
      const len = length === undefined ? 0 : Number(length)
      return Effect.tap(
        this.call<void>("truncate", "ftruncate", (fd, cb) => fs.ftruncate(fd, len, (err) => cb(err, undefined))),
        () =>
          Effect.sync(() => {
            if (!this.append && this.position > len) this.position = len
          })
      )
    })
  }

  private writeOnce(method: string, buffer: Uint8Array): Effect.Effect<number, PlatformError> {
    // O_APPEND: the kernel writes at the end whatever the position; null keeps the cursor out of it.
    return this.append ? this.pwrite(method, buffer, null) : this.atCursor(buffer.length, (at) => this.pwrite(method, buffer, at))
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
