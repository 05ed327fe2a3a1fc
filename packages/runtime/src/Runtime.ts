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
import { Backend as CoreBackend, Errors, Scheduler, Uring } from "@effio/core"
import { UringFileSystem } from "@effio/fs"
import { Net } from "@effio/net"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as Scope from "effect/Scope"
import { makeNode, makeUring } from "./internal/stdenv.js"
import { Capture, type Input, sandboxDir, testStdenv } from "./internal/testenv.js"
import * as Stdenv from "./Stdenv.js"

/** Backend choice: `auto` uses io_uring when available, else node. */
export type Backend = CoreBackend.Backend

/** Options of {@link run}, {@link runPromise} and {@link layer}. */
export interface RunOptions {
  /** Default: `EFFIO_BACKEND`, else `"auto"`. */
  readonly backend?: Backend | undefined
  /** io_uring submission queue depth of the loop's ring, when this opens it (default 256). */
  readonly queueDepth?: number | undefined
  /**
   * A kernel SQ thread for the loop's ring, when this opens it (see `Uring.UringOptions.sqPoll`):
   * issuing moves off the loop thread onto another core, which keeps a core busy while I/O
   * is frequent. Default false.
   */
  readonly sqPoll?: Uring.UringOptions["sqPoll"]
  /** Install the loop-cooperating scheduler (default true). */
  readonly scheduler?: boolean | undefined
}

/**
 * Services every backend provides: the stdenv, `Net.Net`, `@effect/platform`'s `FileSystem` (over
 * io_uring on the io_uring backend, node's otherwise) and `Path`.
 */
export type Services = Stdenv.Stdenv | FileSystem.FileSystem | PlatformPath.Path | Net.Net

/** The requested backend is not usable (forced io_uring where it is unavailable, or a bad name). */
export const BackendUnavailable = CoreBackend.BackendUnavailable
/** The requested backend is not usable (forced io_uring where it is unavailable, or a bad name). */
export type BackendUnavailable = CoreBackend.BackendUnavailable

/**
 * Decides the backend now. `auto` falls back to node when io_uring is unavailable; whenever
 * node is used, one line on stderr (once per process) says why. A forced `io_uring` that is
 * unavailable throws {@link BackendUnavailable}.
 */
export const chooseBackend = (options: RunOptions = {}): Stdenv.BackendId => CoreBackend.choose(options.backend)

/** The node backend: node's file system (with Effio's reasons), node streams and sockets, no ring. */
export const layerNode: Layer.Layer<Services> = Layer.mergeAll(
  Layer.effect(Stdenv.Stdenv, Effect.map(Net.Net, makeNode)),
  // NodeFileSystem with Effio's error reasons, File and argument checks: one failure gives
  // one reason whatever the backend.
  UringFileSystem.layerNode,
  NodePath.layer
).pipe(Layer.provideMerge(Net.layerNode))

/** The io_uring backend: the loop's shared ring (also provided as `Uring.Uring`). */
export const layerUring = (options: RunOptions = {}): Layer.Layer<Services | Uring.Uring, Uring.UringUnavailable> =>
  Layer.mergeAll(
    Layer.effect(Stdenv.Stdenv, Effect.zipWith(Uring.Uring, Net.Net, makeUring)),
    UringFileSystem.layerWithRing,
    NodePath.layer
  ).pipe(
    Layer.provideMerge(Net.layerWithRing),
    Layer.provideMerge(Uring.layer({ queueDepth: options.queueDepth, sqPoll: options.sqPoll }))
  )

/**
 * The environment for the backend chosen by `options` (see {@link chooseBackend}). On
 * io_uring the context also holds `Uring.Uring` (reach it with `Effect.serviceOption`).
 */
export const layer = (options: RunOptions = {}): Layer.Layer<Services, BackendUnavailable | Uring.UringUnavailable> => {
  const base = CoreBackend.select<Services, Uring.UringUnavailable, never, never, never>(
    { io_uring: layerUring(options), node: layerNode },
    options.backend
  )
  return options.scheduler === false ? base : Layer.merge(base, Scheduler.layer())
}

/** What a program under {@link layerTest} wrote to `env.stdout` and `env.stderr`. */
export interface TestOutputService {
  /** Everything written to stdout so far, as UTF-8 text. */
  readonly stdout: Effect.Effect<string>
  /** Everything written to stderr so far, as UTF-8 text. */
  readonly stderr: Effect.Effect<string>
  readonly stdoutBytes: Effect.Effect<Uint8Array>
  readonly stderrBytes: Effect.Effect<Uint8Array>
  /** Forgets what was captured so far. */
  readonly clear: Effect.Effect<void>
}

