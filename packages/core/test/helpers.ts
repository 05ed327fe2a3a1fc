// Helpers for the core tests; the rest is shared with the other packages (test-utils/).
import type { Effect } from "effect"
import type * as Scope from "effect/Scope"
import { makeTempDir } from "../../../test-utils/index.js"

export * from "../../../test-utils/index.js"

/** A temp dir, removed (recursively) when the scope closes. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = makeTempDir("effio-core-test-")
