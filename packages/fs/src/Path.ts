/**
 * Eio-style capability paths: every operation takes a `Cap.Path` (a directory capability
 * plus a path relative to it) instead of a string, so a program can only reach what it was
 * given. `env.fs` is the unconfined root; `env.cwd` and every directory opened with
 * {@link openDir} are confined: `..` out of them, absolute paths and symlinks leading out are
 * refused with a `SystemError` of reason `PermissionDenied`.
 *
 * On io_uring the kernel enforces the confinement: every open under a confined directory is
 * an `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` relative to the directory's fd,
 * and ops with no `openat2` form (mkdir, unlink, rename, symlink, link, lstat, readlink) open
 * the parent directory that way and then act on `(parentFd, basename)`, so a directory
 * swapped for a symlink between a check and its use cannot lead out. On the node backend the
 * path is resolved in userspace, component by component (`lstat`/`readlink`), with the same
 * rules and the same errors.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Runtime } from "@effio/core"
 * import { Path } from "@effio/fs"
 *
 * Runtime.run((env) =>
 *   Effect.gen(function*() {
 *     const out = Path.join(env.cwd, "out")
 *     yield* Path.mkdirs(out, { existsOk: true })
 *     yield* Path.save(Path.join(out, "hello.txt"), "hello\n")
 *     yield* Path.loadString(Path.join(env.cwd, "../etc/passwd")) // PermissionDenied
 *   })
 * )
 * ```
 * @module
 */
