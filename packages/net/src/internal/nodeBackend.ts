// The node backend: `node:net` and `node:dgram`, for machines where io_uring is unavailable.
// Same interface, behaviour and errors as the io_uring backend.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as dgram from "node:dgram"
import * as fs from "node:fs"
import * as net from "node:net"
import { type StreamAddress, type Tcp, tcp, type Udp, udp, type Unix, unix } from "./address.js"
import type { ConnectOptions, Datagram, ListenOptions, Listener, NetBackend, Received } from "./backend.js"
import { type Connection, makeConnection, type Shutdown } from "./connection.js"
import { fromNodeError, type NetError, netError } from "./error.js"
import { Inbox } from "./inbox.js"
import { acquireInterruptible } from "./scoped.js"

// An IPv4 peer of a dual-stack socket as plain IPv4 (node says ::ffff:127.0.0.1), as on io_uring.
const unmapped = (host: string): string => (host.startsWith("::ffff:") && net.isIPv4(host.slice(7)) ? host.slice(7) : host)

const addressOf = (a: string | net.AddressInfo | null | undefined, fallback: StreamAddress): StreamAddress =>
  typeof a === "string" ? unix(a) : a ? tcp(unmapped(a.address), a.port) : fallback

// Waits for the socket's 'close' after destroySoon (pending writes flushed, then FIN). A
// write completes only once node handed it all to the kernel, so bytes still queued in node
// belong to a write that was interrupted: they are dropped (as io_uring cancels its send) and
// the socket destroyed at once, else the close would wait for a peer that may never read.
const closeSocket = (socket: net.Socket): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (socket.closed) return resume(Effect.void)
    socket.once("close", () => resume(Effect.void))
    if (socket.destroyed) return
    if (socket.writableLength > 0) socket.destroy()
    else socket.destroySoon()
  })

// The io_uring backend's syscall names for node's (node says read/write for recv/send, and
// reports bind's EADDRINUSE from listen, where libuv defers it).
const nodeError = (err: unknown, syscall: string, address?: Tcp | Udp | Unix): NetError => {
  const e = fromNodeError(err, syscall, address)
  if (syscall === "recv" || syscall === "send") return netError(e.errno, syscall, address, err)
  if (e.syscall === "listen" && (e.errno === "EADDRINUSE" || e.errno === "EADDRNOTAVAIL")) {
    return netError(e.errno, "bind", address, err)
  }
  return e
}

/**
 * A connected `net.Socket` (paused) as a Connection. `fallback` is the address connected to
 * (client) or the listener's (server): node has no Unix socket addresses, so on a Unix socket
 * it is the peer's (client) or this end's (server), and the other end is unnamed (""), as
 * getpeername/getsockname say on io_uring.
 */
export const fromSocket = (socket: net.Socket, fallback: StreamAddress, role: "client" | "server" = "client"): Connection => {
  const unixEnd = (mine: boolean) => (fallback._tag === "Unix" && (role === "server") === mine ? fallback : unix(""))
  const peer = socket.remoteAddress !== undefined ? tcp(unmapped(socket.remoteAddress), socket.remotePort ?? 0) : unixEnd(false)
  const local = socket.localAddress !== undefined ? tcp(unmapped(socket.localAddress), socket.localPort ?? 0) : unixEnd(true)
  const inbox = new Inbox(() => socket.pause(), () => socket.resume())
  socket.on("data", (chunk: Buffer) => inbox.push(chunk))
  socket.on("end", () => inbox.end())
  socket.on("error", (e) => inbox.fail(nodeError(e, "recv", peer)))
  socket.on("close", () => inbox.end())
  socket.resume()
  const writeAll = (bytes: Uint8Array) =>
    Effect.async<void, NetError>((resume) => {
      if (socket.destroyed || socket.writableEnded) {
        return resume(Effect.fail(netError("EPIPE", "send", peer)))
      }
      socket.write(bytes, (err) => resume(err ? Effect.fail(nodeError(err, "send", peer)) : Effect.void))
    })
  const shutdown = (how: Shutdown) =>
    Effect.suspend((): Effect.Effect<void, NetError> => {
      if (how === "receive") {
        socket.pause()
        inbox.end()
        return Effect.void
      }
      if (how === "all") inbox.end()
      // end() flushes what was written, then sends FIN.
      return Effect.async<void, NetError>((resume) => {
        if (socket.destroyed || socket.writableEnded) return resume(Effect.void)
        socket.end(() => resume(Effect.void))
      })
    })
  return makeConnection({ inbox, writeAll, shutdown, close: closeSocket(socket), peer, local, fd: undefined })
}

const connect = (address: Tcp | Unix, options: ConnectOptions = {}): Effect.Effect<Connection, NetError, Scope.Scope> =>
  acquireInterruptible(
    Effect.async<net.Socket, NetError>((resume) => {
      const opts: net.NetConnectOpts = address._tag === "Unix"
        ? { path: address.path, allowHalfOpen: true }
        : {
          host: address.host,
          port: address.port,
          allowHalfOpen: true,
          ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
          ...(options.localPort !== undefined ? { localPort: options.localPort } : {}),
          ...(options.noDelay !== undefined ? { noDelay: options.noDelay } : {}),
          ...(options.keepAlive !== undefined ? { keepAlive: options.keepAlive } : {}),
          ...(options.family !== undefined ? { family: options.family } : {})
        }
      const socket = net.createConnection(opts)
      socket.pause()
      const onError = (e: Error) => resume(Effect.fail(fromNodeError(e, "connect", address)))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        resume(Effect.succeed(socket))
      })
      // Interrupted while connecting: the socket goes at once.
      return Effect.sync(() => {
        socket.off("error", onError)
        socket.on("error", () => {})
        socket.destroy()
      })
    }),
    (socket) => closeSocket(socket)
  ).pipe(Effect.map((socket) => fromSocket(socket, address)))

