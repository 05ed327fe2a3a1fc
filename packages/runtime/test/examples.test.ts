// The examples' programs under Runtime.layerTest, on both backends: what a user's own tests
// of an Effio program look like.
import { describe, expect, it } from "@effect/vitest"
import { Runtime, Stdenv } from "@effio/runtime"
import { Effect, Exit } from "effect"
import { cat } from "../../../examples/cat.js"
import { wc } from "../../../examples/wc.js"

import { captureNodeNotice } from "../../../test-utils/index.js"

// The node backend is chosen on purpose here: its one-line notice stays out of the output.
captureNodeNotice()

const stdout = Effect.flatMap(Runtime.TestOutput, (o) => o.stdout)

describe.each(["io_uring", "node"] as const)("examples under layerTest on %s", (backend) => {
  it.effect("wc counts stdin", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(Stdenv.Stdenv, (env) => wc(env, []))
      expect(yield* stdout).toBe(`${"2".padStart(8)}${"3".padStart(8)}${"14".padStart(10)} \n`)
    }).pipe(Effect.provide(Runtime.layerTest({ stdin: ["one two\n", "three\n"], backend }))))

  it.effect("wc counts files in env.cwd, with a total", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(Stdenv.Stdenv, (env) => wc(env, ["a.txt", "sub/b.txt"]))
      expect((yield* stdout).split("\n").filter((l) => l.length > 0).map((l) => l.trim().split(/\s+/))).toEqual([
        ["0", "2", "8", "a.txt"],
        ["3", "3", "6", "sub/b.txt"],
        ["3", "5", "14", "total"]
      ])
    }).pipe(Effect.provide(Runtime.layerTest({ files: { "a.txt": "hi there", "sub/b.txt": "x\ny\nz\n" }, backend }))))

  it.effect("cat copies files from env.cwd, in order, then stdin when there are none", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      yield* cat(env, ["one", "two"])
      expect(yield* stdout).toBe("first\nsecond\n")
      const big = "x".repeat(200_000)
      const out = yield* Runtime.TestOutput
      yield* out.clear
      yield* cat(env, [])
      expect(yield* stdout).toBe(`from stdin ${big}`)
    }).pipe(Effect.provide(Runtime.layerTest({ files: { one: "first\n", two: "second\n" }, stdin: ["from stdin ", "x".repeat(200_000)], backend }))))

  it.effect("cat of a file outside env.cwd fails with PermissionDenied, of a missing one NotFound", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      for (const [file, reason] of [["../../etc/passwd", "PermissionDenied"], ["missing", "NotFound"]] as const) {
        const exit = yield* Effect.exit(cat(env, [file]))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && (exit.cause.error as { reason?: string }).reason).toBe(reason)
      }
      expect(yield* stdout).toBe("")
    }).pipe(Effect.provide(Runtime.layerTest({ backend }))))
})