import { BadArgument, type PlatformError, SystemError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import { Cap, Errors, Fd, Flow, type Uring } from "@effio/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { type Failure, resolveBeneath } from "./internal/beneath.js"
import { infoFromStats, infoFromStatx } from "./internal/common.js"
import { C } from "./internal/constants.js"
import { UringFile } from "./internal/file.js"
import { closeNodeFd, nodeAsync, NodeFile } from "./internal/nodeFile.js"

/** A capability path: a directory capability (`dir`) plus a path relative to it. */
export type Path = Cap.Path

/** True for a capability {@link Path}. */
export const isPath: (u: unknown) => u is Path = Cap.isPath

/**
 * What to do about a missing or existing file when opening for writing (Eio's `create`):
 * `never`: it must exist; `if-missing`: create it, keep existing contents; `or-truncate`:
 * create it or empty it; `exclusive`: create it, `AlreadyExists` if it exists.
 */
export type Create = "never" | "if-missing" | "or-truncate" | "exclusive"

/** Options of {@link save} and {@link openOut}. */
export interface CreateOptions {
  /** Default `"or-truncate"`; `"if-missing"` when `append` is set (appending keeps the contents). */
  readonly create?: Create | undefined
  /** Permission bits of a created file (before the umask). Default `0o666`. */
  readonly perm?: number | undefined
  /** Every write goes to the end of the file (`O_APPEND`). Default false. */
  readonly append?: boolean | undefined
}

// ---- paths as strings -----------------------------------------------------------------

const RESOLVE = C.RESOLVE_BENEATH | C.RESOLVE_NO_MAGICLINKS
const STATX_MASK = C.STATX_BASIC_STATS | C.STATX_BTIME
// Negative errnos (CQE style) of the platform, for errors raised here rather than by a call.
const ERRNO = { EISDIR: -C.EISDIR, ENOTDIR: -C.ENOTDIR, ELOOP: -C.ELOOP } as const

/**
 * The path as the user sees it, for errors: `dir.native` + "/" + `relative`, not normalised
 * (so `../x` still shows as such); an absolute `relative` alone. For an unconfined
 * directory on `AT_FDCWD` this is also the path given to the kernel.
 */
const shown = (p: Path): string => {
  if (nodePath.isAbsolute(p.relative)) return p.relative
  if (p.relative === "") return p.dir.native
  return p.dir.native.replace(/\/+$/, "") + "/" + p.relative
}

/** `rel` split into (parent, last component); a path with no `/` has parent ".". */
const split = (rel: string): readonly [string, string] => {
  const trimmed = rel.replace(/\/+$/, "")
  if (trimmed === "") return [rel.startsWith("/") ? "/" : ".", "."]
  const i = trimmed.lastIndexOf("/")
  return i < 0 ? [".", trimmed] : [trimmed.slice(0, i) || "/", trimmed.slice(i + 1)]
}

const refused = (method: string, p: Path, why: string): SystemError =>
  new SystemError({
    reason: "PermissionDenied",
    module: "FileSystem",
    method,
    syscall: "openat2",
    pathOrDescriptor: shown(p),
    description: `EXDEV: ${why} leads out of the confined directory '${p.dir.native}', openat2 '${shown(p)}'`,
    cause: { errno: 18, code: "EXDEV", syscall: "openat2" }
  })

/**
 * Refuses up front, touching nothing: a NUL byte (BadArgument), a directory capability whose
 * scope has closed (BadResource) and, under a confined directory, an absolute path or one
 * whose normalised form starts with `..` (PermissionDenied).
 */
const check = (method: string, p: Path): Effect.Effect<void, PlatformError> => {
  if (p.relative.includes("\0")) {
    return Effect.fail(new BadArgument({ module: "FileSystem", method, description: "path must not contain NUL bytes" }))
  }
  if (p.dir.ref !== undefined && !p.dir.ref.isOpen) {
    return Effect.fail(
      new SystemError({
        reason: "BadResource",
        module: "FileSystem",
        method,
        syscall: "openat2",
        pathOrDescriptor: shown(p),
        description: `EBADF: the directory capability '${p.dir.native}' was closed (its scope ended)`
      })
    )
  }
  if (!p.dir.confined) return Effect.void
  if (nodePath.isAbsolute(p.relative)) return Effect.fail(refused(method, p, "an absolute path"))
  const n = nodePath.posix.normalize(p.relative)
  if (n === ".." || n.startsWith("../")) return Effect.fail(refused(method, p, "'..'"))
  return Effect.void
}

const errnoError = (res: number, method: string, syscall: string, p: Path | string) =>
  Errors.fromErrno(res, { module: "FileSystem", method, syscall, pathOrDescriptor: typeof p === "string" ? p : shown(p) })

const isReason = (e: PlatformError, reason: SystemError["reason"]): boolean => e._tag === "SystemError" && e.reason === reason

const hint = (method: string, syscall: string, p: Path | string): Uring.ErrorHint => ({
  method,
  syscall,
  pathOrDescriptor: typeof p === "string" ? p : shown(p)
})

const createFlags = (create: Create): number => {
  switch (create) {
    case "never":
      return 0
    case "if-missing":
      return C.O_CREAT
    case "or-truncate":
      return C.O_CREAT | C.O_TRUNC
    case "exclusive":
      return C.O_CREAT | C.O_EXCL
  }
}

// ---- io_uring backend ---------------------------------------------------------------------

/** Closes an fd through the ring; close(2) directly when the ring is gone (`Fd.closeFd`). */
const uringClose = (uring: Uring.UringService) => (fd: number): Effect.Effect<void> => Fd.closeFd(uring, fd)

/** Runs `f` with the directory's fd, pinned open while it runs when the capability owns it. */
const withDirFd = <A>(dir: Cap.Dir, method: string, f: (dirfd: number) => Effect.Effect<A, PlatformError>) =>
  dir.ref !== undefined ? dir.ref.use(method, f) : f(dir.dirfd)

/**
 * `openat2` of `rel` under `p.dir` (errors name `p`): confined → relative to the dir fd with
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, EXDEV → PermissionDenied; unconfined → plain.
 */
const uOpen = (
  uring: Uring.UringService,
  method: string,
  p: Path,
  rel: string,
  flags: number,
  mode = 0
): Effect.Effect<number, PlatformError> =>
  withDirFd(p.dir, method, (dirfd) => {
    const h = hint(method, "openat2", p)
    if (p.dir.confined) return uring.openat2(dirfd, rel === "" ? "." : rel, { flags, mode, resolve: RESOLVE }, { ...h, confined: true })
    const path = dirfd === Cap.AT_FDCWD ? shown(new Cap.Path(p.dir, rel)) : rel === "" ? "." : rel
    return uring.openat2(dirfd, path, { flags, mode }, h)
  })

/**
 * Runs `f(parentFd, name, nodePath)` for an op with no `openat2` form. Confined: the parent
 * is opened `O_PATH | O_DIRECTORY` beneath the directory and closed afterwards, and the op
 * acts on the last component only (`..` refused), so nothing on the way can be a symlink
 * swapped in after a check. `nodePath` names the same file for node's fs (`/proc/self/fd/N/name`).
 * Unconfined: the whole path relative to the dir (the native path on `AT_FDCWD`).
 */
const uParent = <A>(
  uring: Uring.UringService,
  method: string,
  p: Path,
  f: (dirfd: number, name: string, nodeName: string) => Effect.Effect<A, PlatformError>
): Effect.Effect<A, PlatformError> =>
  Effect.zipRight(
    check(method, p),
    Effect.suspend(() => {
      if (!p.dir.confined) {
        return withDirFd(p.dir, method, (dirfd) => {
          if (dirfd === Cap.AT_FDCWD) return f(dirfd, shown(p), shown(p))
          const rel = p.relative === "" ? "." : p.relative
          return f(dirfd, rel, nodePath.isAbsolute(rel) ? rel : `/proc/self/fd/${dirfd}/${rel}`)
        })
      }
      const [parent, name] = split(p.relative)
      if (name === "..") return Effect.fail(refused(method, p, "'..' as the last component"))
      return Effect.acquireUseRelease(
        uOpen(uring, method, p, parent, C.O_PATH | C.O_DIRECTORY),
        (pfd) => f(pfd, name, `/proc/self/fd/${pfd}/${name}`),
        uringClose(uring)
      )
    })
  )

/** A temporary fd for `rel` under `p`, closed after `use`. */
const uWithFd = <A>(
  uring: Uring.UringService,
  method: string,
  p: Path,
  flags: number,
  use: (fd: number) => Effect.Effect<A, PlatformError>
): Effect.Effect<A, PlatformError> =>
  Effect.zipRight(check(method, p), Effect.acquireUseRelease(uOpen(uring, method, p, p.relative, flags), use, uringClose(uring)))

// ---- node backend ---------------------------------------------------------------------------

const failureError = (method: string, p: Path, f: Failure): PlatformError => {
  switch (f._tag) {
    case "Escape":
      return refused(method, p, f.why)
    case "Errno":
      return f.error
    case "Code":
      return errnoError(ERRNO[f.code as keyof typeof ERRNO] ?? -1, method, f.syscall, p)
  }
}

/** The native path of `p` for node's fs: resolved beneath a confined dir (see `resolveBeneath`). */
const nResolve = (method: string, p: Path, followFinal: boolean): Effect.Effect<string, PlatformError> =>
  Effect.zipRight(
    check(method, p),
    p.dir.confined
      ? Effect.mapError(resolveBeneath(p.dir.native, p.relative, followFinal, method, shown(p)), (f) => failureError(method, p, f))
      : Effect.sync(() => shown(p))
  )

/**
 * The native path of `p` for an op acting on the last component itself (not following it):
 * the parent resolved beneath the dir, then "/" + the last component (`..` refused).
 */
const nParent = (method: string, p: Path): Effect.Effect<string, PlatformError> =>
  Effect.zipRight(
    check(method, p),
    Effect.suspend(() => {
      if (!p.dir.confined) return Effect.succeed(shown(p))
      const [parent, name] = split(p.relative)
      if (name === "..") return Effect.fail(refused(method, p, "'..' as the last component"))
      return Effect.map(
        Effect.mapError(resolveBeneath(p.dir.native, parent, true, method, shown(p)), (f) => failureError(method, p, f)),
        (dir) => dir.replace(/\/+$/, "") + "/" + name
      )
    })
  )

const nCall = <A>(
  method: string,
  syscall: string,
  p: Path | string,
  f: (cb: (err: NodeJS.ErrnoException | null, value: A) => void) => void
) => nodeAsync<A>({ method, syscall, pathOrDescriptor: typeof p === "string" ? p : shown(p) }, f)

const nVoid = (method: string, syscall: string, p: Path | string, f: (cb: (err: NodeJS.ErrnoException | null) => void) => void) =>
  nCall<void>(method, syscall, p, (cb) => f((err) => cb(err, undefined)))

// ---- shared internals (method names passed through for errors) -----------------------------

const sameBackend = (method: string, a: Path, b: Path): Effect.Effect<void, PlatformError> =>
  (a.dir.uring === undefined) === (b.dir.uring === undefined)
    ? Effect.void
    : Effect.fail(
      new BadArgument({ module: "FileSystem", method, description: "both paths must be on the same backend (io_uring or node)" })
    )

const openFile = (
  method: string,
  p: Path,
  flags: number,
  mode: number,
  append: boolean
): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> => {
  const uring = p.dir.uring
  if (uring !== undefined) {
    return Effect.zipRight(
      check(method, p),
      Effect.map(
        Effect.acquireRelease(
          Effect.map(uOpen(uring, method, p, p.relative, flags, mode), (fd) => new Fd.FdRef(fd, uringClose(uring))),
          (ref) => ref.close
        ),
        (ref): FileSystem.File => new UringFile(uring, ref, append)
      )
    )
  }
  // O_EXCL never follows a last symlink (the kernel says EEXIST): resolve it as itself.
  const followFinal = (flags & C.O_EXCL) === 0
  return Effect.flatMap(nResolve(method, p, followFinal), (native) =>
    Effect.map(
      Effect.acquireRelease(
        Effect.map(
          nCall<number>(method, "open", p, (cb) => fs.open(native, flags | (p.dir.confined ? C.O_NOFOLLOW : 0), mode, cb)),
          (fd) => new Fd.FdRef(fd, closeNodeFd)
        ),
        (ref) => ref.close
      ),
      (ref): FileSystem.File => new NodeFile(ref, append)
    ))
}

const CHUNK = 64 * 1024

const readToEnd = (method: string, p: Path, file: FileSystem.File): Effect.Effect<Uint8Array, PlatformError> =>
  Effect.flatMap(file.stat, (info) => {
    if (info.type === "Directory") return Effect.fail(errnoError(ERRNO.EISDIR, method, "read", p))
    const parts: Array<Uint8Array> = []
    let total = 0
    const loop = (size: number): Effect.Effect<Uint8Array, PlatformError> =>
      Effect.suspend(() => {
        const buf = new Uint8Array(size)
        return Effect.flatMap(file.read(buf), (got) => {
          const n = Number(got)
          if (n === 0) {
            if (parts.length === 1) return Effect.succeed(parts[0]!)
            const out = new Uint8Array(total)
            let at = 0
            for (const part of parts) {
              out.set(part, at)
              at += part.length
            }
            return Effect.succeed(out)
          }
          parts.push(n === buf.length ? buf : buf.subarray(0, n))
          total += n
          return loop(CHUNK)
        })
      })
    const size = Number(info.size)
    return loop(info.type === "File" && size > 0 ? size : CHUNK)
  })

const statI = (method: string, p: Path, follow: boolean): Effect.Effect<FileSystem.File.Info, PlatformError> => {
  const uring = p.dir.uring
  if (uring !== undefined) {
    if (!follow) {
      return uParent(uring, method, p, (dirfd, name) =>
        Effect.map(uring.statx(dirfd, name, C.AT_SYMLINK_NOFOLLOW, STATX_MASK, hint(method, "statx", p)), infoFromStatx))
    }
    if (!p.dir.confined) {
      return Effect.zipRight(
        check(method, p),
        withDirFd(p.dir, method, (dirfd) =>
          Effect.map(
            uring.statx(dirfd, dirfd === Cap.AT_FDCWD ? shown(p) : p.relative || ".", 0, STATX_MASK, hint(method, "statx", p)),
            infoFromStatx
          ))
      )
    }
    // No RESOLVE_BENEATH for statx: open the file O_PATH beneath the dir, then fstat it.
    return uWithFd(uring, method, p, C.O_PATH, (fd) =>
      Effect.map(uring.statx(fd, "", C.AT_EMPTY_PATH, STATX_MASK, hint(method, "statx", p)), infoFromStatx))
  }
  return follow
    ? Effect.flatMap(nResolve(method, p, true), (native) =>
      Effect.map(nCall<fs.Stats>(method, "stat", p, (cb) => fs.stat(native, cb)), infoFromStats))
    : Effect.flatMap(nParent(method, p), (native) =>
      Effect.map(nCall<fs.Stats>(method, "lstat", p, (cb) => fs.lstat(native, cb)), infoFromStats))
}

const kindI = (method: string, p: Path, follow: boolean): Effect.Effect<FileSystem.File.Type | "not-found", PlatformError> =>
  Effect.catchIf(
    Effect.map(statI(method, p, follow), (info): FileSystem.File.Type | "not-found" => info.type),
    (e) => isReason(e, "NotFound"),
    () => Effect.succeed("not-found" as const)
  )

const mkdirI = (method: string, p: Path, perm: number): Effect.Effect<void, PlatformError> => {
  const uring = p.dir.uring
  return uring !== undefined
    ? uParent(uring, method, p, (dirfd, name) => uring.mkdirat(dirfd, name, perm, hint(method, "mkdirat", p)))
    : Effect.flatMap(nParent(method, p), (native) => nVoid(method, "mkdir", p, (cb) => fs.mkdir(native, { mode: perm }, cb)))
}

/** The parent of `p` for mkdirs, if it has one worth creating. */
const parentOf = (p: Path): Path | undefined => {
  const [parent, name] = split(p.relative)
  if (name === "." || name === ".." || p.relative.replace(/\/+$/, "") === "") return undefined
  return new Cap.Path(p.dir, parent === "." ? "" : parent)
}

const readDirUnsorted = (method: string, p: Path): Effect.Effect<Array<string>, PlatformError> => {
  const uring = p.dir.uring
  if (uring !== undefined) {
    // io_uring has no getdents opcode: open the directory through the ring (beneath the dir
    // when confined), then let node list /proc/self/fd/<fd>. That magic link is the very
    // directory the kernel opened, so a symlink swapped in after the open cannot redirect it.
    return uWithFd(uring, method, p, C.O_RDONLY | C.O_DIRECTORY, (fd) =>
      nCall<Array<string>>(method, "readdir", p, (cb) => fs.readdir(`/proc/self/fd/${fd}`, cb)))
  }
  return Effect.flatMap(nResolve(method, p, true), (native) => nCall<Array<string>>(method, "readdir", p, (cb) => fs.readdir(native, cb)))
}

// rmtree on io_uring: the entry `name` of directory fd `dirfd`, never following a symlink.
const uRemoveAt = (
  uring: Uring.UringService,
  method: string,
  dirfd: number,
  name: string,
  shownPath: string,
  missingOk: boolean
): Effect.Effect<void, PlatformError> => {
  const removal = Effect.flatMap(
    uring.statx(dirfd, name, C.AT_SYMLINK_NOFOLLOW, C.STATX_BASIC_STATS, hint(method, "statx", shownPath)),
    (st): Effect.Effect<void, PlatformError> =>
      (st.mode & 0o170000) !== 0o040000
        ? uring.unlinkat(dirfd, name, 0, hint(method, "unlinkat", shownPath))
        : Effect.zipRight(
          // O_NOFOLLOW: a directory swapped for a symlink since the statx is ELOOP, not followed.
          Effect.acquireUseRelease(
            uring.openat2(dirfd, name, { flags: C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW, mode: 0 }, hint(method, "openat2", shownPath)),
            (fd) =>
              Effect.flatMap(
                // No getdents opcode: node lists the directory the fd refers to via /proc.
                nCall<Array<string>>(method, "readdir", shownPath, (cb) => fs.readdir(`/proc/self/fd/${fd}`, cb)),
                (entries) =>
                  Effect.forEach(entries, (e) => uRemoveAt(uring, method, fd, e, `${shownPath}/${e}`, missingOk), { discard: true })
              ),
            uringClose(uring)
          ),
          uring.unlinkat(dirfd, name, C.AT_REMOVEDIR, hint(method, "unlinkat", shownPath))
        )
  )
  return missingOk ? Effect.catchIf(removal, (e) => isReason(e, "NotFound"), () => Effect.void) : removal
}

// rmtree on node: `native` (lstat: never follows a symlink).
const nRemoveAt = (method: string, native: string, shownPath: string, missingOk: boolean): Effect.Effect<void, PlatformError> => {
  const removal = Effect.flatMap(
    nCall<fs.Stats>(method, "lstat", shownPath, (cb) => fs.lstat(native, cb)),
    (st): Effect.Effect<void, PlatformError> =>
      !st.isDirectory()
        ? nVoid(method, "unlink", shownPath, (cb) => fs.unlink(native, cb))
        : Effect.zipRight(
          Effect.flatMap(
            nCall<Array<string>>(method, "readdir", shownPath, (cb) => fs.readdir(native, cb)),
            (entries) => Effect.forEach(entries, (e) => nRemoveAt(method, `${native}/${e}`, `${shownPath}/${e}`, missingOk), { discard: true })
          ),
          nVoid(method, "rmdir", shownPath, (cb) => fs.rmdir(native, cb))
        )
  )
  return missingOk ? Effect.catchIf(removal, (e) => isReason(e, "NotFound"), () => Effect.void) : removal
}

// ---- the API ----------------------------------------------------------------------------------

/**
 * `p` with `segments` appended (pure; the result is on the same directory capability). An
 * absolute segment replaces the relative part (a confined directory then refuses it at use);
 * empty segments are ignored.
 */
export const join = (p: Path, ...segments: ReadonlyArray<string>): Path => {
  let rel = p.relative
  for (const s of segments) {
    if (s === "") continue
    rel = nodePath.isAbsolute(s) || rel === "" ? s : rel.endsWith("/") ? rel + s : `${rel}/${s}`
  }
  return new Cap.Path(p.dir, rel)
}

/** The absolute native path of `p` (normalised; for display or for other programs). */
export const native = (p: Path): Effect.Effect<string> => Effect.sync(() => nodePath.resolve(p.dir.native, p.relative))

/** The whole contents of the file at `p`. */
export const load = (p: Path): Effect.Effect<Uint8Array, PlatformError> =>
  Effect.scoped(Effect.flatMap(openFile("load", p, C.O_RDONLY, 0, false), (file) => readToEnd("load", p, file)))

/** The whole contents of the file at `p`, decoded as UTF-8. */
export const loadString = (p: Path): Effect.Effect<string, PlatformError> =>
  Effect.scoped(
    Effect.flatMap(openFile("loadString", p, C.O_RDONLY, 0, false), (file) =>
      Effect.map(readToEnd("loadString", p, file), (bytes) => new TextDecoder("utf-8").decode(bytes)))
  )

/**
 * Writes `data` (a string as UTF-8) to the file at `p`, all of it. `create` (default
 * `"or-truncate"`, or `"if-missing"` with `append`) says what to do about a missing or
 * existing file, `perm` (default `0o666`) the mode of a created one; `append` writes at the end.
 */
export const save = (p: Path, data: Uint8Array | string, options: CreateOptions = {}): Effect.Effect<void, PlatformError> =>
  Effect.suspend(() => {
    const append = options.append ?? false
    const flags = C.O_WRONLY | createFlags(options.create ?? (append ? "if-missing" : "or-truncate")) | (append ? C.O_APPEND : 0)
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data
    return Effect.scoped(Effect.flatMap(openFile("save", p, flags, options.perm ?? 0o666, append), (file) => file.writeAll(bytes)))
  })

/** Opens the file at `p` for reading; closed when the scope closes. */
export const openIn = (p: Path): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> =>
  openFile("openIn", p, C.O_RDONLY, 0, false)

/**
 * Opens the file at `p` for reading and writing, with {@link save}'s options (default
 * `create: "or-truncate"` (`"if-missing"` with `append`), `perm: 0o666`); closed when the
 * scope closes.
 */
export const openOut = (p: Path, options: CreateOptions = {}): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> =>
  Effect.suspend(() => {
    const append = options.append ?? false
    const flags = C.O_RDWR | createFlags(options.create ?? (append ? "if-missing" : "or-truncate")) | (append ? C.O_APPEND : 0)
    return openFile("openOut", p, flags, options.perm ?? 0o666, append)
  })

/**
 * A new confined directory capability rooted at the directory `p`, valid until the scope
 * closes (then paths under it fail with BadResource). On io_uring it holds an `O_PATH` fd of
 * the directory (opened beneath `p`'s dir when that is confined) that later ops resolve
 * against; on node it is the resolved native path (plus an fd held for the scope).
 */
export const openDir = (p: Path): Effect.Effect<Path, PlatformError, Scope.Scope> => {
  const method = "openDir"
  const uring = p.dir.uring
  if (uring !== undefined) {
    return Effect.zipRight(
      check(method, p),
      Effect.flatMap(
        Effect.acquireRelease(
          Effect.map(uOpen(uring, method, p, p.relative, C.O_PATH | C.O_DIRECTORY), (fd) => new Fd.FdRef(fd, uringClose(uring))),
          (ref) => ref.close
        ),
        (ref) =>
          Effect.map(
            // The real path of what was opened (symlinks resolved), for messages and `native`.
            Effect.orElseSucceed(nCall<string>(method, "readlink", p, (cb) => fs.readlink(`/proc/self/fd/${ref.fd}`, cb)), () =>
              nodePath.resolve(p.dir.native, p.relative)),
            (real) => Cap.root(Cap.makeDir({ native: real, confined: true, uring, ref }))
          )
      )
    )
  }
  // Node: paths are resolved from the native path; the fd held (O_DIRECTORY: ENOTDIR for a
  // non-directory) only ties the capability to the scope, as on io_uring.
  return Effect.flatMap(nResolve(method, p, true), (real) =>
    Effect.map(
      Effect.acquireRelease(
        Effect.map(
          nCall<number>(method, "open", p, (cb) => fs.open(real, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW, cb)),
          (fd) => new Fd.FdRef(fd, closeNodeFd)
        ),
        (ref) => ref.close
      ),
      (ref) => Cap.root(Cap.makeDir({ native: real, confined: true, ref }))
    ))
}

/** The names in the directory `p`, sorted, without `.` and `..`. */
export const readDir = (p: Path): Effect.Effect<ReadonlyArray<string>, PlatformError> =>
  Effect.map(readDirUnsorted("readDir", p), (names) => names.sort())

/** Creates the directory `p` (its parent must exist); `perm` defaults to `0o777`. */
export const mkdir = (p: Path, options: { readonly perm?: number | undefined } = {}): Effect.Effect<void, PlatformError> =>
  mkdirI("mkdir", p, options.perm ?? 0o777)

/**
 * Creates the directory `p` and any missing parents. With `existsOk` (default false) an
 * existing directory at `p` is fine; otherwise it is `AlreadyExists`.
 */
export const mkdirs = (
  p: Path,
  options: { readonly existsOk?: boolean | undefined; readonly perm?: number | undefined } = {}
): Effect.Effect<void, PlatformError> => {
  const method = "mkdirs"
  const perm = options.perm ?? 0o777
  const go = (q: Path, existsOk: boolean): Effect.Effect<void, PlatformError> =>
    Effect.gen(function*() {
      const parent = parentOf(q)
      if (parent !== undefined && (yield* kindI(method, parent, true)) !== "Directory") yield* go(parent, true)
      yield* Effect.catchIf(
        mkdirI(method, q, perm),
        (e) => existsOk && isReason(e, "AlreadyExists"),
        (e) => Effect.flatMap(kindI(method, q, true), (k) => (k === "Directory" ? Effect.void : Effect.fail(e)))
      )
    })
  return Effect.zipRight(check(method, p), go(p, options.existsOk ?? false))
}

/**
 * Removes `p` and, if it is a directory, everything in it. Symlinks are removed, never
 * followed. With `missingOk` (default false) a missing `p` (or an entry that vanishes
 * meanwhile) is not an error. The root of a directory capability (`.`) is refused.
 */
export const rmtree = (p: Path, options: { readonly missingOk?: boolean | undefined } = {}): Effect.Effect<void, PlatformError> => {
  const method = "rmtree"
  const missingOk = options.missingOk ?? false
  const [, name] = split(p.relative)
  if (name === "." && (p.dir.confined || nodePath.resolve(p.dir.native, p.relative) === "/")) {
    return Effect.fail(
      new SystemError({
        reason: "InvalidData",
        module: "FileSystem",
        method,
        syscall: "rmdir",
        pathOrDescriptor: shown(p),
        description: `EINVAL: refusing to remove '.' (the directory itself), rmtree '${shown(p)}'`
      })
    )
  }
  const uring = p.dir.uring
  const removal = uring !== undefined
    ? uParent(uring, method, p, (dirfd, leaf) => uRemoveAt(uring, method, dirfd, leaf, shown(p), missingOk))
    : Effect.flatMap(nParent(method, p), (native) => nRemoveAt(method, native, shown(p), missingOk))
  return missingOk ? Effect.catchIf(removal, (e) => isReason(e, "NotFound"), () => Effect.void) : removal
}

/** Removes the file (or symlink) `p`. */
export const unlink = (p: Path): Effect.Effect<void, PlatformError> => {
  const uring = p.dir.uring
  return uring !== undefined
    ? uParent(uring, "unlink", p, (dirfd, name) => uring.unlinkat(dirfd, name, 0, hint("unlink", "unlinkat", p)))
    : Effect.flatMap(nParent("unlink", p), (native) => nVoid("unlink", "unlink", p, (cb) => fs.unlink(native, cb)))
}

/** Removes the empty directory `p`. */
export const rmdir = (p: Path): Effect.Effect<void, PlatformError> => {
  const uring = p.dir.uring
  return uring !== undefined
    ? uParent(uring, "rmdir", p, (dirfd, name) => uring.unlinkat(dirfd, name, C.AT_REMOVEDIR, hint("rmdir", "unlinkat", p)))
    : Effect.flatMap(nParent("rmdir", p), (native) => nVoid("rmdir", "rmdir", p, (cb) => fs.rmdir(native, cb)))
}

// An op on two paths, each confined by its own directory capability (parent opened beneath
// on io_uring, component walk on node); both must be on the same backend.
const twoPaths = (
  method: string,
  p: Path,
  to: Path,
  onRing: (uring: Uring.UringService, d1: number, n1: string, d2: number, n2: string) => Effect.Effect<void, PlatformError>,
  onNode: (from: string, to: string, cb: (err: NodeJS.ErrnoException | null) => void) => void
): Effect.Effect<void, PlatformError> => {
  const uring = p.dir.uring
  return Effect.zipRight(
    sameBackend(method, p, to),
    uring !== undefined
      ? uParent(uring, method, p, (d1, n1) => uParent(uring, method, to, (d2, n2) => onRing(uring, d1, n1, d2, n2)))
      : Effect.flatMap(nParent(method, p), (a) =>
        Effect.flatMap(nParent(method, to), (b) => nVoid(method, method, p, (cb) => onNode(a, b, cb))))
  )
}

/**
 * Renames `p` to `to` (replacing a file there). Each path is confined by its own directory
 * capability, so renaming out of a confined directory is refused; both must be on the same
 * backend.
 */
export const rename = (p: Path, to: Path): Effect.Effect<void, PlatformError> =>
  twoPaths(
    "rename",
    p,
    to,
    (uring, d1, n1, d2, n2) => uring.renameat(d1, n1, d2, n2, 0, hint("rename", "renameat", p)),
    (a, b, cb) => fs.rename(a, b, cb)
  )

/**
 * Creates `to` as a new hard link to the file at `p` (a symlink at `p` is linked itself, not
 * followed). Each path is confined by its own directory capability; same backend for both.
 */
export const link = (p: Path, to: Path): Effect.Effect<void, PlatformError> =>
  twoPaths(
    "link",
    p,
    to,
    (uring, d1, n1, d2, n2) => uring.linkat(d1, n1, d2, n2, 0, hint("link", "linkat", p)),
    (a, b, cb) => fs.link(a, b, cb)
  )

/**
 * Creates a symlink at `p` pointing to `linkTo` (stored as given; following it later is
 * confined like any other path).
 */
export const symlink = (p: Path, options: { readonly linkTo: string }): Effect.Effect<void, PlatformError> => {
  const uring = p.dir.uring
  return uring !== undefined
    ? uParent(uring, "symlink", p, (dirfd, name) => uring.symlinkat(options.linkTo, dirfd, name, hint("symlink", "symlinkat", p)))
    : Effect.flatMap(nParent("symlink", p), (native) => nVoid("symlink", "symlink", p, (cb) => fs.symlink(options.linkTo, native, cb)))
}

/** The target of the symlink `p`, as stored. */
export const readLink = (p: Path): Effect.Effect<string, PlatformError> => {
  const method = "readLink"
  const uring = p.dir.uring
  // io_uring has no readlinkat opcode: node reads /proc/self/fd/<parentFd>/<name>, i.e. the
  // entry in the directory the kernel opened beneath the dir (the last component itself is
  // not followed by readlink).
  return uring !== undefined
    ? uParent(uring, method, p, (_dirfd, _name, nodeName) => nCall<string>(method, "readlink", p, (cb) => fs.readlink(nodeName, cb)))
    : Effect.flatMap(nParent(method, p), (native) => nCall<string>(method, "readlink", p, (cb) => fs.readlink(native, cb)))
}

/** File information of `p`; `follow` (default true) stats a symlink's target instead of the link. */
export const stat = (p: Path, options: { readonly follow?: boolean | undefined } = {}): Effect.Effect<FileSystem.File.Info, PlatformError> =>
  statI("stat", p, options.follow ?? true)

/** The type of `p`, or `"not-found"`; `follow` (default true) looks through a symlink. */
export const kind = (
  p: Path,
  options: { readonly follow?: boolean | undefined } = {}
): Effect.Effect<FileSystem.File.Type | "not-found", PlatformError> => kindI("kind", p, options.follow ?? true)

/** True when `p` is a regular file (following symlinks). */
export const isFile = (p: Path): Effect.Effect<boolean, PlatformError> => Effect.map(kindI("isFile", p, true), (k) => k === "File")

/** True when `p` is a directory (following symlinks). */
export const isDirectory = (p: Path): Effect.Effect<boolean, PlatformError> =>
  Effect.map(kindI("isDirectory", p, true), (k) => k === "Directory")

/**
 * The lines of the file at `p`, decoded as UTF-8, read as the stream is pulled (LF or CRLF,
 * terminators removed; a last line without one is kept). `maxLength` (default unlimited)
 * bounds a line; a longer one fails the stream with `InvalidData`.
 */
export const lines = (p: Path, options: { readonly maxLength?: number | undefined } = {}): Stream.Stream<string, PlatformError> =>
  Stream.unwrapScoped(
    Effect.map(openFile("lines", p, C.O_RDONLY, 0, false), (file) =>
      Flow.lines(Flow.makeSource((buf) => Effect.map(file.read(buf), Number), Effect.void), {
        maxLength: options.maxLength ?? Number.POSITIVE_INFINITY
      }))
  ).pipe(
    Stream.mapError((e): PlatformError =>
      e._tag === "LineTooLong"
        ? new SystemError({
          reason: "InvalidData",
          module: "FileSystem",
          method: "lines",
          pathOrDescriptor: shown(p),
          description: e.message
        })
        : e
    )
  )
