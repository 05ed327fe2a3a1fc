/**
 * fs-random: random 4 KiB `File.read` at 32 fibers of a page-cached file, (a) each fiber on
 * its own handle (it opens its own File, then seek+read) and (b) all on one shared handle
 * (seek+read and Effio's positional `readAt`), vs `@effect/platform-node` doing the same,
 * `FileHandle.read` and callback `fs.read` at 32 in flight (on one fd, and on an fd per loop).
 * The "SQPOLL ring" rows run Effio on a ring with a kernel SQ thread (`Uring.layer({ sqPoll:
 * true })`): the page-cache copy then runs on the second core, as node's threadpool does for
 * `fs.read` (without it, about a quarter of the loop thread's time is that copy, inside
 * `io_uring_enter`).
 *
 * One of the fs benchmarks: what they share, how they check what they read and how
 * `EFFIO_BENCH_FS_CASES` picks cases is in lib/fs-report.ts.
 */
import * as fs from "node:fs"
import type { FileSystem as PlatformFileSystem } from "@effect/platform"
import type { Effect as EffectNs } from "effect"
import { asBuffer, BLOCK, type CaseResult, DEPTH, type EffectCase, effectFs, MiB, SAMPLE, SEED, setups } from "./lib/fs-case.ts"
import { caseMaker, caseRows, cpuPct, fsBenchmark, measuredOf, ratioRow, ratioTable, type Section } from "./lib/fs-report.ts"
import { gcMeter } from "./lib/gc.ts"
import { chains, type Counter, type Timing, timedAsync } from "./lib/measure.ts"
import { procNotes } from "./lib/proc.ts"
import { randomPositions } from "./lib/rand.ts"
import { fmtInt, fmtNum, printTable } from "./lib/table.ts"
import { arm, expectedAt, fileSizeFromEnv, prepareTestFile, readChunk, warmPageCache } from "./lib/testfile.ts"

// ---------------------------------------------------------------------------------------------
// Cases (run in children)

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

interface RandomArgs {
  readonly file: string
  readonly size: number
  readonly timing: Timing
}

/** `shared`: every fiber (loop, chain) on one handle; `own`: each opens its own. */
type Handles = "shared" | "own"

interface RandomEffectArgs extends RandomArgs, EffectCase {
  /** `seek`: `file.seek(pos, "start")` then `file.read(buf)`; `readAt`: Effio's `file.readAt(buf, pos)`. */
  readonly mode: "seek" | "readAt"
  readonly handles: Handles
}

type ReadAt = (buffer: Uint8Array, offset: PlatformFileSystem.SizeInput) => EffectNs.Effect<PlatformFileSystem.Size, unknown>

/**
 * DEPTH fibers each looping seek+read (or readAt) of 4 KiB: on one `FileSystem.File` opened
 * before the run (`shared`), or each on a File it opens itself when it starts (`own`; no other
 * fiber moves its cursor, so its seek+read must return exactly the block asked for).
 */
