// The node backend: `node:net` and `node:dgram`, for machines where io_uring is unavailable.
// Same interface, behaviour and errors as the io_uring backend.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as dgram from "node:dgram"
import * as fs from "node:fs"
import * as net from "node:net"
import { type Address, type StreamAddress, type Tcp, tcp, type Udp, udp, type Unix, unix } from "./address.js"
import type { ConnectOptions, Datagram, ListenOptions, Listener, NetBackend, Received } from "./backend.js"
import { type Connection, makeConnection, type Shutdown } from "./connection.js"
import { fromNodeError, type NetError, netError } from "./error.js"
import { Inbox } from "./inbox.js"
import { resolveUdp } from "./resolve.js"
import { acquireInterruptible } from "./scoped.js"

// An IPv4 peer of a dual-stack socket as plain IPv4 (node says ::ffff:127.0.0.1), as on io_uring.
const unmapped = (host: string): string => (host.startsWith("::ffff:") && net.isIPv4(host.slice(7)) ? host.slice(7) : host)

const addressOf = (a: string | net.AddressInfo | null | undefined, fallback: StreamAddress): StreamAddress =>
  typeof a === "string" ? unix(a) : a ? tcp(unmapped(a.address), a.port) : fallback

/** A port the kernel takes (`sockaddr_in`'s 16 bits); node throws for others, or (UDP bind) wraps them. */
const validPort = (port: number): boolean => Number.isInteger(port) && port >= 0 && port <= 65535

/**
 * What node throws synchronously, as the NetError io_uring gives for the same call: its own
 * argument checks (ERR_SOCKET_BAD_PORT, ERR_INVALID_ARG_TYPE, ... as TypeError/RangeError) are
 * the kernel's EINVAL, a closed socket (ERR_SOCKET_DGRAM_NOT_RUNNING, ...) its EBADF; an error
 * with an errno code is taken as it is (`fromNodeError`).
 */
const thrownError = (err: unknown, syscall: string, address?: Address): NetError => {
  const code = (err as { code?: unknown } | undefined)?.code
  if (code === "ERR_SOCKET_DGRAM_NOT_RUNNING" || code === "ERR_SOCKET_CLOSED" || code === "ERR_STREAM_DESTROYED") {
    return netError("EBADF", syscall, address, err)
  }
  if (err instanceof TypeError || err instanceof RangeError || (typeof code === "string" && code.startsWith("ERR_"))) {
    return netError("EINVAL", syscall, address, err)
  }
  return fromNodeError(err, syscall, address)
}

/**
 * Fibers waiting for items (accepted sockets, datagrams), served first come, first served; items
 * nobody waits for are queued (within the limits, else dropped). An item is handed to the waiter
 * itself, and the waiter records it: if its fiber is interrupted in the same turn (handed the item,
 * but interrupted before it ran), its canceller gives the item back, to the next waiter or the
 * front of the queue, so nothing is lost between the event and the interruption.
 */
class Handoff<A> {
  #items: Array<A> = []
  #size = 0
  #waiters: Array<{ readonly resume: (a: Effect.Effect<A, NetError>) => void; got: A | undefined }> = []
  #closed: NetError | undefined

  constructor(
    /** An item that is not to be kept (the queue is full, or closed). */
    readonly discard: (a: A) => void,
    readonly maxItems: number = Infinity,
    readonly maxSize: number = Infinity,
    readonly sizeOf: (a: A) => number = () => 0
  ) {}

  /** Hands `item` to the first waiter, else queues it; false if it was dropped. */
  put(item: A): boolean {
    if (this.#closed !== undefined) {
      this.discard(item)
      return false
    }
    const w = this.#waiters.shift()
    if (w !== undefined) {
      w.got = item
      w.resume(Effect.succeed(item))
      return true
    }
    const size = this.sizeOf(item)
    if (this.#items.length >= this.maxItems || this.#size + size > this.maxSize) {
      this.discard(item)
      return false
    }
    this.#items.push(item)
    this.#size += size
    return true
  }

