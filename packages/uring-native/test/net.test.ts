// The socket ops over real sockets: TCP on 127.0.0.1 and ::1, Unix sockets in temp dirs, UDP;
// multishot accept and recv with a provided-buffer ring; cancels; the fallback paths with
// the test-only hideOps; address checks; no fd left behind.
import fs from "node:fs"
import path from "node:path"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import {
  BufRing,
  BufRingBusyError,
  bufferId,
  CQE_F_BUFFER,
  CQE_F_MORE,
  CQE_F_NOTIF,
  constants,
  decodeSockaddr,
  encodeSockaddr,
  errno,
  getpeername,
  getsockname,
  getsockopt,
  Ring,
  RingClosedError,
  setsockopt,
  socketConstants as S,
  type SocketAddress,
  trySend,
  UnsupportedOpError
} from "../src/index.js"
import { expectSameBytes } from "../../../test-utils/index.js"
import { closeNow, closeTracked, gc, makeTempDir, pseudoRandomBytes, removeTempDirs, run, runFull, sleep, track } from "./helpers.js"

const MiB = 1 << 20
const fdCount = (): number => fs.readdirSync("/proc/self/fd").length

let ring: Ring
let dir: string
let fdsAtStart: number

beforeAll(() => {
  fdsAtStart = fdCount()
  ring = new Ring()
})
afterAll(() => {
  ring.close()
  closeTracked()
  expect(ring.inFlight).toBe(0)
  expect(fdCount()).toBe(fdsAtStart)
})
beforeEach(() => {
  dir = makeTempDir()
})
afterEach(() => {
  closeTracked()
  removeTempDirs()
})

// ---- helpers ------------------------------------------------------------------------------

const loopback = (family: 4 | 6): SocketAddress => ({ family, host: family === 4 ? "127.0.0.1" : "::1", port: 0 })
const domainOf = (a: SocketAddress): number => ("path" in a ? S.AF_UNIX : a.family === 4 ? S.AF_INET : S.AF_INET6)

const socket = async (r: Ring, domain: number, type: number): Promise<number> => {
  const fd = await run((cb) => r.socket(domain, type, 0, cb))
  expect(fd).toBeGreaterThanOrEqual(0)
  return track(fd)
}

const ok = async (what: string, submit: Parameters<typeof run>[0]): Promise<void> => {
  const res = await run(submit)
  if (res < 0) throw new Error(`${what}: ${res}`)
}

/** A listening stream socket on `address` (port 0: any); resolves with its fd and real address. */
const listener = async (r: Ring, address: SocketAddress, backlog = 128): Promise<{ fd: number; addr: SocketAddress }> => {
  const fd = await socket(r, domainOf(address), S.SOCK_STREAM)
  if (!("path" in address)) setsockopt(fd, S.SOL_SOCKET, S.SO_REUSEADDR, 1)
  if (!("path" in address) && address.family === 6) setsockopt(fd, S.IPPROTO_IPV6, S.IPV6_V6ONLY, 1)
  await ok("bind", (cb) => r.bind(fd, address, cb))
  await ok("listen", (cb) => r.listen(fd, backlog, cb))
  return { fd, addr: getsockname(fd)! }
}

/** A connected pair through a fresh listener: [client, server]. */
const connectedPair = async (r: Ring, address: SocketAddress): Promise<{ client: number; server: number; listen: number }> => {
  const l = await listener(r, address)
  const client = await socket(r, domainOf(address), S.SOCK_STREAM)
  const [server, c] = await Promise.all([run((cb) => r.accept(l.fd, cb)), run((cb) => r.connect(client, l.addr, cb))])
  expect(c).toBe(0)
  expect(server).toBeGreaterThanOrEqual(0)
  return { client, server: track(server), listen: l.fd }
}

const sendAll = async (r: Ring, fd: number, data: Uint8Array): Promise<void> => {
  let off = 0
  while (off < data.length) {
    const n = await run((cb) => r.send(fd, data, off, Math.min(data.length - off, 256 * 1024), 0, cb))
    if (n <= 0) throw new Error(`send: ${n}`)
    off += n
  }
}

/** Receives until `n` bytes or EOF. */
const recvUpTo = async (r: Ring, fd: number, n: number): Promise<Buffer> => {
  const out = Buffer.alloc(n)
  let off = 0
  while (off < n) {
    const got = await run((cb) => r.recv(fd, out, off, Math.min(n - off, 64 * 1024), 0, cb))
    if (got < 0) throw new Error(`recv: ${got}`)
    if (got === 0) break
    off += got
  }
  return out.subarray(0, off)
}

/** Echoes everything back until EOF, then half-closes. */
const echo = async (r: Ring, fd: number): Promise<number> => {
  const buf = Buffer.alloc(64 * 1024)
  let total = 0
  for (;;) {
    const n = await run((cb) => r.recv(fd, buf, 0, buf.length, 0, cb))
    if (n < 0) throw new Error(`echo recv: ${n}`)
    if (n === 0) break
    await sendAll(r, fd, buf.subarray(0, n))
    total += n
  }
  await ok("shutdown", (cb) => r.shutdown(fd, S.SHUT_WR, cb))
  return total
}

