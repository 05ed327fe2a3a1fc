// A behaviour suite for `@effect/platform`'s `Socket.Socket` (TCP/Unix clients) and
// `SocketServer.SocketServer`, run against any implementation with the signatures of
// `@effect/platform-node`'s `NodeSocket.makeNet/makeNetChannel/layerNet` and
// `NodeSocketServer.make/layer`. It uses nothing node-specific from the implementation
// (no `NodeSocket.NetSocket` tag); the peers are raw `node:net` servers and clients, so each
// check stands on its own, independent of the code under test. Real sockets on 127.0.0.1 /
// ::1 and Unix sockets in temp dirs only; every wait is bounded, so every test ends by itself.
//
// Where the expectation is "what NodeSocket does" rather than something obvious, the test says
// so in a comment: the suite pins NodeSocket's observed behaviour (0.108), which a drop-in is
// meant to match.
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { describe, expect, it } from "@effect/vitest"
import type { Duration } from "effect"
import {
  Cause,
  Channel,
  Chunk,
  Context,
  Deferred,
  Effect,
  Exit,
  Fiber,
  FiberRef,
  HashSet,
  Layer,
  Logger,
  LogLevel,
  Option,
  Schedule,
  Scope,
  Stream
} from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as nodePath from "node:path"
import { payload } from "../../../test-utils/index.js"

// ---------------------------------------------------------------------------------------------
// The implementation's shape
// ---------------------------------------------------------------------------------------------

export interface TcpConnectOptions {
  readonly host?: string
  readonly port: number
  readonly openTimeout?: Duration.DurationInput
  readonly noDelay?: boolean
  readonly keepAlive?: boolean
  readonly family?: number
  readonly localAddress?: string
  readonly localPort?: number
}

export interface UnixConnectOptions {
  readonly path: string
  readonly openTimeout?: Duration.DurationInput
}

export type ConnectOptions = TcpConnectOptions | UnixConnectOptions

export type ServerOptions =
  | { readonly port?: number; readonly host?: string; readonly backlog?: number }
  | { readonly path: string }

export interface SocketImpl {
  readonly makeNet: (options: ConnectOptions) => Effect.Effect<Socket.Socket, Socket.SocketError>
  readonly makeNetChannel: <IE = never>(
    options: ConnectOptions
  ) => Channel.Channel<
    Chunk.Chunk<Uint8Array>,
    Chunk.Chunk<Uint8Array | string | Socket.CloseEvent>,
    Socket.SocketError | IE,
    IE,
    void,
    unknown
  >
  readonly layerNet: (options: ConnectOptions) => Layer.Layer<Socket.Socket, Socket.SocketError>
  readonly makeServer: (
    options: ServerOptions
  ) => Effect.Effect<SocketServer.SocketServer["Type"], SocketServer.SocketServerError, Scope.Scope>
  readonly layerServer: (
    options: ServerOptions
  ) => Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError>
}

// ---------------------------------------------------------------------------------------------
// Helpers: raw node:net peers, bounded waits, payloads
// ---------------------------------------------------------------------------------------------

const HOST = "127.0.0.1"
const TEST_TIMEOUT = 10_000

/**
 * A live test with a scope and a hard bound well under the 10 s budget (disconnected, so a
 * body stuck in an uninterruptible region still lets the test fail on time).
 */
const test = <A, E>(name: string, body: () => Effect.Effect<A, E, Scope.Scope>) =>
  it.live(name, () => Effect.disconnect(Effect.scoped(body())).pipe(Effect.timeoutFail({
    duration: "8 seconds",
    onTimeout: () => new Error(`test "${name}" did not end within 8 s`)
  })), TEST_TIMEOUT)

/** Everything a raw node:net peer saw on one connection. */
interface Peer {
  readonly socket: net.Socket
  readonly chunks: Array<Buffer>
  bytes(): Buffer
  text(): string
  /** Captured at connect/accept time (node forgets them once the socket is closed). */
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  ended: boolean
  closed: boolean
  error: (Error & { code?: string }) | undefined
}

const watch = (socket: net.Socket): Peer => {
  const peer: Peer = {
    socket,
    chunks: [],
    bytes: () => Buffer.concat(peer.chunks),
    text: () => Buffer.concat(peer.chunks).toString("utf8"),
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    ended: false,
    closed: false,
    error: undefined
  }
  socket.on("data", (chunk: Buffer) => peer.chunks.push(chunk))
  socket.on("end", () => {
    peer.ended = true
  })
  socket.on("close", () => {
    peer.closed = true
  })
  socket.on("error", (error) => {
    peer.error = error
  })
  return peer
}

/** Waits (polling, bounded) until `pred` holds; dies naming `what` if it never does. */
const waitUntil = (what: string, pred: () => boolean, timeoutMs = 4000) =>
  Effect.suspend(() => (pred() ? Effect.void : Effect.fail("not yet" as const))).pipe(
    Effect.retry(Schedule.spaced("5 millis")),
    Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => new Error(`timed out waiting for ${what}`) }),
    Effect.orDie
  )

interface RawServer {
  readonly server: net.Server
  readonly port: number
  readonly path: string | undefined
  /** One per accepted connection, in accept order. */
  readonly peers: Array<Peer>
}

/**
 * A raw node:net server (allowHalfOpen unless told otherwise, so the peer alone decides when
 * it ends), on 127.0.0.1 port 0 unless told otherwise; closed with all its connections
 * destroyed when the scope closes.
 */
