// The io_uring directory backend (`Cap.DirOps`): the kernel resolves every path. Under a
// confined directory each open is an `openat2` relative to the directory's fd with
// `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, and the ops with no `openat2` form (mkdir,
// unlink, rename, symlink, link, lstat, readlink) open the parent that way and act on
// `(parentFd, name)`, so a directory swapped for a symlink between a check and its use
// cannot lead out. io_uring has no getdents or readlinkat opcode: node lists and reads
// links through `/proc/self/fd/<fd the kernel opened>`.
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import { Cap, Fd, type Uring } from "@effio/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { isEscape, refused, shown, split } from "./capPath.js"
import { infoFromStatx, isReason, isType, openOptionsFlags, readOnly } from "./common.js"
import { C } from "./constants.js"
import { UringFile } from "./file.js"
import { nodeAsync } from "./nodeFile.js"
import { readWhole } from "./readWhole.js"
import { fdRef, ringRead } from "./ringIo.js"

type Ring = Uring.UringService
type Path = Cap.Path

const RESOLVE = C.RESOLVE_BENEATH | C.RESOLVE_NO_MAGICLINKS
const STATX_MASK = C.STATX_BASIC_STATS | C.STATX_BTIME

const hint = (method: string, syscall: string, p: Path | string): Uring.ErrorHint => ({
  method,
  syscall,
  pathOrDescriptor: typeof p === "string" ? p : shown(p)
})

const closeFd = (uring: Ring) => (fd: number) => Fd.closeFd(uring, fd)

/** Runs `f` with the directory's fd, pinned open while it runs when the capability owns it. */
const withDirFd = <A>(dir: Cap.Dir, method: string, f: (dirfd: number) => Effect.Effect<A, PlatformError>) =>
  dir.ref !== undefined ? dir.ref.use(method, f) : f(dir.dirfd)

/**
 * `openat2` of `rel` under `p.dir` (errors name `p`): confined → relative to the dir fd with
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, EXDEV → PermissionDenied; unconfined → plain.
 */
const openAt = (uring: Ring, method: string, p: Path, rel: string, flags: number, mode = 0): Effect.Effect<number, PlatformError> =>
  withDirFd(p.dir, method, (dirfd) => {
    const h = hint(method, "openat2", p)
    if (p.dir.confined) {
      return Effect.mapError(
        uring.openat2(dirfd, rel === "" ? "." : rel, { flags, mode, resolve: RESOLVE }, { ...h, confined: true }),
        (e) => (isEscape(e) ? refused(method, p) : e)
      )
    }
    const path = dirfd === Cap.AT_FDCWD ? shown(new Cap.Path(p.dir, rel)) : rel === "" ? "." : rel
    return uring.openat2(dirfd, path, { flags, mode }, h)
  })

/**
 * Runs `f(parentFd, name, nodeName)` for an op acting on the last component itself.
 * Confined: the parent is opened `O_PATH | O_DIRECTORY` beneath the directory and closed
 * afterwards, and the op acts on the last component only, so nothing on the way can be a
 * symlink swapped in after a check. `nodeName` names the same file for node's fs
 * (`/proc/self/fd/N/name`). Unconfined: the whole path relative to the dir (the native path
 * on `AT_FDCWD`).
 */
const atParent = <A>(
  uring: Ring,
  method: string,
  p: Path,
  f: (dirfd: number, name: string, nodeName: string) => Effect.Effect<A, PlatformError>
): Effect.Effect<A, PlatformError> => {
  if (!p.dir.confined) {
    return withDirFd(p.dir, method, (dirfd) => {
      if (dirfd === Cap.AT_FDCWD) return f(dirfd, shown(p), shown(p))
      const rel = p.relative === "" ? "." : p.relative
      return f(dirfd, rel, nodePath.isAbsolute(rel) ? rel : `/proc/self/fd/${dirfd}/${rel}`)
    })
  }
  const [parent, name] = split(p.relative)
  return Effect.acquireUseRelease(
    openAt(uring, method, p, parent, C.O_PATH | C.O_DIRECTORY),
    (pfd) => f(pfd, name, `/proc/self/fd/${pfd}/${name}`),
    closeFd(uring)
  )
}

