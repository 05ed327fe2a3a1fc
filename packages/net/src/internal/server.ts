// `@effect/platform`'s SocketServer over a backend's Listener, for both backends; the
// behaviour is NodeSocketServer's, checked against it by the behaviour suite.
import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import type { Listener } from "./backend.js"
import { acceptScoped } from "./net.js"
import { fromConnection } from "./socket.js"

// As NodeSocketServer: a handler's failure is logged (at the unhandled-error level), never
// fatal to the server.
const reportUnhandledError = <E>(cause: Cause.Cause<E>) =>
  Effect.withFiberRuntime<void>((fiber) => {
    const level = fiber.getFiberRef(FiberRef.unhandledErrorLogLevel)
    return level._tag === "Some" ? Effect.logWithLevel(level.value, cause, "Unhandled error in SocketServer") : Effect.void
  })

/**
 * A SocketServer on `listener`. Connections that arrive before `run` wait in the kernel's
 * backlog; `run(handler)` serves each in a fiber of its own and closes the connection when
 * the handler ends; closing the scope stops listening, then waits for live connections.
 */
export const fromListener = (listener: Listener): Effect.Effect<SocketServer.SocketServer["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    let live = 0
    let idle: Deferred.Deferred<void> | undefined
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        Effect.zipRight(Effect.sync(() => (closed = true)), listener.close),
        Effect.suspend(() => (live === 0 ? Effect.void : Deferred.await(idle ??= Deferred.unsafeMake(FiberId.none))))
      )
    )
    const settle = Effect.sync(() => {
      if (--live === 0 && idle !== undefined) Deferred.unsafeDone(idle, Exit.void)
    })

    const run = <R, E, _>(handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const fiberSet = yield* FiberSet.make().pipe(Scope.extend(scope))
        const fork = yield* FiberSet.runtime(fiberSet)<R>()
        const acceptOne = acceptScoped(listener, (conn, connScope) =>
          Effect.sync(() => {
            live++
            fork(
              fromConnection(Effect.succeed(conn)).pipe(
                Effect.flatMap((socket) => Effect.suspend(() => handler(socket))),
                Effect.catchAllCause(reportUnhandledError),
                // Forked from the uninterruptible region: the handler itself must stay interruptible.
                Effect.interruptible,
                Effect.ensuring(Effect.zipRight(Scope.close(connScope, Exit.void), settle))
              )
            )
          })).pipe(
            // After the server's scope closed, `run` waits forever, as NodeSocketServer's does.
            Effect.catchAll((e) => (closed ? Effect.never : Effect.fail(e)))
          )
        return yield* Effect.forever(acceptOne).pipe(
          Effect.mapError((cause) => new SocketServer.SocketServerError({ reason: "Unknown", cause })),
          Effect.ensuring(Scope.close(scope, Exit.void))
        )
      })

    const address: SocketServer.Address = listener.address._tag === "Unix"
      ? { _tag: "UnixAddress", path: listener.address.path }
      : { _tag: "TcpAddress", hostname: listener.address.host, port: listener.address.port }
    return SocketServer.SocketServer.of({ address, run })
  })
