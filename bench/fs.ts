/**
 * fs: the `@effect/platform` FileSystem over io_uring (`@effio/fs`, `UringFileSystem.layer`)
 * against `@effect/platform-node`'s `NodeFileSystem.layer` and Node's own fs APIs.
 *
 * 1. random 4 KiB `File.read` at 32 fibers on one handle of a page-cached file (seek+read and
 *    Effio's positional `readAt`), vs `FileHandle.read` and callback `fs.read` at 32 in flight;
 * 2. `readFile` of 10,000 small files (1–4 KiB) at 32 in flight;
 * 3. 1 GiB `copyFile` and 1 GiB sequential `readFile`.
 *
 * Every case runs in a fresh child process (lib/child.ts) and checks what it got: byte
 * counts on every op, content against the expected bytes on a sample, so a broken path
 * cannot look fast. `EFFIO_BENCH_FS_CASES=a,b` runs only the cases whose name contains one of
 * the comma-separated substrings (handy for profiling one case).
 *
 * Cases that use the big test file read it once before measuring: page cache left idle for
 * a while may be dropped (e.g. by a DAMON pageout scheme), and "page-cached" must hold.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PerformanceObserver, performance } from "node:perf_hooks"
import * as v8 from "node:v8"
import { runInNewContext } from "node:vm"
import type { FileSystem as PlatformFileSystem } from "@effect/platform"
import type { Effect as EffectNs } from "effect"
import type { Benchmark } from "./lib/benchmark.ts"
import { type ChildCase, type ChildOutcome, runChildren } from "./lib/child.ts"
import { type Counter, type Measured, type Timing, timedAsync, timingFromEnv } from "./lib/measure.ts"
import { procNotes } from "./lib/proc.ts"
import { randomPositions, seededRandom } from "./lib/rand.ts"
import { fmtInt, fmtNum, printTable } from "./lib/table.ts"
import { ensureTestFile, fileSizeFromEnv, warmPageCache } from "./lib/testfile.ts"

const KiB = 1024
const MiB = 1024 * KiB
const BLOCK = 4 * KiB
const DEPTH = 32
const SEED = 0x5eed
/** Full content comparison on every SAMPLE-th op (byte counts are checked on every op). */
const SAMPLE = 16

const SMALL_COUNT = 10_000
const SMALL_MIN = 1 * KiB
const SMALL_MAX = 4 * KiB
const SMALL_SEED = 0xf11e5
const SMALL_MIN_PASSES = 3

type Impl = "effio" | "node"
type SchedulerChoice = "loop" | "default"

interface CaseMeasured extends Measured {
  readonly bytes?: number
  /** Seconds of the fastest timed iteration (big-file cases). */
  readonly bestSeconds?: number
  readonly notes?: string
}

type CaseResult = CaseMeasured | { readonly skipped: string }

// ---------------------------------------------------------------------------------------------
// Shared child-side helpers

/** The test file is one 1 MiB chunk repeated (lib/testfile.ts): its first MiB tells every block. */
const readChunk = (file: string): Buffer => {
  const chunk = Buffer.alloc(MiB)
  const fd = fs.openSync(file, "r")
  try {
    if (fs.readSync(fd, chunk, 0, MiB, 0) !== MiB) throw new Error(`${file} is shorter than 1 MiB`)
  } finally {
    fs.closeSync(fd)
  }
  return chunk
}

/** The bytes the test file holds at `pos` (block-aligned, `len` ≤ 1 MiB - pos % 1 MiB). */
const expectedAt = (chunk: Buffer, pos: number, len: number): Buffer => chunk.subarray(pos % MiB, (pos % MiB) + len)

const asBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength))

/** Zero the first and last byte before a read (the file has no zero bytes). */
const arm = (buf: Uint8Array): void => {
  buf[0] = 0
  buf[BLOCK - 1] = 0
}

/**
 * Checks 4 KiB random reads. Positional reads must return exactly the block asked for. A
 * cursor read (seek, then read) may race with another fiber's seek on the same handle, so it
 * may read another 4 KiB-aligned block (counted as `raced`) or 0 bytes at the end of the file
 * (`eof`); any other block content, or a count other than 0/4096, fails the case.
 */
class ReadChecker {
  readonly #chunk: Buffer
  // first 6 bytes of each block of the chunk → block index
  readonly #byKey = new Map<number, number>()
  sampled = 0
  raced = 0
  eof = 0
  bytes = 0

  constructor(file: string, readonly positional: boolean) {
    this.#chunk = readChunk(file)
    for (let b = 0; b < MiB / BLOCK; b++) this.#byKey.set(this.#chunk.readUIntLE(b * BLOCK, 6), b)
  }

