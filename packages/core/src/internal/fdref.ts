import { SystemError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import type { UringService } from "../Uring.js"
import { isRingClosed } from "./errors.js"

/**
 * A reference-counted file descriptor (Eio's Rcfd): ops run inside `use`, and `close`
 * closes the fd only once no op is using it, so the kernel never sees an fd number that was
 * closed (and maybe reused) under an in-flight op. After `close`, `use` fails with EBADF.
 */
export class FdRef {
  #users = 0
  #closing = false
  #closed = false
  #waiters: Array<() => void> = []

  constructor(
    readonly fd: number,
    private readonly doClose: (fd: number) => Effect.Effect<void>,
    private readonly module: SystemError["module"] = "FileSystem"
  ) {}

  get isOpen(): boolean {
    return !this.#closing
  }

  /** Pins the fd for one kernel op (until {@link release}); false once it is closing. */
  acquire(): boolean {
    if (this.#closing) return false
    this.#users++
    return true
  }

  /** Ends a pin taken with {@link acquire}. */
  release(): void {
    if (--this.#users === 0 && this.#closing) this.#wake()
  }

  /** Runs `f(fd)` with the fd pinned open. */
  use<A, E, R>(method: string, f: (fd: number) => Effect.Effect<A, E, R>): Effect.Effect<A, E | SystemError, R> {
    return Effect.suspend((): Effect.Effect<A, E | SystemError, R> => {
      if (this.#closing) {
        return Effect.fail(
          new SystemError({
            reason: "BadResource",
            module: this.module,
            method,
            pathOrDescriptor: this.fd,
            syscall: method,
            description: "EBADF: the file descriptor was closed"
          })
        )
      }
      this.#users++
      return Effect.ensuring(
        f(this.fd),
        Effect.sync(() => {
          if (--this.#users === 0 && this.#closing) this.#wake()
        })
      )
    })
  }

  #wake() {
    const ws = this.#waiters
    this.#waiters = []
    for (const w of ws) w()
  }

  /** Marks the fd closing, waits for the ops using it, closes it once. Idempotent. */
  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    if (this.#closed) return Effect.void
    this.#closing = true
    const finish = Effect.suspend(() => {
      if (this.#closed) return Effect.void
      this.#closed = true
      return this.doClose(this.fd)
    })
    if (this.#users === 0) return finish
    return Effect.zipRight(
      Effect.async<void>((resume) => {
        if (this.#users === 0) return resume(Effect.void)
        this.#waiters.push(() => resume(Effect.void))
      }),
      finish
    )
  }).pipe(Effect.uninterruptible)
}

/**
 * Closes `fd` through the ring; when the ring itself is already closed (a resource that
 * outlived its layer), closes it directly. Other close errors are ignored: the fd is gone
 * either way, and retrying could close a reused fd number.
 */
export const closeFd = (uring: UringService, fd: number): Effect.Effect<void> =>
  Effect.catchAll(uring.close(fd), (e) =>
    isRingClosed(e.cause)
      ? Effect.sync(() => {
        try {
          fs.closeSync(fd)
        } catch {
          // already closed
        }
      })
      : Effect.void)
