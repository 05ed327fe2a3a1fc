/**
 * random-read: 4 KiB reads at random 4 KiB-aligned offsets of a page-cached file, 32 in
 * flight, through effio's Ring, Node's fs APIs (threadpool and libuv io_uring) and fio.
 *
 * The exported case functions run inside child processes (see lib/child.ts); `randomRead`
 * is the parent side that prepares the file, runs the cases and prints the report.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import type { Benchmark } from "./lib/benchmark.ts"
import { type ChildCase, type ChildOutcome, runChildren } from "./lib/child.ts"
import { chains, type Counter, type Measured, type Timing, timedAsync, timedSync, timingFromEnv } from "./lib/measure.ts"
import { procNotes, ringNotes } from "./lib/proc.ts"
import { randomPositions } from "./lib/rand.ts"
import { fmtInt, fmtNum, printTable } from "./lib/table.ts"
import { arm, fileSizeFromEnv, prepareTestFile } from "./lib/testfile.ts"

const BLOCK = 4096
const DEPTH = 32
const SEED = 0x5eed

interface Args {
  readonly file: string
  readonly size: number
  readonly timing: Timing
}

type CaseResult = (Measured & { readonly notes?: string }) | { readonly skipped: string }

// ---------------------------------------------------------------------------------------------
// Read checks. The first and last byte of the buffer are zeroed before each read (`arm`: the
// file has no zero bytes), so a path that reports 4096 without filling the buffer fails too.

const readError = (n: number, buf: Uint8Array, pos: number): Error | undefined =>
  n === BLOCK && buf[0] !== 0 && buf[BLOCK - 1] !== 0
    ? undefined
    : new Error(`read of ${BLOCK} bytes at ${pos} gave ${n}${n === BLOCK ? " but left the buffer unfilled" : ""}`)

// ---------------------------------------------------------------------------------------------
// Cases (run in children)

/** a. effio Ring, raw: each completion callback issues that chain's next read. */
export const ring = async (a: Args): Promise<CaseResult> => {
  const { Ring, errnoName } = await import("@effio/uring-native")
  const ring = new Ring({ entries: DEPTH * 2 })
  const fd = fs.openSync(a.file, "r")
  const next = randomPositions(a.size, BLOCK, SEED)
  const m = await timedAsync(a.timing, (counter) =>
    chains(DEPTH, counter, (counter, resolve, reject) => {
      const buf = new Uint8Array(BLOCK)
      let pos = 0
      const issue = () => {
        pos = next()
        arm(buf)
        try {
          ring.read(fd, buf, 0, BLOCK, pos, done)
        } catch (e) {
          reject(e)
        }
      }
      const done = (res: number) => {
        const err = res < 0 ? new Error(`ring.read at ${pos}: ${errnoName(res)}`) : readError(res, buf, pos)
        if (err) return reject(err)
        counter.ops++
        if (counter.stop) resolve()
        else issue()
      }
      issue()
    })
  )
  const info = ring.info()
  const notes = `${procNotes()}; ${ringNotes(info)}`
  ring.close()
  fs.closeSync(fd)
  return { ...m, notes }
}

/** b, d. fs.read with callbacks, each callback issues that chain's next read. */
export const fsReadCallback = async (a: Args): Promise<CaseResult> => {
  const fd = fs.openSync(a.file, "r")
  const next = randomPositions(a.size, BLOCK, SEED)
  const m = await timedAsync(a.timing, (counter) =>
    chains(DEPTH, counter, (counter, resolve, reject) => {
      const buf = new Uint8Array(BLOCK)
      let pos = 0
      const issue = () => {
        pos = next()
        arm(buf)
        fs.read(fd, buf, 0, BLOCK, pos, done)
      }
      const done = (err: Error | null, n: number) => {
        const e = err ?? readError(n, buf, pos)
        if (e) return reject(e)
        counter.ops++
        if (counter.stop) resolve()
        else issue()
      }
      issue()
    })
  )
  const notes = procNotes()
  fs.closeSync(fd)
  return { ...m, notes }
}