  /** An item a waiter was handed but did not take (its fiber was interrupted): first in line again. */
  #giveBack(item: A): void {
    if (this.#closed !== undefined) return this.discard(item)
    const w = this.#waiters.shift()
    if (w !== undefined) {
      w.got = item
      w.resume(Effect.succeed(item))
      return
    }
    this.#items.unshift(item)
    this.#size += this.sizeOf(item)
  }

  /** The next item, waiting for one; fails once `close`d. */
  readonly take: Effect.Effect<A, NetError> = Effect.suspend(() => {
    if (this.#items.length > 0) {
      const item = this.#items.shift()!
      this.#size -= this.sizeOf(item)
      return Effect.succeed(item)
    }
    if (this.#closed !== undefined) return Effect.fail(this.#closed)
    return Effect.async<A, NetError>((resume) => {
      const w = { resume, got: undefined as A | undefined }
      this.#waiters.push(w)
      return Effect.sync(() => {
        const i = this.#waiters.indexOf(w)
        if (i >= 0) this.#waiters.splice(i, 1)
        else if (w.got !== undefined) {
          const item = w.got
          w.got = undefined
          this.#giveBack(item)
        }
      })
    })
  })

  /** The waiting takes fail with `error` (a failed accept or receive: those after it wait again). */
  failWaiters(error: NetError): void {
    for (const w of this.#waiters.splice(0)) w.resume(Effect.fail(error))
  }

  /** Closed: queued and later items are discarded, and `take` fails with `error`. */
  close(error: NetError): void {
    if (this.#closed !== undefined) return
    this.#closed = error
    this.#size = 0
    for (const item of this.#items.splice(0)) this.discard(item)
    for (const w of this.#waiters.splice(0)) w.resume(Effect.fail(error))
  }
}

// Waits for the socket's 'close' after destroySoon (pending writes flushed, then FIN). A
// write completes only once node handed it all to the kernel, so bytes still queued in node
// belong to a write that was interrupted: they are dropped (as io_uring cancels its send) and
// the socket destroyed at once, else the close would wait for a peer that may never read. (A
// write still waiting then fails with EPIPE: see `writeAll`.)
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
  // Succeeds once node handed all of `bytes` to the kernel. Node calls back with no error also
  // for a write the socket's destroy cancelled (closeSocket with bytes still queued, or a
  // receive error): libuv cancels it and node, seeing the socket destroyed, says nothing. Such
  // a write fails with EPIPE, as io_uring's cancelled send does. A write that went to the
  // kernel within `write()` has its callback on the next tick, maybe after a destroy: it did
  // succeed (`sent`).
  const writeAll = (bytes: Uint8Array) =>
    Effect.async<void, NetError>((resume) => {
      if (socket.destroyed || socket.writableEnded) {
        return resume(Effect.fail(netError("EPIPE", "send", peer)))
      }
      let sent = false
      const before = socket.writableLength
      try {
        socket.write(bytes, (err) => {
          if (err) {
            // ERR_STREAM_DESTROYED and the like: a write queued in node when the socket went.
            // Node 22+ reports the write libuv cancelled at the destroy as ECANCELED.
            const code = (err as { code?: unknown }).code
            const cut = typeof code === "string" && (code.startsWith("ERR_") || (code === "ECANCELED" && socket.destroyed))
            resume(Effect.fail(cut ? netError("EPIPE", "send", peer, err) : nodeError(err, "send", peer)))
          } else if (socket.destroyed && !sent) resume(Effect.fail(netError("EPIPE", "send", peer)))
          else resume(Effect.void)
        })
      } catch (e) {
        return resume(Effect.fail(netError("EPIPE", "send", peer, e)))
      }
      sent = socket.writableLength <= before
    })
  // Closed by `close`: shutdown fails with EBADF, as shutdown(2) on io_uring's closed fd.
  let closed = false
  const shutdown = (how: Shutdown) =>
    Effect.suspend((): Effect.Effect<void, NetError> => {
      if (closed) return Effect.fail(netError("EBADF", "shutdown", peer))
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
  const close = Effect.suspend(() => {
    closed = true
    return closeSocket(socket)
  })
  return makeConnection({ inbox, writeAll, shutdown, close, peer, local, fd: undefined })
}

const connect = (address: Tcp | Unix, options: ConnectOptions = {}): Effect.Effect<Connection, NetError, Scope.Scope> =>
  acquireInterruptible(
    Effect.async<net.Socket, NetError>((resume) => {
      // A port node would throw for: the kernel's EINVAL (sockaddr_in has 16 bits), as on io_uring.
      if (address._tag === "Tcp" && !validPort(address.port)) return resume(Effect.fail(netError("EINVAL", "connect", address)))
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
      let socket: net.Socket
      try {
        socket = net.createConnection(opts)
      } catch (e) {
        return resume(Effect.fail(thrownError(e, "connect", address)))
      }
      socket.pause()
      const onError = (e: Error) => resume(Effect.fail(fromNodeError(e, "connect", address)))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        resume(Effect.succeed(socket))
      })
      // Interrupted while connecting (or connected in the same turn): the socket goes at once.
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
    let bound: StreamAddress = address
    // Connections accepted and not yet taken; one that arrives after close is destroyed.
    const pending = new Handoff<net.Socket>((s) => s.destroy())
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: options.noDelay ?? false })
    server.on("connection", (socket) => pending.put(socket))
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
    // accepted connection to end, and those are not the listener's to wait for). Waiting
    // accepts fail, as on io_uring; connections not yet taken are closed.
    const close = Effect.sync(() => {
      if (server.listening) server.close()
      pending.close(netError("EBADF", "accept", bound))
    })
    yield* Effect.acquireRelease(
      Effect.async<void, NetError>((resume) => {
        // A port node would throw for: the kernel's EINVAL, from bind as on io_uring.
        if (address._tag === "Tcp" && !validPort(address.port)) return resume(Effect.fail(netError("EINVAL", "bind", address)))
        const onError = (e: Error) => resume(Effect.fail(nodeError(e, "listen", address)))
        server.once("error", onError)
        const done = () => {
          server.off("error", onError)
          // An accept failure of node's (it goes on listening): the waiting accepts fail with it.
          server.on("error", (e) => pending.failWaiters(fromNodeError(e, "accept", address)))
          resume(Effect.void)
        }
        const backlog = options.backlog ?? 511
        try {
          if (address._tag === "Unix") server.listen({ path: address.path, backlog }, done)
          else {
            // `reuseAddr: false` is not honoured here: libuv sets SO_REUSEADDR on every TCP
            // listening socket and node has no option to leave it off (io_uring does leave it off).
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
        } catch (e) {
          server.off("error", onError)
          resume(Effect.fail(thrownError(e, address._tag === "Unix" ? "listen" : "bind", address)))
        }
      }),
      () => close
    )
    bound = addressOf(server.address(), address)
    const accept: Effect.Effect<Connection, NetError, Scope.Scope> = acquireInterruptible(pending.take, closeSocket)
      .pipe(Effect.map((socket) => fromSocket(socket, bound, "server")))
    return { address: bound, accept, close }
  })

/** Datagrams received and not yet taken, at most (the kernel drops those a full receive buffer cannot take). */
export const MAX_QUEUED_DATAGRAMS = 1024
/** Bytes of datagrams received and not yet taken, at most (4 MiB). */
export const MAX_QUEUED_DATAGRAM_BYTES = 4 * 1024 * 1024

const datagram = (named?: Udp): Effect.Effect<Datagram, NetError, Scope.Scope> =>
  Effect.gen(function*() {
    // A host name is looked up first (any family), as on io_uring: node would look it up in
    // the family of a socket it picked from the name's syntax (IPv6).
    const address = named === undefined ? undefined : yield* resolveUdp(named, undefined)
    // Node binds a UDP socket to port 70000 (as 70000 & 0xffff): refused as io_uring's bind does.
    if (address !== undefined && !validPort(address.port)) return yield* Effect.fail(netError("EINVAL", "bind", address))
    const family = address !== undefined && net.isIPv4(address.host) ? "udp4" : "udp6"
    const socket = dgram.createSocket({ type: family, ipv6Only: false })
    let boundAt: Udp = address ?? udp("", 0)
    // Received, not yet taken; beyond the bounds the newest is dropped (as a full receive buffer does).
    const inbox = new Handoff<{ readonly msg: Buffer; readonly from: Udp }>(
      () => {},
      MAX_QUEUED_DATAGRAMS,
      MAX_QUEUED_DATAGRAM_BYTES,
      (d) => d.msg.length
    )
    // Sends not yet called back: node never calls back a send it had not started when the socket closed.
    const sending = new Map<(e: Effect.Effect<void, NetError>) => void, Udp>()
    let closed = false
    const closeDgram = Effect.async<void>((resume) => {
      if (closed) return resume(Effect.void)
      closed = true
      // A waiting recv fails as on io_uring (its recvfrom ends with EBADF when the fd closes).
      inbox.close(netError("EBADF", "recvfrom", boundAt))
      for (const [r, to] of sending) r(Effect.fail(netError("EBADF", "sendto", to)))
      sending.clear()
      try {
        socket.close(() => resume(Effect.void))
      } catch {
        resume(Effect.void)
      }
    })
    socket.on("message", (msg, rinfo) => {
      inbox.put({ msg, from: udp(unmapped(rinfo.address), rinfo.port) })
    })
    yield* Effect.acquireRelease(
      Effect.async<void, NetError>((resume) => {
        const onError = (e: Error) => resume(Effect.fail(fromNodeError(e, "bind", address)))
        socket.once("error", onError)
        try {
          socket.bind({ port: address?.port ?? 0, ...(address !== undefined ? { address: address.host } : {}) }, () => {
            socket.off("error", onError)
            // A receive failure of node's: the waiting recvs fail with it.
            socket.on("error", (e) => inbox.failWaiters(fromNodeError(e, "recvfrom", boundAt)))
            resume(Effect.void)
          })
        } catch (e) {
          socket.off("error", onError)
          resume(Effect.fail(thrownError(e, "bind", address)))
        }
      }),
      () => closeDgram
    ).pipe(
      // A failed bind: its fd (libuv made one) goes now.
      Effect.tapError(() => closeDgram)
    )
    const a = socket.address()
    boundAt = udp(unmapped(a.address), a.port)
    const recv = (buf: Uint8Array): Effect.Effect<Received, NetError> =>
      Effect.map(inbox.take, (next) => {
        const n = Math.min(buf.length, next.msg.length)
        buf.set(next.msg.subarray(0, n))
        return { bytes: n, from: next.from }
      })
    const send = (to: Udp, bytes: Uint8Array) =>
      Effect.async<void, NetError>((resume) => {
        if (closed) return resume(Effect.fail(netError("EBADF", "sendto", to)))
        if (!validPort(to.port)) return resume(Effect.fail(netError("EINVAL", "sendto", to)))
        // An IPv6 socket reaches an IPv4 address through its mapped form (as on io_uring).
        const host = family === "udp6" && net.isIPv4(to.host) ? `::ffff:${to.host}` : to.host
        let done = false
        const once = (e: Effect.Effect<void, NetError>) => {
          if (done) return
          done = true
          sending.delete(once)
          resume(e)
        }
        try {
          socket.send(bytes, to.port, host, (err) => once(err ? Effect.fail(fromNodeError(err, "sendto", to)) : Effect.void))
        } catch (e) {
          return once(Effect.fail(thrownError(e, "sendto", to)))
        }
        if (!done) sending.set(once, to)
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