export const randomEffect = async (a: RandomEffectArgs): Promise<CaseResult> => {
  warmPageCache(a.file)
  const Effect = await import("effect/Effect")
  const Exit = await import("effect/Exit")
  const Scope = await import("effect/Scope")
  const env = await effectFs(a)
  const scope = Effect.runSync(Scope.make())
  const openFile = Scope.extend(env.fs.open(a.file, { flag: "r" }), scope)
  const shared = a.handles === "shared" ? await Effect.runPromise(openFile) : undefined
  const checker = new ReadChecker(a.file, a.mode === "readAt" || a.handles === "own")
  const next = randomPositions(a.size, BLOCK, SEED)
  let opened = 0

  const worker = (counter: Counter): EffectNs.Effect<void, unknown> =>
    shared !== undefined
      ? reader(shared, counter)
      : Effect.flatMap(openFile, (file) => {
        opened++
        return reader(file, counter)
      })

  const reader = (file: PlatformFileSystem.File, counter: Counter): EffectNs.Effect<void, unknown> => {
    const readAt = (file as unknown as { readAt?: ReadAt }).readAt
    if (a.mode === "readAt" && typeof readAt !== "function") return Effect.die(new Error(`${a.impl}'s File has no readAt`))
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
  if (shared === undefined && opened !== DEPTH) throw new Error(`${opened} fibers opened a handle, not ${DEPTH}`)
  const handles = shared === undefined ? `${opened} handles; ` : ""
  const notes = `${handles}${gc.share(m.seconds)}; ${env.notes()}; ${checker.verdict(m.ops)}`
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

/**
 * DEPTH chains of callback `fs.read`: each callback issues its chain's next read. `own`: each
 * chain on an fd of its own (opened before the run), else all on one.
 */
export const randomCallback = async (a: RandomArgs & { readonly handles: Handles }): Promise<CaseResult> => {
  warmPageCache(a.file)
  const fds = Array.from({ length: a.handles === "own" ? DEPTH : 1 }, () => fs.openSync(a.file, "r"))
  let chain = 0
  const checker = new ReadChecker(a.file, true)
  const next = randomPositions(a.size, BLOCK, SEED)
  const gc = gcMeter()
  const m = await timedAsync(a.timing, (counter) =>
    chains(DEPTH, counter, (counter, resolve, reject) => {
      const fd = fds[chain++ % fds.length]!
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
  const notes = `${fds.length} fd${fds.length === 1 ? "" : "s"}; ${gc.share(m.seconds)}; ${procNotes()}; ${checker.verdict(m.ops)}`
  for (const fd of fds) fs.closeSync(fd)
  return { ...m, notes }
}

// ---------------------------------------------------------------------------------------------
// Parent side

const EFFIO_OWN = "(a) Effio seek+read, own handle per fiber (loop scheduler)"
const EFFIO_OWN_SQ = "(a) Effio seek+read, own handle per fiber, SQPOLL ring"
const PN_OWN = "(a) platform-node seek+read, own handle per fiber"
const CB_OWN = "(a) node fs.read (callback), own fd per loop"
const EFFIO_SEEK = "(b) Effio seek+read (loop scheduler)"
const EFFIO_SEEK_SQ = "(b) Effio seek+read, SQPOLL ring"
const EFFIO_READAT = "(b) Effio readAt (loop scheduler)"
const EFFIO_SEEK_DEF = "(b) Effio seek+read (default scheduler)"
const EFFIO_READAT_DEF = "(b) Effio readAt (default scheduler)"
const EFFIO_SEEK_NP = "(b) Effio seek+read (loop, V8 no pretenuring)"
const EFFIO_READAT_NP = "(b) Effio readAt (loop, V8 no pretenuring)"
const PN_SEEK = "(b) platform-node seek+read"
const FH = "(b) node FileHandle.read"
const CB = "(b) node fs.read (callback)"

const section = (file: string, size: number, timing: Timing): Section => {
  const c = caseMaker(import.meta.url)
  const rr: RandomArgs = { file, size, timing }
  const own = { ...rr, handles: "own" } as const
  const shared = { ...rr, handles: "shared" } as const
  const { effio, effioDefault, effioNoPretenure, effioSqPoll, node } = setups
  return {
    title: `1. random 4 KiB File.read, ${DEPTH} fibers/loops of a ${size / MiB} MiB page-cached file: (a) each on its own handle, (b) all on one handle`,
    rounds: 1,
    cases: [
      c(EFFIO_OWN, "randomEffect", { ...own, ...effio, mode: "seek" }),
      c(EFFIO_OWN_SQ, "randomEffect", { ...own, ...effioSqPoll, mode: "seek" }),
      c(PN_OWN, "randomEffect", { ...own, ...node, mode: "seek" }),
      c(CB_OWN, "randomCallback", own),
      c(EFFIO_SEEK, "randomEffect", { ...shared, ...effio, mode: "seek" }),
      c(EFFIO_SEEK_SQ, "randomEffect", { ...shared, ...effioSqPoll, mode: "seek" }),
      c(EFFIO_READAT, "randomEffect", { ...shared, ...effio, mode: "readAt" }),
      c(EFFIO_SEEK_DEF, "randomEffect", { ...shared, ...effioDefault, mode: "seek" }),
      c(EFFIO_READAT_DEF, "randomEffect", { ...shared, ...effioDefault, mode: "readAt" }),
      c(EFFIO_SEEK_NP, "randomEffect", { ...shared, ...effioNoPretenure, mode: "seek" }),
      c(EFFIO_READAT_NP, "randomEffect", { ...shared, ...effioNoPretenure, mode: "readAt" }),
      c(PN_SEEK, "randomEffect", { ...shared, ...node, mode: "seek" }),
      c(FH, "randomFileHandle", rr),
      c(CB, "randomCallback", shared)
    ],
    report: (get) => {
      printTable(
        ["case", "ops/s", "CPU µs/op", "CPU %", "notes"],
        caseRows(
          get,
          [EFFIO_OWN, EFFIO_OWN_SQ, PN_OWN, CB_OWN, EFFIO_SEEK, EFFIO_SEEK_SQ, EFFIO_READAT, EFFIO_SEEK_DEF, EFFIO_READAT_DEF, EFFIO_SEEK_NP, EFFIO_READAT_NP, PN_SEEK, FH, CB],
          5,
          (n, m) => [n, fmtInt(m.opsPerSec), fmtNum(m.cpuUsPerOp), cpuPct(m), m.notes ?? ""]
        ),
        ["left", "right", "right", "right", "left"]
      )
      const ops = (n: string) => measuredOf(get(n))?.opsPerSec
      ratioTable("ratio (ops/s)", [
        ratioRow("(a) own handles: Effio seek+read vs platform-node", ops(EFFIO_OWN), ops(PN_OWN), 8),
        ratioRow("(a) own handles: Effio seek+read vs callback fs.read", ops(EFFIO_OWN), ops(CB_OWN), 1),
        ratioRow("(b) one handle: Effio seek+read vs platform-node", ops(EFFIO_SEEK), ops(PN_SEEK), 8),
        ratioRow("(b) one handle: Effio seek+read vs callback fs.read", ops(EFFIO_SEEK), ops(CB), 1),
        ratioRow("(b) one handle: Effio seek+read vs FileHandle.read", ops(EFFIO_SEEK), ops(FH), 3),
        ratioRow("(a) own handles, SQPOLL ring: Effio vs platform-node", ops(EFFIO_OWN_SQ), ops(PN_OWN), 8),
        ratioRow("(a) own handles, SQPOLL ring: Effio vs callback fs.read", ops(EFFIO_OWN_SQ), ops(CB_OWN), 1),
        ratioRow("(b) one handle, SQPOLL ring: Effio vs platform-node", ops(EFFIO_SEEK_SQ), ops(PN_SEEK), 8),
        ratioRow("(b) one handle, SQPOLL ring: Effio vs callback fs.read", ops(EFFIO_SEEK_SQ), ops(CB), 1),
        ratioRow("(a) vs (b): Effio own handles vs one handle", ops(EFFIO_OWN), ops(EFFIO_SEEK), undefined),
        ratioRow("(a) own handles: Effio seek+read vs callback fs.read on one fd", ops(EFFIO_OWN), ops(CB), undefined),
        ratioRow("(b) Effio readAt vs platform-node", ops(EFFIO_READAT), ops(PN_SEEK), undefined),
        ratioRow("(b) Effio readAt vs FileHandle.read", ops(EFFIO_READAT), ops(FH), undefined),
        ratioRow("(b) Effio readAt vs callback fs.read", ops(EFFIO_READAT), ops(CB), undefined),
        ratioRow("(b) Effio seek+read, default scheduler vs platform-node", ops(EFFIO_SEEK_DEF), ops(PN_SEEK), undefined),
        ratioRow("(b) Effio seek+read, no pretenuring vs FileHandle.read", ops(EFFIO_SEEK_NP), ops(FH), undefined),
        ratioRow("(b) Effio readAt, no pretenuring vs callback fs.read", ops(EFFIO_READAT_NP), ops(CB), undefined)
      ])
    }
  }
}

export const fsRandom = fsBenchmark({
  name: "fs-random",
  description: "@effio/fs FileSystem vs @effect/platform-node and node:fs: random 4 KiB File.read at 32 fibers, a handle each and one shared",
  section: (timing) => {
    const size = fileSizeFromEnv(1024)
    return section(prepareTestFile("fs-random", size), size, timing)
  }
})