/** Sends `data` through the client of a pair to an echoing server and checks what comes back. */
const echoRoundTrip = async (r: Ring, client: number, server: number, data: Uint8Array): Promise<void> => {
  const served = echo(r, server)
  const back = recvUpTo(r, client, data.length + 1)
  await sendAll(r, client, data)
  await ok("shutdown", (cb) => r.shutdown(client, S.SHUT_WR, cb))
  const [got, n] = await Promise.all([back, served])
  expect(n).toBe(data.length)
  expect(got.length).toBe(data.length)
  expect(Buffer.compare(got, data)).toBe(0)
}

/** Resolves when `submit`'s callback ran, or with undefined after `ms`. */
const within = <T,>(p: Promise<T>, ms: number): Promise<T | undefined> =>
  Promise.race([p, sleep(ms).then(() => undefined)])

/** Records every callback of an op: its completions, and a promise of the final one. */
const record = () => {
  const calls: Array<{ res: number; flags: number }> = []
  let done!: (v: { res: number; flags: number }) => void
  const final = new Promise<{ res: number; flags: number }>((resolve) => (done = resolve))
  const cb = (res: number, flags: number) => {
    calls.push({ res, flags })
    if ((flags & CQE_F_MORE) === 0) done({ res, flags })
  }
  return { calls, final, cb }
}

// ---- tests ----------------------------------------------------------------------------------

describe("capabilities", () => {
  it("this kernel takes every ring path; supports() names them", () => {
    for (const name of ["socket", "bind", "listen", "shutdown", "sendZc", "acceptMultishot", "recvMultishot", "bufRing"] as const)
      expect(ring.supports(name), name).toBe(true)
    expect(ring.capabilities.ops).toContain("accept")
    expect(() => ring.supports("nope" as never)).toThrow(RangeError)
  })

  it("testHideOps hides what it names and refuses unknown names", () => {
    const r = new Ring({ testHideOps: ["socket", "bind", "listen", "shutdown", "send_zc", "accept_multishot", "recv_multishot", "pbuf_ring"] })
    try {
      for (const name of ["socket", "bind", "listen", "shutdown", "sendZc", "acceptMultishot", "recvMultishot", "bufRing"] as const)
        expect(r.supports(name), name).toBe(false)
      expect(r.capabilities.ops).not.toContain("socket")
      expect(r.capabilities.ops).toContain("accept")
    } finally {
      r.close()
    }
    expect(() => new Ring({ testHideOps: ["no_such_op"] })).toThrow(RangeError)
  })
})

