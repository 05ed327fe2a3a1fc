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
import { constants as osConstants } from "node:os"
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
}

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
  async_cancel: 19
} as const
type OpKind = (typeof Op)[keyof typeof Op]

interface NativeRing {
  info(): RingInfo
  inFlight(): number
  submit(): number
  close(): void
  /** Every op: `id` (generation * 2^24 + slot), the op kind, then the op's own arguments. */
  prep(id: number, kind: OpKind, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown): void
  cancel(id: number): boolean
}

interface Addon {
  probe(): ProbeResult
  NativeRing: new (
    entries: number,
    cqEntries: number,
    out: Int32Array,
    onBatch: (n: number) => void,
    testFlags?: number,
    drainWarnMs?: number
  ) => NativeRing
  opKinds?: Record<string, number>
  platform: "linux" | "stub"
  pipe2?: (size?: number) => [number, number]
  constants?: Record<string, number>
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

/**
 * Creates an OS pipe with `pipe2(O_CLOEXEC)`: `[readFd, writeFd]`. With `size`, the pipe's
 * capacity is raised with `F_SETPIPE_SZ` where allowed (best effort). Throws an `Error` whose
 * `code` is the errno name (`EMFILE`, ...), or a {@link NativeUnavailableError} when the addon
 * could not be loaded or has no pipe2 on this platform.
 */
export const pipe2 = (size?: number): [number, number] => {
  const fn = loaded.addon?.pipe2
  if (fn === undefined) {
    throw new NativeUnavailableError(`pipe2 is unavailable: ${loaded.error ?? "not supported on this platform"}`)
  }
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

// The native addon throws a plain Error with code ERR_RING_CLOSED: give it its class.
const typed = (error: unknown): unknown =>
  !(error instanceof RingClosedError) && (error as { code?: unknown } | null)?.code === "ERR_RING_CLOSED"
    ? new RingClosedError((error as Error).message)
    : error

// Op ids: generation * 2^24 + slot. The generation of a slot moves on at the op's final
// completion, so an id that has completed never names a later op in the same slot; it wraps
// after 2^29 uses of one slot, keeping ids below 2^53 (safe integers).
const SLOT_SPACE = 2 ** 24
const GENERATION_MASK = 2 ** 29 - 1

const TEST_NO_CANCEL_ANY = 1
const TEST_NO_EXT_ARG = 2
const TEST_NO_DRAIN_CANCEL = 4

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
 */
export class Ring {
  readonly #native: NativeRing
  readonly #out: Int32Array
  readonly #cbs: Array<OpCallback | undefined> = []
  readonly #pins: Array<unknown> = []
  readonly #gens: Array<number> = []
  readonly #free: Array<number> = []
  #next = 0
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
      (options.testNoDrainCancel ? TEST_NO_DRAIN_CANCEL : 0)
    this.#out = new Int32Array(cqEntries * 3)
    try {
      this.#native = new loaded.addon.NativeRing(entries, cqEntries, this.#out, this.#onBatch, testFlags, options.testDrainWarnMs)
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
    kind: OpKind,
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
   * position, for pipes, ttys and sockets). Completes with the byte count.
   */
  read(fd: number, buffer: Bytes, offset: number, length: number, position: number, cb: OpCallback): number {
    return this.#submit(cb, buffer, Op.read, fd, buffer, offset, length, position)
  }

  /** Writes `buffer[offset..offset+length]` at `position` (-1: current position). Completes with the byte count. */
  write(fd: number, buffer: Bytes, offset: number, length: number, position: number, cb: OpCallback): number {
    return this.#submit(cb, buffer, Op.write, fd, buffer, offset, length, position)
  }

  /** Scatter read into `buffers` (each whole) from `position` (-1: current position). */
  readv(fd: number, buffers: ReadonlyArray<Bytes>, position: number, cb: OpCallback): number {
    return this.#vector(Op.readv, fd, buffers, position, cb)
  }

  /** Gather write of `buffers` (each whole) at `position` (-1: current position). */
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
   * written into `out` ({@link STATX_SIZE} bytes, decode with {@link decodeStatx}).
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
}
