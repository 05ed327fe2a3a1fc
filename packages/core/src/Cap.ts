/**
 * Capability paths as data (Eio's `Path.t`): a directory capability plus a path relative to
 * it. `env.fs` (unconfined) and `env.cwd` (confined beneath the working directory) are such
 * paths; the operations on them live in `@effio/fs` (`Path.load`, `Path.openDir`, ...), which
 * dispatches each one to the directory's {@link DirOps} (Eio's `Fs.dir`): `@effio/fs`
 * implements them on io_uring and on node, and any other implementation (a test fake, an
 * in-memory tree) works with `Path` unchanged.
 *
 * A `Path` is also an `Effect` that succeeds with itself, so `yield* Path.join(p, "x")` and
 * plain `Path.join(p, "x")` both give the path.
 * @module
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Inspectable from "effect/Inspectable"
import type * as Scope from "effect/Scope"
import * as nodePath from "node:path"
import type { FdRef } from "./internal/fdref.js"
import type { UringService } from "./Uring.js"

/** Brands a {@link Dir}. */
export const DirTypeId: unique symbol = Symbol.for("@effio/core/Dir")
/** Brands a {@link Path}. */
export const PathTypeId: unique symbol = Symbol.for("@effio/core/Path")

/** `AT_FDCWD`: a directory capability on the process's working directory uses no fd. */
export const AT_FDCWD = -100

/**
 * What to do about a missing or existing file when opening it for writing (Eio's `create`):
 * `never`: it must exist; `if-missing`: create it, keep existing contents; `or-truncate`:
 * create it or empty it; `exclusive`: create it, `AlreadyExists` if it exists.
 */
export type Create = "never" | "if-missing" | "or-truncate" | "exclusive"

/** How {@link DirOps.open} opens a file. */
export interface OpenOptions {
  /** Read only, write only, or both. */
  readonly access: "read" | "write" | "read-write"
  /** What to do about a missing or existing file (only `never` makes sense for `read`). */
  readonly create: Create
  /** Permission bits of a created file (before the umask). */
  readonly perm: number
  /** Every write goes to the end of the file (`O_APPEND`). */
  readonly append: boolean
}

/**
 * The operations of a directory capability (Eio's `Fs.dir`), implemented by a backend.
 * `@effio/fs`'s `Path` calls `path.dir.ops.<op>(path, ...)` with a path it has checked: no
 * NUL byte, the capability still open, and under a confined directory neither absolute nor
 * leading out with `..` once normalised; for the ops that act on the last component itself
 * (`stat` without `follow`, `mkdir`, `unlink`, `rmdir`, `rmtree`, `rename`, `link`,
 * `symlink`, `readLink`) that component is not `..` either. The backend confines the rest
 * (symlinks leading out) and fails with a `PlatformError` whose `pathOrDescriptor` is the path
 * as the user sees it; `Path` sets the error's `method` to the one the user called.
 */
export interface DirOps {
  /** Names the backend (`"io_uring"`, `"node"`, ...): `rename` and `link` need both paths on one. */
  readonly backend: string
  /** Opens the file at `path`; closed when the scope closes. */
  readonly open: (path: Path, options: OpenOptions) => Effect.Effect<FileSystem.File, PlatformError, Scope.Scope>
  /** The whole contents of the file at `path`. */
  readonly load: (path: Path) => Effect.Effect<Uint8Array, PlatformError>
  /** A confined directory capability on the directory `path`, valid until the scope closes. */
  readonly openDir: (path: Path) => Effect.Effect<Dir, PlatformError, Scope.Scope>
  /** The names in the directory `path`, without `.` and `..`, in any order. */
  readonly readDir: (path: Path) => Effect.Effect<ReadonlyArray<string>, PlatformError>
  /** File information of `path`; `follow`: of a symlink's target rather than the link. */
  readonly stat: (path: Path, follow: boolean) => Effect.Effect<FileSystem.File.Info, PlatformError>
  /** Creates the directory `path` with permission bits `perm`. */
  readonly mkdir: (path: Path, perm: number) => Effect.Effect<void, PlatformError>
  /** Removes the file or symlink `path`. */
  readonly unlink: (path: Path) => Effect.Effect<void, PlatformError>
  /** Removes the empty directory `path`. */
  readonly rmdir: (path: Path) => Effect.Effect<void, PlatformError>
  /**
   * Removes `path` and, if it is a directory, everything in it, never following a symlink;
   * `missingOk`: entries that vanish meanwhile are not errors (`Path` handles a missing `path`).
   */
  readonly rmtree: (path: Path, missingOk: boolean) => Effect.Effect<void, PlatformError>
  /** Renames `path` to `to` (a path on a directory of the same `backend`). */
  readonly rename: (path: Path, to: Path) => Effect.Effect<void, PlatformError>
  /** Creates `to` (same `backend`) as a hard link to `path` (a symlink is linked itself). */
  readonly link: (path: Path, to: Path) => Effect.Effect<void, PlatformError>
  /** Creates a symlink at `path` pointing to `target`, stored as given. */
  readonly symlink: (path: Path, target: string) => Effect.Effect<void, PlatformError>
  /** The target of the symlink `path`, as stored. */
  readonly readLink: (path: Path) => Effect.Effect<string, PlatformError>
}