describe("addresses", () => {
  it("encode and decode round trip; getsockname/getpeername give the same shape", async () => {
    for (const a of [
      { family: 4, host: "127.0.0.1", port: 80 },
      { family: 6, host: "::1", port: 65535 },
      { family: 6, host: "::ffff:10.1.2.3", port: 1 },
      { family: 6, host: "fe80::1", port: 9, scopeId: 1 },
      { path: "/tmp/x.sock" },
      { path: "abc", abstract: true },
      { path: "" }
    ] as const) {
      expect(decodeSockaddr(encodeSockaddr(a))).toEqual(a)
    }
    expect(encodeSockaddr({ family: 4, host: "1.2.3.4", port: 0x1234 }).length).toBe(16)
    expect(Array.from(encodeSockaddr({ family: 4, host: "1.2.3.4", port: 0x1234 }).subarray(2, 8))).toEqual([0x12, 0x34, 1, 2, 3, 4])
    expect(decodeSockaddr(new Uint8Array(16))).toBeUndefined() // AF_UNSPEC
    expect(decodeSockaddr(new Uint8Array(1))).toBeUndefined()
    const { client, server } = await connectedPair(ring, loopback(4))
    expect(getpeername(client)).toEqual(getsockname(server))
    expect(getpeername(server)).toEqual(getsockname(client))
    const unconnected = await socket(ring, S.AF_INET, S.SOCK_STREAM)
    expect(() => getpeername(unconnected)).toThrow(expect.objectContaining({ code: "ENOTCONN" }))
    expect(() => getsockname(1_000_000)).toThrow(expect.objectContaining({ code: "EBADF", syscall: "getsockname" }))
  })

  it("bad addresses throw TypeError/RangeError synchronously and never reach the kernel", async () => {
    const fd = await socket(ring, S.AF_INET, S.SOCK_DGRAM)
    const buf = new Uint8Array(4)
    const cases: Array<[unknown, typeof TypeError | typeof RangeError]> = [
      [{ family: 4, host: "127.0.0.1", port: 65536 }, RangeError],
      [{ family: 4, host: "127.0.0.1", port: -1 }, RangeError],
      [{ family: 4, host: "127.0.0.1", port: 1.5 }, TypeError],
      [{ family: 4, host: "127.0.0.1", port: "80" }, TypeError],
      [{ family: 4, host: "localhost", port: 80 }, TypeError],
      [{ family: 4, host: "1.2.3", port: 80 }, TypeError],
      [{ family: 4, host: "::1", port: 80 }, TypeError],
      [{ family: 6, host: "127.0.0.1", port: 80 }, TypeError],
      [{ family: 6, host: "::1%lo", port: 80 }, TypeError],
      [{ family: 5, host: "127.0.0.1", port: 80 }, TypeError],
      [{ host: "127.0.0.1", port: 80 }, TypeError],
      [{ family: 4, port: 80 }, TypeError],
      [{ path: "a\0b" }, TypeError],
      [{ path: 42 }, TypeError],
      [{ path: "x".repeat(108) }, RangeError],
      [{ path: "é".repeat(54) }, RangeError], // 108 UTF-8 bytes
      [{ path: "x".repeat(108), abstract: true }, RangeError],
      [null, TypeError],
      ["127.0.0.1:80", TypeError],
      [[4, "127.0.0.1", 80], TypeError]
    ]
    const inFlight = ring.inFlight
    for (const [address, kind] of cases) {
      const a = address as SocketAddress
      expect(() => encodeSockaddr(a), JSON.stringify(address)).toThrow(kind)
      expect(() => ring.bind(fd, a, () => expect.fail("called")), JSON.stringify(address)).toThrow(kind)
      expect(() => ring.connect(fd, a, () => expect.fail("called"))).toThrow(kind)
      expect(() => ring.sendTo(fd, buf, 0, 4, a, () => expect.fail("called"))).toThrow(kind)
    }
    expect(ring.inFlight).toBe(inFlight)
    expect(ring.submit()).toBe(0)
    // 107 bytes is the longest path.
    expect(decodeSockaddr(encodeSockaddr({ path: "x".repeat(107) }))).toEqual({ path: "x".repeat(107) })
  })

  // Found by the fuzzer: a throwing getter made the addon throw a second error over the
  // pending one (a fatal error: the process aborted), and a throwing `abstract` getter let a
  // bind be queued while its call threw (a slot the facade had given back).
  it("an address whose getter or Proxy trap throws: that error surfaces, nothing is queued, no abort", async () => {
    class Planted extends Error {}
    const throwing = (field: string, base: object): object =>
      Object.defineProperty({ ...base }, field, {
        enumerable: true,
        get: () => {
          throw new Planted(field)
        }
      })
    const fd = await socket(ring, S.AF_INET, S.SOCK_DGRAM)
    const unixFd = await socket(ring, S.AF_UNIX, S.SOCK_DGRAM)
    const buf = new Uint8Array(4)
    const inet = { family: 4, host: "127.0.0.1", port: 1 }
    const cases: Array<[object, number]> = [
      ...["family", "host", "port"].map((f): [object, number] => [throwing(f, inet), fd]),
      [throwing("scopeId", { family: 6, host: "::1", port: 1 }), fd],
      [throwing("path", {}), unixFd],
      [throwing("abstract", { path: "effio-fuzz-regression" }), unixFd],
      [new Proxy({}, { has: () => { throw new Planted("has") } }), fd],
      [new Proxy({}, { get: () => { throw new Planted("get") } }), fd]
    ]
    const inFlight = ring.inFlight
    for (const [address, target] of cases) {
      const a = address as SocketAddress
      expect(() => encodeSockaddr(a)).toThrow(Planted)
      expect(() => ring.bind(target, a, () => expect.fail("called"))).toThrow(Planted)
      expect(() => ring.connect(target, a, () => expect.fail("called"))).toThrow(Planted)
      expect(() => ring.sendTo(target, buf, 0, 4, a, () => expect.fail("called"))).toThrow(Planted)
      expect(ring.inFlight).toBe(inFlight)
    }
    expect(ring.submit()).toBe(0)
    await sleep(10)
    expect(ring.inFlight).toBe(inFlight)
  })

  it("setsockopt/getsockopt of int options; errors carry the errno name", async () => {
    const fd = await socket(ring, S.AF_INET, S.SOCK_STREAM)
    setsockopt(fd, S.IPPROTO_TCP, S.TCP_NODELAY, 1)
    expect(getsockopt(fd, S.IPPROTO_TCP, S.TCP_NODELAY)).not.toBe(0)
    setsockopt(fd, S.SOL_SOCKET, S.SO_KEEPALIVE, true)
    expect(getsockopt(fd, S.SOL_SOCKET, S.SO_KEEPALIVE)).toBe(1)
    setsockopt(fd, S.SOL_SOCKET, S.SO_REUSEPORT, 1)
    expect(getsockopt(fd, S.SOL_SOCKET, S.SO_TYPE)).toBe(S.SOCK_STREAM)
    expect(() => setsockopt(fd, S.SOL_SOCKET, 9999, 1)).toThrow(expect.objectContaining({ code: "ENOPROTOOPT" }))
    expect(() => setsockopt(fd, S.SOL_SOCKET, S.SO_KEEPALIVE, 1.5)).toThrow(TypeError)
    expect(constants.MSG_NOSIGNAL).toBe(S.MSG_NOSIGNAL)
    expect(S.AF_INET6).toBe(10)
  })

  it("new sockets and accepted ones are close-on-exec", async () => {
    const { client, server } = await connectedPair(ring, loopback(4))
    for (const fd of [client, server]) {
      const flags = fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").match(/flags:\s+(\d+)/)![1]!
      expect(parseInt(flags, 8) & 0o2000000).not.toBe(0)
    }
  })
})

