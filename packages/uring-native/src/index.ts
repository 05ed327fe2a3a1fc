/**
 * `@effio/uring-native`: one io_uring driven from Node's own event loop.
 *
 * - {@link probe} tells whether io_uring can be used here (never throws).
 * - {@link Ring} owns a ring bound to the current thread's libuv loop. Every op takes a
 *   completion callback `(res, flags) => void` where `res` is the kernel's result (negative
 *   errno on failure) and returns the op's id, which {@link Ring.cancel} accepts.
 *
 * Submissions are queued and flushed with one `io_uring_enter` per loop turn; completions are
 * reaped in batches and delivered with one native→JS call per batch. A buffer handed to an
 * op stays referenced until that op's own completion, whatever happens to the caller.
 *
 * Sockets: {@link Ring.socket}, {@link Ring.bind}, {@link Ring.listen}, {@link Ring.accept}
 * (single or multishot), {@link Ring.connect}, {@link Ring.send} / {@link Ring.sendZc} /
 * {@link Ring.sendTo}, {@link Ring.recv} / {@link Ring.recvFrom}, provided-buffer rings
 * ({@link Ring.registerBufRing}, {@link Ring.recvMultishot}, {@link Ring.recvSelect}),
 * {@link Ring.shutdown}; addresses are {@link SocketAddress} objects. Which paths a ring takes
 * is {@link Ring.supports}.
 *
 * Kernel floor (README.md has the table): the ring and the fs ops need Linux 5.6; accept,
 * connect, send, recv 5.5/5.6; shutdown 5.11, socket 5.19, bind/listen 6.11 (each a direct,
 * non-blocking syscall before that); multishot accept and buffer rings 5.19, multishot recv and
 * send_zc 6.0 (each an {@link UnsupportedOpError} before that).
 *
 * @example
 * ```ts
 * import { Ring, errnoName } from "@effio/uring-native"
 * const ring = new Ring()
 * const buf = new Uint8Array(4096)
 * ring.read(fd, buf, 0, buf.length, 0, (res) => {
 *   if (res < 0) console.error(errnoName(res))
 *   else console.log(`read ${res} bytes`)
 * })
 * ```
 * @module
 */
import { createRequire } from "node:module"
import { constants as osConstants, release as osRelease } from "node:os"
import { setTimeout } from "node:timers"
import { getSystemErrorName } from "node:util"

/** What {@link probe} found out about io_uring on this machine. */
export interface ProbeResult {
  /** True when a ring can be set up here. */
  readonly available: boolean
  /** Why not, in words, with the errno name (e.g. "... denied by a seccomp filter ... (EPERM)"). */
  readonly reason?: string
  /** The errno of the failed `io_uring_setup`, when that is why. */
  readonly errno?: number
  /** `uname -r`, or "" on non-Linux builds. */
  readonly kernel: string
  /** Supported opcodes by name (`"read"`, `"openat2"`, `"ftruncate"`, ...). */
  readonly ops: ReadonlyArray<string>
  /** `IORING_FEAT_*` names in lower case (`"nodrop"`, `"ext_arg"`, ...). */
  readonly features: ReadonlyArray<string>
  /** Setup flags the probe ring was accepted with. */
  readonly setupFlags?: ReadonlyArray<string>
}

/** Completion callback: `res` is the CQE result (bytes, fd, 0, or `-errno`); `flags` the CQE flags. */
export type OpCallback = (res: number, flags: number) => void

/** Any memory the kernel can read from or write into. */
export type Bytes = ArrayBufferView | ArrayBuffer

/** Options for {@link Ring}. */
export interface RingOptions {
  /** Submission queue entries (rounded up to a power of two by the kernel). Default 256. */
  readonly entries?: number
  /** Completion queue entries; at least 2× `entries`. Default 4× `entries`. */
  readonly cqEntries?: number
  /**
   * `IORING_SETUP_SQPOLL`: a kernel thread takes the SQEs from the queue and issues them, so
   * the loop thread makes no `io_uring_enter` while that thread is awake, and the work that
   * issuing does inline (a page-cache read's copy, for one) runs on another core, as node's
   * threadpool does. The thread polls for `idleMs` (default 20) after its last SQE before it
   * sleeps, burning that core meanwhile; the next submission wakes it with one enter. Where
   * the kernel refuses SQPOLL the ring is an ordinary one ({@link RingInfo.sqPoll} says which).
   * Default false: one spinning kernel thread per ring is a cost only some programs want.
   */
  readonly sqPoll?: boolean | { readonly idleMs?: number }
  /**
   * Test-only: `close()` cancels op by op (`IORING_OP_ASYNC_CANCEL` by each op's id), as on
   * kernels without `IORING_ASYNC_CANCEL_ANY` (before 5.19), instead of with one cancel-any.
   */
  readonly testNoCancelAny?: boolean
  /**
   * Test-only: `close()` bounds its waits with a timeout SQE, as on kernels without
   * `IORING_FEAT_EXT_ARG` (before 5.11), instead of with a wait timeout.
   */
  readonly testNoExtArg?: boolean
  /**
   * Test-only: `close()` issues no cancels at all, so every op in flight looks like one the
   * kernel cannot cancel (close waits for its real completion).
   */
  readonly testNoDrainCancel?: boolean
  /**
   * Test-only: after how many ms a `close()` still waiting for ops prints its one-line
   * warning on stderr. Default 2000.
   */
  readonly testDrainWarnMs?: number
  /**
   * Test-only: a full submission queue is not submitted at once to make room; the SQEs that
   * do not fit wait in the native overflow queue ({@link RingInfo.overflowQueued}), as when
   * the kernel refuses SQEs (EBUSY, EAGAIN), until the end of the loop turn or of a completion
   * batch moves them into the SQ in order. Makes that queue (and a cancel or a close of the
   * ops in it) reachable on kernels that always take the whole SQ.
   */
  readonly testQueueWhenFull?: boolean
  /**
   * Test-only: treat these as missing from the kernel, so the fallback paths run on a kernel
   * that has them. Opcode names as in {@link ProbeResult.ops} (`"socket"`, `"bind"`,
   * `"listen"`, `"shutdown"`, `"send_zc"`, ...: socket/bind/listen/shutdown then run as direct
   * syscalls) and `"accept_multishot"`, `"recv_multishot"`, `"pbuf_ring"` (those calls then
   * throw {@link UnsupportedOpError}). Unknown names throw RangeError. See {@link Ring.supports}.
   * Hiding an opcode that has no fallback (e.g. `"accept"`) only removes it from
   * `capabilities.ops`; its op is still submitted.
   */
  readonly testHideOps?: ReadonlyArray<string>
}

/**
 * A socket address, as the socket ops take it and {@link getsockname}, {@link getpeername}
 * and {@link Ring.recvFrom} give it back. Hosts are numeric (no name lookup).
 */
export type SocketAddress = InetAddress | UnixAddress

/** An IPv4 (`family: 4`) or IPv6 (`family: 6`) address and port. */
export interface InetAddress {
  readonly family: 4 | 6
  /** Numeric: `"127.0.0.1"`, `"::1"`, `"::ffff:10.0.0.1"`. */
  readonly host: string
  /** 0..65535 (0: any port, for bind). */
  readonly port: number
  /** IPv6 only: the interface of a link-local address; present when non-zero. */
  readonly scopeId?: number
  /** IPv6 only: the flow label; present when non-zero. */
  readonly flowinfo?: number
}

/**
 * A Unix socket address: a path of at most 107 UTF-8 bytes without NUL; `""` is an unnamed
 * socket (bind autobinds it). `abstract: true` names a Linux abstract address (no file).
 */
export interface UnixAddress {
  readonly path: string
  readonly abstract?: boolean
}

/**
 * Which path a ring's socket ops take ({@link Ring.supports}):
 * - `"socket"`, `"bind"`, `"listen"`, `"shutdown"`: true when done by the ring's own opcode
 *   (IORING_OP_SOCKET 5.19, BIND/LISTEN 6.11, SHUTDOWN 5.11); false when done by a direct,
 *   non-blocking syscall instead, delivered through the same callback. Either way they work.
 * - `"acceptMultishot"` (5.19), `"recvMultishot"` (6.0), `"bufRing"` (5.19), `"sendZc"` (6.0):
 *   false means the call throws {@link UnsupportedOpError}; use single-shot accept in a loop,
 *   plain {@link Ring.recv}, {@link Ring.send}.
 */
