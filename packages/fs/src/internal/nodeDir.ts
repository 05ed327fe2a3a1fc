// The node directory backend (`Cap.DirOps`), where io_uring is missing: paths are resolved
// in userspace, component by component beneath a confined directory (`resolveBeneath`, the
// same rules and errors as the kernel's `RESOLVE_BENEATH`), then node's fs acts on the
// native path.
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import { Cap, Fd } from "@effio/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { type Failure, resolveBeneath } from "./beneath.js"
import { errnoError, refused, shown, split } from "./capPath.js"
import { infoFromStats, isReason, openOptionsFlags, readOnly } from "./common.js"
import { C } from "./constants.js"
import { closeNodeFd, nodeAsync, NodeFile, nodeRead } from "./nodeFile.js"
import { readWhole } from "./readWhole.js"

type Path = Cap.Path

const ERRNO: Record<string, number> = { EISDIR: -C.EISDIR, ENOTDIR: -C.ENOTDIR, ELOOP: -C.ELOOP }

const failureError = (method: string, p: Path, f: Failure): PlatformError => {
  switch (f._tag) {
    case "Escape":
      return refused(method, p)
    case "Errno":
      return f.error
    case "Code":
      return errnoError(ERRNO[f.code] ?? -1, method, f.syscall, p)
  }
}

/** The native path of `p` for node's fs: resolved beneath a confined dir (see `resolveBeneath`). */
const resolve = (method: string, p: Path, followFinal: boolean): Effect.Effect<string, PlatformError> =>
  p.dir.confined
    ? Effect.mapError(resolveBeneath(p.dir.native, p.relative, followFinal, method, shown(p)), (f) => failureError(method, p, f))
    : Effect.sync(() => shown(p))

/**
 * The native path of `p` for an op acting on the last component itself (not following it):
 * the parent resolved beneath the dir, then "/" + the last component.
 */
const atParent = (method: string, p: Path): Effect.Effect<string, PlatformError> => {
  if (!p.dir.confined) return Effect.succeed(shown(p))
  const [parent, name] = split(p.relative)
  return Effect.map(
    Effect.mapError(resolveBeneath(p.dir.native, parent, true, method, shown(p)), (f) => failureError(method, p, f)),
    (dir) => dir.replace(/\/+$/, "") + "/" + name
  )
}

const call = <A>(method: string, syscall: string, p: Path | string, f: (cb: (err: NodeJS.ErrnoException | null, value: A) => void) => void) =>
  nodeAsync<A>({ method, syscall, pathOrDescriptor: typeof p === "string" ? p : shown(p) }, f)

const callVoid = (method: string, syscall: string, p: Path | string, f: (cb: (err: NodeJS.ErrnoException | null) => void) => void) =>
  call<void>(method, syscall, p, (cb) => f((err) => cb(err, undefined)))

/** `f(native path of p)` for an op acting on the last component: `mkdir`, `unlink`, ... */
const onLast = (method: string, p: Path, f: (cb: (err: NodeJS.ErrnoException | null) => void, native: string) => void) =>
  Effect.flatMap(atParent(method, p), (native) => callVoid(method, method, p, (cb) => f(cb, native)))

/** The file at `p` opened with `options`, as an `FdRef` closed when the scope closes. */
const openRef = (method: string, p: Path, options: Cap.OpenOptions): Effect.Effect<Fd.FdRef, PlatformError, Scope.Scope> => {
  const flags = openOptionsFlags(options)
  // O_EXCL never follows a last symlink (the kernel says EEXIST): resolve it as itself.
  return Effect.flatMap(resolve(method, p, (flags & C.O_EXCL) === 0), (native) =>
    Effect.acquireRelease(
      Effect.map(
        call<number>(method, "open", p, (cb) => fs.open(native, flags | (p.dir.confined ? C.O_NOFOLLOW : 0), options.perm, cb)),
        (fd) => new Fd.FdRef(fd, closeNodeFd)
      ),
      (ref) => ref.close
    ))
}

const open = (p: Path, options: Cap.OpenOptions): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> =>
  Effect.map(openRef("open", p, options), (ref): FileSystem.File => new NodeFile(ref, options.append, shown(p)))

