/**
 * wc: lines, words and bytes of each file named on the command line (paths relative to the
 * working directory, which the program can only read beneath: env.cwd is confined), like
 * `wc`. With no files, counts stdin.
 *
 *   npx tsx examples/wc.ts README.md package.json
 */
import { Path } from "@effio/fs"
import { Runtime, type Stdenv } from "@effio/runtime"
import { Effect, Stream } from "effect"
import { pathToFileURL } from "node:url"

interface Counts {
  lines: number
  words: number
  bytes: number
}

// Counts over a stream of byte chunks: a word is a run of non-whitespace bytes.
const count = <E>(chunks: Stream.Stream<Uint8Array, E>) =>
  Stream.runFold(chunks, { lines: 0, words: 0, bytes: 0, inWord: false }, (acc, chunk) => {
    let { inWord, lines, words } = acc
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!
      if (b === 10) lines++
      const space = b === 32 || (b >= 9 && b <= 13)
      if (!space && !inWord) words++
      inWord = !space
    }
    return { lines, words, bytes: acc.bytes + chunk.length, inWord }
  }).pipe(Effect.map(({ bytes, lines, words }): Counts => ({ lines, words, bytes })))

const row = (c: Counts, name: string) =>
  `${String(c.lines).padStart(8)}${String(c.words).padStart(8)}${String(c.bytes).padStart(10)} ${name}\n`

/** wc over `files` (relative to env.cwd), or stdin when there are none. */
export const wc = (env: Stdenv.Stdenv, files: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    if (files.length === 0) {
      yield* env.stdout.write(row(yield* count(env.stdin.stream), ""))
      return
    }
    const total: Counts = { lines: 0, words: 0, bytes: 0 }
    for (const file of files) {
      const data = yield* Path.load(Path.join(env.cwd, file))
      const c = yield* count(Stream.make(data))
      total.lines += c.lines
      total.words += c.words
      total.bytes += c.bytes
      yield* env.stdout.write(row(c, file))
    }
    if (files.length > 1) yield* env.stdout.write(row(total, "total"))
  })

// Run only as a program (tests import `wc` and run it under Runtime.layerTest).
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  Runtime.run((env) => wc(env, process.argv.slice(2)))
}
