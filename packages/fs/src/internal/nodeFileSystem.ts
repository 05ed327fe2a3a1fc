// The FileSystem where io_uring cannot be used (`UringFileSystem.layerNode`, the fallback of
// `UringFileSystem.layer`): `NodeFileSystem`'s implementation with Effio's reasons, File and
// checks, so a program sees the same behaviour on both backends:
// - every error re-mapped from its errno to Effio's reasons (`refine`);
// - `open` gives Effio's node `File` (`NodeFile`: the cursor semantics, `seek`'s result, the
//   argument checks and `readAt`/`writeAt` of the io_uring File);
// - `readFile` is the shared whole-file reader (size limit before any allocation, 1 MiB reads);
// - `stream` and `readFileString` are checked (`makeFileSystem`);
// - `copyFile` writes into a destination that is not a regular file instead of letting libuv
//   delete it (`copyFile` below), and `copy` with `overwrite` does not unlink one (`copyTree`).
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import { Errors, Fd } from "@effio/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import { checkPath, ctx, openFlags, refine, writeZero } from "./common.js"
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
  Effect.scoped(Effect.flatMap(openRef("readFile", p, C.O_RDONLY, 0), (ref) => readWhole(ref.fd, nodeRead(ref), "readFile", p)))

const fstat = (ref: Fd.FdRef, method: string, p: string): Effect.Effect<fs.Stats, PlatformError> =>
  ref.use(method, (fd) => nodeAsync<fs.Stats>({ method, syscall: "fstat", pathOrDescriptor: p }, (cb) => fs.fstat(fd, cb)))

/** Whether `p` (symlinks followed) exists and is neither a regular file nor a directory. */
const isSpecial = (p: string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    fs.stat(p, (err, st) => resume(Effect.succeed(err === null && !st.isFile() && !st.isDirectory())))
  })

/** All of `data` written at the fd's own position, in as many writes as it takes. */
const writeAllAt = (ref: Fd.FdRef, data: Uint8Array, p: string): Effect.Effect<void, PlatformError> => {
  const loop = (off: number): Effect.Effect<void, PlatformError> =>
    off >= data.length
      ? Effect.void
      : Effect.flatMap(
        ref.use("copyFile", (fd) =>
          nodeAsync<number>({ method: "copyFile", syscall: "write", pathOrDescriptor: p }, (cb) =>
            fs.write(fd, data, off, data.length - off, null, cb))),
        (n) => (n === 0 ? Effect.fail(writeZero("copyFile", p)) : loop(off + n))
      )
  return loop(0)
}

// Reads at `src`'s position, writes at `dst`'s, 64 KiB at a time, until end of file.
const readWriteLoop = (src: Fd.FdRef, dst: Fd.FdRef, from: string, to: string): Effect.Effect<void, PlatformError> =>
  Effect.suspend(() => {
    const buf = Buffer.allocUnsafeSlow(64 * 1024)
    const read = nodeRead(src)
    const loop: Effect.Effect<void, PlatformError> = Effect.flatMap(
      read(buf, -1, false, { module: "FileSystem", method: "copyFile", syscall: "read", pathOrDescriptor: from }),
      (n) => (n === 0 ? Effect.void : Effect.zipRight(writeAllAt(dst, buf.subarray(0, n), to), loop))
    )
    return loop
  })

// Pseudo file systems, whose files do not have the size they report (sysfs: 4096 bytes,
// procfs: 0). libuv's copy goes by that size: a /proc file comes out empty, and a sysfs file
// spins for ever (fs.copyFileSync of /sys/kernel/mm/transparent_hugepage/enabled ran at 100%
// CPU until killed, here). Their files are copied by reads and writes, as on io_uring.
const PSEUDO_FS = new Set([
  0x62656572, // sysfs
  0x9fa0, // procfs
  0x64626720, // debugfs
  0x74726163, // tracefs
  0x73636673, // securityfs
  0x62656570, // configfs
  0x63677270, // cgroup2
  0x27e0eb // cgroup
])

/** Whether `p` lives on one of the {@link PSEUDO_FS} (false when it cannot be told). */
const onPseudoFs = (p: string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    fs.statfs(p, (err, st) => resume(Effect.succeed(err === null && PSEUDO_FS.has(Number(st.type)))))
  })