/** c, e. async loops awaiting FileHandle.read. */
export const fileHandleRead = async (a: Args): Promise<CaseResult> => {
  const fh = await fs.promises.open(a.file, "r")
  const next = randomPositions(a.size, BLOCK, SEED)
  const loop = async (counter: Counter) => {
    const buf = new Uint8Array(BLOCK)
    while (!counter.stop) {
      const pos = next()
      arm(buf)
      const { bytesRead } = await fh.read(buf, 0, BLOCK, pos)
      const e = readError(bytesRead, buf, pos)
      if (e) throw e
      counter.ops++
    }
  }
  const m = await timedAsync(a.timing, (counter) => Promise.all(Array.from({ length: DEPTH }, () => loop(counter))))
  const notes = procNotes()
  await fh.close()
  return { ...m, notes }
}

/** f. one synchronous chain of fs.readSync. */
export const readSyncLoop = (a: Args): CaseResult => {
  const fd = fs.openSync(a.file, "r")
  const next = randomPositions(a.size, BLOCK, SEED)
  const buf = new Uint8Array(BLOCK)
  const m = timedSync(a.timing, () => {
    const pos = next()
    arm(buf)
    const e = readError(fs.readSync(fd, buf, 0, BLOCK, pos), buf, pos)
    if (e) throw e
  })
  const notes = procNotes()
  fs.closeSync(fd)
  return { ...m, notes }
}

interface FioJob {
  readonly error: number
  readonly job_runtime: number
  readonly usr_cpu: number
  readonly sys_cpu: number
  readonly read: { readonly iops: number; readonly total_ios: number; readonly runtime: number }
}

