import { type PlatformError, SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import type { Errors, Fd } from "@effio/core"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import { constants as bufferConstants } from "node:buffer"
import * as fs from "node:fs"
import { badArgument, ctx, truncateLength, writeZero } from "./common.js"

/** The largest single read of a large `readAlloc` (see `readPieces`). */
const READ_PIECE = 1024 * 1024

/** A file position or offset as a number (a `bigint` Size too). */
const toNumber = (n: FileSystem.SizeInput): number => Number(n)

/** Why `at` cannot be a file offset for `method`, or undefined when it can. */
const badOffset = (method: string, what: string, at: number): PlatformError | undefined =>
  Number.isSafeInteger(at) && at >= 0
    ? undefined
    : badArgument(method, at < 0 ? `${what} ${at} is negative` : `${what} ${at} is not a safe non-negative integer`)

/** True for fds with a file position (regular files, block devices). */
export const isSeekable = (fd: number): boolean => {
  try {
    const st = fs.fstatSync(fd)
    return st.isFile() || st.isBlockDevice()
  } catch {
    return false
  }
}

/**
 * The cursor semantics of `NodeFileSystem`'s `File`, without its lock, shared by the
 * io_uring and node backends: every read/write on a seekable fd is positional. An op
 * reserves its range of the cursor when it starts, so concurrent fibers on one handle get
 * distinct, consecutive ranges (as if serialised) without waiting for each other; a short
 * or failed transfer gives back the unused part unless a later op already reserved past it.
 * In append mode writes go to the end of the file (O_APPEND, position -1) and leave the
 * cursor alone. Non-seekable fds (pipes, FIFOs, ttys) use their own position (-1).
 *
 * A File opened from a path (`FileSystem.open`, `Path.openIn`/`openOut`) names that path in
 * its errors (`pathOrDescriptor` and the description); one made from a bare fd names the fd.
 */
export abstract class CursorFile implements FileSystem.File {
  readonly [FileSystem.FileTypeId]: FileSystem.FileTypeId = FileSystem.FileTypeId
  readonly fd: FileSystem.File.Descriptor
  /** What its errors name: the path it was opened from, else the fd. */
  readonly label: string | number
  protected position = 0

  constructor(
    readonly ref: Fd.FdRef,
    protected readonly append: boolean,
    protected readonly seekable: boolean,
    /** The path the fd was opened from, when there is one. */
    readonly path?: string | undefined
  ) {
    this.fd = FileSystem.FileDescriptor(ref.fd)
    this.label = path ?? ref.fd
  }

  /** The error context of `method` (`syscall`) on this file: its path, else its fd. */
  protected where(method: string, syscall: string): Errors.ErrorContext {
    return ctx(method, syscall, this.label)
  }

  /**
   * `effect` with its `SystemError`s naming this file's path (when it has one) instead of
   * the fd: for the errors not built from {@link where} (a closed `FdRef`, node's messages,
   * which name no path or fd).
   */
  protected named<A>(effect: Effect.Effect<A, PlatformError>): Effect.Effect<A, PlatformError> {
    const p = this.path
    if (p === undefined) return effect
    return Effect.mapError(effect, (e) => {
      if (e._tag !== "SystemError") return e
      const description = e.description === undefined || e.description.includes(`'${p}'`)
        ? e.description
        : e.syscall !== undefined && e.description.endsWith(`, ${e.syscall}`)
        ? `${e.description} '${p}'`
        : `${e.description}, ${e.syscall ?? e.method} '${p}'`
      return e.pathOrDescriptor === p && description === e.description ? e : new SystemError({ ...e, pathOrDescriptor: p, description })
    })
  }

  abstract readonly stat: Effect.Effect<FileSystem.File.Info, PlatformError>
  abstract readonly sync: Effect.Effect<void, PlatformError>
  /** One read or write of all of `buffer` at `position` (-1: the fd's own position). */
  protected abstract io(method: string, write: boolean, buffer: Uint8Array, position: number): Effect.Effect<number, PlatformError>
  /** ftruncate(2). */
  protected abstract ftruncate(length: number): Effect.Effect<void, PlatformError>
  /**
   * Whether a positional op can be made uninterruptible (it always completes promptly);
   * otherwise an interruption rolls the reservation back with `onInterrupt`.
   */
  protected abstract readonly finiteOps: boolean

  /** The fresh buffer of a `readAlloc` of `size` bytes (uninitialized). */
  protected allocate(size: number): Buffer {
    return Buffer.allocUnsafeSlow(size)
  }

  /**
   * Moves the cursor and returns its new position (as `NodeFileSystem` does; the interface
   * says void). seek cannot fail: a position that is negative (or not a safe integer) is
   * kept, and refused with BadArgument by the next read or write at the cursor.
   */
  seek(offset: FileSystem.SizeInput, from: FileSystem.SeekMode): Effect.Effect<FileSystem.Size> {
    return Effect.sync(() => {
      const n = toNumber(offset)
      if (from === "start") this.position = n
      else this.position += n
      const p = this.position
      return FileSystem.Size(Number.isSafeInteger(p) ? p : Number.isFinite(p) ? Math.trunc(p) : 0)
    })
  }

  /** Reads at `offset` without touching the cursor (`pread`). */
  readAt(buffer: Uint8Array, offset: FileSystem.SizeInput): Effect.Effect<FileSystem.Size, PlatformError> {
    return this.sizedAt("readAt", false, buffer, offset)
  }

  /**
   * One positional transfer of all of `buffer` at `offset`, as a Size. A backend whose
   * positional ops are one finite op overrides it to check the offset inside that op.
   */
  protected sizedAt(method: string, write: boolean, buffer: Uint8Array, offset: FileSystem.SizeInput): Effect.Effect<FileSystem.Size, PlatformError> {
    return Effect.suspend(() => {
      const at = toNumber(offset)
      const bad = badOffset(method, "the offset", at)
      return bad ? Effect.fail(bad) : Effect.map(this.io(method, write, buffer, at), FileSystem.Size)
    })
  }

  /** The file offset `offset` stands for; throws BadArgument when it cannot be one. */
  protected checkedOffset(method: string, offset: FileSystem.SizeInput): number {
    const at = toNumber(offset)
    const bad = badOffset(method, "the offset", at)
    if (bad) throw bad
    return at
  }

  /** Writes at `offset` without touching the cursor (`pwrite`). */
  writeAt(buffer: Uint8Array, offset: FileSystem.SizeInput): Effect.Effect<FileSystem.Size, PlatformError> {
    return this.sizedAt("writeAt", true, buffer, offset)
  }

  private reserve(len: number): number {
    const start = this.position
    this.position = start + len
    return start
  }

  /**
   * Reserves `len` bytes of the cursor for `method` and returns where they start; throws
   * BadArgument (reserving nothing) when the cursor is not a valid file offset.
   */
  protected checkedReserve(method: string, len: number): number {
    const bad = badOffset(method, "the file position", this.position)
    if (bad) throw bad
    return this.reserve(len)
  }

  /** Ends a reservation made at `start` of which `done` bytes moved (see the class comment). */
  protected settle(start: number, len: number, done: number): void {
    if (this.position === start + len) this.position = start + done
  }

  // A read or write at the cursor: reserve, transfer, settle.
  private atCursor(method: string, write: boolean, buffer: Uint8Array): Effect.Effect<number, PlatformError> {
    if (!this.seekable || (write && this.append)) return this.io(method, write, buffer, -1)
    const transfer = Effect.suspend(() => {
      const bad = badOffset(method, "the file position", this.position)
      if (bad) return Effect.fail(bad)
      const len = buffer.length
      const start = this.reserve(len)
      const settled = Effect.matchEffect(this.io(method, write, buffer, start), {
        onFailure: (e) => {
          this.settle(start, len, 0)
          return Effect.fail(e)
        },
        onSuccess: (n) => {
          this.settle(start, len, n)
          return Effect.succeed(n)
        }
      })
      return this.finiteOps ? settled : Effect.onInterrupt(settled, () => Effect.sync(() => this.settle(start, len, 0)))
    })
    return this.finiteOps ? Effect.uninterruptible(transfer) : transfer
  }

  // A large read at the cursor of a file whose reads are finite (io_uring, regular files), in
  // pieces of at most READ_PIECE bytes, so an interruption takes effect within one piece
  // (each piece is one uninterruptible op). The whole range is reserved first, as for one
  // read; a short piece is the end of the file; an interrupted or failed read gives the
  // range back.
  private readPieces(method: string, buffer: Uint8Array): Effect.Effect<number, PlatformError> {
    return Effect.suspend(() => {
      const bad = badOffset(method, "the file position", this.position)
      if (bad) return Effect.fail(bad)
      const len = buffer.length
      const start = this.reserve(len)
      const loop = (done: number): Effect.Effect<number, PlatformError> => {
        if (done === len) return Effect.succeed(done)
        const piece = buffer.subarray(done, Math.min(len, done + READ_PIECE))
        return Effect.flatMap(this.io(method, false, piece, start + done), (n) => (n < piece.length ? Effect.succeed(done + n) : loop(done + n)))
      }
      return Effect.onExit(loop(0), (exit) => Effect.sync(() => this.settle(start, len, exit._tag === "Success" ? exit.value : 0)))
    })
  }

  read(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError> {
    return this.atCursorAs("read", false, buffer, FileSystem.Size)
  }

  /**
   * A read or write of `buffer` at the cursor, its byte count made a value by `map`. A
   * backend whose positional ops are one finite op overrides it to reserve, settle and map
   * inside that op (no Effect layers).
   */
  protected atCursorAs<A>(method: string, write: boolean, buffer: Uint8Array, map: (n: number) => A): Effect.Effect<A, PlatformError> {
    return Effect.map(this.atCursor(method, write, buffer), map)
  }

  readAlloc(size: FileSystem.SizeInput): Effect.Effect<Option.Option<Uint8Array>, PlatformError> {
    return Effect.suspend(() => {
      const n = toNumber(size)
      if (!Number.isSafeInteger(n) || n < 0 || n > bufferConstants.MAX_LENGTH) {
        return Effect.fail(badArgument("readAlloc", `size must be an integer from 0 to ${bufferConstants.MAX_LENGTH} (one Buffer), not ${String(size)}`))
      }
      let buffer: Buffer
      try {
        buffer = this.allocate(n)
      } catch (cause) {
        return Effect.fail(badArgument("readAlloc", `cannot allocate a buffer of ${n} bytes`, cause))
      }
      const result = (got: number): Option.Option<Uint8Array> =>
        got === 0 ? Option.none() : Option.some(got === n ? buffer : Uint8Array.prototype.slice.call(buffer, 0, got) as Uint8Array)
      return n > READ_PIECE && this.seekable && this.finiteOps
        ? Effect.map(this.readPieces("readAlloc", buffer), result)
        : this.atCursorAs("readAlloc", false, buffer, result)
    })
  }

  truncate(length?: FileSystem.SizeInput): Effect.Effect<void, PlatformError> {
    return Effect.suspend(() => {
      const len = truncateLength(length)
      return Effect.tap(this.ftruncate(len), () =>
        Effect.sync(() => {
          if (!this.append && this.position > len) this.position = len
        }))
    })
  }

  write(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError> {
    return this.atCursorAs("write", true, buffer, FileSystem.Size)
  }

  writeAll(buffer: Uint8Array): Effect.Effect<void, PlatformError> {
    const loop = (rest: Uint8Array): Effect.Effect<void, PlatformError> =>
      rest.length === 0 ? Effect.void : Effect.flatMap(this.atCursorAs("writeAll", true, rest, identity), (n) =>
        n === 0
          ? Effect.fail(writeZero("writeAll", this.label))
          : loop(rest.subarray(n)))
    return loop(buffer)
  }
}
