// The numbers @effio/fs hands to the kernel, in one object. Standard open(2) flags, file
// type bits and errnos come from node (the kernel's own numbers on Linux, and defined even
// where the addon is not built, which the node backend needs); the ring-only ones (O_PATH,
// AT_*, RESOLVE_*, STATX_*) come from the addon and are only used on the ring.
import { constants as ring } from "@effio/uring-native"
import * as fs from "node:fs"
import * as os from "node:os"

const O = fs.constants
const E = os.constants.errno
const fromRing = (name: string): number => ring[name]!

export const C = {
  O_RDONLY: O.O_RDONLY,
  O_WRONLY: O.O_WRONLY,
  O_RDWR: O.O_RDWR,
  O_CREAT: O.O_CREAT,
  O_EXCL: O.O_EXCL,
  O_TRUNC: O.O_TRUNC,
  O_APPEND: O.O_APPEND,
  O_DIRECTORY: O.O_DIRECTORY,
  O_NOFOLLOW: O.O_NOFOLLOW,
  O_PATH: fromRing("O_PATH"),
  AT_FDCWD: fromRing("AT_FDCWD"),
  AT_EMPTY_PATH: fromRing("AT_EMPTY_PATH"),
  AT_SYMLINK_NOFOLLOW: fromRing("AT_SYMLINK_NOFOLLOW"),
  AT_REMOVEDIR: fromRing("AT_REMOVEDIR"),
  RESOLVE_BENEATH: fromRing("RESOLVE_BENEATH"),
  RESOLVE_NO_MAGICLINKS: fromRing("RESOLVE_NO_MAGICLINKS"),
  STATX_BASIC_STATS: fromRing("STATX_BASIC_STATS"),
  STATX_BTIME: fromRing("STATX_BTIME"),
  S_IFMT: O.S_IFMT,
  S_IFREG: O.S_IFREG,
  S_IFDIR: O.S_IFDIR,
  S_IFLNK: O.S_IFLNK,
  S_IFBLK: O.S_IFBLK,
  S_IFCHR: O.S_IFCHR,
  S_IFIFO: O.S_IFIFO,
  S_IFSOCK: O.S_IFSOCK,
  /** Positive errnos (negate them for `Errors.fromErrno`). */
  EEXIST: E.EEXIST,
  ENOENT: E.ENOENT,
  EISDIR: E.EISDIR,
  ENOTDIR: E.ENOTDIR,
  ELOOP: E.ELOOP,
  EXDEV: E.EXDEV,
  ENOSPC: E.ENOSPC,
  EFBIG: E.EFBIG,
  EDQUOT: E.EDQUOT
} as const
