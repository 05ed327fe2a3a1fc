// The io_uring backend: sockets driven through the loop's ring. Connections receive with a
// multishot recv into a provided-buffer ring shared by the ring's connections (each chunk is
// copied out and its buffer recycled in the same completion batch), listeners accept with a
// multishot accept; where the kernel lacks those, a plain recv and single-shot accepts.
import { Fd, type Uring } from "@effio/core"
import {
  type BufRing,
  bufferId,
  CQE_F_MORE,
  errno,
  errnoName,
  getpeername,
  getsockname,
  type Ring,
  setsockopt,
  type SocketAddress,
  socketConstants as S,
  trySend
} from "@effio/uring-native"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as net from "node:net"
import { type StreamAddress, type Tcp, tcp, type Udp, udp, type Unix, unix } from "./address.js"
import type { ConnectOptions, Datagram, ListenOptions, Listener, NetBackend, Received } from "./backend.js"
import { type Connection, makeConnection, type Shutdown } from "./connection.js"
import { type NetError, netError } from "./error.js"
import { Inbox } from "./inbox.js"
import { getaddrinfo, resolveUdp, tryEach } from "./resolve.js"
import { acquireInterruptible } from "./scoped.js"

const ECANCELED = -errno.ECANCELED!
const ENOBUFS = -errno.ENOBUFS!
const EAGAIN = -errno.EAGAIN!

/**
 * Receive buffer rings: 256 × 16 KiB (4 MiB) each, shared by at most 128 connections, so a
 * batch in which every connection received still finds buffers (a pool smaller than the
 * connections ran dry: with 1,000 connections on one 256-buffer ring, 108k of 163k
 * completions were ENOBUFS and the round-trip rate fell to 0.18x node:net). A new ring is
 * registered when the others are full; they live until the Ring closes.
 */
const BUF_ENTRIES = 256
const BUF_SIZE = 16 * 1024
const BUF_USERS = 128
/** Plain recv (no buffer ring): one 64 KiB buffer per read. */
const RECV_SIZE = 64 * 1024
/** Connections accepted ahead of `accept` calls before the multishot accept is paused. */
const ACCEPT_AHEAD = 64

// ---- addresses ---------------------------------------------------------------------------

const unmapped = (host: string): string => (host.startsWith("::ffff:") && net.isIPv4(host.slice(7)) ? host.slice(7) : host)

const toSock = (a: Tcp | Udp | Unix, v6Socket = false): SocketAddress => {
  if (a._tag === "Unix") return { path: a.path }
  const host = a.host === "" ? (v6Socket ? "::" : "0.0.0.0") : a.host
  if (v6Socket && net.isIPv4(host)) return { family: 6, host: `::ffff:${host}`, port: a.port }
  return { family: net.isIPv6(host) ? 6 : 4, host, port: a.port }
}

const streamAddressOf = (sa: SocketAddress | undefined, fallback: StreamAddress): StreamAddress =>
  sa === undefined ? fallback : "path" in sa ? unix(sa.path) : tcp(unmapped(sa.host), sa.port)

const udpOf = (sa: SocketAddress | undefined): Udp =>
  sa !== undefined && "host" in sa ? udp(unmapped(sa.host), sa.port) : udp("", 0)

const safely = <A>(f: () => A): A | undefined => {
  try {
    return f()
  } catch {
    return undefined
  }
}

// ---- ops ---------------------------------------------------------------------------------

