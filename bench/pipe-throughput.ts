/**
 * pipe-throughput: moves EFFIO_BENCH_PIPE_MB (default 256) MiB through an OS pipe, with
 * Effio's `Flow.copy` (splice on io_uring, read/write on the node backend), Node's own
 * stream pipeline, and an Effio producer/consumer pair that passes every byte through JS.
 *
 * Every transfer checks its byte counts on both ends; where the bytes pass through JS the
 * receiver also checksums them (lib/checksum.ts) against the test file's checksum.
 *
 * The exported case functions run inside child processes (see lib/child.ts);
 * `pipeThroughput` is the parent side that prepares the file, runs the cases and prints.
 */
import type { Uring } from "@effio/runtime"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import { pipeline } from "node:stream/promises"
import type { Benchmark } from "./lib/benchmark.ts"
import { Checksum } from "./lib/checksum.ts"
import { type ChildCase, runChildren } from "./lib/child.ts"
import { threadCount } from "./lib/proc.ts"
import { fmtNum, printTable } from "./lib/table.ts"
import { ensureTestFile, warmPageCache } from "./lib/testfile.ts"

const MiB = 1024 * 1024
const CHUNK = 64 * 1024

type BackendName = "io_uring" | "node"

interface Args {
  readonly file: string
  readonly size: number
  /** Checksum digest of the file (lib/checksum.ts). */
  readonly digest: string
  readonly reps: number
  readonly backend: BackendName
  /** Anchor only: checksum the received bytes. */
  readonly checksum: boolean
}

/** One timed transfer. */
interface Run {
  readonly seconds: number
  readonly cpuUs: number
  /** CPU time spent checksumming the received bytes (0 where nothing is checksummed). */
  readonly checksumUs: number
}

/** What one transfer reports: bytes sent and received, `checksumNs` where the receiver checksummed them. */
interface Transfer {
  readonly sent: number
  readonly received: number
  readonly checksumNs?: number | undefined
}

interface CaseResult {
  /** Every timed run (after one untimed warm-up run). */
  readonly runs: ReadonlyArray<Run>
  /** The median run by time. */
  readonly median: Run
  readonly notes: string
}

/** `EFFIO_BENCH_PIPE_MB` (default 256) in bytes. */
const pipeSizeFromEnv = (): number => {
  const mb = Number(process.env.EFFIO_BENCH_PIPE_MB ?? 256)
  if (!Number.isInteger(mb) || mb <= 0) throw new Error(`EFFIO_BENCH_PIPE_MB must be a positive integer, got ${process.env.EFFIO_BENCH_PIPE_MB}`)
  return mb * MiB
}

/** `EFFIO_BENCH_PIPE_REPS` (default 5) timed runs per case. */
const repsFromEnv = (): number => {
  const n = Number(process.env.EFFIO_BENCH_PIPE_REPS ?? 5)
  return Number.isInteger(n) && n > 0 ? n : 5
}

// ---------------------------------------------------------------------------------------------
// Child-side helpers

/** Wall time and whole-process CPU of `f`. */
const timed = async <A extends Transfer>(f: () => Promise<A>): Promise<{ value: A; run: Run }> => {
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const value = await f()
  const t1 = process.hrtime.bigint()
  const cpu = process.cpuUsage(cpu0)
  return { value, run: { seconds: Number(t1 - t0) / 1e9, cpuUs: cpu.user + cpu.system, checksumUs: (value.checksumNs ?? 0) / 1000 } }
}

/** One warm-up run, then `reps` timed runs; each run's value is checked by `check`. */
const repeat = async <A extends Transfer>(reps: number, once: () => Promise<A>, check: (a: A) => void): Promise<{ runs: Array<Run>; last: A }> => {
  check(await once())
  const runs: Array<Run> = []
  let last: A | undefined
  for (let i = 0; i < reps; i++) {
    const { value, run } = await timed(once)
    check(value)
    runs.push(run)
    last = value
  }
  return { runs, last: last! }
}

const result = (runs: ReadonlyArray<Run>, notes: string): CaseResult => {
  const sorted = [...runs].sort((x, y) => x.seconds - y.seconds)
  return { runs, median: sorted[Math.floor((sorted.length - 1) / 2)]!, notes }
}

