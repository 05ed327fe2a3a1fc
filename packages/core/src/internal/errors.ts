// Effio's typed errors and the SystemErrors built from kernel and node failures.
import { SystemError } from "@effect/platform/Error"
import { errnoName, isRingClosedError } from "@effio/uring-native"
import * as Data from "effect/Data"
import { getSystemErrorMap } from "node:util"
import { EXDEV, reasonOf } from "./errno.js"

export { reasonOf } from "./errno.js"

/** Where an error happened, for the `SystemError` fields. */
export interface ErrorContext {
  readonly module: SystemError["module"]
  readonly method: string
  readonly syscall: string
  readonly pathOrDescriptor?: string | number | undefined
  /** Under a confined directory `EXDEV` (a `RESOLVE_BENEATH` escape) means PermissionDenied. */
  readonly confined?: boolean | undefined
}

const errorMap = getSystemErrorMap()

// "ENOENT: no such file or directory"
const describe = (res: number, code: string): string => {
  const entry = errorMap.get(res)
  return entry ? `${code}: ${entry[1]}` : `${code} (errno ${-res})`
}

/**
 * The kernel's side of a failure, as a `SystemError`'s cause: an Error whose message is the
 * errno name and text (printed as one readable line, not as JSON), with `errno`, `code` and
 * `syscall` as node's own errors carry them.
 */
export class ErrnoError extends Error {
  constructor(
    readonly errno: number,
    readonly code: string,
    readonly syscall: string,
    text: string
  ) {
    super(text)
    this.name = "ErrnoError"
    // The stack of a kernel result is the SystemError's; this one would only repeat it.
    this.stack = `${this.name}: ${text}`
  }
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
    cause: new ErrnoError(-res, code, ctx.syscall, describe(res, code))
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

/** io_uring cannot be used here; `reason` says why (errno name included). */
export class UringUnavailable extends Data.TaggedError("UringUnavailable")<{
  readonly reason: string
  readonly errno?: number | undefined
}> {
  override get message(): string {
    return `io_uring is unavailable: ${this.reason}`
  }
}

/** The requested backend is not usable (a forced io_uring where it is unavailable, or a bad name). */
export class BackendUnavailable extends Data.TaggedError("BackendUnavailable")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** True when `error` (a thrown value, or a SystemError's cause) says the ring was closed. */
export const isRingClosed = (error: unknown): boolean => isRingClosedError(error)

/**
 * The failure of an op on a ring whose Layer was released while the resource using it
 * (a file, a flow) lived on.
 */
export const ringClosed = (ctx: ErrorContext, cause: unknown): SystemError =>
  new SystemError({
    reason: "BadResource",
    module: ctx.module,
    method: ctx.method,
    syscall: ctx.syscall,
    pathOrDescriptor: ctx.pathOrDescriptor,
    description: "the io_uring ring is closed (its Layer was released)",
    cause
  })

/**
 * True when `cause` holds a failed write to stdout or stderr whose reader went away (EPIPE):
 * what a shell pipeline such as `prog | head -1` does. `Runtime.run` then exits quietly with
 * 141 (128 + SIGPIPE), as `cat` does.
 */
export const isBrokenStdio = (error: unknown): boolean => {
  const e = error as { _tag?: unknown; pathOrDescriptor?: unknown; cause?: { code?: unknown } } | null
  return e !== null && typeof e === "object" && e._tag === "SystemError" &&
    (e.pathOrDescriptor === 1 || e.pathOrDescriptor === 2) && e.cause?.code === "EPIPE"
}
