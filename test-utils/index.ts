// Test helpers shared by every package's suites (imported by relative path; not a package):
// temp dirs, fd counting, payloads, byte comparisons, and child processes running
// TypeScript fixtures with the tsx loader.
import { expect } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { Worker } from "node:worker_threads"

export const repoDir = path.resolve(fileURLToPath(new URL(".", import.meta.url)), "..")

/** The tsx ESM loader, so children run as one `node` process (signals reach the program itself). */
export const tsxLoader = pathToFileURL(createRequire(path.join(repoDir, "package.json")).resolve("tsx")).href

/** Open file descriptors of this process right now. */
export const countFds = (): number => fs.readdirSync("/proc/self/fd").length

/** A fresh temp dir (real path, symlinks resolved), removed (recursively) when the scope closes. */
export const makeTempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

export { payload, rng } from "./random.js"

/** The 16-byte block tagged `k`: k (u32 LE) four times (a block read at the wrong place shows). */
export const tagBlock = (k: number): Uint8Array => new Uint8Array(new Uint32Array([k, k, k, k]).buffer)

/** `count` {@link tagBlock}s back to back, block k at byte k * 16. */
export const tagBlocks = (count: number): Uint8Array => {
  const out = new Uint8Array(count * 16)
  for (let k = 0; k < count; k++) out.set(tagBlock(k), k * 16)
  return out
}

/** True when the 16 bytes at the start of `buf` are {@link tagBlock}`(k)`. */
export const isTagBlock = (buf: Uint8Array, k: number): boolean => {
  const v = new DataView(buf.buffer, buf.byteOffset, 16)
  for (let i = 0; i < 16; i += 4) if (v.getUint32(i, true) !== k) return false
  return true
}

/** An 8-byte message for `tag`: the tag and its complement (a torn or mixed read shows). */
export const tagMessage = (tag: number): Uint8Array => new Uint8Array(new Uint32Array([tag, ~tag >>> 0]).buffer)

/** The tag of an 8-byte {@link tagMessage}, or -1 when the bytes are not one. */
export const messageTag = (buf: Uint8Array): number => {
  const v = new DataView(buf.buffer, buf.byteOffset, 8)
  const tag = v.getUint32(0, true)
  return v.getUint32(4, true) === (~tag >>> 0) ? tag : -1
}

/** `count` {@link tagMessage}s back to back, tags 0..count-1. */
export const tagMessages = (count: number): Uint8Array => {
  const out = new Uint8Array(count * 8)
  for (let k = 0; k < count; k++) out.set(tagMessage(k), k * 8)
  return out
}

export const concat = (parts: ReadonlyArray<Uint8Array>, total = parts.reduce((a, p) => a + p.length, 0)): Uint8Array => {
  const out = new Uint8Array(total)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** Anything read like a Flow source: `read(buf)` gives the bytes read, 0 at the end. */
export interface Readable<E> {
  readonly read: (buf: Uint8Array) => Effect.Effect<number, E>
}

/**
 * Reads `source` to its end with `chunk`-sized reads: all bytes, in order. Past `limit`
 * bytes it fails instead (a peer that never ends must not fill the memory of a test).
 */
export const readToEnd = <E>(
  source: Readable<E>,
  options: { readonly chunk?: number; readonly limit?: number } = {}
): Effect.Effect<Uint8Array, E | Error> =>
  Effect.suspend(() => {
    const buf = new Uint8Array(options.chunk ?? 64 * 1024)
    const limit = options.limit ?? Number.POSITIVE_INFINITY
    const parts: Array<Uint8Array> = []
    let total = 0
    const loop: Effect.Effect<Uint8Array, E | Error> = Effect.flatMap(source.read(buf), (n) => {
      if (n === 0) return Effect.sync(() => concat(parts, total))
      parts.push(buf.slice(0, n))
      total += n
      return total > limit ? Effect.fail(new Error(`more than ${limit} bytes`)) : loop
    })
    return loop
  })

/** Writes `data` from another fiber, half-closes, and reads the whole reply. */
export const roundTrip = <E>(
  conn: Readable<E> & {
    readonly write: (data: Uint8Array | string) => Effect.Effect<void, E>
    readonly shutdown: (how: "send") => Effect.Effect<void, E>
  },
  data: Uint8Array | string,
  limit = 64 * 1024 * 1024
): Effect.Effect<Uint8Array, E | Error> =>
  Effect.gen(function*() {
    const writer = yield* Effect.fork(Effect.zipRight(conn.write(data), conn.shutdown("send")))
    const reply = yield* readToEnd(conn, { limit })
    yield* Fiber.join(writer)
    return reply
  })

/** Asserts `actual` equals `expected` byte for byte, without printing megabytes when they differ. */
export const expectSameBytes = (actual: Uint8Array, expected: Uint8Array): void => {
  const n = Math.min(actual.length, expected.length)
  let i = 0
  while (i < n && actual[i] === expected[i]) i++
  expect({ length: actual.length, firstDifference: i === n && actual.length === expected.length ? -1 : i })
    .toEqual({ length: expected.length, firstDifference: -1 })
}

/** Non-empty lines of a text. */
export const linesOf = (text: string): Array<string> => text.split("\n").filter((l) => l.length > 0)

/** The absolute path of `cmd` on PATH, or undefined. */
export const which = (cmd: string): string | undefined => {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const p = path.join(dir, cmd)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {
      // not here
    }
  }
  return undefined
}

