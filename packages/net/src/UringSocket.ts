/**
 * `@effect/platform`'s `Socket` over io_uring: a drop-in for `@effect/platform-node`'s
 * `NodeSocket.makeNet` / `makeNetChannel` / `layerNet`, with the same signatures and
 * behaviour. They need nothing in their context: each `run` opens a connection on the loop's
 * shared ring, and where io_uring is unavailable they run over `node:net` with the one-line
 * notice.
 *
 * Honoured options: `host` (default `localhost`, each resolved address tried in order),
 * `port`, `path` (Unix socket), `openTimeout`, `noDelay`, `keepAlive`, `family`,
 * `localAddress`, `localPort`. Node's other `net.NetConnectOpts` fields are ignored.
 *
 * NodeSocket's `NetSocket` (the raw `net.Socket`) cannot exist over io_uring: a handler reads
 * {@link CurrentConnection} instead (the peer address, and the fd on io_uring).
 *
 * @example
 * ```ts
 * import { Socket } from "@effect/platform"
 * import { UringSocket } from "@effio/net"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const socket = yield* UringSocket.makeNet({ port: 8080 })
 *   const write = yield* socket.writer
 *   yield* write("hello\n")
 *   yield* socket.run((chunk) => Effect.log(new TextDecoder().decode(chunk)))
 * }).pipe(Effect.scoped)
 * ```
 * @module
 */
import * as Socket from "@effect/platform/Socket"
import type * as Channel from "effect/Channel"
import type * as Chunk from "effect/Chunk"
import * as ChannelM from "effect/Channel"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { tcp, unix } from "./internal/address.js"
import { acquireBackend } from "./internal/choose.js"
import { fromConnection } from "./internal/socket.js"

export { CurrentConnection } from "./internal/socket.js"

/** Where to connect: TCP (`host` defaults to `localhost`) or a Unix socket `path`. */
export type NetOptions =
  | {
    readonly host?: string | undefined
    readonly port: number
    readonly openTimeout?: Duration.DurationInput | undefined
    readonly noDelay?: boolean | undefined
    readonly keepAlive?: boolean | undefined
    readonly family?: number | undefined
    readonly localAddress?: string | undefined
    readonly localPort?: number | undefined
  }
  | {
    readonly path: string
    readonly openTimeout?: Duration.DurationInput | undefined
  }

const open = (options: NetOptions) =>
  Effect.flatMap(
    Effect.mapError(acquireBackend(), (cause) => new Socket.SocketGenericError({ reason: "Open", cause })),
    (backend) => {
      const connect = "path" in options
        ? backend.connect(unix(options.path))
        : backend.connect(tcp(options.host ?? "localhost", options.port), {
          noDelay: options.noDelay,
          keepAlive: options.keepAlive,
          family: options.family,
          localAddress: options.localAddress,
          localPort: options.localPort
        })
      return Effect.mapError(connect, (cause) => new Socket.SocketGenericError({ reason: "Open", cause }))
    }
  )

/**
 * A `Socket` that connects on each `run` (and closes when `run` ends). Never connects by
 * itself and never fails; a refused connection fails `run` with reason `"Open"`.
 */
export const makeNet = (options: NetOptions): Effect.Effect<Socket.Socket, Socket.SocketError> =>
  fromConnection(open(options), options)

/** {@link makeNet} as a `Channel` (like `NodeSocket.makeNetChannel`). */
export const makeNetChannel = <IE = never>(
  options: NetOptions
): Channel.Channel<
  Chunk.Chunk<Uint8Array>,
  Chunk.Chunk<Uint8Array | string | Socket.CloseEvent>,
  Socket.SocketError | IE,
  IE,
  void,
  unknown
> => ChannelM.unwrapScoped(Effect.map(makeNet(options), Socket.toChannelWith<IE>()))

/** A Layer providing `Socket.Socket` from {@link makeNet}. */
export const layerNet = (options: NetOptions): Layer.Layer<Socket.Socket, Socket.SocketError> =>
  Layer.effect(Socket.Socket, makeNet(options))
