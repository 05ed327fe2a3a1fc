// Shared helpers for the uring-native tests: temp dirs, pipes, promise wrappers, child processes.
import { execFileSync, spawn } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import v8 from "node:v8"
import vm from "node:vm"
import { fileURLToPath } from "node:url"
import type { OpCallback } from "../src/index.js"

export const packageDir = fileURLToPath(new URL("..", import.meta.url))
/** Absolute path of the compiled facade, for child processes and workers (build with `tsc -b`). */
export const distIndex = path.join(packageDir, "dist", "index.js")
export const distIndexUrl = new URL(`file://${distIndex}`).href

/**
 * A full, synchronous garbage collection. `global.gc` when the worker runs with --expose-gc
 * (vitest.config.ts asks for it, but vitest 3 applies only the root config's poolOptions when
 * the package runs as a workspace project); otherwise the flag is turned on at run time and
 * the `gc` function is taken from a fresh context, which then has it.
 */
const gcFunction: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    v8.setFlagsFromString("--expose-gc")
    const f = vm.runInNewContext("gc") as unknown
    if (typeof f !== "function") throw new Error("cannot get a gc() function: run node with --expose-gc")
    return f as () => void
  })()
export const gc = (): void => gcFunction()

/** A fresh temp dir; remove it with {@link removeTempDirs} (afterEach/afterAll). */
const tempDirs: Array<string> = []
export const makeTempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effio-uring-test-"))
  tempDirs.push(dir)
  return dir
}
export const removeTempDirs = (): void => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/** Opened fds to close in afterEach. */
const openFds = new Set<number>()
export const track = (fd: number): number => {
  openFds.add(fd)
  return fd
}
/** Closes a tracked fd now (so afterEach cannot close a later fd that reuses its number). */
export const closeNow = (fd: number): void => {
  openFds.delete(fd)
  fs.closeSync(fd)
}
export const closeTracked = (): void => {
  for (const fd of openFds) {
    try {
      fs.closeSync(fd)
    } catch {
      // closed by the test itself
    }
  }
  openFds.clear()
}

export interface Pipe {
  /** Blocking read end. */
  readonly r: number
  /** Blocking write end. */
  readonly w: number
}

let fifoCount = 0
/**
 * A real pipe (a FIFO, unlinked right away) with both ends blocking and distinct: closing `w`
 * gives readers EOF. Node has no pipe(2), so: mkfifo, open the read end non-blocking (which
 * does not wait for a writer), open the write end, then reopen the read end blocking through
 * /proc/self/fd (a writer exists now, so that open does not block either).
 */
export const makePipe = (dir: string): Pipe => {
  const p = path.join(dir, `fifo-${process.pid}-${fifoCount++}`)
  execFileSync("mkfifo", [p])
  const nb = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  const w = fs.openSync(p, fs.constants.O_WRONLY)
  const r = fs.openSync(`/proc/self/fd/${nb}`, fs.constants.O_RDONLY)
  fs.closeSync(nb)
  fs.unlinkSync(p)
  return { r: track(r), w: track(w) }
}

/** Runs one op and resolves with its CQE result. */
export const run = (submit: (cb: OpCallback) => number): Promise<number> =>
  new Promise((resolve) => {
    submit((res) => resolve(res))
  })

/** Runs one op and resolves with its CQE result and flags. */
export const runFull = (submit: (cb: OpCallback) => number): Promise<{ res: number; flags: number }> =>
  new Promise((resolve) => {
    submit((res, flags) => resolve({ res, flags }))
  })

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
export const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Deterministic pseudo-random bytes (xorshift32). */
export const pseudoRandomBytes = (length: number, seed = 0x9e3779b9): Buffer => {
  const words = new Uint32Array(Math.ceil(length / 4))
  let x = seed >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    words[i] = x
  }
  return Buffer.from(words.buffer, 0, length)
}

/** The process umask, without the deprecated `process.umask()` read. */
export const umask = (): number => {
  const line = fs.readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith("Umask:"))
  return line ? parseInt(line.split(/\s+/)[1]!, 8) : 0o022
}

/** The `flags:` field (octal) of /proc/self/fdinfo/<fd>. */
export const fdFlags = (fd: number): number => {
  const line = fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").split("\n").find((l) => l.startsWith("flags:"))
  if (!line) throw new Error(`no flags in fdinfo of ${fd}`)
  return parseInt(line.split(/\s+/)[1]!, 8)
}

export interface ChildResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** Milliseconds from spawn to exit. */
  readonly elapsedMs: number
  /** True when the child had to be killed after `timeoutMs`. */
  readonly killed: boolean
}

/** Spawns a child, collects its output, kills it (SIGKILL) if it outlives `timeoutMs`. */
export const runChild = (
  command: string,
  args: ReadonlyArray<string>,
  options: { timeoutMs?: number; cwd?: string; onSpawn?: (child: ReturnType<typeof spawn>) => void } = {}
): Promise<ChildResult> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], cwd: options.cwd ?? process.cwd() })
    let stdout = ""
    let stderr = ""
    let killed = false
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timer = setTimeout(() => {
      killed = true
      child.kill("SIGKILL")
    }, options.timeoutMs ?? 20_000)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, elapsedMs: performance.now() - started, killed })
    })
    options.onSpawn?.(child)
  })

/** Runs an ES module snippet in a child `node` (with --expose-gc). */
export const runNodeScript = (
  script: string,
  options: { timeoutMs?: number; cwd?: string; prefix?: ReadonlyArray<string>; onSpawn?: (child: ReturnType<typeof spawn>) => void } = {}
): Promise<ChildResult> => {
  const nodeArgs = ["--expose-gc", "--input-type=module", "-e", script]
  const prefix = options.prefix ?? []
  return prefix.length > 0
    ? runChild(prefix[0]!, [...prefix.slice(1), process.execPath, ...nodeArgs], options)
    : runChild(process.execPath, nodeArgs, options)
}
