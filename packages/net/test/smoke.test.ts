import { describe, expect, it } from "@effect/vitest"
import { Flow, Uring } from "@effio/core"
import { Effect, Layer } from "effect"
import { Net } from "../src/index.js"

const backends = [["io_uring", Net.layerWithRing.pipe(Layer.provide(Uring.layer()))], ["node", Net.layerNode]] as const

describe.each(backends)("smoke %s", (_name, layer) => {
  it.live("echo", () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp("127.0.0.1", 0))
      yield* Effect.forkScoped(Net.runServer(listener, (flow) => Flow.copy(flow, flow)))
      const conn = yield* Net.connect(listener.address as Net.Tcp)
      const payload = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 255)
      const reader = yield* Effect.fork(Effect.gen(function*() {
        const buf = new Uint8Array(65536)
        const out: Array<Uint8Array> = []
        let total = 0
        for (;;) {
          const n = yield* conn.read(buf)
          if (n === 0) break
          out.push(buf.slice(0, n))
          total += n
        }
        return total
      }))
      yield* conn.write(payload)
      yield* conn.shutdown("send")
      const total = yield* reader.await.pipe(Effect.flatten)
      expect(total).toBe(payload.length)
    }).pipe(Effect.scoped, Effect.provide(layer)), 20_000)
})
