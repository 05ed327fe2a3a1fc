// Shared helpers for the FileSystem conformance suite: both layers, typed failures, fd
// counting, payloads, byte comparisons and child processes running TypeScript fixtures.
import type { PlatformError, SystemErrorReason } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { expect } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as UringFileSystem from "../src/UringFileSystem.js"
export { countFds, payload } from "./helpers.js"

export type BackendId = "io_uring" | "node"

/** `describe.each(backends)`: every test runs on the io_uring layer and on the node reference. */
export const backends: ReadonlyArray<readonly [BackendId, Layer.Layer<FileSystem.FileSystem, unknown>]> = [
  ["io_uring", UringFileSystem.layer],
  ["node", NodeFileSystem.layer]
]

/**
 * The reason a backend reports: Effio maps some errnos finer than `@effect/platform-node`
 * (EPERM → PermissionDenied, EBADF/EISDIR/ENOTDIR/ELOOP → BadResource, EAGAIN → WouldBlock,
 * EINVAL → InvalidData), node reports `Unknown` for those.
 */
export const finer = (backend: BackendId, effio: SystemErrorReason, node: SystemErrorReason): SystemErrorReason =>
  backend === "io_uring" ? effio : node

export const packageDir = fileURLToPath(new URL("..", import.meta.url))
export const repoDir = path.resolve(packageDir, "..", "..")
export const fixture = (name: string): string => path.join(packageDir, "test", "fixtures", name)

/** The tsx ESM loader, so a child runs as one `node` process. */
export const tsxLoader = pathToFileURL(createRequire(path.join(repoDir, "package.json")).resolve("tsx")).href

/** A temp dir made with node directly (independent of the layer under test), removed after the scope. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effio-fs-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A seeded xorshift32 generator of integers in [0, n). */
export const rng = (seed: number) => {
  let x = seed >>> 0 || 1
  return (n: number): number => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x % n
  }
}

/** Asserts `actual` equals `expected` byte for byte, without printing megabytes when they differ. */
export const expectSameBytes = (actual: Uint8Array, expected: Uint8Array): void => {
  const n = Math.min(actual.length, expected.length)
  let i = 0
  while (i < n && actual[i] === expected[i]) i++
  expect({ length: actual.length, firstDifference: i === n && actual.length === expected.length ? -1 : i })
    .toEqual({ length: expected.length, firstDifference: -1 })
}

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

export interface ChildResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

/** Runs `command args...` and collects its output and exit status (SIGKILL after `timeoutMs`). */
export const runChild = (command: string, args: ReadonlyArray<string>, timeoutMs = 20_000): Promise<ChildResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoDir, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, timeoutMs)
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")))
    child.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")))
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: out, stderr: err, timedOut })
    })
  })

/** Runs a TypeScript fixture with `node --import tsx`, behind `prefix` (e.g. `prlimit ...`). */
export const runTs = (file: string, args: ReadonlyArray<string> = [], prefix: ReadonlyArray<string> = []) => {
  const argv = ["--import", tsxLoader, file, ...args]
  return prefix.length > 0
    ? runChild(prefix[0]!, [...prefix.slice(1), process.execPath, ...argv])
    : runChild(process.execPath, argv)
}

/** The absolute path of `cmd` on PATH, or undefined. */
export const which = (cmd: string): string | undefined => {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const p = path.join(dir, cmd)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {
      // not here
    }
  }
  return undefined
}
