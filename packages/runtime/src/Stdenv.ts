/**
 * The standard environment handed to `Runtime.run(env => ...)` (Eio's `Stdenv`): the
 * capabilities a program gets, instead of ambient globals.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Runtime } from "@effio/runtime"
 *
 * Runtime.run((env) => env.stdout.write("hello\n"))
 * ```
 * @module
 */
import type { PlatformError } from "@effect/platform/Error"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Backend, Cap, Flow } from "@effio/core"
import type { Net } from "@effio/net"

/** A byte source (`Flow.Source`). */
export type Source = Flow.Source
/** A byte sink (`Flow.Sink`). */
export type Sink = Flow.Sink

/** Which I/O backend runs the program. */
export type BackendId = Backend.BackendId

/** Wall clock (Effect's `Clock`): milliseconds since the epoch. */
export interface WallClock {
  readonly now: Effect.Effect<number>
  readonly sleep: (duration: Duration.DurationInput) => Effect.Effect<void>
}

/** Monotonic clock (Effect's `Clock`): nanoseconds from an arbitrary origin. */
export interface MonoClock {
  readonly now: Effect.Effect<bigint>
  readonly sleep: (duration: Duration.DurationInput) => Effect.Effect<void>
}

/** Cryptographically secure random bytes (`getrandom(2)`). */
export interface SecureRandom {
  /** Fills `buf` with random bytes. */
  readonly fill: (buf: Uint8Array) => Effect.Effect<void>
  /** `n` fresh random bytes. */
  readonly bytes: (n: number) => Effect.Effect<Uint8Array>
}

/** The two ends of an OS pipe. */
export interface Pipe {
  readonly source: Source
  readonly sink: Sink
}

/** The standard environment. */
export interface Stdenv {
  /** The whole file system, unconfined (a capability path; operations in `@effio/fs`'s `Path`). */
  readonly fs: Cap.Path
  /** The working directory, confined beneath it: `..` out, absolute paths and symlinks out are refused. */
  readonly cwd: Cap.Path
  readonly clock: WallClock
  readonly monoClock: MonoClock
  readonly stdin: Source
  readonly stdout: Sink
  readonly stderr: Sink
  /** A new `pipe2(2)`; both ends are closed when the scope closes (or earlier with `close`). */
  readonly pipe: Effect.Effect<Pipe, PlatformError, Scope.Scope>
  readonly secureRandom: SecureRandom
  /** The network (Eio's `env#net`): `@effio/net`'s `Net` bound to this backend. */
  readonly net: Net.NetApi
  readonly backendId: BackendId
  /**
   * Flows over an fd the program already has (a file opened elsewhere, an inherited pipe),
   * driven by this backend. With `close: true` the flows' `close` closes the fd.
   */
  readonly fromFd: (fd: number, options?: { readonly close?: boolean }) => Pipe
}

/** The `Stdenv` service tag, provided by `Runtime.layer()` / `Runtime.layerNode`. */
export const Stdenv: Context.Tag<Stdenv, Stdenv> = Context.GenericTag<Stdenv>("@effio/runtime/Stdenv")