const rawServer = (
  options: {
    readonly host?: string
    readonly port?: number
    readonly path?: string
    readonly allowHalfOpen?: boolean
  } = {},
  onConnection: (peer: Peer, index: number) => void = () => {}
) =>
  Effect.acquireRelease(
    Effect.async<RawServer, Error>((resume) => {
      const peers: Array<Peer> = []
      const server = net.createServer({ allowHalfOpen: options.allowHalfOpen ?? true }, (socket) => {
        const peer = watch(socket)
        peers.push(peer)
        onConnection(peer, peers.length - 1)
      })
      server.once("error", (error) => resume(Effect.fail(error)))
      const listen = options.path !== undefined
        ? { path: options.path }
        : { host: options.host ?? HOST, port: options.port ?? 0 }
      server.listen(listen, () => {
        const address = server.address()
        resume(Effect.succeed({
          server,
          port: typeof address === "object" && address !== null ? address.port : -1,
          path: options.path,
          peers
        }))
      })
    }),
    (raw) =>
      Effect.async<void>((resume) => {
        for (const peer of raw.peers) peer.socket.destroy()
        raw.server.close(() => resume(Effect.void))
      })
  )

/** An echo peer: echoes every byte and ends once it has seen our end. */
const rawEcho = (options: { readonly host?: string; readonly path?: string } = {}) =>
  rawServer(options, (peer) => {
    peer.socket.on("data", (chunk) => peer.socket.write(chunk))
    peer.socket.on("end", () => peer.socket.end())
  })

/** A raw node:net client; destroyed when the scope closes. Resolves once connected. */
const rawConnect = (options: { readonly port: number; readonly host?: string } | { readonly path: string }) =>
  Effect.acquireRelease(
    Effect.async<Peer, Error>((resume) => {
      const socket = "path" in options
        ? net.createConnection({ path: options.path, allowHalfOpen: true })
        : net.createConnection({ host: options.host ?? HOST, port: options.port, allowHalfOpen: true })
      const peer = watch(socket)
      const onError = (error: Error) => resume(Effect.fail(error))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        resume(Effect.succeed(peer))
      })
    }),
    (peer) => Effect.sync(() => peer.socket.destroy())
  )

/** A raw connect attempt's outcome: "connect" or the error code. */
const rawConnectOutcome = (options: { readonly port: number; readonly host?: string }) =>
  Effect.async<string>((resume) => {
    const socket = net.createConnection({ host: options.host ?? HOST, port: options.port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed("connect"))
    })
    socket.once("error", (error: Error & { code?: string }) => resume(Effect.succeed(error.code ?? String(error))))
  }).pipe(Effect.timeoutOption("3 seconds"))

