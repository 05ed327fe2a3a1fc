// The fuzzer of the native boundary, run by fuzz.test.ts as a child process inside its own
// mount and network namespaces, with its working directory (argv[2]) the one writable place.
//
// Every case calls one Ring op (or probe, pipe2, a socket call, a BufRing call, new Ring)
// with arguments drawn from a seeded generator: right and wrong types, edge and huge
// numbers, NaN, BigInt, detached / resizable / shared buffers, views left out of bounds,
// fds that are open, closed or never existed, paths with NUL bytes or too long. The property:
// each call either throws TypeError/RangeError (or another typed error) synchronously with
// nothing left queued, or calls back through its completion (once; multishot: until a call
// without F_MORE) with a result that is a byte count, an fd, 0 or a known -errno. Buffers in
// flight are transferred, resized and dropped under GC pressure meanwhile. At the end no op is
// in flight and the process has the fds it started with.
//
// Only what the child opened itself is ever a target: its own files, directories, pipes and
// loopback sockets, numbers it closed (checked closed right before use) and numbers above
// any fd table. Paths are relative names without "..", so nothing outside the working
// directory is reachable (and the namespace makes every other mount read-only anyway).
//
// Prints one JSON line (the report) on stdout; exit code 0 when no case broke the property.
// EFFIO_FUZZ_DEBUG=1 prints progress on stderr (a run that hangs shows where).
import fs from "node:fs"
import path from "node:path"
import { MessageChannel } from "node:worker_threads"
import {
  type BufRing,
  bufferId,
  constants,
  CQE_F_MORE,
  decodeSockaddr,
  encodeSockaddr,
  errnoName,
  getpeername,
  getsockname,
  getsockopt,
  type OpCallback,
  pipe2,
  probe,
  Ring,
  type RingOptions,
  copyFileRange,
  setsockopt,
  socketConstants as S,
  type SocketAddress,
  trySend
} from "../src/index.js"
import { rng } from "../../../test-utils/random.js"
import { gc } from "./helpers.js"

const C = constants as Record<string, number>
const seed = Number(process.env.EFFIO_FUZZ_SEED ?? Date.now() % 2 ** 31)
const totalCases = Number(process.env.EFFIO_FUZZ_CASES ?? 100_000)
const work = path.resolve(process.argv[2] ?? ".")
process.chdir(work)
const debug = process.env.EFFIO_FUZZ_DEBUG === "1" ? (msg: string) => process.stderr.write(`fuzz: ${msg}\n`) : () => {}
const countFds = (): number => fs.readdirSync("/proc/self/fd").length
const fdList = (): string =>
  fs.readdirSync("/proc/self/fd").map((fd) => {
    try {
      return `${fd}=${fs.readlinkSync(`/proc/self/fd/${fd}`)}`
    } catch {
      return fd
    }
  }).join(", ")
let fdList0 = ""

const r = rng(seed)
const below = (n: number): number => r(n)
const chance = (p: number): boolean => r(1_000_000) < p * 1_000_000
const pick = <T>(xs: ReadonlyArray<T>): T => xs[r(xs.length)]!

// ---- the report -------------------------------------------------------------------------

const failures: Array<string> = []
const fail = (what: string): void => {
  if (failures.length < 50) failures.push(what)
}
const stats = {
  cases: 0,
  threwType: 0,
  threwRange: 0,
  threwOther: 0,
  submitted: 0,
  completions: 0,
  errnos: 0,
  mutations: 0,
  cancelsAtDrain: 0,
  recancelled: 0, // ops still running 100 ms after their first cancel at the drain
  recancelledOps: {} as Record<string, number>,
  rings: 1,
  byOp: {} as Record<string, { calls: number; threw: number; completed: number }>
}

// The error a hostile argument (a getter, a Proxy trap, valueOf) throws: the caller's own,
// which may surface as it is.
class PlantedError extends Error {}

const classify = (op: string, e: unknown): void => {
  if (e instanceof TypeError) stats.threwType++
  else if (e instanceof RangeError) stats.threwRange++
  else if (e instanceof PlantedError) stats.threwOther++
  else {
    const code = (e as { code?: unknown } | null)?.code
    // Typed: RingClosedError, UnsupportedOpError, BufRingBusyError (ERR_*), and the
    // SystemError-shaped errors of the synchronous calls (an errno and its name).
    const typed = typeof code === "string" && (code.startsWith("ERR_") || typeof (e as { errno?: unknown }).errno === "number")
    if (typed) stats.threwOther++
    else fail(`${op}: untyped throw ${String((e as Error)?.stack ?? e)}`)
  }
}

// ---- resources --------------------------------------------------------------------------

type Kind = "file" | "dir" | "pipeR" | "pipeW" | "tcp" | "listener" | "udp" | "unix" | "other"
interface Res {
  fd: number
  kind: Kind
  dev: number
  ino: number
}
const open = new Map<number, Res>()
const closed = new Set<number>()

const identity = (fd: number): { dev: number; ino: number } | undefined => {
  try {
    const st = fs.fstatSync(fd)
    return { dev: st.dev, ino: st.ino }
  } catch {
    return undefined
  }
}
const adopt = (fd: number, kind: Kind): void => {
  const id = identity(fd)
  if (id === undefined) return
  closed.delete(fd)
  open.set(fd, { fd, kind, ...id })
}
// Closes an fd only if it is still the one the fuzzer opened (a fuzzed close may have
// closed it already, and its number been reused).
const release = (fd: number): void => {
  const res = open.get(fd)
  open.delete(fd)
  if (res === undefined) return
  const id = identity(fd)
  if (id !== undefined && id.dev === res.dev && id.ino === res.ino) fs.closeSync(fd)
  closed.add(fd)
}

