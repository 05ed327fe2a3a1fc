/**
 * fs-small-files: `readFile` of 10,000 small files (1–4 KiB) at 32 in flight.
 *
 * One of the fs benchmarks: what they share, how they check what they read and how
 * `EFFIO_BENCH_FS_CASES` picks cases is in lib/fs-report.ts.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { asBuffer, type CaseResult, DEPTH, type EffectCase, effectFs, KiB, SAMPLE, setups } from "./lib/fs-case.ts"
import { caseMaker, caseRows, cpuPct, fsBenchmark, mbps, measuredOf, ratioRow, ratioTable, type Section } from "./lib/fs-report.ts"
import { gcMeter } from "./lib/gc.ts"
import type { Measured, Timing } from "./lib/measure.ts"
import { procNotes } from "./lib/proc.ts"
import { seededRandom } from "./lib/rand.ts"
import { fmtInt, fmtNum, printTable } from "./lib/table.ts"

const SMALL_COUNT = 10_000
const SMALL_MIN = 1 * KiB
const SMALL_MAX = 4 * KiB
const SMALL_SEED = 0xf11e5
const SMALL_MIN_PASSES = 3

// ---------------------------------------------------------------------------------------------
// The file set

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

// ---------------------------------------------------------------------------------------------
// Cases (run in children)

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
// Parent side

const SMALL_EFFIO = "Effio readFile (loop scheduler)"
const SMALL_EFFIO_DEF = "Effio readFile (default scheduler)"
const SMALL_EFFIO_NP = "Effio readFile (loop, V8 no pretenuring)"
const SMALL_PN = "platform-node readFile"
const SMALL_NODE = "fs.promises.readFile (pool of 32)"

const section = (dir: string, timing: Timing): Section => {
  const c = caseMaker(import.meta.url)
  const small: SmallArgs = { dir, timing }
  const { effio, effioDefault, effioNoPretenure, node } = setups
  return {
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
        caseRows(
          get,
          [SMALL_EFFIO, SMALL_EFFIO_DEF, SMALL_EFFIO_NP, SMALL_PN, SMALL_NODE],
          6,
          (n, m) => [n, fmtInt(m.opsPerSec), fmtNum(mbps(m), 1), fmtNum(m.cpuUsPerOp), cpuPct(m), m.notes ?? ""]
        ),
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
  }
}

export const fsSmallFiles = fsBenchmark({
  name: "fs-small-files",
  description: `@effio/fs FileSystem vs @effect/platform-node and node:fs: readFile of ${fmtInt(SMALL_COUNT)} small files at ${DEPTH} in flight`,
  section: (timing) => {
    const t0 = Date.now()
    const small = ensureSmallFiles()
    console.error(`fs-small-files: ${small.created ? `created ${fmtInt(SMALL_COUNT)} files in ${fmtNum((Date.now() - t0) / 1000)} s in` : "reusing"} ${small.dir}`)
    return section(small.dir, timing)
  }
})
