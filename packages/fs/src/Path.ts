/**
 * Eio-style capability paths: every operation takes a `Cap.Path` (a directory capability
 * plus a path relative to it) instead of a string, so a program can only reach what it was
 * given. `env.fs` is the unconfined root; `env.cwd` and every directory opened with
 * {@link openDir} are confined: `..` out of them, absolute paths and symlinks leading out are
 * refused with a `SystemError` of reason `PermissionDenied`.
 *
 * This module checks a path (NUL bytes, a closed capability, `..` or an absolute path under a
 * confined directory), hands the operation to the directory's backend (`path.dir.ops`, a
 * `Cap.DirOps`) and names the method called in its errors, as Eio's `Path` does over
 * `Fs.dir`. The backends ({@link uringRoot}, {@link nodeRoot}) confine the rest:
 *
 * - io_uring: the kernel. Every open under a confined directory is an `openat2` with
 *   `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` relative to the directory's fd, and ops with no
 *   `openat2` form (mkdir, unlink, rename, symlink, link, lstat, readlink) open the parent
 *   directory that way and then act on `(parentFd, basename)`, so a directory swapped for a
 *   symlink between a check and its use cannot lead out.
 * - node: the path is resolved in userspace, component by component (`lstat`/`readlink`),
 *   with the same rules and the same errors.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Runtime } from "@effio/runtime"
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
import { Cap, Flow, type Uring } from "@effio/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as nodePath from "node:path"
import { refused, shown, split } from "./internal/capPath.js"
import { isReason, readOnly } from "./internal/common.js"
import { nodeDirOps } from "./internal/nodeDir.js"
import { decodeText } from "./internal/readWhole.js"
import { uringDirOps } from "./internal/uringDir.js"

/** A capability path: a directory capability (`dir`) plus a path relative to it. */
export type Path = Cap.Path

/** True for a capability {@link Path}. */
export const isPath: (u: unknown) => u is Path = Cap.isPath

/**
 * What to do about a missing or existing file when opening for writing (Eio's `create`):
 * `never`: it must exist; `if-missing`: create it, keep existing contents; `or-truncate`:
 * create it or empty it; `exclusive`: create it, `AlreadyExists` if it exists.
 */
export type Create = Cap.Create

/** Options of {@link save} and {@link openOut}. */
export interface CreateOptions {
  /** Default `"or-truncate"`; `"if-missing"` when `append` is set (appending keeps the contents). */
  readonly create?: Create | undefined
  /** Permission bits of a created file (before the umask). Default `0o666`. */
  readonly perm?: number | undefined
  /** Every write goes to the end of the file (`O_APPEND`). Default false. */
  readonly append?: boolean | undefined
}

// ---- roots ---------------------------------------------------------------------------------

/**
 * A root capability at `native` whose operations go through `uring` (what `env.fs` and
 * `env.cwd` are on io_uring). It holds no fd: relative paths start from the working
 * directory (`AT_FDCWD`), so a confined root must be on the working directory, as `env.cwd`
 * is; an unconfined one may be anywhere. The unconfined root at "/" (`env.fs`) is the
 * process's view, as Eio's `fs`: absolute paths as they are, relative ones from the working
 * directory; an unconfined root elsewhere starts them from `native`. For any other confined
 * directory, {@link openDir} it from an unconfined root.
 */
export const uringRoot = (uring: Uring.UringService, native: string, confined: boolean): Path =>
  Cap.root(Cap.makeDir({ native, confined, uring, ops: uringDirOps(uring) }))

/**
 * A root capability at `native` whose operations use node's fs, resolving paths beneath it
 * in userspace when `confined` (what `env.fs` and `env.cwd` are on the node backend). As on
 * io_uring, relative paths on the unconfined root at "/" start from the working directory.
 */
export const nodeRoot = (native: string, confined: boolean): Path => Cap.root(Cap.makeDir({ native, confined, ops: nodeDirOps }))

// ---- dispatch ------------------------------------------------------------------------------

/**
 * Refuses up front, touching nothing: a NUL byte (BadArgument), a directory capability whose
 * scope has closed (BadResource) and, under a confined directory, an absolute path or one
 * whose normalised form starts with `..` (PermissionDenied); with `last` (an op acting on the
 * last component itself) also a last component `..`.
 */