const ofKind = (...kinds: Array<Kind>): number | undefined => {
  const xs = [...open.values()].filter((x) => kinds.includes(x.kind))
  return xs.length === 0 ? undefined : pick(xs).fd
}

// ---- value generators -------------------------------------------------------------------

const hostile = (): unknown =>
  pick([
    {
      valueOf: () => {
        throw new PlantedError("valueOf")
      }
    },
    new Proxy({}, {
      get: () => {
        throw new PlantedError("get")
      },
      has: () => {
        throw new PlantedError("has")
      }
    }),
    Object.defineProperty({}, "length", {
      get: () => {
        throw new PlantedError("length")
      }
    })
  ])

// Wrong types and out-of-range numbers; never a small non-negative integer (as an fd that
// could name stdio or the ring) and never -0 (which the addon reads as 0).
const badValue = (): unknown =>
  pick([
    undefined, null, NaN, Infinity, -Infinity, 0.5, -1.5, -1, -2, -(2 ** 31), -(2 ** 31) - 1, 2 ** 31, 2 ** 32,
    2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e308, -1e308, 5n, -1n, 2n ** 64n, "3", "", "0x10", true, false, {}, [], [1],
    () => 1, Symbol("s"), new Number(3), new String("a"), new Date(0), hostile()
  ])

const int = (lo: number, hi: number): number => {
  const span = hi - lo
  switch (below(6)) {
    case 0:
      return lo
    case 1:
      return hi
    case 2:
      return Math.min(hi, lo + below(16))
    default:
      return lo + Math.floor((below(2 ** 30) / 2 ** 30) * (span + 1))
  }
}
const num = (lo: number, hi: number, pBad = 0.15): unknown => (chance(pBad) ? badValue() : int(lo, hi))
const u32 = (pBad = 0.15): unknown => (chance(pBad) ? badValue() : chance(0.5) ? below(16) : below(2 ** 32))
const flags = (known: ReadonlyArray<number>, pBad = 0.1): unknown => {
  if (chance(pBad)) return badValue()
  if (chance(0.1)) return below(2 ** 31)
  let f = 0
  for (const k of known) if (chance(0.3)) f |= k
  return f
}

// A number that names no fd: past any fd table (RLIMIT_NOFILE is far below 2^20 here).
const noSuchFd = (): number => pick([2 ** 20 + below(1000), 2 ** 31 - 1, 999_999])
// A number the fuzzer closed, still closed right now.
const closedFd = (): number | undefined => {
  for (const fd of closed) {
    if (chance(0.5)) continue
    if (identity(fd) === undefined) return fd
    closed.delete(fd) // reused: by the fuzzer (then in `open`) or by someone else (never touched)
  }
  return undefined
}
const fdArg = (...kinds: Array<Kind>): unknown => {
  const roll = below(100)
  if (roll < 70) {
    const fd = kinds.length > 0 && chance(0.8) ? ofKind(...kinds) : ofKind("file", "dir", "pipeR", "pipeW", "tcp", "listener", "udp", "unix", "other")
    if (fd !== undefined) return fd
  }
  if (roll < 80) {
    const fd = closedFd()
    if (fd !== undefined) return fd
  }
  if (roll < 88) return noSuchFd()
  return badValue()
}
const dirfdArg = (): unknown => (chance(0.3) ? C.AT_FDCWD! : chance(0.6) ? (ofKind("dir") ?? C.AT_FDCWD!) : fdArg())

const names = ["a", "b", "c", "f0", "f1", "d1", "d1/x", "d1/y", "d2", "d2/d3", "d2/d3/z", "s.sock", "l1", ".", "d1/."]
const pathArg = (): unknown => {
  const roll = below(100)
  if (roll < 72) return pick(names)
  if (roll < 75) return ""
  if (roll < 79) return "n".repeat(256 + below(100)) // a component past NAME_MAX
  if (roll < 82) return "d/".repeat(2049 + below(10)) // past PATH_MAX
  if (roll < 87) return pick(names) + "\0" + pick(names)
  if (roll < 89) return "\ud800" + pick(names) // a lone surrogate
  if (roll < 90) return "m".repeat(1 << 20)
  return badValue()
}

const port = (): number => {
  const p = listenPort
  return p !== undefined && chance(0.5) ? p : below(65536)
}
const addressArg = (): unknown => {
  const roll = below(100)
  if (roll < 30) return { family: 4, host: pick(["127.0.0.1", "127.0.0.2"]), port: port() }
  if (roll < 45) return { family: 6, host: pick(["::1", "::ffff:127.0.0.1"]), port: port() }
  if (roll < 55) return { path: pick(["s.sock", "d1/s2", "", "u" + below(4)]) }
  if (roll < 62) return { path: "fuzz-" + below(8), abstract: true } // this network namespace's own
  if (roll < 66) return { path: "p".repeat(100 + below(20)) }
  if (roll < 70) return { path: "a\0b" }
  if (roll < 76) return { family: pick([4, 6]), host: pick(["localhost", "999.1.1.1", "", "::g", "127.0.0.1\0"]), port: port() }
  if (roll < 80) return { family: pick([0, 5, "4", NaN, undefined]), host: "127.0.0.1", port: 1 }
  if (roll < 86) return { family: 4, host: "127.0.0.1", port: badValue() }
  if (roll < 90) return { family: 6, host: "::1", port: 1, scopeId: badValue(), flowinfo: badValue() }
  if (roll < 94) return hostile()
  return badValue()
}

