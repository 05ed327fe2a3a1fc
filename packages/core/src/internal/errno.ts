// errno → reason, with no Effect in it (an Effect 4 adapter re-wraps it as it is).
import * as os from "node:os"

/** The reasons of `@effect/platform`'s `SystemError` that Effio reports. */
export type Reason =
  | "NotFound"
  | "PermissionDenied"
  | "AlreadyExists"
  | "BadResource"
  | "Busy"
  | "WouldBlock"
  | "TimedOut"
  | "InvalidData"
  | "Unknown"

const errnoNumber = (name: string): number | undefined =>
  (os.constants.errno as Record<string, number | undefined>)[name]

export const EXDEV = errnoNumber("EXDEV") ?? 18

/**
 * errno name → `SystemErrorReason`. Finer than `@effect/platform-node`'s: EPERM is
 * PermissionDenied, EAGAIN WouldBlock, ETIMEDOUT/ETIME TimedOut, EINVAL InvalidData.
 */
export const reasonOf = (code: string, confined = false): Reason => {
  switch (code) {
    case "ENOENT":
      return "NotFound"
    case "EACCES":
    case "EPERM":
      return "PermissionDenied"
    case "EXDEV":
      return confined ? "PermissionDenied" : "Unknown"
    case "EEXIST":
      return "AlreadyExists"
    case "EISDIR":
    case "ENOTDIR":
    case "ELOOP":
    case "EBADF":
      return "BadResource"
    case "EBUSY":
      return "Busy"
    case "EAGAIN":
      return "WouldBlock"
    case "ETIMEDOUT":
    case "ETIME":
      return "TimedOut"
    case "EINVAL":
      return "InvalidData"
    default:
      return "Unknown"
  }
}