  check(n: number, buf: Uint8Array, pos: number, sample: boolean): void {
    if (n === 0 && !this.positional) {
      this.eof++
      return
    }
    if (n !== BLOCK || buf[0] === 0 || buf[BLOCK - 1] === 0) {
      throw new Error(`read of ${BLOCK} bytes at ${pos} gave ${n}${n === BLOCK ? " but left the buffer unfilled" : ""}`)
    }
    this.bytes += n
    if (!sample) return
    this.sampled++
    const got = asBuffer(buf)
    if (got.equals(expectedAt(this.#chunk, pos, BLOCK))) return
    const b = this.positional ? undefined : this.#byKey.get(got.readUIntLE(0, 6))
    if (b !== undefined && got.equals(this.#chunk.subarray(b * BLOCK, (b + 1) * BLOCK))) {
      this.raced++
      return
    }
    throw new Error(`read at ${pos}: the content is not the file's (${this.positional ? "positional" : "no block of the file matches"})`)
  }

  /** Called after the run: too many 0-byte reads means the cursor path is broken, not racy. */
  verdict(ops: number): string {
    if (this.eof > Math.max(8, ops * 0.01)) throw new Error(`${this.eof} of ${ops} cursor reads returned 0 bytes`)
    if (this.sampled === 0) throw new Error("no read was content-checked")
    return this.positional
      ? `${fmtInt(this.sampled)} blocks content-checked`
      : `${fmtInt(this.sampled)} blocks content-checked, ${fmtInt(this.raced)} of them raced to another offset (${fmtNum((this.raced / this.sampled) * 100, 1)}%), ${this.eof} EOF reads`
  }
}

/**
 * Time spent in GC (PerformanceObserver "gc" entries): `share(seconds)` is the GC time of the
 * last `seconds` before the call (the timed window) as a share of it. A large share means V8
 * is copying many survivors per scavenge (see the report's notes on pretenuring).
 */
const gcMeter = () => {
  const entries: Array<{ startTime: number; duration: number }> = []
  const take = (list: ReadonlyArray<{ startTime: number; duration: number }>) => {
    for (const e of list) entries.push({ startTime: e.startTime, duration: e.duration })
  }
  const obs = new PerformanceObserver((list) => take(list.getEntries()))
  obs.observe({ entryTypes: ["gc"] })
  return {
    share: (seconds: number): string => {
      take(obs.takeRecords())
      obs.disconnect()
      const from = performance.now() - seconds * 1000
      let ms = 0
      let n = 0
      for (const e of entries) {
        if (e.startTime < from) continue
        ms += e.duration
        n++
      }
      return `GC ${fmtNum(ms / (seconds * 10), 0)}% (${n} pauses)`
    }
  }
}

/** DEPTH workers that each call `chain(counter, resolve, reject)`; settles when all are done. */
const chains = (counter: Counter, chain: (counter: Counter, resolve: () => void, reject: (e: unknown) => void) => void) =>
  Promise.all(Array.from({ length: DEPTH }, () => new Promise<void>((resolve, reject) => chain(counter, resolve, reject))))

const ringNotes = (info: { completions: number; batches: number; submitted: number; enters: number }) =>
  `${fmtNum(info.completions / info.batches, 1)} CQEs/batch, ${fmtNum(info.submitted / info.enters, 1)} SQEs/enter`

/** Which Effect FileSystem a case uses, and how it runs it. */
interface EffectCase {
  readonly impl: Impl
  readonly scheduler: SchedulerChoice
  /** V8 flags set at the start of the case (`v8.setFlagsFromString`), for diagnosis rows. */
  readonly v8Flags?: string
}

interface EffectFs {
  readonly fs: PlatformFileSystem.FileSystem
  /** Runs `eff` on the chosen scheduler. */
  readonly run: <A, E>(eff: EffectNs.Effect<A, E>) => Promise<A>
  readonly notes: () => string
  readonly dispose: () => Promise<void>
}

/**
 * The FileSystem service of `impl`, built once (ManagedRuntime) and used directly: its
 * methods need no context. Effio is `UringFileSystem.layer`, built the same way
 * (`layerUring` on `Uring.layer()`) but with the Uring service kept for its counters.
 */
const effectFs = async ({ impl, scheduler, v8Flags }: EffectCase): Promise<EffectFs> => {
  if (v8Flags !== undefined) v8.setFlagsFromString(v8Flags)
  const Effect = await import("effect/Effect")
  const Layer = await import("effect/Layer")
  const ManagedRuntime = await import("effect/ManagedRuntime")
  // module paths, not the barrels: "@effect/platform" would also load HttpApi's swagger UI
  const FileSystem = await import("@effect/platform/FileSystem")
  const { Scheduler, Uring } = await import("@effio/runtime")
  const run = <A, E>(eff: EffectNs.Effect<A, E>): Promise<A> =>
    Effect.runPromise(scheduler === "loop" ? Scheduler.withLoopScheduler(eff) : eff)
  if (impl === "effio") {
    const { UringFileSystem } = await import("@effio/fs")
    const rt = ManagedRuntime.make(UringFileSystem.layerUring.pipe(Layer.provideMerge(Uring.layer())))
    const [service, uring] = await rt.runPromise(Effect.all([FileSystem.FileSystem, Uring.Uring]))
    return { fs: service, run, notes: () => `${procNotes()}; ${ringNotes(uring.ring.info())}`, dispose: () => rt.dispose() }
  }
  const NodeFileSystem = await import("@effect/platform-node/NodeFileSystem")
  const rt = ManagedRuntime.make(NodeFileSystem.layer)
  const service = await rt.runPromise(FileSystem.FileSystem)
  return { fs: service, run, notes: procNotes, dispose: () => rt.dispose() }
}

// ---------------------------------------------------------------------------------------------
// 1. Random 4 KiB reads of one handle (cases run in children)

interface RandomArgs {
  readonly file: string
  readonly size: number
  readonly timing: Timing
}

interface RandomEffectArgs extends RandomArgs, EffectCase {
  /** `seek`: `file.seek(pos, "start")` then `file.read(buf)`; `readAt`: Effio's `file.readAt(buf, pos)`. */
  readonly mode: "seek" | "readAt"
}

type ReadAt = (buffer: Uint8Array, offset: PlatformFileSystem.SizeInput) => EffectNs.Effect<PlatformFileSystem.Size, unknown>

/** DEPTH fibers on one `FileSystem.File`, each looping seek+read (or readAt) of 4 KiB. */
export const randomEffect = async (a: RandomEffectArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  const Effect = await import("effect/Effect")
  const Exit = await import("effect/Exit")
  const Scope = await import("effect/Scope")
  const env = await effectFs(a)
  const scope = Effect.runSync(Scope.make())
  const file = await Effect.runPromise(Scope.extend(env.fs.open(a.file, { flag: "r" }), scope))
  const readAt = (file as unknown as { readAt?: ReadAt }).readAt
  if (a.mode === "readAt" && typeof readAt !== "function") throw new Error(`${a.impl}'s File has no readAt`)
  const checker = new ReadChecker(a.file, a.mode === "readAt")
  const next = randomPositions(a.size, BLOCK, SEED)

  const worker = (counter: Counter): EffectNs.Effect<void, unknown> => {
    const buf = new Uint8Array(BLOCK)
    let pos = 0
    let i = 0
    const step: EffectNs.Effect<PlatformFileSystem.Size, unknown> = a.mode === "readAt"
      ? Effect.suspend(() => {
        pos = next()
        arm(buf)
        return readAt!.call(file, buf, pos)
      })
      : Effect.suspend(() => {
        pos = next()
        arm(buf)
        return Effect.zipRight(file.seek(pos, "start"), file.read(buf))
      })
    const loop: EffectNs.Effect<void, unknown> = Effect.flatMap(step, (n) => {
      checker.check(Number(n), buf, pos, ++i % SAMPLE === 0)
      counter.ops++
      return counter.stop ? Effect.void : loop
    })
    return loop
  }

  const gc = gcMeter()
  const m = await timedAsync(a.timing, (counter) =>
    env.run(Effect.forEach(Array.from({ length: DEPTH }), () => worker(counter), { concurrency: "unbounded", discard: true })))
  const notes = `${gc.share(m.seconds)}; ${env.notes()}; ${checker.verdict(m.ops)}`
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await env.dispose()
  return { ...m, notes }
}

/** DEPTH async loops awaiting `FileHandle.read(buf, 0, 4096, pos)`. */
export const randomFileHandle = async (a: RandomArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  const fh = await fs.promises.open(a.file, "r")
  const checker = new ReadChecker(a.file, true)
  const next = randomPositions(a.size, BLOCK, SEED)
  const loop = async (counter: Counter) => {
    const buf = new Uint8Array(BLOCK)
    let i = 0
    while (!counter.stop) {
      const pos = next()
      arm(buf)
      const { bytesRead } = await fh.read(buf, 0, BLOCK, pos)
      checker.check(bytesRead, buf, pos, ++i % SAMPLE === 0)
      counter.ops++
    }
  }
  const gc = gcMeter()
  const m = await timedAsync(a.timing, (counter) => Promise.all(Array.from({ length: DEPTH }, () => loop(counter))))
  const notes = `${gc.share(m.seconds)}; ${procNotes()}; ${checker.verdict(m.ops)}`
  await fh.close()
  return { ...m, notes }
}

/** DEPTH chains of callback `fs.read`: each callback issues its chain's next read. */
export const randomCallback = async (a: RandomArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  const fd = fs.openSync(a.file, "r")
  const checker = new ReadChecker(a.file, true)
  const next = randomPositions(a.size, BLOCK, SEED)
  const gc = gcMeter()
  const m = await timedAsync(a.timing, (counter) =>
    chains(counter, (counter, resolve, reject) => {
      const buf = new Uint8Array(BLOCK)
      let pos = 0
      let i = 0
      const issue = () => {
        pos = next()
        arm(buf)
        fs.read(fd, buf, 0, BLOCK, pos, done)
      }
      const done = (err: Error | null, n: number) => {
        try {
          if (err) throw err
          checker.check(n, buf, pos, ++i % SAMPLE === 0)
        } catch (e) {
          return reject(e)
        }
        counter.ops++
        if (counter.stop) resolve()
        else issue()
      }
      issue()
    }))
  const notes = `${gc.share(m.seconds)}; ${procNotes()}; ${checker.verdict(m.ops)}`
  fs.closeSync(fd)
  return { ...m, notes }
}

// ---------------------------------------------------------------------------------------------
// 2. Small files

interface Manifest {
  readonly seed: number
  readonly count: number
  readonly sizes: ReadonlyArray<number>
  /** FNV-1a 32 of each file. */
  readonly sums: ReadonlyArray<number>
}

const fnv1a = (u: Uint8Array): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i]!, 0x01000193)
  return h >>> 0
}

const smallName = (i: number) => `f${String(i).padStart(5, "0")}.bin`

/**
 * `os.tmpdir()/effio-bench-small-<count>-<seed>/`: SMALL_COUNT files of SMALL_MIN..SMALL_MAX
 * bytes (sizes and contents from a fixed seed) plus manifest.json (sizes, checksums). Each
 * file starts with its index and size (u32 LE). Reused when present; built in a temporary
 * directory renamed into place, so an interrupted run leaves no half set behind.
 */
const ensureSmallFiles = (): { dir: string; created: boolean; manifest: Manifest } => {
  const dir = path.join(os.tmpdir(), `effio-bench-small-${SMALL_COUNT}-${SMALL_SEED.toString(16)}`)
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Manifest
    if (manifest.seed === SMALL_SEED && manifest.count === SMALL_COUNT && manifest.sizes.length === SMALL_COUNT) {
      return { dir, created: false, manifest }
    }
  } catch {}
  const tmp = `${dir}.${process.pid}.tmp`
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp)
  const rnd = seededRandom(SMALL_SEED)
  const sizes: Array<number> = []
  const sums: Array<number> = []
  for (let i = 0; i < SMALL_COUNT; i++) {
    const size = SMALL_MIN + Math.floor(rnd() * (SMALL_MAX - SMALL_MIN + 1))
    const data = Buffer.allocUnsafe(size)
    for (let j = 8; j < size; j++) data[j] = 1 + Math.floor(rnd() * 255)
    data.writeUInt32LE(i, 0)
    data.writeUInt32LE(size, 4)
    fs.writeFileSync(path.join(tmp, smallName(i)), data)
    sizes.push(size)
    sums.push(fnv1a(data))
  }
  const manifest: Manifest = { seed: SMALL_SEED, count: SMALL_COUNT, sizes, sums }
  fs.writeFileSync(path.join(tmp, "manifest.json"), JSON.stringify(manifest))
  fs.rmSync(dir, { recursive: true, force: true })
  fs.renameSync(tmp, dir)
  return { dir, created: true, manifest }
}

