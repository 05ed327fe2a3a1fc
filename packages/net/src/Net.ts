/**
 * Eio's `Net` on Effect: listening and connected stream sockets (TCP, Unix), UDP, name
 * resolution. The functions take their backend from the {@link Net} service, which
 * `Runtime.layer()`, `Runtime.layerUring()` and `Runtime.layerNode` provide; `env.net` is the
 * same API bound to the environment's backend.
 *
 * A connection is a `Flow` source and sink in one: `read(buf)` gives the bytes read and 0 at
 * end of stream, `write(bytes)`, `shutdown("send" | "receive" | "all")`, `close`; it works with
 * `Flow.copy` and `Flow.lines`. Failures are {@link NetError}s.
 *
 * @example
 * ```ts
 * import { Net } from "@effio/net"
 * import { Flow } from "@effio/runtime"
 * import { Effect } from "effect"
 *
 * // An echo server on an ephemeral port.
 * const echo = Effect.gen(function*() {
 *   const listener = yield* Net.listen(Net.tcp("127.0.0.1", 0))
 *   yield* Net.runServer(listener, (flow) => Flow.copy(flow, flow))
 * }).pipe(Effect.scoped, Effect.provide(Net.layer()))
 * ```
 * @module
 */
import { type Backend, Uring } from "@effio/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Tcp, Udp, Unix } from "./internal/address.js"
import type { ConnectOptions, Datagram, ListenOptions, Listener, NetBackend } from "./internal/backend.js"
import { acquireBackend } from "./internal/choose.js"
import type { Connection } from "./internal/connection.js"
import type { NetError } from "./internal/error.js"
import * as internal from "./internal/net.js"
import { nodeBackend } from "./internal/nodeBackend.js"
import { uringBackend } from "./internal/uringBackend.js"

export type { Address, StreamAddress, Tcp, Udp, Unix } from "./internal/address.js"
export { show, tcp, udp, unix } from "./internal/address.js"
export type { ConnectOptions, Datagram, ListenOptions, Listener, NetBackend, Received } from "./internal/backend.js"
export type { Connection, Shutdown } from "./internal/connection.js"
export type { Reason } from "./internal/errno.js"
export { NetError } from "./internal/error.js"
export type { NetApi, OnError, RunServerOptions } from "./internal/net.js"

/** The `Net` service: the network backend of the program (io_uring or node). */
export const Net = internal.Net
/** The `Net` service: the network backend of the program (io_uring or node). */
export type Net = internal.Net

/** `Net` over `node:net` / `node:dgram`. */
export const layerNode: Layer.Layer<Net> = Layer.succeed(Net, nodeBackend)

/** `Net` over the `Uring` service in the context (the loop's shared ring). */
export const layerWithRing: Layer.Layer<Net, never, Uring.Uring> = Layer.effect(Net, Effect.map(Uring.Uring, uringBackend))

/**
 * `Net` for the chosen backend (`backend`, else `EFFIO_BACKEND`, else auto): io_uring on the
 * loop's shared ring where usable, else node with the one-line notice.
 */
export const layer = (
  backend?: Backend.Backend | undefined
): Layer.Layer<Net, Backend.BackendUnavailable | Uring.UringUnavailable> => Layer.scoped(Net, acquireBackend(backend))

/**
 * A listening socket for the scope's lifetime, with its bound `address` (the real port for
 * port 0). With `reuseAddr` a stale Unix socket file is removed first, as Eio does.
 */
export const listen = (address: Tcp | Unix, options?: ListenOptions): Effect.Effect<Listener, NetError, Net | Scope.Scope> =>
  Effect.flatMap(Net, (net) => net.listen(address, options))

/** Accepts one connection; it is closed when the scope closes. */
export const accept: (listener: Listener) => Effect.Effect<Connection, NetError, Scope.Scope> = internal.accept

/**
 * Accepts one connection and forks `handler` into the switch; the connection closes when the
 * handler returns. Handler failures go to `onError` (default: logged); interruption never does.
 */
export const acceptFork: typeof internal.acceptFork = internal.acceptFork

/**
 * Serves connections until `stop` completes (then live connections finish) or until
 * interrupted (then every accepted connection is closed); the listener stays open.
 * `maxConnections` bounds how many are served at once.
 */
export const runServer: typeof internal.runServer = internal.runServer

/** Connects to `address` (scoped: closed when the scope closes). */
export const connect = (address: Tcp | Unix, options?: ConnectOptions): Effect.Effect<Connection, NetError, Net | Scope.Scope> =>
  Effect.flatMap(Net, (net) => net.connect(address, options))

/**
 * Resolves `host`/`service` and connects to each address in order until one succeeds
 * (`timeout` per attempt); runs `use` with the connection and closes it.
 */
export const withTcpConnect = <A, E, R>(
  options: { readonly host: string; readonly service: string | number; readonly timeout?: Duration.DurationInput | undefined },
  use: (flow: Connection) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | NetError, Net | Exclude<R, Scope.Scope>> =>
  Effect.flatMap(Net, (net) => internal.withTcpConnect(net, options, use))

/** A UDP socket bound to `address` (default: an ephemeral port on all interfaces). */
export const datagramSocket = (address?: Udp): Effect.Effect<Datagram, NetError, Net | Scope.Scope> =>
  Effect.flatMap(Net, (net) => net.datagram(address))

/** `getaddrinfo(host, service)`: every TCP address, in the resolver's order. */
export const getaddrinfo: (host: string, service: string | number) => Effect.Effect<ReadonlyArray<Tcp>, NetError> =
  internal.getaddrinfo

/** Eio's `Net` bound to one backend, without the service (what `env.net` is). */
export const bind: (backend: NetBackend) => internal.NetApi = internal.bind
