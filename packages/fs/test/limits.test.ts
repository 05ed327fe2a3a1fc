// Limits and bad arguments on both backends: seek's result, negative positions, files too
// large for one Buffer or one string (sparse files, so nothing is written), argument checks
// that must be typed failures (BadArgument / SystemError), never RangeError/TypeError defects.
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
import type * as Scope from "effect/Scope"
import { constants as bufferConstants } from "node:buffer"
import * as nfs from "node:fs"
import * as path from "node:path"
import { Path } from "../src/index.js"
import { backends, expectBadArgument, expectSystemError, tempDir } from "./fs-helpers.js"
import { unconfinedRoot } from "./helpers.js"

const text = (s: string) => new TextEncoder().encode(s)
const str = (b: Uint8Array) => new TextDecoder().decode(b)
const GiB = 1024 ** 3
const MiB = 1024 ** 2

/** A sparse file of `size` bytes (ftruncate: no data blocks), removed when the scope closes. */
const sparse = (dir: string, name: string, size: number): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const f = path.join(dir, name)
      const fd = nfs.openSync(f, "w")
      nfs.ftruncateSync(fd, size)
      nfs.closeSync(fd)
      return f
    }),
    (f) => Effect.sync(() => nfs.rmSync(f, { force: true }))
  )

describe.each(backends)("FileSystem limits on %s", (_backend, layer) => {
  const withFs = <A, E>(body: (fs: FileSystem.FileSystem, dir: string) => Effect.Effect<A, E, Scope.Scope>) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      return yield* body(fs, dir)
    }).pipe(Effect.scoped, Effect.provide(layer))

  it.effect("File.seek returns the new cursor position (after a truncate too)", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "0123456789")
        const h = yield* fs.open(f, { flag: "r+" })
        expect(yield* h.seek(4, "start")).toBe(FileSystem.Size(4))
        expect(yield* h.seek(3, "current")).toBe(FileSystem.Size(7))
        expect(yield* h.seek(FileSystem.Size(-2), "current")).toBe(FileSystem.Size(5))
        yield* h.truncate(3) // clamps the cursor to 3
        expect(yield* h.seek(FileSystem.Size(0), "current")).toBe(FileSystem.Size(3))
        yield* h.writeAll(text("abc"))
        expect(yield* h.seek(0, "current")).toBe(FileSystem.Size(6))
        expect(nfs.readFileSync(f, "utf8")).toBe("012abc")
      })
    ))

  it.effect("a negative cursor is refused at the next read/write with BadArgument, then seek repairs it", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "0123456789")
        const h = yield* fs.open(f, { flag: "r+" })
        yield* h.seek(2, "start")
        expect(yield* h.seek(-5, "current")).toBe(FileSystem.Size(-3))
        for (const op of [h.read(new Uint8Array(2)), h.readAlloc(2), h.write(text("x")), h.writeAll(text("x"))]) {
          const e = yield* expectBadArgument(op)
          expect(e.description).toMatch(/negative/)
        }
        expect(nfs.readFileSync(f, "utf8")).toBe("0123456789")
        // positional reads/writes at a negative offset too
        yield* expectBadArgument(h.readAt(new Uint8Array(2), -1))
        yield* expectBadArgument(h.writeAt(text("x"), -1))
        yield* h.seek(1, "start")
        expect(str(Option.getOrThrow(yield* h.readAlloc(3)))).toBe("123")
      })
    ))

  it.effect("readAlloc of -1, NaN, 1.5, 2**40 and stream({ chunkSize: -1 }) are BadArgument naming the method", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "data")
        const h = yield* fs.open(f)
        for (const size of [-1, Number.NaN, 1.5, 2 ** 40, bufferConstants.MAX_LENGTH + 1]) {
          const e = yield* expectBadArgument(h.readAlloc(size))
          expect(e.method).toBe("readAlloc")
        }
        for (const options of [{ chunkSize: -1 }, { chunkSize: 1.5 }, { bytesToRead: -1 }, { offset: -1 }]) {
          const e = yield* expectBadArgument(Stream.runDrain(fs.stream(f, options)))
          expect(e.method).toBe("stream")
        }
        // the handle is still usable
        expect(str(Option.getOrThrow(yield* h.readAlloc(10)))).toBe("data")
      })
    ))

  it.effect("readFile of a 5 GiB file: a typed SystemError naming the size and the limit, nothing read", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = yield* sparse(dir, "huge", 5 * GiB)
        const before = process.memoryUsage().arrayBuffers
        const e = yield* expectSystemError(fs.readFile(f), "Unknown")
        expect(e.description).toContain(String(5 * GiB))
        expect(e.description).toContain(String(2 ** 31 - 1))
        expect(e.method).toBe("readFile")
        // nothing of the file's size was allocated
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * MiB)
      })
    ))

  it.effect("readFileString of a 2.5 GiB file fails typed, never \"\"", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = yield* sparse(dir, "big", 2.5 * GiB)
        const e = yield* expectSystemError(fs.readFileString(f), "Unknown")
        expect(e.description).toContain(String(2.5 * GiB))
      })
    ))

  it.effect("readFileString of text longer than V8's string limit fails typed, never \"\"", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = yield* sparse(dir, "long", bufferConstants.MAX_STRING_LENGTH + MiB)
        const e = yield* expectSystemError(fs.readFileString(f), "Unknown")
        expect(e.method).toBe("readFileString")
        expect(e.description).toContain(String(bufferConstants.MAX_STRING_LENGTH))
      })
    ), 60_000)
})

describe.each(["io_uring", "node"] as const)("Path limits on %s", (backend) => {
  it.scoped("load / loadString of a 5 GiB file fail typed naming the size and the limit", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const f = yield* sparse(dir, "huge", 5 * GiB)
      const root = yield* unconfinedRoot(backend, "/")
      for (const [method, op] of [["load", Path.load], ["loadString", Path.loadString]] as const) {
        const e = yield* expectSystemError(op(Path.join(root, f)), "Unknown")
        expect(e.method).toBe(method)
        expect(e.description).toContain(String(5 * GiB))
        expect(e.description).toContain(String(2 ** 31 - 1))
      }
    }))

  it.scoped("loadString of text longer than V8's string limit fails typed, never \"\"", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const f = yield* sparse(dir, "long", bufferConstants.MAX_STRING_LENGTH + MiB)
      const root = yield* unconfinedRoot(backend, "/")
      const e = yield* expectSystemError(Path.loadString(Path.join(root, f)), "Unknown")
      expect(e.method).toBe("loadString")
      expect(e.description).toContain(String(bufferConstants.MAX_STRING_LENGTH))
    }), 60_000)

  it.scoped("Path ops on something that is not a Path: BadArgument naming the method", () =>
    Effect.gen(function*() {
      const root = yield* unconfinedRoot(backend, "/")
      const notAPath = "a string" as any
      for (const [method, op] of [
        ["load", Path.load(notAPath)],
        ["loadString", Path.loadString(notAPath)],
        ["save", Path.save(notAPath, "x")],
        ["readDir", Path.readDir(notAPath)],
        ["stat", Path.stat(notAPath)],
        ["mkdirs", Path.mkdirs(notAPath)],
        ["rmtree", Path.rmtree(notAPath)],
        ["rename", Path.rename(Path.join(root, "/nonexistent-a"), notAPath)],
        ["openDir", Effect.scoped(Path.openDir(notAPath))]
      ] as const) {
        const e = yield* expectBadArgument(op)
        expect(e.method).toBe(method)
      }
    }))
})
