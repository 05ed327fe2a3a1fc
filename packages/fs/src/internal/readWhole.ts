// Reading a whole file (FileSystem.readFile, Path.load on every backend) in as few reads as
// its size allows: open, read, close are the only ring ops for a small file.
import type { PlatformError } from "@effect/platform/Error"
import { Errors, type Fd } from "@effio/core"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { ctx, isType } from "./common.js"
import { C } from "./constants.js"

/**
 * One read into all of `buf` at `position` (-1: the fd's own position). `regular`: the fd is
 * a regular file, whose reads always complete promptly; others (FIFOs, devices) may block.
 */
export type ReadAt = (buf: Uint8Array, position: number, regular: boolean, where: Errors.ErrorContext) => Effect.Effect<number, PlatformError>

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
const readToEof = (read: ReadAt, parts: Array<Uint8Array>, position: number, regular: boolean, where: Errors.ErrorContext) => {
  let total = parts.reduce((n, part) => n + part.length, 0)
  const loop: Effect.Effect<Uint8Array, PlatformError> = Effect.suspend(() => {
    const buf = Buffer.allocUnsafeSlow(UNSIZED_CHUNK)
    return Effect.flatMap(read(buf, position < 0 ? -1 : position + total, regular, where), (n) => {
      if (n === 0) return Effect.succeed(concat(parts, total))
      parts.push(buf.subarray(0, n))
      total += n
      return loop
    })
  })
  return loop
}

// A regular file of `size` bytes: one buffer of size + 1, the last read asking for one byte
// more than the size. A short read ending at the size says EOF (no read only to see it); a
// full buffer says the file grew (read on to EOF); EOF earlier says it shrank.
const readSized = (read: ReadAt, size: number, where: Errors.ErrorContext): Effect.Effect<Uint8Array, PlatformError> => {
  const buf = Buffer.allocUnsafeSlow(size + 1)
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
 * The whole contents of the open file `ref` through `read`. The size comes from a direct
 * fstat(2): on an open fd it answers from the inode without blocking, where an
 * `IORING_OP_STATX` always goes to an io-wq worker (a thread hop costing more than the whole
 * syscall). A directory is EISDIR; files that report size 0 and non-regular files are read
 * until EOF.
 */
export const readWhole = (ref: Fd.FdRef, read: ReadAt, method: string, where: string): Effect.Effect<Uint8Array, PlatformError> =>
  Effect.flatMap(
    ref.use(method, (fd) =>
      Effect.try({
        try: () => fs.fstatSync(fd),
        catch: (e) => Errors.fromNodeError(e, ctx(method, "fstat", where))
      })),
    (st) => {
      const at = ctx(method, "read", where)
      if (isType(st.mode, C.S_IFDIR)) return Effect.fail(Errors.fromErrno(-C.EISDIR, at))
      const regular = isType(st.mode, C.S_IFREG)
      return regular && st.size > 0 ? readSized(read, st.size, at) : readToEof(read, [], regular ? 0 : -1, regular, at)
    }
  )
