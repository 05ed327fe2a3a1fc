// One ring per event loop: every io_uring layer of a thread acquires the loop's ring, the last
// release closes it, and a worker thread gets a ring of its own.
import { describe, expect, it } from "@effect/vitest"
import { Uring } from "@effio/core"
import type { Ring } from "@effio/uring-native"
import { Effect, Layer } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"

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
          w.once("message", (fd: number) => {
            resolve(fd)
            void w.terminate()
          })
          w.once("error", reject)
        })
      )
      expect(workerFd).toBeGreaterThan(0)
      expect(workerFd).not.toBe(main.ring.info().fd)
      expect(main.ring.info().open).toBe(true)
    }).pipe(Effect.scoped))
})