/** The captured output of {@link layerTest}. */
export class TestOutput extends Context.Tag("@effio/runtime/TestOutput")<TestOutput, TestOutputService>() {}

/** Options of {@link layerTest}. */
export interface TestOptions {
  /** What `env.stdin` yields, each chunk as reads of its own, then end of input. */
  readonly stdin?: Input | undefined
  /** Files (relative paths, parent directories made) written into the sandbox first. */
  readonly files?: Readonly<Record<string, string | Uint8Array>> | undefined
  /** Makes `env.secureRandom` a deterministic generator seeded so (NOT secure). */
  readonly seed?: number | undefined
  /** The backend doing the real I/O (files, pipes, sockets): as for {@link layer}. */
  readonly backend?: Backend | undefined
}

/**
 * The environment for tests: everything {@link layer} provides, with stdin scripted
 * (`options.stdin`), stdout and stderr captured in memory ({@link TestOutput}), and `env.cwd`
 * and `env.fs` a capability on a fresh temporary directory holding `options.files` (relative
 * paths resolve in it, absolute paths and `..` out are refused; `Path.native(env.cwd)` gives
 * its path). The directory is removed when the layer's scope closes. The `FileSystem` service
 * stays the real, unconfined one. The clocks read and sleep through Effect's `Clock`, so under
 * `it.effect` a `TestClock.adjust` wakes a sleeping program. I/O is real on either backend.
 *
 * @example
 * ```ts
 * it.effect("upper-cases its input", () =>
 *   Effect.gen(function*() {
 *     const env = yield* Stdenv.Stdenv
 *     yield* program(env)
 *     expect(yield* Effect.flatMap(Runtime.TestOutput, (o) => o.stdout)).toBe("A\nB\n")
 *   }).pipe(Effect.provide(Runtime.layerTest({ stdin: "a\nb\n" }))))
 * ```
 */
export const layerTest = (
  options: TestOptions = {}
): Layer.Layer<Services | TestOutput, BackendUnavailable | Uring.UringUnavailable> => {
  const base = layer({ backend: options.backend })
  const stdio = Layer.sync(TestOutput, () => {
    const stdout = new Capture()
    const stderr = new Capture()
    const service: TestOutputService & { readonly captures: readonly [Capture, Capture] } = {
      captures: [stdout, stderr],
      stdout: Effect.sync(() => stdout.text()),
      stderr: Effect.sync(() => stderr.text()),
      stdoutBytes: Effect.sync(() => stdout.bytes()),
      stderrBytes: Effect.sync(() => stderr.bytes()),
      clear: Effect.sync(() => {
        stdout.clear()
        stderr.clear()
      })
    }
    return service
  })
  const env = Layer.scoped(
    Stdenv.Stdenv,
    Effect.gen(function*() {
      const real = yield* Stdenv.Stdenv
      const out = (yield* TestOutput) as TestOutputService & { readonly captures: readonly [Capture, Capture] }
      const dir = yield* sandboxDir(options.files)
      return yield* testStdenv(real, dir, options, out.captures[0], out.captures[1])
    })
  )
  return env.pipe(Layer.provideMerge(Layer.merge(base, stdio)))
}

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
// A write to a stdout or stderr whose reader went away (`prog | head -1`).
const brokenStdio = (cause: Cause.Cause<unknown>): boolean => Cause.failures(cause).pipe(Chunk.some(Errors.isBrokenStdio))

const reportFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Cause.isInterruptedOnly(cause) || brokenStdio(cause)
    ? Effect.void
    : Effect.locally(Effect.logError(cause), FiberRef.currentLoggers, stderrLoggers)

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }
/** 128 + SIGPIPE: what a shell reports for `cat` in a pipeline whose reader exited. */
const BROKEN_PIPE_EXIT = 141

const runMain = makeRunMain(({ fiber, teardown }) => {
  // Effect's runMain keeps the loop alive while the main fiber runs.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  let signal: string | undefined
  const onSignal = (sig: string) => {
    signal = sig
    remove()
    fiber.unsafeInterruptAsFork(fiber.id())
    // Finite ops (regular files, metadata) cannot be interrupted: on a hung mount one would
    // keep the program from ending. Cancel them after the interruption has reached the
    // fibers that wait on them, so each ends as interrupted and the finalizers run.
    setImmediate(() => Uring.cancelFiniteOps())
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
      process.exit(
        interruptedBySignal
          ? SIGNAL_EXIT[signal!]!
          : Exit.isFailure(exit) && brokenStdio(exit.cause)
          ? BROKEN_PIPE_EXIT
          : code
      )
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
