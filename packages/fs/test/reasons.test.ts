// One failure, one reason, whatever the backend: the FileSystem's errors come from Effio's
// errno → reason mapping on io_uring and on node (where NodeFileSystem alone says Unknown),
// and an escape from a confined directory is one message on both Path backends.
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as nfs from "node:fs"
import * as path from "node:path"
import { Path } from "../src/index.js"
import * as UringFileSystem from "../src/UringFileSystem.js"
import { failureOf, tempDir } from "./fs-helpers.js"
import { backends as pathBackends, expectFailure, sandbox } from "./helpers.js"

/** Each failure, with the reason Effio gives it (NodeFileSystem alone says Unknown for all). */
const failures = (fs: FileSystem.FileSystem, dir: string) => {
  const f = path.join(dir, "f")
  const d = path.join(dir, "d")
  return [
    ["EPERM: link of a directory", "PermissionDenied", () => fs.link(d, path.join(dir, "d2"))],
    ["EINVAL: readLink of a regular file", "InvalidData", () => fs.readLink(f)],
    ["EBADF: reading a write-only File", "BadResource", () => Effect.scoped(Effect.flatMap(fs.open(f, { flag: "a" }), (h) => h.readAlloc(4)))],
    ["EBADF: writing a read-only File", "BadResource", () => Effect.scoped(Effect.flatMap(fs.open(f), (h) => h.writeAll(new Uint8Array(1))))],
    ["EINVAL: truncating a read-only File", "InvalidData", () => Effect.scoped(Effect.flatMap(fs.open(f), (h) => h.truncate(0)))]
    // (utimes with an invalid date is EINVAL on Node 20 only: Node 22 and 24 accept NaN dates.)
  ] as const
}

const reasonsOn = (layer: typeof UringFileSystem.layerNode | typeof UringFileSystem.layerStrict) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* tempDir
    nfs.writeFileSync(path.join(dir, "f"), "data")
    nfs.mkdirSync(path.join(dir, "d"))
    const out: Record<string, string> = {}
    for (const [what, , op] of failures(fs, dir)) {
      const exit = yield* Effect.exit(op() as Effect.Effect<unknown, unknown>)
      const e = failureOf(exit) as { _tag: string; reason?: string }
      out[what] = e._tag === "SystemError" ? e.reason! : e._tag
    }
    return out
  }).pipe(Effect.scoped, Effect.provide(layer))

describe("FileSystem error reasons", () => {
  it.effect("io_uring (layerStrict) and node (layerNode, layer's fallback) give Effio's reason for each errno", () =>
    Effect.gen(function*() {
      const expected = Object.fromEntries(failures(undefined as never, "/x").map(([what, reason]) => [what, reason]))
      expect(yield* reasonsOn(UringFileSystem.layerStrict)).toEqual(expected)
      expect(yield* reasonsOn(UringFileSystem.layerNode)).toEqual(expected)
      // (NodeFileSystem alone: Unknown for every one of them, the reason layerNode re-maps)
      const plain = yield* reasonsOn(NodeFileSystem.layer as typeof UringFileSystem.layerNode)
      expect(Object.values(plain)).toEqual(Object.values(expected).map(() => "Unknown"))
    }))
})

describe.each(pathBackends)("Path on %s: an escape is one message", (_name, make) => {
  const message = (rel: string, dir: string) => `'${rel}' leads out of the confined directory '${dir}'`

  it.scoped("'..' up front, a symlink out, a symlink chain out, an absolute path: the same description on both backends", () =>
    Effect.gen(function*() {
      const sb = yield* sandbox(make)
      nfs.mkdirSync(path.join(sb.sb, "a"))
      nfs.symlinkSync("/", path.join(sb.sb, "root"))
      nfs.symlinkSync("b", path.join(sb.sb, "l"))
      nfs.symlinkSync("../secret", path.join(sb.sb, "b"))
      for (const rel of ["../secret", "a/../../secret", "root/etc/passwd", "l", "b", "/etc/passwd"]) {
        const e = yield* expectFailure(Path.loadString(Path.join(sb.root, rel)), "PermissionDenied")
        expect(e.description).toBe(message(rel, sb.sb))
        expect(e.method).toBe("loadString")
      }
      // ops on the last component open the parent beneath the dir: the message names the path asked for
      const e = yield* expectFailure(Path.mkdir(Path.join(sb.root, "root/tmp/x")), "PermissionDenied")
      expect(e.description).toBe(message("root/tmp/x", sb.sb))
      expect(Exit.isFailure(yield* Effect.exit(Path.save(Path.join(sb.root, "b"), "x")))).toBe(true)
      expect(sb.snapshot().secret).toBe("file:644:1:SENTINEL")
    }))
})