const check = (method: string, p: Path, last: boolean): Effect.Effect<void, PlatformError> => {
  if (!Cap.isPath(p)) {
    return Effect.fail(new BadArgument({ module: "FileSystem", method, description: `expected a capability Path, not ${describeValue(p)}` }))
  }
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
  if (nodePath.isAbsolute(p.relative)) return Effect.fail(refused(method, p))
  const n = nodePath.posix.normalize(p.relative)
  if (n === ".." || n.startsWith("../")) return Effect.fail(refused(method, p))
  if (last && split(p.relative)[1] === "..") return Effect.fail(refused(method, p))
  return Effect.void
}

const describeValue = (u: unknown): string =>
  u === null ? "null" : typeof u === "string" ? `the string ${JSON.stringify(u.length > 40 ? u.slice(0, 40) + "..." : u)}` : typeof u

/** Names `method` (the one the user called) in the errors of `effect`. */
const withMethod = <A, R>(method: string, effect: Effect.Effect<A, PlatformError, R>): Effect.Effect<A, PlatformError, R> =>
  Effect.mapError(effect, (e): PlatformError =>
    e.method === method ? e : e._tag === "SystemError" ? new SystemError({ ...e, method }) : new BadArgument({ ...e, method }))

/** Checks `p`, then runs the op of its directory's backend; errors name `method`. */
const dispatch = <A, R>(
  method: string,
  p: Path,
  last: boolean,
  op: (ops: Cap.DirOps) => Effect.Effect<A, PlatformError, R>
): Effect.Effect<A, PlatformError, R> =>
  withMethod(method, Effect.zipRight(check(method, p, last), Effect.suspend(() => op(p.dir.ops))))

/** Both paths checked, on one backend, then the op of `p`'s backend. */
const dispatch2 = (method: string, p: Path, to: Path, op: (ops: Cap.DirOps) => Effect.Effect<void, PlatformError>) =>
  !Cap.isPath(p) || !Cap.isPath(to)
    ? Effect.zipRight(check(method, p, true), check(method, to, true))
    : p.dir.ops.backend !== to.dir.ops.backend
    ? Effect.fail(
      new BadArgument({
        module: "FileSystem",
        method,
        description: `both paths must be on the same backend, not ${p.dir.ops.backend} and ${to.dir.ops.backend}`
      })
    )
    : dispatch(method, p, true, (ops) => Effect.zipRight(check(method, to, true), op(ops)))

const writeOptions = (access: "write" | "read-write", options: CreateOptions): Cap.OpenOptions => {
  const append = options.append ?? false
  return { access, create: options.create ?? (append ? "if-missing" : "or-truncate"), perm: options.perm ?? 0o666, append }
}

const statI = (method: string, p: Path, follow: boolean) => dispatch(method, p, !follow, (ops) => ops.stat(p, follow))

const kindI = (method: string, p: Path, follow: boolean): Effect.Effect<FileSystem.File.Type | "not-found", PlatformError> =>
  Effect.catchIf(
    Effect.map(statI(method, p, follow), (info): FileSystem.File.Type | "not-found" => info.type),
    (e) => isReason(e, "NotFound"),
    () => Effect.succeed("not-found" as const)
  )

const mkdirI = (method: string, p: Path, perm: number) => dispatch(method, p, true, (ops) => ops.mkdir(p, perm))

