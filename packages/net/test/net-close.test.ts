// Closing and interrupting while ops wait, on both backends: nothing hangs (a close never
// waits for a peer), nothing is lost (a chunk or an accepted connection handed to a fiber
// interrupted at that instant), and each failure is a typed NetError.
import { describe, expect, it } from "@effect/vitest"
import { Uring } from "@effio/core"
import { Ring } from "@effio/uring-native"
import { Effect, Exit, Fiber, FiberId, Layer, Option } from "effect"
import { Net, UringSocketServer } from "../src/index.js"
import { captureNodeNotice } from "../../../test-utils/index.js"

// One row runs UringSocketServer on the node backend on purpose.
captureNodeNotice()
import { backends, countFds, eventually, netTest, rawClient, rawServer, settledFds, within } from "./helpers.js"

const HOST = "127.0.0.1"

const failureOf = <A>(exit: Exit.Exit<A, unknown>): Net.NetError => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit)}`)
  expect(exit.cause.error).toBeInstanceOf(Net.NetError)
  return exit.cause.error as Net.NetError
}

describe.each(backends)("Net on %s: close while ops wait", (backendId, layer) => {
  netTest("closing a connection whose write is blocked (the peer reads nothing): the close ends, the write fails with EPIPE", layer, () =>
    Effect.gen(function*() {
      const peer = yield* rawServer(HOST, (s) => s.pause(), { pauseOnConnect: true })
      const conn = yield* Net.connect(Net.tcp(HOST, peer.port))
      const writer = yield* Effect.fork(Effect.exit(conn.write(new Uint8Array(64 * 1024 * 1024))))
      yield* Effect.sleep(200)
      expect(Option.isSome(yield* within(3000, conn.close))).toBe(true)
      const e = failureOf(yield* Fiber.join(writer))
      expect(e.reason).toBe("ConnectionReset")
      expect(e.errno).toBe("EPIPE")
    }))

  netTest("a read waiting when another fiber closes the connection returns end of stream, and so does one after", layer, () =>
    Effect.gen(function*() {
      const peer = yield* rawServer(HOST, () => {})
      const conn = yield* Net.connect(Net.tcp(HOST, peer.port))
      const reader = yield* Effect.fork(conn.read(new Uint8Array(16)))
      yield* Effect.sleep(50)
      yield* conn.close
      expect(yield* within(2000, Fiber.join(reader))).toEqual(Option.some(Exit.succeed(0)))
      expect(yield* conn.read(new Uint8Array(16))).toBe(0)
    }))

  netTest("an interrupted write drops only itself: the next write queued behind it goes out", layer, () =>
    Effect.gen(function*() {
      let received = 0
      let paused: { resume: () => void } | undefined
      const peer = yield* rawServer(HOST, (s) => {
        paused = s
        s.on("data", (d: Buffer) => void (received += d.length))
      }, { pauseOnConnect: true })
      const conn = yield* Net.connect(Net.tcp(HOST, peer.port))
      const big = yield* Effect.fork(conn.write(new Uint8Array(32 * 1024 * 1024)))
      yield* Effect.sleep(200)
      const small = yield* Effect.fork(Effect.exit(conn.write(new TextEncoder().encode("B"))))
      yield* Effect.sleep(50)
      yield* Fiber.interrupt(big)
      paused!.resume()
      const exit = yield* within(3000, Fiber.join(small))
      expect(Option.map(exit, (e) => Exit.isSuccess(e) && Exit.isSuccess(e.value))).toEqual(Option.some(true))
      // The peer gets what the interrupted write had sent, then "B".
      expect(yield* eventually(3000, () => received, (n) => n > 0)).toBeGreaterThan(0)
    }))

  netTest("shutdown(\"send\") goes after the writes issued before it: the peer gets every byte, then end of stream", layer, () =>
    Effect.gen(function*() {
      let received = 0
      let ended = false
      const peer = yield* rawServer(HOST, (s) => {
        s.on("data", (d: Buffer) => void (received += d.length))
        s.on("end", () => void (ended = true))
      }, { allowHalfOpen: true })
      const conn = yield* Net.connect(Net.tcp(HOST, peer.port))
      const size = 32 * 1024 * 1024
      const writer = yield* Effect.fork(conn.write(new Uint8Array(size)))
      yield* Effect.sleep(10)
      yield* conn.shutdown("send")
      yield* Fiber.join(writer)
      for (let i = 0; i < 200 && !ended; i++) yield* Effect.sleep(20)
      expect(ended).toBe(true)
      expect(received).toBe(size)
    }))

  netTest("closing a datagram socket while a recv waits: the recv fails with EBADF, as do later ones", layer, () =>
    Effect.gen(function*() {
      const dgram = yield* Net.datagramSocket(Net.udp(HOST, 0))
      const recv = yield* Effect.fork(dgram.recv(new Uint8Array(64)))
      yield* Effect.sleep(50)
      expect(Option.isSome(yield* within(2000, dgram.close))).toBe(true)
      const first = yield* within(2000, Fiber.join(recv))
      expect(Option.isSome(first)).toBe(true)
      if (Option.isSome(first)) expect(failureOf(first.value).errno).toBe("EBADF")
      expect(failureOf(yield* Effect.exit(dgram.recv(new Uint8Array(64)))).errno).toBe("EBADF")
    }))

  netTest("failed listens and binds hold no fd", layer, () =>
    Effect.gen(function*() {
      const taken = yield* Net.listen(Net.tcp(HOST, 0))
      const port = (taken.address as Net.Tcp).port
      const busy = yield* Net.datagramSocket(Net.udp(HOST, 0))
      const before = countFds()
      for (let i = 0; i < 20; i++) {
        expect(failureOf(yield* Effect.exit(Net.listen(Net.tcp(HOST, port)))).reason).toBe("AddressInUse")
        expect(failureOf(yield* Effect.exit(Net.datagramSocket(busy.address)))).toBeInstanceOf(Net.NetError)
      }
      expect(yield* settledFds(before)).toBe(before)
    }))
})

describe("Net on io_uring: the fallbacks and the races", () => {
  // A ring without multishot accept (as below 5.19): single-shot accepts.
  const singleShot = Net.layerWithRing.pipe(
    Layer.provide(Layer.scoped(Uring.Uring, Effect.acquireRelease(
      Effect.sync(() => Uring.fromRing(new Ring({ testHideOps: ["accept_multishot"] }))),
      (u) => Effect.sync(() => u.ring.close())
    )))
  )

  netTest("without multishot accept: closing the listener ends a waiting accept with EBADF; connections are served", singleShot, () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      const port = (listener.address as Net.Tcp).port
      yield* rawClient(HOST, port)
      const conn = yield* listener.accept
      expect(conn.peer._tag).toBe("Tcp")
      const waiting = yield* Effect.fork(Effect.scoped(listener.accept))
      yield* Effect.sleep(50)
      expect(Option.isSome(yield* within(2000, listener.close))).toBe(true)
      const exit = yield* within(2000, Fiber.join(waiting))
      expect(Option.isSome(exit)).toBe(true)
      if (Option.isSome(exit)) expect(failureOf(exit.value).errno).toBe("EBADF")
    }))

  netTest("a chunk or a connection handed to a fiber interrupted in the same completion batch is not lost", Net.layerWithRing.pipe(Layer.provideMerge(Uring.layer())), () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      const port = (listener.address as Net.Tcp).port
      // Accepts: the interruption is delivered by a nop in the batch of the accept's CQE.
      let tookByWaiter = 0
      for (let i = 0; i < 10; i++) {
        const waiter = yield* Effect.fork(Effect.scoped(listener.accept))
        yield* Effect.sleep(20)
        uring.ring.nop(() => waiter.unsafeInterruptAsFork(FiberId.none))
        yield* rawClient(HOST, port)
        if (Exit.isSuccess(yield* Fiber.await(waiter))) tookByWaiter++
      }
      // Every connection is accepted by someone: a waiter that won its race, or a later accept.
      let servedLater = 0
      for (let i = 0; i < 10; i++) {
        const got = yield* within(300, Effect.scoped(listener.accept))
        if (Option.isSome(got) && Exit.isSuccess(got.value)) servedLater++
      }
      expect(tookByWaiter + servedLater).toBe(10)
      // Chunks: a read interrupted in the batch of its data leaves the data for the next read.
      const client = yield* rawClient(HOST, port)
      const conn = yield* listener.accept
      let lost = 0
      for (let i = 0; i < 10; i++) {
        const reader = yield* Effect.fork(conn.readChunk)
        yield* Effect.sleep(10)
        uring.ring.nop(() => reader.unsafeInterruptAsFork(FiberId.none))
        client.write(`msg${i}`)
        const exit = yield* Fiber.await(reader)
        if (Exit.isInterrupted(exit)) {
          const again = yield* within(300, conn.readChunk)
          if (Option.isNone(again)) lost++
        }
      }
      expect(lost).toBe(0)
    }))
})

describe("the Socket interface: memory while a handler lags", () => {
  it.live("an echo handler whose peer floods and never reads holds a bounded amount (both backends)", () =>
    Effect.gen(function*() {
      for (const backend of ["io_uring", "node"] as const) {
        const saved = process.env.EFFIO_BACKEND
        process.env.EFFIO_BACKEND = backend
        try {
          yield* Effect.scoped(Effect.gen(function*() {
            const server = yield* UringSocketServer.make({ port: 0, host: HOST })
            const port = (server.address as { port: number }).port
            yield* Effect.forkScoped(server.run((socket) => Effect.flatMap(socket.writer, (write) => socket.run((chunk) => write(chunk)))))
            // The peer writes as fast as the server lets it and reads nothing.
            const flooder = yield* rawClient(HOST, port)
            flooder.pause()
            const block = Buffer.alloc(1024 * 1024)
            let stop = false
            const pump = () => {
              while (!stop && flooder.write(block));
              if (!stop) flooder.once("drain", pump)
            }
            pump()
            const base = process.memoryUsage().arrayBuffers
            let peak = 0
            for (let i = 0; i < 10; i++) {
              yield* Effect.sleep(100)
              peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)
            }
            stop = true
            // Without the bound the handlers' chunks piled up by hundreds of MiB per second.
            expect(peak).toBeLessThan(64 * 1024 * 1024)
          }))
        } finally {
          if (saved === undefined) delete process.env.EFFIO_BACKEND
          else process.env.EFFIO_BACKEND = saved
        }
      }
    }), 20_000)
})
