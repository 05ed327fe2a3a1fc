// Faults found in review of the node backend, each checked on both backends where the behaviour
// is shared (the same typed NetError on io_uring and on node): bad ports, UDP close / recv
// waiters, a write cut short by close, concurrent accepts, shutdown after close. Then node-only
// ones: an accept or recv interrupted in the same turn as its item arrives, the UDP queue bound.
// Loopback only; every wait is bounded (netTest: 12 s per body).
import { describe, expect } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Fiber, FiberId, Option } from "effect"
import * as dgram from "node:dgram"
import * as nodeNet from "node:net"
import { Net } from "../src/index.js"
import { MAX_QUEUED_DATAGRAM_BYTES, MAX_QUEUED_DATAGRAMS } from "../src/internal/nodeBackend.js"
import { backends, netTest, rawClient, rawServer, readExactly, text, within } from "./helpers.js"

const HOST = "127.0.0.1"
const MiB = 1024 * 1024

/** The NetError `effect` fails with (no defect, no interruption). */
const netFailure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) => failureOf(exit))

const failureOf = <A, E>(exit: Exit.Exit<A, E>): Net.NetError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  expect(Chunk.toReadonlyArray(Cause.defects(exit.cause))).toEqual([])
  const e = Option.getOrThrow(Cause.failureOption(exit.cause))
  expect(e).toBeInstanceOf(Net.NetError)
  return e as Net.NetError
}

const brief = (e: Net.NetError) => ({ reason: e.reason, errno: e.errno, syscall: e.syscall })

/** A raw node UDP socket on 127.0.0.1 for the scope. */
const rawUdp = Effect.acquireRelease(
  Effect.async<dgram.Socket>((resume) => {
    const s = dgram.createSocket("udp4")
    s.bind(0, HOST, () => resume(Effect.succeed(s)))
  }),
  (s) =>
    Effect.async<void>((resume) => {
      s.close(() => resume(Effect.void))
    })
)

const rawSend = (s: dgram.Socket, port: number, data: Uint8Array | string) =>
  Effect.async<void, Error>((resume) => s.send(data, port, HOST, (e) => resume(e ? Effect.fail(e) : Effect.void)))

