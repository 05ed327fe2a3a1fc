// Shared helpers for the capability-path tests: both backends' Paths over real temp dirs,
// a sandbox with things outside it to protect, snapshots of those, fd counting.
import type { PlatformError } from "@effect/platform/Error"
import { expect } from "@effect/vitest"
import { Cap, Uring } from "@effio/core"
import { Effect, Exit } from "effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeTempDir } from "../../../test-utils/index.js"
import { Path } from "../src/index.js"

export { countFds, payload } from "../../../test-utils/index.js"

/** Makes a confined root capability on an existing directory. */
export type MakeRoot = (dir: string) => Effect.Effect<Cap.Path, never, Scope.Scope>

/**
 * io_uring: the directory opened with `Path.openDir` from an unconfined root on the loop's
 * ring, so its read-only directory fd is the dir fd (closed, then the ring released, when the scope closes).
 */
export const uringRoot: MakeRoot = (dir) =>
  Effect.flatMap(Effect.orDie(Uring.make()), (uring) => Effect.orDie(Path.openDir(Path.join(Path.uringRoot(uring, "/", false), dir))))

/** node: the native path only. */
export const nodeRoot: MakeRoot = (dir) => Effect.succeed(Path.nodeRoot(dir, true))

/** An unconfined root at `native` on `backend` (`env.fs` style), on the loop's ring for io_uring. */
export const unconfinedRoot = (backend: "io_uring" | "node", native: string): Effect.Effect<Cap.Path, never, Scope.Scope> =>
  backend === "io_uring"
    ? Effect.map(Effect.orDie(Uring.make()), (uring) => Path.uringRoot(uring, native, false))
    : Effect.succeed(Path.nodeRoot(native, false))

/** `describe.each(backends)`: every test runs on io_uring and on node. */
export const backends: ReadonlyArray<readonly [string, MakeRoot]> = [
  ["io_uring", uringRoot],
  ["node", nodeRoot]
]

/** A temp dir, removed (recursively) when the scope closes. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = makeTempDir("effio-path-test-")

/** A confined root on a fresh temp dir: `{ root, dir }`. */
export const rootIn = (make: MakeRoot) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const root = yield* make(dir)
    return { root, dir }
  })

export interface Sandbox {
  /** The parent of everything: `sb/`, `outside/`, `secret`. */
  readonly base: string
  /** The confined directory. */
  readonly sb: string
  readonly root: Cap.Path
  /** Everything under `base` except `sb`, with contents: must never change. */
  readonly snapshot: () => Record<string, string>
}

const walk = (dir: string, rel: string, out: Record<string, string>, skip: string) => {
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const r = rel === "" ? name : `${rel}/${name}`
    if (r === skip) continue
    const full = path.join(dir, r)
    const st = fs.lstatSync(full)
    if (st.isSymbolicLink()) out[r] = `link:${fs.readlinkSync(full)}`
    else if (st.isDirectory()) {
      out[r] = `dir:${(st.mode & 0o777).toString(8)}`
      walk(dir, r, out, skip)
    } else out[r] = `file:${(st.mode & 0o777).toString(8)}:${st.nlink}:${fs.readFileSync(full, "utf8")}`
  }
}

/**
 * `base/{sb/, outside/{secret2, sub/}, secret}`: the sandbox root is `sb`; everything else
 * is what escapes would reach.
 */
export const sandbox = (make: MakeRoot): Effect.Effect<Sandbox, never, Scope.Scope> =>
  Effect.gen(function*() {
    const base = yield* tempDir
    const sb = path.join(base, "sb")
    fs.mkdirSync(sb)
    fs.mkdirSync(path.join(base, "outside"))
    fs.mkdirSync(path.join(base, "outside", "sub"))
    fs.writeFileSync(path.join(base, "outside", "secret2"), "outside secret")
    fs.writeFileSync(path.join(base, "secret"), "SENTINEL")
    const root = yield* make(sb)
    const snapshot = () => {
      const out: Record<string, string> = {}
      walk(base, "", out, "sb")
      return out
    }
    return { base, sb, root, snapshot }
  })

/** Runs `eff` expecting a `SystemError` of `reason`; returns the error. */
export const expectFailure = <A, R>(eff: Effect.Effect<A, PlatformError, R>, reason: string) =>
  Effect.map(Effect.exit(eff), (exit) => {
    if (Exit.isSuccess(exit)) throw new Error(`expected ${reason}, got success: ${String(exit.value)}`)
    const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    if (failure === undefined) throw new Error(`expected a failure ${reason}, got ${String(exit.cause)}`)
    expect(failure._tag).toBe("SystemError")
    expect((failure as { reason?: string }).reason).toBe(reason)
    return failure as PlatformError & { readonly reason: string; readonly method: string; readonly syscall?: string; readonly pathOrDescriptor?: string | number }
  })
