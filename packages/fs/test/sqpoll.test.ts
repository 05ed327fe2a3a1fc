// The io_uring FileSystem over a ring with a kernel SQ thread (Uring's `sqPoll` option): the
// same results as over an ordinary ring, on real files in a temp dir.
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Uring } from "@effio/core"
import { Chunk, Effect, Layer, Option, Stream } from "effect"
import * as nfs from "node:fs"
import * as path from "node:path"
import * as UringFileSystem from "../src/UringFileSystem.js"
import { expectSameBytes, expectSystemError, payload, tempDir } from "./fs-helpers.js"

// A ring of its own: the loop's shared ring may already be open (without SQPOLL) for others.
const ring = Layer.scoped(Uring.Uring, Uring.makePrivate({ sqPoll: true }))
const layer = UringFileSystem.layerWithRing.pipe(Layer.provideMerge(ring))

describe("FileSystem over an SQPOLL ring", () => {
  it.effect("the ring has its SQ thread; File cursor reads and writes, readAt, concurrent readers", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      expect(uring.ring.info().sqPoll).toBe(true)
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const f = path.join(dir, "f")
      const data = payload(256 * 1024)
      const h = yield* fs.open(f, { flag: "w+" })
      yield* h.writeAll(data)
      expect(yield* h.seek(0, "current")).toBe(FileSystem.Size(data.length))
      yield* h.seek(0, "start")
      // 64 fibers on one handle: distinct consecutive 4 KiB ranges that cover the file
      const blocks = yield* Effect.forEach(Array.from({ length: 64 }), () =>
        Effect.gen(function*() {
          const b = new Uint8Array(4096)
          expect(yield* h.read(b)).toBe(FileSystem.Size(4096))
          return b
        }), { concurrency: "unbounded" })
      const starts = blocks.map((b) => Buffer.from(data).indexOf(Buffer.from(b)))
      expect([...starts].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i * 4096))
      const at = new Uint8Array(100)
      expect(yield* h.readAt(at, 1000)).toBe(FileSystem.Size(100))
      expectSameBytes(at, data.subarray(1000, 1100))
      yield* expectSystemError(Effect.scoped(fs.open(path.join(dir, "missing", "x"))), "NotFound")
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.effect("readFile, writeFile, copyFile, stream and readDirectory give node's results", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const data = payload(3 * 1024 * 1024 + 17)
      const a = path.join(dir, "a")
      yield* fs.writeFile(a, data)
      expectSameBytes(nfs.readFileSync(a), data)
      expectSameBytes(yield* fs.readFile(a), data)
      yield* fs.copyFile(a, path.join(dir, "b"))
      expectSameBytes(nfs.readFileSync(path.join(dir, "b")), data)
      const chunks = yield* Stream.runCollect(fs.stream(a, { chunkSize: FileSystem.MiB(1) }))
      expectSameBytes(Buffer.concat(Chunk.toReadonlyArray(chunks)), data)
      expect([...(yield* fs.readDirectory(dir))].sort()).toEqual(["a", "b"])
      expect(Option.isSome((yield* fs.stat(a)).mtime)).toBe(true)
      yield* expectSystemError(fs.readFile(path.join(dir, "missing")), "NotFound")
    }).pipe(Effect.scoped, Effect.provide(layer)))
})