// Buffers the fuzzer made itself, which it may transfer or resize while an op uses them.
type Resizable = ArrayBuffer & { resize(n: number): void; readonly maxByteLength: number }
const RAB = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable
interface Made {
  readonly value: unknown
  readonly own?: ArrayBuffer
  readonly resizable?: Resizable
}
const g = globalThis as unknown as Record<string, (new (...a: Array<unknown>) => ArrayBufferView) | undefined>
const wide = ["Int16Array", "Uint16Array", "Float16Array", "Int32Array", "Float32Array", "Float64Array", "BigInt64Array"]
  .map((k) => g[k])
  .filter((c): c is new (...a: Array<unknown>) => ArrayBufferView => c !== undefined)
const size = (): number => pick([0, 1, 7, 16, 100, 256, 512, 4096, 4096, 65536])
const transferAway = (ab: ArrayBuffer): void => void structuredClone(ab, { transfer: [ab] })

const bytes = (): Made => {
  const n = size()
  switch (below(16)) {
    case 0:
    case 1:
    case 2: {
      const u = new Uint8Array(n)
      return { value: u, own: u.buffer }
    }
    case 3: {
      const ab = new ArrayBuffer(n + 32)
      const off = below(32)
      return { value: new Uint8Array(ab, off, n), own: ab }
    }
    case 4:
      return { value: Buffer.allocUnsafe(n) } // may be a slice of node's shared pool: never mutated
    case 5: {
      const ab = new ArrayBuffer(n + 8)
      return { value: new DataView(ab, below(8), n), own: ab }
    }
    case 6: {
      const Ctor = pick(wide)
      const v = new Ctor(Math.max(1, n >> 3))
      return { value: v, own: v.buffer as ArrayBuffer }
    }
    case 7: {
      const ab = new ArrayBuffer(n)
      return { value: ab, own: ab }
    }
    case 8:
      return { value: new Uint8Array(new SharedArrayBuffer(Math.max(1, n))) }
    case 9: {
      const SAB = SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer
      return { value: new Uint8Array(new SAB(n, { maxByteLength: n + 4096 })) }
    }
    case 10:
    case 11: {
      const rab = new RAB(n, { maxByteLength: 65536 + 4096 })
      const view = chance(0.5) ? new Uint8Array(rab) : new Uint8Array(rab, 0, n)
      return { value: view, own: rab, resizable: rab }
    }
    case 12: {
      // A view past the end of its (shrunken) buffer.
      const rab = new RAB(64, { maxByteLength: 4096 })
      const view = new Uint8Array(rab, 32, 32)
      rab.resize(below(32))
      return { value: view, resizable: rab }
    }
    case 13: {
      const u = new Uint8Array(n)
      transferAway(u.buffer)
      return { value: chance(0.5) ? u : u.buffer }
    }
    case 14:
      return { value: new Proxy(new Uint8Array(n), {}) }
    default:
      return { value: badValue() }
  }
}
const viewLength = (v: unknown): number => {
  try {
    return v instanceof ArrayBuffer ? v.byteLength : ArrayBuffer.isView(v) ? v.byteLength : 0
  } catch {
    return 0
  }
}
// (buffer, offset, length) mostly inside the buffer, sometimes past it or of the wrong type.
const range = (made: Made): [unknown, unknown] => {
  const len = viewLength(made.value)
  if (chance(0.8)) {
    const off = below(len + 1)
    return [off, below(len - off + 1)]
  }
  return [num(0, len + 2, 0.5), num(0, len + 4096, 0.5)]
}

// ---- ops --------------------------------------------------------------------------------

interface Pending {
  readonly op: string
  readonly ring: Ring
  id: number
  done: boolean
  readonly made: Array<Made>
  readonly onResult?: (res: number, flags: number) => void
}
const pending = new Map<number, Pending>() // by a serial, not the op id (ids are per ring)
// copyFileRange calls whose callback has not run yet, and the two files they copy between.
let offloaded = 0
const copyFds: Array<number> = []
let serial = 0

const rings: Array<Ring> = []
let listenPort: number | undefined
const bufRings: Array<BufRing> = []

const resultOk = (res: unknown, flags: unknown): boolean =>
  Number.isInteger(res) && Number.isInteger(flags) && (res as number) >= -4095 && (res as number) <= 2 ** 31 - 1 &&
  ((res as number) >= 0 || !errnoName(res as number).match(/^E\d+$/))

// Runs one op call on a ring: `call(ring, cb)` returns the op id or throws.
const inFlightMade: Array<Made> = []
const submit = (
  op: string,
  made: Array<Made>,
  call: (ring: Ring, cb: OpCallback) => number,
  onResult?: (res: number, flags: number) => void,
  ring: Ring = rings.length > 1 && chance(0.2) ? pick(rings) : rings[0]!
): boolean => {
  const counters = (stats.byOp[op] ??= { calls: 0, threw: 0, completed: 0 })
  counters.calls++
  const before = ring.inFlight
  const key = serial++
  const p: Pending = { op, ring, id: -1, done: false, made, onResult }
  let inCall = true
  const cb: OpCallback = (res, cqeFlags) => {
    if (inCall) fail(`${op}: called back synchronously`)
    if (p.done) {
      fail(`${op}: called back after its final completion (res ${res}, flags ${cqeFlags})`)
      return
    }
    if (!resultOk(res, cqeFlags)) fail(`${op}: completed with res ${String(res)} flags ${String(cqeFlags)}`)
    stats.completions++
    if (res < 0) stats.errnos++
    if ((cqeFlags & CQE_F_MORE) === 0) {
      p.done = true
      pending.delete(key)
      counters.completed++
    }
    try {
      p.onResult?.(res, cqeFlags)
    } catch (e) {
      fail(`${op}: the fuzzer's own completion handler threw ${String(e)}`)
    }
  }
  let id: number
  try {
    id = call(ring, cb)
  } catch (e) {
    inCall = false
    counters.threw++
    classify(op, e)
    if (ring.inFlight !== before) fail(`${op}: threw ${String(e)} but inFlight went ${before} -> ${ring.inFlight}`)
    return false
  }
  inCall = false
  if (!Number.isSafeInteger(id) || id < 0) fail(`${op}: returned id ${String(id)}`)
  if (ring.inFlight !== before + 1) fail(`${op}: submitted, but inFlight went ${before} -> ${ring.inFlight}`)
  p.id = id
  pending.set(key, p)
  inFlightMade.push(...made)
  stats.submitted++
  return true
}

