import { describe, expect, it } from "@effect/vitest"
import { Uring } from "@effio/core"
import { Chunk, Effect, Exit, Option, Scope, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Path } from "../src/index.js"
import { backends, countFds, expectFailure, payload, rootIn, tempDir, unconfinedRoot } from "./helpers.js"
import { packageDir, which } from "./fs-helpers.js"
import { runTs } from "../../../test-utils/index.js"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("Path.join (pure)", () => {
  const root = Path.nodeRoot("/srv/data", true)
  const dir = root.dir

  it("appends segments with '/', keeps '..' and the dir", () => {
    const p = Path.join(root, "a", "b/c", "../d")
    expect(p.relative).toBe("a/b/c/../d")
    expect(p.dir).toBe(dir)
    expect(Path.isPath(p)).toBe(true)
    expect(Path.isPath("a")).toBe(false)
    expect(Path.join(Path.join(root, "x/"), "y").relative).toBe("x/y")
    expect(Path.join(root, "", "x", "").relative).toBe("x")
    expect(Path.join(root).relative).toBe("")
  })

  it("an absolute segment replaces the relative part", () => {
    expect(Path.join(root, "a", "/etc/passwd").relative).toBe("/etc/passwd")
    expect(Path.join(root, "/etc", "passwd").relative).toBe("/etc/passwd")
  })

  it.effect("a Path is an Effect succeeding with itself", () =>
    Effect.gen(function*() {
      const p = yield* Path.join(root, "x")
      expect(p.relative).toBe("x")
      expect(yield* Path.native(p)).toBe("/srv/data/x")
      expect(yield* Path.native(Path.join(root, "a/../b"))).toBe("/srv/data/b")
      expect(yield* Path.native(root)).toBe("/srv/data")
    }))
})