const expectBytes = (what: string, got: number, want: number) => {
  if (got !== want) throw new Error(`${what}: ${got} bytes, expected ${want}`)
}

const expectDigest = (got: string, want: string) => {
  if (got !== want) throw new Error(`received bytes have checksum ${got}, the file has ${want}`)
}

/** io_uring worker threads of this process right now (splice and blocking pipe I/O run there). */
const iouWorkers = (): number => {
  let n = 0
  for (const t of fs.readdirSync("/proc/self/task")) {
    try {
      if (fs.readFileSync(`/proc/self/task/${t}/comm`, "utf8").startsWith("iou-wrk")) n++
    } catch {}
  }
  return n
}

/** The Effio runtime for `backend`, plus a counter of the splices its ring issues (io_uring only). */
const effioRuntime = async (backend: BackendName) => {
  const { Runtime, Scheduler, Stdenv, Uring } = await import("@effio/runtime")
  const rt = ManagedRuntime.make(Runtime.layer({ backend }))
  const stats = { splices: 0, splicedBytes: 0, ringInfo: undefined as undefined | (() => ReturnType<Uring.UringService["ring"]["info"]>) }
  const { backendId, scheduler, uring } = await rt.runPromise(
    Effect.all({
      backendId: Effect.map(Stdenv.Stdenv, (env) => env.backendId),
      scheduler: FiberRef.get(FiberRef.currentScheduler),
      uring: Effect.serviceOption(Uring.Uring)
    })
  )
  if (backendId !== backend) throw new Error(`asked for the ${backend} backend, got ${backendId}`)
  if (scheduler !== Scheduler.loopScheduler) throw new Error("Runtime.layer did not install the loop scheduler")
  if (backend === "io_uring" && uring._tag === "None") throw new Error("the io_uring backend provides no Uring service")
  if (uring._tag === "Some") {
    // Count the ring's splices (the proof that Flow.copy took the splice path) and their sizes.
    const ring = uring.value.ring
    const splice = ring.splice.bind(ring)
    ring.splice = (fdIn, offIn, fdOut, offOut, length, flags, cb) =>
      splice(fdIn, offIn, fdOut, offOut, length, flags, (res, f) => {
        stats.splices++
        if (res > 0) stats.splicedBytes += res
        cb(res, f)
      })
    stats.ringInfo = () => ring.info()
  }
  return { rt, stats }
}

const spliceNotes = (stats: Awaited<ReturnType<typeof effioRuntime>>["stats"], total: number) => {
  if (!stats.ringInfo) return ""
  const info = stats.ringInfo()
  return `${stats.splices} splices (${fmtNum(stats.splicedBytes / Math.max(1, stats.splices) / 1024, 1)} KiB avg), ` +
    `${fmtNum(stats.splicedBytes / total, 2)}× the bytes spliced, ${fmtNum(info.completions / info.batches, 1)} CQEs/batch`
}

// ---------------------------------------------------------------------------------------------
// Cases (run in children)

/**
 * a, b. `Flow.copy(file, pipe.sink)` and, concurrently, `Flow.copy(pipe.source, /dev/null)`
 * on the given backend (`Runtime.layer({ backend })`, loop scheduler included).
 */
export const effioCopy = async (a: Args): Promise<CaseResult> => {
  const { Flow, Stdenv } = await import("@effio/runtime")
  const { rt, stats } = await effioRuntime(a.backend)
  const transfer = Effect.scoped(
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const pipe = yield* env.pipe
      const open = (path: string, flags: string) =>
        Effect.acquireRelease(Effect.sync(() => env.fromFd(fs.openSync(path, flags), { close: true })), (p) => p.source.close)
      const file = yield* open(a.file, "r")
      const devnull = yield* open("/dev/null", "w")
      const [sent, received] = yield* Effect.all(
        [Effect.ensuring(Flow.copy(file.source, pipe.sink), pipe.sink.close), Flow.copy(pipe.source, devnull.sink)],
        { concurrency: 2 }
      )
      return { sent, received }
    })
  )
  const { runs } = await repeat(a.reps, () => rt.runPromise(transfer), ({ sent, received }) => {
    expectBytes("Flow.copy(file → pipe) copied", sent, a.size)
    expectBytes("Flow.copy(pipe → /dev/null) copied", received, a.size)
  })
  const notes = [spliceNotes(stats, a.size * (a.reps + 1)), `threads ${threadCount()}, iou-wrk ${iouWorkers()}`].filter((s) => s).join("; ")
  if (a.backend === "io_uring" && stats.splicedBytes !== 2 * a.size * (a.reps + 1)) {
    throw new Error(`expected splice to move every byte on both hops, it moved ${stats.splicedBytes} of ${2 * a.size * (a.reps + 1)}`)
  }
  await rt.dispose()
  return result(runs, notes)
}