describe("TCP", () => {
  for (const family of [4, 6] as const) {
    it(`echo of 1 MiB over ${family === 4 ? "127.0.0.1" : "::1"}, byte for byte`, async () => {
      const { client, server } = await connectedPair(ring, loopback(family))
      expect(getpeername(client)).toMatchObject({ family, host: family === 4 ? "127.0.0.1" : "::1" })
      await echoRoundTrip(ring, client, server, pseudoRandomBytes(MiB, 7 + family))
    })
  }

  it("shutdown(SHUT_WR) half-closes: the peer sees EOF and can still send back", async () => {
    const { client, server } = await connectedPair(ring, loopback(4))
    const msg = Buffer.from("request")
    await sendAll(ring, client, msg)
    await ok("shutdown", (cb) => ring.shutdown(client, S.SHUT_WR, cb))
    const got = await recvUpTo(ring, server, 100)
    expect(got.toString()).toBe("request") // then EOF
    await sendAll(ring, server, Buffer.from("reply"))
    await ok("shutdown", (cb) => ring.shutdown(server, S.SHUT_RDWR, cb))
    expect((await recvUpTo(ring, client, 100)).toString()).toBe("reply")
    // Writing after SHUT_WR fails with EPIPE.
    expect(await run((cb) => ring.send(client, msg, 0, msg.length, 0, cb))).toBe(-errno.EPIPE!)
  })

  it("trySend: a non-blocking send on the caller's thread; -EAGAIN once the buffer is full, the bytes intact", async () => {
    const { client, server } = await connectedPair(ring, loopback(4))
    setsockopt(client, S.SOL_SOCKET, S.SO_SNDBUF, 64 * 1024)
    const data = pseudoRandomBytes(8 * MiB, 41)
    // The peer does not read: the socket buffers fill, a send returns short, then -EAGAIN.
    let off = 0
    let last = 0
    for (let i = 0; i < 10_000 && off < data.length; i++) {
      last = trySend(client, data, off, Math.min(256 * 1024, data.length - off))
      if (last < 0) break
      off += last
    }
    expect(last).toBe(-errno.EAGAIN!)
    expect(off).toBeGreaterThan(0)
    expect(off).toBeLessThan(data.length)
    // The rest through the ring (which waits for room) while the peer reads everything.
    const rest = sendAll(ring, client, data.subarray(off))
    const got = await recvUpTo(ring, server, data.length)
    await rest
    expectSameBytes(got, data)
    // Bad arguments throw before the syscall; a closed or non-socket fd is a negative errno.
    expect(() => trySend(client, data, -1, 1)).toThrow(RangeError)
    expect(() => trySend(client, data, 0, data.length + 1)).toThrow(RangeError)
    expect(() => trySend(client, "bytes" as never, 0, 1)).toThrow(TypeError)
    expect(() => trySend(-1, data, 0, 1)).toThrow(RangeError)
    const file = fs.openSync(path.join(dir, "f"), "w")
    expect(trySend(file, data, 0, 1)).toBe(-errno.ENOTSOCK!)
    fs.closeSync(file)
    expect(trySend(file, data, 0, 1)).toBe(-errno.EBADF!)
  })

  it("connect to a closed port: -ECONNREFUSED", async () => {
    const probe = await socket(ring, S.AF_INET, S.SOCK_STREAM)
    await ok("bind", (cb) => ring.bind(probe, loopback(4), cb))
    const addr = getsockname(probe)!
    closeNow(probe) // bound but never listening, now closed: nothing on that port
    const c = await socket(ring, S.AF_INET, S.SOCK_STREAM)
    expect(await run((cb) => ring.connect(c, addr, cb))).toBe(-errno.ECONNREFUSED!)
  })

  it("send to a reset peer: -EPIPE or -ECONNRESET, never SIGPIPE", async () => {
    let sigpipes = 0
    const onPipe = () => sigpipes++
    process.on("SIGPIPE", onPipe)
    try {
      const { client, server } = await connectedPair(ring, loopback(4))
      const data = Buffer.alloc(1024, 1)
      await sendAll(ring, client, data)
      await sleep(20)
      closeNow(server) // unread data: the close resets the connection
      let res = 0
      for (let i = 0; i < 100 && res >= 0; i++) {
        res = await run((cb) => ring.send(client, data, 0, data.length, 0, cb))
        if (res >= 0) await sleep(5)
      }
      expect([-errno.EPIPE!, -errno.ECONNRESET!]).toContain(res)
      // The socket is dead now: another send is EPIPE, still without a signal.
      expect(await run((cb) => ring.send(client, data, 0, data.length, 0, cb))).toBe(-errno.EPIPE!)
      await sleep(20)
      expect(sigpipes).toBe(0)
    } finally {
      process.off("SIGPIPE", onPipe)
    }
  })

  it("multishot accept of 50 connections: one callback each with F_MORE, peers via getpeername; cancel ends it once", async () => {
    const l = await listener(ring, loopback(4))
    const accepted: Array<number> = []
    const rec = record()
    let arrived!: () => void
    const all = new Promise<void>((resolve) => (arrived = resolve))
    const id = ring.accept(
      l.fd,
      (res, flags) => {
        rec.cb(res, flags)
        if (res >= 0) accepted.push(track(res))
        if (accepted.length === 50) arrived()
      },
      { multishot: true }
    )
    const clients = await Promise.all(Array.from({ length: 50 }, () => socket(ring, S.AF_INET, S.SOCK_STREAM)))
    const results = await Promise.all(clients.map((c) => run((cb) => ring.connect(c, l.addr, cb))))
    expect(results.every((r) => r === 0)).toBe(true)
    await all
    expect(rec.calls.length).toBe(50)
    expect(rec.calls.every((c) => c.res >= 0 && (c.flags & CQE_F_MORE) !== 0)).toBe(true)
    const peers = new Set(accepted.map((fd) => JSON.stringify(getpeername(fd))))
    const locals = new Set(clients.map((fd) => JSON.stringify(getsockname(fd))))
    expect(peers).toEqual(locals)
    expect(ring.cancel(id)).toBe(true)
    const end = await rec.final
    expect(end.res).toBe(-errno.ECANCELED!)
    expect(end.flags & CQE_F_MORE).toBe(0)
    await sleep(10)
    expect(rec.calls.length).toBe(51)
    expect(ring.cancel(id)).toBe(false)
  })
})

