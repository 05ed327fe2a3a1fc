import { describe, expect, it } from "@effect/vitest"
import { Uring } from "@effio/core"
import { constants, pipe2 } from "@effio/uring-native"
import { BadArgument, type SystemError } from "@effect/platform/Error"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { tempDir } from "./helpers.js"

const C = constants as Record<string, number>
const AT_FDCWD = C.AT_FDCWD!
const layer = Uring.layer()

/** The typed failure of `exit`, asserting it is a failure (not a defect or an interruption). */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const failure = Cause.failureOption(exit.cause)
  expect(Option.isSome(failure)).toBe(true)
  expect(Cause.isDie(exit.cause)).toBe(false)
  return Option.getOrThrow(failure)
}

const asSystemError = (e: unknown): SystemError => {
  expect((e as { _tag: string })._tag).toBe("SystemError")
  return e as SystemError
}

/** A kernel pipe, both ends closed when the scope closes. */
const rawPipe = Effect.acquireRelease(Effect.sync(() => pipe2()), ([r, w]) =>
  Effect.sync(() => {
    for (const fd of [r, w]) {
      try {
        fs.closeSync(fd)
      } catch {
        // closed by the test
      }
    }
  }))

describe("Uring service", () => {
  it.live("the layer opens a working ring and reports what the kernel supports", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      expect(uring.probe.available).toBe(true)
      expect(uring.supports("read")).toBe(true)
      expect(uring.supports("openat2")).toBe(true)
      expect(uring.supports("no-such-op")).toBe(false)
      expect(yield* uring.nop).toBe(0)
      expect(uring.ring.info().open).toBe(true)
    }).pipe(Effect.provide(layer)))

  it.live("opFinite: map gives the value in the op's own step; a PlatformError thrown by prep is the failure, nothing queued", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const ctx = { module: "FileSystem", method: "test", syscall: "nop", pathOrDescriptor: 0 } as const
      expect(yield* uring.opFinite((r, cb) => r.nop(cb), ctx, (res) => `nop gave ${res}`)).toBe("nop gave 0")
      const before = uring.ring.info().submitted
      const refused = new BadArgument({ module: "FileSystem", method: "test", description: "refused by prep" })
      const e = failureOf(yield* Effect.exit(uring.opFinite(() => {
        throw refused
      }, ctx, String)))
      expect(e).toBe(refused)
      // an errno result is a SystemError from ctx; map is not called
      let mapped = 0
      const err = asSystemError(failureOf(yield* Effect.exit(uring.opFinite((r, cb) => r.closeFd(1_000_000, cb), ctx, () => mapped++))))
      expect(err.reason).toBe("BadResource")
      expect(mapped).toBe(0)
      yield* Effect.sync(() => uring.ring.submit())
      expect(uring.ring.info().submitted - before).toBe(1) // only the close reached the kernel
      // a map that throws is a defect of this fiber (as in Effect.map), not a stuck fiber
      const boom = new Error("map failed")
      const died = yield* Effect.exit(uring.opFinite((r, cb) => r.nop(cb), ctx, () => {
        throw boom
      }))
      expect(Exit.isFailure(died) && Cause.isDie(died.cause)).toBe(true)
      expect(Exit.isFailure(died) ? Cause.squash(died.cause) : undefined).toBe(boom)
    }).pipe(Effect.provide(layer)))

  it.live("Uring.layer({ sqPoll: true }) opens the loop's ring with an SQ thread; ops work on it", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      expect(uring.ring.info().sqPoll).toBe(true)
      expect(yield* uring.nop).toBe(0)
      const dir = yield* tempDir
      const fd = yield* uring.openat2(AT_FDCWD, path.join(dir, "f"), { flags: C.O_RDWR! | C.O_CREAT!, mode: 0o600 })
      expect(yield* uring.write(fd, Buffer.from("sqpoll"), 0, 6, 0)).toBe(6)
      const back = Buffer.alloc(6)
      expect(yield* uring.read(fd, back, 0, 6, 0)).toBe(6)
      expect(back.toString()).toBe("sqpoll")
      yield* uring.close(fd)
    }).pipe(Effect.scoped, Effect.provide(Uring.layer({ sqPoll: true }))))

  it.live("the ring is closed when the layer is released", () =>
    Effect.gen(function*() {
      const ring = yield* Effect.scoped(Effect.map(Uring.make(), (u) => u.ring))
      expect(ring.info().open).toBe(false)
    }))

  it.live("openat2 / write / read / statx / unlinkat round trip", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const dir = yield* tempDir
      const file = path.join(dir, "f.txt")
      const text = new TextEncoder().encode("hello, ring")
      const wfd = yield* uring.openat2(AT_FDCWD, file, { flags: C.O_WRONLY! | C.O_CREAT! | C.O_EXCL!, mode: 0o600 })
      expect(yield* uring.write(wfd, text, 0, text.length, 0)).toBe(text.length)
      yield* uring.fsync(wfd)
      yield* uring.close(wfd)
      expect(fs.readFileSync(file, "utf8")).toBe("hello, ring")
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)

      const rfd = yield* uring.openat2(AT_FDCWD, file, { flags: C.O_RDONLY! })
      const buf = new Uint8Array(64)
      const n = yield* uring.read(rfd, buf, 0, buf.length, 0)
      expect(new TextDecoder().decode(buf.subarray(0, n))).toBe("hello, ring")
      // A positioned read.
      const m = yield* uring.read(rfd, buf, 0, 4, 7)
      expect(new TextDecoder().decode(buf.subarray(0, m))).toBe("ring")
      yield* uring.close(rfd)

      const st = yield* uring.statx(AT_FDCWD, file, 0)
      expect(st.size).toBe(11n)
      yield* uring.unlinkat(AT_FDCWD, file, 0)
      expect(fs.existsSync(file)).toBe(false)
      const gone = asSystemError(failureOf(yield* Effect.exit(uring.statx(AT_FDCWD, file, 0))))
      expect(gone.reason).toBe("NotFound")
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("read of a bad fd → SystemError BadResource (EBADF), syscall read", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const buf = new Uint8Array(8)
      // A number no fd has here.
      const e = asSystemError(failureOf(yield* Effect.exit(uring.read(1_000_000, buf, 0, 8, -1))))
      expect(e.reason).toBe("BadResource")
      expect(e.syscall).toBe("read")
      expect(e.method).toBe("read")
      expect(e.pathOrDescriptor).toBe(1_000_000)
      expect(e.message).toMatch(/EBADF/)
      // A closed fd.
      const [r, w] = pipe2()
      fs.closeSync(w)
      fs.closeSync(r)
      const closed = asSystemError(failureOf(yield* Effect.exit(uring.read(r, buf, 0, 8, -1))))
      expect(closed.reason).toBe("BadResource")
      expect(closed.syscall).toBe("read")
      expect(closed.pathOrDescriptor).toBe(r)
      // The raw op gives the negative errno itself.
      expect(yield* uring.submit((ring, cb) => ring.read(1_000_000, buf, 0, 8, -1, cb))).toBe(-9)
    }).pipe(Effect.provide(layer)))

  it.live("openat2 of a missing path → NotFound with the path and ENOENT", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const dir = yield* tempDir
      const missing = path.join(dir, "does-not-exist.txt")
      const e = asSystemError(failureOf(yield* Effect.exit(uring.openat2(AT_FDCWD, missing, { flags: C.O_RDONLY! }))))
      expect(e.reason).toBe("NotFound")
      expect(e.pathOrDescriptor).toBe(missing)
      expect(e.syscall).toBe("openat2")
      expect(e.module).toBe("FileSystem")
      expect(e.description).toMatch(/^ENOENT/)
      expect(e.message).toContain("ENOENT")
      expect(e.message).toContain(missing)
      // Hints override the reported context.
      const hinted = asSystemError(
        failureOf(
          yield* Effect.exit(
            uring.openat2(AT_FDCWD, missing, { flags: C.O_RDONLY! }, { method: "readFile", pathOrDescriptor: "nice/name" })
          )
        )
      )
      expect(hinted.method).toBe("readFile")
      expect(hinted.pathOrDescriptor).toBe("nice/name")
      expect(hinted.reason).toBe("NotFound")
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("openat2 with O_CREAT|O_EXCL on an existing file → AlreadyExists", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const dir = yield* tempDir
      const file = path.join(dir, "exists")
      fs.writeFileSync(file, "keep me")
      const e = asSystemError(
        failureOf(yield* Effect.exit(uring.openat2(AT_FDCWD, file, { flags: C.O_WRONLY! | C.O_CREAT! | C.O_EXCL! })))
      )
      expect(e.reason).toBe("AlreadyExists")
      expect(e.message).toContain("EEXIST")
      expect(fs.readFileSync(file, "utf8")).toBe("keep me")
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("openat2 escaping a dir fd with RESOLVE_BENEATH → PermissionDenied when confined", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const dir = yield* tempDir
      fs.mkdirSync(path.join(dir, "sub"))
      fs.writeFileSync(path.join(dir, "x"), "outside")
      const dirfd = yield* Effect.acquireRelease(
        uring.openat2(AT_FDCWD, path.join(dir, "sub"), { flags: C.O_RDONLY! | C.O_DIRECTORY! }),
        (fd) => Effect.orDie(uring.close(fd))
      )
      const how = { flags: C.O_RDONLY!, resolve: C.RESOLVE_BENEATH! }
      const confined = asSystemError(failureOf(yield* Effect.exit(uring.openat2(dirfd, "../x", how, { confined: true }))))
      expect(confined.reason).toBe("PermissionDenied")
      expect(confined.message).toContain("EXDEV")
      expect(confined.pathOrDescriptor).toBe("../x")
      // Without the confined hint EXDEV is just an unknown error.
      const plain = asSystemError(failureOf(yield* Effect.exit(uring.openat2(dirfd, "../x", how))))
      expect(plain.reason).toBe("Unknown")
      // The same path without RESOLVE_BENEATH opens fine: the flag is what stopped it.
      const fd = yield* uring.openat2(dirfd, "../x", { flags: C.O_RDONLY! })
      yield* uring.close(fd)
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("interrupting a read blocked on an empty pipe cancels the op; the buffer is never written", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const [r, w] = yield* rawPipe
      const buf = new Uint8Array(32).fill(0xaa)
      const fiber = yield* Effect.fork(uring.read(r, buf, 0, buf.length, -1))
      yield* Effect.sleep("30 millis")
      expect(fiber.unsafePoll()).toBeNull() // really blocked
      expect(uring.ring.inFlight).toBe(1)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      // The interruption completed only after the op's own completion.
      expect(uring.ring.inFlight).toBe(0)
      // Data written afterwards is not taken by the cancelled read.
      fs.writeSync(w, "after")
      yield* Effect.sleep("20 millis")
      yield* uring.nop
      expect(buf.every((b) => b === 0xaa)).toBe(true)
      const rest = Buffer.alloc(16)
      expect(fs.readSync(r, rest, 0, 16, null)).toBe(5)
      expect(rest.subarray(0, 5).toString()).toBe("after")
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("Effect.timeout on a blocked read cancels it and returns promptly", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const [r] = yield* rawPipe
      const t0 = performance.now()
      const result = yield* Effect.timeout(uring.read(r, new Uint8Array(8), 0, 8, -1), "50 millis").pipe(
        Effect.catchTag("TimeoutException", () => Effect.succeed("timed out" as const))
      )
      const elapsed = performance.now() - t0
      expect(result).toBe("timed out")
      expect(elapsed).toBeGreaterThanOrEqual(45)
      expect(elapsed).toBeLessThan(1000)
      expect(uring.ring.inFlight).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.live("sleep waits (IORING_OP_TIMEOUT), and an interrupted sleep leaves nothing in flight", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const t0 = performance.now()
      yield* uring.sleep("20 millis")
      const elapsed = performance.now() - t0
      expect(elapsed).toBeGreaterThanOrEqual(15)
      expect(elapsed).toBeLessThan(1000)
      yield* uring.sleep(0)
      const fiber = yield* Effect.fork(uring.sleep("10 seconds"))
      yield* Effect.sleep("10 millis")
      expect(uring.ring.inFlight).toBe(1)
      const t1 = performance.now()
      expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
      expect(performance.now() - t1).toBeLessThan(1000)
      expect(uring.ring.inFlight).toBe(0)
    }).pipe(Effect.provide(layer)))

  it.live("a bad argument (negative fd) is a BadArgument failure, not a defect", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.Uring
      const exit = yield* Effect.exit(uring.read(-1, new Uint8Array(8), 0, 8, -1))
      const e = failureOf(exit) as { _tag: string; method: string; module: string }
      expect(e._tag).toBe("BadArgument")
      expect(e.method).toBe("read")
      expect(e.module).toBe("FileSystem")
      // Nothing reached the kernel.
      expect(uring.ring.inFlight).toBe(0)
      // Out-of-range buffer bounds too.
      const bounds = failureOf(yield* Effect.exit(uring.read(0, new Uint8Array(8), 4, 100, -1))) as { _tag: string }
      expect(bounds._tag).toBe("BadArgument")
    }).pipe(Effect.provide(layer)))
})
