// Net (the Eio-style API) on both backends, over real sockets: 127.0.0.1, ::1 and Unix sockets
// in temp dirs, with raw node:net peers where the peer must be independent of the code under
// test. Every test asserts the same behaviour and the same typed NetError on io_uring and on
// node. Every wait is bounded (netTest: 12 s per body, 15 s per test).
import { describe, expect } from "@effect/vitest"
import { Flow, Switch } from "@effio/core"
import { Cause, Chunk, Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as nodeNet from "node:net"
import * as path from "node:path"
import { Net } from "../src/index.js"
import { HIGH_WATER } from "../src/internal/inbox.js"
import {
  backends,
  countFds,
  eventually,
  expectSameBytes,
  makeTempDir,
  netTest,
  neverAcceptingListener,
  payload,
  rawClient,
  rawServer,
  readAll,
  roundTrip,
  readExactly,
  ringOf,
  settledFds,
  text,
  within
} from "./helpers.js"

const HOST = "127.0.0.1"
const MiB = 1024 * 1024

/** An echo server on `listener` for the scope (Flow.copy of each connection onto itself). */
const echoServer = (listener: Net.Listener) => Effect.forkScoped(Net.runServer(listener, (flow) => Flow.copy(flow, flow)))

/** Writes 64 KiB every 5 ms, at most 100 times: to a reset peer, until the typed failure. */
const writeUntilFailure = (conn: Net.Connection) =>
  Effect.gen(function*() {
    const chunk = new Uint8Array(64 * 1024)
    for (let i = 0; i < 100; i++) {
      yield* conn.write(chunk)
      yield* Effect.sleep(5)
    }
  })

/** The failure of `effect` (it must fail with a NetError, not a defect nor an interruption). */
const netFailure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isSuccess(exit)) throw new Error("expected a failure")
    expect(Chunk.toReadonlyArray(Cause.defects(exit.cause))).toEqual([])
    const e = Option.getOrThrow(Cause.failureOption(exit.cause))
    expect(e).toBeInstanceOf(Net.NetError)
    return e as Net.NetError
  })

/** A port nobody listens on (bound, then closed). */
const closedPort = (host: string) =>
  Effect.scoped(Effect.map(Net.listen(Net.tcp(host, 0)), (l) => (l.address as Net.Tcp).port))