/** g. fio's io_uring engine at the same depth; ops and CPU come from fio's JSON. */
export const fio = (a: Args): CaseResult => {
  if (spawnSync("fio", ["--version"]).error) return { skipped: "fio not installed" }
  const ms = (n: number) => `${Math.max(1, Math.round(n))}ms`
  const args = [
    "--name=rr",
    `--filename=${a.file}`,
    "--rw=randread",
    `--bs=${BLOCK}`,
    "--ioengine=io_uring",
    `--iodepth=${DEPTH}`,
    "--direct=0",
    "--invalidate=0", // fio drops the file's page cache before the run by default
    "--norandommap", // uniform offsets with repeats, like the node cases
    `--ramp_time=${ms(a.timing.warmupMs)}`,
    `--runtime=${ms(a.timing.durationMs)}`,
    "--time_based",
    "--output-format=json",
    `--size=${a.size}`
  ]
  const r = spawnSync("fio", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
  const start = r.stdout.indexOf("{")
  if (r.status !== 0 || start < 0) throw new Error(`fio failed (${r.status ?? r.signal}): ${r.stderr.trim() || r.stdout.trim()}`)
  const job = (JSON.parse(r.stdout.slice(start)) as { jobs: ReadonlyArray<FioJob> }).jobs[0]
  if (!job || job.error !== 0) throw new Error(`fio job error ${job?.error}`)
  const ops = job.read.total_ios
  const cpuUs = job.job_runtime * 1000 // job_runtime is in ms; usr/sys_cpu are % of it
  const userUs = (job.usr_cpu / 100) * cpuUs
  const sysUs = (job.sys_cpu / 100) * cpuUs
  return { ops, seconds: job.read.runtime / 1000, opsPerSec: job.read.iops, userUs, sysUs, cpuUsPerOp: (userUs + sysUs) / ops }
}

// ---------------------------------------------------------------------------------------------
// Parent side

const MiB = 1024 * 1024
const plain = { UV_USE_IO_URING: undefined, UV_THREADPOOL_SIZE: undefined }
const uvUring = { UV_USE_IO_URING: "1", UV_THREADPOOL_SIZE: undefined }

const RING = "effio Ring (raw, no Effect)"
const FH = "node FileHandle.read"
const FIO = "fio io_uring QD32"

const cases = (args: Args): ReadonlyArray<ChildCase> => {
  const c = (name: string, fn: string, env: Record<string, string | undefined>): ChildCase => ({ name, module: import.meta.url, fn, args, env })
  return [
    c(RING, "ring", plain),
    c("node fs.read (callback)", "fsReadCallback", plain),
    c(FH, "fileHandleRead", plain),
    c("node fs.read (callback), UV_USE_IO_URING=1", "fsReadCallback", uvUring),
    c("node FileHandle.read, UV_USE_IO_URING=1", "fileHandleRead", uvUring),
    c("fs.readSync loop (1 chain)", "readSyncLoop", plain),
    c(FIO, "fio", plain)
  ]
}

const run = async (): Promise<boolean> => {
  const size = fileSizeFromEnv(1024)
  const timing = timingFromEnv()
  const file = prepareTestFile("random-read", size)
  const args: Args = { file, size, timing }

  const load0 = os.loadavg()[0]!
  const list = cases(args)
  const outcomes = await runChildren<CaseResult>(list, (c, o) =>
    console.error(`  ${c.name}: ${o.ok ? ("skipped" in o.value ? o.value.skipped : `${fmtInt(o.value.opsPerSec)} ops/s`) : `FAILED: ${o.error}`}`)
  )
  const byName = new Map(list.map((c, i) => [c.name, outcomes[i]!] as const))
  const measured = (name: string): Measured | undefined => {
    const o = byName.get(name)
    return o?.ok && !("skipped" in o.value) ? o.value : undefined
  }

  console.log(`\n### random-read: 4 KiB random reads, ${DEPTH} in flight, ${size / MiB} MiB page-cached file`)
  console.log(
    `\n${fmtNum(timing.durationMs / 1000, 1)} s per case after ${fmtNum(timing.warmupMs / 1000, 1)} s warm-up, each in a fresh process; ` +
      `node ${process.version}, libuv ${process.versions.uv}, Linux ${os.release()}, ${os.availableParallelism()} CPUs, ` +
      `load average ${fmtNum(load0)} at start / ${fmtNum(os.loadavg()[0])} at end. ` +
      `CPU = user+sys of the whole process (all threads) over the timed window.\n`
  )
  printTable(
    ["case", "ops/s", "CPU µs/op", "CPU %", "notes"],
    list.map((c, i) => {
      const o = outcomes[i]!
      if (!o.ok) return [c.name, "–", "–", "–", `FAILED: ${o.error.split("\n")[0]}`]
      if ("skipped" in o.value) return [c.name, "–", "–", "–", `skipped (${o.value.skipped})`]
      const m = o.value
      return [c.name, fmtInt(m.opsPerSec), fmtNum(m.cpuUsPerOp), fmtNum(((m.userUs + m.sysUs) / (m.seconds * 1e6)) * 100, 0), m.notes ?? ""]
    }),
    ["left", "right", "right", "right", "left"]
  )

  const ring = measured(RING)
  const ratio = (label: string, other: string, target: number) => {
    const o = measured(other)
    const r = ring && o ? ring.opsPerSec / o.opsPerSec : undefined
    return [label, r === undefined ? "n/a" : `${fmtNum(r)}×`, `≥ ${target}×`, r === undefined ? "n/a" : r >= target ? "PASS" : "MISS"]
  }
  const fioM = measured(FIO)
  console.log("")
  printTable(
    ["ratio (ops/s)", "value", "target", "result"],
    [ratio("Ring vs fio", FIO, 0.7), ratio("Ring vs FileHandle.read", FH, 4)],
    ["left", "right", "right", "left"]
  )
  if (ring && fioM) console.log(`\nCPU per op: Ring ${fmtNum(ring.cpuUsPerOp)} µs vs fio ${fmtNum(fioM.cpuUsPerOp)} µs (${fmtNum(ring.cpuUsPerOp / fioM.cpuUsPerOp)}×).`)
  return outcomes.every((o) => o.ok)
}

export const randomRead: Benchmark = {
  name: "random-read",
  description: "4 KiB random reads of a page-cached 1 GiB file at 32 in flight",
  run
}
