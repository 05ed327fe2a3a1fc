/**
 * fs-big-file: 1 GiB `copyFile`, 1 GiB sequential `readFile`, and `FileSystem.stream` of it in
 * 1 MiB chunks against a `readSync` loop into fresh 1 MiB buffers (the test file's size:
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
import { asBuffer, BLOCK, type CaseMeasured, type CaseResult, type EffectCase, effectFs, MiB, SAMPLE, SEED, setups } from "./lib/fs-case.ts"
import { caseMaker, caseRows, cpuPct, fsBenchmark, mbps, measuredOf, ratioRow, ratioTable, type Section } from "./lib/fs-report.ts"
import type { Timing } from "./lib/measure.ts"
import { procNotes } from "./lib/proc.ts"
import { randomPositions } from "./lib/rand.ts"
import { fmtInt, fmtNum, printTable } from "./lib/table.ts"
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

/** Chunk size of the stream cases. */
const STREAM_CHUNK = MiB

/**
 * Checks the chunks of one pass over the test file as they come: every chunk non-empty, its
 * first and last block compared with the file's bytes at its offset, the whole chunk on every
 * SAMPLE-th; `end()` checks that the chunks add up to the file. The same checks on every
 * stream case, so they cost each the same.
 */
const streamChecker = (chunk: Buffer, size: number) => {
  let off = 0
  let chunks = 0
  let passChunks = 0
  let sampled = 0
  /** `data[from, from + len)` equals the file's bytes at `off + from` (pieces split at the 1 MiB repeat). */
  const same = (data: Buffer, from: number, len: number): boolean => {
    for (let k = from; k < from + len;) {
      const at = (off + k) % MiB
      const n = Math.min(from + len - k, MiB - at)
      if (!data.subarray(k, k + n).equals(chunk.subarray(at, at + n))) return false
      k += n
    }
    return true
  }
  return {
    take: (u: Uint8Array): void => {
      const n = u.length
      if (n === 0) throw new Error(`empty chunk at ${off}`)
      if (off + n > size) throw new Error(`chunks run past the end of the file (${off} + ${n} > ${size})`)
      if (off === 0) passChunks = 0
      const data = asBuffer(u)
      const edge = Math.min(BLOCK, n)
      const full = ++chunks % SAMPLE === 0
      if (full) sampled++
      if (full ? !same(data, 0, n) : !same(data, 0, edge) || !same(data, n - edge, edge)) {
        throw new Error(`the chunk of ${n} bytes at ${off} differs from the file`)
      }
      off += n
      passChunks++
    },
    end: (): void => {
      if (off !== size) throw new Error(`the chunks add up to ${off} bytes, the file has ${size}`)
      off = 0
    },
    /** Chunks of the last pass, and how many chunks were compared in full. */
    notes: () => `${fmtInt(passChunks)} chunks a pass (${fmtNum(size / passChunks / MiB)} MiB each), ${fmtInt(sampled)} compared in full`
  }
}

/** `FileSystem.stream(file, { chunkSize: 1 MiB })` to the end, every chunk checked as it comes. */
export const streamEffect = async (a: BigEffectArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  const Effect = await import("effect/Effect")
  const Stream = await import("effect/Stream")
  const env = await effectFs(a)
  const checker = streamChecker(readChunk(a.file), a.size)
  const pass = Stream.runForEach(env.fs.stream(a.file, { chunkSize: STREAM_CHUNK }), (u) => Effect.sync(() => checker.take(u)))
  const m = await timedIterations(a.timing, () => env.run(pass), () => checker.end())
  const notes = `${env.notes()}; ${checker.notes()}`
  await env.dispose()
  return bigResult(m, a.size, notes)
}

