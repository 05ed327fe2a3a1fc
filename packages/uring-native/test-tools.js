// Test tools for packages that build on @effio/uring-native (not part of the runtime API).
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const built = fileURLToPath(new URL("./build/Release/effio-seccomp-deny", import.meta.url))

/**
 * Absolute path of `effio-seccomp-deny`, a helper executable built with the addon on Linux:
 * `effio-seccomp-deny <command> [args...]` runs the command with `io_uring_setup` denied
 * (EPERM) by a seccomp filter. `undefined` when it was not built (non-Linux, failed build).
 */
export const seccompDenyPath = existsSync(built) ? built : undefined
