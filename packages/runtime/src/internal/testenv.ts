// The stdenv built for tests (Runtime.layerTest): scripted stdin, captured stdout/stderr, a
// seeded random source and a temporary directory as env.cwd and env.fs, over the real
// backend's stdenv (pipes, net and clocks stay the backend's own).
import { Flow } from "@effio/core"
import { Path } from "@effio/fs"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import type { SecureRandom, Sink, Source, Stdenv } from "../Stdenv.js"

/** What `Runtime.layerTest` accepts for stdin: the chunks the program reads, in order. */
export type Input = string | Uint8Array | ReadonlyArray<string | Uint8Array>

/** Everything written to a captured sink so far. */
export class Capture {
  #parts: Array<Uint8Array> = []
  #length = 0

  readonly sink: Sink = Flow.makeSink(
    (data) =>
      Effect.sync(() => {
        const bytes = Flow.toBytes(data)
        if (bytes.length === 0) return
        // A copy: the writer may reuse its buffer (Flow.copy does).
        this.#parts.push(bytes.slice())
        this.#length += bytes.length
      }),
    Effect.void
  )

  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length)
    let off = 0
    for (const p of this.#parts) {
      out.set(p, off)
      off += p.length
    }
    return out
  }

  text(): string {
    return new TextDecoder().decode(this.bytes())
  }

  clear(): void {
    this.#parts = []
    this.#length = 0
  }
}

/**
 * A source that gives each chunk as reads of its own (a chunk longer than the reader's buffer
 * takes several reads; two chunks never share one), then end of input.
 */
export const scriptedInput = (input: Input | undefined): Source => {
  const chunks = (input === undefined ? [] : typeof input === "string" || input instanceof Uint8Array ? [input] : input)
    .map((c) => Flow.toBytes(c).slice())
    .filter((c) => c.length > 0)
  let i = 0
  let off = 0
  return Flow.makeSource(
    (buf) =>
      Effect.sync(() => {
        const chunk = chunks[i]
        if (chunk === undefined || buf.length === 0) return 0
        const n = Math.min(buf.length, chunk.length - off)
        buf.set(chunk.subarray(off, off + n))
        off += n
        if (off === chunk.length) {
          i++
          off = 0
        }
        return n
      }),
    Effect.void
  )
}

/** A deterministic generator (splitmix32) standing in for `secureRandom`: not secure. */
export const seededRandom = (seed: number): SecureRandom => {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  const fill = (buf: Uint8Array) => {
    for (let k = 0; k < buf.length; k += 4) {
      const r = next()
      for (let b = 0; b < 4 && k + b < buf.length; b++) buf[k + b] = (r >>> (b * 8)) & 0xff
    }
  }
  return {
    fill: (buf) => Effect.sync(() => fill(buf)),
    bytes: (n) => Effect.sync(() => {
      const out = new Uint8Array(n)
      fill(out)
      return out
    })
  }
}

/**
 * A fresh temporary directory holding `files` (relative paths, parent directories made),
 * removed with everything in it when the scope closes (also on failure or interruption).
 */
export const sandboxDir = (files: Readonly<Record<string, string | Uint8Array>> | undefined): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "effio-test-")))
      for (const [name, content] of Object.entries(files ?? {})) {
        const target = nodePath.resolve(dir, name)
        if (nodePath.isAbsolute(name) || !target.startsWith(dir + nodePath.sep)) {
          fs.rmSync(dir, { recursive: true, force: true })
          throw new TypeError(`layerTest: files must be relative paths inside the sandbox, got '${name}'`)
        }
        fs.mkdirSync(nodePath.dirname(target), { recursive: true })
        fs.writeFileSync(target, content)
      }
      return dir
    }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

const replaced = new Set(["fs", "cwd", "stdin", "stdout", "stderr", "secureRandom"])

// The backend's members the test keeps, copied as property descriptors: a spread would call
// the node stdenv's lazy stdio getters and attach listeners to the real process.stdin/stdout.
const inherited = (base: Stdenv): Omit<Stdenv, "fs" | "cwd" | "stdin" | "stdout" | "stderr" | "secureRandom"> =>
  Object.defineProperties(
    {},
    Object.fromEntries(Object.entries(Object.getOwnPropertyDescriptors(base)).filter(([k]) => !replaced.has(k)))
  ) as Omit<Stdenv, "fs" | "cwd" | "stdin" | "stdout" | "stderr" | "secureRandom">

/** The backend's stdenv with the test's stdio, randomness and sandbox in place. */
export const testStdenv = (
  base: Stdenv,
  dir: string,
  options: { readonly stdin?: Input | undefined; readonly seed?: number | undefined },
  stdout: Capture,
  stderr: Capture
): Effect.Effect<Stdenv, never, Scope.Scope> =>
  Effect.map(
    // The sandbox opened as a directory capability (its fd confines every path beneath it).
    Effect.orDie(Path.openDir(Path.join(base.fs, dir))),
    (root): Stdenv => ({
      ...inherited(base),
      fs: root,
      cwd: root,
      stdin: scriptedInput(options.stdin),
      stdout: stdout.sink,
      stderr: stderr.sink,
      secureRandom: options.seed === undefined ? base.secureRandom : seededRandom(options.seed)
    })
  )
