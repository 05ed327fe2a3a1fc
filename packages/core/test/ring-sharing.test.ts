// One ring per event loop: every io_uring layer of a thread acquires the loop's ring, the last
// release closes it, and a worker thread gets a ring of its own, closed when the worker is
// terminated even with ops in flight.
import { describe, expect, it } from "@effect/vitest"
import { Uring } from "@effio/core"
import type { Ring } from "@effio/uring-native"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"

import { countFds, firstMessage, tempDir } from "./helpers.js"

const ringWorker = fileURLToPath(new URL("fixtures/ring-worker.mjs", import.meta.url))

const fdTarget = (fd: number): string | undefined => {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return undefined
  }
}

/** The io_uring fds this process holds (each ring is an `anon_inode:[io_uring]`). */
const isRingFd = (fd: number | string): boolean => fdTarget(Number(fd)) === "anon_inode:[io_uring]"
const ringFds = (): number => fs.readdirSync("/proc/self/fd").filter(isRingFd).length

interface WorkerReady {
  readonly ringFd: number
  /** Each fd the worker opened, with what /proc said it was then. */
  readonly opened: ReadonlyArray<readonly [number, string]>
  readonly inFlight: number
}

const coreDist = path.resolve(fileURLToPath(new URL("..", import.meta.url)), "dist", "index.js")

describe("the loop's ring", () => {
  it.live("two Uring layers in one program share one ring; it closes with the last release", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Effect.scoped(
        Effect.gen(function*() {
          const a = yield* Uring.make()
          const b = yield* Effect.provide(Uring.Uring, Uring.layer())
          expect(b.ring).toBe(a.ring)
          expect(yield* b.nop).toBe(0)
          return [a, b] as const
        })
      )
      expect(a.ring.info().open).toBe(false)
      expect(b.ring.info().open).toBe(false)
    }))

  it.live("a layer released early leaves the ring open for the other users", () =>
    Effect.gen(function*() {
      const outer = yield* Uring.make()
      yield* Effect.scoped(Effect.flatMap(Uring.make(), (inner) => Effect.sync(() => expect(inner.ring).toBe(outer.ring))))
      expect(outer.ring.info().open).toBe(true)
      expect(yield* outer.nop).toBe(0)
    }).pipe(Effect.scoped))

  it.live("after the last release, the next user opens a fresh ring", () =>
    Effect.gen(function*() {
      const first = yield* Effect.scoped(Effect.map(Uring.make(), (u) => u.ring))
      const second = yield* Effect.scoped(
        Effect.flatMap(Uring.make(), (u) => Effect.map(u.nop, () => {
          expect(u.ring.info().open).toBe(true)
          return u.ring
        }))
      )
      expect(second).not.toBe(first)
    }))

  it.live("two separately built layers (Layer.fresh) get the same ring", () =>
    Effect.gen(function*() {
      const seen: Array<Ring> = []
      const capture = () => Layer.effectDiscard(Effect.map(Uring.Uring, (u) => void seen.push(u.ring)))
      const one = capture().pipe(Layer.provide(Layer.fresh(Uring.layer())))
      const two = capture().pipe(Layer.provide(Layer.fresh(Uring.layer())))
      yield* Effect.provide(Effect.void, Layer.merge(one, two))
      expect(seen.length).toBe(2)
      expect(seen[0]).toBe(seen[1])
      expect(seen[0]!.info().open).toBe(false)
    }))

  it.live("makePrivate opens a ring of its own", () =>
    Effect.gen(function*() {
      const shared = yield* Uring.make()
      const own = yield* Uring.makePrivate()
      expect(own.ring).not.toBe(shared.ring)
      expect(own.ring.info().fd).not.toBe(shared.ring.info().fd)
    }).pipe(Effect.scoped))

  it.live("a worker thread gets its own ring", () =>
    Effect.gen(function*() {
      const main = yield* Uring.make()
      const workerFd = yield* Effect.promise(() =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(
            `import(${JSON.stringify(coreDist)}).then(({ Uring }) => import("effect").then(({ Effect }) =>
              Effect.runPromise(Effect.scoped(Effect.flatMap(Uring.make(), (u) => Effect.map(u.nop, () => u.ring.info().fd))))
            )).then((fd) => require("node:worker_threads").parentPort.postMessage(fd))`,
            { eval: true }
          )
          // Resolved once the worker is gone, so that no later test sees its fds closing.
          w.once("message", (fd: number) => void w.terminate().then(() => resolve(fd), reject))
          w.once("error", reject)
        })
      )
      expect(workerFd).toBeGreaterThan(0)
      expect(workerFd).not.toBe(main.ring.info().fd)
      expect(main.ring.info().open).toBe(true)
    }).pipe(Effect.scoped))

  it.live("4 workers doing mixed I/O, terminated with ops in flight: no crash, no ring fd left, the main ring unaffected", () =>
    Effect.gen(function*() {
      const main = yield* Uring.make()
      const dir = yield* tempDir
      expect(yield* main.nop).toBe(0)
      const baseRings = ringFds()
      const baseFds = countFds()
      const workers = Array.from({ length: 4 }, (_, id) => new Worker(ringWorker, { workerData: { dir, id } }))
      const ready = yield* Effect.promise(() =>
        Promise.all(workers.map((w) => firstMessage<WorkerReady>(w, 20_000)))
      )
      // Each worker has a ring of its own, with file I/O, pipe reads and sleeps in flight.
      expect(new Set(ready.map((r) => r.ringFd)).size).toBe(4)
      for (const r of ready) {
        expect(r.ringFd).not.toBe(main.ring.info().fd)
        expect(isRingFd(r.ringFd)).toBe(true)
        expect(r.inFlight).toBeGreaterThanOrEqual(3)
      }
      // (libuv may hold rings of its own per loop on Node 22+: at least ours are there.)
      expect(ringFds()).toBeGreaterThanOrEqual(baseRings + 4)

      const t0 = performance.now()
      const codes = yield* Effect.promise(() => Promise.all(workers.map((w) => w.terminate())))
      expect(codes).toEqual([1, 1, 1, 1])
      expect(performance.now() - t0).toBeLessThan(5000)
      // Every worker's ring is closed: this process holds the rings it held before.
      for (const r of ready) expect(isRingFd(r.ringFd)).toBe(false)
      expect(ringFds()).toBe(baseRings)
      // Of the fds a worker opened itself, node closes those of fs.openSync at terminate; the
      // pipes stay open (they are the process's, and terminate runs no finalizers): closed
      // here (when still the same pipe), nothing else is left.
      for (const r of ready) for (const [fd, target] of r.opened) if (fdTarget(fd) === target) fs.closeSync(fd)
      expect(countFds()).toBe(baseFds)

      // The main thread's ring was never disturbed: a file write and read through it.
      const fd = fs.openSync(path.join(dir, "main.bin"), "w+")
      try {
        const data = new TextEncoder().encode("main ring still works")
        expect(yield* main.write(fd, data, 0, data.length, 0)).toBe(data.length)
        const back = new Uint8Array(data.length)
        expect(yield* main.read(fd, back, 0, back.length, 0)).toBe(data.length)
        expect(new TextDecoder().decode(back)).toBe("main ring still works")
        expect(yield* main.sleep("1 millis")).toBeUndefined()
        expect(main.ring.inFlight).toBe(0)
        expect(main.ring.info().open).toBe(true)
      } finally {
        fs.closeSync(fd)
      }
    }).pipe(Effect.scoped), 60_000)
})