const listen = (address: Tcp | Unix, options: ListenOptions = {}): Effect.Effect<Listener, NetError, Scope.Scope> =>
  Effect.gen(function*() {
    const pending: Array<net.Socket> = []
    let bound: StreamAddress = address
    let waiter: ((s: Effect.Effect<net.Socket, NetError>) => void) | undefined
    let failure: NetError | undefined
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: options.noDelay ?? false })
    server.on("connection", (socket) => {
      if (waiter !== undefined) {
        const w = waiter
        waiter = undefined
        w(Effect.succeed(socket))
      } else pending.push(socket)
    })
    if (address._tag === "Unix" && options.reuseAddr === true) {
      yield* Effect.sync(() => {
        try {
          if (fs.lstatSync(address.path).isSocket()) fs.unlinkSync(address.path)
        } catch {
          // nothing there
        }
      })
    }
    // Stops listening now: the fd is closed at once (node's callback would wait for every
    // accepted connection to end, and those are not the listener's to wait for). A waiting
    // accept fails, as on io_uring.
    const close = Effect.sync(() => {
      if (server.listening) server.close()
      for (const s of pending.splice(0)) s.destroy()
      const w = waiter
      waiter = undefined
      w?.(Effect.fail(netError("EBADF", "accept", bound)))
    })
    yield* Effect.acquireRelease(
      Effect.async<void, NetError>((resume) => {
        const onError = (e: Error) => resume(Effect.fail(nodeError(e, "listen", address)))
        server.once("error", onError)
        const done = () => {
          server.off("error", onError)
          server.on("error", (e) => {
            failure = fromNodeError(e, "accept", address)
          })
          resume(Effect.void)
        }
        const backlog = options.backlog ?? 511
        if (address._tag === "Unix") server.listen({ path: address.path, backlog }, done)
        else {
          server.listen(
            {
              port: address.port,
              backlog,
              exclusive: true,
              ...(address.host !== "" ? { host: address.host } : {}),
              ...(options.dualStack === false ? { ipv6Only: true } : {}),
              ...(options.reusePort ? { reusePort: true } : {})
            } as net.ListenOptions,
            done
          )
        }
      }),
      () => close
    )
    bound = addressOf(server.address(), address)
    const accept: Effect.Effect<Connection, NetError, Scope.Scope> = acquireInterruptible(
      Effect.suspend(() => {
        const next = pending.shift()
        if (next !== undefined) return Effect.succeed(next)
        if (failure !== undefined) return Effect.fail(failure)
        if (!server.listening) return Effect.fail(netError("EBADF", "accept", bound))
        return Effect.async<net.Socket, NetError>((resume) => {
          waiter = resume
          return Effect.sync(() => {
            if (waiter === resume) waiter = undefined
          })
        })
      }),
      closeSocket
    ).pipe(Effect.map((socket) => fromSocket(socket, bound, "server")))
    return { address: bound, accept, close }
  })

const datagram = (address?: Udp): Effect.Effect<Datagram, NetError, Scope.Scope> =>
  Effect.gen(function*() {
    const family = address !== undefined && net.isIPv4(address.host) ? "udp4" : "udp6"
    const socket = dgram.createSocket({ type: family, ipv6Only: false })
    const queue: Array<{ msg: Buffer; from: Udp }> = []
    let closed = false
    const closeDgram = Effect.async<void>((resume) => {
      if (closed) return resume(Effect.void)
      closed = true
      socket.close(() => resume(Effect.void))
    })
    let waiter: (() => void) | undefined
    socket.on("message", (msg, rinfo) => {
      queue.push({ msg, from: udp(unmapped(rinfo.address), rinfo.port) })
      waiter?.()
    })
    yield* Effect.acquireRelease(
      Effect.async<void, NetError>((resume) => {
        socket.once("error", (e) => resume(Effect.fail(fromNodeError(e, "bind", address))))
        socket.bind({ port: address?.port ?? 0, ...(address !== undefined ? { address: address.host } : {}) }, () =>
          resume(Effect.void))
      }),
      () => closeDgram
    )
    const a = socket.address()
    const recv = (buf: Uint8Array): Effect.Effect<Received, NetError> =>
      Effect.suspend(() => {
        const next = queue.shift()
        if (next !== undefined) {
          const n = Math.min(buf.length, next.msg.length)
          buf.set(next.msg.subarray(0, n))
          return Effect.succeed({ bytes: n, from: next.from })
        }
        return Effect.flatMap(
          Effect.async<void>((resume) => {
            waiter = () => {
              waiter = undefined
              resume(Effect.void)
            }
            return Effect.sync(() => {
              waiter = undefined
            })
          }),
          () => recv(buf)
        )
      })
    const send = (to: Udp, bytes: Uint8Array) =>
      Effect.async<void, NetError>((resume) => {
        // An IPv6 socket reaches an IPv4 address through its mapped form (as on io_uring).
        const host = family === "udp6" && net.isIPv4(to.host) ? `::ffff:${to.host}` : to.host
        socket.send(bytes, to.port, host, (err) => resume(err ? Effect.fail(fromNodeError(err, "sendto", to)) : Effect.void))
      })
    return {
      address: udp(a.address, a.port),
      send,
      recv,
      close: closeDgram
    }
  })

/** The node backend. */
export const nodeBackend: NetBackend = { backendId: "node", listen, connect, datagram }