// Sync calls: return a value or throw a typed error.
const syncCall = (op: string, call: () => unknown): unknown => {
  const counters = (stats.byOp[op] ??= { calls: 0, threw: 0, completed: 0 })
  counters.calls++
  try {
    const v = call()
    counters.completed++
    return v
  } catch (e) {
    counters.threw++
    classify(op, e)
    return undefined
  }
}

const newFd = (kind: Kind) => (res: number): void => {
  if (res >= 0) adopt(res, kind)
}

const cast = <T>(v: unknown): T => v as T
const statxOut = (): Made => (chance(0.7) ? { value: new Uint8Array(256 + below(64)) } : bytes())
const cbArg = (cb: OpCallback): OpCallback => (chance(0.01) ? cast<OpCallback>(pick([undefined, null, 1, "cb", {}])) : cb)
const socketKind = (type: unknown): Kind => (typeof type === "number" && (type & 0xf) === S.SOCK_DGRAM ? "udp" : "tcp")

const ops: ReadonlyArray<readonly [string, () => void]> = [
  ["nop", () => submit("nop", [], (ring, cb) => ring.nop(cbArg(cb)))],
  ...(["read", "write"] as const).map((op) => [op, () => {
    const m = bytes()
    const [off, len] = range(m)
    submit(op, [m], (ring, cb) => ring[op](cast(fdArg("file", "pipeR", "pipeW", "tcp", "unix")), cast(m.value), cast(off), cast(len), cast(chance(0.5) ? -1 : num(-1, 2 ** 40)), cbArg(cb), cast(chance(0.9) ? undefined : chance(0.8) ? { async: chance(0.5) } : badValue())))
  }] as const),
  ...(["readv", "writev"] as const).map((op) => [op, () => {
    const ms = Array.from({ length: chance(0.05) ? 1100 : below(5) }, () => bytes())
    const list = chance(0.9) ? ms.map((m) => m.value) : badValue()
    submit(op, ms, (ring, cb) => ring[op](cast(fdArg("file", "pipeR", "pipeW", "tcp")), cast(list), cast(chance(0.5) ? -1 : num(-1, 2 ** 40)), cbArg(cb)))
  }] as const),
  ["fsync", () => submit("fsync", [], (ring, cb) => ring.fsync(cast(fdArg("file", "dir")), cbArg(cb)))],
  ["fdatasync", () => submit("fdatasync", [], (ring, cb) => ring.fdatasync(cast(fdArg("file")), cbArg(cb)))],
  ["openat2", () => {
    const known = [C.O_WRONLY!, C.O_RDWR!, C.O_CREAT!, C.O_EXCL!, C.O_TRUNC!, C.O_APPEND!, C.O_NONBLOCK!, C.O_DIRECTORY!, C.O_NOFOLLOW!, C.O_PATH!, C.O_TMPFILE!]
    const how = chance(0.9)
      ? { flags: flags(known), mode: chance(0.7) ? num(0, 0o7777) : undefined, resolve: chance(0.5) ? flags([C.RESOLVE_BENEATH!, C.RESOLVE_NO_SYMLINKS!, C.RESOLVE_IN_ROOT!, C.RESOLVE_NO_XDEV!, C.RESOLVE_NO_MAGICLINKS!]) : undefined }
      : badValue()
    submit("openat2", [], (ring, cb) => ring.openat2(cast(dirfdArg()), cast(pathArg()), cast(how), cbArg(cb)), newFd("other"))
  }],
  ["closeFd", () => {
    // Only fds the fuzzer owns, or numbers that name nothing: never a closed number, which
    // something opened in the same submission may have taken.
    const fd = chance(0.8) ? ofKind("file", "dir", "pipeR", "pipeW", "tcp", "udp", "unix", "other") : undefined
    const arg = fd ?? (chance(0.5) ? noSuchFd() : badValue())
    if (submit("closeFd", [], (ring, cb) => ring.closeFd(cast(arg), cbArg(cb))) && fd !== undefined) {
      open.delete(fd)
      closed.add(fd)
    }
  }],
  ["statx", () => {
    const m = statxOut()
    submit("statx", [m], (ring, cb) => ring.statx(cast(dirfdArg()), cast(pathArg()), cast(flags([C.AT_EMPTY_PATH!, C.AT_SYMLINK_NOFOLLOW!])), cast(u32()), cast(m.value), cbArg(cb)))
  }],
  ["unlinkat", () => submit("unlinkat", [], (ring, cb) => ring.unlinkat(cast(dirfdArg()), cast(pathArg()), cast(flags([C.AT_REMOVEDIR!])), cbArg(cb)))],
  ["renameat", () => submit("renameat", [], (ring, cb) => ring.renameat(cast(dirfdArg()), cast(pathArg()), cast(dirfdArg()), cast(pathArg()), cast(flags([1, 2, 4])), cbArg(cb)))],
  ["linkat", () => submit("linkat", [], (ring, cb) => ring.linkat(cast(dirfdArg()), cast(pathArg()), cast(dirfdArg()), cast(pathArg()), cast(flags([C.AT_SYMLINK_FOLLOW!, C.AT_EMPTY_PATH!])), cbArg(cb)))],
  ["mkdirat", () => submit("mkdirat", [], (ring, cb) => ring.mkdirat(cast(dirfdArg()), cast(pathArg()), cast(num(0, 0o7777)), cbArg(cb)))],
  ["symlinkat", () => submit("symlinkat", [], (ring, cb) => ring.symlinkat(cast(pathArg()), cast(dirfdArg()), cast(pathArg()), cbArg(cb)))],
  // Lengths that succeed stay small (the disk is shared); the huge ones are past any file
  // system's maximum file size, so they fail before allocating anything.
  ["fallocate", () => submit("fallocate", [], (ring, cb) => ring.fallocate(cast(fdArg("file")), cast(flags([1, 2, 8, 16])), cast(chance(0.9) ? num(0, 1 << 20) : 2 ** 53), cast(chance(0.9) ? num(1, 1 << 20) : 2 ** 53), cbArg(cb)))],
  ["ftruncate", () => submit("ftruncate", [], (ring, cb) => ring.ftruncate(cast(fdArg("file")), cast(chance(0.9) ? num(0, 1 << 20) : pick([2 ** 53, 2 ** 40])), cbArg(cb)))],
  ["splice", () => {
    // Pipes and files only. A splice between a socket and a pipe holds the pipe's lock while
    // the socket blocks (SPLICE_F_NONBLOCK does not reach a datagram socket's read), and a
    // close of either end of that pipe then waits for the lock in the closing thread (the
    // last fput runs as task work on return to user space, IORING_OP_CLOSE included): the
    // event loop would stop until the socket moves. So no sockets, and no closed numbers
    // (which a socket opened in the same submission may have taken).
    const end = (...kinds: Array<Kind>): unknown => (chance(0.85) ? (ofKind(...kinds) ?? noSuchFd()) : chance(0.5) ? noSuchFd() : badValue())
    submit("splice", [], (ring, cb) => ring.splice(cast(end("pipeR", "file")), cast(chance(0.6) ? -1 : num(-1, 1 << 20)), cast(end("pipeW", "file")), cast(chance(0.6) ? -1 : num(-1, 1 << 20)), cast(num(0, 0x7ffff000)), cast(flags([1, 2, 4, 8])), cbArg(cb)))
  }],
  ["timeout", () => {
    const options = chance(0.9) ? { count: chance(0.5) ? undefined : num(0, 4), flags: chance(0.6) ? undefined : flags([1, 2, 4, 8, 16, 32, 64]) } : badValue()
    submit("timeout", [], (ring, cb) => ring.timeout(cast(chance(0.5) ? below(2_000_000) : num(0, 2 ** 53)), cbArg(cb), cast(options)))
  }],
  ["pollAdd", () => submit("pollAdd", [], (ring, cb) => ring.pollAdd(cast(fdArg("pipeR", "pipeW", "tcp", "listener", "udp")), cast(flags([1, 4, 8, 16, 0x2000])), cbArg(cb), cast(chance(0.3))))],
  ["asyncCancel", () => {
    const target = [...pending.values()].find(() => chance(0.3))?.id ?? num(0, 2 ** 53, 0.3)
    submit("asyncCancel", [], (ring, cb) => ring.asyncCancel(cast(target), cbArg(cb)))
  }],
  ["cancel", () => {
    const p = [...pending.values()].find(() => chance(0.3))
    syncCall("cancel", () => (p?.ring ?? pick(rings)).cancel(cast(p?.id ?? num(0, 2 ** 53, 0.3))))
  }],
  ["socket", () => {
    const type = chance(0.8) ? pick([S.SOCK_STREAM, S.SOCK_DGRAM, S.SOCK_STREAM | S.SOCK_NONBLOCK, S.SOCK_SEQPACKET]) : num(0, 2 ** 31)
    const domain = chance(0.85) ? pick([S.AF_INET, S.AF_INET6, S.AF_UNIX]) : num(0, 64)
    submit("socket", [], (ring, cb) => ring.socket(cast(domain), cast(type), cast(chance(0.8) ? 0 : num(0, 300)), cbArg(cb)), newFd(socketKind(type)))
  }],
  ["bind", () => submit("bind", [], (ring, cb) => ring.bind(cast(fdArg("tcp", "udp", "unix")), cast(addressArg()), cbArg(cb)))],
  ["listen", () => submit("listen", [], (ring, cb) => ring.listen(cast(fdArg("tcp", "unix")), cast(num(0, 2 ** 31 - 1)), cbArg(cb)))],
  ["accept", () => {
    const multi = chance(0.3)
    submit("accept", [], (ring, cb) => ring.accept(cast(fdArg("listener", "tcp")), cbArg(cb), cast(chance(0.9) ? { multishot: multi && ring.supports("acceptMultishot") } : badValue())), newFd("tcp"))
  }],
  ["connect", () => submit("connect", [], (ring, cb) => ring.connect(cast(fdArg("tcp", "udp", "unix")), cast(addressArg()), cbArg(cb)))],
  ...(["send", "sendZc", "recv"] as const).map((op) => [op, () => {
    const ring = rings.length > 1 && chance(0.2) ? pick(rings) : rings[0]!
    if (op === "sendZc" && !ring.supports("sendZc")) return
    const m = bytes()
    const [off, len] = range(m)
    const f = op === "recv" ? flags([S.MSG_PEEK, S.MSG_DONTWAIT, S.MSG_WAITALL, S.MSG_TRUNC]) : flags([S.MSG_DONTWAIT, S.MSG_MORE])
    submit(op, [m], (ring, cb) => ring[op](cast(fdArg("tcp", "udp", "unix")), cast(m.value), cast(off), cast(len), cast(f), cbArg(cb)), undefined, ring)
  }] as const),
  ["sendTo", () => {
    const m = bytes()
    const [off, len] = range(m)
    submit("sendTo", [m], (ring, cb) => ring.sendTo(cast(fdArg("udp", "unix", "tcp")), cast(m.value), cast(off), cast(len), cast(addressArg()), cbArg(cb), cast(flags([S.MSG_DONTWAIT]))))
  }],
  ["recvFrom", () => {
    const m = bytes()
    const [off, len] = range(m)
    submit("recvFrom", [m], (ring, cb) => ring.recvFrom(cast(fdArg("udp", "unix", "tcp")), cast(m.value), cast(off), cast(len), (res, f, from) => {
      if (res >= 0 && from !== undefined && (typeof from !== "object" || from === null)) fail(`recvFrom: from is ${String(from)}`)
      cb(res, f)
    }, cast(flags([S.MSG_DONTWAIT, S.MSG_PEEK]))))
  }],
  ...(["recvMultishot", "recvSelect"] as const).map((op) => [op, () => {
    const ring = rings[0]!
    if (op === "recvMultishot" && !ring.supports("recvMultishot")) return
    const br = bufRings.length > 0 && chance(0.85) ? pick(bufRings) : cast<BufRing>(pick([undefined, {}, rings[1] ? rings[1] : null]))
    submit(op, [], (ring, cb) => ring[op](cast(fdArg("tcp", "udp", "unix")), br, cbArg(cb), cast(flags([S.MSG_DONTWAIT]))), (res, f) => {
      const bid = bufferId(f)
      if (bid < 0) return
      const b = br as BufRing
      if (res >= 0) syncCall("bufRing.view", () => b.view(bid, chance(0.9) ? res : cast(badValue())))
      syncCall("bufRing.recycle", () => b.recycle(bid))
    }, ring)
  }] as const),
  ["shutdown", () => submit("shutdown", [], (ring, cb) => ring.shutdown(cast(fdArg("tcp", "unix", "listener")), cast(num(0, 2)), cbArg(cb)))],
  ["registerBufRing", () => {
    const ring = rings[0]!
    if (bufRings.length >= 4) {
      const b = bufRings.shift()!
      syncCall("bufRing.close", () => b.close())
      if (b.open) bufRings.push(b) // busy: an op still selects from it
      return
    }
    const options = chance(0.9) ? { entries: chance(0.8) ? 2 ** below(9) : num(0, 40000), size: chance(0.8) ? 1 + below(8192) : num(0, 2 ** 31) } : badValue()
    const b = syncCall("registerBufRing", () => ring.registerBufRing(cast(options))) as BufRing | undefined
    if (b !== undefined) bufRings.push(b)
  }],
  ["bufRing.viewRecycle", () => {
    const b = bufRings.length > 0 ? pick(bufRings) : undefined
    if (b === undefined) return
    syncCall("bufRing.view", () => b.view(cast(num(0, b.entries + 2, 0.3)), cast(num(0, b.size + 2, 0.3))))
    syncCall("bufRing.recycle", () => b.recycle(cast(num(0, b.entries + 2, 0.3))))
  }],
  ["getsockname", () => syncCall("getsockname", () => getsockname(cast(fdArg("tcp", "udp", "unix", "listener"))))],
  ["getpeername", () => syncCall("getpeername", () => getpeername(cast(fdArg("tcp", "unix"))))],
  ["setsockopt", () => {
    const value = chance(0.6) ? num(-(2 ** 31), 2 ** 31 - 1) : chance(0.3) ? pick([true, false]) : bytes().value
    const level = chance(0.8) ? pick([S.SOL_SOCKET, S.IPPROTO_TCP, S.IPPROTO_IP, S.IPPROTO_IPV6]) : num(0, 300)
    syncCall("setsockopt", () => setsockopt(cast(fdArg("tcp", "udp", "unix", "listener")), cast(level), cast(num(0, 80)), cast(value)))
  }],
  ["getsockopt", () => syncCall("getsockopt", () => getsockopt(cast(fdArg("tcp", "udp", "unix", "listener")), cast(pick([S.SOL_SOCKET, S.IPPROTO_TCP, 0, 300])), cast(num(0, 80))))],
  ["encodeSockaddr", () => {
    const bytesOut = syncCall("encodeSockaddr", () => encodeSockaddr(cast(addressArg()))) as Uint8Array | undefined
    if (bytesOut !== undefined) syncCall("decodeSockaddr", () => decodeSockaddr(bytesOut))
  }],
  ["decodeSockaddr", () => syncCall("decodeSockaddr", () => decodeSockaddr(cast(bytes().value)))],
  ["trySend", () => {
    const m = bytes()
    const [off, len] = range(m)
    const res = syncCall("trySend", () => trySend(cast(fdArg("tcp", "unix", "udp", "pipeW", "file")), cast(m.value), cast(off), cast(len)))
    if (res !== undefined && !resultOk(res, 0)) fail(`trySend: returned ${String(res)}`)
  }],
  // copy_file_range on the threadpool: its fds are the two files kept for it (never closed by
  // the fuzzer, so a copy still running cannot land in a number reused meanwhile), numbers
  // that name nothing, or bad values.
  ["copyFileRange", () => {
    const fd = () => (chance(0.8) ? pick(copyFds) : chance(0.5) ? noSuchFd() : badValue())
    const counters = (stats.byOp.copyFileRange ??= { calls: 0, threw: 0, completed: 0 })
    counters.calls++
    let inCall = true
    let calls = 0
    const ours = (res: number) => {
      if (inCall) fail("copyFileRange: called back synchronously")
      if (++calls > 1) fail("copyFileRange: called back twice")
      if (!resultOk(res, 0)) fail(`copyFileRange: completed with ${String(res)}`)
      counters.completed++
      offloaded--
    }
    // A bad callback may still be a function (`() => 1`): that call is not counted.
    const cb = chance(0.02) ? badValue() : ours
    try {
      copyFileRange(cast(fd()), cast(num(0, 4096)), cast(fd()), cast(num(0, 4096)), cast(num(0, 8192)), cast(cb))
      if (cb === ours) offloaded++
    } catch (e) {
      counters.threw++
      classify("copyFileRange", e)
    }
    inCall = false
  }],
  ["pipe2", () => {
    const fds = syncCall("pipe2", () => (chance(0.5) ? pipe2() : pipe2(cast(num(0, 1 << 21, 0.3))))) as [number, number] | undefined
    if (fds !== undefined) {
      adopt(fds[0], "pipeR")
      adopt(fds[1], "pipeW")
    }
  }],
  ["probe", () => {
    if (!chance(0.05)) return // a probe sets up a ring of its own: keep them rare
    const p = syncCall("probe", () => probe()) as ReturnType<typeof probe> | undefined
    if (p !== undefined && p.available !== true) fail(`probe: ${JSON.stringify(p)}`)
  }],
  ["new Ring", () => {
    if (!chance(0.05)) return
    if (rings.length >= 4) {
      // Closed with whatever is in flight: the drain completes each op through its callback.
      const old = rings.splice(1 + below(rings.length - 1), 1)[0]!
      syncCall("ring.close", () => old.close())
      return
    }
    const options: unknown = chance(0.8)
      ? {
          entries: chance(0.7) ? 2 ** below(8) : num(0, 40000),
          cqEntries: chance(0.5) ? undefined : num(0, 70000),
          testHideOps: chance(0.7) ? undefined : chance(0.8) ? [pick(["socket", "bind", "listen", "shutdown", "send_zc", "accept_multishot", "recv_multishot", "pbuf_ring", "nope"])] : badValue(),
          testNoCancelAny: chance(0.2),
          testNoExtArg: chance(0.2),
          sqPoll: chance(0.95) ? undefined : chance(0.5) ? true : chance(0.8) ? { idleMs: num(0, 70000) } : badValue()
        }
      : badValue()
    const ring = syncCall("new Ring", () => new Ring(cast<RingOptions>(options))) as Ring | undefined
    if (ring !== undefined) {
      rings.push(ring)
      stats.rings++
    }
  }]
]

