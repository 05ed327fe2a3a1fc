import { describe, expect, it } from "@effect/vitest"
import { Cap, Stdenv } from "@effio/runtime"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { backends, countFds, expectSameBytes, openFd, payload, readAll, tempDir } from "./helpers.js"

const decoder = new TextDecoder()

describe.each(backends)("Stdenv on the %s backend", (backendId, layer) => {
  it.live("backendId names the backend", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      expect(env.backendId).toBe(backendId)
    }).pipe(Effect.provide(layer)))

  it.live("pipe: a write is read back on the other end", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const { sink, source } = yield* env.pipe
      yield* sink.write("hello, pipe")
      const buf = new Uint8Array(64)
      const n = yield* source.read(buf)
      expect(n).toBe(11)
      expect(decoder.decode(buf.subarray(0, n))).toBe("hello, pipe")
      // Bytes as well as strings.
      yield* sink.write(new Uint8Array([0, 1, 2, 255]))
      const m = yield* source.read(buf)
      expect(Array.from(buf.subarray(0, m))).toEqual([0, 1, 2, 255])
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("pipe: 1 MiB in 4 KiB writes from another fiber, read concurrently, arrives intact", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const { sink, source } = yield* env.pipe
      const data = payload(1024 * 1024)
      const writer = yield* Effect.fork(
        Effect.gen(function*() {
          for (let off = 0; off < data.length; off += 4096) yield* sink.write(data.subarray(off, off + 4096))
          yield* sink.close
        })
      )
      // Odd-sized reads, so chunk boundaries never line up with the writes.
      const received = yield* readAll(source, 3001)
      yield* Fiber.join(writer)
      expectSameBytes(received, data)
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("pipe: closing the sink gives the reader end of input (0)", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const { sink, source } = yield* env.pipe
      yield* sink.write("last words")
      yield* sink.close
      yield* sink.close // idempotent
      const buf = new Uint8Array(64)
      expect(yield* source.read(buf)).toBe(10)
      expect(yield* source.read(buf)).toBe(0)
      expect(yield* source.read(buf)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("pipe: a reader blocked on an empty pipe wakes up with 0 when the sink closes", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const { sink, source } = yield* env.pipe
      const reader = yield* Effect.fork(source.read(new Uint8Array(16)))
      yield* Effect.sleep("20 millis")
      expect(reader.unsafePoll()).toBeNull() // really blocked
      yield* sink.close
      expect(yield* Fiber.join(reader)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("pipe: both fds are closed when the scope closes", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const before = countFds()
      const during = yield* Effect.scoped(
        Effect.gen(function*() {
          const { sink, source } = yield* env.pipe
          yield* sink.write("x")
          expect(yield* source.read(new Uint8Array(4))).toBe(1)
          return countFds()
        })
      )
      expect(during).toBe(before + 2)
      expect(countFds()).toBe(before)
    }).pipe(Effect.provide(layer)))

  it.live("pipe: a source closed early stays closed; the scope does not close its number again", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const before = countFds()
      let other = -1
      yield* Effect.scoped(
        Effect.gen(function*() {
          const { source } = yield* env.pipe
          yield* source.close
          expect(countFds()).toBe(before + 1)
          // A file opened now likely gets the number just freed: the scope must leave it alone.
          other = fs.openSync(path.join(process.cwd(), "package.json"), "r")
        })
      )
      try {
        expect(fs.fstatSync(other).isFile()).toBe(true)
        expect(countFds()).toBe(before + 1)
      } finally {
        fs.closeSync(other)
      }
      expect(countFds()).toBe(before)
    }).pipe(Effect.provide(layer)))

  it.live("pipe: writing after the reader closed fails with EPIPE (an error, not a crash)", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      // An 'error' event nobody listens to would be an uncaught exception (a crash outside
      // tests): record them while this test runs.
      const uncaught: Array<unknown> = []
      const record = (e: unknown) => void uncaught.push(e)
      yield* Effect.acquireRelease(Effect.sync(() => process.on("uncaughtException", record)), () =>
        Effect.sync(() => process.off("uncaughtException", record)))
      const { sink, source } = yield* env.pipe
      yield* source.close
      const error = yield* Effect.flip(sink.write("nobody listens"))
      expect(error._tag).toBe("SystemError")
      expect(error.message).toMatch(/EPIPE/)
      // A second write fails the same way (the sink is not wedged).
      expect((yield* Effect.flip(sink.write("again")))._tag).toBe("SystemError")
      yield* Effect.sleep("30 millis")
      expect(uncaught).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("pipe: a pipe whose scope outlives the backend's layer still closes its fds", () =>
    Effect.gen(function*() {
      const before = countFds()
      yield* Effect.scoped(
        Effect.gen(function*() {
          // The pipe's release is registered in this outer scope, the layer (and its ring,
          // on io_uring) is released first.
          const pipe = yield* Effect.provide(Effect.flatMap(Stdenv.Stdenv, (env) => env.pipe), layer)
          expect(pipe.source).toBeDefined()
        })
      )
      expect(countFds()).toBe(before)
    }))

  it.live("fromFd reads a file's content", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const dir = yield* tempDir
      const file = path.join(dir, "data.bin")
      const data = payload(200_000, 7)
      fs.writeFileSync(file, data)
      const fd = yield* openFd(file)
      const received = yield* readAll(env.fromFd(fd).source, 10_000)
      expectSameBytes(received, data)
      // Without `close: true` the fd still belongs to the caller.
      expect(fs.fstatSync(fd).size).toBe(200_000)
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("fromFd sink writes a file; close: true makes close close the fd", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const dir = yield* tempDir
      const file = path.join(dir, "out.txt")
      const fd = fs.openSync(file, "w")
      const { sink } = env.fromFd(fd, { close: true })
      yield* sink.write("first ")
      yield* sink.write(new TextEncoder().encode("second"))
      yield* sink.close
      expect(() => fs.fstatSync(fd)).toThrow(/EBADF/)
      expect(fs.readFileSync(file, "utf8")).toBe("first second")
      // Writing through a closed flow fails (never touches whatever reuses the number).
      const error = yield* Effect.flip(sink.write("late"))
      expect(error._tag).toBe("SystemError")
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("secureRandom: bytes(n) gives n fresh bytes; fill fills", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const a = yield* env.secureRandom.bytes(32)
      const b = yield* env.secureRandom.bytes(32)
      expect(a).toBeInstanceOf(Uint8Array)
      expect(a.length).toBe(32)
      expect(b.length).toBe(32)
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false)
      expect(new Set(a).size).toBeGreaterThan(1)
      const buf = new Uint8Array(64)
      yield* env.secureRandom.fill(buf)
      expect(buf.some((x) => x !== 0)).toBe(true)
    }).pipe(Effect.provide(layer)))

  it.live("clock.now is the wall clock (ms since the epoch); clock.sleep waits", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const now = yield* env.clock.now
      expect(Math.abs(now - Date.now())).toBeLessThan(1000)
      const t0 = performance.now()
      yield* env.clock.sleep("20 millis")
      expect(performance.now() - t0).toBeGreaterThanOrEqual(15)
    }).pipe(Effect.provide(layer)))

  it.live("monoClock.now increases (nanoseconds)", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const a = yield* env.monoClock.now
      expect(typeof a).toBe("bigint")
      yield* env.monoClock.sleep("10 millis")
      const b = yield* env.monoClock.now
      expect(b > a).toBe(true)
      // ~10 ms in ns: at least 5 ms, and not seconds.
      expect(b - a).toBeGreaterThanOrEqual(5_000_000n)
      expect(b - a).toBeLessThan(5_000_000_000n)
    }).pipe(Effect.provide(layer)))

  it.live("fs (unconfined /) and cwd (confined working directory) are capability paths on this backend", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      expect(Cap.isPath(env.fs)).toBe(true)
      expect(Cap.isPath(env.cwd)).toBe(true)
      expect(env.fs.dir.native).toBe("/")
      expect(env.fs.dir.confined).toBe(false)
      expect(env.fs.relative).toBe("")
      expect(env.cwd.dir.native).toBe(process.cwd())
      expect(env.cwd.dir.confined).toBe(true)
      expect(env.cwd.toString()).toBe(process.cwd())
      // The ring travels with the capability on io_uring only.
      expect(env.cwd.dir.uring !== undefined).toBe(backendId === "io_uring")
    }).pipe(Effect.provide(layer)))
})