/** The parent of `p` for mkdirs, if it has one worth creating. */
const parentOf = (p: Path): Path | undefined => {
  const [parent, name] = split(p.relative)
  if (name === "." || name === ".." || p.relative.replace(/\/+$/, "") === "") return undefined
  return new Cap.Path(p.dir, parent === "." ? "" : parent)
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
export const native = (p: Path): Effect.Effect<string> => Effect.sync(() => nodePath.resolve(shown(p)))

/** The whole contents of the file at `p`. */
export const load = (p: Path): Effect.Effect<Uint8Array, PlatformError> => dispatch("load", p, false, (ops) => ops.load(p))

/** The whole contents of the file at `p`, decoded as UTF-8. */
export const loadString = (p: Path): Effect.Effect<string, PlatformError> =>
  dispatch("loadString", p, false, (ops) =>
    Effect.flatMap(ops.load(p), (bytes) => decodeText(bytes, "utf-8", { module: "FileSystem", method: "loadString", syscall: "read", pathOrDescriptor: shown(p) })))

/**
 * Writes `data` (a string as UTF-8) to the file at `p`, all of it. `create` (default
 * `"or-truncate"`, or `"if-missing"` with `append`) says what to do about a missing or
 * existing file, `perm` (default `0o666`) the mode of a created one; `append` writes at the end.
 */
export const save = (p: Path, data: Uint8Array | string, options: CreateOptions = {}): Effect.Effect<void, PlatformError> =>
  Effect.scoped(
    dispatch("save", p, false, (ops) =>
      Effect.flatMap(ops.open(p, writeOptions("write", options)), (file) =>
        file.writeAll(typeof data === "string" ? new TextEncoder().encode(data) : data)))
  )

/** Opens the file at `p` for reading; closed when the scope closes. */
export const openIn = (p: Path): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> =>
  dispatch("openIn", p, false, (ops) => ops.open(p, readOnly))

/**
 * Opens the file at `p` for reading and writing, with {@link save}'s options (default
 * `create: "or-truncate"` (`"if-missing"` with `append`), `perm: 0o666`); closed when the
 * scope closes.
 */
export const openOut = (p: Path, options: CreateOptions = {}): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> =>
  dispatch("openOut", p, false, (ops) => ops.open(p, writeOptions("read-write", options)))

/**
 * A new confined directory capability rooted at the directory `p`, valid until the scope
 * closes (then paths under it fail with BadResource). On io_uring it holds a read-only fd of
 * the directory (opened beneath `p`'s dir when that is confined) that later ops resolve
 * against; on node it is the resolved native path (plus an fd held for the scope).
 */
export const openDir = (p: Path): Effect.Effect<Path, PlatformError, Scope.Scope> =>
  Effect.map(dispatch("openDir", p, false, (ops) => ops.openDir(p)), Cap.root)

/** The names in the directory `p`, sorted, without `.` and `..`. */
export const readDir = (p: Path): Effect.Effect<ReadonlyArray<string>, PlatformError> =>
  Effect.map(dispatch("readDir", p, false, (ops) => ops.readDir(p)), (names) => [...names].sort())

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
  return Effect.zipRight(check(method, p, false), go(p, options.existsOk ?? false))
}

/**
 * Removes `p` and, if it is a directory, everything in it. Symlinks are removed, never
 * followed. With `missingOk` (default false) a missing `p` (or an entry that vanishes
 * meanwhile) is not an error. The root of a directory capability (`.`) is refused.
 */
export const rmtree = (p: Path, options: { readonly missingOk?: boolean | undefined } = {}): Effect.Effect<void, PlatformError> => {
  const method = "rmtree"
  const missingOk = options.missingOk ?? false
  if (!Cap.isPath(p)) return check(method, p, true)
  const [, name] = split(p.relative)
  if (name === "." && (p.dir.confined || nodePath.resolve(shown(p)) === "/")) {
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
  const removal = dispatch(method, p, true, (ops) => ops.rmtree(p, missingOk))
  return missingOk ? Effect.catchIf(removal, (e) => isReason(e, "NotFound"), () => Effect.void) : removal
}

/** Removes the file (or symlink) `p`. */
export const unlink = (p: Path): Effect.Effect<void, PlatformError> => dispatch("unlink", p, true, (ops) => ops.unlink(p))

/** Removes the empty directory `p`. */
export const rmdir = (p: Path): Effect.Effect<void, PlatformError> => dispatch("rmdir", p, true, (ops) => ops.rmdir(p))

/**
 * Renames `p` to `to` (replacing a file there). Each path is confined by its own directory
 * capability, so renaming out of a confined directory is refused; both must be on the same
 * backend.
 */
export const rename = (p: Path, to: Path): Effect.Effect<void, PlatformError> => dispatch2("rename", p, to, (ops) => ops.rename(p, to))

/**
 * Creates `to` as a new hard link to the file at `p` (a symlink at `p` is linked itself, not
 * followed). Each path is confined by its own directory capability; same backend for both.
 */
export const link = (p: Path, to: Path): Effect.Effect<void, PlatformError> => dispatch2("link", p, to, (ops) => ops.link(p, to))

/**
 * Creates a symlink at `p` pointing to `linkTo` (stored as given; following it later is
 * confined like any other path).
 */
export const symlink = (p: Path, options: { readonly linkTo: string }): Effect.Effect<void, PlatformError> =>
  dispatch("symlink", p, true, (ops) => ops.symlink(p, options.linkTo))

/** The target of the symlink `p`, as stored. */
export const readLink = (p: Path): Effect.Effect<string, PlatformError> => dispatch("readLink", p, true, (ops) => ops.readLink(p))

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
    Effect.map(dispatch("lines", p, false, (ops) => ops.open(p, readOnly)), (file) =>
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