interface SmallArgs {
  readonly dir: string
  readonly timing: Timing
}

interface SmallEffectArgs extends SmallArgs, EffectCase {}

/** Checks one small file: size, header on every file, full checksum on every SAMPLE-th. */
const smallChecker = (dir: string) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Manifest
  const paths = manifest.sizes.map((_, i) => path.join(dir, smallName(i)))
  let sampled = 0
  const check = (i: number, data: Uint8Array, pass: number): number => {
    const size = manifest.sizes[i]!
    if (data.length !== size) throw new Error(`${paths[i]}: read ${data.length} bytes, the file has ${size}`)
    const b = asBuffer(data)
    if (b.readUInt32LE(0) !== i || b.readUInt32LE(4) !== size) throw new Error(`${paths[i]}: wrong header (another file's content?)`)
    if ((i + pass) % SAMPLE === 0) {
      sampled++
      if (fnv1a(data) !== manifest.sums[i]) throw new Error(`${paths[i]}: checksum mismatch`)
    }
    return size
  }
  return { manifest, paths, check, sampled: () => sampled }
}

/**
 * Runs whole passes over the files: warm-up passes for `warmupMs` (at least one), then timed
 * passes until at least `minPasses` are done and `durationMs` has passed. CPU over the timed
 * passes only.
 */