/** Errors of an op as NetErrors: a negative result, or a prep that threw (bad argument, closed ring). */
const makeOps = (uring: Uring.UringService) => {
  // An fd nobody will see (an op's late result, an unclaimed accept): closed through the ring,
  // or directly once the ring is closing (this runs inside completion callbacks: it must not throw).
  const closeQuietly = (fd: number): void => {
    try {
      uring.ring.closeFd(fd, () => {})
    } catch {
      safely(() => fs.closeSync(fd))
    }
  }
  const op = (
    prep: (ring: Ring, cb: (res: number, flags: number) => void) => number,
    syscall: string,
    address: Tcp | Udp | Unix | undefined,
    onLateSuccess?: (res: number) => void
  ): Effect.Effect<number, NetError> =>
    Effect.suspend(() => {
      let thrown: unknown
      const guarded = (ring: Ring, cb: (res: number, flags: number) => void) => {
        try {
          return prep(ring, cb)
        } catch (e) {
          thrown = e
          cb(e instanceof TypeError || e instanceof RangeError ? -errno.EINVAL! : -errno.EBADF!, 0)
          return -1
        }
      }
      return Effect.flatMap(uring.submit(guarded, onLateSuccess), (res) =>
        res < 0 ? Effect.fail(netError(errnoName(res), syscall, address, thrown)) : Effect.succeed(res))
    })
  const fdRef = (fd: number) => new Fd.FdRef(fd, (fd) => Fd.closeFd(uring, fd), "Stream")
  /** A new socket's fd, closed when the scope closes (an fd arriving after an interruption is closed). */
  const socket = (domain: number, type: number, address: Tcp | Udp | Unix): Effect.Effect<Fd.FdRef, NetError, Scope.Scope> =>
    acquireInterruptible(
      op((r, cb) => r.socket(domain, type, 0, cb), "socket", address, closeQuietly),
      (ref: Fd.FdRef) => ref.close,
      (fd) => Effect.succeed(fdRef(fd))
    )
  const onRef = (
    ref: Fd.FdRef,
    prep: (ring: Ring, fd: number, cb: (res: number, flags: number) => void) => number,
    syscall: string,
    address: Tcp | Udp | Unix | undefined
  ) => op(Fd.pinned(ref, prep), syscall, address)
  /**
   * Ops on one socket that its close must cancel: each pins the fd until its own CQE, so a
   * close waiting for the pins would otherwise wait for a peer that never sends (a datagram
   * recv, a single-shot accept, a shutdown). After `cancelAll` they fail with EBADF.
   */
  const tracked = (ref: Fd.FdRef) => {
    const live = new Set<number>()
    let closing = false
    const run = (
      prep: (ring: Ring, fd: number, cb: (res: number, flags: number) => void) => number,
      syscall: string,
      address: Tcp | Udp | Unix | undefined,
      onLateSuccess?: (res: number) => void
    ): Effect.Effect<number, NetError> =>
      Effect.suspend(() => {
        if (closing) return Effect.fail(netError("EBADF", syscall, address))
        const registered = Fd.pinned(ref, (r, fd, cb) => {
          let id = -1
          id = prep(r, fd, (res, flags) => {
            live.delete(id)
            cb(res, flags)
          })
          live.add(id)
          return id
        })
        return Effect.mapError(
          op(registered, syscall, address, onLateSuccess),
          (e) => (closing && e.errno === "ECANCELED" ? netError("EBADF", syscall, address, e) : e)
        )
      })
    const cancelAll = () => {
      closing = true
      for (const id of live) ring.cancel(id)
    }
    return { run, cancelAll }
  }
  const ring = uring.ring
  return { op, socket, onRef, closeQuietly, fdRef, tracked }
}

type Ops = ReturnType<typeof makeOps>

const sysError = (e: unknown, syscall: string, address: Tcp | Udp | Unix | undefined): NetError =>
  netError(typeof (e as { code?: unknown })?.code === "string" ? (e as { code: string }).code : "EINVAL", syscall, address, e)

const setOpt = (ref: Fd.FdRef, level: number, name: number, value: number, address: Tcp | Udp | Unix) =>
  Effect.try({ try: () => setsockopt(ref.fd, level, name, value), catch: (e) => sysError(e, "setsockopt", address) })

// ---- connections -------------------------------------------------------------------------

interface Pool {
  readonly bufRing: BufRing
  users: number
}

const pools = new WeakMap<Ring, Array<Pool>>()

// A receive buffer ring with room for one more connection, registered when none has; the
// Ring frees them at close. `undefined` where the kernel has no buffer rings or multishot recv.
const takePool = (ring: Ring): Pool | undefined => {
  if (!ring.supports("recvMultishot") || !ring.supports("bufRing")) return undefined
  let list = pools.get(ring)
  if (list === undefined) pools.set(ring, list = [])
  for (let i = list.length - 1; i >= 0; i--) if (!list[i]!.bufRing.open) list.splice(i, 1)
  let pool = list.find((p) => p.users < BUF_USERS)
  if (pool === undefined) {
    const bufRing = safely(() => ring.registerBufRing({ entries: BUF_ENTRIES, size: BUF_SIZE }))
    if (bufRing === undefined) return undefined
    list.push(pool = { bufRing, users: 0 })
  }
  pool.users++
  return pool
}

