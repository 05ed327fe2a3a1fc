// The FileSystem where io_uring cannot be used (`UringFileSystem.layerNode`, the fallback of
// `UringFileSystem.layer`): `NodeFileSystem`'s implementation with Effio's reasons, File and
// checks, so a program sees the same behaviour on both backends:
// - every error re-mapped from its errno to Effio's reasons (`refine`);
// - `open` gives Effio's node `File` (`NodeFile`: the cursor semantics, `seek`'s result, the
//   argument checks and `readAt`/`writeAt` of the io_uring File);
// - `readFile` is the shared whole-file reader (size limit before any allocation, 1 MiB reads);
// - `stream` and `readFileString` are checked (`makeFileSystem`).
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import { Fd } from "@effio/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import { checkPath, openFlags, refine } from "./common.js"
import { C } from "./constants.js"
import { makeFileSystem } from "./derived.js"
import { closeNodeFd, nodeAsync, NodeFile, nodeRead } from "./nodeFile.js"
import { readWhole } from "./readWhole.js"

const openRef = (method: string, p: string, flags: number, mode: number): Effect.Effect<Fd.FdRef, PlatformError, Scope.Scope> =>
  Effect.zipRight(
    checkPath(method, p),
    Effect.acquireRelease(
      Effect.map(nodeAsync<number>({ method, syscall: "open", pathOrDescriptor: p }, (cb) => fs.open(p, flags, mode, cb)), (fd) =>
        new Fd.FdRef(fd, closeNodeFd)),
      (ref) => ref.close
    )
  )

const open = (p: string, options?: FileSystem.OpenFileOptions): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> =>
  Effect.suspend(() => {
    const flag = options?.flag ?? "r"
    return Effect.map(openRef("open", p, openFlags(flag), options?.mode ?? 0o666), (ref) => new NodeFile(ref, flag.startsWith("a"), p))
  })

const readFile = (p: string): Effect.Effect<Uint8Array, PlatformError> =>
  Effect.scoped(Effect.flatMap(openRef("readFile", p, C.O_RDONLY, 0), (ref) => readWhole(ref, nodeRead(ref), "readFile", p)))

/** The node FileSystem `node` (a `NodeFileSystem`) with Effio's reasons, File and checks. */
export const makeNode = (node: FileSystem.FileSystem): FileSystem.FileSystem => {
  const r = <A, R>(effect: Effect.Effect<A, PlatformError, R>) => Effect.mapError(effect, refine)
  return makeFileSystem({
    open,
    readFile,
    access: (p, o) => r(node.access(p, o)),
    chmod: (p, mode) => r(node.chmod(p, mode)),
    chown: (p, uid, gid) => r(node.chown(p, uid, gid)),
    copy: (from, to, o) => r(node.copy(from, to, o)),
    copyFile: (from, to) => r(node.copyFile(from, to)),
    link: (from, to) => r(node.link(from, to)),
    makeDirectory: (p, o) => r(node.makeDirectory(p, o)),
    makeTempDirectory: (o) => r(node.makeTempDirectory(o)),
    makeTempDirectoryScoped: (o) => r(node.makeTempDirectoryScoped(o)),
    makeTempFile: (o) => r(node.makeTempFile(o)),
    makeTempFileScoped: (o) => r(node.makeTempFileScoped(o)),
    readDirectory: (p, o) => r(node.readDirectory(p, o)),
    readLink: (p) => r(node.readLink(p)),
    realPath: (p) => r(node.realPath(p)),
    remove: (p, o) => r(node.remove(p, o)),
    rename: (from, to) => r(node.rename(from, to)),
    stat: (p) => r(node.stat(p)),
    symlink: (target, p) => r(node.symlink(target, p)),
    truncate: (p, length) => r(node.truncate(p, length)),
    utimes: (p, atime, mtime) => r(node.utimes(p, atime, mtime)),
    watch: (p, o) => Stream.mapError(node.watch(p, o), refine),
    writeFile: (p, data, o) => r(node.writeFile(p, data, o))
  })
}
