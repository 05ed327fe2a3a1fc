import type { PlatformError } from "@effect/platform/Error"
import { constants } from "@effio/uring-native"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as EffectSink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import type { Readable, Writable } from "node:stream"
import type { OpCallback, Ring } from "@effio/uring-native"
import type { UringService } from "../Uring.js"
import { type ErrorContext, fromNodeError } from "./errors.js"
import { nodeAsync } from "./node.js"
import type { FdRef } from "./fdref.js"

export const SourceTypeId: unique symbol = Symbol.for("@effio/core/Source")
export const SinkTypeId: unique symbol = Symbol.for("@effio/core/Sink")
/** Fast-path data of fd-backed flows on io_uring (used by `Flow.copy` for splice). */
export const UringFdTag: unique symbol = Symbol.for("@effio/core/UringFd")

export interface UringFd {
  readonly ref: FdRef
  readonly uring: UringService
}

/** A byte source (Eio's `Flow.source`), failing with `E` (files and pipes: `PlatformError`). */
export interface Source<out E = PlatformError> {
  readonly [SourceTypeId]: typeof SourceTypeId
  /** Reads at most `buf.length` bytes into `buf`; 0 means end of input. */
  readonly read: (buf: Uint8Array) => Effect.Effect<number, E>
  /** The remaining input as a stream of chunks (each a fresh `Uint8Array`). */
  readonly stream: Stream.Stream<Uint8Array, E>
  /**
   * Sources that receive whole chunks (sockets) also give them as they are: the next chunk,
   * a fresh array the caller owns, or `undefined` at end of input. `Flow.copy` uses it to
   * move each chunk without copying it into a buffer of its own.
   */
  readonly readChunk?: Effect.Effect<Uint8Array | undefined, E> | undefined
  /** Releases the source (closes its fd where it owns one). Idempotent. */
  readonly close: Effect.Effect<void>
  readonly [UringFdTag]?: UringFd | undefined
}

/** A byte sink (Eio's `Flow.sink`), failing with `E` (files and pipes: `PlatformError`). */
export interface Sink<out E = PlatformError> {
  readonly [SinkTypeId]: typeof SinkTypeId
  /** Writes all of `data` (a string is written as UTF-8). */
  readonly write: (data: Uint8Array | string) => Effect.Effect<void, E>
  /** An Effect `Sink` writing every element. */
  readonly sink: EffectSink.Sink<void, Uint8Array | string, never, E>
  /** Releases the sink (closes its fd where it owns one, so a reader sees end of input). Idempotent. */
  readonly close: Effect.Effect<void>
  readonly [UringFdTag]?: UringFd | undefined
}

const CHUNK = 64 * 1024
const encoder = new TextEncoder()
export const toBytes = (data: Uint8Array | string): Uint8Array => (typeof data === "string" ? encoder.encode(data) : data)

/**
 * A stream of chunks pulled with `read`. Each run reads into one reusable buffer and emits
 * a copy of exactly the bytes read (a pipe often returns a few bytes per read: a fresh
 * 64 KiB buffer per read would be mostly garbage).
 */
export const streamOf = <E>(read: (buf: Uint8Array) => Effect.Effect<number, E>, chunkSize = CHUNK): Stream.Stream<Uint8Array, E> =>
  Stream.suspend(() => {
    const buf = new Uint8Array(chunkSize)
    return Stream.repeatEffectOption(
      Effect.matchEffect(read(buf), {
        onFailure: (e) => Effect.fail(Option.some(e)),
        onSuccess: (n) => (n === 0 ? Effect.fail(Option.none()) : Effect.succeed(buf.slice(0, n)))
      })
    )
  })

export const makeSource = <E = PlatformError>(
  read: (buf: Uint8Array) => Effect.Effect<number, E>,
  close: Effect.Effect<void>,
  uringFd?: UringFd
): Source<E> => ({
  [SourceTypeId]: SourceTypeId,
  read,
  stream: streamOf(read),
  close,
  [UringFdTag]: uringFd
})

export const makeSink = <E = PlatformError>(
  write: (data: Uint8Array | string) => Effect.Effect<void, E>,
  close: Effect.Effect<void>,
  uringFd?: UringFd
): Sink<E> => ({
  [SinkTypeId]: SinkTypeId,
  write,
  sink: EffectSink.forEach(write),
  close,
  [UringFdTag]: uringFd
})

// ---- io_uring ------------------------------------------------------------------------

const isWouldBlock = (e: PlatformError) => e._tag === "SystemError" && e.reason === "WouldBlock"

const EBADF = -9

/**
 * Queues one op on `ref`'s fd, pinned open until the op's own completion; a closed ref
 * completes at once with EBADF.
 */
export const pinned = (ref: FdRef, prep: (ring: Ring, fd: number, cb: OpCallback) => number) =>
(ring: Ring, cb: OpCallback): number => {
  if (!ref.acquire()) {
    cb(EBADF, 0)
    return -1
  }
  try {
    return prep(ring, ref.fd, (res, flags) => {
      ref.release()
      cb(res, flags)
    })
  } catch (e) {
    ref.release()
    throw e
  }
}

const streamCtx = (method: string, fd: number): ErrorContext => ({ module: "Stream", method, syscall: method, pathOrDescriptor: fd })

/** read(2) at the current position; an O_NONBLOCK fd that has nothing waits with POLLIN. */
export const uringRead = (uring: UringService, ref: FdRef, buf: Uint8Array, method = "read") => {
  const ctx = streamCtx(method, ref.fd)
  const read = uring.op(pinned(ref, (r, fd, cb) => r.read(fd, buf, 0, buf.length, -1, cb)), ctx)
  const poll = uring.op(pinned(ref, (r, fd, cb) => r.pollAdd(fd, constants.POLLIN!, cb)), { ...ctx, syscall: "poll" })
  const attempt: Effect.Effect<number, PlatformError> = Effect.catchIf(read, isWouldBlock, () => Effect.zipRight(poll, attempt))
  return attempt
}

