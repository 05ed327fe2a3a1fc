// Escape attempts from a confined directory: every one must fail with PermissionDenied on
// both backends, and nothing outside the sandbox may be read, created, changed or removed.
import { describe, expect, it } from "@effect/vitest"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Path } from "../src/index.js"
import { backends, expectFailure, type Sandbox, sandbox, uringRoot } from "./helpers.js"

/** Each escape: PermissionDenied, and the outside world untouched. */
const refusedAll = (sb: Sandbox, attempts: ReadonlyArray<Effect.Effect<unknown, PlatformError>>) =>
  Effect.gen(function*() {
    const before = sb.snapshot()
    for (const attempt of attempts) yield* expectFailure(attempt, "PermissionDenied")
    expect(sb.snapshot()).toEqual(before)
    expect(fs.readFileSync(path.join(sb.base, "secret"), "utf8")).toBe("SENTINEL")
  })

describe.each(backends)("sandbox escapes on the %s backend", (_name, make) => {
  it.scoped("1. '../x': read, write, create, every op", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      const out = Path.join(sb.root, "../secret")
      const fresh = Path.join(sb.root, "../created")
      fs.writeFileSync(path.join(sb.sb, "f"), "inside")
      yield* refusedAll(sb, [
        Path.load(out),
        Path.loadString(out),
        Path.save(out, "pwned"),
        Path.save(fresh, "pwned"),
        Path.save(out, "pwned", { append: true }),
        Effect.scoped(Path.openIn(out)),
        Effect.scoped(Path.openOut(fresh)),
        Path.stat(out),
        Path.stat(out, { follow: false }),
        Path.kind(out),
        Path.isFile(out),
        Path.readLink(out),
        Path.unlink(out),
        Path.mkdir(fresh),
        Path.symlink(fresh, { linkTo: "/" }),
        Path.readDir(Path.join(sb.root, "..")),
        Path.rename(out, Path.join(sb.root, "stolen")),
        Path.load(Path.join(sb.root, ".."))
      ])
      expect(fs.existsSync(path.join(sb.base, "created"))).toBe(false)
      expect(fs.readdirSync(sb.sb)).toEqual(["f"])
    }))

  it.scoped("2. 'a/../../x' (a exists): refused up front", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.mkdirSync(path.join(sb.sb, "a"))
      const e = yield* expectFailure(Path.loadString(Path.join(sb.root, "a/../../secret")), "PermissionDenied")
      expect(e.method).toBe("loadString")
      expect(e.syscall).toBe("openat2")
      expect(e.pathOrDescriptor).toBe(`${sb.sb}/a/../../secret`)
      yield* refusedAll(sb, [
        Path.save(Path.join(sb.root, "a/../../secret"), "x"),
        Path.save(Path.join(sb.root, "a/./../b/../../created"), "x"),
        Path.mkdirs(Path.join(sb.root, "a/../../outside/new"))
      ])
    }))

  it.scoped("3. absolute paths: /etc/passwd and the sentinel's own absolute path", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      const e = yield* expectFailure(Path.load(Path.join(sb.root, "/etc/passwd")), "PermissionDenied")
      expect(e.pathOrDescriptor).toBe("/etc/passwd")
      yield* refusedAll(sb, [
        Path.loadString(Path.join(sb.root, path.join(sb.base, "secret"))),
        Path.save(Path.join(sb.root, path.join(sb.base, "secret")), "x"),
        Path.save(Path.join(sb.root, "sub", path.join(sb.base, "outside/created")), "x"),
        Path.unlink(Path.join(sb.root, path.join(sb.base, "secret"))),
        Path.kind(Path.join(sb.root, "/")),
        Effect.scoped(Path.openDir(Path.join(sb.root, "/tmp")))
      ])
    }))

  it.scoped("4. a symlink to '/' then reading and writing through it", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.symlinkSync("/", path.join(sb.sb, "root"))
      yield* refusedAll(sb, [
        Path.load(Path.join(sb.root, "root/etc/passwd")),
        Path.loadString(Path.join(sb.root, "root", sb.base.slice(1), "secret")),
        Path.save(Path.join(sb.root, "root", sb.base.slice(1), "secret"), "x"),
        Path.readDir(Path.join(sb.root, "root")),
        Path.stat(Path.join(sb.root, "root/etc")),
        Effect.scoped(Path.openDir(Path.join(sb.root, "root")))
      ])
      // The link itself may be looked at (not followed).
      expect(yield* Path.kind(Path.join(sb.root, "root"), { follow: false })).toBe("SymbolicLink")
      expect(yield* Path.readLink(Path.join(sb.root, "root"))).toBe("/")
    }))

  it.scoped("5. a symlink chain leading out (a → b → ../secret)", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.symlinkSync("b", path.join(sb.sb, "a"))
      fs.symlinkSync("../secret", path.join(sb.sb, "b"))
      fs.mkdirSync(path.join(sb.sb, "d"))
      fs.symlinkSync("../a", path.join(sb.sb, "d/c")) // d/c → a → b → ../secret
      fs.symlinkSync("../../outside/newfile", path.join(sb.sb, "d/dangling")) // dangling, out
      yield* refusedAll(sb, [
        Path.load(Path.join(sb.root, "a")),
        Path.save(Path.join(sb.root, "a"), "x"),
        Path.load(Path.join(sb.root, "d/c")),
        Path.save(Path.join(sb.root, "d/c"), "x", { create: "never" }),
        Path.save(Path.join(sb.root, "d/dangling"), "x"),
        Path.save(Path.join(sb.root, "d/dangling"), "x", { create: "if-missing" })
      ])
      expect(fs.existsSync(path.join(sb.base, "outside/newfile"))).toBe(false)
    }))

  it.scoped("6. a symlink to an absolute path outside", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.symlinkSync(path.join(sb.base, "secret"), path.join(sb.sb, "abs"))
      fs.symlinkSync(path.join(sb.base, "outside"), path.join(sb.sb, "absdir"))
      yield* refusedAll(sb, [
        Path.load(Path.join(sb.root, "abs")),
        Path.save(Path.join(sb.root, "abs"), "x"),
        Path.save(Path.join(sb.root, "abs"), "x", { append: true }),
        Effect.scoped(Path.openOut(Path.join(sb.root, "abs"), { create: "never" })),
        Path.load(Path.join(sb.root, "absdir/secret2")),
        Path.save(Path.join(sb.root, "absdir/created"), "x")
      ])
    }))

  it.scoped("7. a symlink to a directory outside, then mkdir / unlink / save / rename / rmtree through it", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.symlinkSync("../outside", path.join(sb.sb, "out"))
      fs.writeFileSync(path.join(sb.sb, "mine"), "mine")
      const o = (s: string) => Path.join(sb.root, "out", s)
      yield* refusedAll(sb, [
        Path.mkdir(o("x")),
        Path.mkdirs(o("x/y")),
        Path.mkdirs(o("x/y"), { existsOk: true }),
        Path.unlink(o("secret2")),
        Path.rmdir(o("sub")),
        Path.rmtree(o("sub")),
        Path.save(o("new"), "x"),
        Path.save(o("secret2"), "x"),
        Path.load(o("secret2")),
        Path.symlink(o("ln"), { linkTo: "x" }),
        Path.rename(Path.join(sb.root, "mine"), o("mine")),
        Path.rename(o("secret2"), Path.join(sb.root, "stolen")),
        Path.readDir(Path.join(sb.root, "out")),
        Path.readDir(o("sub"))
      ])
      expect(fs.readFileSync(path.join(sb.sb, "mine"), "utf8")).toBe("mine")
    }))

  it.scoped("8. a directory replaced by a symlink to outside, then save d/x", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      const d = Path.join(sb.root, "d")
      yield* Path.mkdir(d)
      yield* Path.save(Path.join(d, "x"), "inside") // works while d is a directory
      yield* Path.rmtree(d)
      fs.symlinkSync("../outside", path.join(sb.sb, "d"))
      yield* refusedAll(sb, [
        Path.save(Path.join(d, "x"), "pwned"),
        Path.save(Path.join(d, "secret2"), "pwned"),
        Path.mkdir(Path.join(d, "y")),
        Path.load(Path.join(d, "secret2"))
      ])
      expect(fs.existsSync(path.join(sb.base, "outside/x"))).toBe(false)
    }))

  it.scoped("9. openDir of a symlink pointing out (and of '..')", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.symlinkSync("../outside", path.join(sb.sb, "out"))
      fs.symlinkSync(path.join(sb.base, "outside"), path.join(sb.sb, "absout"))
      fs.mkdirSync(path.join(sb.sb, "inner"))
      fs.symlinkSync("../../outside", path.join(sb.sb, "inner/up"))
      yield* refusedAll(sb, [
        Effect.scoped(Path.openDir(Path.join(sb.root, "out"))),
        Effect.scoped(Path.openDir(Path.join(sb.root, "absout"))),
        Effect.scoped(Path.openDir(Path.join(sb.root, ".."))),
        Effect.scoped(Path.openDir(Path.join(sb.root, "inner/up"))),
        // From inside an opened subdirectory: its own '..' is out of reach too.
        Effect.scoped(Effect.flatMap(Path.openDir(Path.join(sb.root, "inner")), (inner) => Path.readDir(Path.join(inner, "..")))),
        Effect.scoped(Effect.flatMap(Path.openDir(Path.join(sb.root, "inner")), (inner) => Path.load(Path.join(inner, "up/secret2"))))
      ])
    }))

  it.scoped("10. rename of a file out of the sandbox ('../x', and into a symlinked dir outside)", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.writeFileSync(path.join(sb.sb, "f"), "data")
      fs.mkdirSync(path.join(sb.sb, "d"))
      yield* refusedAll(sb, [
        Path.rename(Path.join(sb.root, "f"), Path.join(sb.root, "../x")),
        Path.rename(Path.join(sb.root, "f"), Path.join(sb.root, "d/../../x")),
        Path.rename(Path.join(sb.root, "d"), Path.join(sb.root, "../d")),
        Path.rename(Path.join(sb.root, "f"), Path.join(sb.root, path.join(sb.base, "x"))),
        Path.rename(Path.join(sb.root, "f"), Path.join(sb.root, "..")) // '..' as the last component
      ])
      expect(fs.readFileSync(path.join(sb.sb, "f"), "utf8")).toBe("data")
    }))

  it.scoped("11. hard links out of (or into) the sandbox", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.writeFileSync(path.join(sb.sb, "f"), "data")
      fs.symlinkSync("../outside", path.join(sb.sb, "out"))
      yield* refusedAll(sb, [
        Path.link(Path.join(sb.root, "f"), Path.join(sb.root, "../x")),
        Path.link(Path.join(sb.root, "f"), Path.join(sb.root, "out/x")),
        Path.link(Path.join(sb.root, "../secret"), Path.join(sb.root, "stolen")),
        Path.link(Path.join(sb.root, "out/secret2"), Path.join(sb.root, "stolen"))
      ])
      expect(fs.existsSync(path.join(sb.sb, "stolen"))).toBe(false)
      expect(fs.statSync(path.join(sb.sb, "f")).nlink).toBe(1)
    }))

  it.scoped("12. stat / kind / isFile / isDirectory / readLink through an escaping symlink", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.symlinkSync("../secret", path.join(sb.sb, "s"))
      fs.symlinkSync("../outside", path.join(sb.sb, "out"))
      fs.symlinkSync("x", path.join(sb.base, "outside/link-outside"))
      yield* refusedAll(sb, [
        Path.stat(Path.join(sb.root, "s")),
        Path.kind(Path.join(sb.root, "s")),
        Path.isFile(Path.join(sb.root, "s")),
        Path.isDirectory(Path.join(sb.root, "out")),
        Path.stat(Path.join(sb.root, "out/secret2"), { follow: false }),
        Path.kind(Path.join(sb.root, "out/secret2"), { follow: false }),
        Path.readLink(Path.join(sb.root, "out/link-outside"))
      ])
      // The links themselves, not followed, are inside: fine.
      expect(yield* Path.kind(Path.join(sb.root, "s"), { follow: false })).toBe("SymbolicLink")
      expect(yield* Path.readLink(Path.join(sb.root, "s"))).toBe("../secret")
    }))

  it.scoped("13. mkdirs '../x/y', rmtree '..' and rmtree '../outside'", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.writeFileSync(path.join(sb.sb, "keep"), "k")
      yield* refusedAll(sb, [
        Path.mkdirs(Path.join(sb.root, "../x/y")),
        Path.mkdirs(Path.join(sb.root, "../x/y"), { existsOk: true }),
        Path.mkdirs(Path.join(sb.root, "../outside"), { existsOk: true }),
        Path.rmtree(Path.join(sb.root, "..")),
        Path.rmtree(Path.join(sb.root, ".."), { missingOk: true }),
        Path.rmtree(Path.join(sb.root, "../outside")),
        Path.rmtree(Path.join(sb.root, "sub/../..")),
        Path.rmdir(Path.join(sb.root, "../outside/sub"))
      ])
      expect(fs.readdirSync(sb.sb)).toEqual(["keep"])
    }))

  it.scoped("14. '..' inside a relative symlink target climbing out, and a '..' hidden behind a link", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.mkdirSync(path.join(sb.sb, "a/b"), { recursive: true })
      fs.symlinkSync("../../../secret", path.join(sb.sb, "a/b/up")) // a/b → a → sb → base
      fs.symlinkSync("a/b", path.join(sb.sb, "ab"))
      fs.symlinkSync("..", path.join(sb.sb, "parent")) // sb/.. = base
      fs.symlinkSync("a/b/../../..", path.join(sb.sb, "up2")) // the '..'s are in the target
      yield* refusedAll(sb, [
        Path.load(Path.join(sb.root, "a/b/up")),
        Path.load(Path.join(sb.root, "ab/up")),
        Path.load(Path.join(sb.root, "parent/secret")),
        Path.save(Path.join(sb.root, "parent/created"), "x"),
        Path.mkdir(Path.join(sb.root, "parent/newdir")),
        Path.load(Path.join(sb.root, "up2/secret")),
        Path.readDir(Path.join(sb.root, "up2")),
        Path.stat(Path.join(sb.root, "ab/up"))
      ])
    }))

  it.scoped("15. symlinks to /proc magic links and dangling escapes never create anything", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      fs.symlinkSync("/proc/self/cwd", path.join(sb.sb, "cwd"))
      fs.symlinkSync("/proc/self/root", path.join(sb.sb, "proot"))
      fs.symlinkSync("../created-by-escape", path.join(sb.sb, "dang"))
      yield* refusedAll(sb, [
        Path.readDir(Path.join(sb.root, "cwd")),
        Path.load(Path.join(sb.root, "proot/etc/passwd")),
        Path.save(Path.join(sb.root, "dang"), "x"),
        Effect.scoped(Path.openOut(Path.join(sb.root, "dang"), { create: "if-missing" }))
      ])
      expect(fs.existsSync(path.join(sb.base, "created-by-escape"))).toBe(false)
    }))

  it.scoped("inside symlinks pointing inside are not refused", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      const before = sb.snapshot()
      fs.mkdirSync(path.join(sb.sb, "a/b"), { recursive: true })
      fs.writeFileSync(path.join(sb.sb, "a/b/file"), "ok")
      fs.symlinkSync("a/b/file", path.join(sb.sb, "direct"))
      fs.symlinkSync("../../direct", path.join(sb.sb, "a/b/back")) // climbs to sb, stays inside
      fs.symlinkSync("a/b", path.join(sb.sb, "ab"))
      fs.symlinkSync("ab", path.join(sb.sb, "ab2"))
      const j = (s: string) => Path.join(sb.root, s)
      expect(yield* Path.loadString(j("direct"))).toBe("ok")
      expect(yield* Path.loadString(j("a/b/back"))).toBe("ok")
      expect(yield* Path.loadString(j("ab2/back"))).toBe("ok")
      expect(yield* Path.loadString(j("ab/../b/file"))).toBe("ok")
      yield* Path.save(j("ab2/new"), "written")
      expect(fs.readFileSync(path.join(sb.sb, "a/b/new"), "utf8")).toBe("written")
      yield* Path.mkdirs(j("ab/c/d"))
      expect(yield* Path.isDirectory(j("a/b/c/d"))).toBe(true)
      expect(yield* Path.kind(j("ab2"))).toBe("Directory")
      expect(yield* Path.readDir(j("ab2"))).toEqual(["back", "c", "file", "new"])
      const sub = yield* Path.openDir(j("ab2"))
      expect(yield* Path.loadString(Path.join(sub, "file"))).toBe("ok")
      yield* Path.unlink(j("ab2/new"))
      yield* Path.rename(j("ab/file"), j("ab2/renamed"))
      expect(fs.readFileSync(path.join(sb.sb, "a/b/renamed"), "utf8")).toBe("ok")
      yield* Path.rmtree(j("ab2/c"))
      expect(sb.snapshot()).toEqual(before)
    }))
})