export type RingCapability =
  | "socket"
  | "bind"
  | "listen"
  | "shutdown"
  | "sendZc"
  | "acceptMultishot"
  | "recvMultishot"
  | "bufRing"

/** Options of {@link Ring.registerBufRing}. */
export interface BufRingOptions {
  /** Number of buffers: a power of two, 1..32768. */
  readonly entries: number
  /** Bytes per buffer; `entries * size` at most 1 GiB. */
  readonly size: number
}

/** Completion callback of {@link Ring.recvFrom}: `from` is the sender's address once `res >= 0`. */
export type RecvFromCallback = (res: number, flags: number, from: SocketAddress | undefined) => void

/** Counters and setup facts of a ring. */
export interface RingInfo {
  readonly open: boolean
  readonly fd: number
  readonly sqEntries: number
  readonly cqEntries: number
  readonly features: ReadonlyArray<string>
  readonly setupFlags: ReadonlyArray<string>
  readonly inFlight: number
  readonly overflowQueued: number
  /** SQEs accepted by the kernel so far. */
  readonly submitted: number
  /** `io_uring_enter` calls so far. */
  readonly enters: number
  /** Native→JS completion batches so far. */
  readonly batches: number
  /** CQEs reaped so far (internal cancel CQEs included). */
  readonly completions: number
  /**
   * `io_uring_enter` calls that moved completions the kernel kept aside while the CQ was full
   * (`IORING_SQ_CQ_OVERFLOW`, with `IORING_FEAT_NODROP`) into the CQ.
   */
  readonly cqOverflowFlushes: number
  /** The ring has a kernel SQ thread (`IORING_SETUP_SQPOLL`, see {@link RingOptions.sqPoll}). */
  readonly sqPoll: boolean
  /** SQPOLL: enters that woke the SQ thread after it had gone to sleep. */
  readonly sqWakeups: number
}

/** Decoded `struct statx`. Times are in milliseconds since the epoch (with sub-ms fraction). */
export interface Statx {
  readonly mask: number
  readonly blksize: number
  readonly nlink: number
  readonly uid: number
  readonly gid: number
  readonly mode: number
  readonly ino: bigint
  readonly size: bigint
  readonly blocks: bigint
  readonly atimeMs: number
  readonly btimeMs: number
  readonly ctimeMs: number
  readonly mtimeMs: number
  readonly rdevMajor: number
  readonly rdevMinor: number
  readonly devMajor: number
  readonly devMinor: number
}

/** Options of {@link Ring.openat2}; the kernel's `struct open_how`. */
export interface OpenHow {
  /** `O_*` flags; `O_CLOEXEC` is always added. */
  readonly flags: number
  /** Permission bits for `O_CREAT`/`O_TMPFILE`. Default 0o666. */
  readonly mode?: number
  /** `RESOLVE_*` flags, e.g. `constants.RESOLVE_BENEATH`. Default 0. */
  readonly resolve?: number
}

// The op kinds of NativeRing.prep, by position in native/ops.h's EFFIO_OPS; checked against
// the addon's own table at load, so a stale build is refused rather than misread.
const Op = {
  nop: 0,
  read: 1,
  write: 2,
  readv: 3,
  writev: 4,
  fsync: 5,
  openat2: 6,
  close: 7,
  statx: 8,
  unlinkat: 9,
  renameat: 10,
  linkat: 11,
  mkdirat: 12,
  symlinkat: 13,
  fallocate: 14,
  ftruncate: 15,
  splice: 16,
  timeout: 17,
  poll_add: 18,
  async_cancel: 19,
  socket: 20,
  bind: 21,
  listen: 22,
  accept: 23,
  connect: 24,
  send: 25,
  send_zc: 26,
  sendto: 27,
  recv: 28,
  recvfrom: 29,
  recv_select: 30,
  shutdown: 31
} as const
type OpKind = (typeof Op)[keyof typeof Op]

/** Per-op submission flags of {@link Ring.read} and {@link Ring.write}. */
export interface OpFlags {
  /** `IOSQE_ASYNC`: issue the op from an io-wq worker, not inline (see {@link Ring.read}). */
  readonly async?: boolean
}

// The addon's kind bit for IOSQE_ASYNC (kKindAsync in native/ops.h).
const KIND_ASYNC = 0x100
const withFlags = (kind: OpKind, flags: OpFlags | undefined): number => (flags?.async === true ? kind | KIND_ASYNC : kind)

interface NativeRing {
  info(): RingInfo
  inFlight(): number
  submit(): number
  close(): void
  /** Every op: `id` (generation * 2^24 + slot), the op kind, then the op's own arguments. */
  prep(id: number, kind: number, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown): void
  cancel(id: number): boolean
  capabilities(): NativeCapabilities
  registerBufRing(entries: number, size: number): number
  unregisterBufRing(group: number): void
  recycleBuf(group: number, bid: number): void
  copyBuf(group: number, bid: number, length: number): Uint8Array
}

interface NativeCapabilities {
  readonly socket: boolean
  readonly bind: boolean
  readonly listen: boolean
  readonly shutdown: boolean
  readonly sendZc: boolean
  readonly acceptMultishot: boolean
  readonly recvMultishot: boolean
  readonly bufRing: boolean
  readonly ops: ReadonlyArray<string>
}

interface Addon {
  probe(): ProbeResult
  NativeRing: new (
    entries: number,
    cqEntries: number,
    out: Int32Array,
    onBatch: (n: number) => void,
    testFlags?: number,
    drainWarnMs?: number,
    hideOps?: ReadonlyArray<string>,
    sqPollIdleMs?: number
  ) => NativeRing
  opKinds?: Record<string, number>
  platform: "linux" | "stub"
  pipe2?: (size?: number) => [number, number]
  constants?: Record<string, number>
  getsockname?: (fd: number) => SocketAddress | undefined
  getpeername?: (fd: number) => SocketAddress | undefined
  setsockopt?: (fd: number, level: number, name: number, value: number | boolean | Bytes) => void
  getsockopt?: (fd: number, level: number, name: number) => number
  trySend?: (fd: number, buffer: Bytes, offset: number, length: number) => number
  copyFileRange?: (fdIn: number, offIn: number, fdOut: number, offOut: number, length: number, cb: (res: number) => void) => void
  allocRecycled?: (size: number) => ArrayBuffer | undefined
  releaseRecycled?: (onlyIfIdle?: boolean) => number
  recycledInfo?: () => RecycledInfo
  encodeSockaddr?: (address: SocketAddress) => Uint8Array
  decodeSockaddr?: (bytes: Bytes) => SocketAddress | undefined
  bufferInFlight?: (value: unknown) => boolean
  transferReallocates?: () => boolean
}

const load = (): { addon?: Addon; error?: string } => {
  const require = createRequire(import.meta.url)
  let addon: Addon
  try {
    addon = require("../build/Release/effio_uring.node") as Addon
  } catch (e) {
    return { error: e instanceof Error ? e.message.split("\n")[0] : String(e) }
  }
  if (addon.platform === "linux") {
    const kinds = addon.opKinds ?? {}
    const stale = Object.entries(Op).filter(([name, kind]) => kinds[name] !== kind)
    if (stale.length > 0 || Object.keys(kinds).length !== Object.keys(Op).length) {
      return { error: "the native addon does not match this facade (stale build? run scripts/build-native.mjs)" }
    }
  }
  return { addon }
}
const loaded = load()

/**
 * Whether this process guards `ArrayBuffer.prototype.transfer` / `transferToFixedLength` (see
 * {@link Ring}, "Buffers and their memory"): true where V8 resizes an ArrayBuffer's memory in
 * place on a transfer to another length (Node 22), which would free memory an op in flight
 * still has the kernel write into.
 */
