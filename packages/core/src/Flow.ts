/**
 * Byte flows (Eio's `Flow`): sources, sinks, copying between them and splitting into lines.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Flow, Runtime } from "@effio/runtime"
 *
 * // cat: stdin → stdout (splice(2) on io_uring when an end is a pipe)
 * Runtime.run((env) => Flow.copy(env.stdin, env.stdout))
 * ```
 * @module
 */
import type { PlatformError } from "@effect/platform/Error"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import { pinned, type Sink, SinkTypeId, type Source, SourceTypeId, type UringFd, UringFdTag } from "./internal/flow.js"

export type { Sink, Source } from "./internal/flow.js"
export { makeSink, makeSource } from "./internal/flow.js"

/**
 * Flows over an fd, one pair per backend: through the ring (`IORING_OP_READ`/`WRITE`; pipes,
 * ttys and sockets at their own position), or through node's threadpool (`fs.read`/`fs.write`).
 * The `FdRef` pins the fd for every op; closing a flow closes the ref.
 */
export { toBytes } from "./internal/flow.js"

export {
  nodeFdSink,
  nodeFdSource,
  /** A pull {@link Source} over a node `Readable` (its handle ref'd only while a read waits). */
  readableSource as fromReadable,
  uringSink as uringFdSink,
  uringSource as uringFdSource,
  /** A {@link Sink} over a node `Writable`; each write completes when node has flushed it. */
  writableSink as fromWritable
} from "./internal/flow.js"

/** True for a {@link Source}. */
export const isSource = (u: unknown): u is Source<unknown> => typeof u === "object" && u !== null && SourceTypeId in u

/** True for a {@link Sink}. */
export const isSink = (u: unknown): u is Sink<unknown> => typeof u === "object" && u !== null && SinkTypeId in u

const CHUNK = 64 * 1024

const isFifo = (fd: number): boolean => {
  try {
    return fs.fstatSync(fd).isFIFO()
  } catch {
    return false
  }
}

// splice(2) moves pages between fds inside the kernel; it needs a pipe on one side.
const spliceAll = (src: UringFd, dst: UringFd): Effect.Effect<number, PlatformError> => {
  const ctx = { module: "Stream", method: "copy", syscall: "splice", pathOrDescriptor: src.ref.fd } as const
  const splice = src.uring.op(
    pinned(src.ref, (ring, fdIn, cb) => pinned(dst.ref, (r, fdOut, done) => r.splice(fdIn, -1, fdOut, -1, CHUNK, 0, done))(ring, cb)),
    ctx
  )
  const loop = (total: number): Effect.Effect<number, PlatformError> =>
    Effect.flatMap(splice, (n) => (n === 0 ? Effect.succeed(total) : loop(total + n)))
  return loop(0)
}

const readWriteAll = <E1, E2>(source: Source<E1>, sink: Sink<E2>): Effect.Effect<number, E1 | E2> =>
  Effect.suspend(() => {
    const readChunk = source.readChunk
    if (readChunk !== undefined) {
      // Chunks as received (sockets): each written as it is, no copy into a buffer of ours.
      const pass = (total: number): Effect.Effect<number, E1 | E2> =>
        Effect.flatMap(readChunk, (chunk) =>
          chunk === undefined ? Effect.succeed(total) : Effect.zipRight(sink.write(chunk), pass(total + chunk.length)))
      return pass(0)
    }
    const buf = new Uint8Array(CHUNK)
    const loop = (total: number): Effect.Effect<number, E1 | E2> =>
      Effect.flatMap(source.read(buf), (n) =>
        n === 0 ? Effect.succeed(total) : Effect.zipRight(sink.write(buf.subarray(0, n)), loop(total + n)))
    return loop(0)
  })

/**
 * Copies everything from `source` to `sink` until end of input; returns the byte count.
 * On io_uring, when both ends are fds and one of them is a pipe, the bytes move with
 * `splice(2)` and never enter JS; otherwise a 64 KiB buffer is read and written.
 */
export const copy: {
  <E2>(sink: Sink<E2>): <E1>(source: Source<E1>) => Effect.Effect<number, E1 | E2 | PlatformError>
  <E1, E2>(source: Source<E1>, sink: Sink<E2>): Effect.Effect<number, E1 | E2 | PlatformError>
} = function copy(...args: Array<unknown>): any {
  if (args.length === 1) return (source: Source<unknown>) => copy(source, args[0] as Sink<unknown>)
  const source = args[0] as Source<unknown>
  const sink = args[1] as Sink<unknown>
  return Effect.suspend(() => {
    const src = source[UringFdTag]
    const dst = sink[UringFdTag]
    if (src && dst && src.uring === dst.uring && src.ref.isOpen && dst.ref.isOpen && (isFifo(src.ref.fd) || isFifo(dst.ref.fd))) {
      return spliceAll(src, dst)
    }
    return readWriteAll(source, sink)
  })
}

/** A line longer than the limit given to {@link lines}. */
export class LineTooLong extends Data.TaggedError("LineTooLong")<{ readonly maxLength: number }> {
  override get message(): string {
    return `a line is longer than ${this.maxLength} characters`
  }
}

/** Options for {@link lines}. */
export interface LinesOptions {
  /** Longest accepted line, in UTF-16 code units, without its terminator (default 1 MiB). */
  readonly maxLength?: number
}

/**
 * The input split into lines, decoded as UTF-8. Lines end with LF or CRLF (the terminator
 * is not included); a last line without a terminator is kept. A line over `maxLength`
 * fails the stream with {@link LineTooLong} (memory stays bounded).
 */
export const lines = <E = PlatformError>(source: Source<E>, options: LinesOptions = {}): Stream.Stream<string, E | LineTooLong> =>
  Stream.suspend(() => {
    const max = options.maxLength ?? 1024 * 1024
    const decoder = new TextDecoder("utf-8")
    let pending = ""
    const split = (text: string): Effect.Effect<Array<string>, LineTooLong> => {
      pending += text
      const out: Array<string> = []
      let start = 0
      for (let nl = pending.indexOf("\n", start); nl !== -1; nl = pending.indexOf("\n", start)) {
        const end = nl > start && pending.charCodeAt(nl - 1) === 13 ? nl - 1 : nl
        if (end - start > max) return Effect.fail(new LineTooLong({ maxLength: max }))
        out.push(pending.slice(start, end))
        start = nl + 1
      }
      pending = pending.slice(start)
      // An unfinished line already too long (a trailing CR may still belong to CRLF).
      const unfinished = pending.endsWith("\r") ? pending.length - 1 : pending.length
      if (unfinished > max) return Effect.fail(new LineTooLong({ maxLength: max }))
      return Effect.succeed(out)
    }
    const rest = Stream.suspend(() => {
      const tail = pending + decoder.decode()
      pending = ""
      if (tail.length === 0) return Stream.empty
      return tail.length > max ? Stream.fail(new LineTooLong({ maxLength: max })) : Stream.make(tail)
    })
    return source.stream.pipe(
      Stream.mapEffect((chunk) => split(decoder.decode(chunk, { stream: true }))),
      Stream.flattenIterables,
      Stream.concat(rest),
      // Small chunks: some Effect sinks fold a chunk recursively, element by element.
      Stream.rechunk(256)
    )
  })