/**
 * a0. The same two splice chains on a raw Ring (no Effect): file → pipe and pipe → /dev/null,
 * each completion issuing that chain's next 64 KiB splice. The floor under case a.
 */
export const ringSplice = async (a: Args): Promise<CaseResult> => {
  const { Ring, errnoName, pipe2 } = await import("@effio/uring-native")
  const ring = new Ring({ entries: 64 })
  let splices = 0
  const once = () =>
    new Promise<{ sent: number; received: number }>((resolve, reject) => {
      const [r, w] = pipe2()
      const fin = fs.openSync(a.file, "r")
      const fout = fs.openSync("/dev/null", "w")
      const open = new Set([r, w, fin, fout])
      const closeAll = () => {
        for (const fd of open) fs.closeSync(fd)
        open.clear()
      }
      let sent = 0
      let received = 0
      let ended = 0
      let failed = false
      const fail = (what: string, res: number) => {
        if (failed) return
        failed = true
        closeAll()
        reject(new Error(`${what} splice failed: ${errnoName(res)}`))
      }
      const end = () => {
        if (++ended === 2 && !failed) {
          closeAll()
          resolve({ sent, received })
        }
      }
      const pump = () =>
        ring.splice(fin, -1, w, -1, CHUNK, 0, (res) => {
          splices++
          if (res < 0) return fail("file → pipe", res)
          if (res === 0) {
            // End of the file: close the write end so the drain sees end of input.
            fs.closeSync(w)
            open.delete(w)
            return end()
          }
          sent += res
          pump()
        })
      const drain = () =>
        ring.splice(r, -1, fout, -1, CHUNK, 0, (res) => {
          splices++
          if (res < 0) return fail("pipe → /dev/null", res)
          if (res === 0) return end()
          received += res
          drain()
        })
      pump()
      drain()
    })
  const { runs } = await repeat(a.reps, once, ({ sent, received }) => {
    expectBytes("splice(file → pipe) moved", sent, a.size)
    expectBytes("splice(pipe → /dev/null) moved", received, a.size)
  })
  const info = ring.info()
  const notes = `${splices} splices, ${fmtNum(info.completions / info.batches, 1)} CQEs/batch; threads ${threadCount()}, iou-wrk ${iouWorkers()}`
  ring.close()
  return result(runs, notes)
}

/**
 * c. Anchor: `pipeline(fs.createReadStream(file), net.Socket(pipe write end))` and
 * `pipeline(net.Socket(pipe read end), fs.createWriteStream("/dev/null"))`.
 */
export const nodePipeline = async (a: Args): Promise<CaseResult> => {
  const { pipe2 } = await import("@effio/uring-native")
  const once = async () => {
    const [r, w] = pipe2()
    const ws = new net.Socket({ fd: w, readable: false, writable: true })
    const rs = new net.Socket({ fd: r, readable: true, writable: false })
    const sum = a.checksum ? new Checksum() : undefined
    let received = 0
    rs.on("data", (chunk: Buffer) => {
      received += chunk.length
      sum?.update(chunk)
    })
    const devnull = fs.createWriteStream("/dev/null")
    const rstream = fs.createReadStream(a.file)
    await Promise.all([pipeline(rstream, ws), pipeline(rs, devnull)])
    return { sent: rstream.bytesRead, received, written: devnull.bytesWritten, digest: sum?.digest(), checksumNs: sum?.nanos }
  }
  const { runs } = await repeat(a.reps, once, (v) => {
    expectBytes("createReadStream read", v.sent, a.size)
    expectBytes("the pipe's read end delivered", v.received, a.size)
    expectBytes("/dev/null stream wrote", v.written, a.size)
    if (v.digest !== undefined) expectDigest(v.digest, a.digest)
  })
  return result(runs, `threads ${threadCount()}${a.checksum ? "; received bytes checksummed" : "; byte counts only"}`)
}

