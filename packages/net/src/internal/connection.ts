// A connected stream socket as one Flow source + sink, whatever the backend: the backend
// supplies the inbox it feeds, a write-all, shutdown and close; reading with a caller's
// buffer is done here once for both.
import { Flow } from "@effio/core"
import * as Effect from "effect/Effect"
import type { StreamAddress } from "./address.js"
import type { NetError } from "./error.js"
import type { Inbox } from "./inbox.js"

/** Which direction(s) `shutdown` closes. */
export type Shutdown = "send" | "receive" | "all"

/** A connected stream socket (TCP or Unix): a Flow source and sink in one. */
export interface Connection extends Flow.Source<NetError>, Flow.Sink<NetError> {
  /** The next chunk received (a fresh array the caller owns); `undefined` at end of stream. */
  readonly readChunk: Effect.Effect<Uint8Array | undefined, NetError>
  /** `shutdown(2)`: "send" sends FIN (the peer reads end of stream), "receive", or "all". */
  readonly shutdown: (how: Shutdown) => Effect.Effect<void, NetError>
  /** The peer's address. */
  readonly peer: StreamAddress
  /** This end's address. */
  readonly local: StreamAddress
  /** The socket's fd where the backend has one (io_uring), for `setsockopt` and the like. */
  readonly fd: number | undefined
}

/** What a backend supplies to make a {@link Connection}. */
export interface ConnectionParts {
  readonly inbox: Inbox
  readonly writeAll: (bytes: Uint8Array) => Effect.Effect<void, NetError>
  readonly shutdown: (how: Shutdown) => Effect.Effect<void, NetError>
  readonly close: Effect.Effect<void>
  readonly peer: StreamAddress
  readonly local: StreamAddress
  readonly fd: number | undefined
}

// A connection's inbox, for the in-package consumers that attach to it instead of reading
// (the Socket adapter); not part of the Connection a user sees.
const inboxes = new WeakMap<Connection, Inbox>()

/** The inbox feeding `conn` (every Connection made by {@link makeConnection} has one). */
export const inboxOf = (conn: Connection): Inbox => inboxes.get(conn)!

export const makeConnection = (parts: ConnectionParts): Connection => {
  let leftover: Uint8Array | undefined
  const readChunk: Effect.Effect<Uint8Array | undefined, NetError> = Effect.suspend(() => {
    if (leftover === undefined) return parts.inbox.take
    const chunk = leftover
    leftover = undefined
    return Effect.succeed(chunk)
  })
  const read = (buf: Uint8Array): Effect.Effect<number, NetError> =>
    buf.length === 0 ? Effect.succeed(0) : Effect.map(readChunk, (chunk) => {
      if (chunk === undefined) return 0
      const n = Math.min(buf.length, chunk.length)
      buf.set(n === chunk.length ? chunk : chunk.subarray(0, n))
      if (n < chunk.length) leftover = chunk.subarray(n)
      return n
    })
  const write = (data: Uint8Array | string) => {
    const bytes = Flow.toBytes(data)
    return bytes.length === 0 ? Effect.void : parts.writeAll(bytes)
  }
  const source = Flow.makeSource<NetError>(read, parts.close)
  const sink = Flow.makeSink<NetError>(write, parts.close)
  const conn: Connection = {
    ...source,
    ...sink,
    readChunk,
    shutdown: parts.shutdown,
    peer: parts.peer,
    local: parts.local,
    fd: parts.fd
  }
  inboxes.set(conn, parts.inbox)
  return conn
}