const load = (p: Path): Effect.Effect<Uint8Array, PlatformError> =>
  Effect.scoped(Effect.flatMap(openRef("load", p, readOnly), (ref) => readWhole(ref.fd, nodeRead(ref), "load", shown(p))))

// Paths are resolved from the native path; the fd held (O_DIRECTORY: ENOTDIR for a
// non-directory) only ties the capability to the scope, as on io_uring.
const openDir = (p: Path): Effect.Effect<Cap.Dir, PlatformError, Scope.Scope> =>
  Effect.flatMap(resolve("openDir", p, true), (real) =>
    Effect.map(
      Effect.acquireRelease(
        Effect.map(
          call<number>("openDir", "open", p, (cb) => fs.open(real, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW, cb)),
          (fd) => new Fd.FdRef(fd, closeNodeFd)
        ),
        (ref) => ref.close
      ),
      // A relative path (from the working directory, on the process root) made absolute now.
      (ref) => Cap.makeDir({ native: nodePath.resolve(real), confined: true, ref, ops: nodeDirOps })
    ))

// rmtree below `p`: `native` (lstat: never follows a symlink).
const removeAt = (native: string, where: string, missingOk: boolean): Effect.Effect<void, PlatformError> => {
  const removal = Effect.flatMap(
    call<fs.Stats>("rmtree", "lstat", where, (cb) => fs.lstat(native, cb)),
    (st): Effect.Effect<void, PlatformError> =>
      !st.isDirectory()
        ? callVoid("rmtree", "unlink", where, (cb) => fs.unlink(native, cb))
        : Effect.zipRight(
          Effect.flatMap(
            call<Array<string>>("rmtree", "readdir", where, (cb) => fs.readdir(native, cb)),
            (entries) => Effect.forEach(entries, (e) => removeAt(`${native}/${e}`, `${where}/${e}`, missingOk), { discard: true })
          ),
          callVoid("rmtree", "rmdir", where, (cb) => fs.rmdir(native, cb))
        )
  )
  return missingOk ? Effect.catchIf(removal, (e) => isReason(e, "NotFound"), () => Effect.void) : removal
}

// An op on two paths, each confined by its own directory capability.
const twoPaths = (method: string, p: Path, to: Path, f: (from: string, to: string, cb: (err: NodeJS.ErrnoException | null) => void) => void) =>
  Effect.flatMap(atParent(method, p), (a) => Effect.flatMap(atParent(method, to), (b) => callVoid(method, method, p, (cb) => f(a, b, cb))))

/** The directory operations of capabilities on node's fs. */
export const nodeDirOps: Cap.DirOps = {
  backend: "node",
  open,
  load,
  openDir,
  readDir: (p) => Effect.flatMap(resolve("readDir", p, true), (native) => call<Array<string>>("readDir", "readdir", p, (cb) => fs.readdir(native, cb))),
  stat: (p, follow) =>
    follow
      ? Effect.flatMap(resolve("stat", p, true), (native) => Effect.map(call<fs.Stats>("stat", "stat", p, (cb) => fs.stat(native, cb)), infoFromStats))
      : Effect.flatMap(atParent("stat", p), (native) => Effect.map(call<fs.Stats>("stat", "lstat", p, (cb) => fs.lstat(native, cb)), infoFromStats)),
  mkdir: (p, perm) => onLast("mkdir", p, (cb, native) => fs.mkdir(native, { mode: perm }, cb)),
  unlink: (p) => onLast("unlink", p, (cb, native) => fs.unlink(native, cb)),
  rmdir: (p) => onLast("rmdir", p, (cb, native) => fs.rmdir(native, cb)),
  rmtree: (p, missingOk) => Effect.flatMap(atParent("rmtree", p), (native) => removeAt(native, shown(p), missingOk)),
  rename: (p, to) => twoPaths("rename", p, to, (a, b, cb) => fs.rename(a, b, cb)),
  link: (p, to) => twoPaths("link", p, to, (a, b, cb) => fs.link(a, b, cb)),
  symlink: (p, target) => onLast("symlink", p, (cb, native) => fs.symlink(target, native, cb)),
  readLink: (p) => Effect.flatMap(atParent("readLink", p), (native) => call<string>("readLink", "readlink", p, (cb) => fs.readlink(native, cb)))
}
