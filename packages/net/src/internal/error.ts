// NetError: every failure of a network operation, typed, with the errno, syscall and address.
import * as Data from "effect/Data"
import { type Address, show } from "./address.js"
import { type Reason, reasonOf } from "./errno.js"

/** A failed network operation: `reason`, the errno name, the syscall and the address. */
export class NetError extends Data.TaggedError("NetError")<{
  readonly reason: Reason
  /** The errno name (`ECONNREFUSED`), or node's code for name resolution (`ENOTFOUND`). */
  readonly errno: string
  readonly syscall: string
  readonly address?: Address | undefined
  readonly cause?: unknown
}> {
  /** The errno name, as node's errors carry it (`err.code === "ECONNREFUSED"`). */
  get code(): string {
    return this.errno
  }
  override get message(): string {
    const at = this.address === undefined ? "" : ` ${show(this.address)}`
    return `${this.reason}: ${this.syscall}${at}: ${this.errno}`
  }
}

/** The NetError for errno name `code` from `syscall` at `address`. */
export const netError = (code: string, syscall: string, address?: Address, cause?: unknown): NetError =>
  new NetError({ reason: reasonOf(code), errno: code, syscall, address, cause })

/** The NetError for a node error (`err.code`, `err.syscall`). */
export const fromNodeError = (err: unknown, syscall: string, address?: Address): NetError => {
  const e = err as NodeJS.ErrnoException | undefined
  const code = typeof e?.code === "string" ? e.code : "UNKNOWN"
  return netError(code, typeof e?.syscall === "string" ? e.syscall : syscall, address, err)
}
