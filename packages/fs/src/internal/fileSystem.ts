// The FileSystem over a ring, one function per method (`UringFileSystem.ts` is the facade):
// what io_uring has an opcode for goes through the ring; the rest is `NodeFileSystem`'s
// implementation with its errors re-mapped to Effio's finer reasons.
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Errors, Fd, type Uring } from "@effio/core"
import { copyFileRange, pipe2, type Statx } from "@effio/uring-native"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import * as nodeFs from "node:fs"
import * as path from "node:path"
import { checkPath, ctx, infoFromStatx, isReason, isType, openFlags, refine, truncateLength } from "./common.js"
import { C } from "./constants.js"
import { makeFileSystem } from "./derived.js"
import { UringFile } from "./file.js"
import { copyTree } from "./nodeFileSystem.js"
import { readWhole } from "./readWhole.js"
import { fdRef, ftruncate, ringRead, ringReadFd, statxFd, writeAll } from "./ringIo.js"

const CHUNK = 1024 * 1024

type Ring = Uring.UringService

const codeOf = (e: PlatformError): string => {
  const code = (e.cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : ""
}

const openFd = (uring: Ring, method: string, p: string, flags: number, mode: number) =>
  Effect.zipRight(checkPath(method, p), uring.openat2(C.AT_FDCWD, p, { flags, mode }, { method, syscall: "open", pathOrDescriptor: p }))

/** An fd for the duration of `use`, closed after it (also on failure or interruption). */
const withFd = <A, E, R>(uring: Ring, method: string, p: string, flags: number, mode: number, use: (ref: Fd.FdRef) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.map(openFd(uring, method, p, flags, mode), (fd) => fdRef(uring, fd)), use, (ref) => ref.close)

/**
 * Opens `p` for writing with `flags` (which have O_CREAT), telling whether this call created
 * the file: it tries O_CREAT | O_EXCL first (created), and on EEXIST opens the existing file
 * with `flags` (not created: an existing file costs one failed open more). A file that
 * appears or vanishes in between is taken as not created, so it is never removed.
 */
const openCreating = (uring: Ring, method: string, p: string, flags: number, mode: number) =>
  (flags & C.O_EXCL) !== 0
    ? Effect.map(openFd(uring, method, p, flags, mode), (fd) => ({ fd, created: true }))
    : Effect.catchIf(
      Effect.map(openFd(uring, method, p, flags | C.O_EXCL, mode), (fd) => ({ fd, created: true })),
      (e) => isReason(e, "AlreadyExists"),
      () => Effect.map(openFd(uring, method, p, flags, mode), (fd) => ({ fd, created: false }))
    )

/** Unlinks `p` if it is still the file open as `ref` (same device and inode); errors ignored. */
const removeCreated = (uring: Ring, ref: Fd.FdRef, method: string, p: string): Effect.Effect<void> =>
  Effect.ignore(
    Effect.flatMap(
      Effect.zip(
        statxFd(uring, ref, C.STATX_BASIC_STATS, ctx(method, "fstat", p)),
        uring.statx(C.AT_FDCWD, p, C.AT_SYMLINK_NOFOLLOW, C.STATX_BASIC_STATS, { method, syscall: "lstat", pathOrDescriptor: p })
      ),
      ([mine, there]) =>
        mine.devMajor === there.devMajor && mine.devMinor === there.devMinor && mine.ino === there.ino
          ? uring.unlinkat(C.AT_FDCWD, p, 0, { method, syscall: "unlink", pathOrDescriptor: p })
          : Effect.void
    )
  )

/**
 * The destination of a write (`writeFile`, `copyFile`), open for `use` and closed after it.
 * When interrupted, a file this call created is removed (`removable`: not in append mode); an
 * existing file is left as the interruption found it, partial (it was truncated in place by
 * the open or the copy, as node does), and so are FIFOs and devices, never replaced or
 * unlinked.
 */
const withDestination = <A, E, R>(
  uring: Ring,
  method: string,
  p: string,
  flags: number,
  mode: number,
  removable: boolean,
  use: (ref: Fd.FdRef) => Effect.Effect<A, E, R>
) =>
  !removable || (flags & C.O_CREAT) === 0
    ? withFd(uring, method, p, flags, mode, use)
    : Effect.acquireUseRelease(
      Effect.map(openCreating(uring, method, p, flags, mode), ({ created, fd }) => ({ created, ref: fdRef(uring, fd) })),
      ({ created, ref }) => (created ? Effect.onInterrupt(use(ref), () => removeCreated(uring, ref, method, p)) : use(ref)),
      ({ ref }) => ref.close
    )

const statxPath = (uring: Ring, method: string, p: string, flags: number) =>
  Effect.zipRight(
    checkPath(method, p),
    uring.statx(C.AT_FDCWD, p, flags, C.STATX_BASIC_STATS | C.STATX_BTIME, { method, syscall: "stat", pathOrDescriptor: p })
  )

const readFile = (uring: Ring) => (p: string): Effect.Effect<Uint8Array, PlatformError> =>
  // No FdRef: the fd is this call's alone, nothing else can use or close it, and every read
  // ends (they are uninterruptible ops) before the release closes it. The FdRef's pinning and
  // close cost 3.6 of 32 µs CPU per small file (bench fs-small-files: 35.0k -> 39.8k files/s).
  Effect.acquireUseRelease(
    openFd(uring, "readFile", p, C.O_RDONLY, 0),
    (fd) => readWhole(fd, ringReadFd(uring, fd), "readFile", p),
    (fd) => Fd.closeFd(uring, fd)
  )

// Written 1 MiB at a time (`writeAll`), so an interruption takes effect within a chunk: a
// file the call created is then removed, an existing one is left partial (truncated by the
// open, as node's writeFile leaves it), and append mode never removes anything.
const writeFile = (uring: Ring) => (p: string, data: Uint8Array, options?: FileSystem.WriteFileOptions) =>
  Effect.suspend(() => {
    const flag = options?.flag ?? "w"
    const append = flag.startsWith("a")
    return withDestination(uring, "writeFile", p, openFlags(flag), options?.mode ?? 0o666, !append, (ref) =>
      writeAll(uring, ref, data, append ? -1 : 0, ctx("writeFile", "write", p)))
  })

const open = (uring: Ring) => (p: string, options?: FileSystem.OpenFileOptions): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> =>
  Effect.suspend(() => {
    const flag = options?.flag ?? "r"
    return Effect.map(
      Effect.acquireRelease(Effect.map(openFd(uring, "open", p, openFlags(flag), options?.mode ?? 0o666), (fd) => fdRef(uring, fd)), (ref) => ref.close),
      (ref) => new UringFile(uring, ref, flag.startsWith("a"), p)
    )
  })

const remove = (uring: Ring, node: FileSystem.FileSystem) => (p: string, options?: FileSystem.RemoveOptions): Effect.Effect<void, PlatformError> => {
  // Recursive removal walks directories: no single opcode, node's rm does it.
  if (options?.recursive) return Effect.mapError(node.remove(p, options), refine)
  const attempt = Effect.catchIf(
    Effect.zipRight(checkPath("remove", p), uring.unlinkat(C.AT_FDCWD, p, 0, { method: "remove", syscall: "unlink", pathOrDescriptor: p })),
    (e) => isReason(e, "BadResource"),
    // unlink of a directory is EISDIR: remove it as an (empty) directory.
    () => uring.unlinkat(C.AT_FDCWD, p, C.AT_REMOVEDIR, { method: "remove", syscall: "rmdir", pathOrDescriptor: p })
  )
  return options?.force ? Effect.catchIf(attempt, (e) => isReason(e, "NotFound"), () => Effect.void) : attempt
}

const makeDirectory = (uring: Ring) => (p: string, options?: FileSystem.MakeDirectoryOptions): Effect.Effect<void, PlatformError> => {
  const mode = options?.mode ?? 0o777
  const mkdir = (dir: string) => uring.mkdirat(C.AT_FDCWD, dir, mode, { method: "makeDirectory", syscall: "mkdir", pathOrDescriptor: dir })
  if (!options?.recursive) return Effect.zipRight(checkPath("makeDirectory", p), mkdir(p))
  // mkdir -p: create each missing component, parents first; existing directories are fine.
  return Effect.zipRight(
    checkPath("makeDirectory", p),
    Effect.suspend(() => {
      const abs = path.resolve(p)
      const parts: Array<string> = []
      for (let d = abs; d !== path.dirname(d); d = path.dirname(d)) parts.unshift(d)
      // An existing non-directory is EEXIST as the last component and ENOTDIR above it
      // (node's `mkdir -p` reports both on the path asked for).
      return Effect.forEach(parts, (dir) =>
        Effect.catchIf(mkdir(dir), (e) => isReason(e, "AlreadyExists"), () =>
          Effect.flatMap(statxPath(uring, "makeDirectory", dir, 0), (st) =>
            isType(st.mode, C.S_IFDIR)
              ? Effect.void
              : Effect.fail(Errors.fromErrno(dir === abs ? -C.EEXIST : -C.ENOTDIR, ctx("makeDirectory", "mkdir", p))))), { discard: true })
    })
  )
}

// copyFile: splice src → pipe → dst, all in the kernel. As libuv's copyfile: the
// destination is opened without O_TRUNC and left alone when it is the source itself (a
// copy onto itself must not truncate it), else truncated (unless empty already and about to
// be written: see truncateDestination); it gets the source's mode
// (fchmod: neither the umask nor an existing destination's mode applies).
// A destination that is not a regular file (a device, a FIFO, a socket) is written into as
// it is, as `cat x > /dev/null` does: never truncated (ftruncate fails there, and libuv then
// unlinks the destination, deleting a device node), never chmod-ed (that would change the
// mode of /dev/null for everyone), never removed; its bytes go by reads and writes at the
// current position (not every device can be spliced into, nor written at an offset).
// Interruptible between chunks (1 MiB splices): an interrupted copy to a file it created
// removes that file; an existing regular file being overwritten was truncated in place and
// is left partial (an interrupted overwrite loses the old contents, as with node's
// writeFile); FIFOs and devices are never replaced or unlinked.
const copyFile = (uring: Ring) => (from: string, to: string): Effect.Effect<void, PlatformError> =>
  withFd(uring, "copyFile", from, C.O_RDONLY, 0, (src) =>
    Effect.flatMap(statxFd(uring, src, C.STATX_BASIC_STATS, ctx("copyFile", "fstat", from)), (st) => {
      if (isType(st.mode, C.S_IFDIR)) return Effect.fail(Errors.fromErrno(-C.EISDIR, ctx("copyFile", "read", from)))
      const mode = st.mode & 0o7777
      const copy = (dst: Fd.FdRef, dt: Statx) =>
        dt.devMajor === st.devMajor && dt.devMinor === st.devMinor && dt.ino === st.ino
          ? Effect.void
          : !isType(dt.mode, C.S_IFREG)
          ? readWriteCopy(uring, src, dst, from, to)
          : truncateDestination(uring, dst, dt, st.size, to).pipe(
            Effect.zipRight(
              dst.use("copyFile", (fd) =>
                Fd.nodeAsync<void>(ctx("copyFile", "fchmod", to), (cb) => nodeFs.fchmod(fd, mode, (err) => cb(err, undefined))))
            ),
            Effect.zipRight(st.size > 0 ? rangeCopy(uring, src, dst, from, to) : pipeCopy(uring, src, dst, from, to))
          )
      return withDestination(uring, "copyFile", to, C.O_WRONLY | C.O_CREAT, mode, true, (dst) =>
        Effect.flatMap(statxFd(uring, dst, C.STATX_BASIC_STATS, ctx("copyFile", "fstat", to)), (dt) => copy(dst, dt)))
    }))

// The destination is truncated before the copy, except when it is empty already and the copy
// will write to it (a source with a size): on ext4, truncating a file to 0 marks it for
// auto_da_alloc, and its close then starts the writeback of everything written (so that a
// crash after "truncate, write, close" does not leave an empty file). For a new file, which
// has no old contents to lose, that made the close wait: 1 GiB copies moved 1.33 GB/s with the
// ftruncate and 2.41 without it (copy_file_range in C, 1 MiB requests). libuv's copyfile
// always truncates, so node's fs.copyFile pays it. An empty source is still truncated onto an
// empty destination: nothing is written then, and the ftruncate is what updates the
// destination's mtime and ctime, as node's copy does.
const truncateDestination = (uring: Ring, dst: Fd.FdRef, dt: Statx, sourceSize: bigint, to: string) =>
  dt.size === 0n && sourceSize > 0n ? Effect.void : ftruncate(uring, dst, 0, ctx("copyFile", "ftruncate", to))

// copy_file_range(2) on the threadpool, a chunk (1 MiB) per request, each at its offset: the
// kernel copies page cache to page cache (or shares the blocks, where the file system can).
// Measured on this machine: bench/fs-big-file (1 GiB to a new file) 1.80x node's fs.copyFile
// (the same kernel copy: libuv's runs on the threadpool too, in one request; the difference
// is the ftruncate above), 0.78-0.94x before the new file was no longer truncated; the splice
// pipeline through a pipe on the ring gave 0.72x (its two splices per chunk each wait for a
// completion). Callbacks chaining the requests with no fiber step between them measured the
// same as this loop (1.8-2.3 GB/s against 1.9-2.0), so each chunk stays its own Effect. One
// request at a time, so an interruption waits for at most one chunk. A source the kernel
// cannot copy from this way (a pseudo-file, another file system type: EXDEV, EINVAL, ENOSYS,
// EOPNOTSUPP) fails on the first request, before anything was written, and goes through the
// pipe instead. Only sources with a size get here: a pseudo-file of size 0 (procfs) could
// copy as empty.
const rangeCopy = (uring: Ring, src: Fd.FdRef, dst: Fd.FdRef, from: string, to: string): Effect.Effect<void, PlatformError> => {
  const c = ctx("copyFile", "copy_file_range", from)
  const cTo = ctx("copyFile", "copy_file_range", to)
  const chunk = (at: number) =>
    src.use("copyFile", (a) =>
      dst.use("copyFile", (b) =>
        Effect.flatMap(
          Fd.nodeAsync<number>(c, (cb) => copyFileRange(a, at, b, at, CHUNK, (res) => cb(null, res))),
          (res) => (res < 0 ? Effect.fail(Errors.fromErrno(res, RANGE_WRITE_ERRORS.has(res) ? cTo : c)) : Effect.succeed(res))
        )))
  const loop = (at: number): Effect.Effect<void, PlatformError> => Effect.flatMap(chunk(at), (n) => (n === 0 ? Effect.void : loop(at + n)))
  return Effect.matchEffect(chunk(0), {
    onFailure: (e) => (RANGE_UNSUPPORTED.has(codeOf(e)) ? pipeCopy(uring, src, dst, from, to) : Effect.fail(e)),
    onSuccess: (n) => (n === 0 ? Effect.void : loop(n))
  })
}

const RANGE_UNSUPPORTED = new Set(["EXDEV", "EINVAL", "ENOSYS", "EOPNOTSUPP", "ENOTSUP"])
// Failures that are the destination's: its error names it.
const RANGE_WRITE_ERRORS = new Set([-C.ENOSPC, -C.EFBIG, -C.EDQUOT])

// The splice pipeline: src → a 1 MiB pipe → dst (16× fewer splice round trips than the
// default 64 KiB pipe).
const pipeCopy = (uring: Ring, src: Fd.FdRef, dst: Fd.FdRef, from: string, to: string): Effect.Effect<void, PlatformError> =>
  Effect.acquireUseRelease(
    Effect.try({
      try: () => pipe2(CHUNK).map((fd) => fdRef(uring, fd)) as [Fd.FdRef, Fd.FdRef],
      catch: (e) => Errors.fromNodeError(e, ctx("copyFile", "pipe2", from))
    }),
    ([pr, pw]) => spliceCopy(uring, src, dst, pr, pw, from, to),
    ([pr, pw]) => Effect.zipRight(pr.close, pw.close)
  )

// Errors name the file of the splice: the source (into the pipe) or the destination (out of it).
const spliceCopy = (
  uring: Ring,
  src: Fd.FdRef,
  dst: Fd.FdRef,
  pr: Fd.FdRef,
  pw: Fd.FdRef,
  from: string,
  to: string
): Effect.Effect<void, PlatformError> => {
  const splice = (a: Fd.FdRef, offA: number, b: Fd.FdRef, offB: number, len: number) =>
    uring.op(
      Fd.pinned(a, (ring, fdA, cb) => Fd.pinned(b, (r, fdB, done) => r.splice(fdA, offA, fdB, offB, len, 0, done))(ring, cb)),
      ctx("copyFile", "splice", a === src ? from : to)
    )
  // file → pipe (n bytes), then drain the pipe into the file (maybe several splices).
  const drain = (left: number, at: number): Effect.Effect<void, PlatformError> =>
    left === 0 ? Effect.void : Effect.flatMap(splice(pr, -1, dst, at, left), (m) => drain(left - m, at + m))
  const step = (at: number, n: number): Effect.Effect<void, PlatformError> => n === 0 ? Effect.void : Effect.zipRight(drain(n, at), loop(at + n))
  const loop = (at: number): Effect.Effect<void, PlatformError> => Effect.flatMap(splice(src, at, pw, -1, CHUNK), (n) => step(at, n))
  // Sources that cannot be spliced from an offset (procfs and sysfs files, character
  // devices: EINVAL; FIFOs: ESPIPE) fail on the first splice, before anything was written:
  // they are copied with plain reads and writes instead.
  return Effect.matchEffect(splice(src, 0, pw, -1, CHUNK), {
    onFailure: (e) => (["EINVAL", "ESPIPE"].includes(codeOf(e)) ? readWriteCopy(uring, src, dst, from, to) : Effect.fail(e)),
    onSuccess: (n) => step(0, n)
  })
}

// read → write at the current positions until EOF, 64 KiB at a time.
const readWriteCopy = (uring: Ring, src: Fd.FdRef, dst: Fd.FdRef, from: string, to: string): Effect.Effect<void, PlatformError> =>
  Effect.suspend(() => {
    const buf = Buffer.allocUnsafeSlow(64 * 1024)
    const loop: Effect.Effect<void, PlatformError> = Effect.flatMap(
      ringRead(uring, src)(buf, -1, false, ctx("copyFile", "read", from)),
      (n) => (n === 0 ? Effect.void : Effect.zipRight(writeAll(uring, dst, buf.subarray(0, n), -1, ctx("copyFile", "write", to)), loop))
    )
    return loop
  })

const truncate = (uring: Ring, node: FileSystem.FileSystem) => (p: string, length?: FileSystem.SizeInput): Effect.Effect<void, PlatformError> =>
  uring.supports("ftruncate")
    ? withFd(uring, "truncate", p, C.O_WRONLY, 0, (ref) => ftruncate(uring, ref, truncateLength(length), ctx("truncate", "ftruncate", p)))
    : Effect.mapError(node.truncate(p, length), refine)

// node's watch (inotify; no opcode). Its fallback backend names entries relative to the
// watched directory but tells a creation from a removal by stat-ing that relative name
// against the cwd, so a file created in the watched directory comes out as `Remove`
// (Effect-TS/effect#7709). Relative Create/Remove events are re-classified against the
// watched directory (the parent of a watched file); the emitted path is left as it is.
const watch = (uring: Ring, node: FileSystem.FileSystem) => (p: string, options?: FileSystem.WatchOptions): Stream.Stream<FileSystem.WatchEvent, PlatformError> =>
  Stream.unwrap(Effect.map(Effect.option(statxPath(uring, "watch", p, 0)), (st) => {
    const base = st._tag === "Some" && isType(st.value.mode, C.S_IFDIR) ? p : path.dirname(p)
    return node.watch(p, options).pipe(
      Stream.mapEffect((event): Effect.Effect<FileSystem.WatchEvent> =>
        (event._tag === "Create" || event._tag === "Remove") && !path.isAbsolute(event.path)
          ? Effect.match(statxPath(uring, "watch", path.resolve(base, event.path), 0), {
            onSuccess: () => FileSystem.WatchEventCreate({ path: event.path }),
            onFailure: (e) => isReason(e, "NotFound") ? FileSystem.WatchEventRemove({ path: event.path }) : event
          })
          : Effect.succeed(event)
      ),
      Stream.mapError(refine)
    )
  }))

// mkdtemp through node, then the file itself created through the ring.
const makeTempFile = (uring: Ring, node: FileSystem.FileSystem, method: string) => (options?: FileSystem.MakeTempFileOptions) =>
  Effect.gen(function*() {
    const dir = yield* Effect.mapError(node.makeTempDirectory(options), refine)
    const file = path.join(dir, crypto.randomBytes(6).toString("hex") + (options?.suffix ?? ""))
    const fd = yield* openFd(uring, method, file, openFlags("w+"), 0o666)
    yield* Fd.closeFd(uring, fd)
    return file
  })

const makeTempFileScoped = (uring: Ring, node: FileSystem.FileSystem) => (options?: FileSystem.MakeTempFileOptions) =>
  Effect.acquireRelease(makeTempFile(uring, node, "makeTempFileScoped")(options), (file) =>
    Effect.orDie(Effect.mapError(node.remove(path.dirname(file), { recursive: true }), refine)))

const link = (uring: Ring) => (existing: string, newPath: string) =>
  Effect.zipRight(
    checkPath("link", existing),
    uring.linkat(C.AT_FDCWD, existing, C.AT_FDCWD, newPath, 0, { method: "link", syscall: "link", pathOrDescriptor: existing })
  )

const rename = (uring: Ring) => (oldPath: string, newPath: string) =>
  Effect.zipRight(
    checkPath("rename", oldPath),
    uring.renameat(C.AT_FDCWD, oldPath, C.AT_FDCWD, newPath, 0, { method: "rename", syscall: "rename", pathOrDescriptor: oldPath })
  )

const symlink = (uring: Ring) => (target: string, p: string) =>
  Effect.zipRight(checkPath("symlink", p), uring.symlinkat(target, C.AT_FDCWD, p, { method: "symlink", syscall: "symlink", pathOrDescriptor: p }))

/** Builds the FileSystem on a ring; `node` serves the methods io_uring has no opcode for. */
export const make = (uring: Ring, node: FileSystem.FileSystem): FileSystem.FileSystem =>
  makeFileSystem({
    // -- through the ring --------------------------------------------------------------
    copyFile: copyFile(uring),
    link: link(uring),
    makeDirectory: makeDirectory(uring),
    makeTempFile: makeTempFile(uring, node, "makeTempFile"),
    makeTempFileScoped: makeTempFileScoped(uring, node),
    open: open(uring),
    readFile: (p) => Effect.zipRight(checkPath("readFile", p), readFile(uring)(p)),
    remove: remove(uring, node),
    rename: rename(uring),
    stat: (p) => Effect.map(statxPath(uring, "stat", p, 0), infoFromStatx),
    symlink: symlink(uring),
    truncate: truncate(uring, node),
    writeFile: (p, data, options) => Effect.zipRight(checkPath("writeFile", p), writeFile(uring)(p, data, options)),
    // -- no io_uring opcode: node's implementation ---------------------------------------
    access: (p, options) => Effect.mapError(node.access(p, options), refine), // faccessat: no opcode
    chmod: (p, mode) => Effect.mapError(node.chmod(p, mode), refine), // fchmodat: no opcode
    chown: (p, uid, gid) => Effect.mapError(node.chown(p, uid, gid), refine), // fchownat: no opcode
    copy: copyTree(node, copyFile(uring)), // recursive walk (fs.cp), special files left in place
    makeTempDirectory: (options) => Effect.mapError(node.makeTempDirectory(options), refine), // mkdtemp
    makeTempDirectoryScoped: (options) => Effect.mapError(node.makeTempDirectoryScoped(options), refine),
    readDirectory: (p, options) => Effect.mapError(node.readDirectory(p, options), refine), // getdents: no opcode
    readLink: (p) => Effect.mapError(node.readLink(p), refine), // readlinkat: no opcode
    realPath: (p) => Effect.mapError(node.realPath(p), refine), // realpath: userspace walk
    utimes: (p, atime, mtime) => Effect.mapError(node.utimes(p, atime, mtime), refine), // utimensat: no opcode
    watch: watch(uring, node) // inotify: no opcode
  })