/** Anchor: open, `readSync` into a fresh 1 MiB buffer (`Buffer.allocUnsafeSlow`, as a File's `readAlloc`) until EOF, close. */
export const streamReadSync = async (a: BigArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  const checker = streamChecker(readChunk(a.file), a.size)
  const once = async () => {
    const fd = fs.openSync(a.file, "r")
    try {
      for (;;) {
        const buf = Buffer.allocUnsafeSlow(STREAM_CHUNK)
        const n = fs.readSync(fd, buf, 0, STREAM_CHUNK, null)
        if (n === 0) break
        checker.take(n === STREAM_CHUNK ? buf : buf.subarray(0, n))
      }
    } finally {
      fs.closeSync(fd)
    }
  }
  const m = await timedIterations(a.timing, once, () => checker.end())
  return bigResult(m, a.size, `${procNotes()}; ${checker.notes()}`)
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
const STREAM_EFFIO = "Effio stream, 1 MiB chunks (loop scheduler)"
const STREAM_SYNC = "readSync loop into fresh 1 MiB buffers"
const STREAM_PN = "platform-node stream, 1 MiB chunks"

const section = (file: string, size: number, timing: Timing): Section => {
  const c = caseMaker(import.meta.url)
  const big: BigArgs = { file, size, timing, target: path.join(os.tmpdir(), `effio-bench-copy-${process.pid}.tmp`) }
  const { effio, node } = setups
  return {
    title: `3. ${size / MiB} MiB copyFile (to a new file, deleted after each copy), sequential readFile, and FileSystem.stream in 1 MiB chunks`,
    rounds: ROUNDS,
    cases: [
      c(COPY_EFFIO, "copyEffect", { ...big, ...effio }, 600_000),
      c(COPY_NODE, "copyPromises", big, 600_000),
      c(COPY_PN, "copyEffect", { ...big, ...node }, 600_000),
      c(READ_EFFIO, "readWholeEffect", { ...big, ...effio }, 600_000),
      c(READ_NODE, "readWholePromises", big, 600_000),
      c(READ_PN, "readWholeEffect", { ...big, ...node }, 600_000),
      c(READ_EFFIO_GC, "readWholeEffect", { ...big, ...effio, gcBetween: true }, 600_000),
      c(READ_NODE_GC, "readWholePromises", { ...big, gcBetween: true }, 600_000),
      c(STREAM_EFFIO, "streamEffect", { ...big, ...effio }, 600_000),
      c(STREAM_SYNC, "streamReadSync", big, 600_000),
      c(STREAM_PN, "streamEffect", { ...big, ...node }, 600_000)
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
        [
          ...rows("copyFile", [COPY_EFFIO, COPY_NODE, COPY_PN]),
          ...rows("readFile", [READ_EFFIO, READ_NODE, READ_PN, READ_EFFIO_GC, READ_NODE_GC]),
          ...rows("stream", [STREAM_EFFIO, STREAM_SYNC, STREAM_PN])
        ],
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
        ratioRow("Effio copyFile vs fs.promises.copyFile", rate(COPY_EFFIO), rate(COPY_NODE), 1),
        ratioRow("Effio copyFile vs platform-node", rate(COPY_EFFIO), rate(COPY_PN), undefined),
        ratioRow("Effio copyFile vs fs.promises.copyFile, best runs", best(COPY_EFFIO), best(COPY_NODE), undefined),
        ratioRow("Effio readFile vs fs.promises.readFile", rate(READ_EFFIO), rate(READ_NODE), 1),
        ratioRow("Effio readFile vs platform-node", rate(READ_EFFIO), rate(READ_PN), undefined),
        ratioRow("Effio readFile vs fs.promises.readFile, best runs", best(READ_EFFIO), best(READ_NODE), undefined),
        ratioRow("Effio readFile vs fs.promises.readFile, both with gc() between runs", rate(READ_EFFIO_GC), rate(READ_NODE_GC), undefined),
        ratioRow("Effio stream vs readSync loop into fresh 1 MiB buffers", rate(STREAM_EFFIO), rate(STREAM_SYNC), 0.8),
        ratioRow("Effio stream vs platform-node stream", rate(STREAM_EFFIO), rate(STREAM_PN), 3),
        ratioRow("Effio stream vs readSync loop, best runs", best(STREAM_EFFIO), best(STREAM_SYNC), undefined)
      ])
    }
  }
}

export const fsBigFile = fsBenchmark({
  name: "fs-big-file",
  description: "@effio/fs FileSystem vs @effect/platform-node and node:fs: 1 GiB copyFile, readFile and stream (1 MiB chunks)",
  section: (timing) => {
    const size = fileSizeFromEnv(1024)
    return section(prepareTestFile("fs-big-file", size), size, timing)
  },
  method: (timing) =>
    ` (one untimed warm-up run, then runs until ${fmtNum(timing.durationMs / 1000, 1)} s and at least 2, in ${ROUNDS} interleaved rounds)`
})