const timedPasses = async (
  timing: Timing,
  minPasses: number,
  pass: (n: number) => Promise<{ files: number; bytes: number }>
): Promise<Measured & { bytes: number; passes: number }> => {
  let n = 0
  const w0 = Date.now()
  do await pass(n++)
  while (Date.now() - w0 < timing.warmupMs)
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  let passes = 0
  let files = 0
  let bytes = 0
  do {
    const r = await pass(n++)
    passes++
    files += r.files
    bytes += r.bytes
  } while (passes < minPasses || Number(process.hrtime.bigint() - t0) / 1e6 < timing.durationMs)
  const cpu = process.cpuUsage(cpu0)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  return {
    ops: files,
    seconds,
    opsPerSec: files / seconds,
    userUs: cpu.user,
    sysUs: cpu.system,
    cpuUsPerOp: (cpu.user + cpu.system) / files,
    bytes,
    passes
  }
}

/** `fs.readFile` of every file, `Effect.forEach` at concurrency DEPTH. */
export const smallEffect = async (a: SmallEffectArgs): Promise<CaseResult> => {
  const Effect = await import("effect/Effect")
  const env = await effectFs(a)
  const c = smallChecker(a.dir)
  const indices = c.paths.map((_, i) => i)
  const gc = gcMeter()
  const m = await timedPasses(a.timing, SMALL_MIN_PASSES, (pass) => {
    let bytes = 0
    return env
      .run(
        Effect.forEach(indices, (i) => Effect.map(env.fs.readFile(c.paths[i]!), (data) => void (bytes += c.check(i, data, pass))), {
          concurrency: DEPTH,
          discard: true
        })
      )
      .then(() => ({ files: indices.length, bytes }))
  })
  const notes = `${m.passes} timed passes; ${gc.share(m.seconds)}; ${env.notes()}; ${fmtInt(c.sampled())} files checksummed`
  await env.dispose()
  return { ...m, notes }
}

/** `fs.promises.readFile` of every file, a pool of DEPTH async workers. */
export const smallPromises = async (a: SmallArgs): Promise<CaseResult> => {
  const c = smallChecker(a.dir)
  const gc = gcMeter()
  const m = await timedPasses(a.timing, SMALL_MIN_PASSES, async (pass) => {
    let next = 0
    let bytes = 0
    const worker = async () => {
      for (let i = next++; i < c.paths.length; i = next++) {
        const data = await fs.promises.readFile(c.paths[i]!)
        bytes += c.check(i, data, pass)
      }
    }
    await Promise.all(Array.from({ length: DEPTH }, worker))
    return { files: c.paths.length, bytes }
  })
  return { ...m, notes: `${m.passes} timed passes; ${gc.share(m.seconds)}; ${procNotes()}; ${fmtInt(c.sampled())} files checksummed` }
}

// ---------------------------------------------------------------------------------------------
// 3. Big files: copyFile and readFile of the whole test file

interface BigArgs {
  readonly file: string
  readonly size: number
  readonly timing: Timing
  /** copyFile target (deleted after every copy). */
  readonly target: string
  /**
   * Run a full GC after each run (untimed), so the previous 1 GiB result is freed before the
   * next readFile allocates: isolates the read path from the cost of faulting in fresh memory.
   */
  readonly gcBetween?: boolean
}

/** A full-GC function when `wanted` (V8's gc, exposed at runtime), else a no-op. */
const gcBetweenRuns = (wanted: boolean | undefined): (() => void) => {
  if (!wanted) return () => {}
  v8.setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as () => void
}

interface BigEffectArgs extends BigArgs, EffectCase {}

