/**
 * Program entry points (Eio's `Eio_main.run`) and the Layers that provide the environment.
 *
 * - {@link run}: probe io_uring, pick the backend, build the {@link Stdenv.Stdenv}, run the
 *   program as the main fiber. SIGINT/SIGTERM interrupt it and run its finalizers. The
 *   process exits with 0 on success, 1 on failure (the Cause printed), and 128+signal
 *   (130 for SIGINT, 143 for SIGTERM) when a signal interrupted it, as shells expect.
 * - {@link runPromise}: the embeddable twin: no signal handlers, never exits the process.
 * - {@link layer} / {@link layerNode}: the same services for tests and Effect-style programs.
 *
 * The backend is `options.backend`, else `EFFIO_BACKEND` (`auto` | `io_uring` | `node`),
 * else `auto`: io_uring when `probe()` says it is available, otherwise the node backend
 * (`@effect/platform-node`), with one line on stderr saying why.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Runtime } from "@effio/runtime"
 *
 * Runtime.run((env) => env.stdout.write(`hello from ${env.backendId}\n`))
 * ```
 * @module
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as PlatformPath from "@effect/platform/Path"
import { makeRunMain } from "@effect/platform/Runtime"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { probe } from "@effio/uring-native"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as Scope from "effect/Scope"
import * as Scheduler from "./Scheduler.js"
import { makeNode, makeUring } from "./internal/stdenv.js"
import * as Stdenv from "./Stdenv.js"
import * as Uring from "./Uring.js"

/** Backend choice: `auto` uses io_uring when available, else node. */
export type Backend = "auto" | "io_uring" | "node"

/** Options of {@link run}, {@link runPromise} and {@link layer}. */
export interface RunOptions {
  /** Default: `EFFIO_BACKEND`, else `"auto"`. */
  readonly backend?: Backend | undefined
  /** io_uring submission queue depth (default 256). */
  readonly queueDepth?: number | undefined
  /** Install the loop-cooperating scheduler (default true). */
  readonly scheduler?: boolean | undefined
}

/**
 * Services every backend provides: the stdenv, `@effect/platform`'s `FileSystem` (over
 * io_uring when `@effio/fs` is installed and the backend is io_uring; node's otherwise) and
 * `Path`.
 */
export type Services = Stdenv.Stdenv | FileSystem.FileSystem | PlatformPath.Path

// @effio/fs depends on this package, so it is loaded on demand instead of imported: when it
// is installed, io_uring programs get its FileSystem; without it, node's.
interface FsModule {
  readonly UringFileSystem: { readonly layerUring: Layer.Layer<FileSystem.FileSystem, never, Uring.Uring> }
}
const fsModuleName = "@effio/fs"
const loadFsModule: Effect.Effect<FsModule | undefined> = Effect.promise(() =>
  (import(fsModuleName) as Promise<FsModule>).then((m) => m, () => undefined)
)

const nodePlatform: Layer.Layer<FileSystem.FileSystem | PlatformPath.Path> = Layer.merge(NodeFileSystem.layer, NodePath.layer)

/** The requested backend is not usable (forced io_uring where it is unavailable, or a bad name). */
export class BackendUnavailable extends Error {
  readonly _tag = "BackendUnavailable"
  constructor(message: string) {
    super(message)
    this.name = "BackendUnavailable"
  }
}

const backendFrom = (options: RunOptions): Backend => {
  const raw = options.backend ?? process.env.EFFIO_BACKEND ?? "auto"
  if (raw === "auto" || raw === "io_uring" || raw === "node") return raw
  throw new BackendUnavailable(`unknown backend "${raw}" (EFFIO_BACKEND must be auto, io_uring or node)`)
}

let nodeAnnounced = false

// One line on stderr, once per process, whenever the node backend is used instead of io_uring.
const announceNode = (why: string) => {
  if (nodeAnnounced) return
  nodeAnnounced = true
  process.stderr.write(`effio: using the node backend: ${why}\n`)
}

/**
 * Decides the backend now. `auto` falls back to node when io_uring is unavailable; whenever
 * node is used, one line on stderr (once per process) says why. A forced `io_uring` that is
 * unavailable throws {@link BackendUnavailable}.
 */
export const chooseBackend = (options: RunOptions = {}): Stdenv.BackendId => {
  const wanted = backendFrom(options)
  if (wanted === "node") {
    announceNode(options.backend === "node" ? "requested by options.backend" : "requested by EFFIO_BACKEND=node")
    return "node"
  }
  const probed = probe()
  if (probed.available) return "io_uring"
  if (wanted === "io_uring") throw new BackendUnavailable(`io_uring was requested but is unavailable: ${probed.reason}`)
  announceNode(`io_uring is unavailable (${probed.reason})`)
  return "node"
}

