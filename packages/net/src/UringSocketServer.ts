/**
 * `@effect/platform`'s `SocketServer` over io_uring: a drop-in for `@effect/platform-node`'s
 * `NodeSocketServer.make` / `layer` (`{ port?, host?, backlog? }` or `{ path }`). It listens on
 * the loop's shared ring (multishot accept), or over `node:net` where io_uring is unavailable.
 *
 * `address` is a `TcpAddress` (the real port for `port: 0`; with no host it listens
 * dual-stack on `::`) or a `UnixAddress`. The backlog defaults to 511, with `SO_REUSEADDR`. A
 * busy port or an existing Unix path fails with reason `"Open"` (an existing path is not
 * removed); the socket file is removed on close.
 *
 * @example
 * ```ts
 * import { UringSocketServer } from "@effio/net"
 * import { Effect } from "effect"
 *
 * const echo = Effect.gen(function*() {
 *   const server = yield* UringSocketServer.make({ port: 0 })
 *   yield* server.run((socket) =>
 *     Effect.flatMap(socket.writer, (write) => socket.run((chunk) => write(chunk))))
 * }).pipe(Effect.scoped)
 * ```
 * @module
 */
import * as SocketServer from "@effect/platform/SocketServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { tcp, unix } from "./internal/address.js"
import { acquireBackend } from "./internal/choose.js"
import { fromListener } from "./internal/server.js"

/** Where to listen. */
export type ServerOptions =
  | { readonly port?: number | undefined; readonly host?: string | undefined; readonly backlog?: number | undefined }
  | { readonly path: string; readonly backlog?: number | undefined }

/** A listening SocketServer for the scope's lifetime. */
export const make = (
  options: ServerOptions
): Effect.Effect<SocketServer.SocketServer["Type"], SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const backend = yield* Effect.mapError(acquireBackend(), (cause) => new SocketServer.SocketServerError({ reason: "Open", cause }))
    const address = "path" in options ? unix(options.path) : tcp(options.host ?? "", options.port ?? 0)
    const listener = yield* Effect.mapError(
      backend.listen(address, { backlog: options.backlog, reuseAddr: address._tag === "Tcp" ? true : false }),
      (cause) => new SocketServer.SocketServerError({ reason: "Open", cause })
    )
    return yield* fromListener(listener)
  })

/** A Layer providing `SocketServer.SocketServer` from {@link make}. */
export const layer = (options: ServerOptions): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError> =>
  Layer.scoped(SocketServer.SocketServer, make(options))