/**
 * The receive side: a producer that keeps one recv armed (multishot with the buffer ring, or
 * plain) while the inbox has room, and stops when it is paused or the connection closes.
 */
const receiver = (ring: Ring, ref: Fd.FdRef, peer: StreamAddress) => {
  let armed: number | undefined
  let paused = false
  let stopped = false
  const pool = takePool(ring)
  const bufRing = pool?.bufRing
  const inbox: Inbox = new Inbox(
    () => {
      paused = true
      if (armed !== undefined) ring.cancel(armed)
    },
    () => {
      paused = false
      arm()
    }
  )
  const failed = (res: number) => inbox.fail(netError(errnoName(res), "recv", peer))
  // The final completion of a recv: end, failure, or arm the next one. ENOBUFS (the shared
  // buffers are all handed out: many connections received in one batch) takes one plain recv
  // into a buffer of its own before going back to the ring, so a busy pool costs this
  // connection one extra SQE instead of a storm of re-armed multishots (measured with 1,000
  // connections: 108k of 163k completions were ENOBUFS before).
  const settle = (res: number) => {
    armed = undefined
    ref.release()
    if (res === 0) inbox.end()
    else if (res === ENOBUFS) arm(true)
    else if (res < 0 && res !== ECANCELED) failed(res)
    else arm()
  }
  const arm = (plain = false): void => {
    if (armed !== undefined || paused || stopped || inbox.done) return
    if (!ref.acquire()) return inbox.end()
    try {
      if (bufRing !== undefined && !plain) {
        armed = ring.recvMultishot(ref.fd, bufRing, (res, flags) => {
          const bid = bufferId(flags)
          if (bid >= 0) {
            if (res > 0) inbox.push(bufRing.view(bid, res))
            bufRing.recycle(bid)
          }
          if ((flags & CQE_F_MORE) === 0) settle(res > 0 ? 1 : res)
        })
      } else {
        const buf = new Uint8Array(RECV_SIZE)
        armed = ring.recv(ref.fd, buf, 0, buf.length, 0, (res) => {
          // A short read is copied out: a view would keep the whole 64 KiB alive per chunk,
          // and the inbox bounds memory by the bytes it holds.
          if (res > 0) inbox.push(res > RECV_SIZE / 2 ? buf.subarray(0, res) : buf.slice(0, res))
          settle(res)
        })
      }
    } catch (e) {
      armed = undefined
      ref.release()
      inbox.fail(sysError(e, "recv", peer))
    }
  }
  /** Stops receiving: the armed recv is cancelled (its completion releases the fd pin). */
  const stop = () => {
    if (!stopped && pool !== undefined) pool.users--
    stopped = true
    if (armed !== undefined) ring.cancel(armed)
    // A reader waiting now, or reading later, sees end of stream (as node's does).
    inbox.end()
  }
  return { inbox, arm, stop }
}

interface Outgoing {
  readonly bytes: Uint8Array
  off: number
  resume: ((done: Effect.Effect<void, NetError>) => void) | undefined
  /** Set by an interruption that waits for this write's in-flight send to complete. */
  settled?: (() => void) | undefined
}

/**
 * The send side: writes go out one at a time, in the order they were issued (a short send's
 * remainder before the next write's bytes; handlers run concurrently, one per received
 * chunk), with one `Effect.async` per write and one SQE per send. Interrupting a write whose
 * bytes are not yet sending drops it; one whose send is in flight cancels that send and
 * waits for its completion (the bytes already sent stay sent).
 */