/**
 * One untimed warm-up iteration, then timed iterations until at least 2 are done and their
 * summed time reaches `durationMs`. Only `once` is timed (wall and CPU); `after` (checks,
 * cleanup) runs between iterations outside the timed part.
 */
const timedIterations = async (timing: Timing, once: () => Promise<void>, after: (iteration: number) => void) => {
  await once()
  after(0)
  let ns = 0n
  let user = 0
  let sys = 0
  let iterations = 0
  let best = Infinity
  while (iterations < 2 || Number(ns) / 1e6 < timing.durationMs) {
    const cpu0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    await once()
    const dt = process.hrtime.bigint() - t0
    ns += dt
    best = Math.min(best, Number(dt) / 1e9)
    const cpu = process.cpuUsage(cpu0)
    user += cpu.user
    sys += cpu.system
    iterations++
    after(iterations)
  }
  const seconds = Number(ns) / 1e9
  return { ops: iterations, seconds, opsPerSec: iterations / seconds, userUs: user, sysUs: sys, cpuUsPerOp: (user + sys) / iterations, bestSeconds: best }
}

/** Offsets of the blocks compared after a copy or read: first, last, and 30 random ones. */
const sampleBlocks = (size: number, seed: number): Array<number> => {
  const next = randomPositions(size, BLOCK, seed)
  return [0, size - BLOCK, ...Array.from({ length: 30 }, next)]
}

/** The copy has the source's size and the same bytes in sampled blocks; then it is deleted. */
const checkCopy = (src: string, dst: string, size: number, iteration: number): void => {
  try {
    const st = fs.statSync(dst)
    if (st.size !== size) throw new Error(`copy has ${st.size} bytes, the source ${size}`)
    const a = Buffer.alloc(BLOCK)
    const b = Buffer.alloc(BLOCK)
    const fa = fs.openSync(src, "r")
    const fb = fs.openSync(dst, "r")
    try {
      for (const pos of sampleBlocks(size, SEED + iteration)) {
        b.fill(0)
        if (fs.readSync(fa, a, 0, BLOCK, pos) !== BLOCK || fs.readSync(fb, b, 0, BLOCK, pos) !== BLOCK || !a.equals(b)) {
          throw new Error(`copy differs from the source in the block at ${pos}`)
        }
      }
    } finally {
      fs.closeSync(fa)
      fs.closeSync(fb)
    }
  } finally {
    fs.rmSync(dst, { force: true })
  }
}

/** A whole-file read has the file's size and the expected bytes in sampled blocks. */
const checkWhole = (chunk: Buffer, data: Uint8Array | undefined, size: number, iteration: number): void => {
  if (data === undefined) throw new Error("no data")
  if (data.length !== size) throw new Error(`readFile gave ${data.length} bytes, the file has ${size}`)
  const b = asBuffer(data)
  for (const pos of sampleBlocks(size, SEED + iteration)) {
    if (!b.subarray(pos, pos + BLOCK).equals(expectedAt(chunk, pos, BLOCK))) throw new Error(`readFile content differs at ${pos}`)
  }
}

const bigResult = (m: CaseMeasured, size: number, notes: string): CaseResult => ({ ...m, bytes: m.ops * size, notes })

export const copyEffect = async (a: BigEffectArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  const env = await effectFs(a)
  fs.rmSync(a.target, { force: true })
  const m = await timedIterations(a.timing, () => env.run(env.fs.copyFile(a.file, a.target)), (i) => checkCopy(a.file, a.target, a.size, i))
  const notes = env.notes()
  await env.dispose()
  return bigResult(m, a.size, notes)
}

export const copyPromises = async (a: BigArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  fs.rmSync(a.target, { force: true })
  const m = await timedIterations(a.timing, () => fs.promises.copyFile(a.file, a.target), (i) => checkCopy(a.file, a.target, a.size, i))
  return bigResult(m, a.size, procNotes())
}

export const readWholeEffect = async (a: BigEffectArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  const env = await effectFs(a)
  const chunk = readChunk(a.file)
  const collect = gcBetweenRuns(a.gcBetween)
  let data: Uint8Array | undefined
  const m = await timedIterations(
    a.timing,
    async () => void (data = await env.run(env.fs.readFile(a.file))),
    (i) => {
      checkWhole(chunk, data, a.size, i)
      data = undefined
      collect()
    }
  )
  const notes = env.notes()
  await env.dispose()
  return bigResult(m, a.size, notes)
}

export const readWholePromises = async (a: BigArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  const chunk = readChunk(a.file)
  const collect = gcBetweenRuns(a.gcBetween)
  let data: Uint8Array | undefined
  const m = await timedIterations(
    a.timing,
    async () => void (data = await fs.promises.readFile(a.file)),
    (i) => {
      checkWhole(chunk, data, a.size, i)
      data = undefined
      collect()
    }
  )
  return bigResult(m, a.size, procNotes())
}

// ---------------------------------------------------------------------------------------------
// Parent side

const plain = { UV_USE_IO_URING: undefined, UV_THREADPOOL_SIZE: undefined }
/** Diagnosis rows: the same case with V8's allocation-site pretenuring off. */
const NO_PRETENURE = "--no-allocation-site-pretenuring"

const EFFIO_SEEK = "Effio seek+read (loop scheduler)"
const EFFIO_READAT = "Effio readAt (loop scheduler)"
const EFFIO_SEEK_DEF = "Effio seek+read (default scheduler)"
const EFFIO_READAT_DEF = "Effio readAt (default scheduler)"
const EFFIO_SEEK_NP = "Effio seek+read (loop, V8 no pretenuring)"
const EFFIO_READAT_NP = "Effio readAt (loop, V8 no pretenuring)"
const PN_SEEK = "platform-node seek+read"
const FH = "node FileHandle.read"
const CB = "node fs.read (callback)"

