// Small pieces shared by the FileSystem, the Files and the directory backends: error
// contexts and errors, open flags, and `File.Info` from statx or node's `Stats`.
import { BadArgument, type PlatformError, SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { type Cap, Errors } from "@effio/core"
import type { Statx } from "@effio/uring-native"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as fs from "node:fs"
import { C } from "./constants.js"

/** Where a FileSystem op happened, for its `SystemError`. */
export const ctx = (method: string, syscall: string, pathOrDescriptor: string | number): Errors.ErrorContext => ({
  module: "FileSystem",
  method,
  syscall,
  pathOrDescriptor
})

/** `FileSystem.OpenFlag` → `O_*` flags (as node's `fs.open` maps them). */
export const openFlags = (flag: FileSystem.OpenFlag = "r"): number => {
  switch (flag) {
    case "r":
      return C.O_RDONLY
    case "r+":
      return C.O_RDWR
    case "w":
      return C.O_TRUNC | C.O_CREAT | C.O_WRONLY
    case "wx":
      return C.O_TRUNC | C.O_CREAT | C.O_WRONLY | C.O_EXCL
    case "w+":
      return C.O_TRUNC | C.O_CREAT | C.O_RDWR
    case "wx+":
      return C.O_TRUNC | C.O_CREAT | C.O_RDWR | C.O_EXCL
    case "a":
      return C.O_APPEND | C.O_CREAT | C.O_WRONLY
    case "ax":
      return C.O_APPEND | C.O_CREAT | C.O_WRONLY | C.O_EXCL
    case "a+":
      return C.O_APPEND | C.O_CREAT | C.O_RDWR
    case "ax+":
      return C.O_APPEND | C.O_CREAT | C.O_RDWR | C.O_EXCL
  }
}

/** The `SystemError` of a write that wrote nothing. */
export const writeZero = (method: string, where: string | number): SystemError =>
  new SystemError({
    module: "FileSystem",
    method,
    reason: "WriteZero",
    pathOrDescriptor: where,
    description: "write returned 0 bytes written"
  })

/** A `BadArgument` of `method` (module FileSystem). */
export const badArgument = (method: string, description: string, cause?: unknown): BadArgument =>
  new BadArgument({ module: "FileSystem", method, description, cause })

/** A path argument of a FileSystem method: a string without NUL bytes. */
export const checkPath = (method: string, p: string): Effect.Effect<void, PlatformError> =>
  typeof p !== "string"
    ? Effect.fail(badArgument(method, "path must be a string"))
    : p.includes("\0")
    ? Effect.fail(badArgument(method, "path must not contain NUL bytes"))
    : Effect.void

/**
 * Re-maps a `NodeFileSystem` error to Effio's reasons from its errno code (EPERM →
 * PermissionDenied, EINVAL → InvalidData, EBADF → BadResource, ...), so a failure has one
 * reason whatever the backend. Errors without an errno code are left as they are.
 */
export const refine = (e: PlatformError): PlatformError => {
  if (e._tag !== "SystemError") return e
  const code = (e.cause as { code?: unknown } | undefined)?.code
  if (typeof code !== "string") return e
  const reason = Errors.reasonOf(code)
  return reason === e.reason || reason === "Unknown" ? e : new SystemError({ ...e, reason })
}

/** `Cap.Create` → the `O_CREAT`, `O_TRUNC`, `O_EXCL` flags it means. */
const createFlags = (create: Cap.Create): number => {
  switch (create) {
    case "never":
      return 0
    case "if-missing":
      return C.O_CREAT
    case "or-truncate":
      return C.O_CREAT | C.O_TRUNC
    case "exclusive":
      return C.O_CREAT | C.O_EXCL
  }
}

/** `Cap.OpenOptions` of a file opened for reading only. */
export const readOnly: Cap.OpenOptions = { access: "read", create: "never", perm: 0, append: false }

/** `Cap.OpenOptions` → `O_*` flags. */
export const openOptionsFlags = (options: Cap.OpenOptions): number =>
  (options.access === "read" ? C.O_RDONLY : options.access === "write" ? C.O_WRONLY : C.O_RDWR) |
  createFlags(options.create) |
  (options.append ? C.O_APPEND : 0)

/** True when `e` is a `SystemError` of `reason`. */
export const isReason = (e: PlatformError, reason: SystemError["reason"]): boolean => e._tag === "SystemError" && e.reason === reason

/** A truncate length as node takes it: none is 0, and so is a negative one. */
export const truncateLength = (length: FileSystem.SizeInput | undefined): number =>
  length === undefined ? 0 : Math.max(0, Number(length))

/** Type of a file from its `st_mode`. */
export const fileType = (mode: number): FileSystem.File.Type => {
  switch (mode & C.S_IFMT) {
    case C.S_IFREG:
      return "File"
    case C.S_IFDIR:
      return "Directory"
    case C.S_IFLNK:
      return "SymbolicLink"
    case C.S_IFBLK:
      return "BlockDevice"
    case C.S_IFCHR:
      return "CharacterDevice"
    case C.S_IFIFO:
      return "FIFO"
    case C.S_IFSOCK:
      return "Socket"
    default:
      return "Unknown"
  }
}

/** True when `mode` (an `st_mode`) is of file type `type` (`C.S_IFDIR`, `C.S_IFREG`, ...). */
export const isType = (mode: number, type: number): boolean => (mode & C.S_IFMT) === type

// glibc's makedev(), as libuv reports st_dev/st_rdev from statx.
const makedev = (major: number, minor: number): number =>
  (major & 0xfffff000) * 2 ** 32 + (major & 0xfff) * 256 + (minor & 0xffffff00) * 4096 + (minor & 0xff)

// node's `Stats` dates: the millisecond time rounded (`new Date(ms + 0.5)`), not truncated.
const dateFromMs = (ms: number): Date => new Date(ms + 0.5)

/** statx → `File.Info`, field for field what `NodeFileSystem` reports. */
export const infoFromStatx = (s: Statx): FileSystem.File.Info => ({
  type: fileType(s.mode),
  mtime: Option.some(dateFromMs(s.mtimeMs)),
  atime: Option.some(dateFromMs(s.atimeMs)),
  birthtime: Option.some(dateFromMs(s.btimeMs)),
  dev: makedev(s.devMajor, s.devMinor),
  rdev: Option.some(makedev(s.rdevMajor, s.rdevMinor)),
  ino: Option.some(Number(s.ino)),
  mode: s.mode,
  nlink: Option.some(s.nlink),
  uid: Option.some(s.uid),
  gid: Option.some(s.gid),
  size: FileSystem.Size(s.size),
  blksize: Option.some(FileSystem.Size(s.blksize)),
  blocks: Option.some(Number(s.blocks))
})

/** node `fs.Stats` → `File.Info` (the fallback paths). */
export const infoFromStats = (stat: fs.Stats): FileSystem.File.Info => ({
  type: stat.isFile()
    ? "File"
    : stat.isDirectory()
    ? "Directory"
    : stat.isSymbolicLink()
    ? "SymbolicLink"
    : stat.isBlockDevice()
    ? "BlockDevice"
    : stat.isCharacterDevice()
    ? "CharacterDevice"
    : stat.isFIFO()
    ? "FIFO"
    : stat.isSocket()
    ? "Socket"
    : "Unknown",
  mtime: Option.fromNullable(stat.mtime),
  atime: Option.fromNullable(stat.atime),
  birthtime: Option.fromNullable(stat.birthtime),
  dev: stat.dev,
  rdev: Option.fromNullable(stat.rdev),
  ino: Option.fromNullable(stat.ino),
  mode: stat.mode,
  nlink: Option.fromNullable(stat.nlink),
  uid: Option.fromNullable(stat.uid),
  gid: Option.fromNullable(stat.gid),
  size: FileSystem.Size(stat.size),
  blksize: Option.map(Option.fromNullable(stat.blksize), FileSystem.Size),
  blocks: Option.fromNullable(stat.blocks)
})