/**
 * d. Effio through JS: one fiber writes the file's bytes in 64 KiB chunks with
 * `pipe.sink.write` (from memory: the test file is one 1 MiB block repeated), another reads
 * them with `pipe.source.read` into a 64 KiB buffer and checksums them.
 */
export const effioProducerConsumer = async (a: Args): Promise<CaseResult> => {
  const { Stdenv } = await import("@effio/runtime")
  const { rt, stats } = await effioRuntime(a.backend)
  const block = Buffer.alloc(MiB)
  const fd = fs.openSync(a.file, "r")
  if (fs.readSync(fd, block, 0, MiB, 0) !== MiB) throw new Error("short read of the test file's first block")
  fs.closeSync(fd)
  const transfer = Effect.scoped(
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const pipe = yield* env.pipe
      const produce = Effect.suspend(() => {
        let off = 0
        const loop: Effect.Effect<number, unknown> = Effect.suspend(() => {
          if (off >= a.size) return Effect.succeed(off)
          const o = off % MiB
          off += CHUNK
          return Effect.zipRight(pipe.sink.write(block.subarray(o, o + CHUNK)), loop)
        })
        return Effect.ensuring(loop, pipe.sink.close)
      })
      const consume = Effect.suspend(() => {
        const buf = new Uint8Array(CHUNK)
        const sum = new Checksum()
        const loop: Effect.Effect<Checksum, unknown> = Effect.flatMap(pipe.source.read(buf), (n) => {
          if (n === 0) return Effect.succeed(sum)
          sum.update(buf.subarray(0, n))
          return loop
        })
        return loop
      })
      const [sent, sum] = yield* Effect.all([produce, consume], { concurrency: 2 })
      return { sent, received: sum.bytes, digest: sum.digest(), checksumNs: sum.nanos }
    })
  )
  const { runs } = await repeat(a.reps, () => rt.runPromise(transfer), (v) => {
    expectBytes("the producer wrote", v.sent, a.size)
    expectBytes("the consumer read", v.received, a.size)
    expectDigest(v.digest, a.digest)
  })
  const notes = [
    stats.ringInfo ? `${fmtNum(stats.ringInfo().completions / stats.ringInfo().batches, 1)} CQEs/batch` : "",
    `threads ${threadCount()}, iou-wrk ${iouWorkers()}`,
    "received bytes checksummed"
  ].filter((s) => s).join("; ")
  await rt.dispose()
  return result(runs, notes)
}

// ---------------------------------------------------------------------------------------------
// Parent side

const A0 = "a0. raw Ring.splice file→pipe→/dev/null (no Effect)"
const A = "a. Effio Flow.copy file→pipe→/dev/null, io_uring (splice)"
const B = "b. Effio Flow.copy file→pipe→/dev/null, node backend"
const C = "c. anchor: node stream.pipeline file→pipe→/dev/null"
const C_SUM = "c'. anchor + checksum of received bytes"
const D_URING = "d. Effio sink.write/source.read through JS, io_uring"
const D_NODE = "d. Effio sink.write/source.read through JS, node backend"

const cases = (base: Omit<Args, "backend" | "checksum">): ReadonlyArray<ChildCase> => {
  const c = (name: string, fn: string, backend: BackendName, checksum = false): ChildCase => ({
    name,
    module: import.meta.url,
    fn,
    args: { ...base, backend, checksum } satisfies Args,
    env: { EFFIO_BACKEND: undefined }
  })
  return [
    c(A0, "ringSplice", "io_uring"),
    c(A, "effioCopy", "io_uring"),
    c(B, "effioCopy", "node"),
    c(C, "nodePipeline", "node"),
    c(C_SUM, "nodePipeline", "node", true),
    c(D_URING, "effioProducerConsumer", "io_uring"),
    c(D_NODE, "effioProducerConsumer", "node")
  ]
}

