import type { PlatformError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { nodeAsync } from "./nodeFile.js"

/** The kernel's MAXSYMLINKS: more links than this in one resolution is ELOOP. */
export const MAX_SYMLINKS = 40

/** Why a userspace resolution failed: an escape, or an errno (with the call that gave it). */
export type Failure =
  | { readonly _tag: "Escape"; readonly why: string }
  | { readonly _tag: "Errno"; readonly error: PlatformError }
  | { readonly _tag: "Code"; readonly code: string; readonly syscall: string }

const escape = (why: string): Failure => ({ _tag: "Escape", why })

/** Joins resolved components under `root` (components are plain names: no `/`, `.` or `..`). */
const under = (root: string, stack: ReadonlyArray<string>): string =>
  stack.length === 0 ? root : (root.endsWith("/") ? root : root + "/") + stack.join("/")

/**
 * Resolves `rel` beneath `root` the way `openat2(..., RESOLVE_BENEATH)` does, for the node
 * backend (no openat2 there): component by component with `lstat`, `..` may not climb above
 * `root`, symlinks are expanded in place (relative to their directory; absolute targets are
 * refused, as the kernel refuses them under RESOLVE_BENEATH), at most {@link MAX_SYMLINKS}
 * of them (then ELOOP). The last component is followed only when `followFinal`; a missing
 * last component is fine (it may be about to be created), a missing directory is ENOENT.
 *
 * Returns the native path with no symlink left in it (except a last one not followed).
 * Unlike the kernel this is check-then-use: a directory swapped for a symlink between the
 * walk and the op is not caught (the final open adds O_NOFOLLOW where it can).
 */
export const resolveBeneath = (
  root: string,
  rel: string,
  followFinal: boolean,
  method: string,
  shown: string
): Effect.Effect<string, Failure> => {
  if (nodePath.isAbsolute(rel)) return Effect.fail(escape("absolute path"))
  const pending = rel.split("/").filter((c) => c !== "")
  const stack: Array<string> = []
  let links = 0
  const ctx = (syscall: string) => ({ method, syscall, pathOrDescriptor: shown })
  const errno = (error: PlatformError): Failure => ({ _tag: "Errno", error })
  const step: Effect.Effect<string, Failure> = Effect.suspend(() => {
    if (pending.length === 0) return Effect.succeed(under(root, stack))
    const c = pending.shift()!
    if (c === ".") return step
    if (c === "..") {
      if (stack.length === 0) return Effect.fail(escape("'..' leads out of the directory"))
      stack.pop()
      return step
    }
    const last = pending.length === 0
    const candidate = under(root, [...stack, c])
    return nodeAsync<fs.Stats>(ctx("lstat"), (cb) => fs.lstat(candidate, cb)).pipe(
      Effect.matchEffect({
        onFailure: (error): Effect.Effect<string, Failure> => {
          if (last && error._tag === "SystemError" && error.reason === "NotFound") {
            stack.push(c)
            return Effect.succeed(under(root, stack))
          }
          return Effect.fail(errno(error))
        },
        onSuccess: (st): Effect.Effect<string, Failure> => {
          if (st.isSymbolicLink() && (!last || followFinal)) {
            if (++links > MAX_SYMLINKS) return Effect.fail({ _tag: "Code", code: "ELOOP", syscall: "openat2" })
            return nodeAsync<string>(ctx("readlink"), (cb) => fs.readlink(candidate, cb)).pipe(
              Effect.mapError(errno),
              Effect.flatMap((target) => {
                if (nodePath.isAbsolute(target)) return Effect.fail(escape("a symlink with an absolute target"))
                pending.unshift(...target.split("/").filter((t) => t !== ""))
                return step
              })
            )
          }
          if (!last && !st.isDirectory()) {
            // "file/x" or "file/..": the kernel says ENOTDIR.
            return Effect.fail({ _tag: "Code", code: "ENOTDIR", syscall: "openat2" })
          }
          stack.push(c)
          return step
        }
      })
    )
  })
  return step
}
