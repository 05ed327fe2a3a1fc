// The whole-file reader behind FileSystem.readFile and Path.load: the size from fstat on a
// real fd, the reads from a stand-in file whose contents may differ from that size (a file
// that grew or shrank since), so every case is deterministic.
import { describe, expect, it } from "@effect/vitest"
import { Fd } from "@effio/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { readWhole } from "../src/internal/readWhole.js"
import { payload, tempDir } from "./helpers.js"

/**
 * `readWhole` of a real file of `size` bytes, its reads served from `contents` (at most
 * `maxRead` a read); `hop` completes each read after a setImmediate (so reads overlap).
 */
const readAs = (size: number, contents: Uint8Array, maxRead = Infinity, hop = false) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const file = path.join(dir, "f")
    fs.writeFileSync(file, new Uint8Array(size))
    const fd = fs.openSync(file, "r")
    const ref = new Fd.FdRef(fd, (fd) => Effect.sync(() => fs.closeSync(fd)))
    const reads: Array<readonly [number, number]> = []
    const parallel: Array<boolean> = []
    let inFlight = 0
    let maxInFlight = 0
    const serve = (buf: Uint8Array, position: number) => {
      const n = Math.max(0, Math.min(buf.length, maxRead, contents.length - position))
      buf.set(contents.subarray(position, position + n))
      return n
    }
    const bytes = yield* Effect.ensuring(
      readWhole(ref.fd, (buf, position, regular, _where, par) => {
        expect(regular).toBe(true)
        reads.push([position, buf.length])
        parallel.push(par === true)
        if (!hop) return Effect.sync(() => serve(buf, position))
        maxInFlight = Math.max(maxInFlight, ++inFlight)
        return Effect.async<number>((resume) => {
          setImmediate(() => {
            inFlight--
            resume(Effect.succeed(serve(buf, position)))
          })
        })
      }, "load", file),
      ref.close
    )
    return { bytes, reads, parallel, maxInFlight }
  })

describe("readWhole", () => {
  it.scoped("a file of the size fstat said: one read per MiB, none only to see EOF", () =>
    Effect.gen(function*() {
      const small = payload(13)
      const a = yield* readAs(13, small)
      expect(Buffer.from(a.bytes).equals(Buffer.from(small))).toBe(true)
      expect(a.reads).toEqual([[0, 14]])
      const mib = 1024 * 1024
      const big = payload(2 * mib)
      const b = yield* readAs(2 * mib, big)
      expect(Buffer.from(b.bytes).equals(Buffer.from(big))).toBe(true)
      expect(b.reads).toEqual([[0, mib], [mib, mib + 1]])
    }))

  it.scoped("a file over 2 MiB: 256 KiB pieces, 4 reads in flight (1 MiB, marked parallel); in order up to 2 MiB", () =>
    Effect.gen(function*() {
      const mib = 1024 * 1024
      const piece = mib / 4
      const data = payload(9 * mib + 5)
      const r = yield* readAs(data.length, data, Infinity, true)
      expect(Buffer.from(r.bytes).equals(Buffer.from(data))).toBe(true)
      const pieces = [...r.reads].sort((a, b) => a[0] - b[0])
      expect(pieces).toEqual([...Array.from({ length: 36 }, (_, i) => [i * piece, piece]), [9 * mib, 6]])
      expect(r.parallel.every((p) => p)).toBe(true)
      expect(r.maxInFlight).toBe(4)
      const two = yield* readAs(2 * mib, payload(2 * mib), Infinity, true)
      expect(two.reads).toEqual([[0, mib], [mib, mib + 1]])
      expect(two.maxInFlight).toBe(1)
      const one = yield* readAs(mib, payload(mib), Infinity, true)
      expect(one.reads).toEqual([[0, mib + 1]])
      expect(one.parallel).toEqual([false])
    }))

  it.scoped("a file over 2 MiB that grew or shrank while its pieces were read: read again in order, to its end", () =>
    Effect.gen(function*() {
      const mib = 1024 * 1024
      const grown = payload(7 * mib + 3)
      const g = yield* readAs(5 * mib, grown, Infinity, true)
      expect(Buffer.from(g.bytes).equals(Buffer.from(grown))).toBe(true)
      const shrunk = payload(3 * mib + 1)
      const s = yield* readAs(6 * mib, shrunk, Infinity, true)
      expect(Buffer.from(s.bytes).equals(Buffer.from(shrunk))).toBe(true)
      // the in-order pass after the pieces: from 0, no read marked parallel
      expect(s.parallel.slice(-4)).toEqual([false, false, false, false])
      // a short read in the middle (a file system that returns less than a piece) also ends
      // in order: the pieces, then reads from 0 not marked parallel
      const data = payload(4 * mib)
      const short = yield* readAs(4 * mib, data, mib / 4 - 7, true)
      expect(Buffer.from(short.bytes).equals(Buffer.from(data))).toBe(true)
      expect(short.parallel[0]).toBe(true)
      const inOrder = short.parallel.indexOf(false)
      expect(inOrder).toBeGreaterThan(0)
      expect(short.reads[inOrder]).toEqual([0, mib])
      expect(short.parallel.slice(inOrder).every((p) => !p)).toBe(true)
    }))

  it.scoped("a file that grew since the fstat is read to its end; one that shrank to its new end", () =>
    Effect.gen(function*() {
      const grown = payload(200_000)
      const g = yield* readAs(10, grown)
      expect(Buffer.from(g.bytes).equals(Buffer.from(grown))).toBe(true)
      const shrunk = payload(10)
      const s = yield* readAs(100, shrunk)
      expect(Buffer.from(s.bytes).equals(Buffer.from(shrunk))).toBe(true)
      expect(s.reads).toEqual([[0, 101], [10, 91]])
      expect((yield* readAs(100, new Uint8Array())).bytes.length).toBe(0)
    }))

  it.scoped("short reads before the size read on; a file reporting size 0 is read until EOF", () =>
    Effect.gen(function*() {
      const data = payload(1000)
      const short = yield* readAs(1000, data, 7)
      expect(Buffer.from(short.bytes).equals(Buffer.from(data))).toBe(true)
      const unsized = yield* readAs(0, data)
      expect(Buffer.from(unsized.bytes).equals(Buffer.from(data))).toBe(true)
      expect(unsized.reads).toEqual([[0, 65536], [1000, 65536]])
    }))
})
