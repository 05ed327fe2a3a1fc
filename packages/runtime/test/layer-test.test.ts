// Runtime.layerTest: scripted stdin, captured stdout/stderr, TestClock-driven clocks, seeded
// randomness and a temp-dir sandbox, with real I/O on both backends.
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Path } from "@effio/fs"
import { Flow, Runtime, Stdenv, Switch } from "@effio/runtime"
import { Effect, Exit, Fiber, Layer, Stream, TestClock } from "effect"
import * as fs from "node:fs"

import { captureNodeNotice } from "../../../test-utils/index.js"

// The node backend is chosen on purpose here: its one-line notice stays out of the output.
captureNodeNotice()

const backends = ["io_uring", "node"] as const

const output = Effect.flatMap(Runtime.TestOutput, (o) => Effect.all({ stdout: o.stdout, stderr: o.stderr }))

/** The program a user would test: upper-cases stdin, line by line. */
const upcase = (env: Stdenv.Stdenv) =>
  Flow.lines(env.stdin).pipe(Stream.runForEach((line) => env.stdout.write(`${line.toUpperCase()}\n`)))

describe.each(backends)("Runtime.layerTest on %s", (backend) => {
  it.effect("stdin lines in, upper-cased lines out; backendId is the real backend", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      expect(env.backendId).toBe(backend)
      yield* upcase(env)
      expect(yield* output).toEqual({ stdout: "A\nBC\nD\n", stderr: "" })
    }).pipe(Effect.provide(Runtime.layerTest({ stdin: ["a\nb", "c\nd\n"], backend }))))

  it.effect("each stdin chunk is a read of its own, then end of input", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const buf = new Uint8Array(4)
      const reads: Array<string> = []
      for (;;) {
        const n = yield* env.stdin.read(buf)
        if (n === 0) break
        reads.push(new TextDecoder().decode(buf.subarray(0, n)))
      }
      expect(reads).toEqual(["ab", "cdef", "gh", "i"])
    }).pipe(Effect.provide(Runtime.layerTest({ stdin: ["ab", new TextEncoder().encode("cdefgh"), "i"], backend }))))

  it.effect("files are in the sandbox: through Path relative to env.cwd, and through FileSystem", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      expect(yield* Path.loadString(Path.join(env.cwd, "notes.txt"))).toBe("hello")
      expect(yield* Path.loadString(Path.join(env.cwd, "a/b/deep.txt"))).toBe("deep")
      // env.fs is the same confined directory: relative paths resolve in it.
      expect(yield* Path.loadString(Path.join(env.fs, "notes.txt"))).toBe("hello")
      const dir = yield* Path.native(env.cwd)
      const fsys = yield* FileSystem.FileSystem
      expect(yield* fsys.readFileString(`${dir}/a/b/deep.txt`)).toBe("deep")
      yield* Path.save(Path.join(env.cwd, "out.txt"), "written")
      expect(fs.readFileSync(`${dir}/out.txt`, "utf8")).toBe("written")
    }).pipe(Effect.provide(Runtime.layerTest({ files: { "notes.txt": "hello", "a/b/deep.txt": "deep" }, backend }))))

  it.effect("env.fs and env.cwd refuse the machine outside the sandbox", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      for (const p of [Path.join(env.fs, "/etc/passwd"), Path.join(env.cwd, "../../etc/passwd")]) {
        const exit = yield* Effect.exit(Path.loadString(p))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
          expect(exit.cause.error._tag).toBe("SystemError")
          expect((exit.cause.error as { reason: string }).reason).toBe("PermissionDenied")
        } else throw new Error("expected a typed failure")
      }
    }).pipe(Effect.provide(Runtime.layerTest({ backend }))))

  it.effect("a one-hour sleep ends at TestClock.adjust, instantly", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const started = Date.now()
      const fiber = yield* Effect.fork(Effect.zipRight(env.clock.sleep("1 hour"), env.stdout.write("woke\n")))
      yield* TestClock.adjust("59 minutes")
      expect((yield* output).stdout).toBe("")
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect((yield* output).stdout).toBe("woke\n")
      expect(yield* env.monoClock.now).toBe(3_600_000_000_000n)
      expect(Date.now() - started).toBeLessThan(5_000)
    }).pipe(Effect.provide(Runtime.layerTest({ backend }))))

  it.effect("a failing program's stderr is captured; clear forgets it", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const failing = Effect.zipRight(env.stderr.write("boom: bad input\n"), Effect.fail("bad input"))
      expect(yield* Effect.flip(failing)).toBe("bad input")
      const out = yield* Runtime.TestOutput
      expect(yield* out.stderr).toBe("boom: bad input\n")
      expect(new TextDecoder().decode(yield* out.stderrBytes)).toBe("boom: bad input\n")
      yield* out.clear
      expect(yield* out.stderr).toBe("")
    }).pipe(Effect.provide(Runtime.layerTest({ backend }))))

  it.effect("the seed makes secureRandom reproducible", () =>
    Effect.gen(function*() {
      const run = (seed: number) =>
        Effect.flatMap(Stdenv.Stdenv, (env) => env.secureRandom.bytes(16)).pipe(Effect.provide(Runtime.layerTest({ seed, backend })))
      const a = yield* run(42)
      const b = yield* run(42)
      const c = yield* run(43)
      expect(a).toEqual(b)
      expect(a).not.toEqual(c)
      expect(new Set(a).size).toBeGreaterThan(4)
    }))

  it.effect("env.pipe, Switch and Flow.copy work over the captured stdio", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      yield* Switch.run((sw) =>
        Effect.gen(function*() {
          const { sink, source } = yield* env.pipe
          yield* Switch.fork(sw, Effect.zipRight(Flow.copy(env.stdin, sink), sink.close))
          yield* Flow.copy(source, env.stdout)
        })
      )
      expect((yield* output).stdout).toBe("through a pipe\n")
    }).pipe(Effect.provide(Runtime.layerTest({ stdin: "through a pipe\n", backend }))))

  it.effect("the sandbox is removed when the layer's scope closes, also after a failure", () =>
    Effect.gen(function*() {
      let dir = ""
      const exit = yield* Effect.exit(
        Effect.gen(function*() {
          const env = yield* Stdenv.Stdenv
          dir = yield* Path.native(env.cwd)
          expect(fs.existsSync(`${dir}/f`)).toBe(true)
          return yield* Effect.fail("fails")
        }).pipe(Effect.provide(Runtime.layerTest({ files: { f: "x" }, backend })))
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(dir).not.toBe("")
      expect(fs.existsSync(dir)).toBe(false)
    }))

  it.effect("a file path leading out of the sandbox is refused", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.provide(Stdenv.Stdenv, Layer.fresh(Runtime.layerTest({ files: { "../x": "no" }, backend }))))
      expect(Exit.isFailure(exit)).toBe(true)
    }))
})
