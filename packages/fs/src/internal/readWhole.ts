// Reading a whole file (FileSystem.readFile, Path.load on every backend) in as few reads as
// its size allows: open, read, close are the only ring ops for a small file.
import { type PlatformError, SystemError } from "@effect/platform/Error"
import { Errors } from "@effio/core"
import * as Effect from "effect/Effect"
import { constants as bufferConstants } from "node:buffer"
import * as fs from "node:fs"
import { badArgument, ctx, isType } from "./common.js"
import { C } from "./constants.js"

/**
 * The largest whole file read into one buffer: 2 GiB - 1, what one read(2) can return and
 * node's own `readFile` limit (kIoMaxLength), on every Node version (newer ones allow larger
 * Buffers, but a multi-GiB `readFile` is a mistake better reported than attempted).
 */
export const MAX_WHOLE_FILE = 2 ** 31 - 1

/** V8's longest string, in UTF-16 code units (`buffer.constants.MAX_STRING_LENGTH`). */
export const MAX_STRING = bufferConstants.MAX_STRING_LENGTH

/**
 * A limit of a whole-file read passed (`code` names it, as node's): `what` says which, then
 * where (the method and path), then `instead`, what to do; `cause` carries the numbers.
 */
const overLimit = (
  where: Errors.ErrorContext,
  code: string,
  what: string,
  instead: string,
  cause: Record<string, number>
): SystemError =>
  new SystemError({
    reason: "Unknown",
    module: where.module,
    method: where.method,
    syscall: where.syscall,
    pathOrDescriptor: where.pathOrDescriptor,
    description: `${code}: ${what}${where.pathOrDescriptor !== undefined ? `, ${where.method} '${where.pathOrDescriptor}'` : ""}; ${instead}`,
    cause: { code, ...cause }
  })

/** The failure of a file of `size` bytes (or more) read whole: named size and limit, nothing allocated. */
const tooLarge = (where: Errors.ErrorContext, size: number, atLeast: boolean): SystemError =>
  overLimit(
    where,
    "ERR_FS_FILE_TOO_LARGE",
    `the file's size (${atLeast ? "at least " : ""}${size} bytes) is greater than ${MAX_WHOLE_FILE} bytes, the most one buffer read whole can hold`,
    "read it in parts (FileSystem.stream, File.read)",
    { size, limit: MAX_WHOLE_FILE }
  )

/**
 * One read into all of `buf` at `position` (-1: the fd's own position). `regular`: the fd is
 * a regular file, whose reads always complete promptly; others (FIFOs, devices) may block.
 * `parallel`: the read is one of several in flight on a regular file (io_uring then hands it
 * to an io-wq worker, so they are copied on several cores at once).
 */
export type ReadAt = (
  buf: Uint8Array,
  position: number,
  regular: boolean,
  where: Errors.ErrorContext,
  parallel?: boolean
) => Effect.Effect<number, PlatformError>

// One huge read makes the kernel fault in and zero the whole fresh buffer in one go
// (measured 2-5x slower for 1 GiB files): big files are read 1 MiB at a time.
const CHUNK = 1024 * 1024
// Files whose size says nothing (0: /proc, pipes, devices) and growth past the size.
const UNSIZED_CHUNK = 64 * 1024