// ---- buffers changed while their op is in flight ------------------------------------------

const hasTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === "function"
const mutate = (m: Made): void => {
  stats.mutations++
  const ab = m.own
  try {
    switch (below(4)) {
      case 0:
        if (ab) transferAway(ab)
        break
      case 1:
        if (ab && hasTransfer) (ab as ArrayBuffer & { transfer(n?: number): ArrayBuffer }).transfer(chance(0.5) ? undefined : below(8192))
        break
      case 2:
        m.resizable?.resize(below(m.resizable.maxByteLength + 1))
        break
      default: {
        if (!ab) break
        const { port1, port2 } = new MessageChannel()
        port1.postMessage(ab, [ab])
        port1.close()
        port2.close()
      }
    }
  } catch (e) {
    // A transfer refused while the op holds the buffer (Node 22), or one that cannot be done
    // (already detached): TypeError / DataCloneError are the only acceptable answers.
    const name = (e as Error)?.name
    if (!(e instanceof TypeError) && name !== "DataCloneError") fail(`mutation threw ${String(e)}`)
  }
}

// ---- setup, the loop, the end ---------------------------------------------------------------

const once = (ring: Ring, call: (cb: OpCallback) => number): Promise<number> =>
  new Promise((resolve) => {
    call(resolve)
  })

