// Shared helpers for the FileSystem conformance suite: both layers, typed failures, fd
// counting, payloads, byte comparisons and child processes running TypeScript fixtures.
import type { PlatformError, SystemErrorReason } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { expect } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as UringFileSystem from "../src/UringFileSystem.js"
export { countFds, expectSameBytes, payload, rng, which } from "../../../test-utils/index.js"
import { makeTempDir, runTs as runTsShared } from "../../../test-utils/index.js"

export type BackendId = "io_uring" | "node"

/**
 * `describe.each(backends)`: every test runs on both of Effio's backends: the io_uring layer
 * and the node one (`UringFileSystem.layerNode`: `NodeFileSystem`'s implementation with
 * Effio's reasons, File and checks, what `UringFileSystem.layer` falls back to). Plain
 * `NodeFileSystem.layer` stays the reference for `File.Info` ({@link referenceStat}).
 */
export const backends: ReadonlyArray<readonly [BackendId, Layer.Layer<FileSystem.FileSystem, unknown>]> = [
  ["io_uring", UringFileSystem.layerStrict],
  ["node", UringFileSystem.layerNode]
]

export const packageDir = fileURLToPath(new URL("..", import.meta.url))
export const fixture = (name: string): string => path.join(packageDir, "test", "fixtures", name)

/** A temp dir made with node directly (independent of the layer under test), removed after the scope. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = makeTempDir("effio-fs-test-")

/** `part` is `whole[0 .. part.length)`. */
export const isPrefix = (part: Uint8Array, whole: Uint8Array): boolean =>
  part.length <= whole.length && Buffer.compare(part, whole.subarray(0, part.length)) === 0

/** The typed failure of `exit`, asserting it is a failure (not a defect or an interruption). */
export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got a success: ${String(exit.value)}`)
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

/** Runs `effect`, expecting a `SystemError` with `reason`; returns it for further checks. */
export const expectSystemError = <A>(
  effect: Effect.Effect<A, PlatformError, any>,
  reason: SystemErrorReason
) =>
  Effect.map(Effect.exit(effect), (exit) => {
    const e = failureOf(exit)
    expect(e._tag).toBe("SystemError")
    if (e._tag !== "SystemError") throw new Error("unreachable")
    expect({ reason: e.reason, description: e.description }).toMatchObject({ reason })
    return e
  })

/** Runs `effect`, expecting a `BadArgument`. */
export const expectBadArgument = <A>(effect: Effect.Effect<A, PlatformError, any>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    const e = failureOf(exit)
    expect(e._tag).toBe("BadArgument")
    return e
  })

/** The reference `File.Info` of `p`, from `NodeFileSystem.layer`. */
export const referenceStat = (p: string): Effect.Effect<FileSystem.File.Info, PlatformError> =>
  Effect.flatMap(FileSystem.FileSystem, (f) => f.stat(p)).pipe(Effect.provide(NodeFileSystem.layer))

/** Runs a TypeScript fixture with `node --import tsx`, behind `prefix` (e.g. `prlimit ...`); SIGKILL after 20 s. */
export const runTs = (file: string, args: ReadonlyArray<string> = [], prefix: ReadonlyArray<string> = []) =>
  runTsShared(file, args, { prefix, timeoutMs: 20_000 }).then((r) => ({ ...r, stdout: r.stdout.toString("utf8") }))
