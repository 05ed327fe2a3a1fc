/**
 * Capability paths as data (Eio's `Path.t`): a directory capability plus a path relative to
 * it. `env.fs` (unconfined) and `env.cwd` (confined beneath the working directory) are such
 * paths; the operations on them live in `@effio/fs` (`Path.load`, `Path.openDir`, ...).
 *
 * A `Path` is also an `Effect` that succeeds with itself, so `yield* Path.join(p, "x")` and
 * plain `Path.join(p, "x")` both give the path.
 * @module
 */
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Inspectable from "effect/Inspectable"
import * as nodePath from "node:path"
import type { FdRef } from "./internal/fdref.js"
import type { UringService } from "./Uring.js"

export const DirTypeId: unique symbol = Symbol.for("@effio/core/Dir")
export const PathTypeId: unique symbol = Symbol.for("@effio/core/Path")

/** `AT_FDCWD`: a directory capability on the process's working directory uses no fd. */
export const AT_FDCWD = -100

/**
 * A directory capability: where relative paths start, whether they are confined beneath it,
 * and which backend does the I/O.
 */
export interface Dir {
  readonly [DirTypeId]: typeof DirTypeId
  /** Absolute native path of the directory (for messages and the node backend). */
  readonly native: string
  /** Confined: `..` out of it, absolute paths and symlinks leading out are refused. */
  readonly confined: boolean
  /** Directory fd the kernel resolves against (`openat2` + `RESOLVE_BENEATH`), or `AT_FDCWD`. */
  readonly dirfd: number
  /** The ring when the backend is io_uring; `undefined` on the node backend. */
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

/** Makes a directory capability. */
export const makeDir = (options: {
  readonly native: string
  readonly confined: boolean
  readonly dirfd?: number | undefined
  readonly uring?: UringService | undefined
  readonly ref?: FdRef | undefined
}): Dir => ({
  [DirTypeId]: DirTypeId,
  native: options.native,
  confined: options.confined,
  dirfd: options.ref?.fd ?? options.dirfd ?? AT_FDCWD,
  uring: options.uring,
  ref: options.ref
})

/** The path of `dir` itself. */
export const root = (dir: Dir): Path => new Path(dir, "")
