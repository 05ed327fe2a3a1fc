// FileSystem conformance: every method of `@effect/platform`'s FileSystem and File, run on
// UringFileSystem.layerStrict and on UringFileSystem.layerNode (NodeFileSystem's
// implementation with Effio's reasons and File) in real temp dirs, with NodeFileSystem.layer
// as the reference for File.Info. The same inputs must give the same outputs and the same
// error reasons (Effio's errno mapping on both). Then faults: /dev/full, EMFILE in a child,
// random interruptions, a FIFO.
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Duration, Effect, Exit, Fiber, Option, Stream } from "effect"
import type * as Scope from "effect/Scope"
import { execFileSync } from "node:child_process"
import * as nfs from "node:fs"
import * as path from "node:path"
import * as UringFileSystem from "../src/UringFileSystem.js"
import {
  backends,
  countFds,
  expectBadArgument,
  expectSameBytes,
  expectSystemError,
  failureOf,
  fixture,
  isPrefix,
  payload,
  referenceStat,
  rng,
  runTs,
  tempDir,
  which
} from "./fs-helpers.js"

const text = (s: string) => new TextEncoder().encode(s)
const str = (b: Uint8Array) => new TextDecoder().decode(b)
const optStr = (o: Option.Option<Uint8Array>) => Option.map(o, str)
const isRoot = process.getuid?.() === 0