// libuv's copyfile truncates the destination and, when that fails, unlinks it: ftruncate is
// EINVAL on a device or a FIFO, so `copyFile(x, "/dev/null")` run as root deletes /dev/null.
// Such destinations are opened without O_TRUNC and written into by reads and writes (as
// `cat x > /dev/null`), their mode left alone, as the io_uring backend does; a regular or
// missing destination keeps node's copy (copy_file_range), unless the source is a pseudo
// file. A destination that turns regular between the check and the open goes to node's copy too.
const copyFile = (node: FileSystem.FileSystem) => (from: string, to: string): Effect.Effect<void, PlatformError> => {
  const nodeCopy = Effect.mapError(node.copyFile(from, to), refine)
  // The source, open for the scope, and its stat; a directory is EISDIR before any
  // destination is opened (as libuv's copy).
  const source = Effect.gen(function*() {
    const src = yield* openRef("copyFile", from, C.O_RDONLY, 0)
    const st = yield* fstat(src, "copyFile", from)
    if (st.isDirectory()) return yield* Effect.fail(Errors.fromErrno(-C.EISDIR, ctx("copyFile", "read", from)))
    return { src, st }
  })
  const into = Effect.scoped(Effect.gen(function*() {
    const { src, st } = yield* source
    const dst = yield* openRef("copyFile", to, C.O_WRONLY, 0)
    const dt = yield* fstat(dst, "copyFile", to)
    if (dt.dev === st.dev && dt.ino === st.ino) return // onto itself: nothing to do, as libuv
    if (dt.isFile()) return yield* nodeCopy
    return yield* readWriteLoop(src, dst, from, to)
  }))
  // A pseudo file onto a regular or missing destination: truncated and given the source's
  // mode, as libuv's copy does, then what reads return.
  const fromPseudo = Effect.scoped(Effect.gen(function*() {
    const { src, st } = yield* source
    const dst = yield* openRef("copyFile", to, C.O_WRONLY | C.O_CREAT | C.O_TRUNC, st.mode & 0o7777)
    yield* dst.use("copyFile", (fd) =>
      nodeAsync<void>({ method: "copyFile", syscall: "fchmod", pathOrDescriptor: to }, (cb) => fs.fchmod(fd, st.mode & 0o7777, (err) => cb(err, undefined))))
    return yield* readWriteLoop(src, dst, from, to)
  }))
  return Effect.zipRight(
    checkPath("copyFile", to),
    Effect.flatMap(isSpecial(to), (special) =>
      special ? into : Effect.flatMap(onPseudoFs(from), (pseudo) => (pseudo ? fromPseudo : nodeCopy)))
  )
}

/** Whether `st` is a device, a FIFO or a socket: a node `copy` must leave in place. */
const special = (st: fs.Stats): boolean => st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO() || st.isSocket()

/**
 * `copy` (recursive, node's `fs.cp`; both backends use it): with `overwrite`, `fs.cp` unlinks
 * an existing destination before copying a file onto it, which would delete a device node or
 * a FIFO and put a regular file in its place. Its filter skips such destinations (a special
 * destination's subtree included), and each is then written into by `copyFile` (the
 * backend's, which leaves it in place; a directory source there fails with EISDIR). Without
 * `overwrite`, `fs.cp` leaves every existing destination alone, special or not.
 */
export const copyTree = (node: FileSystem.FileSystem, copyFile: (from: string, to: string) => Effect.Effect<void, PlatformError>) =>
(from: string, to: string, options?: FileSystem.CopyOptions): Effect.Effect<void, PlatformError> => {
  if (!options?.overwrite) return Effect.mapError(node.copy(from, to, options), refine)
  return Effect.suspend(() => {
    const skipped: Array<readonly [string, string]> = []
    const filter = (src: string, dest: string): Promise<boolean> =>
      fs.promises.lstat(dest).then(
        (st) => {
          if (!special(st)) return true
          skipped.push([src, dest])
          return false
        },
        () => true
      )
    const where: Errors.ErrorContext = { module: "FileSystem", method: "copy", syscall: "cp", pathOrDescriptor: from }
    // Not `nodeAsync`: as NodeFileSystem's copy, an interruption does not wait for the whole tree.
    const cp = Effect.async<void, PlatformError>((resume) => {
      try {
        fs.cp(from, to, { force: true, preserveTimestamps: options.preserveTimestamps ?? false, recursive: true, filter }, (err) =>
          resume(err ? Effect.fail(Errors.fromNodeError(err, where)) : Effect.void))
      } catch (err) {
        resume(Effect.fail(Errors.fromNodeError(err, where)))
      }
    })
    return Effect.zipRight(cp, Effect.forEach(skipped, ([src, dest]) => copyFile(src, dest), { discard: true }))
  })
}

/** The node FileSystem `node` (a `NodeFileSystem`) with Effio's reasons, File and checks. */
export const makeNode = (node: FileSystem.FileSystem): FileSystem.FileSystem => {
  const r = <A, R>(effect: Effect.Effect<A, PlatformError, R>) => Effect.mapError(effect, refine)
  return makeFileSystem({
    open,
    readFile,
    access: (p, o) => r(node.access(p, o)),
    chmod: (p, mode) => r(node.chmod(p, mode)),
    chown: (p, uid, gid) => r(node.chown(p, uid, gid)),
    copy: copyTree(node, copyFile(node)),
    copyFile: copyFile(node),
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