/** A temporary fd for `p`, closed after `use`. */
const withFd = <A>(uring: Ring, method: string, p: Path, flags: number, use: (fd: number) => Effect.Effect<A, PlatformError>) =>
  Effect.acquireUseRelease(openAt(uring, method, p, p.relative, flags), use, closeFd(uring))

/** The names in the directory open as `fd` (no getdents opcode: node lists it through /proc). */
const readDirFd = (method: string, fd: number, where: string) =>
  nodeAsync<Array<string>>({ method, syscall: "readdir", pathOrDescriptor: where }, (cb) => fs.readdir(`/proc/self/fd/${fd}`, cb))

/** The file at `p` opened with `options`, as an `FdRef` closed when the scope closes. */
const openRef = (uring: Ring, method: string, p: Path, options: Cap.OpenOptions): Effect.Effect<Fd.FdRef, PlatformError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.map(openAt(uring, method, p, p.relative, openOptionsFlags(options), options.perm), (fd) => fdRef(uring, fd)),
    (ref) => ref.close
  )

const open = (uring: Ring) => (p: Path, options: Cap.OpenOptions): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> =>
  Effect.map(openRef(uring, "open", p, options), (ref): FileSystem.File => new UringFile(uring, ref, options.append, shown(p)))

const load = (uring: Ring) => (p: Path): Effect.Effect<Uint8Array, PlatformError> =>
  Effect.scoped(Effect.flatMap(openRef(uring, "load", p, readOnly), (ref) => readWhole(ref.fd, ringRead(uring, ref), "load", shown(p))))

// An fd of the directory (opened beneath `p`'s dir when that is confined) that later ops
// resolve against, named by its real path (symlinks resolved) for messages and `native`.
// O_RDONLY, not O_PATH: an O_PATH open needs no read permission, so a directory the process
// cannot read would open and fail only at its first readDir; node's open(O_RDONLY |
// O_DIRECTORY) says EACCES at openDir, and so does this.
const openDir = (uring: Ring, ops: () => Cap.DirOps) => (p: Path): Effect.Effect<Cap.Dir, PlatformError, Scope.Scope> =>
  Effect.flatMap(
    Effect.acquireRelease(
      Effect.map(openAt(uring, "openDir", p, p.relative, C.O_RDONLY | C.O_DIRECTORY), (fd) => fdRef(uring, fd)),
      (ref) => ref.close
    ),
    (ref) =>
      Effect.map(
        Effect.orElseSucceed(
          nodeAsync<string>({ method: "openDir", syscall: "readlink", pathOrDescriptor: shown(p) }, (cb) => fs.readlink(`/proc/self/fd/${ref.fd}`, cb)),
          () => nodePath.resolve(shown(p))
        ),
        (real) => Cap.makeDir({ native: real, confined: true, uring, ref, ops: ops() })
      )
  )

const stat = (uring: Ring) => (p: Path, follow: boolean): Effect.Effect<FileSystem.File.Info, PlatformError> => {
  const h = hint("stat", "statx", p)
  if (!follow) return atParent(uring, "stat", p, (dirfd, name) => Effect.map(uring.statx(dirfd, name, C.AT_SYMLINK_NOFOLLOW, STATX_MASK, h), infoFromStatx))
  if (!p.dir.confined) {
    return withDirFd(p.dir, "stat", (dirfd) =>
      Effect.map(uring.statx(dirfd, dirfd === Cap.AT_FDCWD ? shown(p) : p.relative || ".", 0, STATX_MASK, h), infoFromStatx))
  }
  // No RESOLVE_BENEATH for statx: open the file O_PATH beneath the dir, then fstat it.
  return withFd(uring, "stat", p, C.O_PATH, (fd) => Effect.map(uring.statx(fd, "", C.AT_EMPTY_PATH, STATX_MASK, h), infoFromStatx))
}