describe.each(backends)("Path on the %s backend", (_name, make) => {
  it.scoped("save/load round trips bytes and strings; loadString decodes UTF-8", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      const f = Path.join(root, "f.bin")
      const data = payload(3 * 1024 * 1024 + 17)
      yield* Path.save(f, data)
      const back = yield* Path.load(f)
      expect(back.length).toBe(data.length)
      expect(Buffer.compare(Buffer.from(back), Buffer.from(data))).toBe(0)
      yield* Path.save(Path.join(root, "t.txt"), "héllo, wörld ✓\n")
      expect(yield* Path.loadString(Path.join(root, "t.txt"))).toBe("héllo, wörld ✓\n")
      expect(fs.readFileSync(path.join(dir, "t.txt"), "utf8")).toBe("héllo, wörld ✓\n")
      yield* Path.save(Path.join(root, "empty"), "")
      expect((yield* Path.load(Path.join(root, "empty"))).length).toBe(0)
      // An absolute symlink is refused under confinement, even to a harmless file.
      fs.symlinkSync("/proc/self/status", path.join(dir, "status"))
      yield* expectFailure(Path.load(Path.join(root, "status")), "PermissionDenied")
    }))

  it.scoped("save: create modes, perm and append", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      const f = Path.join(root, "f")
      const read = () => fs.readFileSync(path.join(dir, "f"), "utf8")
      // never: the file must exist.
      const e = yield* expectFailure(Path.save(f, "x", { create: "never" }), "NotFound")
      expect(e.method).toBe("save")
      expect(fs.existsSync(path.join(dir, "f"))).toBe(false)
      // or-truncate (default) creates / truncates.
      yield* Path.save(f, "hello world")
      expect(read()).toBe("hello world")
      // never on an existing file: no truncation, writes from the start.
      yield* Path.save(f, "HELLO", { create: "never" })
      expect(read()).toBe("HELLO world")
      // if-missing: existing contents kept (overwritten from the start).
      yield* Path.save(f, "j", { create: "if-missing" })
      expect(read()).toBe("jELLO world")
      yield* Path.save(Path.join(root, "g"), "new", { create: "if-missing" })
      expect(fs.readFileSync(path.join(dir, "g"), "utf8")).toBe("new")
      yield* Path.save(f, "short", { create: "or-truncate" })
      expect(read()).toBe("short")
      // exclusive: AlreadyExists when it exists, and nothing written.
      const ex = yield* expectFailure(Path.save(f, "nope", { create: "exclusive" }), "AlreadyExists")
      expect(ex.pathOrDescriptor).toBe(path.join(dir, "f"))
      expect(read()).toBe("short")
      yield* Path.save(Path.join(root, "h"), "fresh", { create: "exclusive", perm: 0o600 })
      expect(fs.statSync(path.join(dir, "h")).mode & 0o777).toBe(0o600)
      // exclusive never follows a symlink, even a dangling one.
      fs.symlinkSync("target", path.join(dir, "dangling"))
      yield* expectFailure(Path.save(Path.join(root, "dangling"), "x", { create: "exclusive" }), "AlreadyExists")
      expect(fs.existsSync(path.join(dir, "target"))).toBe(false)
      // append: at the end, existing contents kept.
      yield* Path.save(f, " and more", { append: true })
      yield* Path.save(f, "!", { append: true, create: "never" })
      expect(read()).toBe("short and more!")
      yield* Path.save(Path.join(root, "log"), "1\n", { append: true })
      yield* Path.save(Path.join(root, "log"), "2\n", { append: true })
      expect(fs.readFileSync(path.join(dir, "log"), "utf8")).toBe("1\n2\n")
    }))

  it.scoped("openIn / openOut: File handles with a cursor", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      const p = Path.join(root, "rw")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const out = yield* Path.openOut(p, { create: "exclusive" })
          yield* out.writeAll(new TextEncoder().encode("0123456789"))
          yield* out.seek(2, "start")
          const buf = new Uint8Array(3)
          expect(Number(yield* out.read(buf))).toBe(3)
          expect(text(buf)).toBe("234")
          yield* out.writeAll(new TextEncoder().encode("xy"))
          expect((yield* out.stat).size).toBe(BigInt(10))
          yield* out.sync
        })
      )
      expect(fs.readFileSync(path.join(dir, "rw"), "utf8")).toBe("01234xy789")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const file = yield* Path.openIn(p)
          const first = yield* file.readAlloc(4)
          expect(text(Option.getOrThrow(first))).toBe("0123")
          const rest = yield* file.readAlloc(100)
          expect(text(Option.getOrThrow(rest))).toBe("4xy789")
          expect(Option.isNone(yield* file.readAlloc(100))).toBe(true)
          // Read-only: writing fails with EBADF.
          yield* expectFailure(file.write(new Uint8Array([1])), "BadResource")
        })
      )
      // openOut with append: writes go to the end.
      yield* Effect.scoped(
        Effect.gen(function*() {
          const out = yield* Path.openOut(p, { append: true })
          yield* out.writeAll(new TextEncoder().encode("END"))
          yield* out.truncate(4)
        })
      )
      expect(fs.readFileSync(path.join(dir, "rw"), "utf8")).toBe("0123")
      yield* expectFailure(Effect.scoped(Path.openIn(Path.join(root, "missing"))), "NotFound")
      yield* expectFailure(Effect.scoped(Path.openOut(Path.join(root, "missing"), { create: "never" })), "NotFound")
      yield* expectFailure(Effect.scoped(Path.openOut(p, { create: "exclusive" })), "AlreadyExists")
      yield* expectFailure(Path.load(root), "BadResource") // a directory (EISDIR)
    }))

  it.scoped("readDir: sorted names without . and ..", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      for (const n of ["b", "a", "C", "z.txt"]) fs.writeFileSync(path.join(dir, n), n)
      fs.mkdirSync(path.join(dir, "m"))
      fs.symlinkSync("m", path.join(dir, "ln"))
      fs.writeFileSync(path.join(dir, "m", "inner"), "")
      expect(yield* Path.readDir(root)).toEqual(["C", "a", "b", "ln", "m", "z.txt"])
      expect(yield* Path.readDir(Path.join(root, "m"))).toEqual(["inner"])
      expect(yield* Path.readDir(Path.join(root, "ln"))).toEqual(["inner"]) // a symlink inside is followed
      fs.mkdirSync(path.join(dir, "empty"))
      expect(yield* Path.readDir(Path.join(root, "empty"))).toEqual([])
      yield* expectFailure(Path.readDir(Path.join(root, "nope")), "NotFound")
      yield* expectFailure(Path.readDir(Path.join(root, "a")), "BadResource") // ENOTDIR
    }))

  it.scoped("mkdir / mkdirs (existsOk, perm)", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      yield* Path.mkdir(Path.join(root, "d"))
      expect(fs.statSync(path.join(dir, "d")).isDirectory()).toBe(true)
      yield* expectFailure(Path.mkdir(Path.join(root, "d")), "AlreadyExists")
      yield* expectFailure(Path.mkdir(Path.join(root, "x/y")), "NotFound")
      yield* Path.mkdir(Path.join(root, "p"), { perm: 0o700 })
      expect(fs.statSync(path.join(dir, "p")).mode & 0o777).toBe(0o700)

      yield* Path.mkdirs(Path.join(root, "a/b/c/d"))
      expect(fs.statSync(path.join(dir, "a/b/c/d")).isDirectory()).toBe(true)
      const e = yield* expectFailure(Path.mkdirs(Path.join(root, "a/b/c/d")), "AlreadyExists")
      expect(e.method).toBe("mkdirs")
      yield* Path.mkdirs(Path.join(root, "a/b/c/d"), { existsOk: true })
      yield* Path.mkdirs(Path.join(root, "a/b/e"), { existsOk: true, perm: 0o750 })
      expect(fs.statSync(path.join(dir, "a/b/e")).mode & 0o777).toBe(0o750)
      // A file in the way is not a directory, existsOk or not.
      fs.writeFileSync(path.join(dir, "file"), "")
      yield* expectFailure(Path.mkdirs(Path.join(root, "file"), { existsOk: true }), "AlreadyExists")
      yield* expectFailure(Path.mkdirs(Path.join(root, "file/sub")), "AlreadyExists")
      // Through a symlink to a directory inside.
      fs.symlinkSync("a/b", path.join(dir, "ab"))
      yield* Path.mkdirs(Path.join(root, "ab/f/g"))
      expect(fs.statSync(path.join(dir, "a/b/f/g")).isDirectory()).toBe(true)
      yield* Path.mkdirs(root, { existsOk: true })
    }))

  it.scoped("rmtree removes a tree, never following symlinks; missingOk", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      const keep = yield* tempDir
      fs.writeFileSync(path.join(keep, "precious"), "keep me")
      fs.mkdirSync(path.join(dir, "t/a/b"), { recursive: true })
      fs.writeFileSync(path.join(dir, "t/a/b/f"), "1")
      fs.writeFileSync(path.join(dir, "t/top"), "2")
      fs.mkdirSync(path.join(dir, "t/empty"))
      fs.symlinkSync(keep, path.join(dir, "t/link-out"))
      fs.symlinkSync("a", path.join(dir, "t/link-in"))
      yield* Path.rmtree(Path.join(root, "t"))
      expect(fs.existsSync(path.join(dir, "t"))).toBe(false)
      expect(fs.readFileSync(path.join(keep, "precious"), "utf8")).toBe("keep me")
      // A single file; a symlink to a directory is removed itself.
      fs.writeFileSync(path.join(dir, "one"), "")
      yield* Path.rmtree(Path.join(root, "one"))
      fs.mkdirSync(path.join(dir, "realdir"))
      fs.writeFileSync(path.join(dir, "realdir/x"), "")
      fs.symlinkSync("realdir", path.join(dir, "dirlink"))
      yield* Path.rmtree(Path.join(root, "dirlink"))
      expect(fs.existsSync(path.join(dir, "realdir/x"))).toBe(true)
      expect(fs.readdirSync(dir).sort()).toEqual(["realdir"])
      yield* expectFailure(Path.rmtree(Path.join(root, "missing")), "NotFound")
      yield* Path.rmtree(Path.join(root, "missing"), { missingOk: true })
      yield* Path.rmtree(Path.join(root, "missing/deeper"), { missingOk: true })
      // The capability's own root is refused before anything is deleted.
      yield* expectFailure(Path.rmtree(root), "InvalidData")
      expect(fs.existsSync(path.join(dir, "realdir/x"))).toBe(true)
    }))

  it.scoped("unlink, rmdir, rename, link", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      fs.writeFileSync(path.join(dir, "f"), "data")
      fs.mkdirSync(path.join(dir, "d"))
      fs.mkdirSync(path.join(dir, "full"))
      fs.writeFileSync(path.join(dir, "full/x"), "")
      yield* Path.rename(Path.join(root, "f"), Path.join(root, "d/g"))
      expect(fs.readFileSync(path.join(dir, "d/g"), "utf8")).toBe("data")
      yield* Path.link(Path.join(root, "d/g"), Path.join(root, "hard"))
      expect(fs.statSync(path.join(dir, "hard")).nlink).toBe(2)
      expect((yield* Path.stat(Path.join(root, "hard"))).nlink).toEqual(Option.some(2))
      yield* expectFailure(Path.link(Path.join(root, "d/g"), Path.join(root, "hard")), "AlreadyExists")
      // rename replaces an existing file; renames directories.
      fs.writeFileSync(path.join(dir, "other"), "other")
      yield* Path.rename(Path.join(root, "other"), Path.join(root, "hard"))
      expect(fs.readFileSync(path.join(dir, "hard"), "utf8")).toBe("other")
      yield* Path.rename(Path.join(root, "d"), Path.join(root, "d2"))
      expect(fs.readFileSync(path.join(dir, "d2/g"), "utf8")).toBe("data")
      yield* expectFailure(Path.rename(Path.join(root, "nope"), Path.join(root, "x")), "NotFound")

      yield* Path.unlink(Path.join(root, "d2/g"))
      expect(fs.existsSync(path.join(dir, "d2/g"))).toBe(false)
      yield* expectFailure(Path.unlink(Path.join(root, "d2/g")), "NotFound")
      yield* expectFailure(Path.unlink(Path.join(root, "d2")), "BadResource") // EISDIR
      yield* expectFailure(Path.rmdir(Path.join(root, "hard")), "BadResource") // ENOTDIR
      const ne = yield* Effect.flip(Path.rmdir(Path.join(root, "full")))
      expect((ne.cause as { code?: string }).code).toBe("ENOTEMPTY")
      yield* Path.rmdir(Path.join(root, "d2"))
      expect(fs.existsSync(path.join(dir, "d2"))).toBe(false)
    }))

  it.scoped("stat, kind, isFile, isDirectory on file / dir / missing / symlinks (follow true/false)", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      fs.writeFileSync(path.join(dir, "f"), "12345")
      fs.mkdirSync(path.join(dir, "d"))
      fs.symlinkSync("f", path.join(dir, "lf"))
      fs.symlinkSync("d", path.join(dir, "ld"))
      fs.symlinkSync("nowhere", path.join(dir, "dangling"))
      fs.symlinkSync("../d", path.join(dir, "d/up")) // relative with '..', still inside
      const j = (s: string) => Path.join(root, s)

      const st = yield* Path.stat(j("f"))
      expect(st.type).toBe("File")
      expect(st.size).toBe(BigInt(5))
      expect(st.mode & 0o170000).toBe(0o100000)
      expect((yield* Path.stat(j("lf"))).type).toBe("File")
      expect((yield* Path.stat(j("lf"), { follow: false })).type).toBe("SymbolicLink")
      expect((yield* Path.stat(root)).type).toBe("Directory")
      const nf = yield* expectFailure(Path.stat(j("missing")), "NotFound")
      expect(nf.method).toBe("stat")
      expect(nf.pathOrDescriptor).toBe(path.join(dir, "missing"))

      expect(yield* Path.kind(j("f"))).toBe("File")
      expect(yield* Path.kind(j("d"))).toBe("Directory")
      expect(yield* Path.kind(j("missing"))).toBe("not-found")
      expect(yield* Path.kind(j("d/missing/deeper"))).toBe("not-found")
      expect(yield* Path.kind(j("lf"))).toBe("File")
      expect(yield* Path.kind(j("lf"), { follow: false })).toBe("SymbolicLink")
      expect(yield* Path.kind(j("ld"))).toBe("Directory")
      expect(yield* Path.kind(j("ld"), { follow: false })).toBe("SymbolicLink")
      expect(yield* Path.kind(j("dangling"))).toBe("not-found")
      expect(yield* Path.kind(j("dangling"), { follow: false })).toBe("SymbolicLink")
      expect(yield* Path.kind(j("d/up"))).toBe("Directory")
      expect(yield* Path.kind(j("ld/up/up/up"), { follow: false })).toBe("SymbolicLink")

      expect(yield* Path.isFile(j("f"))).toBe(true)
      expect(yield* Path.isFile(j("lf"))).toBe(true)
      expect(yield* Path.isFile(j("d"))).toBe(false)
      expect(yield* Path.isFile(j("missing"))).toBe(false)
      expect(yield* Path.isDirectory(j("d"))).toBe(true)
      expect(yield* Path.isDirectory(j("ld"))).toBe(true)
      expect(yield* Path.isDirectory(j("f"))).toBe(false)
      expect(yield* Path.isDirectory(j("dangling"))).toBe(false)
      expect(yield* Path.isDirectory(root)).toBe(true)
    }))

  it.scoped("symlink / readLink; symlinks inside pointing inside work", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      const j = (s: string) => Path.join(root, s)
      yield* Path.mkdirs(j("sub/deep"))
      yield* Path.save(j("sub/deep/file"), "inside")
      yield* Path.symlink(j("l1"), { linkTo: "sub/deep/file" })
      yield* Path.symlink(j("sub/l2"), { linkTo: "../l1" }) // a chain, with '..'
      yield* Path.symlink(j("dl"), { linkTo: "sub" })
      yield* Path.symlink(j("stored-as-is"), { linkTo: "/anywhere/at/all" })
      expect(fs.readlinkSync(path.join(dir, "l1"))).toBe("sub/deep/file")
      expect(yield* Path.readLink(j("l1"))).toBe("sub/deep/file")
      expect(yield* Path.readLink(j("sub/l2"))).toBe("../l1")
      expect(yield* Path.readLink(j("dl/l2"))).toBe("../l1")
      expect(yield* Path.readLink(j("stored-as-is"))).toBe("/anywhere/at/all")
      expect(yield* Path.loadString(j("l1"))).toBe("inside")
      expect(yield* Path.loadString(j("sub/l2"))).toBe("inside")
      expect(yield* Path.loadString(j("dl/deep/file"))).toBe("inside")
      expect(yield* Path.loadString(j("dl/deep/../l2"))).toBe("inside")
      yield* Path.save(j("dl/deep/new"), "via link")
      expect(fs.readFileSync(path.join(dir, "sub/deep/new"), "utf8")).toBe("via link")
      expect(yield* Path.readDir(j("dl"))).toEqual(["deep", "l2"])
      // Saving through a symlink writes the target.
      yield* Path.save(j("sub/l2"), "rewritten")
      expect(fs.readFileSync(path.join(dir, "sub/deep/file"), "utf8")).toBe("rewritten")
      yield* expectFailure(Path.symlink(j("l1"), { linkTo: "x" }), "AlreadyExists")
      yield* expectFailure(Path.readLink(j("sub/deep/file")), "InvalidData") // EINVAL: not a symlink
      yield* expectFailure(Path.readLink(j("missing")), "NotFound")
      // A loop is ELOOP → BadResource.
      yield* Path.symlink(j("loop1"), { linkTo: "loop2" })
      yield* Path.symlink(j("loop2"), { linkTo: "loop1" })
      yield* expectFailure(Path.load(j("loop1")), "BadResource")
    }))

  it.scoped("openDir: a confined capability; ops inside it; refused after its scope", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      fs.mkdirSync(path.join(dir, "sub/inner"), { recursive: true })
      fs.writeFileSync(path.join(dir, "sub/a"), "A")
      fs.writeFileSync(path.join(dir, "top"), "TOP")
      const closed = yield* Effect.scoped(
        Effect.gen(function*() {
          const sub = yield* Path.openDir(Path.join(root, "sub"))
          expect(sub.dir.confined).toBe(true)
          expect(yield* Path.native(sub)).toBe(path.join(dir, "sub"))
          expect(yield* Path.readDir(sub)).toEqual(["a", "inner"])
          expect(yield* Path.loadString(Path.join(sub, "a"))).toBe("A")
          yield* Path.save(Path.join(sub, "inner/b"), "B")
          yield* Path.mkdirs(Path.join(sub, "x/y"))
          yield* Path.rename(Path.join(sub, "inner/b"), Path.join(sub, "x/y/b"))
          expect(yield* Path.kind(Path.join(sub, "x/y/b"))).toBe("File")
          // Confined to sub: the sibling is out of reach.
          yield* expectFailure(Path.loadString(Path.join(sub, "../top")), "PermissionDenied")
          // Nested openDir, then ops there.
          const inner = yield* Path.openDir(Path.join(sub, "inner"))
          yield* Path.save(Path.join(inner, "c"), "C")
          yield* expectFailure(Path.load(Path.join(inner, "../a")), "PermissionDenied")
          // openDir of a file or a missing path.
          yield* expectFailure(Path.openDir(Path.join(sub, "a")), "BadResource")
          yield* expectFailure(Path.openDir(Path.join(sub, "missing")), "NotFound")
          return Path.join(sub, "a")
        })
      )
      expect(fs.readFileSync(path.join(dir, "sub/x/y/b"), "utf8")).toBe("B")
      expect(fs.readFileSync(path.join(dir, "sub/inner/c"), "utf8")).toBe("C")
      // The scope closed the capability: its paths no longer work.
      yield* expectFailure(Path.load(closed), "BadResource")
      yield* expectFailure(Path.readDir(closed), "BadResource")
      yield* expectFailure(Path.save(closed, "x"), "BadResource")
      expect(fs.readFileSync(path.join(dir, "sub/a"), "utf8")).toBe("A")
    }))

  it.scoped("lines: LF, CRLF, last line without terminator, empty file, many lines", () =>
    Effect.gen(function*() {
      const { root } = yield* rootIn(make)
      const j = (s: string) => Path.join(root, s)
      yield* Path.save(j("a"), "one\ntwo\r\n\nthree")
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Path.lines(j("a"))))).toEqual(["one", "two", "", "three"])
      yield* Path.save(j("empty"), "")
      expect(Chunk.size(yield* Stream.runCollect(Path.lines(j("empty"))))).toBe(0)
      const many = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"x".repeat(i % 50)}`)
      yield* Path.save(j("many"), many.join("\n") + "\n")
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Path.lines(j("many"))))).toEqual(many)
      expect(yield* Stream.runCount(Stream.take(Path.lines(j("many")), 3))).toBe(3)
      yield* expectFailure(Stream.runCollect(Path.lines(j("a"), { maxLength: 3 })), "InvalidData")
      yield* expectFailure(Stream.runCollect(Path.lines(j("missing"))), "NotFound")
    }))

  it.scoped("errors carry method, syscall and the path; no fd leaks after many ops and failures", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      const j = (s: string) => Path.join(root, s)
      const e = yield* expectFailure(Path.load(j("nope/x")), "NotFound")
      expect(e.method).toBe("load")
      expect(e.pathOrDescriptor).toBe(path.join(dir, "nope/x"))
      const r = yield* expectFailure(Path.mkdir(j("../x")), "PermissionDenied")
      expect(r.method).toBe("mkdir")
      expect(r.syscall).toBe("openat2")
      expect(r.pathOrDescriptor).toBe(`${dir}/../x`)
      const nul = yield* Effect.flip(Path.load(j("a\0b")))
      expect(nul._tag).toBe("BadArgument")

      fs.symlinkSync("../..", path.join(dir, "out"))
      const before = countFds()
      for (let i = 0; i < 30; i++) {
        yield* Path.mkdirs(j(`d${i}/e`), { existsOk: true })
        yield* Path.save(j(`d${i}/e/f`), `${i}`)
        yield* Path.load(j(`d${i}/e/f`))
        yield* Path.stat(j(`d${i}/e/f`), { follow: false })
        yield* Path.stat(j(`d${i}/e/f`))
        yield* Path.readDir(j(`d${i}`))
        yield* Path.kind(j(`d${i}/missing`))
        yield* Effect.either(Path.load(j(`d${i}/missing`)))
        yield* Effect.either(Path.load(j("out/etc/passwd")))
        yield* Effect.either(Path.mkdir(j("out/x")))
        yield* Effect.either(Path.readLink(j(`d${i}/e/f`)))
        yield* Effect.scoped(Effect.flatMap(Path.openDir(j(`d${i}`)), (d) => Path.load(Path.join(d, "e/f"))))
        yield* Path.rmtree(j(`d${i}`))
      }
      expect(countFds()).toBe(before)
    }))

  it.scoped("openIn / openOut Files name their path in fd-based errors", () =>
    Effect.gen(function*() {
      const { root, dir } = yield* rootIn(make)
      fs.writeFileSync(path.join(dir, "f"), "data")
      fs.mkdirSync(path.join(dir, "sub"))
      const named = (e: { pathOrDescriptor?: string | number; description?: string | undefined }, p: string) => {
        expect(e.pathOrDescriptor).toBe(p)
        expect(e.description).toContain(`'${p}'`)
      }
      // read-only: write(2) is EBADF
      const file = yield* Path.openIn(Path.join(root, "f"))
      named(yield* expectFailure(file.write(new Uint8Array([1])), "BadResource"), path.join(dir, "f"))
      // a directory opened with openIn: read(2) is EISDIR
      const sub = yield* Path.openIn(Path.join(root, "sub"))
      const exit = yield* Effect.exit(sub.readAlloc(4))
      expect(Exit.isFailure(exit)).toBe(true)
      const e = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(e?._tag).toBe("SystemError")
      named(e as { pathOrDescriptor?: string | number; description?: string }, path.join(dir, "sub"))
      // openOut: a File used after its scope closed its fd
      const out = yield* Effect.scoped(Path.openOut(Path.join(root, "o")))
      named(yield* expectFailure(out.writeAll(new Uint8Array([1])), "BadResource"), path.join(dir, "o"))
      named(yield* expectFailure(out.stat, "BadResource"), path.join(dir, "o"))
    }))
})

describe("Path on an unconfined directory (env.fs style)", () => {
  it.scoped.each(["io_uring", "node"] as const)("%s: absolute paths and '..' are allowed", (backend) =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const fsRoot = yield* unconfinedRoot(backend, "/")
      const f = Path.join(fsRoot, dir, "f")
      yield* Path.save(f, "unconfined")
      expect(yield* Path.loadString(f)).toBe("unconfined")
      yield* Path.mkdirs(Path.join(fsRoot, dir, "a/b"))
      expect(yield* Path.loadString(Path.join(fsRoot, dir, "a/b/../../f"))).toBe("unconfined")
      // Files that report size 0 but have contents.
      expect(yield* Path.loadString(Path.join(fsRoot, "/proc/self/status"))).toMatch(/^Name:/)
      expect(yield* Path.readDir(Path.join(fsRoot, dir))).toEqual(["a", "f"])
      expect(yield* Path.native(f)).toBe(path.join(dir, "f"))
      // A relative path on an unconfined dir is relative to its native path.
      const here = yield* unconfinedRoot(backend, dir)
      expect(yield* Path.loadString(Path.join(here, "a/../f"))).toBe("unconfined")
      expect(yield* Path.isDirectory(Path.join(here, "a/b/../../a"))).toBe(true)
      // openDir of an unconfined path gives a confined capability.
      const a = yield* Path.openDir(Path.join(fsRoot, dir, "a"))
      expect(a.dir.confined).toBe(true)
      yield* expectFailure(Path.load(Path.join(a, "../f")), "PermissionDenied")
      yield* Path.rmtree(Path.join(fsRoot, dir, "a"))
      expect(fs.readdirSync(dir)).toEqual(["f"])
      yield* expectFailure(Path.rmtree(fsRoot), "InvalidData") // never rm -rf /
    }))
})

describe("Path on io_uring: files and directories that outlive their ring", () => {
  it.scoped("an openIn / openOut / openDir fd released after its ring is closed all the same", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      fs.writeFileSync(path.join(dir, "f"), "data")
      fs.mkdirSync(path.join(dir, "d"))
      const baseline = countFds()
      const files = yield* Scope.make()
      const ring = yield* Scope.make()
      const uring = yield* Effect.orDie(Scope.extend(Uring.makePrivate(), ring))
      const root = Path.uringRoot(uring, "/", false)
      yield* Scope.extend(Path.openIn(Path.join(root, dir, "f")), files)
      yield* Scope.extend(Path.openOut(Path.join(root, dir, "g")), files)
      yield* Scope.extend(Path.openDir(Path.join(root, dir, "d")), files)
      // The ring goes first (its layer released), the files' scope closes afterwards.
      yield* Scope.close(ring, Exit.void)
      yield* Scope.close(files, Exit.void)
      expect(countFds()).toBe(baseline)
    }))
})

describe("Path.load on io_uring: completions", () => {
  it.scoped("a small file takes at most 3 (open, read, close): size by fstat, no read only to see EOF", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      fs.writeFileSync(path.join(dir, "small"), "hello, world\n")
      const uring = yield* Effect.orDie(Uring.makePrivate())
      const f = Path.join(Path.uringRoot(uring, "/", false), dir, "small")
      const confined = Path.join(yield* Path.openDir(Path.join(Path.uringRoot(uring, "/", false), dir)), "small")
      for (const p of [f, confined]) {
        const before = uring.ring.info().completions
        expect(yield* Path.loadString(p)).toBe("hello, world\n")
        expect(uring.ring.info().completions - before).toBeLessThanOrEqual(3)
      }
    }))
})

describe("Path on the unconfined root at '/' (env.fs): relative paths start from the working directory", () => {
  it.scoped.each(["io_uring", "node"] as const)("%s: load, save, stat, readDir, mkdir, native of 'rel' are cwd/rel", (backend) =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      fs.writeFileSync(path.join(dir, "rel.txt"), "from the cwd")
      const cwd = process.cwd()
      yield* Effect.acquireRelease(Effect.sync(() => process.chdir(dir)), () => Effect.sync(() => process.chdir(cwd)))
      const root = yield* unconfinedRoot(backend, "/")
      expect(yield* Path.loadString(Path.join(root, "rel.txt"))).toBe("from the cwd")
      expect(yield* Path.native(Path.join(root, "rel.txt"))).toBe(path.join(dir, "rel.txt"))
      yield* Path.save(Path.join(root, "out.txt"), "written")
      expect(fs.readFileSync(path.join(dir, "out.txt"), "utf8")).toBe("written")
      yield* Path.mkdirs(Path.join(root, "a/b"))
      expect(fs.statSync(path.join(dir, "a/b")).isDirectory()).toBe(true)
      expect(yield* Path.readDir(Path.join(root, "."))).toEqual(["a", "out.txt", "rel.txt"])
      expect((yield* Path.stat(Path.join(root, "rel.txt"))).size).toBe(BigInt(12))
      const sub = yield* Path.openDir(Path.join(root, "a"))
      expect(sub.dir.native).toBe(path.join(dir, "a"))
      // absolute paths and the root itself are unchanged
      expect(yield* Path.loadString(Path.join(root, dir, "rel.txt"))).toBe("from the cwd")
      expect(yield* Path.native(root)).toBe("/")
      yield* expectFailure(Path.rmtree(root), "InvalidData")
      yield* Path.rmtree(Path.join(root, "a"))
      expect(fs.existsSync(path.join(dir, "a"))).toBe(false)
    }))
})

describe("Path.openDir of a directory the process cannot read (mode 000, as an unprivileged user)", () => {
  it.scoped.each(["io_uring", "node"] as const)("%s: openDir itself fails with PermissionDenied", (backend) =>
    Effect.gen(function*() {
      // Root bypasses permission checks: the program runs as nobody (setpriv drops the ids).
      const setpriv = which("setpriv")
      if (setpriv === undefined || process.getuid?.() !== 0) {
        console.warn("SKIPPED: needs root and setpriv (util-linux) to run a child as an unprivileged user")
        return
      }
      const base = yield* tempDir
      fs.chmodSync(base, 0o755)
      const locked = path.join(base, "locked")
      fs.mkdirSync(locked)
      fs.writeFileSync(path.join(locked, "f"), "x")
      fs.chmodSync(locked, 0o000)
      const r = yield* Effect.promise(() =>
        runTs(path.join(packageDir, "test", "fixtures", "opendir.ts"), [backend, locked], {
          prefix: [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"],
          timeoutMs: 20_000
        }))
      expect({ code: r.code, stderr: r.stderr.toString().slice(-2000) }).toMatchObject({ code: 0 })
      const out = JSON.parse(r.stdout.toString("utf8").trim().split("\n").at(-1)!)
      expect(out.uid).toBe(65534)
      expect(out.openDir).toMatchObject({ tag: "SystemError", reason: "PermissionDenied", method: "openDir" })
      expect(out.openDir.description).toContain("EACCES")
      expect(out.readDir).toBeUndefined()
    }))
})
