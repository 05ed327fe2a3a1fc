import { SystemError, type SystemErrorReason } from "@effect/platform/Error"
import { errnoName } from "@effio/uring-native"
import * as os from "node:os"
import { getSystemErrorMap } from "node:util"

/** Where an error happened, for the `SystemError` fields. */
export interface ErrorContext {
  readonly module: SystemError["module"]
  readonly method: string
  readonly syscall: string
  readonly pathOrDescriptor?: string | number | undefined
  /** Under a confined directory `EXDEV` (a `RESOLVE_BENEATH` escape) means PermissionDenied. */
  readonly confined?: boolean | undefined
}

const errnoNumber = (name: string): number | undefined =>
  (os.constants.errno as Record<string, number | undefined>)[name]

const EXDEV = errnoNumber("EXDEV") ?? 18

/**
 * errno name → `SystemErrorReason`. Finer than `@effect/platform-node`'s: EPERM is
 * PermissionDenied, EAGAIN WouldBlock, ETIMEDOUT/ETIME TimedOut, EINVAL InvalidData.
 */
export const reasonOf = (code: string, confined = false): SystemErrorReason => {
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

const errorMap = getSystemErrorMap()

// "ENOENT: no such file or directory"
const describe = (res: number, code: string): string => {
  const entry = errorMap.get(res)
  return entry ? `${code}: ${entry[1]}` : `${code} (errno ${-res})`
}

/** Builds the `SystemError` for a negative kernel result `res` (-errno). */
export const fromErrno = (res: number, ctx: ErrorContext): SystemError => {
  const code = errnoName(res)
  const reason = res === -EXDEV && ctx.confined ? "PermissionDenied" : reasonOf(code, ctx.confined ?? false)
  return new SystemError({
    reason,
    module: ctx.module,
    method: ctx.method,
    syscall: ctx.syscall,
    pathOrDescriptor: ctx.pathOrDescriptor,
    description: `${describe(res, code)}, ${ctx.syscall}${ctx.pathOrDescriptor !== undefined ? ` '${ctx.pathOrDescriptor}'` : ""}`,
    cause: { errno: -res, code, syscall: ctx.syscall }
  })
}

/** Builds the `SystemError` for a node `ErrnoException` (the fallback backend). */
export const fromNodeError = (err: unknown, ctx: ErrorContext): SystemError => {
  const e = err as NodeJS.ErrnoException
  const code = typeof e?.code === "string" ? e.code : "UNKNOWN"
  return new SystemError({
    reason: reasonOf(code, ctx.confined ?? false),
    module: ctx.module,
    method: ctx.method,
    syscall: e?.syscall ?? ctx.syscall,
    pathOrDescriptor: ctx.pathOrDescriptor,
    description: typeof e?.message === "string" ? e.message : String(err),
    cause: err
  })
}