const run = async (): Promise<boolean> => {
  const size = pipeSizeFromEnv()
  const reps = repsFromEnv()
  const file = ensureTestFile(`effio-bench-${size / MiB}m.dat`, size)
  console.error(`pipe-throughput: ${file.created ? "created" : "reusing"} ${file.path}; warming the page cache...`)
  console.error(`pipe-throughput: read ${size / MiB} MiB in ${fmtNum(warmPageCache(file.path))} s`)
  const sum = new Checksum()
  const buf = Buffer.allocUnsafe(8 * MiB)
  const fd = fs.openSync(file.path, "r")
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) sum.update(buf.subarray(0, n))
  fs.closeSync(fd)

  const load0 = os.loadavg()[0]!
  const list = cases({ file: file.path, size, digest: sum.digest(), reps })
  const mbps = (r: Run) => size / 1e6 / r.seconds
  const outcomes = await runChildren<CaseResult>(list, (c, o) =>
    console.error(`  ${c.name}: ${o.ok ? `${fmtNum(mbps(o.value.median), 0)} MB/s` : `FAILED: ${o.error}`}`)
  )
  const byName = new Map(list.map((c, i) => [c.name, outcomes[i]!] as const))
  const median = (name: string): Run | undefined => {
    const o = byName.get(name)
    return o?.ok ? o.value.median : undefined
  }

  console.log(`\n### pipe-throughput: ${size / MiB} MiB through an OS pipe`)
  console.log(
    `\nEach case in a fresh process: one untimed warm-up transfer, then ${reps} timed transfers; the table shows the median ` +
      `(MB = 10⁶ bytes) and the range of all timed runs. node ${process.version}, Linux ${os.release()}, ` +
      `${os.availableParallelism()} CPUs, load average ${fmtNum(load0)} at start / ${fmtNum(os.loadavg()[0])} at end. ` +
      `CPU = user+sys of the whole process (all threads, io_uring workers included) during the transfer; ` +
      `"of it checksum" = the part spent checksumming received bytes (time inside Checksum.update).\n`
  )
  printTable(
    ["case", "MB/s", "range MB/s", "CPU µs/MiB", "of it checksum", "CPU %", "notes"],
    list.map((c, i) => {
      const o = outcomes[i]!
      if (!o.ok) return [c.name, "–", "–", "–", "–", "–", `FAILED: ${o.error.split("\n")[0]}`]
      const m = o.value.median
      const all = o.value.runs.map(mbps)
      return [
        c.name,
        fmtNum(mbps(m), 0),
        `${fmtNum(Math.min(...all), 0)}–${fmtNum(Math.max(...all), 0)}`,
        fmtNum(m.cpuUs / (size / MiB), 0),
        m.checksumUs > 0 ? fmtNum(m.checksumUs / (size / MiB), 0) : "–",
        fmtNum((m.cpuUs / (m.seconds * 1e6)) * 100, 0),
        o.value.notes
      ]
    }),
    ["left", "right", "right", "right", "right", "right", "left"]
  )

  const ratio = (label: string, num: string, den: string, target?: number) => {
    const n = median(num)
    const d = median(den)
    const r = n && d ? d.seconds / n.seconds : undefined
    const cpu = n && d ? d.cpuUs / n.cpuUs : undefined
    const verdict = target === undefined || r === undefined ? "" : r >= target ? "PASS" : "MISS"
    return [label, r === undefined ? "n/a" : `${fmtNum(r)}×`, cpu === undefined ? "n/a" : `${fmtNum(cpu)}×`, target === undefined ? "" : `≥ ${target}×`, verdict]
  }
  console.log("")
  printTable(
    ["ratio", "MB/s", "CPU/MiB (den/num)", "target", "result"],
    [
      ratio("a vs c: Effio io_uring (splice) vs node pipeline", A, C, 1),
      ratio("a vs b: Effio io_uring vs node backend (Flow.copy)", A, B),
      ratio("a vs a0: Effio Flow.copy vs raw Ring splice chains", A, A0),
      ratio("b vs c: Effio node backend vs node pipeline", B, C),
      ratio("d: io_uring vs node backend (through JS)", D_URING, D_NODE),
      ratio("d io_uring vs c': through JS, both checksummed", D_URING, C_SUM)
    ],
    ["left", "right", "right", "right", "left"]
  )
  return outcomes.every((o) => o.ok)
}

export const pipeThroughput: Benchmark = {
  name: "pipe-throughput",
  description: "MiB/s through an OS pipe: Effio Flow.copy (splice / node backend), node stream.pipeline, Effio through JS",
  run
}