/**
 * A directory capability: where relative paths start, whether they are confined beneath it,
 * and the backend's {@link DirOps} that act on it.
 */
export interface Dir {
  readonly [DirTypeId]: typeof DirTypeId
  /** Absolute native path of the directory (for messages and the node backend). */
  readonly native: string
  /** Confined: `..` out of it, absolute paths and symlinks leading out are refused. */
  readonly confined: boolean
  /** Directory fd the kernel resolves against (`openat2` + `RESOLVE_BENEATH`), or `AT_FDCWD`. */
  readonly dirfd: number
  /** The operations on this directory. */
  readonly ops: DirOps
  /** The ring, when the backend is io_uring (informational: `ops` holds what it uses). */
  readonly uring: UringService | undefined
  /**
   * The reference-counted `dirfd` when the capability owns it (a directory opened with
   * `Path.openDir`): ops pin it while they use it, and once it is closed they fail with
   * EBADF instead of reaching an fd number that may have been reused.
   */
  readonly ref?: FdRef | undefined
}

/** A capability path: `dir` plus `relative` (`""` is the directory itself). */
export class Path extends Effectable.Class<Path> implements Inspectable.Inspectable {
  readonly [PathTypeId]: typeof PathTypeId = PathTypeId
  constructor(
    readonly dir: Dir,
    readonly relative: string
  ) {
    super()
  }
  commit(): Effect.Effect<Path> {
    return Effect.succeed(this)
  }
  /** The native path, for display: `dir.native` joined with `relative`. */
  override toString(): string {
    if (this.relative === "") return this.dir.native
    return nodePath.isAbsolute(this.relative) ? this.relative : nodePath.join(this.dir.native, this.relative)
  }
  toJSON(): unknown {
    return { _id: "Path", dir: this.dir.native, confined: this.dir.confined, relative: this.relative }
  }
  [Inspectable.NodeInspectSymbol](): unknown {
    return `<${this.dir.confined ? "confined " : ""}${this.toString()}>`
  }
}

/** True for a {@link Path}. */
export const isPath = (u: unknown): u is Path => typeof u === "object" && u !== null && PathTypeId in u

/**
 * Makes a directory capability acted on by `ops` (`@effio/fs`'s `Path.uringRoot` and
 * `Path.nodeRoot` make the standard ones). `dirfd` defaults to `ref`'s fd, else `AT_FDCWD`.
 */
export const makeDir = (options: {
  readonly native: string
  readonly confined: boolean
  readonly ops: DirOps
  readonly dirfd?: number | undefined
  readonly uring?: UringService | undefined
  readonly ref?: FdRef | undefined
}): Dir => ({
  [DirTypeId]: DirTypeId,
  native: options.native,
  confined: options.confined,
  dirfd: options.ref?.fd ?? options.dirfd ?? AT_FDCWD,
  ops: options.ops,
  uring: options.uring,
  ref: options.ref
})

/** The path of `dir` itself. */
export const root = (dir: Dir): Path => new Path(dir, "")