describe("Unix sockets", () => {
  it("stream echo over a socket file in a temp dir; addresses decode to paths", async () => {
    const p = path.join(dir, "echo.sock")
    const { client, server, listen } = await connectedPair(ring, { path: p })
    expect(getsockname(listen)).toEqual({ path: p })
    expect(getpeername(client)).toEqual({ path: p })
    expect(getsockname(client)).toEqual({ path: "" })
    await echoRoundTrip(ring, client, server, pseudoRandomBytes(256 * 1024, 3))
  })

  it("an abstract address binds and reads back", async () => {
    const name = `effio-test-${process.pid}-${Date.now()}`
    const { fd } = await listener(ring, { path: name, abstract: true })
    expect(getsockname(fd)).toEqual({ path: name, abstract: true })
  })

  it("datagrams: sendTo/recvFrom give the sender's path", async () => {
    const a = await socket(ring, S.AF_UNIX, S.SOCK_DGRAM)
    const b = await socket(ring, S.AF_UNIX, S.SOCK_DGRAM)
    const pa = path.join(dir, "a.sock")
    const pb = path.join(dir, "b.sock")
    await ok("bind a", (cb) => ring.bind(a, { path: pa }, cb))
    await ok("bind b", (cb) => ring.bind(b, { path: pb }, cb))
    const msg = Buffer.from("unix datagram")
    const buf = Buffer.alloc(100)
    const got = new Promise<{ res: number; from: SocketAddress | undefined }>((resolve) =>
      ring.recvFrom(b, buf, 0, buf.length, (res, _flags, from) => resolve({ res, from }))
    )
    expect(await run((cb) => ring.sendTo(a, msg, 0, msg.length, { path: pb }, cb))).toBe(msg.length)
    const { res, from } = await got
    expect(res).toBe(msg.length)
    expect(buf.subarray(0, res).toString()).toBe("unix datagram")
    expect(from).toEqual({ path: pa })
  })
})

describe("UDP", () => {
  for (const family of [4, 6] as const) {
    it(`sendTo/recvFrom on ${family === 4 ? "127.0.0.1" : "::1"}: payloads intact, source address decoded`, async () => {
      const domain = family === 4 ? S.AF_INET : S.AF_INET6
      const a = await socket(ring, domain, S.SOCK_DGRAM)
      const b = await socket(ring, domain, S.SOCK_DGRAM)
      await ok("bind a", (cb) => ring.bind(a, loopback(family), cb))
      await ok("bind b", (cb) => ring.bind(b, loopback(family), cb))
      const addrA = getsockname(a)!
      const addrB = getsockname(b)!
      for (let i = 0; i < 20; i++) {
        const msg = pseudoRandomBytes(100 + i * 50, i + 1)
        const buf = Buffer.alloc(2048)
        const got = new Promise<{ res: number; from: SocketAddress | undefined }>((resolve) =>
          ring.recvFrom(b, buf, 0, buf.length, (res, _f, from) => resolve({ res, from }))
        )
        expect(await run((cb) => ring.sendTo(a, msg, 0, msg.length, addrB, cb))).toBe(msg.length)
        const { res, from } = await got
        expect(res).toBe(msg.length)
        expect(Buffer.compare(buf.subarray(0, res), msg)).toBe(0)
        expect(from).toEqual(addrA)
      }
    })
  }
})

