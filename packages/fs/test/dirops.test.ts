// Path dispatches to `dir.ops`: an in-memory `Cap.DirOps` (no file system at all) works with
// Path unchanged, gets only checked paths, and its errors come out naming Path's method.
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Cap } from "@effio/core"
import { Chunk, Effect, Option, Stream } from "effect"
import * as nodePath from "node:path"
import { Path } from "../src/index.js"
import { expectFailure } from "./helpers.js"

const notFound = (key: string) =>
  new SystemError({ reason: "NotFound", module: "FileSystem", method: "memory", pathOrDescriptor: key, description: `no ${key}` })

const info = (type: FileSystem.File.Type, size: number): FileSystem.File.Info => ({
  type,
  mtime: Option.none(),
  atime: Option.none(),
  birthtime: Option.none(),
  dev: 0,
  rdev: Option.none(),
  ino: Option.none(),
  mode: 0,
  nlink: Option.none(),
  uid: Option.none(),
  gid: Option.none(),
  size: FileSystem.Size(size),
  blksize: Option.none(),
  blocks: Option.none()
})

/** A tree in a Map (key: the normalised native path; a directory's value is `null`), and the calls it got. */
const memory = () => {
  const tree = new Map<string, Uint8Array | null>([["/m", null]])
  const calls: Array<string> = []
  const key = (p: Cap.Path) => nodePath.posix.join(p.dir.native, p.relative)
  const get = (p: Cap.Path) => Effect.suspend(() => (tree.has(key(p)) ? Effect.succeed(tree.get(key(p))!) : Effect.fail(notFound(key(p)))))
  const log = <A>(name: string, p: Cap.Path, a: A): A => (calls.push(`${name} ${p.relative}`), a)
  const die = () => Effect.die("not in the fake")
  const ops: Cap.DirOps = {
    backend: "memory",
    open: (p, options) =>
      log("open", p, Effect.suspend(() => {
        if (options.access === "read" && !tree.has(key(p))) return Effect.fail(notFound(key(p)))
        let data = tree.get(key(p)) ?? new Uint8Array()
        let at = 0
        const file = {
          read: (buf: Uint8Array) =>
            Effect.sync(() => {
              const n = Math.min(buf.length, data.length - at)
              buf.set(data.subarray(at, at + n))
              at += n
              return FileSystem.Size(n)
            }),
          writeAll: (bytes: Uint8Array) =>
            Effect.sync(() => {
              data = new Uint8Array([...(options.append ? data : []), ...bytes])
              tree.set(key(p), data)
            })
        }
        return Effect.succeed(file as unknown as FileSystem.File)
      })),
    load: (p) => log("load", p, Effect.flatMap(get(p), (v) => (v === null ? die() : Effect.succeed(v)))),
    openDir: (p) => log("openDir", p, Effect.as(get(p), Cap.makeDir({ native: key(p), confined: true, ops }))),
    readDir: (p) =>
      log("readDir", p, Effect.map(get(p), () => [...tree.keys()].filter((k) => nodePath.posix.dirname(k) === key(p) && k !== key(p)).map((k) => nodePath.posix.basename(k)))),
    stat: (p) => log("stat", p, Effect.map(get(p), (v) => (v === null ? info("Directory", 0) : info("File", v.length)))),
    mkdir: (p) => log("mkdir", p, Effect.sync(() => void tree.set(key(p), null))),
    unlink: (p) => log("unlink", p, Effect.sync(() => void tree.delete(key(p)))),
    rename: (p, to) => log("rename", p, Effect.flatMap(get(p), (v) => Effect.sync(() => (tree.delete(key(p)), void tree.set(key(to), v))))),
    rmdir: die,
    rmtree: die,
    link: die,
    symlink: die,
    readLink: die
  }
  return { root: Cap.root(Cap.makeDir({ native: "/m", confined: true, ops })), tree, calls }
}

describe("Path over a DirOps of its own (an in-memory fake)", () => {
  it.scoped("every operation reaches the fake's ops", () =>
    Effect.gen(function*() {
      const { root, tree } = memory()
      const j = (s: string) => Path.join(root, s)
      yield* Path.mkdirs(j("a/b"))
      yield* Path.save(j("a/b/f.txt"), "one\ntwo\n")
      yield* Path.save(j("a/b/f.txt"), "three\n", { append: true })
      expect(yield* Path.loadString(j("a/b/f.txt"))).toBe("one\ntwo\nthree\n")
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Path.lines(j("a/b/f.txt"))))).toEqual(["one", "two", "three"])
      yield* Path.save(j("a/z"), "")
      expect(yield* Path.readDir(j("a"))).toEqual(["b", "z"])
      expect(yield* Path.kind(j("a/b"))).toBe("Directory")
      expect(yield* Path.isFile(j("a/b/f.txt"))).toBe(true)
      expect(yield* Path.kind(j("nope"))).toBe("not-found")
      const b = yield* Path.openDir(j("a/b"))
      expect(b.dir.ops.backend).toBe("memory")
      expect((yield* Path.load(Path.join(b, "f.txt"))).length).toBe(14)
      yield* Path.rename(Path.join(b, "f.txt"), j("g"))
      yield* Path.unlink(j("a/z"))
      expect([...tree.keys()].sort()).toEqual(["/m", "/m/a", "/m/a/b", "/m/g"])
    }))

  it.effect("Path checks the path before the fake sees it, and names its own method in the fake's errors", () =>
    Effect.gen(function*() {
      const { root, calls } = memory()
      yield* expectFailure(Path.load(Path.join(root, "../x")), "PermissionDenied")
      yield* expectFailure(Path.save(Path.join(root, "/etc/passwd"), "x"), "PermissionDenied")
      yield* expectFailure(Path.unlink(Path.join(root, "a/..")), "PermissionDenied")
      expect((yield* Effect.flip(Path.load(Path.join(root, "a\0b"))))._tag).toBe("BadArgument")
      const other = Path.nodeRoot("/m", true)
      expect((yield* Effect.flip(Path.rename(Path.join(root, "x"), Path.join(other, "y"))))._tag).toBe("BadArgument")
      expect(calls).toEqual([])
      const e = yield* expectFailure(Path.loadString(Path.join(root, "missing")), "NotFound")
      expect(e.method).toBe("loadString")
      expect(e.pathOrDescriptor).toBe("/m/missing")
      expect(calls).toEqual(["load missing"])
    }))
})
