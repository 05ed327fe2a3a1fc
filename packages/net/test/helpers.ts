// Helpers for net.test.ts: both backends, a bounded live test, reading a connection to its end,
// raw node:net peers (independent of the code under test), fd / in-flight settling.
import { it } from "@effect/vitest"
import { Uring } from "@effio/core"
import { Effect, Layer, Option } from "effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import { countFds, readToEnd } from "../../../test-utils/index.js"
import { Net } from "../src/index.js"

export { concat, countFds, expectSameBytes, makeTempDir, payload, roundTrip } from "../../../test-utils/index.js"

/** `describe.each(backends)`: every test runs on io_uring (the loop's ring) and on node. */
export const backends = [
  ["io_uring", Net.layerWithRing.pipe(Layer.provide(Uring.layer()))],
  ["node", Net.layerNode]
] as const

/** Per-test bound (vitest's), and the bound of the body itself (a little less, so it fails first). */
export const TEST_TIMEOUT = 15_000
const BODY_TIMEOUT = "12 seconds"

/**
 * A live, scoped test with the backend's layer, bounded well under 15 s. The bound is
 * disconnected, so a body stuck in an uninterruptible region (a close that never ends)
 * still fails on time instead of hanging the run.
 */
export const netTest = <A, E>(
  name: string,
  layer: Layer.Layer<Net.Net, unknown>,
  body: () => Effect.Effect<A, E, Net.Net | Scope.Scope>
) =>
  it.live(name, () =>
    Effect.disconnect(Effect.scoped(body()).pipe(Effect.provide(layer))).pipe(
      Effect.timeoutFail({ duration: BODY_TIMEOUT, onTimeout: () => new Error(`test "${name}" did not end within ${BODY_TIMEOUT}`) })
    ), TEST_TIMEOUT)

/** Reads `conn` to end of stream (at most `limit` bytes, then it fails). */
export const readAll = (conn: Net.Connection, limit = 256 * 1024 * 1024): Effect.Effect<Uint8Array, Net.NetError | Error> =>
  readToEnd(conn, { limit })

/** Reads exactly `n` bytes (fails at an early end of stream). */
export const readExactly = (conn: Net.Connection, n: number): Effect.Effect<Uint8Array, Net.NetError | Error> =>
  Effect.suspend(() => {
    const out = new Uint8Array(n)
    const loop = (off: number): Effect.Effect<Uint8Array, Net.NetError | Error> =>
      off >= n ? Effect.succeed(out) : Effect.flatMap(conn.read(out.subarray(off)), (k) =>
        k === 0 ? Effect.fail(new Error(`end of stream after ${off} of ${n} bytes`)) : loop(off + k))
    return loop(0)
  })

export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** The exit of `effect`, or None if it has not ended within `ms` (it is interrupted then). */
export const within = <A, E, R>(ms: number, effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutTo(Effect.exit(effect), { duration: ms, onSuccess: Option.some, onTimeout: Option.none })

/** Polls `check` every 20 ms until it holds or `ms` passed; returns its last value. */
export const eventually = <A>(ms: number, sample: () => A, check: (a: A) => boolean): Effect.Effect<A> =>
  Effect.suspend(() => {
    const deadline = Date.now() + ms
    const loop: Effect.Effect<A> = Effect.suspend(() => {
      const a = sample()
      return check(a) || Date.now() >= deadline ? Effect.succeed(a) : Effect.zipRight(Effect.sleep(20), loop)
    })
    return loop
  })

/** Open fds once they have settled to at most `before` (closes complete asynchronously), within 2 s. */
export const settledFds = (before: number): Effect.Effect<number> => eventually(2000, countFds, (n) => n <= before)

/** The loop's ring when the test runs on io_uring (the shared ring the layer holds), else undefined. */
export const ringOf = (backendId: string): Effect.Effect<Uring.UringService | undefined, unknown, Scope.Scope> =>
  backendId === "io_uring" ? Uring.make() : Effect.succeed(undefined)

// ---- raw node:net peers ------------------------------------------------------------------

/** A raw node:net server for the scope; every accepted socket is handed to `onSocket`. */
export const rawServer = (
  host: string,
  onSocket: (socket: net.Socket) => void,
  options: net.ServerOpts = {}
): Effect.Effect<{ readonly server: net.Server; readonly port: number; readonly sockets: Array<net.Socket> }, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: net.Server; port: number; sockets: Array<net.Socket> }, Error>((resume) => {
      const sockets: Array<net.Socket> = []
      const server = net.createServer(options, (socket) => {
        sockets.push(socket)
        socket.on("error", () => {})
        onSocket(socket)
      })
      server.once("error", (e) => resume(Effect.fail(e)))
      server.listen(0, host, () => resume(Effect.succeed({ server, port: (server.address() as net.AddressInfo).port, sockets })))
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/** A raw node:net client connected to `port` on `host`, destroyed when the scope closes. */
export const rawClient = (host: string, port: number): Effect.Effect<net.Socket, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<net.Socket, Error>((resume) => {
      const socket = net.connect({ host, port, allowHalfOpen: true })
      socket.once("error", (e) => resume(Effect.fail(e)))
      socket.once("connect", () => {
        socket.removeAllListeners("error")
        socket.on("error", () => {})
        resume(Effect.succeed(socket))
      })
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

/** Waits for `n` bytes on a raw socket (or its end), within `ms`. */
export const rawRead = (socket: net.Socket, n: number, ms = 5000): Effect.Effect<Buffer, Error> =>
  Effect.async<Buffer, Error>((resume) => {
    const parts: Array<Buffer> = []
    let total = 0
    const done = (e?: Error) => {
      clearTimeout(timer)
      socket.off("data", onData)
      socket.off("end", onEnd)
      resume(e ? Effect.fail(e) : Effect.succeed(Buffer.concat(parts)))
    }
    const onData = (d: Buffer) => {
      parts.push(d)
      total += d.length
      if (total >= n) done()
    }
    const onEnd = () => done()
    const timer = setTimeout(() => done(new Error(`raw read: ${total} of ${n} bytes in ${ms} ms`)), ms)
    socket.on("data", onData)
    socket.on("end", onEnd)
    socket.resume()
  })

/**
 * A listener that never accepts, in a child process (node's own servers always accept):
 * Python's `listen(backlog)`; its port. The child exits when the scope closes.
 */
export const neverAcceptingListener = (backlog: number): Effect.Effect<number, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ child: ChildProcess; port: number }, Error>((resume) => {
      const code = [
        "import socket, sys",
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
        "s.bind(('127.0.0.1', 0))",
        `s.listen(${backlog})`,
        "print(s.getsockname()[1], flush=True)",
        "sys.stdin.read()"
      ].join("\n")
      const child = spawn("python3", ["-c", code], { stdio: ["pipe", "pipe", "inherit"] })
      let out = ""
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        resume(Effect.fail(new Error("python listener did not start within 5 s")))
      }, 5000)
      child.once("error", (e) => {
        clearTimeout(timer)
        resume(Effect.fail(e))
      })
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString()
        if (out.includes("\n")) {
          clearTimeout(timer)
          resume(Effect.succeed({ child, port: Number(out.trim()) }))
        }
      })
    }),
    ({ child }) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGKILL")
      })
  ).pipe(Effect.map(({ port }) => port))