describe("provided-buffer rings", () => {
  for (const policy of ["hold until ENOBUFS", "recycle at once"] as const) {
    it(`multishot recv of 1 MiB through 8 × 4 KiB buffers (${policy}), re-armed after ENOBUFS`, async () => {
      const { client, server } = await connectedPair(ring, loopback(4))
      const br = ring.registerBufRing({ entries: 8, size: 4096 })
      expect(br).toBeInstanceOf(BufRing)
      const data = pseudoRandomBytes(MiB, 11)
      const chunks: Array<Uint8Array> = []
      let enobufs = 0
      let arms = 0
      const held: Array<number> = []
      const received = new Promise<void>((resolve, reject) => {
        const arm = () => {
          arms++
          ring.recvMultishot(server, br, (res, flags) => {
            const bid = bufferId(flags)
            if (res > 0) {
              expect(flags & CQE_F_BUFFER).toBe(CQE_F_BUFFER)
              expect(bid).toBeGreaterThanOrEqual(0)
              expect(bid).toBeLessThan(8)
              chunks.push(br.view(bid, res))
              if (policy === "recycle at once") br.recycle(bid)
              else held.push(bid)
            } else if (bid >= 0) {
              br.recycle(bid)
            }
            if ((flags & CQE_F_MORE) !== 0) return
            // The multishot ended.
            for (const b of held.splice(0)) br.recycle(b)
            if (res === -errno.ENOBUFS!) {
              enobufs++
              arm()
            } else if (res === 0) {
              resolve()
            } else if (res < 0) {
              reject(new Error(`recv multishot ended with ${res}`))
            } else {
              arm() // ended with data but no F_MORE: arm again
            }
          })
        }
        arm()
      })
      await sendAll(ring, client, data)
      await ok("shutdown", (cb) => ring.shutdown(client, S.SHUT_WR, cb))
      await received
      const got = Buffer.concat(chunks)
      expect(got.length).toBe(data.length)
      expect(Buffer.compare(got, data)).toBe(0)
      if (policy === "hold until ENOBUFS") expect(enobufs).toBeGreaterThan(0)
      expect(arms).toBeGreaterThan(enobufs)
      br.close()
      expect(br.open).toBe(false)
    })
  }

  it("single-shot recv with buffer select", async () => {
    const { client, server } = await connectedPair(ring, loopback(4))
    const br = ring.registerBufRing({ entries: 2, size: 64 })
    const msg = Buffer.from("selected")
    await sendAll(ring, client, msg)
    const { res, flags } = await runFull((cb) => ring.recvSelect(server, br, cb))
    expect(res).toBe(msg.length)
    expect(flags & CQE_F_MORE).toBe(0)
    const bid = bufferId(flags)
    expect(Buffer.from(br.view(bid, res)).toString()).toBe("selected")
    br.recycle(bid)
    br.close()
  })

  it("view and recycle refuse a buffer the kernel owns; close refuses while an op uses the ring", async () => {
    const { client, server } = await connectedPair(ring, loopback(4))
    const br = ring.registerBufRing({ entries: 4, size: 128 })
    expect(() => br.view(0, 1)).toThrow(RangeError)
    expect(() => br.recycle(0)).toThrow(RangeError)
    expect(() => br.view(4, 1)).toThrow(RangeError)
    const rec = record()
    const id = ring.recvMultishot(server, br, rec.cb)
    await sleep(10)
    expect(() => br.close()).toThrow(BufRingBusyError)
    const msg = Buffer.from("x")
    await sendAll(ring, client, msg)
    while (rec.calls.length === 0) await sleep(2)
    const bid = bufferId(rec.calls[0]!.flags)
    expect(() => br.view(bid, 129)).toThrow(RangeError) // longer than a buffer
    expect(Buffer.from(br.view(bid, 1)).toString()).toBe("x")
    br.recycle(bid)
    expect(() => br.recycle(bid)).toThrow(RangeError) // twice
    expect(ring.cancel(id)).toBe(true)
    const end = await rec.final
    expect(end.res).toBe(-errno.ECANCELED!)
    br.close()
    expect(() => br.view(0, 1)).toThrow(RangeError)
    expect(() => ring.recvMultishot(server, br, () => {})).toThrow(TypeError)
    br.close() // idempotent
  })

  it("bad options throw; group ids are reused after close", () => {
    expect(() => ring.registerBufRing({ entries: 3, size: 64 })).toThrow(RangeError)
    expect(() => ring.registerBufRing({ entries: 65536, size: 64 })).toThrow(RangeError)
    expect(() => ring.registerBufRing({ entries: 8, size: 0 })).toThrow(RangeError)
    expect(() => ring.registerBufRing({ entries: 32768, size: 1 << 20 })).toThrow(RangeError)
    const a = ring.registerBufRing({ entries: 1, size: 1 })
    const b = ring.registerBufRing({ entries: 1, size: 1 })
    expect(b.group).not.toBe(a.group)
    const g = a.group
    a.close()
    const c = ring.registerBufRing({ entries: 1, size: 1 })
    expect(c.group).toBe(g)
    b.close()
    c.close()
  })

  it("ring.close() with a multishot recv in flight: drained (-ECANCELED once), then the buffer ring is freed", async () => {
    const r = new Ring()
    const { client, server } = await connectedPair(r, loopback(4))
    const br = r.registerBufRing({ entries: 8, size: 4096 })
    const rec = record()
    const held: Array<number> = []
    const late: Array<string> = []
    r.recvMultishot(server, br, (res, flags) => {
      rec.cb(res, flags)
      if (bufferId(flags) >= 0) held.push(bufferId(flags))
      if ((flags & CQE_F_MORE) === 0) {
        // Delivered by close()'s drain: the buffers may still be copied out and recycled.
        late.push(Buffer.from(br.view(held[0]!, 2)).toString())
        for (const b of held.splice(0)) br.recycle(b)
      }
    })
    await sendAll(r, client, Buffer.from("hi"))
    while (rec.calls.length === 0) await sleep(2)
    r.close()
    expect(rec.calls.map((c) => c.res)).toEqual([2, -errno.ECANCELED!])
    expect(rec.calls[1]!.flags).toBe(0)
    expect(late).toEqual(["hi"])
    expect(br.open).toBe(false)
    expect(() => br.view(0, 1)).toThrow(RangeError)
    br.close()
    expect(() => r.registerBufRing({ entries: 1, size: 1 })).toThrow(RingClosedError)
  })
})

describe("send_zc", () => {
  it("the result with F_MORE, then the notification without it; data intact", async () => {
    const { client, server } = await connectedPair(ring, loopback(4))
    const data = pseudoRandomBytes(200 * 1024, 5)
    const back = recvUpTo(ring, server, data.length)
    let off = 0
    while (off < data.length) {
      const rec = record()
      ring.sendZc(client, data, off, data.length - off, 0, rec.cb)
      const end = await rec.final
      expect(end.flags & CQE_F_NOTIF).toBe(CQE_F_NOTIF)
      expect(rec.calls.length).toBe(2)
      const first = rec.calls[0]!
      expect(first.flags & CQE_F_MORE).toBe(CQE_F_MORE)
      expect(first.res).toBeGreaterThan(0)
      off += first.res
    }
    expect(Buffer.compare(await back, data)).toBe(0)
  })
})