export const transferGuarded: boolean = (() => {
  const addon = loaded.addon
  if (addon?.transferReallocates === undefined || addon.bufferInFlight === undefined) return false
  if (!addon.transferReallocates()) return false
  const inFlight = addon.bufferInFlight
  const proto = ArrayBuffer.prototype as unknown as Record<string, unknown>
  for (const name of ["transfer", "transferToFixedLength"]) {
    const original = proto[name]
    if (typeof original !== "function") continue
    // A transfer to the same length moves the memory whole (the op's hold on it keeps it
    // alive); one to another length reallocates it, so it is refused while an op uses it,
    // with the TypeError V8 gives for an ArrayBuffer that cannot be detached.
    const guarded = {
      [name](this: ArrayBuffer) {
        const newLength: unknown = arguments[0]
        if (newLength !== undefined && inFlight(this) && newLength !== this.byteLength) {
          throw new TypeError(`ArrayBuffer.prototype.${name}: the buffer is in use by an io_uring op in flight`)
        }
        return (original as (...args: Array<unknown>) => unknown).apply(this, arguments as unknown as Array<unknown>)
      }
    }[name]!
    Object.defineProperty(proto, name, { value: guarded, writable: true, enumerable: false, configurable: true })
  }
  return true
})()

/**
 * Kernel constants for op arguments (`O_*`, `AT_*`, `RESOLVE_*`, `STATX_*`, `POLL*`, ...),
 * read from the C headers the addon was built against (they differ between architectures).
 */
export const constants: Readonly<Record<string, number>> = Object.freeze({ ...(loaded.addon?.constants ?? {}) })

/**
 * Tells whether io_uring can be used in this process, and what it supports. Never throws:
 * a missing kernel feature, a seccomp denial, `kernel.io_uring_disabled`, a non-Linux build
 * or an addon that failed to build all give `available: false` with a human `reason`.
 */
export const probe = (): ProbeResult => {
  if (!loaded.addon) {
    return { available: false, reason: `the native addon could not be loaded: ${loaded.error}`, kernel: "", ops: [], features: [] }
  }
  try {
    return loaded.addon.probe()
  } catch (e) {
    return { available: false, reason: `probe failed: ${String(e)}`, kernel: "", ops: [], features: [] }
  }
}

/** One of the addon's synchronous calls, or NativeUnavailableError where the addon has none. */
const nativeCall = <
  K extends
    | "pipe2"
    | "getsockname"
    | "getpeername"
    | "setsockopt"
    | "getsockopt"
    | "trySend"
    | "copyFileRange"
    | "encodeSockaddr"
    | "decodeSockaddr"
>(
  name: K
): NonNullable<Addon[K]> => {
  const fn = loaded.addon?.[name]
  if (fn === undefined) throw new NativeUnavailableError(`${name} is unavailable: ${loaded.error ?? "not supported on this platform"}`)
  return fn as NonNullable<Addon[K]>
}

/**
 * Creates an OS pipe with `pipe2(O_CLOEXEC)`: `[readFd, writeFd]`. With `size`, the pipe's
 * capacity is raised with `F_SETPIPE_SZ` where allowed (best effort). Throws an `Error` whose
 * `code` is the errno name (`EMFILE`, ...), or a {@link NativeUnavailableError} when the addon
 * could not be loaded or has no pipe2 on this platform.
 */
export const pipe2 = (size?: number): [number, number] => {
  const fn = nativeCall("pipe2")
  return size === undefined ? fn() : fn(size)
}

/**
 * The errno name of a negative CQE result, e.g. `errnoName(-2) === "ENOENT"`.
 * Non-negative values give `""`.
 */
export const errnoName = (res: number): string => {
  if (res >= 0) return ""
  try {
    const name = getSystemErrorName(res)
    // libuv names only the errnos it maps (no ETIME, which timeouts complete with):
    // anything else comes back as "Unknown system error -N".
    if (!name.startsWith("Unknown")) return name
  } catch {
    // not an errno libuv knows at all
  }
  return errnoByNumber.get(-res) ?? `E${-res}`
}

// The platform's errno names by number (first name wins for aliases such as EWOULDBLOCK).
const errnoByNumber = new Map<number, string>()
for (const [name, n] of Object.entries(osConstants.errno)) if (!errnoByNumber.has(n)) errnoByNumber.set(n, name)

/** `IORING_CQE_F_MORE`: a multishot op will post more completions. */
export const CQE_F_MORE = 2

/** `IORING_CQE_F_BUFFER`: the completion used a provided buffer, its id in the upper 16 bits. */
export const CQE_F_BUFFER = 1

/** `IORING_CQE_F_SOCK_NONEMPTY`: a receive left more data in the socket. */
export const CQE_F_SOCK_NONEMPTY = 4

/** `IORING_CQE_F_NOTIF`: the notification of {@link Ring.sendZc} (the buffer is free again). */
export const CQE_F_NOTIF = 8

/** `IORING_CQE_BUFFER_SHIFT`: the buffer id is `flags >>> CQE_BUFFER_SHIFT`. */
export const CQE_BUFFER_SHIFT = 16

/**
 * The provided-buffer id of a completion ({@link Ring.recvMultishot}, {@link Ring.recvSelect}),
 * or -1 when its flags lack {@link CQE_F_BUFFER} (no buffer was used: an error, or EOF).
 */
export const bufferId = (flags: number): number => ((flags & CQE_F_BUFFER) !== 0 ? flags >>> CQE_BUFFER_SHIFT : -1)

const NS_PER_MS = 1_000_000

/**
 * Decodes a `struct statx` that {@link Ring.statx} wrote into `buf` (256 bytes).
 */
export const decodeStatx = (buf: Uint8Array): Statx => {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const time = (o: number) => Number(v.getBigInt64(o, true)) * 1000 + v.getUint32(o + 8, true) / NS_PER_MS
  return {
    mask: v.getUint32(0, true),
    blksize: v.getUint32(4, true),
    nlink: v.getUint32(16, true),
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    mode: v.getUint16(28, true),
    ino: v.getBigUint64(32, true),
    size: v.getBigUint64(40, true),
    blocks: v.getBigUint64(48, true),
    atimeMs: time(64),
    btimeMs: time(80),
    ctimeMs: time(96),
    mtimeMs: time(112),
    rdevMajor: v.getUint32(128, true),
    rdevMinor: v.getUint32(132, true),
    devMajor: v.getUint32(136, true),
    devMinor: v.getUint32(140, true)
  }
}

/** Bytes a {@link Ring.statx} output buffer needs. */
export const STATX_SIZE = 256


/**
 * The platform's errno numbers by name (`errno.ENOENT === 2`, `errno.ETIME === 62` on Linux),
 * positive as the kernel defines them: a CQE result `res` is `-errno.X` on failure.
 */
export const errno: Readonly<Record<string, number>> = Object.freeze({ ...osConstants.errno })

/** Socket constants by name, for {@link Ring.socket}, {@link setsockopt}, {@link Ring.send}... */
export interface SocketConstants {
  readonly AF_UNSPEC: number
  readonly AF_INET: number
  readonly AF_INET6: number
  readonly AF_UNIX: number
  readonly SOCK_STREAM: number
  readonly SOCK_DGRAM: number
  readonly SOCK_SEQPACKET: number
  readonly SOCK_NONBLOCK: number
  readonly SOCK_CLOEXEC: number
  readonly SOL_SOCKET: number
  readonly SO_REUSEADDR: number
  readonly SO_REUSEPORT: number
  readonly SO_KEEPALIVE: number
  readonly SO_RCVBUF: number
  readonly SO_SNDBUF: number
  readonly SO_ERROR: number
  readonly SO_LINGER: number
  readonly SO_BROADCAST: number
  readonly SO_TYPE: number
  readonly IPPROTO_IP: number
  readonly IPPROTO_IPV6: number
  readonly IPPROTO_TCP: number
  readonly IPPROTO_UDP: number
  readonly TCP_NODELAY: number
  readonly TCP_KEEPIDLE: number
  readonly TCP_KEEPINTVL: number
  readonly TCP_KEEPCNT: number
  readonly IPV6_V6ONLY: number
  readonly SHUT_RD: number
  readonly SHUT_WR: number
  readonly SHUT_RDWR: number
  readonly MSG_NOSIGNAL: number
  readonly MSG_WAITALL: number
  readonly MSG_PEEK: number
  readonly MSG_DONTWAIT: number
  readonly MSG_TRUNC: number
  readonly MSG_MORE: number
}