/** A TCP port on 127.0.0.1 that nothing listens on (it was bound a moment ago, then closed). */
const closedPort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen({ host: HOST, port: 0 }, () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A fresh temp directory, removed (with whatever is in it) when the scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(nodePath.join(os.tmpdir(), "effio-net-suite-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * A loopback port whose connects hang: a child process listens on 127.0.0.1 with backlog 1
 * and then blocks its event loop (Atomics.wait, 20 s at most), so it never accepts; a few
 * filler connections fill the accept queue, after which the kernel drops further SYNs and a
 * connect neither succeeds nor fails. The child is killed when the scope closes.
 */
const blackhole = Effect.gen(function*() {
  const child = yield* Effect.acquireRelease(
    Effect.sync(() =>
      spawn(process.execPath, [
        "-e",
        "const s = require('net').createServer();" +
        "s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {" +
        "  process.stdout.write(String(s.address().port) + '\\n');" +
        "  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000);" +
        "  process.exit(0);" +
        "})"
      ], { stdio: ["ignore", "pipe", "ignore"] })
    ),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  )
  const port = yield* Effect.async<number>((resume) => {
    child.stdout!.once("data", (data) => resume(Effect.succeed(Number(String(data).trim()))))
  }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("blackhole child did not start") }))
  // Fill the accept queue (backlog + 1 on Linux); these connects may themselves hang.
  yield* Effect.acquireRelease(
    Effect.sync(() =>
      Array.from({ length: 4 }, () => {
        const socket = net.createConnection({ host: HOST, port })
        socket.on("error", () => {})
        return socket
      })
    ),
    (sockets) => Effect.sync(() => sockets.forEach((socket) => socket.destroy()))
  )
  yield* Effect.sleep("200 millis")
  return port
})


const concat = (chunks: ReadonlyArray<Uint8Array>): Buffer => Buffer.concat(chunks.map((c) => Buffer.from(c)))

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0

const decode = (chunks: ReadonlyArray<Uint8Array | string>) =>
  chunks.map((c) => (typeof c === "string" ? c : Buffer.from(c).toString("utf8"))).join("")

/** Runs `socket.run`, collecting every chunk; returns the chunks with the run's exit. */
const collectRun = (socket: Socket.Socket) =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    return Effect.map(Effect.exit(socket.run((chunk) => {
      chunks.push(chunk)
    })), (exit) => ({ chunks, exit }))
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

const expectSocketError = (
  error: unknown,
  reason: Socket.SocketGenericError["reason"] | "Close"
): Socket.SocketError => {
  expect(Socket.isSocketError(error)).toBe(true)
  expect((error as Socket.SocketError).reason).toBe(reason)
  return error as Socket.SocketError
}

/** A server-side echo handler: writes every chunk back; returns when the client ends. */
const echoHandler = (socket: Socket.Socket) =>
  Effect.scoped(Effect.gen(function*() {
    const write = yield* socket.writer
    yield* socket.run((chunk) => write(chunk))
  }))

/** A raw client's round trip through an echo: write `data`, wait for all of it back, end. */
const rawRoundTrip = (
  options: { readonly port: number; readonly host?: string } | { readonly path: string },
  data: Uint8Array,
  timeoutMs = 6000
) =>
  Effect.gen(function*() {
    const client = yield* rawConnect(options)
    client.socket.write(data)
    yield* waitUntil(`the echo of ${data.length} bytes`, () => client.bytes().length >= data.length, timeoutMs)
    client.socket.end()
    return client.bytes()
  })

const tcpPort = (address: SocketServer.Address): number => {
  expect(address._tag).toBe("TcpAddress")
  return (address as SocketServer.TcpAddress).port
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

export const socketSuite = (name: string, impl: SocketImpl) => {
  describe(`${name}: Socket (client)`, () => {
    test("makeNet neither connects nor fails", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer()
        yield* impl.makeNet({ host: HOST, port: raw.port })
        yield* impl.makeNet({ host: HOST, port: yield* closedPort })
        const dir = yield* tempDir
        yield* impl.makeNet({ path: nodePath.join(dir, "nothing-here.sock") })
        yield* Effect.sleep("150 millis")
        expect(raw.peers.length).toBe(0)
      }))

    test("each run opens a new connection and closes it when run ends", () =>
      Effect.gen(function*() {
        // The peer says hello and stays open; our handler fails, which ends the run.
        const raw = yield* rawServer({}, (peer) => peer.socket.write("hello"))
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        for (let i = 0; i < 3; i++) {
          const exit = yield* Effect.exit(socket.run(() => Effect.fail(`stop ${i}`)))
          expect(failureOf(exit)).toBe(`stop ${i}`)
          expect(raw.peers.length).toBe(i + 1)
          yield* waitUntil(`connection ${i} to be closed by us`, () => raw.peers[i].ended || raw.peers[i].closed)
        }
        // And a run that ends at the peer's end of stream also closes its connection.
        const raw2 = yield* rawServer({}, (peer) => peer.socket.end("bye"))
        const socket2 = yield* impl.makeNet({ host: HOST, port: raw2.port })
        for (let i = 0; i < 3; i++) {
          const { chunks, exit } = yield* collectRun(socket2)
          expect(Exit.isSuccess(exit)).toBe(true)
          expect(decode(chunks)).toBe("bye")
          yield* waitUntil(`connection ${i} to be closed by us`, () => raw2.peers[i]?.ended === true)
        }
        expect(raw2.peers.length).toBe(3)
      }))

    test("a closed port: run fails with Open (ECONNREFUSED); makeNet and layerNet still succeed", () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const socket = yield* impl.makeNet({ host: HOST, port })
        const error = expectSocketError(failureOf(yield* Effect.exit(socket.run(() => {}))), "Open")
        expect((error as Socket.SocketGenericError).cause).toMatchObject({ code: "ECONNREFUSED" })
        // Every run tries again (and fails again).
        expectSocketError(failureOf(yield* Effect.exit(socket.run(() => {}))), "Open")

        const context = yield* Layer.build(impl.layerNet({ host: HOST, port }))
        const fromLayer = Context.get(context, Socket.Socket)
        const error2 = expectSocketError(failureOf(yield* Effect.exit(fromLayer.run(() => {}))), "Open")
        expect((error2 as Socket.SocketGenericError).cause).toMatchObject({ code: "ECONNREFUSED" })
      }))

    test("a missing Unix path: run fails with Open (ENOENT)", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const socket = yield* impl.makeNet({ path: nodePath.join(dir, "missing.sock") })
        const error = expectSocketError(failureOf(yield* Effect.exit(socket.run(() => {}))), "Open")
        expect((error as Socket.SocketGenericError).cause).toMatchObject({ code: "ENOENT" })
      }))

    test("openTimeout: a connect that hangs fails with Open after the timeout", () =>
      Effect.gen(function*() {
        const port = yield* blackhole
        const socket = yield* impl.makeNet({ host: HOST, port, openTimeout: "300 millis" })
        const started = Date.now()
        const exit = yield* Effect.exit(socket.run(() => {}))
        const elapsed = Date.now() - started
        // NodeSocket's reason is "Open" (not "OpenTimeout"); the cause is an Error "Connection timed out".
        expectSocketError(failureOf(exit), "Open")
        expect(elapsed).toBeGreaterThanOrEqual(250)
        expect(elapsed).toBeLessThan(3000)
      }))

    test("a run whose connect hangs can be interrupted", () =>
      Effect.gen(function*() {
        const port = yield* blackhole
        const socket = yield* impl.makeNet({ host: HOST, port })
        const fiber = yield* Effect.fork(socket.run(() => {}))
        yield* Effect.sleep("200 millis")
        expect(fiber.unsafePoll()).toBeNull()
        const exit = yield* Fiber.interrupt(fiber).pipe(Effect.timeoutOption("2 seconds"))
        expect(Option.isSome(exit) && Exit.isInterrupted(exit.value)).toBe(true)
      }))

    test("a write issued before run waits until the connection is open", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer()
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const write = yield* socket.writer
        const writeFiber = yield* Effect.fork(write("early"))
        yield* Effect.sleep("100 millis")
        expect(writeFiber.unsafePoll()).toBeNull()
        expect(raw.peers.length).toBe(0)

        const runFiber = yield* Effect.fork(socket.run(() => {}))
        yield* waitUntil("the early write to arrive", () => raw.peers[0]?.text() === "early")
        expect(Exit.isSuccess(yield* Fiber.await(writeFiber))).toBe(true)
        raw.peers[0].socket.end()
        expect(Exit.isSuccess(yield* Fiber.await(runFiber))).toBe(true)
      }))

    test("after run returns, writes wait for the next run (and go to its connection)", () =>
      Effect.gen(function*() {
        // Connection 0 is ended by the peer at once; connection 1 stays open.
        const raw = yield* rawServer({}, (peer, index) => {
          if (index === 0) peer.socket.end()
        })
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const write = yield* socket.writer
        expect(Exit.isSuccess(yield* Effect.exit(socket.run(() => {})))).toBe(true)

        const writeFiber = yield* Effect.fork(write("second"))
        yield* Effect.sleep("150 millis")
        expect(writeFiber.unsafePoll()).toBeNull()

        const runFiber = yield* Effect.fork(socket.run(() => {}))
        yield* waitUntil("the write to reach the second connection", () => raw.peers[1]?.text() === "second")
        expect(Exit.isSuccess(yield* Fiber.await(writeFiber))).toBe(true)
        expect(raw.peers[0].text()).toBe("")
        raw.peers[1].socket.end()
        expect(Exit.isSuccess(yield* Fiber.await(runFiber))).toBe(true)
      }))

    test("run succeeds at the peer's end of stream, after every byte", () =>
      Effect.gen(function*() {
        const data = payload(100_000, 7)
        const raw = yield* rawServer({}, (peer) => peer.socket.end(data))
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const { chunks, exit } = yield* collectRun(socket)
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(sameBytes(concat(chunks), data)).toBe(true)
      }))

    test("runRaw behaves as run", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer({}, (peer) => peer.socket.end("raw bytes"))
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const chunks: Array<string | Uint8Array> = []
        const exit = yield* Effect.exit(socket.runRaw((chunk) => {
          chunks.push(chunk)
        }))
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(decode(chunks)).toBe("raw bytes")
        // A failing handler fails runRaw too.
        const exit2 = yield* Effect.exit(socket.runRaw(() => Effect.fail("raw boom")))
        expect(failureOf(exit2)).toBe("raw boom")
      }))

    test("run fails with Read when the peer resets the connection", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer({}, (peer) => {
          peer.socket.write("x")
          setTimeout(() => peer.socket.resetAndDestroy(), 50)
        })
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const { chunks, exit } = yield* collectRun(socket)
        const error = expectSocketError(failureOf(exit), "Read")
        expect((error as Socket.SocketGenericError).cause).toMatchObject({ code: "ECONNRESET" })
        expect(decode(chunks)).toBe("x")
      }))

    test("writing CloseEvent(1000) fails run with SocketCloseError 1000 and closes the connection", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer()
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const write = yield* socket.writer
        const runFiber = yield* Effect.fork(socket.run(() => {}))
        yield* write("before close")
        yield* write(new Socket.CloseEvent(1000))
        const error = expectSocketError(failureOf(yield* Fiber.await(runFiber)), "Close")
        expect(error).toBeInstanceOf(Socket.SocketCloseError)
        expect((error as Socket.SocketCloseError).code).toBe(1000)
        yield* waitUntil("the peer to see the connection end", () => raw.peers[0]?.ended === true || raw.peers[0]?.closed === true)
        expect(raw.peers[0].text()).toBe("before close")
      }))

    test("writing CloseEvent(4000) fails run with Read (NodeSocket: destroy with an error)", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer()
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const write = yield* socket.writer
        const runFiber = yield* Effect.fork(socket.run(() => {}))
        yield* write(new Socket.CloseEvent(4000, "going away"))
        // NodeSocket: a code > 1000 destroys the socket with Error("closed with code 4000"),
        // whose "error" event wins over "close": reason "Read", not a SocketCloseError.
        const error = expectSocketError(failureOf(yield* Fiber.await(runFiber)), "Read")
        const cause = (error as Socket.SocketGenericError).cause
        expect(cause).toBeInstanceOf(Error)
        expect((cause as Error).message).toContain("4000")
        yield* waitUntil("the peer to see the connection end", () => raw.peers[0]?.ended === true || raw.peers[0]?.closed === true)
      }))

    test("closing the writer's scope half-closes: the peer sees FIN and can still answer", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer({}, (peer) => {
          peer.socket.on("end", () => peer.socket.end("pong after your FIN"))
        })
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const chunks: Array<Uint8Array> = []
        const runFiber = yield* Effect.fork(socket.run((chunk) => {
          chunks.push(chunk)
        }))
        yield* Effect.scoped(Effect.flatMap(socket.writer, (write) => write("ping")))
        yield* waitUntil("the peer to see our FIN", () => raw.peers[0]?.ended === true)
        expect(raw.peers[0].text()).toBe("ping")
        expect(Exit.isSuccess(yield* Fiber.await(runFiber))).toBe(true)
        expect(decode(chunks)).toBe("pong after your FIN")
      }))

    test("half-close echo: everything written arrives back before the peer's end", () =>
      Effect.gen(function*() {
        const raw = yield* rawEcho()
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const data = payload(256 * 1024, 3)
        const chunks: Array<Uint8Array> = []
        const runFiber = yield* Effect.fork(socket.run((chunk) => {
          chunks.push(chunk)
        }))
        yield* Effect.scoped(Effect.gen(function*() {
          const write = yield* socket.writer
          for (let offset = 0; offset < data.length; offset += 16 * 1024) {
            yield* write(data.subarray(offset, offset + 16 * 1024))
          }
        }))
        expect(Exit.isSuccess(yield* Fiber.await(runFiber))).toBe(true)
        expect(sameBytes(concat(chunks), data)).toBe(true)
        expect(sameBytes(raw.peers[0].bytes(), data)).toBe(true)
      }))

    test("bytes already written are flushed before our FIN when run ends", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer()
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const data = payload(1024 * 1024, 5)
        const write = yield* socket.writer
        const runFiber = yield* Effect.fork(socket.run(() => {}))
        yield* write(data)
        yield* Fiber.interrupt(runFiber)
        yield* waitUntil("the peer to see our FIN", () => raw.peers[0]?.ended === true, 6000)
        expect(raw.peers[0].error).toBeUndefined()
        expect(sameBytes(raw.peers[0].bytes(), data)).toBe(true)
      }))

    test("after the peer's end we end too, and nothing more is written", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer({}, (peer) => peer.socket.end("bye"))
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const write = yield* socket.writer
        const { chunks, exit } = yield* collectRun(socket)
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(decode(chunks)).toBe("bye")
        // The peer (allowHalfOpen) sees our FIN in answer to its own.
        yield* waitUntil("our FIN after the peer's", () => raw.peers[0].ended)
        // A write now waits for the next run: it does not complete, nothing reaches the peer.
        const late = yield* write("late").pipe(Effect.timeoutOption("300 millis"))
        expect(Option.isNone(late)).toBe(true)
        expect(raw.peers[0].text()).toBe("")
      }))

    test("the handler is forked per chunk and handlers run concurrently", () =>
      Effect.gen(function*() {
        // The peer sends part i+1 only after the handler for part i acknowledged it, so the
        // parts arrive as separate chunks; every handler waits until all three have started.
        const raw = yield* rawServer({}, (peer) => {
          let acks = 0
          peer.socket.write("1")
          peer.socket.on("data", (data) => {
            const text = data.toString()
            for (const ch of text) {
              if (ch === "!" && ++acks < 3) peer.socket.write(String(acks + 1))
            }
            if (peer.text().includes("done")) peer.socket.end()
          })
        })
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const write = yield* socket.writer
        const allStarted = yield* Deferred.make<void>()
        let started = 0
        let finished = 0
        const exit = yield* Effect.exit(socket.run(() =>
          Effect.gen(function*() {
            started++
            if (started === 3) yield* Deferred.succeed(allStarted, undefined)
            yield* write("!")
            yield* Deferred.await(allStarted).pipe(
              Effect.timeoutFail({ duration: "3 seconds", onTimeout: () => "handlers did not run concurrently" })
            )
            finished++
            if (finished === 3) yield* write("done")
          })
        ))
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(started).toBe(3)
        expect(finished).toBe(3)
      }))

    test("a failing handler fails run with its error and closes the connection", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer({}, (peer) => peer.socket.write("x"))
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const exit = yield* Effect.exit(socket.run(() => Effect.sleep("10 millis").pipe(Effect.zipRight(Effect.fail("boom")))))
        expect(failureOf(exit)).toBe("boom")
        yield* waitUntil("the connection to be closed", () => raw.peers[0]?.ended === true || raw.peers[0]?.closed === true)
        // A handler's defect fails run as a defect.
        const exit2 = yield* Effect.exit(socket.run(() => Effect.die("kaput")))
        expect(Exit.isFailure(exit2) && Cause.isDie(exit2.cause)).toBe(true)
      }))

    test("chunks stay valid after the handler returns", () =>
      Effect.gen(function*() {
        const parts = Array.from({ length: 8 }, (_, i) => payload(16 * 1024, 100 + i))
        const raw = yield* rawServer({}, (peer) => {
          let sent = 0
          const sendNext = () => {
            if (sent < parts.length) peer.socket.write(parts[sent++])
            if (sent === parts.length) peer.socket.end()
          }
          sendNext()
          peer.socket.on("data", (data) => {
            for (let i = 0; i < data.length; i++) sendNext()
          })
        })
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const write = yield* socket.writer
        const kept: Array<Uint8Array> = []
        const exit = yield* Effect.exit(socket.run((chunk) => {
          kept.push(chunk) // the reference, not a copy
          return write("!")
        }))
        expect(Exit.isSuccess(exit)).toBe(true)
        yield* Effect.sleep("50 millis")
        expect(sameBytes(concat(kept), concat(parts))).toBe(true)
      }))

    test("handlers still running at the peer's end are interrupted", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer({}, (peer) => {
          peer.socket.write("x")
          peer.socket.on("data", () => peer.socket.end())
        })
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const write = yield* socket.writer
        let interrupted = false
        const exit = yield* Effect.exit(socket.run(() =>
          write("started").pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() =>
              Effect.sync(() => {
                interrupted = true
              })
            )
          )
        ))
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(interrupted).toBe(true)
      }))

    test("run ends at the peer's end while a handler's write is blocked (the peer never reads)", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer({}, (peer) => {
          peer.socket.pause()
          peer.socket.write("hello")
          setTimeout(() => peer.socket.end(), 300)
        })
        const socket = yield* impl.makeNet({ host: HOST, port: raw.port })
        const write = yield* socket.writer
        // 64 MiB to a peer that reads nothing: the write cannot finish.
        const exit = yield* Effect.exit(socket.run(() => Effect.ignore(write(new Uint8Array(64 * 1024 * 1024)))))
        expect(Exit.isSuccess(exit)).toBe(true)
      }).pipe(Effect.scoped))

    test("the default host is localhost", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer({ host: HOST }, (peer) => peer.socket.end("via localhost"))
        // Also listen on ::1 at the same port when possible, in case localhost is ::1 first.
        yield* rawServer({ host: "::1", port: raw.port }, (peer) => peer.socket.end("via localhost")).pipe(
          Effect.ignore
        )
        const socket = yield* impl.makeNet({ port: raw.port })
        const { chunks, exit } = yield* collectRun(socket)
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(decode(chunks)).toBe("via localhost")
      }))

    test("IPv6: connect to ::1", () =>
      Effect.gen(function*() {
        const raw = yield* rawEcho({ host: "::1" })
        const socket = yield* impl.makeNet({ host: "::1", port: raw.port })
        const chunks: Array<Uint8Array> = []
        const runFiber = yield* Effect.fork(socket.run((chunk) => {
          chunks.push(chunk)
        }))
        yield* Effect.scoped(Effect.flatMap(socket.writer, (write) => write("over ::1")))
        expect(Exit.isSuccess(yield* Fiber.await(runFiber))).toBe(true)
        expect(decode(chunks)).toBe("over ::1")
        expect(raw.peers[0].remoteAddress).toBe("::1")
      }))

    test("connect options: noDelay, keepAlive, family, localAddress, localPort", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer({}, (peer) => peer.socket.end("ok"))
        const localPort = yield* closedPort
        const socket = yield* impl.makeNet({
          host: HOST,
          port: raw.port,
          noDelay: true,
          keepAlive: true,
          localAddress: HOST,
          localPort
        })
        const { chunks, exit } = yield* collectRun(socket)
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(decode(chunks)).toBe("ok")
        expect(raw.peers[0].remoteAddress).toBe(HOST)
        expect(raw.peers[0].remotePort).toBe(localPort)

        const socket4 = yield* impl.makeNet({ host: "localhost", port: raw.port, family: 4 })
        const run4 = yield* collectRun(socket4)
        expect(Exit.isSuccess(run4.exit)).toBe(true)
        expect(decode(run4.chunks)).toBe("ok")
      }))

    test("Unix socket: echo through a path", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = nodePath.join(dir, "echo.sock")
        yield* rawEcho({ path })
        const socket = yield* impl.makeNet({ path })
        const data = payload(64 * 1024, 11)
        const chunks: Array<Uint8Array> = []
        const runFiber = yield* Effect.fork(socket.run((chunk) => {
          chunks.push(chunk)
        }))
        yield* Effect.scoped(Effect.flatMap(socket.writer, (write) => write(data)))
        expect(Exit.isSuccess(yield* Fiber.await(runFiber))).toBe(true)
        expect(sameBytes(concat(chunks), data)).toBe(true)
      }))

    test("layerNet provides a Socket that connects on run", () =>
      Effect.gen(function*() {
        const raw = yield* rawEcho()
        const program = Effect.gen(function*() {
          const socket = yield* Socket.Socket
          const chunks: Array<Uint8Array> = []
          const runFiber = yield* Effect.fork(socket.run((chunk) => {
            chunks.push(chunk)
          }))
          yield* Effect.scoped(Effect.flatMap(socket.writer, (write) => write("through the layer")))
          expect(Exit.isSuccess(yield* Fiber.await(runFiber))).toBe(true)
          return decode(chunks)
        })
        expect(yield* Effect.provide(program, impl.layerNet({ host: HOST, port: raw.port }))).toBe(
          "through the layer"
        )
        expect(raw.peers.length).toBe(1)
      }))

    test("makeNetChannel: an echo through Stream.pipeThroughChannel", () =>
      Effect.gen(function*() {
        const raw = yield* rawEcho()
        const out = yield* Stream.make("hello", ", ", "channel").pipe(
          Stream.pipeThroughChannel(impl.makeNetChannel({ host: HOST, port: raw.port })),
          Stream.runCollect
        )
        expect(decode(Chunk.toReadonlyArray(out))).toBe("hello, channel")

        const data = payload(200_000, 13)
        const out2 = yield* Stream.fromIterable([data.subarray(0, 100_000), data.subarray(100_000)]).pipe(
          Stream.pipeThroughChannel(impl.makeNetChannel({ host: HOST, port: raw.port })),
          Stream.runCollect
        )
        expect(sameBytes(concat(Chunk.toReadonlyArray(out2)), data)).toBe(true)
        expect(raw.peers.length).toBe(2)
      }))

    test("makeNetChannel against a closed port fails the stream with Open", () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const exit = yield* Stream.make("x").pipe(
          Stream.pipeThroughChannel(impl.makeNetChannel({ host: HOST, port })),
          Stream.runCollect,
          Effect.exit
        )
        expectSocketError(failureOf(exit), "Open")
      }))
  })

  describe(`${name}: SocketServer`, () => {
    test("address: TcpAddress with the real port for port 0", () =>
      Effect.gen(function*() {
        const server = yield* impl.makeServer({ port: 0, host: HOST })
        expect(server.address).toMatchObject({ _tag: "TcpAddress", hostname: HOST })
        const port = tcpPort(server.address)
        expect(port).toBeGreaterThan(0)
        expect(yield* rawConnectOutcome({ port })).toEqual(Option.some("connect"))
      }))

    test("address: with no host, hostname is '::' and 127.0.0.1 reaches it", () =>
      Effect.gen(function*() {
        const server = yield* impl.makeServer({ port: 0 })
        expect(server.address).toMatchObject({ _tag: "TcpAddress", hostname: "::" })
        const port = tcpPort(server.address)
        expect(yield* rawConnectOutcome({ port, host: HOST })).toEqual(Option.some("connect"))
        expect(yield* rawConnectOutcome({ port, host: "::1" })).toEqual(Option.some("connect"))
      }))

    test("address: ::1", () =>
      Effect.gen(function*() {
        const server = yield* impl.makeServer({ port: 0, host: "::1" })
        expect(server.address).toMatchObject({ _tag: "TcpAddress", hostname: "::1" })
        yield* Effect.fork(server.run(echoHandler))
        const back = yield* rawRoundTrip({ port: tcpPort(server.address), host: "::1" }, Buffer.from("six"))
        expect(back.toString()).toBe("six")
      }))

    test("Unix: UnixAddress, the socket file exists while open and is removed on close", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = nodePath.join(dir, "server.sock")
        const scope = yield* Scope.make()
        const server = yield* impl.makeServer({ path }).pipe(Scope.extend(scope))
        expect(server.address).toEqual({ _tag: "UnixAddress", path })
        expect(fs.statSync(path).isSocket()).toBe(true)
        yield* Effect.forkIn(server.run(echoHandler), scope)
        const back = yield* rawRoundTrip({ path }, Buffer.from("over unix"))
        expect(back.toString()).toBe("over unix")
        yield* Scope.close(scope, Exit.void)
        expect(fs.existsSync(path)).toBe(false)
      }))

    test("a busy port fails with SocketServerError Open (make and layer)", () =>
      Effect.gen(function*() {
        const raw = yield* rawServer()
        const exit = yield* Effect.exit(Effect.scoped(impl.makeServer({ port: raw.port, host: HOST })))
        const error = failureOf(exit)
        expect(error).toBeInstanceOf(SocketServer.SocketServerError)
        expect(error.reason).toBe("Open")
        expect(error.cause).toMatchObject({ code: "EADDRINUSE" })

        const exit2 = yield* Effect.exit(Effect.scoped(Layer.build(impl.layerServer({ port: raw.port, host: HOST }))))
        const error2 = failureOf(exit2)
        expect(error2).toBeInstanceOf(SocketServer.SocketServerError)
        expect(error2.reason).toBe("Open")
        // The raw server still serves.
        expect(yield* rawConnectOutcome({ port: raw.port })).toEqual(Option.some("connect"))
      }))

    test("an existing Unix path fails with Open and is not unlinked", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        // A regular file.
        const file = nodePath.join(dir, "taken")
        fs.writeFileSync(file, "keep me")
        const error = failureOf(yield* Effect.exit(Effect.scoped(impl.makeServer({ path: file }))))
        expect(error).toBeInstanceOf(SocketServer.SocketServerError)
        expect(error.reason).toBe("Open")
        expect(error.cause).toMatchObject({ code: "EADDRINUSE" })
        expect(fs.readFileSync(file, "utf8")).toBe("keep me")
        // A socket another server listens on.
        const path = nodePath.join(dir, "live.sock")
        yield* rawEcho({ path })
        const error2 = failureOf(yield* Effect.exit(Effect.scoped(impl.makeServer({ path }))))
        expect(error2.reason).toBe("Open")
        expect(fs.statSync(path).isSocket()).toBe(true)
        const back = yield* rawRoundTrip({ path }, Buffer.from("still mine"))
        expect(back.toString()).toBe("still mine")
      }))

    test("connections that arrive before run wait for it and are served", () =>
      Effect.gen(function*() {
        const server = yield* impl.makeServer({ port: 0, host: HOST })
        const port = tcpPort(server.address)
        const early = yield* rawConnect({ port })
        early.socket.write("early bird")
        yield* Effect.sleep("150 millis")
        expect(early.text()).toBe("")
        yield* Effect.fork(server.run(echoHandler))
        yield* waitUntil("the early connection's echo", () => early.text() === "early bird")
        early.socket.end()
        yield* waitUntil("the server to end the early connection", () => early.ended)
      }))

    test("run forks each connection's handler (handlers run concurrently)", () =>
      Effect.gen(function*() {
        const server = yield* impl.makeServer({ port: 0, host: HOST })
        const port = tcpPort(server.address)
        const bothStarted = yield* Deferred.make<void>()
        let started = 0
        yield* Effect.fork(server.run((socket) =>
          Effect.scoped(Effect.gen(function*() {
            const write = yield* socket.writer
            // A server connection's writes wait for its run, as a client's do: run first.
            const runFiber = yield* Effect.fork(socket.run(() => {}))
            if (++started === 2) yield* Deferred.succeed(bothStarted, undefined)
            const together = yield* Deferred.await(bothStarted).pipe(Effect.timeoutOption("3 seconds"))
            yield* write(Option.isSome(together) ? "together" : "alone")
            yield* Fiber.join(runFiber)
          }))
        ))
        const a = yield* rawConnect({ port })
        const b = yield* rawConnect({ port })
        yield* waitUntil("both answers", () => a.text().length > 0 && b.text().length > 0)
        expect([a.text(), b.text()]).toEqual(["together", "together"])
      }))

    test("a failing handler is only logged; the server keeps serving", () =>
      Effect.gen(function*() {
        const server = yield* impl.makeServer({ port: 0, host: HOST })
        const port = tcpPort(server.address)
        const logged: Array<{ level: LogLevel.LogLevel; cause: Cause.Cause<unknown> }> = []
        const logger = Logger.make(({ cause, logLevel }) => {
          logged.push({ level: logLevel, cause })
        })
        let connection = 0
        const runFiber = yield* server.run((socket) => {
          const n = connection++
          // 0: fails from inside its socket's run (which closes the connection);
          // 1: dies before ever running its socket.
          if (n === 0) return socket.run(() => Effect.fail("handler boom"))
          if (n === 1) return Effect.die("handler defect")
          return echoHandler(socket)
        }).pipe(
          Effect.locally(FiberRef.currentLoggers, HashSet.make(logger)),
          Logger.withMinimumLogLevel(LogLevel.All),
          Effect.fork
        )
        const first = yield* rawConnect({ port })
        first.socket.write("trigger")
        yield* waitUntil("the failed handler's connection to end", () => first.ended || first.closed)
        yield* rawConnect({ port })
        yield* waitUntil("both failures to be logged", () => logged.length >= 2)
        const back = yield* rawRoundTrip({ port }, Buffer.from("still serving"))
        expect(back.toString()).toBe("still serving")
        expect(runFiber.unsafePoll()).toBeNull()
        const failures = logged.flatMap(({ cause }) => Chunk.toReadonlyArray(Cause.failures(cause)))
        const defects = logged.flatMap(({ cause }) => Chunk.toReadonlyArray(Cause.defects(cause)))
        expect(failures).toContain("handler boom")
        expect(defects).toContain("handler defect")
        // NodeSocketServer logs at the fiber's unhandledErrorLogLevel, Debug by default.
        expect(logged.every(({ level }) => level === LogLevel.Debug)).toBe(true)
      }))

    test("closing the server's scope, run forked in it: handlers are interrupted, connections closed", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* impl.makeServer({ port: 0, host: HOST }).pipe(Scope.extend(scope))
        const port = tcpPort(server.address)
        let interrupted = false
        const handlerStarted = yield* Deferred.make<void>()
        const runFiber = yield* server.run((socket) =>
          Deferred.succeed(handlerStarted, undefined).pipe(
            Effect.zipRight(socket.run(() => {})),
            Effect.onInterrupt(() =>
              Effect.sync(() => {
                interrupted = true
              })
            )
          )
        ).pipe(Effect.forkIn(scope))
        const client = yield* rawConnect({ port })
        yield* Deferred.await(handlerStarted)
        const closed = yield* Scope.close(scope, Exit.void).pipe(Effect.timeoutOption("3 seconds"))
        expect(Option.isSome(closed)).toBe(true)
        expect(interrupted).toBe(true)
        expect(Exit.isInterrupted(yield* Fiber.await(runFiber))).toBe(true)
        yield* waitUntil("the client to see its connection end", () => client.ended || client.closed)
        expect(yield* rawConnectOutcome({ port })).toEqual(Option.some("ECONNREFUSED"))
      }))

    test("closing the server's scope while run goes on elsewhere waits for live connections", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* impl.makeServer({ port: 0, host: HOST }).pipe(Scope.extend(scope))
        const port = tcpPort(server.address)
        const handlerStarted = yield* Deferred.make<void>()
        const runFiber = yield* Effect.fork(server.run((socket) =>
          Deferred.succeed(handlerStarted, undefined).pipe(Effect.zipRight(socket.run(() => {})))
        ))
        const client = yield* rawConnect({ port })
        yield* Deferred.await(handlerStarted)
        const closer = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* Effect.sleep("300 millis")
        // NodeSocketServer: net.Server.close stops listening at once but calls back only once
        // every connection has closed.
        expect(closer.unsafePoll()).toBeNull()
        expect(yield* rawConnectOutcome({ port })).toEqual(Option.some("ECONNREFUSED"))
        client.socket.end()
        const done = yield* Fiber.await(closer).pipe(Effect.timeoutOption("3 seconds"))
        expect(Option.isSome(done)).toBe(true)
        yield* Fiber.interrupt(runFiber)
      }))

    test("a server connection's writer scope half-closes; its run ends at the client's end", () =>
      Effect.gen(function*() {
        const server = yield* impl.makeServer({ port: 0, host: HOST })
        const port = tcpPort(server.address)
        const got = yield* Deferred.make<string>()
        yield* Effect.fork(server.run((socket) =>
          Effect.gen(function*() {
            const chunks: Array<Uint8Array> = []
            const runFiber = yield* Effect.fork(socket.run((chunk) => {
              chunks.push(chunk)
            }))
            yield* Effect.scoped(Effect.flatMap(socket.writer, (write) => write("hello, client")))
            yield* Fiber.join(runFiber)
            yield* Deferred.succeed(got, decode(chunks))
          })
        ))
        const client = yield* rawConnect({ port })
        yield* waitUntil("the server's FIN", () => client.ended)
        expect(client.text()).toBe("hello, client")
        client.socket.end("more from the client")
        expect(yield* Deferred.await(got).pipe(Effect.timeoutOption("3 seconds"))).toEqual(
          Option.some("more from the client")
        )
      }))

    test("layerServer provides a SocketServer that serves", () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(impl.layerServer({ port: 0, host: HOST }))
        const server = Context.get(context, SocketServer.SocketServer)
        yield* Effect.fork(server.run(echoHandler))
        const back = yield* rawRoundTrip({ port: tcpPort(server.address) }, Buffer.from("layered"))
        expect(back.toString()).toBe("layered")
      }))

    test("1 MiB echo, byte for byte", () =>
      Effect.gen(function*() {
        const server = yield* impl.makeServer({ port: 0, host: HOST })
        yield* Effect.fork(server.run(echoHandler))
        const data = payload(1024 * 1024, 17)
        const back = yield* rawRoundTrip({ port: tcpPort(server.address) }, data)
        expect(sameBytes(back, data)).toBe(true)
      }))

    test("1 MiB echo over a Unix socket", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = nodePath.join(dir, "big.sock")
        const server = yield* impl.makeServer({ path })
        yield* Effect.fork(server.run(echoHandler))
        const data = payload(1024 * 1024, 19)
        const back = yield* rawRoundTrip({ path }, data)
        expect(sameBytes(back, data)).toBe(true)
      }))

    test("200 concurrent connections, each echoing a small message", () =>
      Effect.gen(function*() {
        const server = yield* impl.makeServer({ port: 0, host: HOST })
        yield* Effect.fork(server.run(echoHandler))
        const port = tcpPort(server.address)
        const results = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => Effect.map(rawRoundTrip({ port }, Buffer.from(`message ${i}`)), (back) => back.toString()),
          { concurrency: "unbounded" }
        )
        expect(results).toEqual(Array.from({ length: 200 }, (_, i) => `message ${i}`))
      }))
  })
}