const setup = async (): Promise<void> => {
  const ring = rings[0]!
  fs.mkdirSync("d1", { recursive: true })
  fs.mkdirSync("d2/d3", { recursive: true })
  fs.writeFileSync("f0", "0123456789".repeat(100))
  adopt(fs.openSync("f0", "r+"), "file")
  adopt(fs.openSync("f1", "w+"), "file")
  adopt(fs.openSync(".", fs.constants.O_RDONLY | fs.constants.O_DIRECTORY), "dir")
  adopt(fs.openSync("d1", fs.constants.O_RDONLY | fs.constants.O_DIRECTORY), "dir")
  const [pr, pw] = pipe2()
  adopt(pr, "pipeR")
  adopt(pw, "pipeW")
  // A loopback listener and a connected pair.
  const l = await once(ring, (cb) => ring.socket(S.AF_INET, S.SOCK_STREAM, 0, cb))
  if (l < 0) throw new Error(`socket: ${errnoName(l)}`)
  setsockopt(l, S.SOL_SOCKET, S.SO_REUSEADDR, 1)
  const b = await once(ring, (cb) => ring.bind(l, { family: 4, host: "127.0.0.1", port: 0 }, cb))
  if (b < 0) throw new Error(`bind: ${errnoName(b)} (is lo up in this namespace?)`)
  await once(ring, (cb) => ring.listen(l, 128, cb))
  adopt(l, "listener")
  listenPort = (getsockname(l) as SocketAddress & { port: number }).port
  const c = await once(ring, (cb) => ring.socket(S.AF_INET, S.SOCK_STREAM, 0, cb))
  adopt(c, "tcp")
  const accepted = once(ring, (cb) => ring.accept(l, cb))
  const connected = await once(ring, (cb) => ring.connect(c, { family: 4, host: "127.0.0.1", port: listenPort! }, cb))
  if (connected < 0) throw new Error(`connect: ${errnoName(connected)}`)
  adopt(await accepted, "tcp")
  const u = await once(ring, (cb) => ring.socket(S.AF_INET, S.SOCK_DGRAM, 0, cb))
  adopt(u, "udp")
  const x = await once(ring, (cb) => ring.socket(S.AF_UNIX, S.SOCK_STREAM, 0, cb))
  adopt(x, "unix")
  if (ring.supports("bufRing")) bufRings.push(ring.registerBufRing({ entries: 16, size: 4096 }))
  fs.writeFileSync("c0", "abcdefgh".repeat(1024))
  copyFds.push(fs.openSync("c0", "r+"), fs.openSync("c1", "w+"))
}