describe.each(backends)("FileSystem on %s", (backend, layer) => {
  /** The body with the FileSystem and a fresh temp dir; scoped inside the layer. */
  const withFs = <A, E>(
    body: (fs: FileSystem.FileSystem, dir: string) => Effect.Effect<A, E, Scope.Scope>
  ) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      return yield* body(fs, dir)
    }).pipe(Effect.scoped, Effect.provide(layer))

  // -- access / exists --------------------------------------------------------------------

  it.effect("access: existing, readable/writable; missing → NotFound", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "x")
        yield* fs.access(f)
        yield* fs.access(f, { readable: true, writable: true })
        yield* fs.access(dir, { readable: true })
        const e = yield* expectSystemError(fs.access(path.join(dir, "missing")), "NotFound")
        expect(e.pathOrDescriptor).toBe(path.join(dir, "missing"))
        if (!isRoot) {
          // root bypasses permission bits
          nfs.chmodSync(f, 0o444)
          yield* expectSystemError(fs.access(f, { writable: true }), "PermissionDenied")
        }
      })
    ))

  it.effect("exists: true, false, and a file used as a directory (ENOTDIR) fails", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "x")
        expect(yield* fs.exists(f)).toBe(true)
        expect(yield* fs.exists(dir)).toBe(true)
        expect(yield* fs.exists(path.join(dir, "missing"))).toBe(false)
        // exists only maps NotFound to false: ENOTDIR is an error on both backends
        yield* expectSystemError(fs.exists(path.join(f, "x")), "BadResource")
        // a dangling symlink does not exist (access follows links)
        nfs.symlinkSync("nowhere", path.join(dir, "dangling"))
        expect(yield* fs.exists(path.join(dir, "dangling"))).toBe(false)
      })
    ))

  // -- copy / copyFile ----------------------------------------------------------------------

  it.effect("copy: recursive directory copy; overwrite option", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const src = path.join(dir, "src")
        nfs.mkdirSync(path.join(src, "a", "b"), { recursive: true })
        nfs.writeFileSync(path.join(src, "top.txt"), "top")
        nfs.writeFileSync(path.join(src, "a", "mid.txt"), "mid")
        nfs.writeFileSync(path.join(src, "a", "b", "deep.bin"), payload(10_000))
        const dst = path.join(dir, "dst")
        yield* fs.copy(src, dst)
        const list = (d: string) => (nfs.readdirSync(d, { recursive: true }) as Array<string>).sort()
        expect(list(dst)).toEqual(list(src))
        expect(list(dst)).toEqual(["a", "a/b", "a/b/deep.bin", "a/mid.txt", "top.txt"])
        expectSameBytes(nfs.readFileSync(path.join(dst, "a", "b", "deep.bin")), payload(10_000))
        expect(nfs.readFileSync(path.join(dst, "top.txt"), "utf8")).toBe("top")

        // without overwrite an existing destination file is left alone (fs.cp force: false)
        nfs.writeFileSync(path.join(src, "top.txt"), "changed")
        yield* fs.copy(src, dst)
        expect(nfs.readFileSync(path.join(dst, "top.txt"), "utf8")).toBe("top")
        yield* fs.copy(src, dst, { overwrite: true })
        expect(nfs.readFileSync(path.join(dst, "top.txt"), "utf8")).toBe("changed")

        // a single file too
        yield* fs.copy(path.join(src, "a", "mid.txt"), path.join(dir, "mid-copy.txt"))
        expect(nfs.readFileSync(path.join(dir, "mid-copy.txt"), "utf8")).toBe("mid")
        yield* expectSystemError(fs.copy(path.join(dir, "missing"), path.join(dir, "x")), "NotFound")
      })
    ))

  it.effect("copyFile: content and mode (umask does not apply), large file, onto an existing file", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const src = path.join(dir, "src")
        const data = payload(3 * 1024 * 1024 + 17) // several splice rounds
        nfs.writeFileSync(src, data)
        nfs.chmodSync(src, 0o767) // group/other write bits: the usual umask would clear them
        yield* fs.copyFile(src, path.join(dir, "dst"))
        expectSameBytes(nfs.readFileSync(path.join(dir, "dst")), data)
        expect((nfs.statSync(path.join(dir, "dst")).mode & 0o7777).toString(8)).toBe("767")

        // onto an existing, longer file with another mode: truncated, and the source's mode
        const existing = path.join(dir, "existing")
        nfs.writeFileSync(existing, payload(4 * 1024 * 1024, 7))
        nfs.chmodSync(existing, 0o600)
        nfs.writeFileSync(src, "short")
        yield* fs.copyFile(src, existing)
        expect(nfs.readFileSync(existing, "utf8")).toBe("short")
        expect((nfs.statSync(existing).mode & 0o7777).toString(8)).toBe("767")

        // onto an existing empty file (nothing to truncate), and an empty source onto a
        // file with contents (truncated to nothing)
        nfs.writeFileSync(existing, "")
        yield* fs.copyFile(src, existing)
        expect(nfs.readFileSync(existing, "utf8")).toBe("short")
        nfs.writeFileSync(path.join(dir, "empty"), "")
        yield* fs.copyFile(path.join(dir, "empty"), existing)
        expect(nfs.readFileSync(existing).length).toBe(0)

        // empty source
        yield* fs.copyFile(path.join(dir, "empty"), path.join(dir, "empty-copy"))
        expect(nfs.readFileSync(path.join(dir, "empty-copy")).length).toBe(0)
      })
    ))

  it.effect("copyFile onto itself leaves the file intact", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "keep me")
        yield* fs.copyFile(f, f)
        expect(nfs.readFileSync(f, "utf8")).toBe("keep me")
        // through a hard link too (same inode, other name)
        nfs.linkSync(f, path.join(dir, "hard"))
        yield* fs.copyFile(f, path.join(dir, "hard"))
        expect(nfs.readFileSync(f, "utf8")).toBe("keep me")
      })
    ))

  it.effect("copyFile errors: missing source → NotFound, directory source → BadResource, missing target dir → NotFound", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const e = yield* expectSystemError(fs.copyFile(path.join(dir, "missing"), path.join(dir, "x")), "NotFound")
        expect(e.pathOrDescriptor).toBe(path.join(dir, "missing"))
        expect(nfs.existsSync(path.join(dir, "x"))).toBe(false)
        nfs.mkdirSync(path.join(dir, "d"))
        yield* expectSystemError(fs.copyFile(path.join(dir, "d"), path.join(dir, "d2")), "BadResource")
        expect(nfs.existsSync(path.join(dir, "d2"))).toBe(false)
        // an existing destination when the copy fails (deliberate difference)
        nfs.writeFileSync(path.join(dir, "keep"), "precious")
        yield* expectSystemError(fs.copyFile(path.join(dir, "d"), path.join(dir, "keep")), "BadResource")
        if (backend === "io_uring") {
          // Effio checks the source before it touches the destination
          expect(nfs.readFileSync(path.join(dir, "keep"), "utf8")).toBe("precious")
        } else {
          // libuv's copyfile truncates the destination, then unlinks it when the copy fails
          expect(nfs.existsSync(path.join(dir, "keep"))).toBe(false)
        }
        nfs.writeFileSync(path.join(dir, "f"), "x")
        yield* expectSystemError(fs.copyFile(path.join(dir, "f"), path.join(dir, "no", "such", "dir")), "NotFound")
      })
    ))

  it.effect("copyFile of sources splice refuses: /proc files, character devices", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        yield* fs.copyFile("/dev/null", path.join(dir, "null"))
        expect(nfs.statSync(path.join(dir, "null")).isFile()).toBe(true)
        expect(nfs.readFileSync(path.join(dir, "null")).length).toBe(0)
        // Pseudo files do not have the size they report (procfs 0, sysfs 4096): both backends
        // copy what a read returns (libuv would copy a /proc file as empty, and spins for ever
        // on a sysfs one).
        yield* fs.copyFile("/proc/self/status", path.join(dir, "status"))
        expect(nfs.readFileSync(path.join(dir, "status"), "utf8")).toMatch(/^Name:\t/)
        // A pseudo-file directory is EISDIR before any destination is made.
        yield* expectSystemError(fs.copyFile("/proc/self", path.join(dir, "self")), "BadResource")
        expect(nfs.existsSync(path.join(dir, "self"))).toBe(false)
        const sys = "/sys/kernel/mm/transparent_hugepage/enabled"
        if (nfs.existsSync(sys)) {
          yield* fs.copyFile(sys, path.join(dir, "sys"))
          expect(nfs.readFileSync(path.join(dir, "sys"), "utf8")).toBe(nfs.readFileSync(sys, "utf8"))
          // Onto an existing, longer file: truncated first, given the source's mode.
          nfs.writeFileSync(path.join(dir, "long"), "x".repeat(10_000))
          yield* fs.copyFile(sys, path.join(dir, "long"))
          expect(nfs.readFileSync(path.join(dir, "long"), "utf8")).toBe(nfs.readFileSync(sys, "utf8"))
          expect(nfs.statSync(path.join(dir, "long")).mode & 0o777).toBe(nfs.statSync(sys).mode & 0o777)
        }
      })
    ))

  // -- chmod / chown ------------------------------------------------------------------------

  it.effect("chmod: mode bits; missing → NotFound", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "x")
        yield* fs.chmod(f, 0o600)
        expect(nfs.statSync(f).mode & 0o7777).toBe(0o600)
        yield* fs.chmod(f, 0o755)
        expect(((yield* fs.stat(f)).mode & 0o7777).toString(8)).toBe("755")
        yield* expectSystemError(fs.chmod(path.join(dir, "missing"), 0o600), "NotFound")
      })
    ))

  it.effect("chown: to the own uid/gid; missing → NotFound", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "x")
        const uid = process.getuid!()
        const gid = process.getgid!()
        yield* fs.chown(f, uid, gid)
        const st = yield* fs.stat(f)
        expect([st.uid, st.gid]).toEqual([Option.some(uid), Option.some(gid)])
        yield* expectSystemError(fs.chown(path.join(dir, "missing"), uid, gid), "NotFound")
      })
    ))

  // -- link / symlink / readLink / realPath -------------------------------------------------

  it.effect("link: same inode, nlink 2; existing new path → AlreadyExists; missing → NotFound", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "linked")
        yield* fs.link(f, path.join(dir, "l"))
        expect(nfs.readFileSync(path.join(dir, "l"), "utf8")).toBe("linked")
        const [a, b] = [yield* fs.stat(f), yield* fs.stat(path.join(dir, "l"))]
        expect(a.ino).toEqual(b.ino)
        expect(a.nlink).toEqual(Option.some(2))
        yield* expectSystemError(fs.link(f, path.join(dir, "l")), "AlreadyExists")
        const e = yield* expectSystemError(fs.link(path.join(dir, "missing"), path.join(dir, "l2")), "NotFound")
        expect(e.pathOrDescriptor).toBe(path.join(dir, "missing"))
      })
    ))

  it.effect("symlink + readLink; existing path → AlreadyExists; readLink of a regular file → EINVAL", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "target")
        yield* fs.symlink("f", path.join(dir, "rel"))
        yield* fs.symlink(f, path.join(dir, "abs"))
        expect(yield* fs.readLink(path.join(dir, "rel"))).toBe("f")
        expect(yield* fs.readLink(path.join(dir, "abs"))).toBe(f)
        expect(yield* fs.readFileString(path.join(dir, "rel"))).toBe("target")
        expect(nfs.lstatSync(path.join(dir, "rel")).isSymbolicLink()).toBe(true)
        // a dangling link can be made
        yield* fs.symlink("nowhere", path.join(dir, "dangling"))
        expect(yield* fs.readLink(path.join(dir, "dangling"))).toBe("nowhere")
        yield* expectSystemError(fs.symlink("f", path.join(dir, "rel")), "AlreadyExists")
        yield* expectSystemError(fs.symlink("f", path.join(dir, "no", "dir", "l")), "NotFound")
        yield* expectSystemError(fs.readLink(path.join(dir, "missing")), "NotFound")
        // EINVAL: InvalidData on both backends (NodeFileSystem alone says Unknown)
        yield* expectSystemError(fs.readLink(f), "InvalidData")
      })
    ))

  it.effect("realPath: resolves symlinks and dots; missing → NotFound", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        nfs.mkdirSync(path.join(dir, "real"))
        nfs.writeFileSync(path.join(dir, "real", "f"), "x")
        nfs.symlinkSync(path.join(dir, "real"), path.join(dir, "link"))
        const expected = nfs.realpathSync(path.join(dir, "real", "f"))
        expect(yield* fs.realPath(path.join(dir, "link", "f"))).toBe(expected)
        expect(yield* fs.realPath(path.join(dir, "real", ".", "..", "real", "f"))).toBe(expected)
        yield* expectSystemError(fs.realPath(path.join(dir, "missing")), "NotFound")
      })
    ))

  // -- makeDirectory ------------------------------------------------------------------------

  it.effect("makeDirectory: plain, mode, recursive, existing → AlreadyExists, missing parent → NotFound, through a file → BadResource", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const d = path.join(dir, "d")
        yield* fs.makeDirectory(d)
        expect((yield* fs.stat(d)).type).toBe("Directory")
        yield* fs.makeDirectory(path.join(dir, "private"), { mode: 0o700 })
        expect(nfs.statSync(path.join(dir, "private")).mode & 0o777).toBe(0o700)

        const deep = path.join(dir, "a", "b", "c", "d")
        yield* fs.makeDirectory(deep, { recursive: true })
        expect(nfs.statSync(deep).isDirectory()).toBe(true)
        yield* fs.makeDirectory(deep, { recursive: true }) // existing: fine with recursive
        yield* fs.makeDirectory(dir, { recursive: true })

        const e = yield* expectSystemError(fs.makeDirectory(d), "AlreadyExists")
        expect(e.pathOrDescriptor).toBe(d)
        yield* expectSystemError(fs.makeDirectory(path.join(dir, "no", "parent")), "NotFound")

        nfs.writeFileSync(path.join(dir, "file"), "x")
        yield* expectSystemError(fs.makeDirectory(path.join(dir, "file")), "AlreadyExists")
        // recursive: an existing file as the last component is EEXIST, above it ENOTDIR
        yield* expectSystemError(fs.makeDirectory(path.join(dir, "file"), { recursive: true }), "AlreadyExists")
        const notDir = yield* expectSystemError(
          fs.makeDirectory(path.join(dir, "file", "sub", "x"), { recursive: true }),
          "BadResource"
        )
        expect(notDir.description).toContain("ENOTDIR")
        yield* expectSystemError(fs.makeDirectory(path.join(dir, "file", "sub")), "BadResource")
      })
    ))

  // -- makeTemp* ----------------------------------------------------------------------------

  it.effect("makeTempDirectory: default, prefix, directory", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const t = yield* fs.makeTempDirectory()
        expect(nfs.statSync(t).isDirectory()).toBe(true)
        nfs.rmSync(t, { recursive: true })
        const p = yield* fs.makeTempDirectory({ directory: dir, prefix: "pre-" })
        expect(path.dirname(p)).toBe(dir)
        expect(path.basename(p).startsWith("pre-")).toBe(true)
        expect(nfs.statSync(p).isDirectory()).toBe(true)
        const q = yield* fs.makeTempDirectory({ directory: dir })
        expect(path.dirname(q)).toBe(dir)
        expect(q).not.toBe(p)
        yield* expectSystemError(fs.makeTempDirectory({ directory: path.join(dir, "missing") }), "NotFound")
      })
    ))

  it.effect("makeTempDirectoryScoped: removed (with its content) when the scope closes", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const t = yield* Effect.scoped(
          Effect.gen(function*() {
            const t = yield* fs.makeTempDirectoryScoped({ directory: dir, prefix: "scoped-" })
            expect(nfs.statSync(t).isDirectory()).toBe(true)
            nfs.mkdirSync(path.join(t, "sub"))
            nfs.writeFileSync(path.join(t, "sub", "f"), "x")
            return t
          })
        )
        expect(path.basename(t).startsWith("scoped-")).toBe(true)
        expect(nfs.existsSync(t)).toBe(false)
      })
    ))

  it.effect("makeTempFile: an empty file, suffix, prefix/directory", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = yield* fs.makeTempFile({ directory: dir, prefix: "pre-", suffix: ".json" })
        const st = yield* fs.stat(f)
        expect(st.type).toBe("File")
        expect(st.size).toBe(FileSystem.Size(0))
        expect(f.endsWith(".json")).toBe(true)
        // a file in a fresh temp directory under `directory`
        expect(path.dirname(path.dirname(f))).toBe(dir)
        expect(path.basename(path.dirname(f)).startsWith("pre-")).toBe(true)
        const g = yield* fs.makeTempFile()
        expect(nfs.statSync(g).isFile()).toBe(true)
        nfs.rmSync(path.dirname(g), { recursive: true })
      })
    ))

  it.effect("makeTempFileScoped: exists inside, removed (with its directory) after the scope", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = yield* Effect.scoped(
          Effect.gen(function*() {
            const f = yield* fs.makeTempFileScoped({ directory: dir, suffix: ".txt" })
            expect(yield* fs.exists(f)).toBe(true)
            yield* fs.writeFileString(f, "tmp")
            expect(yield* fs.readFileString(f)).toBe("tmp")
            return f
          })
        )
        expect(f.endsWith(".txt")).toBe(true)
        expect(nfs.existsSync(f)).toBe(false)
        expect(nfs.existsSync(path.dirname(f))).toBe(false)
        expect(nfs.readdirSync(dir)).toEqual([])
      })
    ))

  // -- open: flags ----------------------------------------------------------------------------

  it.effect("open flags: r / r+ / w / wx / w+ / a / ax / a+ / ax+", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        const missing = path.join(dir, "missing")
        const reset = (s: string) => nfs.writeFileSync(f, s)
        const read = () => nfs.readFileSync(f, "utf8")

        // r: missing → NotFound; reads from the start
        yield* expectSystemError(Effect.scoped(fs.open(missing)), "NotFound")
        yield* expectSystemError(Effect.scoped(fs.open(missing, { flag: "r+" })), "NotFound")
        reset("hello")
        expect(optStr(yield* Effect.scoped(Effect.flatMap(fs.open(f), (h) => h.readAlloc(100))))).toEqual(Option.some("hello"))

        // r+: overwrites in place, no truncation
        yield* Effect.scoped(Effect.flatMap(fs.open(f, { flag: "r+" }), (h) => h.writeAll(text("J"))))
        expect(read()).toBe("Jello")

        // w: truncates an existing file, creates a missing one
        yield* Effect.scoped(Effect.flatMap(fs.open(f, { flag: "w" }), (h) => h.writeAll(text("new"))))
        expect(read()).toBe("new")
        yield* Effect.scoped(fs.open(path.join(dir, "created"), { flag: "w" }))
        expect(nfs.readFileSync(path.join(dir, "created")).length).toBe(0)

        // wx / ax / wx+ / ax+: existing → AlreadyExists, missing → created
        for (const flag of ["wx", "ax", "wx+", "ax+"] as const) {
          yield* expectSystemError(Effect.scoped(fs.open(f, { flag })), "AlreadyExists")
          const fresh = path.join(dir, `fresh-${flag}`)
          yield* Effect.scoped(Effect.flatMap(fs.open(fresh, { flag }), (h) => h.writeAll(text(flag))))
          expect(nfs.readFileSync(fresh, "utf8")).toBe(flag)
        }
        expect(read()).toBe("new")

        // a: writes go to the end, whatever the cursor
        reset("abc")
        yield* Effect.scoped(Effect.gen(function*() {
          const h = yield* fs.open(f, { flag: "a" })
          yield* h.writeAll(text("def"))
          yield* h.seek(0, "start")
          yield* h.writeAll(text("ghi"))
        }))
        expect(read()).toBe("abcdefghi")

        // mode applies to a created file
        yield* Effect.scoped(fs.open(path.join(dir, "private"), { flag: "w", mode: 0o600 }))
        expect(nfs.statSync(path.join(dir, "private")).mode & 0o777).toBe(0o600)

        // a directory opens read-only (reading it is EISDIR); for writing it is EISDIR
        const h = yield* fs.open(dir)
        yield* expectSystemError(h.readAlloc(10), "BadResource")
        yield* expectSystemError(Effect.scoped(fs.open(dir, { flag: "w" })), "BadResource")
        yield* expectSystemError(Effect.scoped(fs.open(path.join(dir, "no", "f"), { flag: "w" })), "NotFound")
      })
    ))

  // -- readDirectory --------------------------------------------------------------------------

  it.effect("readDirectory: names; recursive; missing → NotFound; a file → BadResource", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        nfs.mkdirSync(path.join(dir, "sub", "deeper"), { recursive: true })
        nfs.writeFileSync(path.join(dir, "a.txt"), "")
        nfs.writeFileSync(path.join(dir, "sub", "b.txt"), "")
        nfs.writeFileSync(path.join(dir, "sub", "deeper", "c.txt"), "")
        nfs.symlinkSync("a.txt", path.join(dir, "link"))
        expect([...(yield* fs.readDirectory(dir))].sort()).toEqual(["a.txt", "link", "sub"])
        expect([...(yield* fs.readDirectory(dir, { recursive: true }))].sort()).toEqual([
          "a.txt",
          "link",
          "sub",
          "sub/b.txt",
          "sub/deeper",
          "sub/deeper/c.txt"
        ])
        expect(yield* fs.readDirectory(path.join(dir, "sub", "deeper"))).toEqual(["c.txt"])
        nfs.mkdirSync(path.join(dir, "empty"))
        expect(yield* fs.readDirectory(path.join(dir, "empty"))).toEqual([])
        yield* expectSystemError(fs.readDirectory(path.join(dir, "missing")), "NotFound")
        yield* expectSystemError(fs.readDirectory(path.join(dir, "a.txt")), "BadResource")
      })
    ))

  // -- readFile / readFileString ---------------------------------------------------------------

  it.effect("readFile: content, empty file, through a symlink", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const data = payload(1024 * 1024 + 3)
        nfs.writeFileSync(path.join(dir, "big"), data)
        expectSameBytes(yield* fs.readFile(path.join(dir, "big")), data)
        nfs.writeFileSync(path.join(dir, "empty"), "")
        expect((yield* fs.readFile(path.join(dir, "empty"))).length).toBe(0)
        nfs.symlinkSync("big", path.join(dir, "link"))
        expectSameBytes(yield* fs.readFile(path.join(dir, "link")), data)
      })
    ))

  it.effect("readFile of /proc/self/status (stat size 0, content nonetheless)", () =>
    withFs((fs) =>
      Effect.gen(function*() {
        expect((yield* fs.stat("/proc/self/status")).size).toBe(FileSystem.Size(0))
        const status = str(yield* fs.readFile("/proc/self/status"))
        expect(status).toMatch(/^Name:\t/)
        expect(status).toContain(`\nPid:\t${process.pid}\n`)
        expect(status.endsWith("\n")).toBe(true)
        // several reads' worth: /proc/self/maps is usually longer than one page
        const maps = yield* fs.readFileString("/proc/self/maps")
        expect(maps.split("\n").length).toBeGreaterThan(10)
      })
    ))

  it.effect("readFile errors: directory → BadResource, missing → NotFound with the path, NUL → BadArgument", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const fds = countFds()
        const d = yield* expectSystemError(fs.readFile(dir), "BadResource")
        expect(d.pathOrDescriptor).toBe(dir)
        expect(d.method).toBe("readFile")
        // the directory was opened, then refused: its fd is closed again
        expect(countFds()).toBe(fds)
        const missing = path.join(dir, "missing")
        const e = yield* expectSystemError(fs.readFile(missing), "NotFound")
        expect(e.pathOrDescriptor).toBe(missing)
        expect(e.module).toBe("FileSystem")
        expect(e.method).toBe("readFile")
        yield* expectSystemError(fs.readFile(path.join(dir, "missing", "x")), "NotFound")
        nfs.writeFileSync(path.join(dir, "f"), "")
        yield* expectSystemError(fs.readFile(path.join(dir, "f", "x")), "BadResource")
        yield* expectBadArgument(fs.readFile(path.join(dir, "a\0b")))
      })
    ))

  it.effect("readFileString: utf-8 by default, other encodings", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        const s = "héllo wörld ✓ 🎉\n"
        nfs.writeFileSync(f, s)
        expect(yield* fs.readFileString(f)).toBe(s)
        nfs.writeFileSync(path.join(dir, "u16"), Buffer.from(s, "utf16le"))
        expect(yield* fs.readFileString(path.join(dir, "u16"), "utf-16le")).toBe(s)
        nfs.writeFileSync(path.join(dir, "latin1"), Buffer.from([0x63, 0x61, 0x66, 0xe9]))
        expect(yield* fs.readFileString(path.join(dir, "latin1"), "latin1")).toBe("café")
        yield* expectSystemError(fs.readFileString(path.join(dir, "missing")), "NotFound")
      })
    ))

  // -- remove ---------------------------------------------------------------------------------

  it.effect("remove: file; non-empty dir without recursive fails; recursive; force on missing", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "x")
        yield* fs.remove(f)
        expect(nfs.existsSync(f)).toBe(false)

        const tree = path.join(dir, "tree")
        nfs.mkdirSync(path.join(tree, "a", "b"), { recursive: true })
        nfs.writeFileSync(path.join(tree, "a", "b", "f"), "x")
        // ENOTEMPTY (io_uring) / ERR_FS_EISDIR (node): both Unknown
        yield* expectSystemError(fs.remove(tree), "Unknown")
        expect(nfs.existsSync(path.join(tree, "a", "b", "f"))).toBe(true)
        yield* fs.remove(tree, { recursive: true })
        expect(nfs.existsSync(tree)).toBe(false)

        const e = yield* expectSystemError(fs.remove(path.join(dir, "missing")), "NotFound")
        expect(e.pathOrDescriptor).toBe(path.join(dir, "missing"))
        yield* fs.remove(path.join(dir, "missing"), { force: true })
        yield* fs.remove(path.join(dir, "missing"), { force: true, recursive: true })

        // a symlink is removed, not its target
        nfs.writeFileSync(path.join(dir, "target"), "t")
        nfs.symlinkSync("target", path.join(dir, "link"))
        yield* fs.remove(path.join(dir, "link"))
        expect(nfs.readFileSync(path.join(dir, "target"), "utf8")).toBe("t")
      })
    ))

  it.effect("remove of an empty directory without recursive (deliberate difference)", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const d = path.join(dir, "empty")
        nfs.mkdirSync(d)
        if (backend === "io_uring") {
          // Effio: unlink → EISDIR → rmdir, so an empty directory goes (like Deno.remove, rm -d)
          yield* fs.remove(d)
          expect(nfs.existsSync(d)).toBe(false)
        } else {
          // node's fs.rm refuses any directory without `recursive` (ERR_FS_EISDIR → Unknown)
          yield* expectSystemError(fs.remove(d), "Unknown")
          expect(nfs.existsSync(d)).toBe(true)
        }
      })
    ))

  // -- rename ---------------------------------------------------------------------------------

  it.effect("rename: file, onto an existing file, directory; missing → NotFound; onto a non-empty dir fails", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const a = path.join(dir, "a")
        const b = path.join(dir, "b")
        nfs.writeFileSync(a, "content")
        yield* fs.rename(a, b)
        expect(nfs.existsSync(a)).toBe(false)
        expect(nfs.readFileSync(b, "utf8")).toBe("content")
        nfs.writeFileSync(a, "replacement")
        yield* fs.rename(a, b)
        expect(nfs.readFileSync(b, "utf8")).toBe("replacement")

        nfs.mkdirSync(path.join(dir, "d1"))
        nfs.writeFileSync(path.join(dir, "d1", "f"), "x")
        yield* fs.rename(path.join(dir, "d1"), path.join(dir, "d2"))
        expect(nfs.readFileSync(path.join(dir, "d2", "f"), "utf8")).toBe("x")

        const e = yield* expectSystemError(fs.rename(path.join(dir, "missing"), path.join(dir, "x")), "NotFound")
        expect(e.pathOrDescriptor).toBe(path.join(dir, "missing"))
        nfs.mkdirSync(path.join(dir, "d3"))
        nfs.writeFileSync(path.join(dir, "d3", "g"), "y")
        yield* expectSystemError(fs.rename(path.join(dir, "d2"), path.join(dir, "d3")), "Unknown") // ENOTEMPTY
        yield* expectSystemError(fs.rename(b, path.join(dir, "d3")), "BadResource") // EISDIR
      })
    ))

  // -- stat -----------------------------------------------------------------------------------

  it.effect("stat: type/size/mtime/mode/ino/... equal to the node layer's for the same file", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, payload(12_345))
        nfs.chmodSync(f, 0o640)
        execFileSync("mkfifo", [path.join(dir, "fifo")])
        nfs.symlinkSync("f", path.join(dir, "link"))
        for (const p of [f, dir, path.join(dir, "link"), "/dev/null", path.join(dir, "fifo")]) {
          const mine = yield* fs.stat(p)
          const ref = yield* referenceStat(p)
          expect({ p, ...mine }).toEqual({ p, ...ref })
        }
        const st = yield* fs.stat(f)
        expect(st.type).toBe("File")
        expect(st.size).toBe(FileSystem.Size(12_345))
        expect(st.mode & 0o7777).toBe(0o640)
        expect(Option.getOrThrow(st.mtime).getTime()).toBe(nfs.statSync(f).mtime.getTime())
        expect((yield* fs.stat(dir)).type).toBe("Directory")
        expect((yield* fs.stat(path.join(dir, "link"))).type).toBe("File") // stat follows links
        expect((yield* fs.stat("/dev/null")).type).toBe("CharacterDevice")
        expect((yield* fs.stat(path.join(dir, "fifo"))).type).toBe("FIFO")
        yield* expectSystemError(fs.stat(path.join(dir, "missing")), "NotFound")
        yield* expectSystemError(fs.stat(path.join(f, "x")), "BadResource")
      })
    ))

  // -- stream / sink --------------------------------------------------------------------------

  it.effect("stream: chunked content equality; offset and bytesToRead", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const data = payload(200_000)
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, data)
        const collect = (options?: FileSystem.StreamOptions) =>
          Effect.map(Stream.runCollect(fs.stream(f, options)), (chunks) => Chunk.toReadonlyArray(chunks))

        const chunks = yield* collect({ chunkSize: 7_000 })
        expect(chunks.length).toBe(Math.ceil(200_000 / 7_000))
        expect(chunks.slice(0, -1).every((c) => c.length === 7_000)).toBe(true)
        expectSameBytes(Buffer.concat(chunks), data)

        expectSameBytes(Buffer.concat(yield* collect()), data) // default 64 KiB chunks
        expectSameBytes(Buffer.concat(yield* collect({ offset: 1_000 })), data.subarray(1_000))
        expectSameBytes(
          Buffer.concat(yield* collect({ offset: 1_000, bytesToRead: 12_345, chunkSize: 4_096 })),
          data.subarray(1_000, 13_345)
        )
        expectSameBytes(Buffer.concat(yield* collect({ bytesToRead: 10 })), data.subarray(0, 10))
        expect(yield* collect({ offset: 300_000 })).toEqual([]) // past the end
        nfs.writeFileSync(path.join(dir, "empty"), "")
        expect(yield* Effect.map(Stream.runCollect(fs.stream(path.join(dir, "empty"))), Chunk.size)).toBe(0)
        yield* expectSystemError(Stream.runDrain(fs.stream(path.join(dir, "missing"))), "NotFound")
      })
    ))

  it.effect("sink: writes every chunk in order; flag a appends; missing dir → NotFound", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const data = payload(300_000)
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "previous content, longer than nothing")
        const chunks = Array.from({ length: 30 }, (_, i) => data.subarray(i * 10_000, (i + 1) * 10_000))
        yield* Stream.run(Stream.fromIterable(chunks), fs.sink(f))
        expectSameBytes(nfs.readFileSync(f), data)
        yield* Stream.run(Stream.make(text("tail")), fs.sink(f, { flag: "a" }))
        expect(nfs.readFileSync(f).subarray(300_000).toString()).toBe("tail")
        yield* expectSystemError(Stream.run(Stream.make(text("x")), fs.sink(path.join(dir, "no", "f"))), "NotFound")
        yield* Stream.run(Stream.empty, fs.sink(path.join(dir, "empty")))
        expect(nfs.readFileSync(path.join(dir, "empty")).length).toBe(0)
      })
    ))

  // -- truncate / utimes ----------------------------------------------------------------------

  it.effect("truncate: shrink, extend with zeros, default 0; missing → NotFound; directory → BadResource", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "0123456789")
        yield* fs.truncate(f, 4)
        expect(nfs.readFileSync(f, "utf8")).toBe("0123")
        yield* fs.truncate(f, 8)
        expect([...nfs.readFileSync(f)]).toEqual([0x30, 0x31, 0x32, 0x33, 0, 0, 0, 0])
        yield* fs.truncate(f, FileSystem.Size(6))
        expect(nfs.statSync(f).size).toBe(6)
        yield* fs.truncate(f)
        expect(nfs.statSync(f).size).toBe(0)
        // a negative length is 0 (node's fs.truncate clamps it)
        nfs.writeFileSync(f, "0123456789")
        yield* fs.truncate(f, -5)
        expect(nfs.statSync(f).size).toBe(0)
        yield* expectSystemError(fs.truncate(path.join(dir, "missing"), 1), "NotFound")
        yield* expectSystemError(fs.truncate(dir), "BadResource")
      })
    ))

  it.effect("utimes: then stat mtime/atime", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "x")
        const atime = new Date("2001-02-03T04:05:06.000Z")
        const mtime = new Date("2011-12-13T14:15:16.000Z")
        yield* fs.utimes(f, atime, mtime)
        const st = yield* fs.stat(f)
        expect(Option.getOrThrow(st.mtime).toISOString()).toBe(mtime.toISOString())
        expect(Option.getOrThrow(st.atime).toISOString()).toBe(atime.toISOString())
        // seconds since the epoch as numbers
        yield* fs.utimes(f, 1_000_000_000, 1_500_000_000)
        expect(Option.getOrThrow((yield* fs.stat(f)).mtime).getTime()).toBe(1_500_000_000_000)
        yield* expectSystemError(fs.utimes(path.join(dir, "missing"), atime, mtime), "NotFound")
      })
    ))

  // -- watch ----------------------------------------------------------------------------------

  it.live("watch: a create event arrives", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(
          // writeFileSync is a creation ("rename") then a write ("change"): skip Updates,
          // which may come first (the creation is classified asynchronously)
          Stream.runCollect(Stream.take(Stream.filter(fs.watch(dir), (e) => e._tag !== "Update"), 1)).pipe(Effect.timeoutFail({
            duration: "3 seconds",
            onTimeout: () => new Error("no watch event within 3 s")
          }))
        )
        // give the watcher time to arm, then create a file (once more if nothing came yet)
        yield* Effect.sleep("100 millis")
        nfs.writeFileSync(path.join(dir, "created.txt"), "x")
        const [event] = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
        expect(event!.path).toBe("created.txt") // relative to the watched directory
        if (backend === "io_uring") {
          expect(event!._tag).toBe("Create")
        } else {
          // @effect/platform-node-shared 0.61's fallback watcher stats the relative name
          // against the cwd, so a file created elsewhere is reported as Remove
          // (Effect-TS/effect#7709); Effio re-classifies against the watched directory.
          expect(["Create", "Remove"]).toContain(event!._tag)
        }
        yield* expectSystemError(Stream.runDrain(fs.watch(path.join(dir, "missing"))), "NotFound")
      })
    ))

  // -- writeFile / writeFileString ------------------------------------------------------------

  it.effect("writeFile: create, overwrite (truncates), flag a, mode, wx on existing, errors", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        const data = payload(2 * 1024 * 1024 + 5)
        yield* fs.writeFile(f, data)
        expectSameBytes(nfs.readFileSync(f), data)
        yield* fs.writeFile(f, text("short"))
        expect(nfs.readFileSync(f, "utf8")).toBe("short")
        yield* fs.writeFile(f, text(" and more"), { flag: "a" })
        expect(nfs.readFileSync(f, "utf8")).toBe("short and more")
        yield* fs.writeFile(f, new Uint8Array(0))
        expect(nfs.statSync(f).size).toBe(0)

        yield* fs.writeFile(path.join(dir, "private"), text("p"), { mode: 0o600 })
        expect(nfs.statSync(path.join(dir, "private")).mode & 0o777).toBe(0o600)
        // mode only applies on creation
        yield* fs.writeFile(path.join(dir, "private"), text("q"), { mode: 0o644 })
        expect(nfs.statSync(path.join(dir, "private")).mode & 0o777).toBe(0o600)

        yield* expectSystemError(fs.writeFile(f, text("x"), { flag: "wx" }), "AlreadyExists")
        yield* fs.writeFile(path.join(dir, "fresh"), text("x"), { flag: "wx" })
        const e = yield* expectSystemError(fs.writeFile(path.join(dir, "no", "f"), text("x")), "NotFound")
        expect(e.pathOrDescriptor).toBe(path.join(dir, "no", "f"))
        yield* expectSystemError(fs.writeFile(dir, text("x")), "BadResource")
        yield* expectBadArgument(fs.writeFile(path.join(dir, "a\0b"), text("x")))
      })
    ))

  it.effect("writeFileString: round trip, flag a", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        yield* fs.writeFileString(f, "héllo ✓ 🎉")
        expect(nfs.readFileSync(f, "utf8")).toBe("héllo ✓ 🎉")
        yield* fs.writeFileString(f, "!", { flag: "a" })
        expect(yield* fs.readFileString(f)).toBe("héllo ✓ 🎉!")
      })
    ))

  // -- File semantics -------------------------------------------------------------------------

  it.effect("File: read advances the cursor; seek current/start", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "0123456789")
        const h = yield* fs.open(f)
        const buf = new Uint8Array(3)
        expect(yield* h.read(buf)).toBe(FileSystem.Size(3))
        expect(str(buf)).toBe("012")
        yield* h.seek(2, "current")
        expect(yield* h.read(buf)).toBe(FileSystem.Size(3))
        expect(str(buf)).toBe("567")
        yield* h.seek(1, "start")
        expect(str(Option.getOrThrow(yield* h.readAlloc(2)))).toBe("12")
        yield* h.seek(-2, "current")
        expect(str(Option.getOrThrow(yield* h.readAlloc(4)))).toBe("1234")
        yield* h.seek(FileSystem.Size(8), "start")
        // a short read at the end, then nothing
        const big = new Uint8Array(10)
        expect(yield* h.read(big)).toBe(FileSystem.Size(2))
        expect(str(big.subarray(0, 2))).toBe("89")
        expect(yield* h.read(big)).toBe(FileSystem.Size(0))
      })
    ))

  it.effect("File: w+ write, seek back, read; writes at the cursor", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "old content that goes away")
        const h = yield* fs.open(f, { flag: "w+" })
        expect((yield* h.stat).size).toBe(FileSystem.Size(0))
        expect(yield* h.write(text("hello world"))).toBe(FileSystem.Size(11))
        yield* h.seek(0, "start")
        expect(str(Option.getOrThrow(yield* h.readAlloc(100)))).toBe("hello world")
        yield* h.seek(6, "start")
        yield* h.writeAll(text("WORLD"))
        yield* h.writeAll(text("!"))
        expect(nfs.readFileSync(f, "utf8")).toBe("hello WORLD!")
        // writing past the end leaves a hole of zeros
        yield* h.seek(15, "start")
        yield* h.writeAll(text("x"))
        expect([...nfs.readFileSync(f).subarray(12)]).toEqual([0, 0, 0, 0x78])
      })
    ))

  it.effect("File: a+ reads from the start, writes are appended and leave the cursor", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "abc")
        const h = yield* fs.open(f, { flag: "a+" })
        expect(str(Option.getOrThrow(yield* h.readAlloc(2)))).toBe("ab")
        yield* h.writeAll(text("def"))
        expect(nfs.readFileSync(f, "utf8")).toBe("abcdef")
        // the cursor was not moved by the append
        expect(str(Option.getOrThrow(yield* h.readAlloc(100)))).toBe("cdef")
        yield* h.seek(0, "start")
        expect(yield* h.write(text("X"))).toBe(FileSystem.Size(1))
        expect(nfs.readFileSync(f, "utf8")).toBe("abcdefX")
        expect(str(Option.getOrThrow(yield* h.readAlloc(3)))).toBe("abc")
      })
    ))

  it.effect("File: truncate clamps a cursor past the new end, keeps one before it", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        const h = yield* fs.open(f, { flag: "w+" })
        yield* h.writeAll(text("0123456789")) // cursor 10
        yield* h.truncate(4) // cursor clamped to 4
        yield* h.writeAll(text("Z"))
        expect(nfs.readFileSync(f, "utf8")).toBe("0123Z")
        yield* h.seek(2, "start")
        yield* h.truncate(8) // extends; cursor stays 2
        expect(nfs.statSync(f).size).toBe(8)
        expect(str(Option.getOrThrow(yield* h.readAlloc(3)))).toBe("23Z")
        yield* h.truncate(-1) // negative: 0, as node's ftruncate
        expect(nfs.statSync(f).size).toBe(0)
        yield* h.seek(0, "start")
        yield* h.writeAll(text("again"))
        expect(nfs.readFileSync(f, "utf8")).toBe("again")
        // in append mode truncate leaves the cursor alone
        const a = yield* fs.open(f, { flag: "a+" })
        expect(str(Option.getOrThrow(yield* a.readAlloc(4)))).toBe("agai")
        yield* a.truncate(2)
        yield* a.writeAll(text("!"))
        expect(nfs.readFileSync(f, "utf8")).toBe("ag!")
        expect(yield* a.readAlloc(4)).toEqual(Option.none())
      })
    ))

  it.effect("File: one read/write Effect value run by several fibers at once: each run has its own range of the cursor", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "aaaabbbbccccdddd")
        const h = yield* fs.open(f, { flag: "r+" })
        const buf = [new Uint8Array(4), new Uint8Array(4), new Uint8Array(4), new Uint8Array(4)]
        const reads = buf.map((b) => h.read(b))
        // the same value four times, concurrently: each run reserves its own 4 bytes
        const one = h.read(buf[0]!)
        const sizes = yield* Effect.all([one, one, one, one], { concurrency: "unbounded" })
        expect(sizes).toEqual([4, 4, 4, 4].map(FileSystem.Size))
        expect(yield* h.seek(0, "current")).toBe(FileSystem.Size(16))
        yield* h.seek(0, "start")
        yield* Effect.all(reads, { concurrency: "unbounded" })
        expect(buf.map(str).sort()).toEqual(["aaaa", "bbbb", "cccc", "dddd"])
        // readAlloc too: one value, four runs, four consecutive ranges
        yield* h.seek(0, "start")
        const alloc = h.readAlloc(4)
        const chunks = yield* Effect.all([alloc, alloc, alloc, alloc], { concurrency: "unbounded" })
        expect(chunks.map((c) => str(Option.getOrThrow(c))).sort()).toEqual(["aaaa", "bbbb", "cccc", "dddd"])
        // a run at EOF gives 0 and leaves the cursor at the end
        expect(yield* one).toBe(FileSystem.Size(0))
        expect(yield* h.seek(0, "current")).toBe(FileSystem.Size(16))
        const w = h.write(text("xy"))
        yield* h.seek(0, "start")
        yield* Effect.all([w, w, w], { concurrency: "unbounded" })
        expect(nfs.readFileSync(f, "utf8")).toBe("xyxyxybbccccdddd")
        expect(yield* h.seek(0, "current")).toBe(FileSystem.Size(6))
      })
    ))

  it.effect("File: readAlloc returns a short Some, then None at EOF", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "abcde")
        const h = yield* fs.open(f)
        expect(optStr(yield* h.readAlloc(3))).toEqual(Option.some("abc"))
        const rest = Option.getOrThrow(yield* h.readAlloc(100))
        expect(str(rest)).toBe("de")
        expect(rest.length).toBe(2)
        expect(yield* h.readAlloc(100)).toEqual(Option.none())
        expect(yield* h.readAlloc(100)).toEqual(Option.none())
        nfs.writeFileSync(path.join(dir, "empty"), "")
        const e = yield* fs.open(path.join(dir, "empty"))
        expect(yield* e.readAlloc(1)).toEqual(Option.none())
      })
    ))

  it.effect("File: writeAll of a large buffer; stat; sync", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        const data = payload(16 * 1024 * 1024 + 1)
        const h = yield* fs.open(f, { flag: "w" })
        yield* h.writeAll(data)
        yield* h.sync
        const st = yield* h.stat
        expect(st.type).toBe("File")
        expect(st.size).toBe(FileSystem.Size(data.length))
        expect({ ...st, atime: undefined }).toEqual({ ...(yield* referenceStat(f)), atime: undefined })
        expectSameBytes(nfs.readFileSync(f), data)
        // the fd is a real one
        expect(nfs.fstatSync(h.fd).size).toBe(data.length)
      })
    ))

  it.effect("File: reading a write-only file / writing a read-only one → EBADF", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "data")
        const w = yield* fs.open(f, { flag: "a" })
        // EBADF: BadResource on both backends (NodeFileSystem alone says Unknown)
        const e = yield* expectSystemError(w.readAlloc(10), "BadResource")
        expect(e.description).toContain("EBADF")
        yield* expectSystemError(w.read(new Uint8Array(4)), "BadResource")
        const r = yield* fs.open(f)
        yield* expectSystemError(r.write(text("x")), "BadResource")
        yield* expectSystemError(r.writeAll(text("x")), "BadResource")
        yield* expectSystemError(r.truncate(0), "InvalidData") // EINVAL
        // the failed ops did not move the cursor
        expect(optStr(yield* r.readAlloc(10))).toEqual(Option.some("data"))
        expect(nfs.readFileSync(f, "utf8")).toBe("data")
      })
    ))

  it.effect("File: fd-based errors name the path the File was opened from", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        nfs.writeFileSync(f, "data")
        const named = (e: { pathOrDescriptor?: string | number; description?: string | undefined }) => {
          expect(e.pathOrDescriptor).toBe(f)
          expect(e.description).toContain(`'${f}'`)
        }
        const r = yield* fs.open(f)
        // write(2) on a read-only fd: EBADF
        const w = yield* expectSystemError(r.write(text("x")), "BadResource")
        named(w)
        expect(w.method).toBe("write")
        expect(w.description).toContain("EBADF")
        named(yield* expectSystemError(r.writeAll(text("x")), "BadResource"))
        named(yield* expectSystemError(r.writeAt(text("x"), 0), "BadResource"))
        named(yield* expectSystemError(r.truncate(0), "InvalidData")) // ftruncate: EINVAL
        const a = yield* fs.open(f, { flag: "a" })
        named(yield* expectSystemError(a.readAlloc(4), "BadResource"))
        named(yield* expectSystemError(a.readAt(new Uint8Array(4), 0), "BadResource"))
        // a File used after its scope closed its fd
        const closed = yield* Effect.scoped(fs.open(f))
        named(yield* expectSystemError(closed.stat, "BadResource"))
        named(yield* expectSystemError(closed.sync, "BadResource"))
        named(yield* expectSystemError(closed.read(new Uint8Array(4)), "BadResource"))
        // a directory opened for reading: read(2) is EISDIR
        const d = yield* fs.open(dir)
        const e = failureOf(yield* Effect.exit(d.readAlloc(4)))
        expect(e._tag).toBe("SystemError")
        expect(e._tag === "SystemError" && e.pathOrDescriptor).toBe(dir)
        expect(e._tag === "SystemError" && e.description).toContain(`'${dir}'`)
      })
    ))

  it.effect("File: 32 fibers × 4 KiB reads on one handle read every byte of 128 KiB exactly once", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const f = path.join(dir, "f")
        const data = payload(128 * 1024, 12345)
        nfs.writeFileSync(f, data)
        const h = yield* fs.open(f)
        const chunks = yield* Effect.forEach(
          Array.from({ length: 32 }, () => 0),
          () =>
            Effect.gen(function*() {
              const buf = new Uint8Array(4096)
              const n = yield* h.read(buf)
              return buf.subarray(0, Number(n))
            }),
          { concurrency: "unbounded" }
        )
        // every chunk is one of the 32 aligned 4 KiB blocks (the payload has no repeats), and
        // together they are each block exactly once
        const blocks = new Map<string, number>()
        for (let i = 0; i < 32; i++) blocks.set(Buffer.from(data.subarray(i * 4096, (i + 1) * 4096)).toString("hex"), i)
        const seen = chunks.map((c) => blocks.get(Buffer.from(c).toString("hex")) ?? -1)
        expect(chunks.every((c) => c.length === 4096)).toBe(true)
        expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i))
        expect(yield* h.readAlloc(1)).toEqual(Option.none())
      })
    ))

  // -- faults ---------------------------------------------------------------------------------

  it.effect("/dev/full: writeFile and writeAll fail with a typed ENOSPC, the source buffer untouched", () =>
    withFs((fs) =>
      Effect.gen(function*() {
        const data = payload(100_000)
        const copy = Uint8Array.from(data)
        const e = yield* expectSystemError(fs.writeFile("/dev/full", data), "Unknown")
        expect(e.description).toContain("ENOSPC")
        expect(e.method).toBe("writeFile")
        expect(e.pathOrDescriptor).toBe("/dev/full")
        expectSameBytes(data, copy)
        const h = yield* fs.open("/dev/full", { flag: "w" })
        const w = yield* expectSystemError(h.writeAll(data), "Unknown")
        expect(w.description).toContain("ENOSPC")
        yield* expectSystemError(h.write(data), "Unknown")
        expectSameBytes(data, copy)
        yield* expectSystemError(Stream.run(Stream.make(data), fs.sink("/dev/full")), "Unknown")
        expectSameBytes(data, copy)
      })
    ))

  it.effect("BadArgument for NUL bytes in paths", () =>
    withFs((fs, dir) =>
      Effect.gen(function*() {
        const bad = path.join(dir, "a\0b")
        yield* expectBadArgument(fs.stat(bad))
        yield* expectBadArgument(Effect.scoped(fs.open(bad)))
        yield* expectBadArgument(fs.makeDirectory(bad))
        yield* expectBadArgument(fs.remove(bad))
      })
    ))

  it.effect("EMFILE under a lowered RLIMIT_NOFILE: a typed SystemError, no crash, recovery", () =>
    Effect.gen(function*() {
      const prlimit = which("prlimit")
      if (prlimit === undefined) {
        console.warn("SKIPPED: prlimit (util-linux) is not installed, the EMFILE test needs it")
        return
      }
      // 256, not 64: node + the tsx loader need ~100 fds just to load the program.
      const r = yield* Effect.promise(() => runTs(fixture("emfile.ts"), [backend], [prlimit, "--nofile=256:256"]))
      expect({ code: r.code, signal: r.signal, stderr: r.stderr.slice(-3000) }).toMatchObject({ code: 0, signal: null })
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!)
      expect(out.opened).toBeGreaterThan(50)
      for (const op of ["open", "readFile", "writeFile", "copyFile"]) {
        expect({ op, ...out[op] }).toMatchObject({ op, tag: "SystemError", reason: "Unknown" })
        expect(out[op].description).toContain("EMFILE")
      }
      expect(out.recovered).toEqual({ ok: true })
      expect(out.readBack).toBe(true)
    }))
})

