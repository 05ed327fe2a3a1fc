// `@effect/platform`'s Socket over a Connection opened per `run`, for both backends; the
// behaviour is NodeSocket's (`fromDuplex`), checked against it by the behaviour suite.
import * as Socket from "@effect/platform/Socket"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import { identity } from "effect/Function"
import * as Scope from "effect/Scope"
import { type Connection, inboxOf } from "./connection.js"
import type { NetError } from "./error.js"

/** The connection a `run` handler is serving (its fd on io_uring, the peer's address). */
export class CurrentConnection extends Context.Tag("@effio/net/CurrentConnection")<CurrentConnection, Connection>() {}

export const fromConnection = <RO>(
  open: Effect.Effect<Connection, Socket.SocketError, RO>,
  options?: { readonly openTimeout?: Duration.DurationInput | undefined }
): Effect.Effect<Socket.Socket, never, Exclude<RO, Scope.Scope>> =>
  Effect.withFiberRuntime<Socket.Socket, never, Exclude<RO, Scope.Scope>>((fiber) => {
    let current: { readonly conn: Connection; readonly done: Deferred.Deferred<void, unknown> } | undefined
    const latch = Effect.unsafeMakeLatch(false)
    const openContext = fiber.currentContext as Context.Context<RO>

    const run = <R, E, _>(
      handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
      opts?: { readonly onOpen?: Effect.Effect<void> | undefined }
    ) =>
      Effect.scopedWith((scope) =>
        Effect.gen(function*() {
          const fiberSet = yield* FiberSet.make<any, E | Socket.SocketError>().pipe(Scope.extend(scope))
          const conn = yield* Scope.extend(open, scope).pipe(
            options?.openTimeout
              ? Effect.timeoutFail({
                duration: options.openTimeout,
                onTimeout: () => new Socket.SocketGenericError({ reason: "Open", cause: new Error("Connection timed out") })
              })
              : identity
          )
          const fork = yield* Effect.provideService(FiberSet.runtime(fiberSet)<R>(), CurrentConnection, conn)
          const done = fiberSet.deferred as Deferred.Deferred<void, unknown>
          // Each chunk is handed to a handler fiber of its own straight from the receive
          // callback (NodeSocket does it from 'data' events). The inbox counts a chunk's bytes
          // until its handler ends, so handlers that lag (an echo to a peer that does not read)
          // hold at most ~1 MiB before the receiver is paused and the kernel pushes back on the
          // peer. (NodeSocket forks without bound.) End of stream ends `run`; handlers still
          // running are interrupted with the scope.
          const inbox = inboxOf(conn)
          const deliver = (chunk: Uint8Array) => {
            let result: Effect.Effect<unknown, E, R> | void
            try {
              result = handler(chunk)
            } catch (defect) {
              inbox.release(chunk.length)
              return Deferred.unsafeDone(done, Exit.die(defect))
            }
            if (!Effect.isEffect(result)) return inbox.release(chunk.length)
            fork(result).addObserver(() => inbox.release(chunk.length))
          }
          current = { conn, done }
          yield* latch.open
          if (opts?.onOpen) yield* opts.onOpen
          inbox.attach({
            chunk: deliver,
            end: () => Deferred.unsafeDone(done, Exit.void),
            fail: (cause: NetError) =>
              Deferred.unsafeDone(done, Exit.fail(new Socket.SocketGenericError({ reason: "Read", cause })))
          })
          return yield* FiberSet.join(fiberSet)
        })
      ).pipe(
        Effect.mapInputContext((input: Context.Context<R>) => Context.merge(openContext, input)),
        Effect.ensuring(Effect.sync(() => {
          latch.unsafeClose()
          current = undefined
        })),
        Effect.interruptible
      )

    const write = (chunk: Uint8Array | string | Socket.CloseEvent) =>
      latch.whenOpen(Effect.suspend((): Effect.Effect<void, Socket.SocketError> => {
        const c = current!
        if (Socket.isCloseEvent(chunk)) {
          // NodeSocket destroys the socket: code 1000 ends `run` with SocketCloseError 1000,
          // a larger code as a read error.
          Deferred.unsafeDone(
            c.done,
            Exit.fail(
              chunk.code > 1000
                ? new Socket.SocketGenericError({ reason: "Read", cause: new Error(`closed with code ${chunk.code}`) })
                : new Socket.SocketCloseError({ reason: "Close", code: 1000 })
            )
          )
          return Effect.void
        }
        return Effect.mapError(c.conn.write(chunk), (cause) => new Socket.SocketGenericError({ reason: "Write", cause }))
      }))

    // Closing the writer's scope half-closes the connection (FIN), as NodeSocket's `end()`.
    const writer = Effect.acquireRelease(Effect.succeed(write), () =>
      current === undefined ? Effect.void : Effect.ignore(current.conn.shutdown("send")))

    return Effect.succeed(Socket.Socket.of({ [Socket.TypeId]: Socket.TypeId, run, runRaw: run, writer }))
  })