describe.each(backends)("Net on %s", (backendId, layer) => {
  // ---- echo ------------------------------------------------------------------------------

  for (const host of [HOST, "::1"]) {
    netTest(`1 MiB echoed byte for byte on ${host}`, layer, () =>
      Effect.gen(function*() {
        const listener = yield* Net.listen(Net.tcp(host, 0))
        expect(listener.address).toMatchObject({ _tag: "Tcp", host })
        expect((listener.address as Net.Tcp).port).toBeGreaterThan(0)
        yield* echoServer(listener)
        const conn = yield* Net.connect(listener.address)
        // Each end knows both addresses: the peer is the listener's, the local port is real.
        expect(conn.peer).toEqual(listener.address)
        expect(conn.local).toMatchObject({ _tag: "Tcp", host })
        const data = payload(MiB)
        expectSameBytes(yield* roundTrip(conn, data), data)
      }))
  }

  // On this machine `ulimit -n` is 20000: 1,000 connections are 2,000 fds of this process
  // (both ends), well under it.
  netTest("1,000 concurrent connections each echo their own message", layer, () =>
    Effect.gen(function*() {
      const before = countFds()
      yield* Effect.scoped(Effect.gen(function*() {
        const listener = yield* Net.listen(Net.tcp(HOST, 0), { backlog: 1024 })
        yield* echoServer(listener)
        const replies = yield* Effect.forEach(
          Array.from({ length: 1000 }, (_, i) => i),
          (i) => Effect.scoped(Effect.flatMap(Net.connect(listener.address), (c) => roundTrip(c, `message ${i}`))),
          { concurrency: "unbounded" }
        )
        replies.forEach((r, i) => expect(text(r)).toBe(`message ${i}`))
      }))
      expect(yield* settledFds(before)).toBeLessThanOrEqual(before)
    }))

  netTest("half-close: after shutdown(send) the server still writes back; the client reads it, then 0", layer, () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      yield* Effect.forkScoped(Net.runServer(listener, (flow) =>
        Effect.flatMap(readAll(flow), (got) => flow.write(`got ${got.length} bytes: ${text(got)}`))))
      const conn = yield* Net.connect(listener.address)
      yield* conn.write("abc")
      yield* conn.shutdown("send")
      expect(text(yield* readAll(conn))).toBe("got 3 bytes: abc")
      // End of stream stays end of stream.
      expect(yield* conn.read(new Uint8Array(16))).toBe(0)
    }))

  // ---- errors ----------------------------------------------------------------------------

  for (const host of [HOST, "::1"]) {
    netTest(`connect to a closed port on ${host} fails with ConnectionRefused`, layer, () =>
      Effect.gen(function*() {
        const port = yield* closedPort(host)
        const e = yield* netFailure(Net.connect(Net.tcp(host, port)))
        expect({ reason: e.reason, errno: e.errno, syscall: e.syscall, code: e.code, address: e.address }).toEqual({
          reason: "ConnectionRefused",
          errno: "ECONNREFUSED",
          syscall: "connect",
          code: "ECONNREFUSED",
          address: Net.tcp(host, port)
        })
        expect(e.message).toContain(Net.show(Net.tcp(host, port)))
        expect(e.message).toContain("ECONNREFUSED")
      }))
  }

  netTest("a peer reset while a read waits fails the read with ConnectionReset; writing to it fails the same way", layer, () =>
    Effect.gen(function*() {
      const peer = yield* rawServer(HOST, (s) => s.write("hello"))
      const conn = yield* Net.connect(Net.tcp(HOST, peer.port))
      expect(text(yield* readExactly(conn, 5))).toBe("hello")
      const reading = yield* Effect.fork(conn.read(new Uint8Array(1024)))
      yield* Effect.sleep(50)
      expect(reading.unsafePoll()).toBeNull()
      peer.sockets[0]!.resetAndDestroy()
      const readError = yield* netFailure(Fiber.join(reading))
      expect({ reason: readError.reason, errno: readError.errno, syscall: readError.syscall }).toEqual({
        reason: "ConnectionReset",
        errno: "ECONNRESET",
        syscall: "recv"
      })
      // The next write: a typed failure (EPIPE or ECONNRESET), never a defect; bounded tries.
      const writeError = yield* netFailure(writeUntilFailure(conn))
      expect(writeError.reason).toBe("ConnectionReset")
      expect(["EPIPE", "ECONNRESET"]).toContain(writeError.errno)
      expect(writeError.syscall).toBe("send")
    }))

  netTest("a write to a peer that already reset fails with ConnectionReset, never a defect", layer, () =>
    Effect.gen(function*() {
      const peer = yield* rawServer(HOST, (s) => setTimeout(() => s.resetAndDestroy(), 20))
      const conn = yield* Net.connect(Net.tcp(HOST, peer.port))
      yield* Effect.sleep(150)
      const e = yield* netFailure(writeUntilFailure(conn))
      expect(e.reason).toBe("ConnectionReset")
      // The read side saw the reset too (or, had nothing been pending, an error all the same).
      const r = yield* netFailure(conn.read(new Uint8Array(16)))
      expect(r.reason).toBe("ConnectionReset")
    }))

  // ---- back-pressure -----------------------------------------------------------------------

  // A flooding peer into a connection nobody reads. What may leave the peer is bounded by
  // the inbox (HIGH_WATER = 1 MiB, plus on io_uring up to the 4 MiB shared buffer ring's
  // completions in flight) plus the kernel's loopback buffers (tcp_rmem max 32 MiB here,
  // tcp_wmem max 4 MiB): < 64 MiB, where an unbounded reader takes in GBs in that second.
  netTest("a slow consumer: a flooding peer is held back within the inbox bound + kernel buffers; data intact", layer, () =>
    Effect.gen(function*() {
      expect(HIGH_WATER).toBe(MiB)
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      const client = yield* rawClient(HOST, (listener.address as Net.Tcp).port)
      const conn = yield* Net.accept(listener)
      // Stream byte i is i % 251: a chunk of 256 × 251 bytes repeats the pattern exactly.
      const chunk = Buffer.alloc(251 * 256, 0)
      for (let j = 0; j < chunk.length; j++) chunk[j] = j % 251
      ;(globalThis as { gc?: () => void }).gc?.()
      const memBefore = process.memoryUsage().arrayBuffers
      let blocked = 0
      yield* Effect.async<void>((resume) => {
        const until = Date.now() + 1000
        const pump = () => {
          while (Date.now() < until) {
            if (!client.write(chunk)) {
              blocked++
              client.once("drain", pump)
              return
            }
          }
          resume(Effect.void)
        }
        pump()
        // The drain may never come (the reader is paused): stop after the second anyway.
        const t = setTimeout(() => {
          client.off("drain", pump)
          resume(Effect.void)
        }, 1100)
        return Effect.sync(() => clearTimeout(t))
      })
      // Let the pipeline fill up to where it stops.
      yield* Effect.sleep(200)
      ;(globalThis as { gc?: () => void }).gc?.()
      const memGrowth = process.memoryUsage().arrayBuffers - memBefore
      const sent = client.bytesWritten
      expect(blocked).toBeGreaterThan(0)
      expect(sent).toBeGreaterThan(HIGH_WATER)
      expect(sent).toBeLessThan(64 * MiB)
      expect(memGrowth).toBeLessThan(48 * MiB)
      // A second later nothing more got in: the peer is really held back.
      yield* Effect.sleep(300)
      expect(client.bytesWritten - sent).toBeLessThan(8 * MiB)
      // Reading resumes: everything arrives, in order.
      client.end()
      const got = yield* readAll(conn)
      expect(got.length).toBe(client.bytesWritten)
      let bad = -1
      for (let i = 0; i < got.length; i++) {
        if (got[i] !== i % 251) {
          bad = i
          break
        }
      }
      expect(bad).toBe(-1)
    }))

  // ---- interruption ------------------------------------------------------------------------

  /**
   * Runs `setup` (which forks the blocked fiber) in a scope; checks the fiber is blocked,
   * interrupts it within 1 s; then, after the scope, no fd is left and the ring has nothing
   * in flight that it did not have before.
   */
  const interruptTest = (
    name: string,
    setup: Effect.Effect<Fiber.RuntimeFiber<unknown, unknown>, unknown, Net.Net | import("effect/Scope").Scope>
  ) =>
    netTest(name, layer, () =>
      Effect.gen(function*() {
        const uring = yield* ringOf(backendId)
        const inFlightBefore = uring?.ring.inFlight ?? 0
        const fdsBefore = countFds()
        yield* Effect.scoped(Effect.gen(function*() {
          const fiber = yield* setup
          yield* Effect.sleep(200)
          expect(fiber.unsafePoll()).toBeNull()
          const started = Date.now()
          const interrupted = yield* within(1000, Fiber.interrupt(fiber))
          expect(Option.isSome(interrupted)).toBe(true)
          expect(Date.now() - started).toBeLessThan(1000)
          const exit = Option.getOrThrow(interrupted)
          expect(Exit.isSuccess(exit) && Exit.isInterrupted(exit.value)).toBe(true)
        }))
        expect(yield* settledFds(fdsBefore)).toBeLessThanOrEqual(fdsBefore)
        if (uring !== undefined) {
          expect(yield* eventually(2000, () => uring.ring.inFlight, (n) => n <= inFlightBefore)).toBeLessThanOrEqual(inFlightBefore)
        }
      }))

  interruptTest("interrupting a fiber blocked in accept", Effect.gen(function*() {
    const listener = yield* Net.listen(Net.tcp(HOST, 0))
    return yield* Effect.fork(Effect.scoped(Net.accept(listener)))
  }))

  interruptTest("interrupting a fiber blocked in a read with no data", Effect.gen(function*() {
    const peer = yield* rawServer(HOST, () => {})
    const conn = yield* Net.connect(Net.tcp(HOST, peer.port))
    return yield* Effect.fork(conn.read(new Uint8Array(1024)))
  }))

  // The listener (another process, never accepting) has backlog 0: one connection fills
  // its accept queue, after which the kernel drops SYNs and a connect waits.
  interruptTest("interrupting a fiber blocked in connect (the listener's accept queue is full)", Effect.gen(function*() {
    const port = yield* neverAcceptingListener(0)
    // Raw clients to fill the queue (most of them never complete their handshake).
    yield* Effect.acquireRelease(
      Effect.sync(() => Array.from({ length: 3 }, () => nodeNet.connect({ host: HOST, port }).on("error", () => {}))),
      (sockets) => Effect.sync(() => sockets.forEach((s) => s.destroy()))
    )
    yield* Effect.sleep(200)
    return yield* Effect.fork(Effect.scoped(Net.connect(Net.tcp(HOST, port))))
  }))

  interruptTest("interrupting a fiber blocked in a send to a full socket buffer (the peer never reads)", Effect.gen(function*() {
    const peer = yield* rawServer(HOST, () => {}, { pauseOnConnect: true })
    const conn = yield* Net.connect(Net.tcp(HOST, peer.port))
    return yield* Effect.fork(conn.write(new Uint8Array(64 * MiB)))
  }))

  // ---- Unix sockets ------------------------------------------------------------------------

  netTest("Unix socket: echo; the socket file is removed with the scope", layer, () =>
    Effect.gen(function*() {
      const dir = yield* makeTempDir("effio-net-")
      const file = path.join(dir, "echo.sock")
      yield* Effect.scoped(Effect.gen(function*() {
        const listener = yield* Net.listen(Net.unix(file))
        expect(listener.address).toEqual(Net.unix(file))
        expect(fs.lstatSync(file).isSocket()).toBe(true)
        yield* echoServer(listener)
        const conn = yield* Net.connect(Net.unix(file))
        const data = payload(256 * 1024, 7)
        expectSameBytes(yield* roundTrip(conn, data), data)
      }))
      expect(fs.existsSync(file)).toBe(false)
    }))

  netTest("Unix socket: listener.close stops listening and removes the socket file at once", layer, () =>
    Effect.gen(function*() {
      const dir = yield* makeTempDir("effio-net-")
      const file = path.join(dir, "close.sock")
      const firstScope = yield* Scope.make()
      const listener = yield* Scope.extend(Net.listen(Net.unix(file)), firstScope)
      const client = yield* Net.connect(Net.unix(file))
      const server = yield* Net.accept(listener)
      // A Unix client is unnamed: each end knows the listener's path as the one it has.
      expect({ clientLocal: client.local, clientPeer: client.peer, serverLocal: server.local, serverPeer: server.peer })
        .toEqual({ clientLocal: Net.unix(""), clientPeer: Net.unix(file), serverLocal: Net.unix(file), serverPeer: Net.unix("") })
      yield* listener.close
      expect(fs.existsSync(file)).toBe(false)
      // The accepted connection lives on.
      yield* echoesVia(client, server, "unix, after close")
      // Another listener may take the path now; closing the first one's scope leaves it alone.
      const again = yield* Net.listen(Net.unix(file))
      yield* echoServer(again)
      yield* Scope.close(firstScope, Exit.void)
      expect(fs.lstatSync(file).isSocket()).toBe(true)
      const c2 = yield* Net.connect(Net.unix(file))
      expect(text(yield* roundTrip(c2, "second listener"))).toBe("second listener")
    }))

  netTest("Unix socket: an existing path fails with AddressInUse; reuseAddr removes a stale socket file first", layer, () =>
    Effect.gen(function*() {
      const dir = yield* makeTempDir("effio-net-")
      const file = path.join(dir, "stale.sock")
      // A stale socket file: bound by a process that exited without removing it.
      execFileSync("python3", ["-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(file)})`], {
        timeout: 5000
      })
      expect(fs.lstatSync(file).isSocket()).toBe(true)
      const e = yield* netFailure(Net.listen(Net.unix(file)))
      expect({ reason: e.reason, errno: e.errno, syscall: e.syscall, address: e.address }).toEqual({
        reason: "AddressInUse",
        errno: "EADDRINUSE",
        syscall: "bind",
        address: Net.unix(file)
      })
      expect(fs.existsSync(file)).toBe(true)
      yield* Effect.scoped(Effect.gen(function*() {
        const listener = yield* Net.listen(Net.unix(file), { reuseAddr: true })
        yield* echoServer(listener)
        const conn = yield* Net.connect(Net.unix(file))
        expect(text(yield* roundTrip(conn, "fresh"))).toBe("fresh")
      }))
      expect(fs.existsSync(file)).toBe(false)
      // reuseAddr removes only a socket: a regular file there is kept, and listening fails.
      fs.writeFileSync(file, "not a socket")
      const e2 = yield* netFailure(Net.listen(Net.unix(file), { reuseAddr: true }))
      expect(e2.reason).toBe("AddressInUse")
      expect(fs.readFileSync(file, "utf8")).toBe("not a socket")
    }))

  // ---- UDP ---------------------------------------------------------------------------------

  for (const host of [HOST, "::1"]) {
    netTest(`UDP round trip on ${host}, with the sender's address`, layer, () =>
      Effect.gen(function*() {
        const a = yield* Net.datagramSocket(Net.udp(host, 0))
        const b = yield* Net.datagramSocket(Net.udp(host, 0))
        expect(a.address).toMatchObject({ _tag: "Udp", host })
        expect(a.address.port).toBeGreaterThan(0)
        const buf = new Uint8Array(2048)
        yield* a.send(b.address, new TextEncoder().encode("ping"))
        const got = yield* b.recv(buf)
        expect(text(buf.subarray(0, got.bytes))).toBe("ping")
        expect(got.from).toEqual(a.address)
        yield* b.send(got.from, new TextEncoder().encode("pong!"))
        const back = yield* a.recv(buf)
        expect(text(buf.subarray(0, back.bytes))).toBe("pong!")
        expect(back.from).toEqual(b.address)
        // A datagram longer than the buffer is truncated to it.
        yield* a.send(b.address, new TextEncoder().encode("0123456789"))
        const small = new Uint8Array(4)
        const cut = yield* b.recv(small)
        expect({ bytes: cut.bytes, text: text(small) }).toEqual({ bytes: 4, text: "0123" })
      }))
  }

  netTest("UDP to a host name: looked up in the socket's family, as node's dgram; an unknown name is NotFound", layer, () =>
    Effect.gen(function*() {
      const a = yield* Net.datagramSocket(Net.udp("localhost", 0))
      expect(a.address.host).toBe(HOST)
      const b = yield* Net.datagramSocket(Net.udp(HOST, 0))
      const buf = new Uint8Array(64)
      yield* a.send(Net.udp("localhost", b.address.port), new TextEncoder().encode("by name"))
      const got = yield* b.recv(buf)
      expect(text(buf.subarray(0, got.bytes))).toBe("by name")
      expect(got.from).toEqual(a.address)
      const e = yield* netFailure(a.send(Net.udp("no-such-host.invalid", b.address.port), new Uint8Array(1)))
      expect({ reason: e.reason, errno: e.errno }).toEqual({ reason: "NotFound", errno: "ENOTFOUND" })
    }))

  netTest("UDP on the default (dual-stack) socket talks to IPv4; addresses are plain IPv4", layer, () =>
    Effect.gen(function*() {
      const dual = yield* Net.datagramSocket()
      const v4 = yield* Net.datagramSocket(Net.udp(HOST, 0))
      expect(dual.address).toMatchObject({ _tag: "Udp", host: "::" })
      const buf = new Uint8Array(64)
      yield* dual.send(v4.address, new TextEncoder().encode("to v4"))
      const got = yield* v4.recv(buf)
      expect(text(buf.subarray(0, got.bytes))).toBe("to v4")
      expect(got.from).toEqual(Net.udp(HOST, dual.address.port))
      yield* v4.send(Net.udp(HOST, dual.address.port), new TextEncoder().encode("to dual"))
      const back = yield* dual.recv(buf)
      expect(text(buf.subarray(0, back.bytes))).toBe("to dual")
      expect(back.from).toEqual(v4.address)
    }))

  netTest("TCP on a dual-stack listener: an IPv4 peer's address is plain IPv4", layer, () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp("", 0))
      expect(listener.address).toMatchObject({ _tag: "Tcp", host: "::" })
      const port = (listener.address as Net.Tcp).port
      const client = yield* Net.connect(Net.tcp(HOST, port))
      const server = yield* Net.accept(listener)
      expect(server.peer).toEqual(client.local)
      expect(server.local).toEqual(Net.tcp(HOST, port))
      expect(client.peer).toEqual(Net.tcp(HOST, port))
      yield* echoesVia(client, server, "dual")
    }))

  // ---- runServer -----------------------------------------------------------------------------

  /** A handler that greets with "hi\n", then echoes until the peer half-closes. */
  const greeter = (served: { n: number }) => (flow: Net.Connection) =>
    Effect.gen(function*() {
      served.n++
      yield* flow.write("hi\n")
      yield* Flow.copy(flow, flow)
    })

  const greeted = (conn: Net.Connection, ms = 2000) => within(ms, readExactly(conn, 3))
  const expectGreeted = (conn: Net.Connection) =>
    Effect.map(greeted(conn), (r) => expect(Option.map(r, Exit.map(text))).toEqual(Option.some(Exit.succeed("hi\n"))))
  const expectNotGreeted = (conn: Net.Connection) => Effect.map(greeted(conn, 300), (r) => expect(Option.isNone(r)).toBe(true))
  const echoes = (conn: Net.Connection, s: string) =>
    Effect.zipRight(conn.write(s), Effect.map(readExactly(conn, s.length), (b) => expect(text(b)).toBe(s)))
  // A greeter under runServer in a fiber of its own, and one client it has greeted.
  const greeting = Effect.gen(function*() {
    const listener = yield* Net.listen(Net.tcp(HOST, 0))
    const served = { n: 0 }
    const server = yield* Effect.fork(Net.runServer(listener, greeter(served)))
    const c1 = yield* Net.connect(listener.address)
    yield* expectGreeted(c1)
    return { listener, served, server, c1 }
  })

  netTest("runServer with maxConnections 2: a third connection is served only once one finishes", layer, () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      const served = { n: 0 }
      yield* Effect.forkScoped(Net.runServer(listener, greeter(served), { maxConnections: 2 }))
      const c1 = yield* Net.connect(listener.address)
      yield* expectGreeted(c1)
      const c2 = yield* Net.connect(listener.address)
      yield* expectGreeted(c2)
      const c3 = yield* Net.connect(listener.address)
      yield* expectNotGreeted(c3)
      expect(served.n).toBe(2)
      yield* c1.shutdown("send")
      expect(yield* readAll(c1)).toHaveLength(0)
      yield* expectGreeted(c3)
      expect(served.n).toBe(3)
      yield* echoes(c2, "two")
      yield* echoes(c3, "three")
    }))

  netTest("runServer stop: accepting ends, live connections finish, then it returns; the listener stays open", layer, () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      const stop = yield* Deferred.make<void>()
      const served = { n: 0 }
      const server = yield* Effect.fork(Net.runServer(listener, greeter(served), { stop: Deferred.await(stop) }))
      const c1 = yield* Net.connect(listener.address)
      yield* expectGreeted(c1)
      yield* Deferred.succeed(stop, undefined)
      yield* Effect.sleep(50)
      // Still served after stop.
      yield* echoes(c1, "still here")
      const c2 = yield* Net.connect(listener.address)
      yield* expectNotGreeted(c2)
      expect(server.unsafePoll()).toBeNull()
      yield* c1.shutdown("send")
      const ended = yield* within(2000, Fiber.join(server))
      expect(Option.map(ended, Exit.isSuccess)).toEqual(Option.some(true))
      expect(served.n).toBe(1)
      // The listener is open: a new runServer serves the waiting connection.
      yield* Effect.forkScoped(Net.runServer(listener, greeter(served)))
      yield* expectGreeted(c2)
      yield* echoes(c2, "again")
    }))

  netTest("interrupting runServer closes the connections it accepted; the listener stays open", layer, () =>
    Effect.gen(function*() {
      const { listener, served, server, c1 } = yield* greeting
      const interrupted = yield* within(1000, Fiber.interrupt(server))
      expect(Option.isSome(interrupted)).toBe(true)
      // The server's end was closed: the client reads end of stream.
      const rest = yield* within(2000, readAll(c1))
      expect(Option.map(rest, Exit.map((b) => b.length))).toEqual(Option.some(Exit.succeed(0)))
      yield* Effect.forkScoped(Net.runServer(listener, greeter(served)))
      const c2 = yield* Net.connect(listener.address)
      yield* expectGreeted(c2)
      yield* echoes(c2, "new server")
    }))

  // ---- closing the listener ------------------------------------------------------------------

  netTest("closing the listener: accepted connections keep working; new connects are refused", layer, () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      const address = listener.address as Net.Tcp
      const client = yield* Net.connect(address)
      const server = yield* Net.accept(listener)
      const closed = yield* within(1000, listener.close)
      expect(Option.isSome(closed)).toBe(true)
      yield* echoesVia(client, server, "after close")
      yield* echoesVia(server, client, "both ways")
      const e = yield* netFailure(Net.connect(address))
      expect(e.reason).toBe("ConnectionRefused")
      // accept on a closed listener fails, typed.
      const a = yield* netFailure(Effect.scoped(Net.accept(listener)))
      expect(a.syscall).toBe("accept")
      // Idempotent.
      yield* listener.close
    }))

  netTest("closing the listener under runServer: live connections keep working; runServer ends after them", layer, () =>
    Effect.gen(function*() {
      const { c1, listener, server } = yield* greeting
      const closed = yield* within(1000, listener.close)
      expect(Option.isSome(closed)).toBe(true)
      yield* Effect.sleep(50)
      yield* echoes(c1, "live")
      expect(server.unsafePoll()).toBeNull()
      yield* c1.shutdown("send")
      expect(yield* readAll(c1)).toHaveLength(0)
      // With nothing left to serve, runServer ends with the accept failure.
      const ended = yield* within(2000, Fiber.join(server))
      expect(Option.isSome(ended)).toBe(true)
      const exit = Option.getOrThrow(ended)
      expect(Exit.isFailure(exit)).toBe(true)
      const e = Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)) : undefined
      expect(e).toBeInstanceOf(Net.NetError)
      expect(e?.syscall).toBe("accept")
    }))

  // ---- acceptFork --------------------------------------------------------------------------

  netTest("acceptFork: a handler failure goes to onError (the switch runs on); interruption is not reported", layer, () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      const reported: Array<Cause.Cause<unknown>> = []
      const onError = (cause: Cause.Cause<unknown>) => Effect.sync(() => void reported.push(cause))
      const handler = (flow: Net.Connection) =>
        Effect.gen(function*() {
          const first = text((yield* flow.readChunk) ?? new Uint8Array())
          if (first === "fail") return yield* Effect.fail("boom")
          yield* flow.write("waiting")
          return yield* Effect.never
        })
      let sw: Switch.Switch<never> | undefined
      const switchFiber = yield* Effect.fork(Switch.run<void, Net.NetError | Switch.SwitchFinished, never>((s) =>
        Effect.gen(function*() {
          sw = s as Switch.Switch<never>
          yield* Net.acceptFork(sw, listener, handler, { onError })
          yield* Net.acceptFork(sw, listener, handler, { onError })
        })
      ))
      const failing = yield* Net.connect(listener.address)
      yield* failing.write("fail")
      // The failed handler's connection is closed.
      expect(yield* readAll(failing)).toHaveLength(0)
      const waiting = yield* Net.connect(listener.address)
      yield* waiting.write("wait")
      expect(text(yield* readExactly(waiting, 7))).toBe("waiting")
      yield* eventually(1000, () => reported.length, (n) => n > 0)
      expect(reported).toHaveLength(1)
      expect(Chunk.toReadonlyArray(Cause.failures(reported[0]!))).toEqual(["boom"])
      expect(sw?.state).toBe("on")
      expect(switchFiber.unsafePoll()).toBeNull()
      // Interrupting the switch interrupts the waiting handler: not reported; its connection closes.
      const interrupted = yield* within(1000, Fiber.interrupt(switchFiber))
      expect(Option.map(interrupted, (e) => Exit.isSuccess(e) && Exit.isInterrupted(e.value))).toEqual(Option.some(true))
      expect(yield* readAll(waiting)).toHaveLength(0)
      expect(reported).toHaveLength(1)
    }))

  netTest("acceptFork into a switch that is off closes the accepted connection (its handler never runs)", layer, () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      const client = yield* Net.connect(listener.address)
      let ran = false
      const exit = yield* Effect.exit(Switch.run((sw) =>
        Effect.gen(function*() {
          // A child's failure turns the switch off; the body goes on uninterruptibly to accept.
          yield* Switch.fork(sw, Effect.fail("off"))
          yield* Effect.uninterruptible(Effect.gen(function*() {
            yield* Effect.sleep("50 millis")
            expect(sw.state).toBe("off")
            yield* Net.acceptFork(sw, listener, () => Effect.sync(() => (ran = true)))
          }))
        })
      ))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(ran).toBe(false)
      // The connection was closed by us: the client reads end of stream, promptly.
      const got = yield* within(2000, readAll(client))
      expect(Option.map(got, (e) => Exit.isSuccess(e) && e.value.length === 0)).toEqual(Option.some(true))
    }))

  // ---- names -------------------------------------------------------------------------------

  netTest("withTcpConnect to localhost; getaddrinfo with a service name; NotFound for an unknown host", layer, () =>
    Effect.gen(function*() {
      const listener = yield* Net.listen(Net.tcp(HOST, 0))
      yield* echoServer(listener)
      const port = (listener.address as Net.Tcp).port
      const reply = yield* Net.withTcpConnect({ host: "localhost", service: port }, (flow) => roundTrip(flow, "by name"))
      expect(text(reply)).toBe("by name")
      // The service as a numeric string, too.
      expect(text(yield* Net.withTcpConnect({ host: "localhost", service: String(port) }, (flow) => roundTrip(flow, "str"))))
        .toBe("str")
      const http = yield* Net.getaddrinfo("localhost", "http")
      expect(http.length).toBeGreaterThan(0)
      for (const a of http) expect(a).toMatchObject({ _tag: "Tcp", port: 80 })
      expect(http.map((a) => a.host)).toContain("127.0.0.1")
      // "*.invalid" never resolves (RFC 6761); offline it fails at once. Bounded all the same.
      const missing = yield* within(5000, Net.getaddrinfo("no-such-host.invalid", 80))
      expect(Option.isSome(missing)).toBe(true)
      const e = yield* netFailure(Option.getOrThrow(missing))
      expect(e.reason).toBe("NotFound")
      expect(e.syscall).toBe("getaddrinfo")
      const e2 = yield* netFailure(Net.withTcpConnect({ host: "no-such-host.invalid", service: 80 }, () => Effect.void))
      expect(e2.reason).toBe("NotFound")
      // Net.connect takes a host name as well.
      const conn = yield* Net.connect(Net.tcp("localhost", port))
      expect(text(yield* roundTrip(conn, "connect by name"))).toBe("connect by name")
    }))
})

/** `from` writes `s`, `to` reads exactly it. */
const echoesVia = (from: Net.Connection, to: Net.Connection, s: string) =>
  Effect.zipRight(from.write(s), Effect.map(readExactly(to, s.length), (b) => expect(text(b)).toBe(s)))