// -- io_uring only: interruption and fd hygiene -----------------------------------------------

describe("FileSystem on io_uring: interruption", () => {
  const layer = UringFileSystem.layer

  it.live("2,000 random interruptions of readFile/writeFile/copyFile: no fd leak, no corruption", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const seed = (Date.now() ^ (process.pid << 8)) >>> 0
      const rand = rng(seed)
      const src = path.join(dir, "src")
      const srcData = payload(256 * 1024, 1)
      nfs.writeFileSync(src, srcData)
      const writeData = payload(192 * 1024, 2)
      const before = countFds()
      const stats = { completed: 0, interrupted: 0, partial: 0 }

      for (let i = 0; i < 2000; i++) {
        const kind = i % 3
        const target = path.join(dir, `${kind === 1 ? "w" : "c"}${rand(4)}`)
        const op: Effect.Effect<unknown, unknown> = kind === 0
          ? fs.readFile(src)
          : kind === 1
          ? fs.writeFile(target, writeData)
          : fs.copyFile(src, target)
        let exit: Exit.Exit<unknown, unknown>
        const how = rand(4)
        if (how === 3) {
          // Effect.timeout with a tiny random duration
          exit = yield* Effect.exit(Effect.timeoutFail(op, { duration: Duration.millis(rand(1500) / 1000), onTimeout: () => "timeout" }))
        } else {
          // interrupt after a random number of microtask yields and event-loop turns
          const fiber = yield* Effect.fork(op)
          for (let k = rand(20); k > 0; k--) yield* Effect.yieldNow()
          for (let k = how === 0 ? 0 : rand(6); k > 0; k--) yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
          exit = yield* Fiber.interrupt(fiber)
        }
        const completed = Exit.isSuccess(exit)
        if (!completed && !Exit.isInterrupted(exit) && Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.flatMap(Cause.failureOption))) !== "timeout") {
          throw new Error(`iteration ${i} (seed ${seed}): unexpected failure ${JSON.stringify(exit)}`)
        }
        if (completed) stats.completed++
        else stats.interrupted++

        if (kind === 0) {
          if (Exit.isSuccess(exit) && Buffer.compare(exit.value as Uint8Array, srcData) !== 0) {
            throw new Error(`iteration ${i} (seed ${seed}): readFile returned wrong bytes`)
          }
        } else {
          const expected = kind === 1 ? writeData : srcData
          const got = nfs.existsSync(target) ? nfs.readFileSync(target) : undefined
          if (completed) {
            if (got === undefined || Buffer.compare(got, expected) !== 0) {
              throw new Error(`iteration ${i} (seed ${seed}): ${kind === 1 ? "writeFile" : "copyFile"} completed but ${target} is wrong`)
            }
          } else if (got !== undefined && Buffer.compare(got, expected) !== 0) {
            // An interrupted writeFile or copyFile onto an existing file may leave a
            // prefix of the data (the file is truncated in place, then written in chunks);
            // one the call created is removed.
            if (!isPrefix(got, expected)) {
              const what = kind === 1 ? "writeFile" : "copyFile"
              throw new Error(`iteration ${i} (seed ${seed}): interrupted ${what} left ${got.length} bytes in ${target}`)
            }
            stats.partial++
          }
        }
        if (i % 250 === 0 && Buffer.compare(nfs.readFileSync(src), srcData) !== 0) {
          throw new Error(`iteration ${i} (seed ${seed}): the source changed`)
        }
      }
      expectSameBytes(nfs.readFileSync(src), srcData)
      expect(countFds()).toBeLessThanOrEqual(before)
      // both outcomes were exercised
      expect(stats.completed).toBeGreaterThan(50)
      expect(stats.interrupted).toBeGreaterThan(50)
    }).pipe(Effect.scoped, Effect.provide(layer)), 60_000)

  it.live("readFile of a FIFO with no data is interruptible; fds back to the count before", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const fifo = path.join(dir, "fifo")
      execFileSync("mkfifo", [fifo])
      // a writer (O_RDWR, so this open does not block) keeps the FIFO open: no EOF, no data
      const writer = nfs.openSync(fifo, nfs.constants.O_RDWR)
      try {
        const before = countFds()
        const fiber = yield* Effect.fork(fs.readFile(fifo))
        yield* Effect.sleep("100 millis")
        expect(fiber.unsafePoll()).toBeNull() // still blocked in the read
        const exit = yield* Fiber.interrupt(fiber)
        expect(Exit.isInterrupted(exit)).toBe(true)
        expect(countFds()).toBeLessThanOrEqual(before)
        // the FIFO is still usable: data written now is read by a new readFile
        nfs.writeSync(writer, "late data")
        const fiber2 = yield* Effect.fork(fs.readFile(fifo))
        yield* Effect.sleep("50 millis")
        nfs.closeSync(writer)
        // with the only writer gone, the read sees the data then EOF
        expect(str(yield* Fiber.join(fiber2))).toBe("late data")
      } finally {
        try {
          nfs.closeSync(writer)
        } catch {
          // closed above
        }
      }
    }).pipe(Effect.scoped, Effect.provide(layer)))

  it.effect("a File that outlives the layer: closing it (after the ring closed) does not leak the fd", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const f = path.join(dir, "f")
      nfs.writeFileSync(f, "x")
      const before = countFds()
      yield* Effect.scoped(
        Effect.gen(function*() {
          // the File's scope is the outer one: it is released after the layer (and its ring)
          const h = yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.open(f)).pipe(Effect.provide(layer))
          expect(nfs.fstatSync(h.fd).size).toBe(1)
        })
      )
      expect(countFds()).toBe(before)
    }).pipe(Effect.scoped))
})