const SMALL_EFFIO = "Effio readFile (loop scheduler)"
const SMALL_EFFIO_DEF = "Effio readFile (default scheduler)"
const SMALL_EFFIO_NP = "Effio readFile (loop, V8 no pretenuring)"
const SMALL_PN = "platform-node readFile"
const SMALL_NODE = "fs.promises.readFile (pool of 32)"

const COPY_EFFIO = "Effio copyFile (loop scheduler)"
const COPY_NODE = "fs.promises.copyFile"
const COPY_PN = "platform-node copyFile"
const READ_EFFIO = "Effio readFile (loop scheduler)"
const READ_NODE = "fs.promises.readFile"
const READ_PN = "platform-node readFile"
const READ_EFFIO_GC = "Effio readFile (loop), gc() between runs"
const READ_NODE_GC = "fs.promises.readFile, gc() between runs"

type Get = (name: string) => ChildOutcome<CaseResult> | undefined

interface Section {
  readonly title: string
  readonly cases: ReadonlyArray<ChildCase>
  /** The case list is run this many times, interleaved (A B C A B C), and the rounds summed. */
  readonly rounds: number
  /** Prints the section's tables from its outcomes (by case name). */
  readonly report: (get: Get) => void
}

const measuredOf = (o: ChildOutcome<CaseResult> | undefined): CaseMeasured | undefined =>
  o?.ok && !("skipped" in o.value) ? o.value : undefined

/** Several rounds of one case as one result: ops, time, CPU and bytes summed, the best run kept. */
const combine = (os: ReadonlyArray<ChildOutcome<CaseResult>>): ChildOutcome<CaseResult> => {
  if (os.length === 1) return os[0]!
  const bad = os.find((o) => !o.ok || "skipped" in o.value)
  if (bad) return bad
  const ms = os.map((o) => measuredOf(o)!)
  const sum = (f: (m: CaseMeasured) => number) => ms.reduce((acc, m) => acc + f(m), 0)
  const ops = sum((m) => m.ops)
  const seconds = sum((m) => m.seconds)
  const userUs = sum((m) => m.userUs)
  const sysUs = sum((m) => m.sysUs)
  const value: CaseMeasured = {
    ops,
    seconds,
    opsPerSec: ops / seconds,
    userUs,
    sysUs,
    cpuUsPerOp: (userUs + sysUs) / ops,
    bytes: sum((m) => m.bytes ?? 0),
    bestSeconds: Math.min(...ms.map((m) => m.bestSeconds ?? Infinity)),
    notes: `${os.length} rounds: ${ms.map((m) => fmtNum((m.bytes ?? 0) / m.seconds / 1e6, 0)).join(" / ")} MB/s; ${ms[0]!.notes ?? ""}`
  }
  return { ok: true, value, wallMs: os.reduce((acc, o) => acc + o.wallMs, 0) }
}

const cpuPct = (m: Measured) => fmtNum(((m.userUs + m.sysUs) / (m.seconds * 1e6)) * 100, 0)

/** A row for a failed or skipped case, or undefined when it was measured. */
const failedRow = (name: string, o: ChildOutcome<CaseResult> | undefined, width: number): Array<string> | undefined => {
  if (o === undefined) return undefined
  if (!o.ok) return [name, ...Array.from({ length: width - 2 }, () => "–"), `FAILED: ${o.error.split("\n")[0]}`]
  if ("skipped" in o.value) return [name, ...Array.from({ length: width - 2 }, () => "–"), `skipped (${o.value.skipped})`]
  return undefined
}

const ratioRow = (label: string, a: number | undefined, b: number | undefined, target: number | undefined) => {
  const r = a !== undefined && b !== undefined ? a / b : undefined
  return [
    label,
    r === undefined ? "n/a" : `${fmtNum(r)}×`,
    target === undefined ? "(info)" : `≥ ${target}×`,
    r === undefined || target === undefined ? "" : r >= target ? "PASS" : "MISS"
  ]
}

const ratioTable = (header: string, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  console.log("")
  printTable([header, "value", "target", "result"], rows, ["left", "right", "right", "left"])
}

const mbps = (m: { bytes?: number; seconds: number }) => (m.bytes ?? 0) / m.seconds / 1e6