describe("cancel of blocking socket ops: one final callback, no F_MORE", () => {
  it("accept (single and multishot)", async () => {
    const l = await listener(ring, loopback(4))
    for (const multishot of [false, true]) {
      const rec = record()
      const id = ring.accept(l.fd, rec.cb, { multishot })
      await sleep(10)
      expect(rec.calls.length).toBe(0)
      expect(ring.cancel(id)).toBe(true)
      const end = await rec.final
      expect(end).toEqual({ res: -errno.ECANCELED!, flags: 0 })
      await sleep(10)
      expect(rec.calls.length).toBe(1)
    }
  })

  it("recv (single, recvFrom, buffer select, multishot)", async () => {
    const { server } = await connectedPair(ring, loopback(4))
    const udp = await socket(ring, S.AF_INET, S.SOCK_DGRAM)
    await ok("bind", (cb) => ring.bind(udp, loopback(4), cb))
    const br = ring.registerBufRing({ entries: 4, size: 1024 })
    const buf = Buffer.alloc(1024)
    const starts: Array<(cb: (res: number, flags: number) => void) => number> = [
      (cb) => ring.recv(server, buf, 0, buf.length, 0, cb),
      (cb) => ring.recvFrom(udp, buf, 0, buf.length, (res, flags, from) => {
        expect(from).toBeUndefined()
        cb(res, flags)
      }),
      (cb) => ring.recvSelect(server, br, cb),
      (cb) => ring.recvMultishot(server, br, cb)
    ]
    for (const start of starts) {
      const rec = record()
      const id = start(rec.cb)
      await sleep(10)
      expect(ring.cancel(id)).toBe(true)
      expect(await rec.final).toEqual({ res: -errno.ECANCELED!, flags: 0 })
      await sleep(5)
      expect(rec.calls.length).toBe(1)
    }
    br.close()
  })

  it("connect (to a listener whose accept queue is full)", async () => {
    const l = await listener(ring, loopback(4), 0)
    let pending: { id: number; rec: ReturnType<typeof record> } | undefined
    for (let i = 0; i < 6 && !pending; i++) {
      const c = await socket(ring, S.AF_INET, S.SOCK_STREAM)
      const rec = record()
      const id = ring.connect(c, l.addr, rec.cb)
      if ((await within(rec.final, 200)) === undefined) pending = { id, rec }
    }
    expect(pending).toBeDefined()
    expect(ring.cancel(pending!.id)).toBe(true)
    const end = await pending!.rec.final
    expect(end.flags & CQE_F_MORE).toBe(0)
    expect([-errno.ECANCELED!, 0]).toContain(end.res)
    await sleep(5)
    expect(pending!.rec.calls.length).toBe(1)
  })

  it("send (to a peer that does not read, its buffers full)", async () => {
    const { client } = await connectedPair(ring, loopback(4))
    setsockopt(client, S.SOL_SOCKET, S.SO_SNDBUF, 4096)
    const big = Buffer.alloc(4 * MiB, 7)
    let pending: { id: number; rec: ReturnType<typeof record> } | undefined
    for (let i = 0; i < 64 && !pending; i++) {
      const rec = record()
      const id = ring.send(client, big, 0, big.length, 0, rec.cb)
      const done = await within(rec.final, 200)
      if (done === undefined) pending = { id, rec }
      else expect(done.res).toBeGreaterThan(0)
    }
    expect(pending).toBeDefined()
    expect(ring.cancel(pending!.id)).toBe(true)
    const end = await pending!.rec.final
    expect(end.flags & CQE_F_MORE).toBe(0)
    expect(end.res === -errno.ECANCELED! || end.res > 0).toBe(true)
    await sleep(5)
    expect(pending!.rec.calls.length).toBe(1)
  })
})