const sender = (ring: Ring, ref: Fd.FdRef, peer: StreamAddress) => {
  const queue: Array<Outgoing> = []
  const drainWaiters: Array<() => void> = []
  let inFlight: number | undefined
  let aborted: NetError | undefined
  const failAll = (error: NetError) => {
    for (const w of queue.splice(0)) {
      w.resume?.(Effect.fail(error))
      w.settled?.()
    }
    drained()
  }
  const drained = () => {
    if (queue.length > 0) return
    for (const w of drainWaiters.splice(0)) w()
  }
  const pump = (): void => {
    if (inFlight !== undefined) return
    const head = queue[0]
    if (head === undefined) return drained()
    if (aborted !== undefined) return failAll(aborted)
    if (!ref.acquire()) return failAll(netError("EBADF", "send", peer))
    try {
      inFlight = ring.send(ref.fd, head.bytes, head.off, head.bytes.length - head.off, 0, (res) => {
        inFlight = undefined
        ref.release()
        if (res === ECANCELED && head.settled !== undefined && aborted === undefined) {
          // Cancelled for its own interrupted writer: only that write goes.
          queue.shift()
          head.settled()
          return pump()
        }
        if (res < 0) return failAll(aborted ?? netError(errnoName(res), "send", peer))
        head.off += res
        if (head.off >= head.bytes.length || head.settled !== undefined) {
          queue.shift()
          head.resume?.(Effect.void)
          head.settled?.()
        }
        pump()
      })
    } catch (e) {
      inFlight = undefined
      ref.release()
      failAll(sysError(e, "send", peer))
    }
  }
  // With nothing queued, the bytes first go straight to the socket (a non-blocking send(2),
  // as libuv's uv_try_write): a write the socket buffer takes whole is done there, with no
  // SQE, no CQE and no fiber suspension; what it does not take goes through the ring, which
  // waits for room. Measured (bench/net, 64 connections x 64 B ping-pong, same machine): the
  // Net server's CPU per round trip fell from 23.0 to 13.5 µs (GC share 10% -> 3%), the
  // in-process Socket interface's from ~80 to 55 µs; batching the sends in one
  // io_uring_enter saved syscalls but cost a suspension and a completion per write.
  const trySendFirst = (bytes: Uint8Array): number => {
    if (aborted !== undefined || queue.length > 0 || inFlight !== undefined || !ref.acquire()) return 0
    try {
      return trySend(ref.fd, bytes, 0, bytes.length)
    } catch {
      return 0
    } finally {
      ref.release()
    }
  }
  const write = (bytes: Uint8Array): Effect.Effect<void, NetError> =>
    Effect.suspend(() => {
      const sent = trySendFirst(bytes)
      if (sent === bytes.length) return Effect.void
      if (sent < 0 && sent !== EAGAIN) return Effect.fail(netError(errnoName(sent), "send", peer))
      return queued(bytes, Math.max(sent, 0))
    })
  const queued = (bytes: Uint8Array, off: number): Effect.Effect<void, NetError> =>
    Effect.async<void, NetError>((resume) => {
      if (aborted !== undefined) return resume(Effect.fail(aborted))
      const w: Outgoing = { bytes, off, resume }
      queue.push(w)
      pump()
      return Effect.suspend(() => {
        w.resume = undefined
        if (queue[0] === w && inFlight !== undefined) {
          // Its send is in the kernel: cancel it and wait for the completion.
          const id = inFlight
          return Effect.async<void>((done) => {
            w.settled = () => done(Effect.void)
            ring.cancel(id)
          })
        }
        const i = queue.indexOf(w)
        if (i >= 0) queue.splice(i, 1)
        drained()
        return Effect.void
      })
    })
  /** Waits until every write issued so far has gone out (or failed). */
  const flushed: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (queue.length === 0) return resume(Effect.void)
    const w = () => resume(Effect.void)
    drainWaiters.push(w)
    return Effect.sync(() => {
      const i = drainWaiters.indexOf(w)
      if (i >= 0) drainWaiters.splice(i, 1)
    })
  })
  /**
   * The connection is closing: queued writes fail with EPIPE (as node's do once the socket is
   * destroyed), an in-flight send is cancelled and fails at its completion, so nothing keeps
   * the fd pinned waiting for a peer that does not read.
   */
  const abort = () => {
    aborted ??= netError("EPIPE", "send", peer)
    if (inFlight !== undefined) ring.cancel(inFlight)
    else failAll(aborted)
  }
  return { write, flushed, abort }
}

const connection = (ops: Ops, ring: Ring, ref: Fd.FdRef, peer: StreamAddress, local: StreamAddress): Connection => {
  const rx = receiver(ring, ref, peer)
  rx.arm()
  const tx = sender(ring, ref, peer)
  const pending = ops.tracked(ref)
  const how = { send: S.SHUT_WR, receive: S.SHUT_RD, all: S.SHUT_RDWR } as const
  const shutdown = (h: Shutdown) =>
    Effect.suspend(() => {
      if (h !== "send") rx.stop()
      // FIN after what was written before it, as node's `end()` flushes first.
      return Effect.zipRight(
        h === "receive" ? Effect.void : tx.flushed,
        Effect.asVoid(pending.run((r, fd, cb) => r.shutdown(fd, how[h], cb), "shutdown", peer))
      ).pipe(
        // A peer that already went away has nothing to shut down.
        Effect.catchIf((e) => e.errno === "ENOTCONN", () => Effect.void)
      )
    })
  // Closing cancels what pins the fd (the armed recv, a send to a peer that does not read, a
  // shutdown), then closes it once those ops have completed.
  const close = Effect.suspend(() => {
    rx.stop()
    tx.abort()
    pending.cancelAll()
    return ref.close
  })
  return makeConnection({ inbox: rx.inbox, writeAll: tx.write, shutdown, close, peer, local, fd: ref.fd })
}

