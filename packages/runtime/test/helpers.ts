// Helpers for the runtime tests: both backends, fds opened by node, and reading flows to the
// end; the rest is shared with the other packages (test-utils/).
import { Runtime, type Stdenv } from "@effio/runtime"
import type { PlatformError } from "@effect/platform/Error"
import { Effect } from "effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { makeTempDir, readToEnd } from "../../../test-utils/index.js"

export * from "../../../test-utils/index.js"

/** `describe.each(backends)`: every backend-dependent test runs on io_uring and on node. */
export const backends: ReadonlyArray<readonly [Stdenv.BackendId, Layer.Layer<Stdenv.Stdenv, unknown>]> = [
  ["io_uring", Runtime.layer({ backend: "io_uring" })],
  ["node", Runtime.layerNode]
]

export const packageDir = fileURLToPath(new URL("..", import.meta.url))
export const fixture = (name: string): string => path.join(packageDir, "test", "fixtures", name)

/** A temp dir, removed (recursively) when the scope closes. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = makeTempDir("effio-runtime-test-")

/** An fd opened with node's `fs.openSync`, closed when the scope closes. */
export const openFd = (file: string, flags: string | number = "r"): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(() => fs.openSync(file, flags)), (fd) =>
    Effect.sync(() => {
      try {
        fs.closeSync(fd)
      } catch {
        // closed by the test
      }
    }))

/** Reads `source` until end of input (read → 0) with `chunk`-sized reads; all bytes, in order. */
export const readAll = (source: Stdenv.Source, chunk = 64 * 1024): Effect.Effect<Uint8Array, PlatformError | Error> =>
  readToEnd(source, { chunk })