/** Writes all of `bytes` at the current position, looping on short writes. */
export const uringWriteAll = (uring: UringService, ref: FdRef, bytes: Uint8Array, method = "write") => {
  const ctx = streamCtx(method, ref.fd)
  const poll = uring.op(pinned(ref, (r, fd, cb) => r.pollAdd(fd, constants.POLLOUT!, cb)), { ...ctx, syscall: "poll" })
  const loop = (off: number): Effect.Effect<void, PlatformError> =>
    off >= bytes.length
      ? Effect.void
      : Effect.matchEffect(uring.op(pinned(ref, (r, fd, cb) => r.write(fd, bytes, off, bytes.length - off, -1, cb)), ctx), {
        onFailure: (e) => (isWouldBlock(e) ? Effect.zipRight(poll, loop(off)) : Effect.fail(e)),
        onSuccess: (n) => loop(off + n)
      })
  return loop(0)
}

export const uringSource = (uring: UringService, ref: FdRef): Source =>
  makeSource((buf) => uringRead(uring, ref, buf), ref.close, { ref, uring })

export const uringSink = (uring: UringService, ref: FdRef): Sink =>
  makeSink((data) => uringWriteAll(uring, ref, toBytes(data)), ref.close, { ref, uring })

// ---- node streams (fallback) ------------------------------------------------------------

type Refable = { ref?: () => unknown; unref?: () => unknown }

/**
 * A pull source over a node `Readable`. The stream's handle is ref'd only while a read
 * waits, so an interrupted read never keeps the process alive.
 */
export const readableSource = (readable: Readable, close: Effect.Effect<void>, fdLabel: number | string): Source => {
  let leftover: Uint8Array | undefined
  let ended = false
  let failure: unknown
  readable.on("end", () => {
    ended = true
  })
  readable.on("error", (e) => {
    failure = e
  })
  ;(readable as Refable).unref?.()
  const read = (buf: Uint8Array) =>
    Effect.async<number, PlatformError>((resume) => {
      const attempt = (): boolean => {
        if (leftover === undefined) {
          const chunk = readable.read() as Buffer | string | null
          if (chunk !== null) leftover = typeof chunk === "string" ? encoder.encode(chunk) : chunk
        }
        if (leftover !== undefined) {
          const n = Math.min(buf.length, leftover.length)
          buf.set(leftover.subarray(0, n))
          leftover = n === leftover.length ? undefined : leftover.subarray(n)
          resume(Effect.succeed(n))
          return true
        }
        if (failure !== undefined) {
          resume(Effect.fail(fromNodeError(failure, { module: "Stream", method: "read", syscall: "read", pathOrDescriptor: fdLabel })))
          return true
        }
        if (ended || readable.readableEnded || readable.destroyed) {
          resume(Effect.succeed(0))
          return true
        }
        return false
      }
      if (buf.length === 0) return resume(Effect.succeed(0))
      if (attempt()) return
      const onEvent = () => {
        if (attempt()) cleanup()
      }
      const cleanup = () => {
        readable.off("readable", onEvent)
        readable.off("end", onEvent)
        readable.off("error", onEvent)
        readable.off("close", onEvent)
        ;(readable as Refable).unref?.()
      }
      ;(readable as Refable).ref?.()
      readable.on("readable", onEvent)
      readable.on("end", onEvent)
      readable.on("error", onEvent)
      readable.on("close", onEvent)
      return Effect.sync(cleanup)
    })
  return makeSource(read, close)
}

/** A sink over a node `Writable`; each write completes when node has flushed it. */
export const writableSink = (writable: Writable, close: Effect.Effect<void>, fdLabel: number | string): Sink => {
  // A failed write (EPIPE: the reader went away) reaches its callback, which fails the
  // Effect; the stream also emits 'error', which with no listener would crash the process.
  writable.on("error", () => {})
  return makeSink(
    (data) =>
      Effect.async<void, PlatformError>((resume) => {
        writable.write(toBytes(data), (err) =>
          resume(
            err
              ? Effect.fail(fromNodeError(err, { module: "Stream", method: "write", syscall: "write", pathOrDescriptor: fdLabel }))
              : Effect.void
          ))
      }),
    close
  )
}

/** A source over any fd with node's `fs.read` (threadpool; used by the fallback backend). */
export const nodeFdSource = (ref: FdRef): Source =>
  makeSource(
    (buf) =>
      ref.use("read", (fd) =>
        nodeAsync<number>(
          { module: "Stream", method: "read", syscall: "read", pathOrDescriptor: fd },
          (cb) => fs.read(fd, buf, 0, buf.length, null, cb)
        )),
    ref.close
  )

/** A sink over any fd with node's `fs.write`, looping on short writes. */
export const nodeFdSink = (ref: FdRef): Sink =>
  makeSink(
    (data) =>
      ref.use("write", (fd) => {
        const bytes = toBytes(data)
        const loop = (off: number): Effect.Effect<void, PlatformError> =>
          off >= bytes.length ? Effect.void : Effect.flatMap(
            nodeAsync<number>(
              { module: "Stream", method: "write", syscall: "write", pathOrDescriptor: fd },
              (cb) => fs.write(fd, bytes, off, bytes.length - off, null, cb)
            ),
            (n) => loop(off + n)
          )
        return loop(0)
      }),
    ref.close
  )
