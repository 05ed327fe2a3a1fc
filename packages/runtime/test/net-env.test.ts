// env.net: the environment's network, `@effio/net`'s Net bound to the environment's backend.
// (Here rather than in packages/net: runtime depends on net, not the reverse.) Real sockets
// on 127.0.0.1 and a Unix socket in a temp dir; every wait is bounded.
import { describe, expect, it } from "@effect/vitest"
import { Flow, Net, Runtime, Stdenv } from "@effio/runtime"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { expectSameBytes, payload, readToEnd, roundTrip, tempDir } from "./helpers.js"

import { captureNodeNotice } from "../../../test-utils/index.js"

// The node backend is chosen on purpose here: its one-line notice stays out of the output.
captureNodeNotice()

const decoder = new TextDecoder()

const bounded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.disconnect(effect).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("timed out") }))

describe.each(["io_uring", "node"] as const)("env.net on the %s backend", (backend) => {
  const layer = Runtime.layer({ backend })

  it.live("is bound to the environment's backend", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      expect(env.backendId).toBe(backend)
      expect(env.net.backendId).toBe(backend)
      // The same backend as the Net service the layer provides.
      const service = yield* Net.Net
      expect(service.backendId).toBe(backend)
    }).pipe(Effect.provide(layer)))

  it.live("listen / connect over TCP: 1 MiB echoed byte for byte", () =>
    bounded(Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const listener = yield* env.net.listen(Net.tcp("127.0.0.1", 0))
      yield* Effect.forkScoped(env.net.runServer(listener, (flow) => Flow.copy(flow, flow)))
      const conn = yield* env.net.connect(listener.address)
      const data = payload(1024 * 1024)
      expectSameBytes(yield* roundTrip(conn, data), data)
      // withTcpConnect by name, through the same backend.
      const port = (listener.address as Net.Tcp).port
      const reply = yield* env.net.withTcpConnect({ host: "localhost", service: port }, (flow) => roundTrip(flow, "hi"))
      expect(decoder.decode(reply)).toBe("hi")
    }).pipe(Effect.scoped, Effect.provide(layer))), 15_000)

  it.live("listen / connect over a Unix socket; accept; errors are NetErrors", () =>
    bounded(Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const dir = yield* tempDir
      const file = path.join(dir, "env.sock")
      yield* Effect.scoped(Effect.gen(function*() {
        const listener = yield* env.net.listen(Net.unix(file))
        const client = yield* env.net.connect(Net.unix(file))
        const server = yield* env.net.accept(listener)
        yield* client.write("ping")
        yield* client.shutdown("send")
        expect(decoder.decode(yield* readToEnd(server))).toBe("ping")
      }))
      expect(fs.existsSync(file)).toBe(false)
      const e = yield* Effect.flip(env.net.connect(Net.unix(file)))
      expect(e).toBeInstanceOf(Net.NetError)
      expect(e.reason).toBe("NotFound")
      expect(e.errno).toBe("ENOENT")
    }).pipe(Effect.scoped, Effect.provide(layer))), 15_000)
})