describe.each(backends)("node faults, on %s", (_backend, layer) => {
  netTest("ports outside 0..65535 fail with a typed EINVAL NetError (connect, listen, UDP bind and send), never a defect", layer, () =>
    Effect.gen(function*() {
      const einval = (syscall: string) => ({ reason: "Unknown", errno: "EINVAL", syscall })
      expect(brief(yield* netFailure(Net.connect(Net.tcp(HOST, 70000))))).toEqual(einval("connect"))
      expect(brief(yield* netFailure(Net.listen(Net.tcp(HOST, -1))))).toEqual(einval("bind"))
      expect(brief(yield* netFailure(Net.listen(Net.tcp(HOST, 70000))))).toEqual(einval("bind"))
      // Node itself binds UDP port 70000 (as 70000 & 0xffff).
      expect(brief(yield* netFailure(Net.datagramSocket(Net.udp(HOST, 70000))))).toEqual(einval("bind"))
      const d = yield* Net.datagramSocket(Net.udp(HOST, 0))
      expect(brief(yield* netFailure(d.send(Net.udp(HOST, 70000), new Uint8Array(1))))).toEqual(einval("sendto"))
      expect(brief(yield* netFailure(d.send(Net.udp(HOST, -1), new Uint8Array(1))))).toEqual(einval("sendto"))
      // The socket still works.
      yield* d.send(d.address, new Uint8Array([7]))
      const buf = new Uint8Array(4)
      expect((yield* d.recv(buf)).bytes).toBe(1)
    }))

  netTest("UDP close while a recv waits fails it with EBADF (recvfrom); recv and send after close fail with EBADF", layer, () =>
    Effect.gen(function*() {
      const d = yield* Net.datagramSocket(Net.udp(HOST, 0))
      const receiving = yield* Effect.fork(d.recv(new Uint8Array(16)))
      yield* Effect.sleep(50)
      expect(receiving.unsafePoll()).toBeNull()
      const closed = yield* within(2000, d.close)
      expect(Option.map(closed, Exit.isSuccess)).toEqual(Option.some(true))
      const waited = yield* within(2000, Fiber.join(receiving))
      expect(Option.isSome(waited)).toBe(true)
      expect(brief(failureOf(Option.getOrThrow(waited)))).toEqual({ reason: "Unknown", errno: "EBADF", syscall: "recvfrom" })
      const recvAfter = yield* within(1000, d.recv(new Uint8Array(16)))
      expect(Option.isSome(recvAfter)).toBe(true)
      expect(brief(failureOf(Option.getOrThrow(recvAfter)))).toEqual({ reason: "Unknown", errno: "EBADF", syscall: "recvfrom" })
      const sendAfter = yield* within(1000, d.send(Net.udp(HOST, 9), new Uint8Array(3)))
      expect(Option.isSome(sendAfter)).toBe(true)
      expect(brief(failureOf(Option.getOrThrow(sendAfter)))).toEqual({ reason: "Unknown", errno: "EBADF", syscall: "sendto" })
    }))

  netTest("two concurrent UDP recvs are both served by two datagrams", layer, () =>
    Effect.gen(function*() {
      const d = yield* Net.datagramSocket(Net.udp(HOST, 0))
      const b1 = new Uint8Array(4)
      const b2 = new Uint8Array(4)
      const r1 = yield* Effect.fork(d.recv(b1))
      const r2 = yield* Effect.fork(d.recv(b2))
      yield* Effect.sleep(50)
      yield* d.send(d.address, new Uint8Array([1]))
      yield* d.send(d.address, new Uint8Array([2]))
      const got = yield* within(2000, Effect.all([Fiber.join(r1), Fiber.join(r2)]))
      expect(Option.map(got, Exit.isSuccess)).toEqual(Option.some(true))
      expect([b1[0], b2[0]].sort()).toEqual([1, 2])
    }))

  netTest("closing a connection while a write is blocked fails the write with EPIPE, not a success", layer, () =>
    Effect.gen(function*() {
      // A peer that accepts and never reads: the write cannot finish.
      const peer = yield* rawServer(HOST, () => {}, { pauseOnConnect: true })
      const conn = yield* Net.connect(Net.tcp(HOST, peer.port))
      const writing = yield* Effect.fork(conn.write(new Uint8Array(32 * MiB)))
      yield* Effect.sleep(300)
      expect(writing.unsafePoll()).toBeNull()
      const closed = yield* within(2000, conn.close)
      expect(Option.map(closed, Exit.isSuccess)).toEqual(Option.some(true))
      const wrote = yield* within(2000, Fiber.join(writing))
      expect(Option.isSome(wrote)).toBe(true)
      expect(brief(failureOf(Option.getOrThrow(wrote)))).toEqual({ reason: "ConnectionReset", errno: "EPIPE", syscall: "send" })
    }))

  netTest("two concurrent accepts are each served a connection", layer, () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      const port = (listener.address as Net.Tcp).port
      const a1 = yield* Effect.fork(listener.accept)
      const a2 = yield* Effect.fork(listener.accept)
      yield* Effect.sleep(50)
      yield* rawClient(HOST, port)
      yield* rawClient(HOST, port)
      const got = yield* within(2000, Effect.all([Fiber.join(a1), Fiber.join(a2)]))
      expect(Option.map(got, Exit.isSuccess)).toEqual(Option.some(true))
    }))

  netTest("shutdown after close fails with EBADF (shutdown)", layer, () =>
    Effect.gen(function*() {
      const peer = yield* rawServer(HOST, () => {})
      const conn = yield* Net.connect(Net.tcp(HOST, peer.port))
      yield* conn.close
      expect(brief(yield* netFailure(conn.shutdown("send")))).toEqual({ reason: "Unknown", errno: "EBADF", syscall: "shutdown" })
    }))
})

/** While the scope is open, `proto.emit(event)` first interrupts the fiber in `target.fiber` (once). */
const interruptOnEmit = (proto: { emit: (event: string | symbol, ...args: Array<any>) => boolean }, event: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const target: { fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined } = { fiber: undefined }
      const emit = proto.emit
      proto.emit = function(this: unknown, ev: string | symbol, ...args: Array<any>) {
        if (ev === event && target.fiber !== undefined) {
          target.fiber.unsafeInterruptAsFork(FiberId.none)
          target.fiber = undefined
        }
        return emit.call(this, ev, ...args)
      }
      return { target, emit }
    }),
    ({ emit }) => Effect.sync(() => { proto.emit = emit })
  ).pipe(Effect.map(({ target }) => target))

