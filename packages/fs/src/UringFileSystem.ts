/**
 * The `@effect/platform` `FileSystem` service over io_uring: swap `NodeFileSystem.layer` for
 * `UringFileSystem.layer` and the same program does its file I/O through the ring.
 *
 * Through the ring: open (`openat2`), close, read/write at offsets, `readFile`, `writeFile`,
 * `stat` (`statx`), `makeDirectory`, `remove` (unlink/rmdir), `rename`, `symlink`, `link`,
 * `sync`, `truncate` (`IORING_OP_FTRUNCATE` where the kernel has it) and `copyFile` (splice).
 * io_uring has no opcode for the rest (readdir, chmod, chown, utimes, realpath, readlink,
 * access, watch, recursive copy/remove, mkdtemp); those use `NodeFileSystem`'s
 * implementation, with errors re-mapped to the finer reasons (EPERM → PermissionDenied).
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
import { BadArgument, type PlatformError, SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Backend, Errors, Fd, Uring } from "@effio/core"
import { decodeStatx, pipe2, type Statx } from "@effio/uring-native"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import * as nodeFs from "node:fs"
import * as path from "node:path"
import { C, infoFromStatx, openFlags, truncateLength } from "./internal/common.js"
import { UringFile } from "./internal/file.js"
import { nodeAsync } from "./internal/nodeFile.js"

const EISDIR = -21
const EEXIST = -17
const ENOTDIR = -20
const CHUNK = 1024 * 1024

type Ctx = Errors.ErrorContext

const ctx = (method: string, syscall: string, pathOrDescriptor: string | number): Ctx => ({
  module: "FileSystem",
  method,
  syscall,
  pathOrDescriptor
})

/** Re-maps a `NodeFileSystem` error to Effio's finer reasons (EPERM → PermissionDenied, ...). */
const refine = (e: PlatformError): PlatformError => {
  if (e._tag !== "SystemError") return e
  const code = (e.cause as { code?: unknown } | undefined)?.code
  if (typeof code !== "string") return e
  const reason = Errors.reasonOf(code)
  return reason === e.reason || reason === "Unknown" ? e : new SystemError({ ...e, reason })
}

