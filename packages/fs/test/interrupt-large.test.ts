// Large operations on io_uring are interruptible between chunks of at most 1 MiB: copyFile,
// writeFile, readFile and stream. Asserted structurally, not by time: the bytes moved (the
// destination's size) or the ring's completions right after the interruption returns and
// again a while later, and what happens to the destination (a file the call created is
// removed; an existing regular file overwritten stays, partial; append mode, devices and
// FIFOs are never replaced or unlinked). 256 MiB files, in the page cache.
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Uring } from "@effio/core"
import { Effect, Exit, Fiber, Layer, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as nfs from "node:fs"
import * as path from "node:path"
import * as UringFileSystem from "../src/UringFileSystem.js"
import { countFds, tempDir } from "./fs-helpers.js"

const MiB = 1024 * 1024
const SIZE = 256 * MiB
const CHUNK = MiB

/** The FileSystem on a private ring, whose completions count the ops. */
const withPrivateRing = Effect.gen(function*() {
  const uring = yield* Effect.orDie(Uring.makePrivate())
  const fs = yield* Effect.provide(FileSystem.FileSystem, UringFileSystem.layerWithRing.pipe(Layer.provide(Layer.succeed(Uring.Uring, uring))))
  return { fs, completions: () => uring.ring.info().completions }
})

const sizeOf = (f: string) => (nfs.existsSync(f) ? nfs.statSync(f).size : -1)

/** Waits (polling) until `done()`, at most ~10 s. */
const until = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000 && !done(); i++) yield* Effect.sleep("1 millis")
    expect(done()).toBe(true)
  })

/**
 * Runs `op` in a fiber until `started()` says it is under way, interrupts it; returns what
 * `progress()` said just before the interruption, right after it returned, and 300 ms later.
 */
const interruptMidway = <A, E>(op: Effect.Effect<A, E>, started: () => boolean, progress: () => number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(op)
    yield* until(started)
    const before = progress()
    const exit = yield* Fiber.interrupt(fiber)
    const after = progress()
    yield* Effect.sleep("300 millis")
    const later = progress()
    expect(Exit.isInterrupted(exit)).toBe(true)
    return { before, after, later }
  })

const bigFile = (dir: string, name: string) => {
  const f = path.join(dir, name)
  nfs.writeFileSync(f, Buffer.alloc(SIZE, 0x61))
  return f
}