const sections = (file: string, size: number, smallDir: string, timing: Timing): ReadonlyArray<Section> => {
  const c = (name: string, fn: string, args: unknown, timeoutMs?: number): ChildCase => ({
    name,
    module: import.meta.url,
    fn,
    args,
    env: plain,
    ...(timeoutMs === undefined ? {} : { timeoutMs })
  })
  const rr: RandomArgs = { file, size, timing }
  const small: SmallArgs = { dir: smallDir, timing }
  const big: BigArgs = { file, size, timing, target: path.join(os.tmpdir(), `effio-bench-copy-${process.pid}.tmp`) }
  const effio = { impl: "effio", scheduler: "loop" } as const
  const effioDefault = { impl: "effio", scheduler: "default" } as const
  const effioNoPretenure = { impl: "effio", scheduler: "loop", v8Flags: NO_PRETENURE } as const
  const node = { impl: "node", scheduler: "default" } as const

  const present = (names: ReadonlyArray<string>, get: Get) => names.filter((n) => get(n) !== undefined)

  return [
    {
      title: `1. random 4 KiB File.read, ${DEPTH} fibers/loops on one handle of a ${size / MiB} MiB page-cached file`,
      rounds: 1,
      cases: [
        c(EFFIO_SEEK, "randomEffect", { ...rr, ...effio, mode: "seek" }),
        c(EFFIO_READAT, "randomEffect", { ...rr, ...effio, mode: "readAt" }),
        c(EFFIO_SEEK_DEF, "randomEffect", { ...rr, ...effioDefault, mode: "seek" }),
        c(EFFIO_READAT_DEF, "randomEffect", { ...rr, ...effioDefault, mode: "readAt" }),
        c(EFFIO_SEEK_NP, "randomEffect", { ...rr, ...effioNoPretenure, mode: "seek" }),
        c(EFFIO_READAT_NP, "randomEffect", { ...rr, ...effioNoPretenure, mode: "readAt" }),
        c(PN_SEEK, "randomEffect", { ...rr, ...node, mode: "seek" }),
        c(FH, "randomFileHandle", rr),
        c(CB, "randomCallback", rr)
      ],
      report: (get) => {
        printTable(
          ["case", "ops/s", "CPU µs/op", "CPU %", "notes"],
          present([EFFIO_SEEK, EFFIO_READAT, EFFIO_SEEK_DEF, EFFIO_READAT_DEF, EFFIO_SEEK_NP, EFFIO_READAT_NP, PN_SEEK, FH, CB], get).map((n) => {
            const o = get(n)
            const m = measuredOf(o)
            return m ? [n, fmtInt(m.opsPerSec), fmtNum(m.cpuUsPerOp), cpuPct(m), m.notes ?? ""] : failedRow(n, o, 5)!
          }),
          ["left", "right", "right", "right", "left"]
        )
        const ops = (n: string) => measuredOf(get(n))?.opsPerSec
        ratioTable("ratio (ops/s)", [
          ratioRow("Effio seek+read vs platform-node", ops(EFFIO_SEEK), ops(PN_SEEK), 8),
          ratioRow("Effio seek+read vs FileHandle.read", ops(EFFIO_SEEK), ops(FH), 3),
          ratioRow("Effio seek+read vs callback fs.read (stretch)", ops(EFFIO_SEEK), ops(CB), 1),
          ratioRow("Effio readAt vs platform-node", ops(EFFIO_READAT), ops(PN_SEEK), undefined),
          ratioRow("Effio readAt vs FileHandle.read", ops(EFFIO_READAT), ops(FH), undefined),
          ratioRow("Effio readAt vs callback fs.read", ops(EFFIO_READAT), ops(CB), undefined),
          ratioRow("Effio seek+read, default scheduler vs platform-node", ops(EFFIO_SEEK_DEF), ops(PN_SEEK), undefined),
          ratioRow("Effio seek+read, no pretenuring vs FileHandle.read", ops(EFFIO_SEEK_NP), ops(FH), undefined),
          ratioRow("Effio readAt, no pretenuring vs callback fs.read", ops(EFFIO_READAT_NP), ops(CB), undefined)
        ])
      }
    },
    {
      title: `2. readFile of ${fmtInt(SMALL_COUNT)} files of ${SMALL_MIN / KiB}–${SMALL_MAX / KiB} KiB, ${DEPTH} in flight`,
      rounds: 1,
      cases: [
        c(SMALL_EFFIO, "smallEffect", { ...small, ...effio }),
        c(SMALL_EFFIO_DEF, "smallEffect", { ...small, ...effioDefault }),
        c(SMALL_EFFIO_NP, "smallEffect", { ...small, ...effioNoPretenure }),
        c(SMALL_PN, "smallEffect", { ...small, ...node }),
        c(SMALL_NODE, "smallPromises", small)
      ],
      report: (get) => {
        printTable(
          ["case", "files/s", "MB/s", "CPU µs/file", "CPU %", "notes"],
          present([SMALL_EFFIO, SMALL_EFFIO_DEF, SMALL_EFFIO_NP, SMALL_PN, SMALL_NODE], get).map((n) => {
            const o = get(n)
            const m = measuredOf(o)
            return m ? [n, fmtInt(m.opsPerSec), fmtNum(mbps(m), 1), fmtNum(m.cpuUsPerOp), cpuPct(m), m.notes ?? ""] : failedRow(n, o, 6)!
          }),
          ["left", "right", "right", "right", "right", "left"]
        )
        const fps = (n: string) => measuredOf(get(n))?.opsPerSec
        ratioTable("ratio (files/s)", [
          ratioRow("Effio vs fs.promises.readFile", fps(SMALL_EFFIO), fps(SMALL_NODE), 2),
          ratioRow("Effio vs platform-node", fps(SMALL_EFFIO), fps(SMALL_PN), undefined),
          ratioRow("Effio, default scheduler vs fs.promises.readFile", fps(SMALL_EFFIO_DEF), fps(SMALL_NODE), undefined),
          ratioRow("Effio, no pretenuring vs fs.promises.readFile", fps(SMALL_EFFIO_NP), fps(SMALL_NODE), undefined)
        ])
      }
    },
    {
      title: `3. ${size / MiB} MiB copyFile (to a new file, deleted after each copy) and sequential readFile`,
      rounds: 2,
      cases: [
        c(COPY_EFFIO, "copyEffect", { ...big, ...effio }, 600_000),
        c(COPY_NODE, "copyPromises", big, 600_000),
        c(COPY_PN, "copyEffect", { ...big, ...node }, 600_000),
        c(READ_EFFIO, "readWholeEffect", { ...big, ...effio }, 600_000),
        c(READ_NODE, "readWholePromises", big, 600_000),
        c(READ_PN, "readWholeEffect", { ...big, ...node }, 600_000),
        c(READ_EFFIO_GC, "readWholeEffect", { ...big, ...effio, gcBetween: true }, 600_000),
        c(READ_NODE_GC, "readWholePromises", { ...big, gcBetween: true }, 600_000)
      ],
      report: (get) => {
        const rows = (op: string, names: ReadonlyArray<string>) =>
          present(names, get).map((n) => {
            const o = get(n)
            const m = measuredOf(o)
            return m
              ? [
                op,
                n,
                fmtNum(mbps(m), 0),
                fmtNum(m.bestSeconds === undefined ? undefined : size / m.bestSeconds / 1e6, 0),
                `${m.ops}`,
                fmtNum(((m.userUs + m.sysUs) / 1e6 / (m.bytes ?? 1)) * 2 ** 30, 2),
                cpuPct(m),
                m.notes ?? ""
              ]
              : ["", ...failedRow(n, o, 7)!]
          })
        printTable(
          ["op", "case", "MB/s", "best run MB/s", "runs", "CPU s/GiB", "CPU %", "notes"],
          [...rows("copyFile", [COPY_EFFIO, COPY_NODE, COPY_PN]), ...rows("readFile", [READ_EFFIO, READ_NODE, READ_PN, READ_EFFIO_GC, READ_NODE_GC])],
          ["left", "left", "right", "right", "right", "right", "right", "left"]
        )
        const rate = (n: string) => {
          const m = measuredOf(get(n))
          return m ? mbps(m) : undefined
        }
        const best = (n: string) => {
          const m = measuredOf(get(n))
          return m?.bestSeconds === undefined ? undefined : 1 / m.bestSeconds
        }
        ratioTable("ratio (MB/s)", [
          ratioRow("Effio copyFile vs fs.promises.copyFile", rate(COPY_EFFIO), rate(COPY_NODE), 0.9),
          ratioRow("Effio copyFile vs platform-node", rate(COPY_EFFIO), rate(COPY_PN), undefined),
          ratioRow("Effio copyFile vs fs.promises.copyFile, best runs", best(COPY_EFFIO), best(COPY_NODE), undefined),
          ratioRow("Effio readFile vs fs.promises.readFile", rate(READ_EFFIO), rate(READ_NODE), 0.9),
          ratioRow("Effio readFile vs platform-node", rate(READ_EFFIO), rate(READ_PN), undefined),
          ratioRow("Effio readFile vs fs.promises.readFile, best runs", best(READ_EFFIO), best(READ_NODE), undefined),
          ratioRow("Effio readFile vs fs.promises.readFile, both with gc() between runs", rate(READ_EFFIO_GC), rate(READ_NODE_GC), undefined)
        ])
      }
    }
  ]
}