// Linux's values (the same on x86-64 and arm64), for a facade whose addon did not load.
const linuxSocketConstants: SocketConstants = {
  AF_UNSPEC: 0, AF_INET: 2, AF_INET6: 10, AF_UNIX: 1, SOCK_STREAM: 1, SOCK_DGRAM: 2, SOCK_SEQPACKET: 5,
  SOCK_NONBLOCK: 0o4000, SOCK_CLOEXEC: 0o2000000, SOL_SOCKET: 1, SO_REUSEADDR: 2, SO_REUSEPORT: 15,
  SO_KEEPALIVE: 9, SO_RCVBUF: 8, SO_SNDBUF: 7, SO_ERROR: 4, SO_LINGER: 13, SO_BROADCAST: 6, SO_TYPE: 3,
  IPPROTO_IP: 0, IPPROTO_IPV6: 41, IPPROTO_TCP: 6, IPPROTO_UDP: 17, TCP_NODELAY: 1, TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5, TCP_KEEPCNT: 6, IPV6_V6ONLY: 26, SHUT_RD: 0, SHUT_WR: 1, SHUT_RDWR: 2,
  MSG_NOSIGNAL: 0x4000, MSG_WAITALL: 0x100, MSG_PEEK: 2, MSG_DONTWAIT: 0x40, MSG_TRUNC: 0x20, MSG_MORE: 0x8000
}

/**
 * Socket constants from the C headers the addon was built against (also in {@link constants}),
 * typed. `SOCK_CLOEXEC` is added by {@link Ring.socket} whether given or not.
 */
export const socketConstants: SocketConstants = Object.freeze(
  Object.fromEntries(
    Object.entries(linuxSocketConstants).map(([k, v]) => [k, (constants as Record<string, number | undefined>)[k] ?? v])
  ) as unknown as SocketConstants
)

// The addon's sync socket calls throw an Error with errno (positive) and syscall: give it the
// errno name as `code`, as node's own errors have.
const systemError = (error: unknown): unknown => {
  const e = error as { errno?: unknown; code?: unknown } | null
  if (e !== null && typeof e === "object" && typeof e.errno === "number" && e.code === undefined) {
    ;(e as { code: string }).code = errnoName(-e.errno)
  }
  return error
}

/**
 * `getsockname(2)`: the address a socket is bound to (e.g. the port the kernel picked for a
 * bind to port 0). `undefined` for an address family this module does not decode. Throws an
 * Error with `code` (`"EBADF"`, `"ENOTSOCK"`, ...) on failure.
 */
export const getsockname = (fd: number): SocketAddress | undefined => {
  const fn = nativeCall("getsockname")
  try {
    return fn(fd)
  } catch (e) {
    throw systemError(e)
  }
}

/** `getpeername(2)`: the address of a connected socket's peer (`"ENOTCONN"` when it has none). */
export const getpeername = (fd: number): SocketAddress | undefined => {
  const fn = nativeCall("getpeername")
  try {
    return fn(fd)
  } catch (e) {
    throw systemError(e)
  }
}

/**
 * `setsockopt(2)`: `value` an integer (or boolean) for an int option, or bytes for a struct one
 * (e.g. `struct linger`). Synchronous; throws an Error with `code` on failure.
 */
export const setsockopt = (fd: number, level: number, name: number, value: number | boolean | Bytes): void => {
  const fn = nativeCall("setsockopt")
  try {
    fn(fd, level, name, value)
  } catch (e) {
    throw systemError(e)
  }
}

/**
 * A non-blocking `send(2)` on the calling thread (`MSG_DONTWAIT | MSG_NOSIGNAL`): the bytes
 * sent (possibly fewer than `length`), or a negative errno (`-EAGAIN` when the socket's send
 * buffer is full; then send through the ring, which waits). For a sender whose queue is
 * empty, so the bytes keep their order. Throws TypeError/RangeError for a bad argument.
 *
 * @example
 * const n = trySend(fd, bytes, 0, bytes.length)
 * if (n === bytes.length) return // done, no SQE
 */
export const trySend = (fd: number, buffer: Bytes, offset: number, length: number): number =>
  (trySendFn ??= nativeCall("trySend"))(fd, buffer, offset, length)
let trySendFn: NonNullable<Addon["trySend"]> | undefined

/**
 * `copy_file_range(2)` of `length` bytes from `fdIn` at `offIn` to `fdOut` at `offOut`, on
 * libuv's threadpool (io_uring has no opcode for it; node's `fs.copyFile` copies the same way).
 * `cb` runs on the loop thread with the bytes copied (fewer at the source's end, 0 past it) or
 * a negative errno (`-EXDEV`, `-EINVAL` for files the kernel cannot copy between, ...). Both
 * fds must stay open until `cb` has run: the copy cannot be cancelled once started, so a
 * caller stops between calls. Throws TypeError/RangeError for a bad argument.
 */
export const copyFileRange = (
  fdIn: number,
  offIn: number,
  fdOut: number,
  offOut: number,
  length: number,
  cb: (res: number) => void
): void => nativeCall("copyFileRange")(fdIn, offIn, fdOut, offOut, length, cb)

/** The sizes {@link allocRecycled} keeps memory for; others get `Buffer.allocUnsafeSlow`. */
export const RECYCLED_MIN = 512 * 1024
/** @see RECYCLED_MIN */
export const RECYCLED_MAX = 2 * 1024 * 1024
/** How long after the last {@link allocRecycled} (in any thread) the free lists are unmapped. */
const RECYCLED_IDLE_MS = 1000

let recycledTimer: ReturnType<typeof setTimeout> | undefined

// Unmaps the free lists once no thread has allocated a recycled buffer for RECYCLED_IDLE_MS
// (the addon tracks that, and unmaps blocks freed after it at once), so that a program does
// not keep a burst's memory (up to 128 MiB) mapped. Unref'd: never holds the process open.
const armRecycledRelease = (): void => {
  if (recycledTimer !== undefined) return
  recycledTimer = setTimeout(() => {
    if (releaseRecycled(true) < 0) recycledTimer!.refresh()
    else recycledTimer = undefined
  }, RECYCLED_IDLE_MS + 10)
  recycledTimer.unref()
}

/**
 * A Buffer of `size` uninitialized bytes, as `Buffer.allocUnsafeSlow(size)` gives, whose
 * memory is kept when it is freed (V8 collected it and no ring op uses it) and given to the
 * next one of the same size with its pages still mapped: up to 128 MiB in all, unmapped a
 * second after the last such allocation.
 *
 * For buffers allocated fresh for every read of a large file (`File.readAlloc`,
 * `FileSystem.stream` with chunks in that range): V8 frees them in batches, glibc then hands
 * the memory back to the kernel, and every page of the next buffers is faulted in and zeroed
 * before the kernel copies into it (a 1 MiB ring read of cached data took 566 µs into a fresh
 * buffer, 148 µs into a reused one).
 *
 * Sizes outside `[RECYCLED_MIN, RECYCLED_MAX]` (512 KiB to 2 MiB, where it measured a gain)
 * and a platform without the addon get `Buffer.allocUnsafeSlow`, and so a bad size throws its
 * RangeError; so does a V8 built with its sandbox (Electron, some custom builds), which
 * refuses memory from outside it. The Buffer behaves as an ordinary one: its `ArrayBuffer`
 * can be transferred (detached) to another thread, whose release of it then recycles the
 * memory.
 *
 * @example
 * const chunk = allocRecycled(1024 * 1024)
 * ring.read(fd, chunk, 0, chunk.length, offset, (res) => { ... })
 */
export const allocRecycled = (size: number): Buffer => {
  if (size >= RECYCLED_MIN && size <= RECYCLED_MAX && Number.isInteger(size)) {
    const ab = loaded.addon?.allocRecycled?.(size)
    if (ab !== undefined) {
      armRecycledRelease()
      return Buffer.from(ab)
    }
  }
  return Buffer.allocUnsafeSlow(size)
}

