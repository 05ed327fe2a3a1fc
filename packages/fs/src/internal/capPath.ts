// A capability path as text: how it is shown in errors, split into parent and last
// component, and the error of a path leading out of its confined directory. Shared by
// `Path` and the directory backends.
import { SystemError } from "@effect/platform/Error"
import { Cap, Errors } from "@effio/core"
import * as nodePath from "node:path"
import { C } from "./constants.js"

/**
 * True for the unconfined root at "/" on `AT_FDCWD` (`env.fs`, Eio's `fs`): the process's
 * own view of the file system, where an absolute path is itself and a relative one starts
 * from the working directory, as for any program. (An unconfined root anywhere else starts
 * relative paths from its own directory.)
 */
export const isProcessRoot = (dir: Cap.Dir): boolean => !dir.confined && dir.dirfd === Cap.AT_FDCWD && dir.native === "/"

/**
 * The path as the user sees it, for errors: `dir.native` + "/" + `relative`, not normalised
 * (so `../x` still shows as such); an absolute `relative` alone; on the process root
 * ({@link isProcessRoot}) a relative path as it is (from the working directory). For an
 * unconfined directory on `AT_FDCWD` this is also the path given to the kernel.
 */
export const shown = (p: Cap.Path): string => {
  if (nodePath.isAbsolute(p.relative)) return p.relative
  if (p.relative === "") return p.dir.native
  if (isProcessRoot(p.dir)) return p.relative
  return p.dir.native.replace(/\/+$/, "") + "/" + p.relative
}

/** `rel` split into (parent, last component); a path with no `/` has parent ".". */
export const split = (rel: string): readonly [string, string] => {
  const trimmed = rel.replace(/\/+$/, "")
  if (trimmed === "") return [rel.startsWith("/") ? "/" : ".", "."]
  const i = trimmed.lastIndexOf("/")
  return i < 0 ? [".", trimmed] : [trimmed.slice(0, i) || "/", trimmed.slice(i + 1)]
}

/**
 * `PermissionDenied`: `p` leads out of its confined directory. One message whoever noticed
 * (`Path`'s check up front, the kernel's `RESOLVE_BENEATH` (EXDEV), the node backend's walk),
 * naming the path as asked and the directory; the cause keeps the EXDEV of `openat2`.
 */
export const refused = (method: string, p: Cap.Path): SystemError =>
  new SystemError({
    reason: "PermissionDenied",
    module: "FileSystem",
    method,
    syscall: "openat2",
    pathOrDescriptor: shown(p),
    description: `'${p.relative}' leads out of the confined directory '${p.dir.native}'`,
    cause: { errno: C.EXDEV, code: "EXDEV", syscall: "openat2" }
  })

/** True for the EXDEV of `openat2` with `RESOLVE_BENEATH`: the path led out of the directory. */
export const isEscape = (e: { readonly _tag: string; readonly cause?: unknown }): boolean =>
  e._tag === "SystemError" && (e.cause as { code?: unknown } | undefined)?.code === "EXDEV"

/** The `SystemError` of a negative errno `res` raised about `p` (or a shown path). */
export const errnoError = (res: number, method: string, syscall: string, p: Cap.Path | string): SystemError =>
  Errors.fromErrno(res, { module: "FileSystem", method, syscall, pathOrDescriptor: typeof p === "string" ? p : shown(p) })
