/**
 * The `@effect/platform` `FileSystem` service over io_uring: swap `NodeFileSystem.layer` for
 * `UringFileSystem.layer` and the same program does its file I/O through the ring.
 *
 * Through the ring: open (`openat2`), close, read/write at offsets, `readFile`, `writeFile`,
 * `stat` (`statx`), `makeDirectory`, `remove` (unlink/rmdir), `rename`, `symlink`, `link`,
 * `sync`, `truncate` (`IORING_OP_FTRUNCATE` where the kernel has it) and `copyFile` (splice).
 * io_uring has no opcode for the rest (readdir, chmod, chown, utimes, realpath, readlink,
 * access, watch, recursive copy/remove, mkdtemp); those use `NodeFileSystem`'s
 * implementation, with errors re-mapped from their errno to Effio's reasons (EPERM →
 * PermissionDenied, ...), as every error of the node backend ({@link layerNode}) is.
 *
 * @example
 * ```ts
 * import { FileSystem } from "@effect/platform"
 * import { UringFileSystem } from "@effio/fs"
 *
 * const program = Effect.gen(function*() {
 *   const fs = yield* FileSystem.FileSystem
 *   return yield* fs.readFileString("/etc/hostname")
 * }).pipe(Effect.provide(UringFileSystem.layer))
 * ```
 * @module
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Backend, Uring } from "@effio/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/fileSystem.js"
import { makeNode as makeNodeInternal } from "./internal/nodeFileSystem.js"

/**
 * Builds the FileSystem on a ring; `node` (a `NodeFileSystem`) serves the methods io_uring
 * has no opcode for. Files opened through it may outlive the ring: they are closed with a
 * plain close(2) then.
 */
export const make: (uring: Uring.UringService, node: FileSystem.FileSystem) => FileSystem.FileSystem = internal.make

const nodeFileSystem: Effect.Effect<FileSystem.FileSystem> = Effect.provide(FileSystem.FileSystem, NodeFileSystem.layer)

/**
 * The FileSystem of the node backend on `node` (a `NodeFileSystem`): its implementation with
 * Effio's error reasons (from the errno, as on io_uring), Effio's `File` (cursor semantics,
 * `seek`'s result, `readAt`/`writeAt`, argument checks) and whole-file reader (the size
 * limit), so a program behaves the same on either backend.
 */
export const makeNode: (node: FileSystem.FileSystem) => FileSystem.FileSystem = makeNodeInternal

/**
 * The FileSystem of the node backend (no ring): what {@link layer} falls back to, and what a
 * node-backend program should provide instead of `NodeFileSystem.layer` (see {@link makeNode}).
 */
export const layerNode: Layer.Layer<FileSystem.FileSystem> = Layer.effect(FileSystem.FileSystem, Effect.map(nodeFileSystem, makeNode))

/**
 * The FileSystem over the `Uring` service in the context: it needs a ring and builds none
 * (what `Runtime.layer` uses, so the whole program shares the loop's ring).
 */
export const layerWithRing: Layer.Layer<FileSystem.FileSystem, never, Uring.Uring> = Layer.effect(
  FileSystem.FileSystem,
  Effect.zipWith(Uring.Uring, nodeFileSystem, make)
)

/** @deprecated Use {@link layerWithRing} (same layer; the name said io_uring, not "needs a ring"). */
export const layerUring: Layer.Layer<FileSystem.FileSystem, never, Uring.Uring> = layerWithRing

/**
 * The FileSystem over io_uring, or nothing: acquires the loop's shared ring (see
 * `Uring.make`) and fails with `UringUnavailable` where io_uring cannot be used.
 */
export const layerStrict: Layer.Layer<FileSystem.FileSystem, Uring.UringUnavailable> = layerWithRing.pipe(
  Layer.provide(Uring.layer())
)

/**
 * The drop-in for `NodeFileSystem.layer`: io_uring where it is usable (the loop's shared
 * ring), else node's file system ({@link layerNode}) with the same one-line notice as
 * `Runtime.layer`; honours `EFFIO_BACKEND`. Fails only for a forced `EFFIO_BACKEND=io_uring`
 * that is unavailable.
 */
export const layer: Layer.Layer<FileSystem.FileSystem, Uring.UringUnavailable | Backend.BackendUnavailable> = Backend.select({
  io_uring: layerStrict,
  node: layerNode
})