/** What {@link recycledInfo} reports. */
export interface RecycledInfo {
  /** Bytes waiting in the free lists. */
  readonly pooled: number
  /** Allocations served from the free lists since the process started. */
  readonly hits: number
  /** Allocations that mapped new memory. */
  readonly misses: number
  /** Blocks freed since the process started (kept in the lists or unmapped). */
  readonly freed: number
}

/** The free lists of {@link allocRecycled}: zeros where the addon is unavailable. */
export const recycledInfo = (): RecycledInfo => loaded.addon?.recycledInfo?.() ?? { pooled: 0, hits: 0, misses: 0, freed: 0 }

/**
 * Unmaps the memory {@link allocRecycled} keeps for later Buffers; returns its size in bytes
 * (with `onlyIfIdle`, -1 and nothing unmapped when a thread allocated one in the last
 * second). Buffers in use are not touched: their memory is kept again once freed, if an
 * allocation came within the last second, and unmapped otherwise.
 */
export const releaseRecycled = (onlyIfIdle?: boolean): number => loaded.addon?.releaseRecycled?.(onlyIfIdle === true) ?? 0

/** `getsockopt(2)` of an int option (`SO_ERROR`, `SO_RCVBUF`, ...). */
export const getsockopt = (fd: number, level: number, name: number): number => {
  const fn = nativeCall("getsockopt")
  try {
    return fn(fd, level, name)
  } catch (e) {
    throw systemError(e)
  }
}

/**
 * The `struct sockaddr` bytes of an address, checking it as the socket ops do (TypeError for
 * a bad family, host or a NUL in a path; RangeError for a port or path out of range).
 */
export const encodeSockaddr = (address: SocketAddress): Uint8Array => nativeCall("encodeSockaddr")(address)

/** Decodes `struct sockaddr` bytes back to a {@link SocketAddress} (`undefined`: unknown family). */
export const decodeSockaddr = (bytes: Bytes): SocketAddress | undefined => nativeCall("decodeSockaddr")(bytes)

// recvFrom's native output: the sockaddr (128 bytes), its length (u32), msg_flags (u32).
const ADDR_OUT_SIZE = 136

/**
 * Error thrown by a call this ring's kernel cannot do (multishot accept or recv, buffer rings,
 * send_zc: see {@link Ring.supports}), or that a test hid. `code` is `"ERR_UNSUPPORTED_OP"`.
 */
export class UnsupportedOpError extends Error {
  readonly code = "ERR_UNSUPPORTED_OP"
  constructor(message: string) {
    super(message)
    this.name = "UnsupportedOpError"
  }
}

/**
 * Error thrown by {@link BufRing.close} while an op that selects from the ring is in flight
 * (the kernel may still write its buffers). `code` is `"ERR_BUFFER_RING_BUSY"`.
 */
export class BufRingBusyError extends Error {
  readonly code = "ERR_BUFFER_RING_BUSY"
  constructor(message: string) {
    super(message)
    this.name = "BufRingBusyError"
  }
}

/**
 * Error thrown by a native helper ({@link pipe2}) when the addon could not be loaded or has no
 * such call on this platform. `code` is `"ERR_NATIVE_UNAVAILABLE"`.
 */
export class NativeUnavailableError extends Error {
  readonly code = "ERR_NATIVE_UNAVAILABLE"
  constructor(message: string) {
    super(message)
    this.name = "NativeUnavailableError"
  }
}

/** Error thrown by {@link Ring}'s constructor when io_uring cannot be set up. */
export class RingUnavailableError extends Error {
  readonly code = "ERR_IO_URING_UNAVAILABLE"
  constructor(
    message: string,
    readonly errno?: number
  ) {
    super(message)
    this.name = "RingUnavailableError"
  }
}

/**
 * Error thrown when an op is started on a ring that is closed or closing (also by
 * {@link Ring.cancel} on a closed ring). `code` stays `"ERR_RING_CLOSED"` for callers that
 * match on it.
 */
export class RingClosedError extends Error {
  readonly code = "ERR_RING_CLOSED"
  constructor(message = "the ring is closed") {
    super(message)
    this.name = "RingClosedError"
  }
}

/**
 * True for a {@link RingClosedError}, or any error with `code === "ERR_RING_CLOSED"` (e.g. one
 * from another copy of this package).
 */
export const isRingClosedError = (error: unknown): boolean =>
  error instanceof RingClosedError || (error as { code?: unknown } | null)?.code === "ERR_RING_CLOSED"

// The native addon throws plain Errors with a code: give them their class.
const typed = (error: unknown): unknown => {
  const code = (error as { code?: unknown } | null)?.code
  if (error instanceof RingClosedError || error instanceof UnsupportedOpError || error instanceof BufRingBusyError) return error
  if (code === "ERR_RING_CLOSED") return new RingClosedError((error as Error).message)
  if (code === "ERR_UNSUPPORTED_OP") return new UnsupportedOpError((error as Error).message)
  if (code === "ERR_BUFFER_RING_BUSY") return new BufRingBusyError((error as Error).message)
  return error
}

// Op ids: generation * 2^24 + slot. The generation of a slot moves on at the op's final
// completion, so an id that has completed never names a later op in the same slot; it wraps
// after 2^29 uses of one slot, keeping ids below 2^53 (safe integers).
const SLOT_SPACE = 2 ** 24
const GENERATION_MASK = 2 ** 29 - 1

const TEST_NO_CANCEL_ANY = 1
const TEST_NO_EXT_ARG = 2
const TEST_NO_DRAIN_CANCEL = 4
const TEST_QUEUE_WHEN_FULL = 8

/** How long an SQPOLL ring's kernel thread polls after its last SQE by default (ms). */
const SQ_POLL_IDLE_MS = 20

/** The SQ thread's idle time for the addon, or undefined for no SQPOLL. */
const sqPollIdleMs = (sqPoll: RingOptions["sqPoll"]): number | undefined => {
  if (sqPoll === undefined || sqPoll === false) return undefined
  if (sqPoll === true) return SQ_POLL_IDLE_MS
  if (typeof sqPoll !== "object" || sqPoll === null) throw new TypeError("sqPoll must be a boolean or { idleMs }")
  const ms = sqPoll.idleMs ?? SQ_POLL_IDLE_MS
  if (!Number.isInteger(ms) || ms < 1 || ms > 60_000) throw new RangeError(`sqPoll.idleMs must be an integer from 1 to 60000, not ${ms}`)
  return ms
}

/**
 * An io_uring bound to the libuv loop of the thread that creates it (a worker thread makes
 * its own). The loop is kept alive only while ops are in flight, so an idle ring never stops
 * a program from exiting and costs no CPU; an idle ring that is dropped without `close()` is
 * released when it is garbage collected.
 *
 * Every op method returns an op id and calls `cb(res, flags)` exactly once (multishot ops:
 * until `flags` lacks {@link CQE_F_MORE}), from the event loop, never synchronously.
 * Argument errors throw `TypeError`/`RangeError` before anything reaches the kernel; an op on
 * a closed (or closing) ring throws {@link RingClosedError}.
 *
 * **Buffers and their memory.** An op that takes buffers (read, write, readv, writev, statx,
 * send, sendZc, sendTo, recv, recvFrom) holds each buffer's memory itself (its V8
 * BackingStore), not only the JS object, until the op's final completion. So a buffer may
 * be transferred while the op runs: after `postMessage`/`structuredClone` with `transfer`,
 * or `ArrayBuffer.prototype.transfer()` to the same length, the kernel writes into memory
 * the new owner now has (and which outlives it, if it is collected first). A transfer to
 * another length copies on V8 13+ (Node 24): the kernel writes into the old memory, still
 * held, and the copy does not see those bytes. Where V8 would instead reallocate the memory
 * in place (Node 22), `transfer(n)`/`transferToFixedLength(n)` of a buffer an op is using
 * throws a `TypeError` until the op completes ({@link transferGuarded}). A resizable
 * ArrayBuffer never moves: a read into one that shrinks meanwhile still lands in its
 * reserved memory, or fails with `-EFAULT` where V8 released the pages; bytes past the new
 * length show again if it grows. A view a shrunken buffer has left out of bounds has length 0.
 */