// ---- the backend -------------------------------------------------------------------------

const domainOf = (a: Tcp | Udp | Unix, v6: boolean) => (a._tag === "Unix" ? S.AF_UNIX : v6 ? S.AF_INET6 : S.AF_INET)

export const uringBackend = (uring: Uring.UringService): NetBackend => {
  const ring = uring.ring
  const ops = makeOps(uring)

  const connectTo = (address: Tcp | Unix, options: ConnectOptions): Effect.Effect<Connection, NetError, Scope.Scope> =>
    Effect.gen(function*() {
      const v6 = address._tag === "Tcp" && net.isIPv6(address.host)
      const ref = yield* ops.socket(domainOf(address, v6), S.SOCK_STREAM, address)
      return yield* Effect.gen(function*() {
        if (address._tag === "Tcp") {
          if (options.noDelay) yield* setOpt(ref, S.IPPROTO_TCP, S.TCP_NODELAY, 1, address)
          if (options.keepAlive) yield* setOpt(ref, S.SOL_SOCKET, S.SO_KEEPALIVE, 1, address)
          if (options.localAddress !== undefined || options.localPort !== undefined) {
            const local = tcp(options.localAddress ?? (v6 ? "::" : "0.0.0.0"), options.localPort ?? 0)
            yield* ops.onRef(ref, (r, fd, cb) => r.bind(fd, toSock(local, v6), cb), "bind", local)
          }
        }
        yield* ops.onRef(ref, (r, fd, cb) => r.connect(fd, toSock(address, v6), cb), "connect", address)
        const local = streamAddressOf(safely(() => getsockname(ref.fd)), address)
        const peer = streamAddressOf(safely(() => getpeername(ref.fd)), address)
        const conn = connection(ops, ring, ref, peer, local)
        // Closing stops the receiver first: its armed recv pins the fd until it is cancelled.
        yield* Effect.addFinalizer(() => conn.close)
        return conn
      }).pipe(Effect.onError(() => ref.close))
    })

  const connect = (address: Tcp | Unix, options: ConnectOptions = {}): Effect.Effect<Connection, NetError, Scope.Scope> => {
    if (address._tag === "Unix" || net.isIP(address.host) !== 0) return connectTo(address, options)
    // A host name: every address getaddrinfo gives, in order, as node's connect does.
    return Effect.flatMap(getaddrinfo(address.host, address.port), (all) => {
      const wanted = options.family === 4 || options.family === 6
        ? all.filter((a) => (net.isIPv6(a.host) ? 6 : 4) === options.family)
        : all
      return tryEach(wanted, (a) => connectTo(a, options))
    })
  }

  const listen = (address: Tcp | Unix, options: ListenOptions = {}): Effect.Effect<Listener, NetError, Scope.Scope> =>
    address._tag === "Tcp" && address.host !== "" && net.isIP(address.host) === 0
      ? Effect.flatMap(getaddrinfo(address.host, address.port), (all) =>
        all.length === 0 ? Effect.fail(netError("ENOTFOUND", "getaddrinfo", address)) : listenOn(all[0]!, options))
      : listenOn(address, options)

  const listenOn = (address: Tcp | Unix, options: ListenOptions): Effect.Effect<Listener, NetError, Scope.Scope> =>
    Effect.gen(function*() {
      // No host: dual-stack on `::`, as node listens.
      const v6 = address._tag === "Tcp" && (address.host === "" || net.isIPv6(address.host))
      if (address._tag === "Unix" && options.reuseAddr === true) {
        yield* Effect.sync(() => safely(() => fs.lstatSync(address.path).isSocket() && fs.unlinkSync(address.path)))
      }
      const ref = yield* ops.socket(domainOf(address, v6), S.SOCK_STREAM, address)
      return yield* listenWith(ref, address, v6, options).pipe(Effect.onError(() => ref.close))
    })

  const listenWith = (ref: Fd.FdRef, address: Tcp | Unix, v6: boolean, options: ListenOptions) =>
    Effect.gen(function*() {
      if (address._tag === "Tcp") {
        if (options.reuseAddr !== false) yield* setOpt(ref, S.SOL_SOCKET, S.SO_REUSEADDR, 1, address)
        if (options.reusePort === true) yield* setOpt(ref, S.SOL_SOCKET, S.SO_REUSEPORT, 1, address)
        if (v6) yield* setOpt(ref, S.IPPROTO_IPV6, S.IPV6_V6ONLY, options.dualStack === false ? 1 : 0, address)
      }
      yield* ops.onRef(ref, (r, fd, cb) => r.bind(fd, toSock(address, v6), cb), "bind", address)
      // The socket file is ours from here: removed when the listener closes (by close or with
      // the scope), once: by then the path may be another listener's.
      let unlinked = address._tag !== "Unix"
      const unlink = Effect.sync(() => {
        if (unlinked) return
        unlinked = true
        safely(() => fs.unlinkSync((address as Unix).path))
      })
      yield* Effect.addFinalizer(() => unlink)
      yield* ops.onRef(ref, (r, fd, cb) => r.listen(fd, options.backlog ?? 511, cb), "listen", address)
      const bound = streamAddressOf(safely(() => getsockname(ref.fd)), address)
      const incoming = acceptor(ops, ring, ref, bound)
      yield* Effect.addFinalizer(() => incoming.close)
      const accepted = (fd: number): Effect.Effect<Connection, NetError> =>
        Effect.suspend(() => {
          const child = ops.fdRef(fd)
          const peer = streamAddressOf(safely(() => getpeername(fd)), bound)
          // This end's own address (on a dual-stack or wildcard listener, not the listener's).
          const local = streamAddressOf(safely(() => getsockname(fd)), bound)
          const conn = connection(ops, ring, child, peer, local)
          return options.noDelay && bound._tag === "Tcp"
            ? Effect.as(Effect.orElse(setOpt(child, S.IPPROTO_TCP, S.TCP_NODELAY, 1, bound), () => Effect.void), conn)
            : Effect.succeed(conn)
        })
      // Only the wait is interruptible: from taking the fd to registering the connection's
      // close, nothing can interrupt, so no accepted fd is ever dropped.
      const accept: Effect.Effect<Connection, NetError, Scope.Scope> = Effect.uninterruptibleMask((restore) => {
        const loop: Effect.Effect<Connection, NetError, Scope.Scope> = Effect.flatMap(restore(incoming.readyOrFail), () => {
          const fd = incoming.take()
          if (fd === undefined) return loop
          return Effect.flatMap(accepted(fd), (conn) => Effect.as(Effect.addFinalizer(() => conn.close), conn))
        })
        return loop
      })
      return { address: bound, accept, close: Effect.zipRight(incoming.close, unlink) }
    })

  const datagram = (address?: Udp): Effect.Effect<Datagram, NetError, Scope.Scope> =>
    Effect.gen(function*() {
      const at = yield* resolveUdp(address ?? udp("", 0), undefined)
      const v6 = at.host === "" || net.isIPv6(at.host)
      const ref = yield* ops.socket(domainOf(at, v6), S.SOCK_DGRAM, at)
      return yield* Effect.gen(function*() {
        if (v6) yield* setOpt(ref, S.IPPROTO_IPV6, S.IPV6_V6ONLY, 0, at)
        yield* ops.onRef(ref, (r, fd, cb) => r.bind(fd, toSock(at, v6), cb), "bind", at)
        const bound = udpOf(safely(() => getsockname(ref.fd)))
        // Sends and receives are cancelled by close (a recv waits for a datagram that may never come).
        const pending = ops.tracked(ref)
        const sendTo = (to: Udp, bytes: Uint8Array) =>
          Effect.asVoid(pending.run((r, fd, cb) => r.sendTo(fd, bytes, 0, bytes.length, toSock(to, v6), cb), "sendto", to))
        const send = (to: Udp, bytes: Uint8Array) =>
          net.isIP(to.host) !== 0 ? sendTo(to, bytes) : Effect.flatMap(resolveUdp(to, v6 ? 6 : 4), (ip) => sendTo(ip, bytes))
        const recv = (buf: Uint8Array): Effect.Effect<Received, NetError> =>
          Effect.suspend(() => {
            let from: SocketAddress | undefined
            return Effect.map(
              pending.run((r, fd, cb) =>
                r.recvFrom(fd, buf, 0, buf.length, (res, flags, f) => {
                  from = f
                  cb(res, flags)
                }), "recvfrom", bound),
              (bytes): Received => ({ bytes, from: udpOf(from) })
            )
          })
        const close = Effect.suspend(() => {
          pending.cancelAll()
          return ref.close
        })
        yield* Effect.addFinalizer(() => close)
        return { address: bound, send, recv, close }
      }).pipe(Effect.onError(() => ref.close))
    })

  return { backendId: "io_uring", listen, connect, datagram }
}