describe("sandbox: a directory swapped for a symlink while ops run (io_uring: the kernel enforces it)", () => {
  it.scoped("thousands of saves to d/x while d flips between a directory and a symlink out never write outside", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(uringRoot)
      const dir = path.join(sb.sb, "d")
      const swapped = path.join(sb.sb, "d.link")
      const real = path.join(sb.sb, "d.real")
      fs.mkdirSync(real)
      fs.symlinkSync("../outside", swapped)
      // A child-free flipper: rename(2) atomically replaces d with the directory or the link,
      // from the threadpool, concurrently with the ring's openat2 calls.
      let flips = 0
      let stop = false
      const flipper = Effect.promise(async () => {
        while (!stop) {
          await fs.promises.rename(real, dir).catch(() => {})
          await fs.promises.rename(dir, real).catch(() => {})
          await fs.promises.rename(swapped, dir).catch(() => {})
          await fs.promises.rename(dir, swapped).catch(() => {})
          flips++
        }
      })
      const fiber = yield* Effect.fork(flipper)
      let ok = 0
      let denied = 0
      let other = 0
      for (let i = 0; i < 3000; i++) {
        const r = yield* Effect.either(Path.save(Path.join(sb.root, "d/x"), "pwned"))
        if (r._tag === "Right") ok++
        else if (r.left._tag === "SystemError" && r.left.reason === "PermissionDenied") denied++
        else other++
      }
      stop = true
      yield* Fiber.join(fiber)
      expect(flips).toBeGreaterThan(0)
      expect(ok + denied + other).toBe(3000)
      expect(denied).toBeGreaterThan(0) // some saves did meet the symlink
      expect(fs.existsSync(path.join(sb.base, "outside/x"))).toBe(false)
      expect(fs.readFileSync(path.join(sb.base, "secret"), "utf8")).toBe("SENTINEL")
    }))
})

describe("backends disagree", () => {
  it.scoped("rename/link between an io_uring and a node capability is a BadArgument", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(uringRoot)
      const nodeRoot = Path.nodeRoot(sb.sb, true)
      fs.writeFileSync(path.join(sb.sb, "f"), "")
      const e = yield* Effect.flip(Path.rename(Path.join(sb.root, "f"), Path.join(nodeRoot, "g")))
      expect(e._tag).toBe("BadArgument")
      const l = yield* Effect.flip(Path.link(Path.join(nodeRoot, "f"), Path.join(sb.root, "g")))
      expect(l._tag).toBe("BadArgument")
    }))
})