/** The node backend: `@effect/platform-node`-style streams, no ring. */
export const layerNode: Layer.Layer<Services> = Layer.merge(Layer.sync(Stdenv.Stdenv, makeNode), nodePlatform)

/** The io_uring backend: one ring for the loop (also provided as `Uring.Uring`). */
export const layerUring = (options: RunOptions = {}): Layer.Layer<Services | Uring.Uring, Uring.UringUnavailable> => {
  const env = Layer.effect(Stdenv.Stdenv, Effect.map(Uring.Uring, makeUring))
  const fileSystem = Layer.unwrapEffect(
    Effect.map(loadFsModule, (mod) => (mod ? mod.UringFileSystem.layerUring : NodeFileSystem.layer))
  )
  return Layer.mergeAll(env, fileSystem, NodePath.layer).pipe(Layer.provideMerge(Uring.layer({ queueDepth: options.queueDepth })))
}

/**
 * The environment for the backend chosen by `options` (see {@link chooseBackend}). On
 * io_uring the context also holds `Uring.Uring` (reach it with `Effect.serviceOption`).
 */
export const layer = (options: RunOptions = {}): Layer.Layer<Services, BackendUnavailable | Uring.UringUnavailable> =>
  Layer.unwrapEffect(
    Effect.try({
      try: () => chooseBackend(options),
      catch: (e) => (e instanceof BackendUnavailable ? e : new BackendUnavailable(String(e)))
    }).pipe(Effect.map((backend) => {
      const base = backend === "io_uring" ? (layerUring(options) as Layer.Layer<Services, Uring.UringUnavailable>) : layerNode
      return options.scheduler === false ? base : Layer.merge(base, Scheduler.layer())
    }))
  )

const program = <A, E, R extends Services | Scope.Scope>(
  main: (env: Stdenv.Stdenv) => Effect.Effect<A, E, R>,
  options: RunOptions
) =>
  Effect.flatMap(Stdenv.Stdenv, main).pipe(
    Effect.scoped,
    Effect.provide(layer(options)),
    (eff) => (options.scheduler === false ? eff : Scheduler.withLoopScheduler(eff))
  ) as Effect.Effect<A, E | BackendUnavailable | Uring.UringUnavailable>

const stderrLoggers = HashSet.make(Logger.prettyLogger({ stderr: true }))

// runMain's report (same pretty format; interruptions are not failures), but on stderr.
const reportFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Cause.isInterruptedOnly(cause) ? Effect.void : Effect.locally(Effect.logError(cause), FiberRef.currentLoggers, stderrLoggers)

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }

const runMain = makeRunMain(({ fiber, teardown }) => {
  // Effect's runMain keeps the loop alive while the main fiber runs.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  let signal: string | undefined
  const onSignal = (sig: string) => {
    signal = sig
    remove()
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  const onInt = () => onSignal("SIGINT")
  const onTerm = () => onSignal("SIGTERM")
  const remove = () => {
    process.removeListener("SIGINT", onInt)
    process.removeListener("SIGTERM", onTerm)
  }
  process.on("SIGINT", onInt)
  process.on("SIGTERM", onTerm)
  fiber.addObserver((exit) => {
    remove()
    clearInterval(keepAlive)
    teardown(exit, (code) => {
      const interruptedBySignal = signal !== undefined && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
      process.exit(interruptedBySignal ? SIGNAL_EXIT[signal!]! : code)
    })
  })
})

/**
 * Runs `main` as the program: builds the environment for the chosen backend and runs with
 * `runMain` semantics. Exit codes: 0 success, 1 failure (Cause printed), 130/143 when SIGINT/
 * SIGTERM interrupted it (after its finalizers ran). Never returns normally.
 */
export const run = <A, E, R extends Services | Scope.Scope = never>(
  main: (env: Stdenv.Stdenv) => Effect.Effect<A, E, R>,
  options: RunOptions = {}
): void => {
  // The failure report goes to stderr (runMain's own report uses the default logger, which
  // prints on stdout, mixing it into the program's output).
  runMain(Effect.tapErrorCause(program(main, options), reportFailure), { disableErrorReporting: true })
}

/**
 * Runs `main` like {@link run} but as a Promise: resolves with its value, rejects with its
 * failure. Installs no signal handlers and never exits the process.
 */
export const runPromise = <A, E, R extends Services | Scope.Scope = never>(
  main: (env: Stdenv.Stdenv) => Effect.Effect<A, E, R>,
  options: RunOptions = {}
): Promise<A> => Effect.runPromise(program(main, options))
