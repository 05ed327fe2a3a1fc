// Eio's Net on a backend: listen, accept, acceptFork, runServer, connect, withTcpConnect,
// datagram sockets, getaddrinfo.
import { Switch } from "@effio/core"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import { type StreamAddress, type Tcp, tcp, type Udp, type Unix } from "./address.js"
import type { ConnectOptions, Datagram, ListenOptions, Listener, NetBackend } from "./backend.js"
import type { Connection } from "./connection.js"
import { type NetError, netError } from "./error.js"
import { getaddrinfo, servicePort, tryEach } from "./resolve.js"

/** The `Net` service: the backend the program's network operations use. */
export class Net extends Context.Tag("@effio/net/Net")<Net, NetBackend>() {}

/** A connection handler's failure (never an interruption). */
export type OnError = (cause: Cause.Cause<unknown>) => Effect.Effect<void>

const logFailure: OnError = (cause) => Effect.logWarning("Net: a connection handler failed", cause)

// Interruptions are the server's own (stop, scope close): only real failures are reported.
const reportWith = (onError: OnError) => (cause: Cause.Cause<unknown>) =>
  Cause.isInterruptedOnly(cause) ? Effect.void : onError(cause)

/**
 * Accepts one connection into a scope of its own and hands both to `start` (which forks the
 * handler, made interruptible again, and arranges for the scope's close). Only the wait is interruptible: from the
 * accept to the fork nothing can interrupt, so no accepted connection is left unclosed; if
 * `start` fails, the connection is closed at once.
 */
export const acceptScoped = <A, E, R>(
  listener: Listener,
  start: (flow: Connection, scope: Scope.CloseableScope) => Effect.Effect<A, E, R>
): Effect.Effect<A, NetError | E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Scope.make(), (scope) =>
      Effect.matchEffect(restore(Scope.extend(listener.accept, scope)), {
        onFailure: (e) => Effect.zipRight(Scope.close(scope, Exit.void), Effect.fail(e)),
        onSuccess: (flow) => Effect.onError(start(flow, scope), () => Scope.close(scope, Exit.void))
      })))

/** Accepts one connection on `listener`; it is closed when the scope closes. */
export const accept = (listener: Listener): Effect.Effect<Connection, NetError, Scope.Scope> => listener.accept

/**
 * Accepts one connection and forks `handler` into `sw` with it; the connection is closed when
 * the handler returns. A failure of the handler goes to `onError` (default: logged) and does
 * not fail the switch; an interruption is never reported.
 */
export const acceptFork = <E, R>(
  sw: Switch.Switch<never>,
  listener: Listener,
  handler: (flow: Connection, peer: StreamAddress) => Effect.Effect<unknown, E, R>,
  options: { readonly onError?: OnError | undefined } = {}
): Effect.Effect<void, NetError | Switch.SwitchFinished, R> =>
  acceptScoped(listener, (flow, connScope) =>
    Switch.fork(
      sw,
      // Forked from the uninterruptible region: the handler itself must stay interruptible.
      Effect.interruptible(Effect.catchAllCause(Effect.suspend(() => handler(flow, flow.peer)), reportWith(options.onError ?? logFailure)))
    ).pipe(
      // The connection closes when the handler's fiber ends, also when it never started (a
      // switch that is off forks fibers born interrupted); a refused fork closes it at once.
      Effect.flatMap((fiber) => Effect.sync(() => fiber.addObserver(() => Effect.runFork(Scope.close(connScope, Exit.void))))),
      Effect.asVoid
    ))

/** Options of {@link runServer}. */
export interface RunServerOptions {
  /** At most this many connections are served at once; more wait in the backlog. */
  readonly maxConnections?: number | undefined
  /** A handler's failure (default: logged); interruptions are never reported. */
  readonly onError?: OnError | undefined
  /** When this completes, accepting stops and live connections finish; then `runServer` returns. */
  readonly stop?: Effect.Effect<void> | undefined
}

/**
 * Serves `listener` until `stop` completes (then live connections finish, as in Eio) or until
 * interrupted (then every connection it accepted is closed). The listener stays open. If
 * accepting fails (the listener was closed), live connections finish, then it fails with that.
 */