// Waits for every op's final completion: a moment for the prompt ones, then cancels for the
// ones that block (reads on empty pipes, accepts, polls, timeouts), re-issued every 100 ms as
// the ring's own close drain does (a cancel that reaches an op while it is being handed to an
// io-wq worker finds nothing to stop), for up to 10 s.
const drain = async (): Promise<void> => {
  const wait = async (ms: number): Promise<void> => {
    const end = performance.now() + ms
    while (pending.size > 0 && performance.now() < end) await new Promise((resolve) => setImmediate(resolve))
  }
  await wait(pending.size > 0 ? 3 : 0)
  for (let round = 0; round < 100 && pending.size > 0; round++) {
    if (round === 1) {
      stats.recancelled += pending.size
      for (const p of pending.values()) stats.recancelledOps[p.op] = (stats.recancelledOps[p.op] ?? 0) + 1
    }
    if (round >= 2) debug(`drain round ${round}: ${[...pending.values()].map((p) => p.op).join(",")}`)
    for (const p of pending.values()) {
      if (!p.ring.info().open) continue
      if (round === 0) stats.cancelsAtDrain++
      try {
        p.ring.cancel(p.id)
      } catch (e) {
        fail(`cancel at the drain threw ${String(e)}`)
      }
    }
    await wait(100)
  }
  for (const p of pending.values()) fail(`${p.op}: no final completion 10 s after its cancel (ring open: ${p.ring.info().open})`)
  pending.clear()
  const end = performance.now() + 10_000
  while (offloaded > 0 && performance.now() < end) await new Promise((resolve) => setTimeout(resolve, 1))
  if (offloaded !== 0) fail(`copyFileRange: ${offloaded} calls not called back 10 s later`)
}