describe("fallback paths (testHideOps on this kernel)", () => {
  const hidden = ["socket", "bind", "listen", "shutdown", "accept_multishot", "recv_multishot", "pbuf_ring", "send_zc"]

  it("direct socket/bind/listen/shutdown: results through the callback, never synchronously", async () => {
    const r = new Ring({ testHideOps: hidden })
    try {
      let returned = false
      let syncCall = false
      const fd = await new Promise<number>((resolve) => {
        r.socket(S.AF_INET, S.SOCK_STREAM, 0, (res) => {
          syncCall = !returned
          resolve(res)
        })
        returned = true
      })
      expect(syncCall).toBe(false)
      expect(fd).toBeGreaterThanOrEqual(0)
      track(fd)
      expect(parseInt(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").match(/flags:\s+(\d+)/)![1]!, 8) & 0o2000000).not.toBe(0)
      // Errors come back as -errno, the same way.
      expect(await run((cb) => r.socket(12345, S.SOCK_STREAM, 0, cb))).toBe(-errno.EAFNOSUPPORT!)
      expect(await run((cb) => r.bind(fd, { family: 4, host: "192.0.2.1", port: 0 }, cb))).toBe(-errno.EADDRNOTAVAIL!)
      expect(await run((cb) => r.listen(1_000_000, 1, cb))).toBe(-errno.EBADF!)
      // A whole TCP echo on the fallbacks, with a single-shot accept loop.
      const l = await listener(r, loopback(4))
      const clients = await Promise.all(Array.from({ length: 5 }, () => socket(r, S.AF_INET, S.SOCK_STREAM)))
      const accepted: Array<number> = []
      const acceptLoop = (async () => {
        while (accepted.length < clients.length) accepted.push(track(await run((cb) => r.accept(l.fd, cb))))
      })()
      expect(await Promise.all(clients.map((c) => run((cb) => r.connect(c, l.addr, cb))))).toEqual([0, 0, 0, 0, 0])
      await acceptLoop
      expect(accepted.every((fd) => fd >= 0)).toBe(true)
      await echoRoundTrip(r, clients[0]!, accepted.find((a) => JSON.stringify(getpeername(a)) === JSON.stringify(getsockname(clients[0]!)))!, pseudoRandomBytes(64 * 1024, 9))
      // A cancel of a direct op is accepted but the op keeps its real result.
      const rec = record()
      const id = r.socket(S.AF_INET, S.SOCK_DGRAM, 0, rec.cb)
      expect(r.cancel(id)).toBe(true)
      const end = await rec.final
      expect(end.res).toBeGreaterThanOrEqual(0)
      track(end.res)
    } finally {
      r.close()
    }
  })

  it("what has no fallback throws UnsupportedOpError", async () => {
    const r = new Ring({ testHideOps: hidden })
    try {
      const fd = await socket(r, S.AF_INET, S.SOCK_STREAM)
      expect(() => r.accept(fd, () => {}, { multishot: true })).toThrow(UnsupportedOpError)
      expect(() => r.registerBufRing({ entries: 8, size: 4096 })).toThrow(UnsupportedOpError)
      expect(() => r.sendZc(fd, Buffer.alloc(1), 0, 1, 0, () => {})).toThrow(UnsupportedOpError)
      expect(r.inFlight).toBe(0)
    } finally {
      r.close()
    }
  })

  it("ring.close() right after a direct socket(): the callback gets the fd, not -ECANCELED", async () => {
    const r = new Ring({ testHideOps: hidden })
    const got: Array<number> = []
    r.socket(S.AF_INET, S.SOCK_STREAM, 0, (res) => got.push(res))
    r.close()
    expect(got.length).toBe(1)
    expect(got[0]).toBeGreaterThanOrEqual(0)
    closeNow(track(got[0]!))
  })
})

describe("lifetime", () => {
  it("recvFrom's address buffer and a buffer ring stay alive through GCs while their ops are in flight", async () => {
    const a = await socket(ring, S.AF_INET, S.SOCK_DGRAM)
    const b = await socket(ring, S.AF_INET, S.SOCK_DGRAM)
    await ok("bind", (cb) => ring.bind(b, loopback(4), cb))
    await ok("bind", (cb) => ring.bind(a, loopback(4), cb))
    const { client, server } = await connectedPair(ring, loopback(4))
    let from: SocketAddress | undefined
    let text = ""
    const got = new Promise<void>((resolve) => {
      const buf = Buffer.alloc(64)
      ring.recvFrom(b, buf, 0, buf.length, (res, _f, f) => {
        from = f
        text = buf.subarray(0, res).toString()
        resolve()
      })
    })
    let chunk = ""
    const multi = new Promise<void>((resolve) => {
      // No reference to the BufRing but the op's own.
      const br = ring.registerBufRing({ entries: 2, size: 64 })
      const id = ring.recvMultishot(server, br, (res, flags) => {
        if (res > 0) {
          chunk = Buffer.from(br.view(bufferId(flags), res)).toString()
          br.recycle(bufferId(flags))
          ring.cancel(id)
        }
        if ((flags & CQE_F_MORE) === 0) {
          br.close()
          resolve()
        }
      })
    })
    for (let i = 0; i < 3; i++) {
      gc()
      await sleep(5)
    }
    const msg = Buffer.from("after gc")
    expect(await run((cb) => ring.sendTo(a, msg, 0, msg.length, getsockname(b)!, cb))).toBe(msg.length)
    await sendAll(ring, client, msg)
    await got
    await multi
    expect(text).toBe("after gc")
    expect(from).toEqual(getsockname(a))
    expect(chunk).toBe("after gc")
  })

  it("socket ops and buffer rings on a closed ring throw RingClosedError", () => {
    const r = new Ring()
    r.close()
    expect(() => r.socket(S.AF_INET, S.SOCK_STREAM, 0, () => {})).toThrow(RingClosedError)
    expect(() => r.accept(0, () => {})).toThrow(RingClosedError)
    expect(() => r.registerBufRing({ entries: 1, size: 1 })).toThrow(RingClosedError)
    expect(r.supports("socket")).toBe(true)
  })
})

describe("no fd leaks", () => {
  it("a fresh ring running echo, multishot accept and buffer rings leaves the fd count as it was", async () => {
    closeTracked()
    const before = fdCount()
    const r = new Ring()
    const { client, server, listen } = await connectedPair(r, loopback(6))
    await echoRoundTrip(r, client, server, pseudoRandomBytes(128 * 1024, 2))
    const rec = record()
    const accepted: Array<number> = []
    const id = r.accept(listen, (res, flags) => {
      rec.cb(res, flags)
      if (res >= 0) accepted.push(res)
    }, { multishot: true })
    const cs = await Promise.all(Array.from({ length: 5 }, () => socket(r, S.AF_INET6, S.SOCK_STREAM)))
    await Promise.all(cs.map((c) => run((cb) => r.connect(c, getsockname(listen)!, cb))))
    while (accepted.length < 5) await sleep(2)
    r.cancel(id)
    await rec.final
    const br = r.registerBufRing({ entries: 4, size: 4096 })
    r.recvMultishot(accepted[0]!, br, () => {})
    for (const fd of accepted) await ok("close", (cb) => r.closeFd(fd, cb))
    await sleep(10)
    r.close()
    closeTracked()
    expect(fdCount()).toBe(before)
  })
})