export const runServer = <E, R>(
  listener: Listener,
  handler: (flow: Connection, peer: StreamAddress) => Effect.Effect<unknown, E, R>,
  options: RunServerOptions = {}
): Effect.Effect<void, NetError, R> =>
  Effect.scoped(
    Effect.gen(function*() {
      const onError = reportWith(options.onError ?? logFailure)
      const max = options.maxConnections ?? Number.POSITIVE_INFINITY
      const permits = Number.isFinite(max) ? yield* Effect.makeSemaphore(Math.max(1, Math.floor(max))) : undefined
      const fibers = yield* FiberSet.make<unknown, never>()
      const release = permits === undefined ? Effect.void : permits.release(1)
      let live = 0
      let idle: Deferred.Deferred<void> | undefined
      const finished = Effect.sync(() => {
        if (--live === 0 && idle !== undefined) Deferred.unsafeDone(idle, Exit.void)
      })
      const serveOne = Effect.catchAll(
        acceptScoped(listener, (flow, connScope) => {
          live++
          return FiberSet.run(
            fibers,
            Effect.suspend(() => handler(flow, flow.peer)).pipe(
              Effect.catchAllCause(onError),
              // Forked from the uninterruptible region: the handler itself must stay interruptible.
              Effect.interruptible,
              Effect.ensuring(Effect.zipRight(Scope.close(connScope, Exit.void), Effect.zipRight(release, finished)))
            ) as Effect.Effect<unknown, never, R>
          )
        }),
        (e) => Effect.zipRight(release, Effect.fail(e))
      )
      const acquire = permits === undefined ? Effect.void : permits.take(1)
      const acceptLoop = Effect.forever(Effect.zipRight(acquire, serveOne))
      // Stop, or accept failed (the listener was closed): accepting ends, live connections run
      // to their end (leaving the scope would interrupt them); then an accept failure is reported.
      const ended = yield* Effect.either(options.stop === undefined ? acceptLoop : Effect.raceFirst(acceptLoop, options.stop))
      if (live > 0) yield* Deferred.await(idle ??= Deferred.unsafeMake<void>(FiberId.none))
      if (ended._tag === "Left") return yield* Effect.fail(ended.left)
    })
  )

/** Resolves `host` and `service` (a port number or a name such as "http"). */
export { getaddrinfo }

/**
 * Connects to each address `getaddrinfo(host, service)` gives, in order, until one succeeds
 * (`timeout` bounds each attempt), and runs `use` with the connection, closed afterwards.
 */
export const withTcpConnect = <A, E, R>(
  backend: NetBackend,
  options: { readonly host: string; readonly service: string | number; readonly timeout?: Duration.DurationInput | undefined },
  use: (flow: Connection) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | NetError, Exclude<R, Scope.Scope>> =>
  Effect.scoped(
    Effect.flatMap(getaddrinfo(options.host, options.service), (addresses) => {
      const attempt = (a: Tcp) =>
        options.timeout === undefined
          ? backend.connect(a)
          : Effect.timeoutFail(backend.connect(a), { duration: options.timeout, onTimeout: () => netError("ETIMEDOUT", "connect", a) })
      return Effect.flatMap(
        addresses.length === 0
          ? Effect.fail(netError("ENOTFOUND", "getaddrinfo", tcp(options.host, servicePort(options.service) ?? 0)))
          : tryEach(addresses, attempt),
        use
      )
    })
  ) as Effect.Effect<A, E | NetError, Exclude<R, Scope.Scope>>

/** Everything `env.net` offers: Eio's `Net` bound to one backend. */
export interface NetApi {
  readonly backendId: "io_uring" | "node"
  readonly listen: (address: Tcp | Unix, options?: ListenOptions) => Effect.Effect<Listener, NetError, Scope.Scope>
  readonly connect: (address: Tcp | Unix, options?: ConnectOptions) => Effect.Effect<Connection, NetError, Scope.Scope>
  readonly datagramSocket: (address?: Udp) => Effect.Effect<Datagram, NetError, Scope.Scope>
  readonly withTcpConnect: <A, E, R>(
    options: { readonly host: string; readonly service: string | number; readonly timeout?: Duration.DurationInput | undefined },
    use: (flow: Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | NetError, Exclude<R, Scope.Scope>>
  readonly getaddrinfo: (host: string, service: string | number) => Effect.Effect<ReadonlyArray<Tcp>, NetError>
  readonly accept: typeof accept
  readonly acceptFork: typeof acceptFork
  readonly runServer: typeof runServer
}

/** Eio's `Net` bound to `backend` (what `env.net` is). */
export const bind = (backend: NetBackend): NetApi => ({
  backendId: backend.backendId,
  listen: backend.listen,
  connect: backend.connect,
  datagramSocket: backend.datagram,
  withTcpConnect: (options, use) => withTcpConnect(backend, options, use),
  getaddrinfo,
  accept,
  acceptFork,
  runServer
})

