/**
 * cat: copies the files named on the command line (relative to the working directory, which
 * env.cwd confines it to), or stdin when there are none, to stdout.
 * On io_uring, Flow.copy splices when both ends are fds and one is a pipe.
 *
 *   npx tsx examples/cat.ts README.md | wc -c
 *   echo hi | npx tsx examples/cat.ts
 */
import { Path } from "@effio/fs"
import { Flow, Runtime, type Stdenv } from "@effio/runtime"
import { Effect } from "effect"
import { pathToFileURL } from "node:url"

/** Copies one file (opened beneath env.cwd) to stdout in 64 KiB reads. */
const catFile = (env: Stdenv.Stdenv, file: string) =>
  Effect.scoped(Effect.gen(function*() {
    const f = yield* Path.openIn(Path.join(env.cwd, file))
    const buf = new Uint8Array(64 * 1024)
    for (;;) {
      const n = Number(yield* f.read(buf))
      if (n === 0) return
      yield* env.stdout.write(buf.subarray(0, n))
    }
  }))

/** cat of `files` (relative to env.cwd), or of stdin when there are none. */
export const cat = (env: Stdenv.Stdenv, files: ReadonlyArray<string>) =>
  files.length === 0
    ? Effect.asVoid(Flow.copy(env.stdin, env.stdout))
    : Effect.forEach(files, (file) => catFile(env, file), { discard: true })

// Run only as a program (tests import `cat` and run it under Runtime.layerTest).
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  Runtime.run((env) => cat(env, process.argv.slice(2)))
}