const concat = (parts: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(total)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

// Reads until EOF from `position` (-1: the fd's own), after `parts` already read.
// More than MAX_WHOLE_FILE bytes (a file that grew, or reports no size) fails as soon as
// the total passes it.
const readToEof = (read: ReadAt, parts: Array<Uint8Array>, position: number, regular: boolean, where: Errors.ErrorContext) => {
  let total = parts.reduce((n, part) => n + part.length, 0)
  const loop: Effect.Effect<Uint8Array, PlatformError> = Effect.suspend(() => {
    const buf = Buffer.allocUnsafeSlow(UNSIZED_CHUNK)
    return Effect.flatMap(read(buf, position < 0 ? -1 : position + total, regular, where), (n) => {
      if (n === 0) return Effect.succeed(concat(parts, total))
      parts.push(buf.subarray(0, n))
      total += n
      return total > MAX_WHOLE_FILE ? Effect.fail(tooLarge(where, total, true)) : loop
    })
  })
  return loop
}

// A file over two chunks is read in PIECE-sized reads, READS_IN_FLIGHT at once. With io_uring
// each goes to an io-wq worker (IOSQE_ASYNC), so the page-cache copies and the faults of the
// fresh buffer run on both cores; node's threadpool takes four at once as well. Measured on
// 2 cores, 1 GiB from the page cache, GB/s: one 1 MiB read at a time (inline) 0.88-1.07; in
// flight 2 x 512 KiB 1.26-1.37, 4 x 256 KiB 1.60-1.72, 4 x 1 MiB 2.1-2.3, 8 x 1 MiB 1.3-1.8;
// fs.promises.readFile 0.8-1.1 in the same runs. 4 x 256 KiB keeps what an interruption
// waits for (the reads in flight) within one 1 MiB chunk, as for every large operation.
const READS_IN_FLIGHT = 4
const PIECE = CHUNK / READS_IN_FLIGHT

// A regular file of `size` bytes: one buffer of size + 1, the last read asking for one byte
// more than the size. A short read ending at the size says EOF (no read only to see it); a
// full buffer says the file grew (read on to EOF); EOF earlier says it shrank.
const readSized = (read: ReadAt, size: number, where: Errors.ErrorContext): Effect.Effect<Uint8Array, PlatformError> => {
  const buf = Buffer.allocUnsafeSlow(size + 1)
  // PIECE bytes each, the last one the rest (at most PIECE + 1)
  return size > 2 * CHUNK
    ? readPieces(read, buf, size, Math.ceil((size - PIECE) / PIECE), where)
    : readInOrder(read, buf, size, where)
}

// The file's pieces 0..last, READS_IN_FLIGHT at a time. When a piece comes back other than
// full (the last: one byte short), the file changed size under us: it is read again from the
// start, in order.
const readPieces = (read: ReadAt, buf: Buffer, size: number, last: number, where: Errors.ErrorContext): Effect.Effect<Uint8Array, PlatformError> => {
  let next = 0
  let changed = false
  const worker: Effect.Effect<void, PlatformError> = Effect.suspend(() => {
    const i = next++
    if (i > last || changed) return Effect.void
    const off = i * PIECE
    const len = i === last ? size + 1 - off : PIECE
    return Effect.flatMap(read(buf.subarray(off, off + len), off, true, where, true), (n) => {
      if (n !== (i === last ? len - 1 : len)) changed = true
      return worker
    })
  })
  return Effect.flatMap(
    Effect.all(Array.from({ length: READS_IN_FLIGHT }, () => worker), { concurrency: "unbounded", discard: true }),
    () => (changed ? readInOrder(read, buf, size, where) : Effect.succeed(buf.subarray(0, size)))
  )
}

// `buf` (size + 1 bytes) filled from the start one read after another.
const readInOrder = (read: ReadAt, buf: Buffer, size: number, where: Errors.ErrorContext): Effect.Effect<Uint8Array, PlatformError> => {
  const loop = (off: number): Effect.Effect<Uint8Array, PlatformError> => {
    const left = size + 1 - off
    const len = left <= CHUNK + 1 ? left : CHUNK
    return Effect.flatMap(read(buf.subarray(off, off + len), off, true, where), (n) => {
      if (n === 0 || off + n === size) return Effect.succeed(buf.subarray(0, off + n))
      if (off + n === size + 1) return readToEof(read, [buf], 0, true, where)
      return loop(off + n)
    })
  }
  return loop(0)
}

/**
 * The whole contents of the open file `fd` through `read`. The fd is the caller's alone and
 * stays open until this ends (it opened the fd for this read and closes it after). The size
 * comes from a direct fstat(2): on an open fd it answers from the inode without blocking,
 * where an `IORING_OP_STATX` always goes to an io-wq worker (a thread hop costing more than
 * the whole syscall). A directory is EISDIR; files that report size 0 and non-regular files
 * are read until EOF.
 */
export const readWhole = (fd: number, read: ReadAt, method: string, where: string): Effect.Effect<Uint8Array, PlatformError> =>
  Effect.flatMap(
    Effect.try({
      try: () => fs.fstatSync(fd),
      catch: (e) => Errors.fromNodeError(e, ctx(method, "fstat", where))
    }),
    (st) => {
      const at = ctx(method, "read", where)
      if (isType(st.mode, C.S_IFDIR)) return Effect.fail(Errors.fromErrno(-C.EISDIR, at))
      const regular = isType(st.mode, C.S_IFREG)
      // Refused from the size alone, before any buffer is allocated.
      if (regular && st.size > MAX_WHOLE_FILE) return Effect.fail(tooLarge(at, st.size, false))
      return regular && st.size > 0 ? readSized(read, st.size, at) : readToEof(read, [], regular ? 0 : -1, regular, at)
    }
  )

// Decoding pieces of a text too long for one string: 64 Mi bytes at a time.
const DECODE_PIECE = 64 * 1024 * 1024

/**
 * `bytes` decoded as `encoding` (default UTF-8), for `readFileString` and `Path.loadString`.
 * An unknown encoding is a BadArgument; a text longer than V8's string limit a typed
 * `SystemError` naming the limit (`TextDecoder` would return "" or throw). No WHATWG decoder
 * makes more than one UTF-16 unit of a byte, so only inputs longer than the limit are decoded
 * piece by piece, counting.
 */
export const decodeText = (bytes: Uint8Array, encoding: string | undefined, where: Errors.ErrorContext): Effect.Effect<string, PlatformError> =>
  Effect.suspend((): Effect.Effect<string, PlatformError> => {
    let decoder: InstanceType<typeof TextDecoder>
    try {
      decoder = new TextDecoder(encoding)
    } catch (cause) {
      return Effect.fail(badArgument(where.method, `invalid encoding ${JSON.stringify(encoding)}`, cause))
    }
    if (bytes.length <= MAX_STRING) return Effect.succeed(decoder.decode(bytes))
    const parts: Array<string> = []
    let length = 0
    for (let off = 0; off < bytes.length; off += DECODE_PIECE) {
      const end = Math.min(bytes.length, off + DECODE_PIECE)
      const part = decoder.decode(bytes.subarray(off, end), { stream: end < bytes.length })
      length += part.length
      if (length > MAX_STRING) {
        return Effect.fail(
          overLimit(
            where,
            "ERR_STRING_TOO_LONG",
            `the ${bytes.length} bytes decode to more than ${MAX_STRING} characters, the longest string V8 can make`,
            "decode it in parts (FileSystem.stream + Stream.decodeText)",
            { bytes: bytes.length, limit: MAX_STRING }
          )
        )
      }
      parts.push(part)
    }
    return Effect.succeed(parts.join(""))
  })
