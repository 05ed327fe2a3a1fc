/**
 * fs-big-file: 1 GiB `copyFile` and 1 GiB sequential `readFile` (the test file's size:
 * `EFFIO_BENCH_FILE_MB`).
 *
 * One of the fs benchmarks: what they share, how they check what they read and how
 * `EFFIO_BENCH_FS_CASES` picks cases is in lib/fs-report.ts.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import { runInNewContext } from "node:vm"
import { asBuffer, BLOCK, type CaseMeasured, type CaseResult, type EffectCase, effectFs, MiB, SEED, setups } from "./lib/fs-case.ts"
import { caseMaker, caseRows, cpuPct, fsBenchmark, mbps, measuredOf, ratioRow, ratioTable, type Section } from "./lib/fs-report.ts"
import type { Timing } from "./lib/measure.ts"
import { procNotes } from "./lib/proc.ts"
import { randomPositions } from "./lib/rand.ts"
import { fmtNum, printTable } from "./lib/table.ts"
import { expectedAt, fileSizeFromEnv, prepareTestFile, readChunk, warmPageCache } from "./lib/testfile.ts"

/** Each case runs the list this many times, interleaved with the others, and the rounds are summed. */
const ROUNDS = 2

// ---------------------------------------------------------------------------------------------
// Cases (run in children)

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

/** Timed `read`s of the whole test file, each result checked, dropped (and with `gcBetween` collected) between runs. */
const readWhole = async (a: BigArgs, read: () => Promise<Uint8Array>) => {
  const chunk = readChunk(a.file)
  const collect = gcBetweenRuns(a.gcBetween)
  let data: Uint8Array | undefined
  return timedIterations(
    a.timing,
    async () => void (data = await read()),
    (i) => {
      checkWhole(chunk, data, a.size, i)
      data = undefined
      collect()
    }
  )
}

export const readWholeEffect = async (a: BigEffectArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  const env = await effectFs(a)
  const m = await readWhole(a, () => env.run(env.fs.readFile(a.file)))
  const notes = env.notes()
  await env.dispose()
  return bigResult(m, a.size, notes)
}

export const readWholePromises = async (a: BigArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  return bigResult(await readWhole(a, () => fs.promises.readFile(a.file)), a.size, procNotes())
}

// ---------------------------------------------------------------------------------------------
// Parent side

const COPY_EFFIO = "Effio copyFile (loop scheduler)"
const COPY_NODE = "fs.promises.copyFile"
const COPY_PN = "platform-node copyFile"
const READ_EFFIO = "Effio readFile (loop scheduler)"
const READ_NODE = "fs.promises.readFile"
const READ_PN = "platform-node readFile"
const READ_EFFIO_GC = "Effio readFile (loop), gc() between runs"
const READ_NODE_GC = "fs.promises.readFile, gc() between runs"

const section = (file: string, size: number, timing: Timing): Section => {
  const c = caseMaker(import.meta.url)
  const big: BigArgs = { file, size, timing, target: path.join(os.tmpdir(), `effio-bench-copy-${process.pid}.tmp`) }
  const { effio, node } = setups
  return {
    title: `3. ${size / MiB} MiB copyFile (to a new file, deleted after each copy) and sequential readFile`,
    rounds: ROUNDS,
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
        caseRows(get, names, 7, (n, m) => [
          op,
          n,
          fmtNum(mbps(m), 0),
          fmtNum(m.bestSeconds === undefined ? undefined : size / m.bestSeconds / 1e6, 0),
          `${m.ops}`,
          fmtNum(((m.userUs + m.sysUs) / 1e6 / (m.bytes ?? 1)) * 2 ** 30, 2),
          cpuPct(m),
          m.notes ?? ""
        ], [""])
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
}

export const fsBigFile = fsBenchmark({
  name: "fs-big-file",
  description: "@effio/fs FileSystem vs @effect/platform-node and node:fs: 1 GiB copyFile and readFile",
  section: (timing) => {
    const size = fileSizeFromEnv(1024)
    return section(prepareTestFile("fs-big-file", size), size, timing)
  },
  method: (timing) =>
    ` (one untimed warm-up run, then runs until ${fmtNum(timing.durationMs / 1000, 1)} s and at least 2, in ${ROUNDS} interleaved rounds)`
})