const trimPool = (): void => {
  const all = [...open.values()]
  if (all.length <= 48) return
  for (const res of all.slice(0, all.length - 32)) if (res.kind === "other" || res.kind === "tcp" || res.kind === "udp" || res.kind === "pipeR" || res.kind === "pipeW") release(res.fd)
}

// No write may land outside the working directory: the namespace made everything else read-only.
const confined = (): boolean => {
  for (const outside of [path.dirname(path.dirname(work)), "/tmp", "/"]) {
    try {
      fs.writeFileSync(path.join(outside, `effio-fuzz-escape-${process.pid}`), "x")
      fs.unlinkSync(path.join(outside, `effio-fuzz-escape-${process.pid}`))
      return false
    } catch (e) {
      if ((e as { code?: string }).code !== "EROFS") return false
    }
  }
  return true
}

const main = async (): Promise<void> => {
  const t0 = performance.now()
  const isConfined = confined()
  // The loader (tsx) may still be closing cache files and its sockets: the baseline is the
  // count once it holds still.
  let fdsBefore = countFds()
  for (let still = 0; still < 3; ) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const n = countFds()
    still = n === fdsBefore ? still + 1 : 0
    fdsBefore = n
  }
  fdList0 = fdList()
  rings.push(new Ring())
  await setup()
  debug("setup done")
  const BATCH = 256
  let batches = 0
  while (stats.cases < totalCases) {
    for (let i = 0; i < BATCH && stats.cases < totalCases; i++, stats.cases++) pick(ops)[1]()
    // Some buffers of ops in flight change hands, shrink or grow while the kernel has them.
    for (const m of inFlightMade.splice(0)) if (chance(0.05)) mutate(m)
    if (++batches % 16 === 0) gc()
    debug(`batch ${batches}: ${pending.size} pending`)
    await drain()
    for (const ring of rings) if (ring.inFlight !== 0) fail(`inFlight ${ring.inFlight} after the drain`)
    trimPool()
  }
  for (const b of bufRings) syncCall("bufRing.close", () => b.close())
  for (const ring of rings) ring.close()
  for (const fd of [...open.keys()]) release(fd)
  for (const fd of copyFds.splice(0)) fs.closeSync(fd)
  gc()
  const fdsAfter = countFds()
  if (fdsAfter !== fdsBefore) fail(`fds: ${fdsBefore} before, ${fdsAfter} after: before ${fdList0}; after ${fdList()}`)
  const report = { seed, ...stats, failures, confined: isConfined, fdsBefore, fdsAfter, elapsedMs: Math.round(performance.now() - t0), node: process.version }
  process.stdout.write(JSON.stringify(report) + "\n")
  process.exitCode = failures.length === 0 && isConfined ? 0 : 1
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ seed, fatal: String((e as Error)?.stack ?? e), failures }) + "\n")
  process.exit(1)
})
