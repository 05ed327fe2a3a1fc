// The network backend: the interface each of io_uring and node implements once (Eio's
// `Net.t`); `Net`, `UringSocket` and `UringSocketServer` are written against it.
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { StreamAddress, Tcp, Udp, Unix } from "./address.js"
import type { Connection } from "./connection.js"
import type { NetError } from "./error.js"

/** Options of a listening socket. */
export interface ListenOptions {
  /** Pending-connection queue length (default 511, like node). */
  readonly backlog?: number | undefined
  /** `SO_REUSEADDR` (default true for TCP); on a Unix path, a stale socket file is removed first. */
  readonly reuseAddr?: boolean | undefined
  /** `SO_REUSEPORT` (TCP). */
  readonly reusePort?: boolean | undefined
  /** `TCP_NODELAY` on every accepted connection. */
  readonly noDelay?: boolean | undefined
  /** With no host (`"::"`): accept IPv4 too (default true). */
  readonly dualStack?: boolean | undefined
}

/** Options of an outgoing connection. */
export interface ConnectOptions {
  readonly noDelay?: boolean | undefined
  readonly keepAlive?: boolean | undefined
  /** For a host name: only addresses of this IP family (4 or 6). */
  readonly family?: number | undefined
  /** Bind the local end first (TCP). */
  readonly localAddress?: string | undefined
  readonly localPort?: number | undefined
}

/** A listening stream socket. */
export interface Listener {
  /** The bound address: the real port when asked for port 0. */
  readonly address: StreamAddress
  /** Waits for the next connection; it is closed when the scope closes. */
  readonly accept: Effect.Effect<Connection, NetError, Scope.Scope>
  /** Stops listening (a Unix socket file it made is removed). Idempotent. */
  readonly close: Effect.Effect<void>
}

/** A received datagram. */
export interface Received {
  /** How many bytes were written into the caller's buffer. */
  readonly bytes: number
  readonly from: Udp
}

/** A UDP socket. */
export interface Datagram {
  readonly address: Udp
  /** Sends `bytes` as one datagram to `to`. */
  readonly send: (to: Udp, bytes: Uint8Array) => Effect.Effect<void, NetError>
  /** Receives one datagram into `buf` (truncated to its length). */
  readonly recv: (buf: Uint8Array) => Effect.Effect<Received, NetError>
  readonly close: Effect.Effect<void>
}

/** One backend's network operations. */
export interface NetBackend {
  readonly backendId: "io_uring" | "node"
  readonly listen: (address: Tcp | Unix, options?: ListenOptions) => Effect.Effect<Listener, NetError, Scope.Scope>
  readonly connect: (address: Tcp | Unix, options?: ConnectOptions) => Effect.Effect<Connection, NetError, Scope.Scope>
  readonly datagram: (address?: Udp) => Effect.Effect<Datagram, NetError, Scope.Scope>
}