describe("node faults, node only", () => {
  const layer = Net.layerNode

  netTest("an accept interrupted in the same turn as its connection arrives gives it to the next accept", layer, () =>
    Effect.gen(function*() {
      const target = yield* interruptOnEmit(nodeNet.Server.prototype, "connection")
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      const port = (listener.address as Net.Tcp).port
      const waiting = yield* Effect.fork(Effect.scoped(listener.accept))
      yield* Effect.sleep(20)
      target.fiber = waiting
      const client = yield* rawClient(HOST, port)
      const exit = yield* Effect.timeout(Fiber.await(waiting), "2 seconds")
      expect(Exit.isInterrupted(exit)).toBe(true)
      // The connection was not lost (nor left open with nobody to close it): the next accept has it.
      const next = yield* within(2000, listener.accept)
      if (Option.isNone(next) || Exit.isFailure(next.value)) throw new Error(`the next accept: ${String(next)}`)
      const conn = next.value.value
      client.write("hi")
      expect(text(yield* readExactly(conn, 2))).toBe("hi")
    }))

  netTest("a UDP recv interrupted in the same turn as its datagram arrives gives it to the next recv", layer, () =>
    Effect.gen(function*() {
      const target = yield* interruptOnEmit(dgram.Socket.prototype, "message")
      const d = yield* Net.datagramSocket(Net.udp(HOST, 0))
      const sender = yield* rawUdp
      const waiting = yield* Effect.fork(d.recv(new Uint8Array(16)))
      yield* Effect.sleep(20)
      target.fiber = waiting
      yield* rawSend(sender, d.address.port, "one")
      const exit = yield* Effect.timeout(Fiber.await(waiting), "2 seconds")
      expect(Exit.isInterrupted(exit)).toBe(true)
      const buf = new Uint8Array(16)
      const next = yield* within(2000, d.recv(buf))
      expect(Option.map(next, Exit.isSuccess)).toEqual(Option.some(true))
      expect(text(buf.subarray(0, 3))).toBe("one")
    }))

  /** Sends `count` datagrams of `size` bytes to `port` in small batches (so the kernel never drops), then waits a little. */
  const flood = (sender: dgram.Socket, port: number, count: number, size: number) =>
    Effect.gen(function*() {
      const data = new Uint8Array(size)
      for (let i = 0; i < count; i += 8) {
        yield* Effect.forEach(Array.from({ length: Math.min(8, count - i) }), () => rawSend(sender, port, data), { discard: true })
        yield* Effect.sleep(1)
      }
      yield* Effect.sleep(100)
    })

  /** Datagrams `d` has queued: received until none comes within 100 ms (at most `limit`). */
  const drain = (d: Net.Datagram, limit: number) =>
    Effect.gen(function*() {
      const buf = new Uint8Array(64 * 1024)
      let n = 0
      while (n < limit) {
        const got = yield* within(100, d.recv(buf))
        if (Option.isNone(got) || Exit.isFailure(got.value)) break
        n++
      }
      return n
    })

  netTest(`UDP: at most ${MAX_QUEUED_DATAGRAMS} datagrams wait unread; newer ones are dropped`, layer, () =>
    Effect.gen(function*() {
      const d = yield* Net.datagramSocket(Net.udp(HOST, 0))
      const sender = yield* rawUdp
      yield* flood(sender, d.address.port, MAX_QUEUED_DATAGRAMS + 200, 16)
      expect(yield* drain(d, MAX_QUEUED_DATAGRAMS + 200)).toBe(MAX_QUEUED_DATAGRAMS)
      // Receiving goes on.
      yield* rawSend(sender, d.address.port, "after")
      const buf = new Uint8Array(16)
      const got = yield* within(2000, d.recv(buf))
      expect(Option.map(got, Exit.isSuccess)).toEqual(Option.some(true))
      expect(text(buf.subarray(0, 5))).toBe("after")
    }))

  netTest(`UDP: at most ${MAX_QUEUED_DATAGRAM_BYTES / MiB} MiB of datagrams wait unread`, layer, () =>
    Effect.gen(function*() {
      const d = yield* Net.datagramSocket(Net.udp(HOST, 0))
      const sender = yield* rawUdp
      const size = 16 * 1024
      const fit = MAX_QUEUED_DATAGRAM_BYTES / size
      yield* flood(sender, d.address.port, fit + 64, size)
      expect(yield* drain(d, fit + 64)).toBe(fit)
    }))
})