describe("io_uring: large operations are interruptible between chunks", { timeout: 60_000 }, () => {
  it.scopedLive("copyFile to a new file: stops within a chunk, the destination it created is removed", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { fs } = yield* withPrivateRing
      const src = bigFile(dir, "src")
      const dst = path.join(dir, "dst")
      const fds = countFds()
      const r = yield* interruptMidway(fs.copyFile(src, dst), () => sizeOf(dst) > 0, () => sizeOf(dst))
      expect(r.before).toBeLessThan(SIZE)
      expect(r.after).toBe(-1) // removed
      expect(r.later).toBe(-1)
      expect(countFds()).toBeLessThanOrEqual(fds)
    }))

  it.scopedLive("copyFile of a regular file moves its bytes with copy_file_range (no ring op per chunk); a sysfs source falls back", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { fs, completions } = yield* withPrivateRing
      const src = path.join(dir, "src")
      const data = Buffer.alloc(64 * MiB)
      for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i)
      nfs.writeFileSync(src, data)
      const before = completions()
      yield* fs.copyFile(src, path.join(dir, "dst"))
      // open ×2, statx ×2, ftruncate, close ×2 and no more: the 64 chunks went to the threadpool.
      expect(completions() - before).toBeLessThan(16)
      expect(nfs.readFileSync(path.join(dir, "dst")).equals(data)).toBe(true)
      // copy_file_range refuses sysfs (EXDEV), and splice too: read and write instead.
      const sys = "/sys/kernel/mm/transparent_hugepage/enabled"
      if (nfs.existsSync(sys)) {
        yield* fs.copyFile(sys, path.join(dir, "sys"))
        expect(nfs.readFileSync(path.join(dir, "sys"), "utf8")).toBe(nfs.readFileSync(sys, "utf8"))
      }
    }))

  it.scopedLive("copyFile onto an existing file: truncated in place, left partial, nothing moves after the interruption", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { fs } = yield* withPrivateRing
      const src = bigFile(dir, "src")
      const dst = path.join(dir, "dst")
      nfs.writeFileSync(dst, "old contents")
      const ino = nfs.statSync(dst).ino
      const r = yield* interruptMidway(fs.copyFile(src, dst), () => sizeOf(dst) > 16, () => sizeOf(dst))
      expect(r.before).toBeLessThan(SIZE)
      expect(r.after - r.before).toBeLessThanOrEqual(CHUNK)
      expect(r.later).toBe(r.after)
      expect(r.after).toBeLessThan(SIZE)
      expect(nfs.statSync(dst).ino).toBe(ino) // the same file, not replaced
    }))

  it.scopedLive("writeFile: a new file is removed, an existing one left partial, append mode keeps the file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { fs } = yield* withPrivateRing
      const data = Buffer.alloc(SIZE, 0x62)
      const created = path.join(dir, "created")
      const a = yield* interruptMidway(fs.writeFile(created, data), () => sizeOf(created) > 0, () => sizeOf(created))
      expect(a.before).toBeLessThan(SIZE)
      expect(a.after).toBe(-1)
      expect(a.later).toBe(-1)
      const existing = path.join(dir, "existing")
      nfs.writeFileSync(existing, "old")
      const b = yield* interruptMidway(fs.writeFile(existing, data), () => sizeOf(existing) > 3, () => sizeOf(existing))
      expect(b.after - b.before).toBeLessThanOrEqual(CHUNK)
      expect(b.later).toBe(b.after)
      expect(b.after).toBeLessThan(SIZE)
      const appended = path.join(dir, "appended")
      nfs.writeFileSync(appended, "kept")
      const c = yield* interruptMidway(fs.writeFile(appended, data, { flag: "a" }), () => sizeOf(appended) > 4, () => sizeOf(appended))
      expect(c.after - c.before).toBeLessThanOrEqual(CHUNK)
      expect(c.later).toBe(c.after)
      expect(c.after).toBeLessThan(SIZE + 4)
      expect(nfs.readFileSync(appended).subarray(0, 4).toString()).toBe("kept")
      // a new file in append mode is not unlinked either
      const newAppend = path.join(dir, "new-append")
      const d = yield* interruptMidway(fs.writeFile(newAppend, data, { flag: "a" }), () => sizeOf(newAppend) > 0, () => sizeOf(newAppend))
      expect(d.after).toBeGreaterThan(0)
      expect(d.later).toBe(d.after)
    }))

  it.scopedLive("readFile and stream (default and 256 MiB chunks): no read starts after the interruption", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { completions, fs } = yield* withPrivateRing
      const src = bigFile(dir, "src")
      const start = completions()
      const ops = [
        fs.readFile(src),
        Stream.runDrain(fs.stream(src)),
        Stream.runDrain(fs.stream(src, { chunkSize: SIZE }))
      ]
      for (const [i, op] of ops.entries()) {
        const base = completions()
        // under way: a few reads done (the open and a couple of reads at least)
        const r = yield* interruptMidway(op, () => completions() - base > 4, completions)
        expect(r.before - base).toBeLessThan(SIZE / CHUNK)
        // at most the reads in flight (readFile: 4 of 256 KiB; a stream: one of 1 MiB) and
        // the close complete after the interruption was asked
        expect(r.after - r.before).toBeLessThanOrEqual(i === 0 ? 5 : 2)
        expect(r.later).toBe(r.after)
      }
      expect(completions()).toBeGreaterThan(start)
    }))

  it.scopedLive("writeFile to a FIFO: never unlinked or replaced when interrupted", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { fs } = yield* withPrivateRing
      const fifo = path.join(dir, "fifo")
      execFileSync("mkfifo", [fifo])
      // a reader keeps the FIFO open and never reads: the write blocks once the pipe is full
      const reader = nfs.openSync(fifo, nfs.constants.O_RDWR)
      try {
        const fiber = yield* Effect.fork(fs.writeFile(fifo, Buffer.alloc(4 * MiB)))
        yield* Effect.sleep("100 millis")
        expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
        expect(nfs.statSync(fifo).isFIFO()).toBe(true)
      } finally {
        nfs.closeSync(reader)
      }
      // (devices: not tested, a test must not open the real /dev nodes for writing)
    }))
})