export interface ChildResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: Buffer
  readonly stderr: string
  /** Milliseconds from spawn to exit. */
  readonly elapsedMs: number
  readonly timedOut: boolean
}

export interface ChildOptions {
  readonly env?: Record<string, string | undefined>
  /** Written to the child's stdin, which is then closed. */
  readonly input?: Uint8Array
  /** Leave the child's stdin pipe open (never written, never closed) until the child exits. */
  readonly holdStdinOpen?: boolean
  /** SIGKILL after this long (the result says `timedOut`). Default 40 s. */
  readonly timeoutMs?: number
  /** Called with each stdout chunk and the process, e.g. to signal it once it printed "ready". */
  readonly onStdout?: (text: string, child: ChildProcess) => void
  readonly cwd?: string
}

// Children start slowly (~1 s of CPU for node + tsx + effect): too many at once on a small
// machine would make each one's timings meaningless, so at most this many run at a time.
const maxChildren = Math.max(2, os.availableParallelism() * 2)
let runningChildren = 0
const waitingChildren: Array<() => void> = []
const withChildSlot = async <A>(f: () => Promise<A>): Promise<A> => {
  if (runningChildren >= maxChildren) await new Promise<void>((resolve) => waitingChildren.push(resolve))
  runningChildren++
  try {
    return await f()
  } finally {
    runningChildren--
    waitingChildren.shift()?.()
  }
}

/** Runs `command args...` and collects its output and exit status. */
export const runChild = (command: string, args: ReadonlyArray<string>, options: ChildOptions = {}): Promise<ChildResult> =>
  withChildSlot(() => spawnChild(command, args, options))

const spawnChild = (command: string, args: ReadonlyArray<string>, options: ChildOptions): Promise<ChildResult> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const env: Record<string, string | undefined> = { ...process.env, ...options.env }
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k]
    const child = spawn(command, args, {
      cwd: options.cwd ?? repoDir,
      env: env as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"]
    })
    const out: Array<Buffer> = []
    let err = ""
    let seen = ""
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, options.timeoutMs ?? 40_000)
    child.stdout.on("data", (d: Buffer) => {
      out.push(d)
      if (options.onStdout) {
        seen += d.toString("utf8")
        options.onStdout(seen, child)
      }
    })
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString("utf8")
    })
    child.stdin.on("error", () => {}) // EPIPE when the child exits first
    if (options.input !== undefined) child.stdin.end(options.input)
    else if (!options.holdStdinOpen) child.stdin.end()
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      if (!child.stdin.destroyed) child.stdin.destroy()
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err, elapsedMs: performance.now() - started, timedOut })
    })
  })

/** Runs a TypeScript file with `node --import tsx` (one process: signals reach it directly). */
export const runTs = (file: string, args: ReadonlyArray<string> = [], options: ChildOptions & { readonly prefix?: ReadonlyArray<string> } = {}) => {
  const argv = ["--import", tsxLoader, file, ...args]
  return options.prefix && options.prefix.length > 0
    ? runChild(options.prefix[0]!, [...options.prefix.slice(1), process.execPath, ...argv], options)
    : runChild(process.execPath, argv, options)
}


/**
 * Keeps the node backend's one-line notice ("effio: using the node backend: …", printed once
 * per process) out of the test output, for suites that choose the node backend on purpose.
 * Other stderr writes pass through. Returns the notices seen, so a suite can assert them.
 */
export const captureNodeNotice = (): (() => ReadonlyArray<string>) => {
  const seen: Array<string> = []
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: Array<unknown>) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")
    if (text.startsWith("effio: using the node backend")) {
      seen.push(text)
      return true
    }
    return (write as (...args: Array<unknown>) => boolean)(chunk, ...rest)
  }) as typeof process.stderr.write
  return () => seen
}

/** A worker's first message; rejects on its error, or when none comes within `ms`. */
export const firstMessage = <A = unknown>(worker: Worker, ms = 10_000): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message from the worker within ${ms / 1000} s`)), ms)
    worker.once("message", (m: A) => {
      clearTimeout(timer)
      resolve(m)
    })
    worker.once("error", reject)
  })