// rmtree below `p`: the entry `name` of directory fd `dirfd`, never following a symlink.
const removeAt = (uring: Ring, dirfd: number, name: string, where: string, missingOk: boolean): Effect.Effect<void, PlatformError> => {
  const removal = Effect.flatMap(
    uring.statx(dirfd, name, C.AT_SYMLINK_NOFOLLOW, C.STATX_BASIC_STATS, hint("rmtree", "statx", where)),
    (st): Effect.Effect<void, PlatformError> =>
      !isType(st.mode, C.S_IFDIR)
        ? uring.unlinkat(dirfd, name, 0, hint("rmtree", "unlinkat", where))
        : Effect.zipRight(
          // O_NOFOLLOW: a directory swapped for a symlink since the statx is ELOOP, not followed.
          Effect.acquireUseRelease(
            uring.openat2(dirfd, name, { flags: C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW, mode: 0 }, hint("rmtree", "openat2", where)),
            (fd) =>
              Effect.flatMap(readDirFd("rmtree", fd, where), (entries) =>
                Effect.forEach(entries, (e) => removeAt(uring, fd, e, `${where}/${e}`, missingOk), { discard: true })),
            closeFd(uring)
          ),
          uring.unlinkat(dirfd, name, C.AT_REMOVEDIR, hint("rmtree", "unlinkat", where))
        )
  )
  return missingOk ? Effect.catchIf(removal, (e) => isReason(e, "NotFound"), () => Effect.void) : removal
}

/** The directory operations of capabilities on `uring`. */
export const uringDirOps = (uring: Ring): Cap.DirOps => {
  const ops: Cap.DirOps = {
    backend: "io_uring",
    open: open(uring),
    load: load(uring),
    openDir: openDir(uring, () => ops),
    readDir: (p) => withFd(uring, "readDir", p, C.O_RDONLY | C.O_DIRECTORY, (fd) => readDirFd("readDir", fd, shown(p))),
    stat: stat(uring),
    mkdir: (p, perm) => atParent(uring, "mkdir", p, (dirfd, name) => uring.mkdirat(dirfd, name, perm, hint("mkdir", "mkdirat", p))),
    unlink: (p) => atParent(uring, "unlink", p, (dirfd, name) => uring.unlinkat(dirfd, name, 0, hint("unlink", "unlinkat", p))),
    rmdir: (p) => atParent(uring, "rmdir", p, (dirfd, name) => uring.unlinkat(dirfd, name, C.AT_REMOVEDIR, hint("rmdir", "unlinkat", p))),
    rmtree: (p, missingOk) => atParent(uring, "rmtree", p, (dirfd, name) => removeAt(uring, dirfd, name, shown(p), missingOk)),
    rename: (p, to) =>
      atParent(uring, "rename", p, (d1, n1) =>
        atParent(uring, "rename", to, (d2, n2) => uring.renameat(d1, n1, d2, n2, 0, hint("rename", "renameat", p)))),
    link: (p, to) =>
      atParent(uring, "link", p, (d1, n1) => atParent(uring, "link", to, (d2, n2) => uring.linkat(d1, n1, d2, n2, 0, hint("link", "linkat", p)))),
    symlink: (p, target) => atParent(uring, "symlink", p, (dirfd, name) => uring.symlinkat(target, dirfd, name, hint("symlink", "symlinkat", p))),
    // No readlinkat opcode: node reads /proc/self/fd/<parentFd>/<name>, the entry in the
    // directory the kernel opened beneath the dir (readlink does not follow the last component).
    readLink: (p) =>
      atParent(uring, "readLink", p, (_dirfd, _name, nodeName) =>
        nodeAsync<string>({ method: "readLink", syscall: "readlink", pathOrDescriptor: shown(p) }, (cb) => fs.readlink(nodeName, cb)))
  }
  return ops
}