const run = async (): Promise<boolean> => {
  const size = fileSizeFromEnv(1024)
  const timing = timingFromEnv()
  const only = (process.env.EFFIO_BENCH_FS_CASES ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")
  const picked = (c: ChildCase) => only.length === 0 || only.some((s) => c.name.includes(s))

  const file = ensureTestFile(`effio-bench-${size / MiB}m.dat`, size)
  console.error(`fs: ${file.created ? "created" : "reusing"} ${file.path}; warming the page cache...`)
  console.error(`fs: read ${size / MiB} MiB in ${fmtNum(warmPageCache(file.path))} s`)
  const t0 = Date.now()
  const small = ensureSmallFiles()
  console.error(`fs: ${small.created ? `created ${fmtInt(SMALL_COUNT)} files in ${fmtNum((Date.now() - t0) / 1000)} s in` : "reusing"} ${small.dir}`)

  const load0 = os.loadavg()[0]!
  console.log(`\n### fs: @effio/fs (UringFileSystem.layer) vs @effect/platform-node vs node:fs`)
  console.log(
    `\n${fmtNum(timing.durationMs / 1000, 1)} s per case after ${fmtNum(timing.warmupMs / 1000, 1)} s warm-up, each in a fresh process ` +
      `(section 3: one untimed warm-up run, then runs until ${fmtNum(timing.durationMs / 1000, 1)} s and at least 2, in 2 interleaved rounds); ` +
      `node ${process.version}, libuv ${process.versions.uv}, Linux ${os.release()}, ${os.availableParallelism()} CPUs, ` +
      `load average ${fmtNum(load0)} at start. CPU = user+sys of the whole process (all threads, io_uring workers included) ` +
      `over the timed window; CPU % below 100 on a busy machine means the case was waiting for a CPU. MB = 10^6 bytes.`
  )
  let ok = true
  for (const s of sections(file.path, size, small.dir, timing)) {
    const list = s.cases.filter(picked)
    if (list.length === 0) continue
    console.error(`\nfs: ${s.title}`)
    const rounds: Array<Array<ChildOutcome<CaseResult>>> = []
    for (let r = 0; r < s.rounds; r++) {
      rounds.push(
        await runChildren<CaseResult>(list, (c, o) =>
          console.error(
            `  ${c.name}${s.rounds > 1 ? ` [round ${r + 1}]` : ""}: ${
              o.ok ? ("skipped" in o.value ? o.value.skipped : `${fmtNum(o.value.opsPerSec, 1)} ops/s`) : `FAILED: ${o.error}`
            } (${fmtNum(o.wallMs / 1000, 1)} s)`
          ))
      )
    }
    const byName = new Map(list.map((c, i) => [c.name, combine(rounds.map((r) => r[i]!))] as const))
    console.log(`\n#### ${s.title}\n`)
    s.report((n) => byName.get(n))
    ok = ok && rounds.every((r) => r.every((o) => o.ok))
  }
  console.log(`\nload average ${fmtNum(load0)} at start / ${fmtNum(os.loadavg()[0])} at end.`)
  return ok
}

export const fsBench: Benchmark = {
  name: "fs",
  description: "@effio/fs FileSystem vs @effect/platform-node and node:fs: random File.read, small-file readFile, 1 GiB copyFile/readFile",
  run
}