const codeOf = (e: PlatformError): string => {
  const code = (e.cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : ""
}

const badArgument = (method: string, description: string) =>
  new BadArgument({ module: "FileSystem", method, description })

const checkPath = (method: string, p: string): Effect.Effect<void, PlatformError> =>
  typeof p !== "string"
    ? Effect.fail(badArgument(method, "path must be a string"))
    : p.includes("\0")
    ? Effect.fail(badArgument(method, "path must not contain NUL bytes"))
    : Effect.void

/** Builds the FileSystem on a ring; `node` serves the methods io_uring has no opcode for. */
export const make = (uring: Uring.UringService, node: FileSystem.FileSystem): FileSystem.FileSystem => {
  // A File can outlive the ring (its scope closes after the layer's): the ring is drained by
  // then, so the fd is closed directly instead of leaking it (and dying in the finalizer).
  // A File can outlive the ring (its scope closes after the layer's): then the fd is closed
  // directly instead of leaking it.
  const closeFd = (fd: number) => Fd.closeFd(uring, fd)
  const fdRef = (fd: number) => new Fd.FdRef(fd, closeFd)

  const openFd = (method: string, p: string, flags: number, mode: number) =>
    Effect.zipRight(
      checkPath(method, p),
      uring.openat2(C.AT_FDCWD, p, { flags, mode }, { method, syscall: "open", pathOrDescriptor: p })
    )

  /** An fd for the duration of `use`, closed after it (also on failure or interruption). */
  const withFd = <A, E, R>(
    method: string,
    p: string,
    flags: number,
    mode: number,
    use: (ref: Fd.FdRef) => Effect.Effect<A, E, R>
  ) => Effect.acquireUseRelease(Effect.map(openFd(method, p, flags, mode), fdRef), use, (ref) => ref.close)

  const statxPath = (method: string, p: string, flags: number) =>
    Effect.zipRight(
      checkPath(method, p),
      uring.statx(C.AT_FDCWD, p, flags, C.STATX_BASIC_STATS | C.STATX_BTIME, { method, syscall: "stat", pathOrDescriptor: p })
    )

  // pread until `buf` is full or EOF, in reads of at most 1 MiB (one huge read makes the
  // kernel fault in and zero the whole fresh buffer in one go, measured 2-5x slower for
  // 1 GiB files); returns the byte count.
  const readFully = (ref: Fd.FdRef, buf: Uint8Array, method: string, where: string | number = ref.fd): Effect.Effect<number, PlatformError> => {
    const loop = (off: number): Effect.Effect<number, PlatformError> =>
      off >= buf.length
        ? Effect.succeed(off)
        : Effect.flatMap(
          // Only used on regular files (readFile checked): a finite op.
          uring.opFinite(
            Fd.pinned(ref, (r, fd, cb) => r.read(fd, buf, off, Math.min(CHUNK, buf.length - off), off, cb)),
            ctx(method, "read", where)
          ),
          (n) => (n === 0 ? Effect.succeed(off) : loop(off + n))
        )
    return loop(0)
  }

  // Files that report size 0 (/proc, pipes, devices): read chunks until EOF.
  const readUnsized = (ref: Fd.FdRef, method: string, where: string | number = ref.fd): Effect.Effect<Uint8Array, PlatformError> => {
    const chunks: Array<Uint8Array> = []
    let total = 0
    const loop: Effect.Effect<Uint8Array, PlatformError> = Effect.suspend(() => {
      const buf = new Uint8Array(64 * 1024)
      return Effect.flatMap(
        uring.op(Fd.pinned(ref, (r, fd, cb) => r.read(fd, buf, 0, buf.length, -1, cb)), ctx(method, "read", where)),
        (n) => {
          if (n === 0) {
            const out = new Uint8Array(total)
            let at = 0
            for (const c of chunks) {
              out.set(c, at)
              at += c.length
            }
            return Effect.succeed(out)
          }
          chunks.push(buf.subarray(0, n))
          total += n
          return loop
        }
      )
    })
    return loop
  }

  // readFile's size probe is a direct fstat(2) on the open fd instead of an IORING_OP_STATX:
  // the kernel always hands statx to an io-wq worker (a thread hop costing more than the
  // whole syscall), while fstat on an open fd answers from the inode without blocking.
  const fstatSize = (ref: Fd.FdRef, p: string): Effect.Effect<{ readonly mode: number; readonly size: number }, PlatformError> =>
    ref.use("readFile", (fd) =>
      Effect.try({
        try: () => {
          const st = nodeFs.fstatSync(fd)
          return { mode: st.mode, size: st.size }
        },
        catch: (e) => Errors.fromNodeError(e, ctx("readFile", "fstat", p))
      }))

  const readFile = (p: string): Effect.Effect<Uint8Array, PlatformError> =>
    withFd("readFile", p, C.O_RDONLY, 0, (ref) =>
      Effect.flatMap(fstatSize(ref, p), (st) => {
        if (fileTypeBits(st.mode) === DIR) {
          return Effect.fail(Errors.fromErrno(EISDIR, ctx("readFile", "read", p)))
        }
        const size = st.size
        if (size === 0 || fileTypeBits(st.mode) !== REG) return readUnsized(ref, "readFile", p)
        const buf = Buffer.allocUnsafeSlow(size)
        return Effect.map(readFully(ref, buf, "readFile", p), (n) => (n === size ? buf : buf.subarray(0, n)))
      }))

  const writeAllAt = (ref: Fd.FdRef, data: Uint8Array, append: boolean, method: string, where: string | number = ref.fd) => {
    const loop = (off: number): Effect.Effect<void, PlatformError> =>
      off >= data.length
        ? Effect.void
        : Effect.flatMap(
          uring.op(
            Fd.pinned(ref, (r, fd, cb) => r.write(fd, data, off, data.length - off, append ? -1 : off, cb)),
            ctx(method, "write", where)
          ),
          (n) =>
            n === 0
              ? Effect.fail(
                new SystemError({
                  module: "FileSystem",
                  method,
                  reason: "WriteZero",
                  pathOrDescriptor: where,
                  description: "write returned 0 bytes written"
                })
              )
              : loop(off + n)
        )
    return loop(0)
  }

  const writeFile = (p: string, data: Uint8Array, options?: FileSystem.WriteFileOptions) =>
    Effect.suspend(() => {
      const flag = options?.flag ?? "w"
      return withFd("writeFile", p, openFlags(flag), options?.mode ?? 0o666, (ref) =>
        writeAllAt(ref, data, flag.startsWith("a"), "writeFile", p))
    })

  const open = (p: string, options?: FileSystem.OpenFileOptions): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> =>
    Effect.suspend(() => {
      const flag = options?.flag ?? "r"
      return Effect.map(
        Effect.acquireRelease(Effect.map(openFd("open", p, openFlags(flag), options?.mode ?? 0o666), fdRef), (ref) => ref.close),
        (ref) => new UringFile(uring, ref, flag.startsWith("a"))
      )
    })

  const unlink = (method: string, p: string) =>
    Effect.zipRight(checkPath(method, p), uring.unlinkat(C.AT_FDCWD, p, 0, { method, syscall: "unlink", pathOrDescriptor: p }))

  const remove = (p: string, options?: FileSystem.RemoveOptions): Effect.Effect<void, PlatformError> => {
    // Recursive removal walks directories: no single opcode, node's rm does it.
    if (options?.recursive) return Effect.mapError(node.remove(p, options), refine)
    const force = options?.force ?? false
    const attempt = Effect.catchIf(
      unlink("remove", p),
      (e) => e._tag === "SystemError" && e.reason === "BadResource",
      // unlink of a directory is EISDIR: remove it as an (empty) directory.
      () => uring.unlinkat(C.AT_FDCWD, p, C.AT_REMOVEDIR, { method: "remove", syscall: "rmdir", pathOrDescriptor: p })
    )
    return force ? Effect.catchIf(attempt, (e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.void) : attempt
  }

  const makeDirectory = (p: string, options?: FileSystem.MakeDirectoryOptions): Effect.Effect<void, PlatformError> => {
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
          Effect.catchIf(mkdir(dir), (e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () =>
            Effect.flatMap(statxPath("makeDirectory", dir, 0), (st) =>
              fileTypeBits(st.mode) === DIR
                ? Effect.void
                : Effect.fail(Errors.fromErrno(dir === abs ? EEXIST : ENOTDIR, ctx("makeDirectory", "mkdir", p))))), { discard: true })
      })
    )
  }

  const fstatRef = (ref: Fd.FdRef, method: string, where: string | number) =>
    Effect.suspend(() => {
      const out = new Uint8Array(256)
      return Effect.as(
        uring.op(Fd.pinned(ref, (r, fd, cb) => r.statx(fd, "", C.AT_EMPTY_PATH, C.STATX_BASIC_STATS, out, cb)), ctx(method, "fstat", where)),
        out
      )
    }).pipe(Effect.map(decodeStatx))

  const ftruncateRef = (ref: Fd.FdRef, length: number, method: string, where: string | number) =>
    uring.supports("ftruncate")
      ? Effect.asVoid(uring.op(Fd.pinned(ref, (r, fd, cb) => r.ftruncate(fd, length, cb)), ctx(method, "ftruncate", where)))
      : ref.use(method, (fd) => nodeAsync<void>({ method, syscall: "ftruncate", pathOrDescriptor: where }, (cb) => nodeFs.ftruncate(fd, length, (err) => cb(err, undefined))))

  // copyFile: splice src → pipe → dst, all in the kernel. As libuv's copyfile: the
  // destination is opened without O_TRUNC and left alone when it is the source itself (a
  // copy onto itself must not truncate it), else truncated; it gets the source's mode
  // (fchmod: neither the umask nor an existing destination's mode applies).
  // Between regular files the copy is not interruptible once the destination is open: an
  // interruption waits for it rather than leave a truncated or half-copied destination
  // (node's copyFile is one threadpool call that runs to completion even when interrupted).
  // Other files (pipes, devices) can block for ever, so their copies stay interruptible.
  const copyFile = (from: string, to: string): Effect.Effect<void, PlatformError> =>
    withFd("copyFile", from, C.O_RDONLY, 0, (src) =>
      Effect.flatMap(fstatRef(src, "copyFile", from), (st) => {
        if (fileTypeBits(st.mode) === DIR) return Effect.fail(Errors.fromErrno(EISDIR, ctx("copyFile", "read", from)))
        const mode = st.mode & 0o7777
        const copy = (dst: Fd.FdRef, dt: Statx) =>
          dt.devMajor === st.devMajor && dt.devMinor === st.devMinor && dt.ino === st.ino
            ? Effect.void
            : ftruncateRef(dst, 0, "copyFile", to).pipe(
              Effect.zipRight(
                dst.use("copyFile", (fd) => nodeAsync<void>({ method: "copyFile", syscall: "fchmod", pathOrDescriptor: to }, (cb) => nodeFs.fchmod(fd, mode, (err) => cb(err, undefined))))
              ),
              Effect.zipRight(
                Effect.acquireUseRelease(
                  Effect.try({
                    // A 1 MiB pipe: 16× fewer splice round trips than the default 64 KiB.
                    try: () => pipe2(CHUNK).map(fdRef) as [Fd.FdRef, Fd.FdRef],
                    catch: (e) => Errors.fromNodeError(e, ctx("copyFile", "pipe2", from))
                  }),
                  ([pr, pw]) => spliceCopy(src, dst, pr, pw, from),
                  ([pr, pw]) => Effect.zipRight(pr.close, pw.close)
                )
              )
            )
        const regular = fileTypeBits(st.mode) === REG
        return Effect.uninterruptibleMask((restore) =>
          withFd("copyFile", to, C.O_WRONLY | C.O_CREAT, mode, (dst) =>
            Effect.flatMap(fstatRef(dst, "copyFile", to), (dt) =>
              regular && fileTypeBits(dt.mode) === REG ? copy(dst, dt) : restore(copy(dst, dt))))
        )
      }))

  const spliceCopy = (src: Fd.FdRef, dst: Fd.FdRef, pr: Fd.FdRef, pw: Fd.FdRef, from: string): Effect.Effect<void, PlatformError> => {
    const splice = (a: Fd.FdRef, offA: number, b: Fd.FdRef, offB: number, len: number) =>
      uring.op(
        Fd.pinned(a, (ring, fdA, cb) => Fd.pinned(b, (r, fdB, done) => r.splice(fdA, offA, fdB, offB, len, 0, done))(ring, cb)),
        ctx("copyFile", "splice", from)
      )
    // file → pipe (n bytes), then drain the pipe into the file (maybe several splices).
    const drain = (left: number, at: number): Effect.Effect<void, PlatformError> =>
      left === 0 ? Effect.void : Effect.flatMap(splice(pr, -1, dst, at, left), (m) => drain(left - m, at + m))
    const step = (at: number, n: number): Effect.Effect<void, PlatformError> =>
      n === 0 ? Effect.void : Effect.zipRight(drain(n, at), loop(at + n))
    const loop = (at: number): Effect.Effect<void, PlatformError> => Effect.flatMap(splice(src, at, pw, -1, CHUNK), (n) => step(at, n))
    // Sources that cannot be spliced from an offset (procfs and sysfs files, character
    // devices: EINVAL; FIFOs: ESPIPE) fail on the first splice, before anything was written:
    // they are copied with plain reads and writes instead.
    return Effect.matchEffect(splice(src, 0, pw, -1, CHUNK), {
      onFailure: (e) => (["EINVAL", "ESPIPE"].includes(codeOf(e)) ? readWriteCopy(src, dst, from) : Effect.fail(e)),
      onSuccess: (n) => step(0, n)
    })
  }

  // read → write at the current positions until EOF, 64 KiB at a time.
  const readWriteCopy = (src: Fd.FdRef, dst: Fd.FdRef, from: string): Effect.Effect<void, PlatformError> =>
    Effect.suspend(() => {
      const buf = Buffer.allocUnsafeSlow(64 * 1024)
      const write = (off: number, end: number): Effect.Effect<void, PlatformError> =>
        off >= end
          ? Effect.void
          : Effect.flatMap(
            uring.op(Fd.pinned(dst, (r, fd, cb) => r.write(fd, buf, off, end - off, -1, cb)), ctx("copyFile", "write", from)),
            (n) =>
              n === 0
                ? Effect.fail(
                  new SystemError({
                    module: "FileSystem",
                    method: "copyFile",
                    reason: "WriteZero",
                    pathOrDescriptor: from,
                    description: "write returned 0 bytes written"
                  })
                )
                : write(off + n, end)
          )
      const loop: Effect.Effect<void, PlatformError> = Effect.flatMap(
        uring.op(Fd.pinned(src, (r, fd, cb) => r.read(fd, buf, 0, buf.length, -1, cb)), ctx("copyFile", "read", from)),
        (n) => (n === 0 ? Effect.void : Effect.zipRight(write(0, n), loop))
      )
      return loop
    })

  const truncate = (p: string, length?: FileSystem.SizeInput): Effect.Effect<void, PlatformError> =>
    uring.supports("ftruncate")
      ? withFd("truncate", p, C.O_WRONLY, 0, (ref) =>
        Effect.asVoid(
          uring.op(Fd.pinned(ref, (r, fd, cb) => r.ftruncate(fd, truncateLength(length), cb)), ctx("truncate", "ftruncate", p))
        ))
      : Effect.mapError(node.truncate(p, length), refine)

  // node's watch (inotify; no opcode). Its fallback backend names entries relative to the
  // watched directory but tells a creation from a removal by stat-ing that relative name
  // against the cwd, so a file created in the watched directory comes out as `Remove`
  // (Effect-TS/effect#7709). Relative Create/Remove events are re-classified against the
  // watched directory (the parent of a watched file); the emitted path is left as it is.
  const watch = (p: string, options?: FileSystem.WatchOptions): Stream.Stream<FileSystem.WatchEvent, PlatformError> =>
    Stream.unwrap(Effect.map(Effect.option(statxPath("watch", p, 0)), (st) => {
      const base = st._tag === "Some" && fileTypeBits(st.value.mode) === DIR ? p : path.dirname(p)
      return node.watch(p, options).pipe(
        Stream.mapEffect((event): Effect.Effect<FileSystem.WatchEvent> =>
          (event._tag === "Create" || event._tag === "Remove") && !path.isAbsolute(event.path)
            ? Effect.match(statxPath("watch", path.resolve(base, event.path), 0), {
              onSuccess: () => FileSystem.WatchEventCreate({ path: event.path }),
              onFailure: (e) =>
                e._tag === "SystemError" && e.reason === "NotFound" ? FileSystem.WatchEventRemove({ path: event.path }) : event
            })
            : Effect.succeed(event)
        ),
        Stream.mapError(refine)
      )
    }))

  const makeTempFileFactory = (method: string) => (options?: FileSystem.MakeTempFileOptions) =>
    Effect.gen(function*() {
      const dir = yield* Effect.mapError(node.makeTempDirectory(options), refine)
      const file = path.join(dir, crypto.randomBytes(6).toString("hex") + (options?.suffix ?? ""))
      const fd = yield* openFd(method, file, openFlags("w+"), 0o666)
      yield* closeFd(fd)
      return file
    })
  const makeTempFile = makeTempFileFactory("makeTempFile")

  return FileSystem.make({
    // -- through the ring --------------------------------------------------------------
    copyFile,
    link: (existing, newPath) =>
      Effect.zipRight(
        checkPath("link", existing),
        uring.linkat(C.AT_FDCWD, existing, C.AT_FDCWD, newPath, 0, { method: "link", syscall: "link", pathOrDescriptor: existing })
      ),
    makeDirectory,
    makeTempFile,
    makeTempFileScoped: (options) =>
      Effect.acquireRelease(makeTempFileFactory("makeTempFileScoped")(options), (file) =>
        Effect.orDie(Effect.mapError(node.remove(path.dirname(file), { recursive: true }), refine))),
    open,
    readFile: (p) => Effect.zipRight(checkPath("readFile", p), readFile(p)),
    remove,
    rename: (oldPath, newPath) =>
      Effect.zipRight(
        checkPath("rename", oldPath),
        uring.renameat(C.AT_FDCWD, oldPath, C.AT_FDCWD, newPath, 0, { method: "rename", syscall: "rename", pathOrDescriptor: oldPath })
      ),
    stat: (p) => Effect.map(statxPath("stat", p, 0), infoFromStatx),
    symlink: (target, p) =>
      Effect.zipRight(checkPath("symlink", p), uring.symlinkat(target, C.AT_FDCWD, p, { method: "symlink", syscall: "symlink", pathOrDescriptor: p })),
    truncate,
    writeFile: (p, data, options) => Effect.zipRight(checkPath("writeFile", p), writeFile(p, data, options)),
    // -- no io_uring opcode: node's implementation ---------------------------------------
    access: (p, options) => Effect.mapError(node.access(p, options), refine), // faccessat: no opcode
    chmod: (p, mode) => Effect.mapError(node.chmod(p, mode), refine), // fchmodat: no opcode
    chown: (p, uid, gid) => Effect.mapError(node.chown(p, uid, gid), refine), // fchownat: no opcode
    copy: (from, to, options) => Effect.mapError(node.copy(from, to, options), refine), // recursive walk
    makeTempDirectory: (options) => Effect.mapError(node.makeTempDirectory(options), refine), // mkdtemp
    makeTempDirectoryScoped: (options) => Effect.mapError(node.makeTempDirectoryScoped(options), refine),
    readDirectory: (p, options) => Effect.mapError(node.readDirectory(p, options), refine), // getdents: no opcode
    readLink: (p) => Effect.mapError(node.readLink(p), refine), // readlinkat: no opcode
    realPath: (p) => Effect.mapError(node.realPath(p), refine), // realpath: userspace walk
    utimes: (p, atime, mtime) => Effect.mapError(node.utimes(p, atime, mtime), refine), // utimensat: no opcode
    watch // inotify: no opcode
  })
}

const S_IFMT = 0o170000
const DIR = 0o040000
const REG = 0o100000
const fileTypeBits = (mode: number) => mode & S_IFMT

const nodeFileSystem: Effect.Effect<FileSystem.FileSystem> = Effect.provide(FileSystem.FileSystem, NodeFileSystem.layer)

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
 * ring), else node's file system with the same one-line notice as `Runtime.layer`; honours
 * `EFFIO_BACKEND`. Fails only for a forced `EFFIO_BACKEND=io_uring` that is unavailable.
 */
export const layer: Layer.Layer<FileSystem.FileSystem, Uring.UringUnavailable | Backend.BackendUnavailable> = Backend.select({
  io_uring: layerStrict,
  node: NodeFileSystem.layer
})