// Accept failures that say nothing about the listener (out of fds or memory for now, a peer
// that reset before it was accepted): the accept is retried shortly, as libuv does, instead of
// failing the listener for good.
const TRANSIENT_ACCEPT = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "ECONNABORTED", "EPERM", "EINTR", "EAGAIN"])
const ACCEPT_RETRY_MS = 20

/**
 * Accepted fds for `accept` calls: a multishot accept (armed on the first call, paused when
 * ACCEPT_AHEAD connections wait unclaimed), or single-shot accepts re-armed while someone
 * waits. Either way the kernel's fds land in `ready`: a waiting `accept` is only woken, and
 * takes its fd uninterruptibly, so one interrupted at any point leaves the fd for the next.
 */
const acceptor = (ops: Ops, ring: Ring, ref: Fd.FdRef, bound: StreamAddress) => {
  const multishot = ring.supports("acceptMultishot")
  const ready: Array<number> = []
  const waiters: Array<(wake: Effect.Effect<void>) => void> = []
  let armed: number | undefined
  let retry: ReturnType<typeof setTimeout> | undefined
  let failure: NetError | undefined
  let closed = false
  const wakeAll = () => {
    for (const w of waiters.splice(0)) w(Effect.void)
  }
  const arm = () => {
    if (armed !== undefined || retry !== undefined || closed || failure !== undefined || ready.length >= ACCEPT_AHEAD) return
    if (!ref.acquire()) return
    try {
      armed = ring.accept(ref.fd, (res, flags) => {
        if (res >= 0) {
          if (closed) ops.closeQuietly(res)
          else ready.push(res)
          wakeAll()
        }
        if ((flags & CQE_F_MORE) !== 0) {
          if (ready.length >= ACCEPT_AHEAD && armed !== undefined) ring.cancel(armed)
          return
        }
        armed = undefined
        ref.release()
        if (res < 0 && res !== ECANCELED && !closed) {
          const code = errnoName(res)
          if (TRANSIENT_ACCEPT.has(code)) {
            retry = setTimeout(() => {
              retry = undefined
              if (waiters.length > 0) arm()
            }, ACCEPT_RETRY_MS)
            retry.unref()
            return
          }
          failure = netError(code, "accept", bound)
          wakeAll()
        } else if (waiters.length > 0) arm()
      }, { multishot })
    } catch (e) {
      armed = undefined
      ref.release()
      failure = sysError(e, "accept", bound)
      wakeAll()
    }
  }
  const wait = Effect.async<void>((resume) => {
    waiters.push(resume)
    arm()
    return Effect.sync(() => {
      const i = waiters.indexOf(resume)
      if (i >= 0) waiters.splice(i, 1)
    })
  })
  /** Waits (interruptibly) until an fd is ready; fails once the listener failed or closed. */
  const readyOrFail: Effect.Effect<void, NetError> = Effect.suspend(() => {
    if (closed) return Effect.fail(netError("EBADF", "accept", bound))
    if (ready.length > 0) return Effect.void
    if (failure !== undefined) return Effect.fail(failure)
    return Effect.flatMap(wait, () => readyOrFail)
  })
  /** The next ready fd, taken now (undefined when another accept took it first). */
  const take = (): number | undefined => {
    const fd = ready.shift()
    if (fd !== undefined) arm()
    return fd
  }
  const close = Effect.suspend(() => {
    closed = true
    if (retry !== undefined) clearTimeout(retry)
    if (armed !== undefined) ring.cancel(armed)
    for (const fd of ready.splice(0)) ops.closeQuietly(fd)
    wakeAll()
    return ref.close
  })
  return { readyOrFail, take, close }
}