export class Ring {
  readonly #native: NativeRing
  readonly #out: Int32Array
  readonly #cbs: Array<OpCallback | undefined> = []
  readonly #pins: Array<unknown> = []
  readonly #gens: Array<number> = []
  readonly #free: Array<number> = []
  #next = 0
  #caps: NativeCapabilities
  readonly #bufRings = new Set<BufRing>()
  #closing = false
  #draining = false
  #closeError: { error: unknown } | undefined
  // The completion batch being delivered (its callbacks run one by one).
  #batch: { i: number; n: number } | undefined

  constructor(options: RingOptions = {}) {
    if (!loaded.addon) throw new RingUnavailableError(`the native addon could not be loaded: ${loaded.error}`)
    const entries = options.entries ?? 256
    const cqEntries = options.cqEntries ?? entries * 4
    if (cqEntries < entries * 2) throw new RangeError(`cqEntries (${cqEntries}) must be at least 2 × entries (${entries})`)
    const testFlags =
      (options.testNoCancelAny ? TEST_NO_CANCEL_ANY : 0) |
      (options.testNoExtArg ? TEST_NO_EXT_ARG : 0) |
      (options.testNoDrainCancel ? TEST_NO_DRAIN_CANCEL : 0) |
      (options.testQueueWhenFull ? TEST_QUEUE_WHEN_FULL : 0)
    this.#out = new Int32Array(cqEntries * 3)
    try {
      const hide = options.testHideOps
      if (hide !== undefined && !Array.isArray(hide)) throw new TypeError("testHideOps must be an array of names")
      this.#native = new loaded.addon.NativeRing(
        entries,
        cqEntries,
        this.#out,
        this.#onBatch,
        testFlags,
        options.testDrainWarnMs,
        hide === undefined ? undefined : hide.slice(),
        sqPollIdleMs(options.sqPoll)
      )
      this.#caps = Object.freeze(this.#native.capabilities())
    } catch (e) {
      const err = e as { message?: string; errno?: number; code?: string }
      if (err.code === "ERR_IO_URING_UNAVAILABLE") throw new RingUnavailableError(String(err.message), err.errno)
      throw e
    }
  }

  // One call per completion batch: [slot, res, flags] triples in #out.
  readonly #onBatch = (n: number): void => {
    const outer = this.#batch
    const batch = { i: 0, n }
    this.#batch = batch
    try {
      this.#deliver(batch)
    } finally {
      this.#batch = outer
    }
  }

  // Runs the callbacks of `batch` from its current position on. close() calls it too, to
  // finish the batch it was called from before the drain reuses #out.
  #deliver(batch: { i: number; n: number }): void {
    const out = this.#out
    const cbs = this.#cbs
    let failure: { error: unknown } | undefined
    while (batch.i < batch.n) {
      const k = batch.i++
      const slot = out[k * 3]!
      const res = out[k * 3 + 1]!
      const flags = out[k * 3 + 2]!
      const cb = cbs[slot]!
      if ((flags & CQE_F_MORE) === 0) {
        // The op's final completion: its slot may be reused, under the next generation.
        cbs[slot] = undefined
        this.#pins[slot] = undefined
        this.#gens[slot] = (this.#gens[slot]! + 1) & GENERATION_MASK
        this.#free.push(slot)
      }
      try {
        cb(res, flags)
      } catch (error) {
        // One throwing callback must not stop the rest of the batch.
        failure ??= { error }
      }
    }
    if (failure) {
      if (this.#draining) this.#closeError ??= failure
      else throw failure.error
    }
  }

  // The one submit path of every op: takes a slot, pins `pin` (the memory the kernel may
  // touch) and the callback until the op's final completion, and hands the op to the addon.
  // A throw (bad argument, closed ring) gives the slot back untouched: nothing was queued.
  #submit(
    cb: OpCallback,
    pin: unknown,
    kind: number,
    a?: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
    e?: unknown,
    f?: unknown
  ): number {
    if (typeof cb !== "function") throw new TypeError("callback must be a function")
    if (this.#closing) throw new RingClosedError()
    let slot: number
    if (this.#free.length > 0) {
      slot = this.#free.pop()!
    } else {
      slot = this.#next++
      this.#gens[slot] = 0
    }
    const id = this.#gens[slot]! * SLOT_SPACE + slot
    this.#cbs[slot] = cb
    this.#pins[slot] = pin
    try {
      this.#native.prep(id, kind, a, b, c, d, e, f)
    } catch (error) {
      this.#cbs[slot] = undefined
      this.#pins[slot] = undefined
      this.#free.push(slot)
      throw typed(error)
    }
    return id
  }

  /** Ops queued or in the kernel whose completion has not been delivered. */
  get inFlight(): number {
    return this.#native.inFlight()
  }

  /** Setup facts and counters. */
  info(): RingInfo {
    return this.#native.info()
  }

  /** Submits queued SQEs now instead of at the end of this loop turn. Returns how many (0 once closed). */
  submit(): number {
    return this.#native.submit()
  }

  /**
   * Cancels every op in flight, waits for each op's own completion (their callbacks run,
   * mostly with `-ECANCELED`, inside this call), then releases the ring. Idempotent, and
   * allowed from inside a completion callback (the rest of that batch is delivered first).
   * If a callback throws during the drain, the first error is rethrown after the ring is closed.
   *
   * Cancellable ops (pipes, sockets, polls, timeouts) end promptly. An op the kernel cannot
   * cancel (a regular-file op on a hung mount) is waited for however long it takes, after a
   * one-line warning on stderr: returning earlier would let memory the kernel may still write
   * be freed.
   */
  close(): void {
    if (this.#closing) return
    this.#closing = true
    this.#draining = true
    try {
      // Called from a completion callback: deliver the rest of that batch first, since the
      // drain writes its completions into the same shared array.
      if (this.#batch) this.#deliver(this.#batch)
      this.#native.close()
    } finally {
      this.#draining = false
      // The native close freed every buffer ring once no op could use one any more.
      for (const b of this.#bufRings) b._closed()
      this.#bufRings.clear()
    }
    const failure = this.#closeError
    this.#closeError = undefined
    if (failure) throw failure.error
  }

  /** `IORING_OP_NOP`: completes with 0. */
  nop(cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.nop)
  }

  /**
   * Reads up to `length` bytes into `buffer[offset..]` from `position` (-1: the fd's current
   * position, for pipes, ttys and sockets). Completes with the byte count. `buffer`'s memory
   * is held until then, even across a transfer (see {@link Ring}, buffers and their memory).
   *
   * `flags.async` submits it with `IORING_SQE_ASYNC`: an io-wq worker thread does it instead
   * of the submitting `io_uring_enter`, so several large page-cache reads in flight are copied
   * on several cores at once (measured: four 1 MiB reads in flight read a 1 GiB file at 2.1–2.3
   * GB/s against 0.9–1.1 inline). Only for regular files: on a pipe or socket a worker would
   * block until data came. One large read alone gains nothing from it (a thread hop more).
   */
  read(fd: number, buffer: Bytes, offset: number, length: number, position: number, cb: OpCallback, flags?: OpFlags): number {
    return this.#submit(cb, buffer, withFlags(Op.read, flags), fd, buffer, offset, length, position)
  }

  /**
   * Writes `buffer[offset..offset+length]` at `position` (-1: current position). Completes with
   * the byte count. `buffer`'s memory is held until then (see {@link Ring}, buffers and their memory).
   * `flags` as for {@link Ring.read}.
   */
  write(fd: number, buffer: Bytes, offset: number, length: number, position: number, cb: OpCallback, flags?: OpFlags): number {
    return this.#submit(cb, buffer, withFlags(Op.write, flags), fd, buffer, offset, length, position)
  }

  /** Scatter read into `buffers` (each whole) from `position` (-1: current position); each one's memory is held until the completion. */
  readv(fd: number, buffers: ReadonlyArray<Bytes>, position: number, cb: OpCallback): number {
    return this.#vector(Op.readv, fd, buffers, position, cb)
  }

  /** Gather write of `buffers` (each whole) at `position` (-1: current position); each one's memory is held until the completion. */
  writev(fd: number, buffers: ReadonlyArray<Bytes>, position: number, cb: OpCallback): number {
    return this.#vector(Op.writev, fd, buffers, position, cb)
  }

  #vector(kind: OpKind, fd: number, buffers: ReadonlyArray<Bytes>, position: number, cb: OpCallback): number {
    if (!Array.isArray(buffers)) throw new TypeError("buffers must be an array")
    // Pin a private copy: the caller may change its array while the op is in flight.
    const pinned = buffers.slice()
    return this.#submit(cb, pinned, kind, fd, pinned, position)
  }

  /** `fsync(2)`. */
  fsync(fd: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.fsync, fd, false)
  }

  /** `fdatasync(2)`. */
  fdatasync(fd: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.fsync, fd, true)
  }

  /**
   * `openat2(2)`: opens `path` relative to `dirfd` (`constants.AT_FDCWD` for the cwd).
   * `O_CLOEXEC` is always set. Completes with the new fd.
   */
  openat2(dirfd: number, path: string, how: OpenHow, cb: OpCallback): number {
    if (how === null || typeof how !== "object") throw new TypeError("how must be an object")
    return this.#submit(cb, undefined, Op.openat2, dirfd, path, how.flags, how.mode ?? 0o666, how.resolve ?? 0)
  }

  /** Closes a file descriptor through the ring (`IORING_OP_CLOSE`). Named so to leave `close()` to the ring. */
  closeFd(fd: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.close, fd)
  }

  /**
   * `statx(2)` of `path` relative to `dirfd` (`""` with `AT_EMPTY_PATH` for the fd itself),
   * written into `out` ({@link STATX_SIZE} bytes, decode with {@link decodeStatx}), whose memory
   * is held until the completion (see {@link Ring}, buffers and their memory).
   */
  statx(dirfd: number, path: string, flags: number, mask: number, out: Uint8Array, cb: OpCallback): number {
    return this.#submit(cb, out, Op.statx, dirfd, path, flags, mask, out)
  }

  /** `unlinkat(2)`; `flags` `AT_REMOVEDIR` removes an empty directory. */
  unlinkat(dirfd: number, path: string, flags: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.unlinkat, dirfd, path, flags)
  }

  /** `renameat2(2)`; `flags` `RENAME_NOREPLACE` / `RENAME_EXCHANGE`. */
  renameat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.renameat, olddirfd, oldpath, newdirfd, newpath, flags)
  }

  /** `linkat(2)`; `flags` `AT_SYMLINK_FOLLOW`. */
  linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.linkat, olddirfd, oldpath, newdirfd, newpath, flags)
  }

  /** `mkdirat(2)`. */
  mkdirat(dirfd: number, path: string, mode: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.mkdirat, dirfd, path, mode)
  }

  /** `symlinkat(2)`: creates `linkpath` (relative to `newdirfd`) pointing at `target`. */
  symlinkat(target: string, newdirfd: number, linkpath: string, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.symlinkat, target, newdirfd, linkpath)
  }

  /** `fallocate(2)`. */
  fallocate(fd: number, mode: number, offset: number, length: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.fallocate, fd, mode, offset, length)
  }

  /** `ftruncate(2)` through `IORING_OP_FTRUNCATE` (Linux 6.9+; check `probe().ops.includes("ftruncate")`). */
  ftruncate(fd: number, length: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.ftruncate, fd, length)
  }

  /** `splice(2)` of up to `length` bytes; offsets -1 for pipes. Completes with the byte count. */
  splice(fdIn: number, offIn: number, fdOut: number, offOut: number, length: number, flags: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.splice, fdIn, offIn, fdOut, offOut, length, flags)
  }

  /**
   * `IORING_OP_TIMEOUT`: completes with `-ETIME` after `nanoseconds` (relative, or absolute
   * CLOCK_MONOTONIC with `IORING_TIMEOUT_ABS`), or with 0 once `count` other CQEs arrived.
   */
  timeout(nanoseconds: number, cb: OpCallback, options: { readonly count?: number; readonly flags?: number } = {}): number {
    return this.#submit(cb, undefined, Op.timeout, nanoseconds, options.count ?? 0, options.flags ?? 0)
  }

  /** `IORING_OP_POLL_ADD`: completes with the ready `POLL*` mask; `multishot` keeps posting. */
  pollAdd(fd: number, events: number, cb: OpCallback, multishot = false): number {
    return this.#submit(cb, undefined, Op.poll_add, fd, events, multishot)
  }

  /**
   * `IORING_OP_ASYNC_CANCEL` as an op of its own: completes with 0 (cancelled), `-ENOENT`
   * (not found, which includes an id that already completed) or `-EALREADY` (running,
   * cannot be stopped). The target still completes through its own callback.
   */
  asyncCancel(target: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.async_cancel, target)
  }

  /**
   * Asks the kernel to cancel op `id`. Its callback still runs exactly once, later, with
   * `-ECANCELED` (or `-EINTR`) or with its real result if it finished first; until then its
   * buffers stay pinned. Returns false when `id` is not in flight, including an id that has
   * completed (its slot may hold a later op by now, which is left alone). Throws
   * {@link RingClosedError} on a closed ring.
   */
  cancel(id: number): boolean {
    try {
      return this.#native.cancel(id)
    } catch (error) {
      throw typed(error)
    }
  }

  // ---- sockets ------------------------------------------------------------------------

  /**
   * Which path this ring takes for `name` (see {@link RingCapability}): probed from the kernel
   * at construction, less what {@link RingOptions.testHideOps} hides. Lets a caller choose
   * multishot accept or a single-shot loop, buffer rings or plain recv.
   */
  supports(name: RingCapability): boolean {
    const v = this.#caps[name]
    if (typeof v !== "boolean") throw new RangeError(`unknown capability: ${String(name)}`)
    return v
  }

  /** All of {@link supports} at once, with the opcodes this ring uses (`ops`). */
  get capabilities(): Readonly<Record<RingCapability, boolean>> & { readonly ops: ReadonlyArray<string> } {
    return this.#caps
  }

  #require(name: RingCapability, what: string): void {
    if (!this.#caps[name]) throw new UnsupportedOpError(`${what} is not available on this ring (kernel ${osRelease()})`)
  }

  /**
   * `socket(2)`: completes with the new fd (`SOCK_CLOEXEC` always added; `SOCK_NONBLOCK` may be
   * given). By `IORING_OP_SOCKET` (5.19) or, without it, a direct `socket(2)` whose result is
   * delivered the same way, from the event loop ({@link supports}`("socket")` tells which).
   */
  socket(domain: number, type: number, protocol: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.socket, domain, type, protocol)
  }

  /**
   * `bind(2)` to `address`: `IORING_OP_BIND` (6.11) or a direct `bind(2)` delivered the same
   * way. A bad address throws TypeError/RangeError synchronously.
   */
  bind(fd: number, address: SocketAddress, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.bind, fd, address)
  }

  /** `listen(2)`: `IORING_OP_LISTEN` (6.11) or a direct `listen(2)` delivered the same way. */
  listen(fd: number, backlog: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.listen, fd, backlog)
  }

  /**
   * Accepts a connection: completes with the new fd (`SOCK_CLOEXEC`); its peer is
   * {@link getpeername}. With `multishot` (5.19, {@link supports}`("acceptMultishot")`, else
   * {@link UnsupportedOpError}) `cb` runs once per connection with {@link CQE_F_MORE} in
   * `flags`; the first call without it ends the op: an error, `-ECANCELED` after
   * {@link cancel}, or a last connection (`res >= 0`, which the caller owns like the others).
   */
  accept(fd: number, cb: OpCallback, options: { readonly multishot?: boolean } = {}): number {
    const multishot = options.multishot === true
    if (multishot) this.#require("acceptMultishot", "multishot accept (Linux 5.19)")
    return this.#submit(cb, undefined, Op.accept, fd, multishot)
  }

  /** `connect(2)` to `address`: completes with 0 or `-errno` (`-ECONNREFUSED`, ...). */
  connect(fd: number, address: SocketAddress, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.connect, fd, address)
  }

  /**
   * Sends `buffer[offset..offset+length]`; completes with the byte count (possibly short).
   * `MSG_NOSIGNAL` is always added: a peer that has gone gives `-EPIPE`, never SIGPIPE.
   * `buffer`'s memory is held until the completion (see {@link Ring}, buffers and their memory).
   */
  send(fd: number, buffer: Bytes, offset: number, length: number, flags: number, cb: OpCallback): number {
    return this.#submit(cb, buffer, Op.send, fd, buffer, offset, length, flags)
  }

  /**
   * Zero-copy send (`IORING_OP_SEND_ZC`, 6.0; {@link supports}`("sendZc")`). `cb` runs twice
   * when the send was issued: first with the byte count and {@link CQE_F_MORE}, then with
   * {@link CQE_F_NOTIF} (no F_MORE) once the kernel no longer reads `buffer`, which stays pinned
   * until then. A send that fails before it is issued calls back once, without F_MORE; in every
   * case the call without F_MORE is the last. `MSG_NOSIGNAL` always. The memory is held as
   * for {@link send}.
   */
  sendZc(fd: number, buffer: Bytes, offset: number, length: number, flags: number, cb: OpCallback): number {
    this.#require("sendZc", "send_zc (Linux 6.0)")
    return this.#submit(cb, buffer, Op.send_zc, fd, buffer, offset, length, flags)
  }

  /** `sendmsg(2)` of `buffer[offset..offset+length]` to `address` (UDP, Unix datagrams). `MSG_NOSIGNAL` always; `buffer`'s memory is held until the completion. */
  sendTo(fd: number, buffer: Bytes, offset: number, length: number, address: SocketAddress, cb: OpCallback, flags = 0): number {
    return this.#submit(cb, buffer, Op.sendto, fd, buffer, offset, length, address, flags)
  }

  /**
   * Receives into `buffer[offset..offset+length]`; completes with the byte count, 0 at EOF.
   * `buffer`'s memory is held until then (see {@link Ring}, buffers and their memory).
   */
  recv(fd: number, buffer: Bytes, offset: number, length: number, flags: number, cb: OpCallback): number {
    return this.#submit(cb, buffer, Op.recv, fd, buffer, offset, length, flags)
  }

  /**
   * `recvmsg(2)` into `buffer[offset..offset+length]` with the sender's address: `cb(res,
   * flags, from)`, `from` decoded once `res >= 0` (undefined for a connected stream socket,
   * which has none to give). `buffer`'s memory is held until the completion.
   */
  recvFrom(fd: number, buffer: Bytes, offset: number, length: number, cb: RecvFromCallback, flags = 0): number {
    if (typeof cb !== "function") throw new TypeError("callback must be a function")
    const out = new Uint8Array(ADDR_OUT_SIZE)
    const decode = nativeCall("decodeSockaddr")
    return this.#submit(
      (res, cqeFlags) => cb(res, cqeFlags, res >= 0 ? decode(out) : undefined),
      [buffer, out],
      Op.recvfrom,
      fd,
      buffer,
      offset,
      length,
      out,
      flags
    )
  }

  /**
   * Multishot receive into buffers the kernel picks from `bufRing` (`IORING_RECV_MULTISHOT`
   * with buffer select, 6.0). `cb(res, flags)` per chunk: `res` bytes are in buffer
   * {@link bufferId}`(flags)`, which is the caller's until {@link BufRing.recycle}d (copy it
   * out with {@link BufRing.view}). The op ends with the first call without
   * {@link CQE_F_MORE}: `0` at EOF, `-ENOBUFS` when every buffer is handed out (recycle, then
   * call again), `-ECANCELED`, or another error; that call may carry a buffer too.
   */
  recvMultishot(fd: number, bufRing: BufRing, cb: OpCallback, flags = 0): number {
    this.#require("recvMultishot", "multishot recv (Linux 6.0)")
    return this.#submit(cb, bufRing, Op.recv_select, fd, this.#group(bufRing), true, flags)
  }

  /** Single-shot receive into a buffer the kernel picks from `bufRing` (see {@link recvMultishot}). */
  recvSelect(fd: number, bufRing: BufRing, cb: OpCallback, flags = 0): number {
    return this.#submit(cb, bufRing, Op.recv_select, fd, this.#group(bufRing), false, flags)
  }

  #group(bufRing: BufRing): number {
    if (!(bufRing instanceof BufRing) || !this.#bufRings.has(bufRing)) {
      throw new TypeError("bufRing must be an open BufRing of this ring")
    }
    return bufRing.group
  }

  /** `shutdown(2)`, `how` `SHUT_RD`/`SHUT_WR`/`SHUT_RDWR`: `IORING_OP_SHUTDOWN` (5.11) or a direct call. */
  shutdown(fd: number, how: number, cb: OpCallback): number {
    return this.#submit(cb, undefined, Op.shutdown, fd, how)
  }

  /**
   * Registers a provided-buffer ring (`IORING_REGISTER_PBUF_RING`, 5.19;
   * {@link supports}`("bufRing")`, else {@link UnsupportedOpError}): `entries` buffers of
   * `size` bytes in native, page-aligned memory, all given to the kernel. The memory lives
   * until {@link BufRing.close} (refused while an op uses it) or this ring's `close()`
   * (after its drain).
   */
  registerBufRing(options: BufRingOptions): BufRing {
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object")
    if (this.#closing) throw new RingClosedError()
    this.#require("bufRing", "provided-buffer rings (Linux 5.19)")
    let group: number
    try {
      group = this.#native.registerBufRing(options.entries, options.size)
    } catch (error) {
      throw typed(error)
    }
    const b = new BufRing(bufRingKey, this.#native, group, options.entries, options.size, (x) => this.#bufRings.delete(x))
    this.#bufRings.add(b)
    return b
  }
}

const bufRingKey = Symbol("BufRing")

/**
 * A provided-buffer ring of a {@link Ring} ({@link Ring.registerBufRing}). Buffer ids run
 * `0..entries-1`. A buffer is the kernel's until a completion hands it out ({@link bufferId}
 * of its flags), then the caller's until {@link recycle}: {@link view} and `recycle` refuse a
 * buffer that is the kernel's, so no buffer is read while the kernel may write it, or given
 * back twice.
 */
export class BufRing {
  readonly #native: NativeRing
  readonly #onClose: (b: BufRing) => void
  #open = true

  /** @internal */
  constructor(
    key: symbol,
    native: NativeRing,
    /** The buffer group id (the SQE's `buf_group`). */
    readonly group: number,
    /** Number of buffers. */
    readonly entries: number,
    /** Bytes per buffer. */
    readonly size: number,
    onClose: (b: BufRing) => void
  ) {
    if (key !== bufRingKey) throw new TypeError("use Ring.registerBufRing")
    this.#native = native
    this.#onClose = onClose
  }

  /** False after {@link close} or the ring's close. */
  get open(): boolean {
    return this.#open
  }

  /** Gives buffer `bid` back to the kernel. Throws RangeError if it is the kernel's already. */
  recycle(bid: number): void {
    this.#check()
    try {
      this.#native.recycleBuf(this.group, bid)
    } catch (error) {
      throw typed(error)
    }
  }

  /**
   * A fresh copy of the first `length` bytes of buffer `bid` (never a view of ring memory,
   * which the kernel reuses once recycled). Throws RangeError if the buffer is the kernel's.
   */
  view(bid: number, length: number): Uint8Array {
    this.#check()
    try {
      return this.#native.copyBuf(this.group, bid, length)
    } catch (error) {
      throw typed(error)
    }
  }

  /**
   * Unregisters the ring and frees its memory. Throws {@link BufRingBusyError} while an op that
   * selects from it is in flight (cancel it and wait for its last callback first). Idempotent.
   */
  close(): void {
    if (!this.#open) return
    try {
      this.#native.unregisterBufRing(this.group)
    } catch (error) {
      const e = typed(error)
      if (e instanceof RingClosedError) {
        this._closed()
        return
      }
      throw e
    }
    this._closed()
    this.#onClose(this)
  }

  /** @internal the ring freed it */
  _closed(): void {
    this.#open = false
  }

  #check(): void {
    if (!this.#open) throw new RangeError(`buffer ring ${this.group} is closed`)
  }
}
