/**
 * Soak: a long run of mixed load on the io_uring backend, watching for leaks. Not in CI.
 *
 *   npx tsx bench/soak.ts [--seconds 600] [--interval 30]
 *
 * Load, all at once and without a pause: file fibers (writeFile, readFile and copyFile of
 * random sizes, contents checked, some writes interrupted part-way), pipe fibers (`env.pipe`,
 * a writer fiber and a reader, some reads on an empty pipe interrupted), TCP fibers (connect
 * to an echo server on 127.0.0.1 through `env.net`, round trips checked, some cut short),
 * interrupted sleeps, and a forced GC every 2 s.
 *
 * Every `interval` seconds it pauses the load (each fiber finishes its current step), lets
 * closes settle, collects garbage, and prints one row: ops done (in total and per second since
 * the last row; an op is one step of a fiber: a write and read-back, a copy, a pipe transfer, a
 * round trip, an interrupted attempt, a sleep), RSS, heap used, open fds (and io_uring fds among
 * them), and the ring's ops in flight when the pause began and at the sample. It exits 1 if, between the 2nd and the last sample (the 1st is warm-up),
 * RSS grew by more than EFFIO_SOAK_RSS_MB (default 64 MiB) or the fd count by more than
 * EFFIO_SOAK_FDS (default 4), or if any check of the data failed (at once, with the cause).
 *
 * Env: EFFIO_SOAK_SECONDS (default 600), EFFIO_SOAK_INTERVAL (default 30), EFFIO_SOAK_RSS_MB,
 * EFFIO_SOAK_FDS; the flags win over the environment.
 */
import { FileSystem } from "@effect/platform"
import { Uring } from "@effio/core"
import { Flow, Net, Runtime, type Stdenv } from "@effio/runtime"
import { Duration, Effect, Fiber, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import { runInNewContext } from "node:vm"
import { randomBytes } from "node:crypto"
import { ioUringFds } from "./lib/proc.ts"
import { seededRandom } from "./lib/rand.ts"

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const num = (value: string | undefined, fallback: number): number => {
  const n = Number(value)
  return value !== undefined && value !== "" && Number.isFinite(n) && n > 0 ? n : fallback
}

const seconds = num(flag("seconds") ?? process.env.EFFIO_SOAK_SECONDS, 600)
const interval = num(flag("interval") ?? process.env.EFFIO_SOAK_INTERVAL, 30)
const rssBoundMb = num(process.env.EFFIO_SOAK_RSS_MB, 64)
const fdBound = num(process.env.EFFIO_SOAK_FDS, 4)

const FILE_FIBERS = 8
const PIPE_FIBERS = 4
const NET_FIBERS = 8
const SLEEP_FIBERS = 4

class CheckFailed extends Error {}

/** Integers in [0, n), reproducible per seed. */
const rng = (seed: number) => {
  const r = seededRandom(seed)
  return (n: number): number => Math.floor(r() * n)
}

const countFds = (): number => fs.readdirSync("/proc/self/fd").length

/** Reads `source` to its end (read → 0); fails past `limit` bytes. */
const readToEnd = <E>(source: { readonly read: (buf: Uint8Array) => Effect.Effect<number, E> }, chunk: number, limit: number) =>
  Effect.suspend(() => {
    const buf = new Uint8Array(chunk)
    const parts: Array<Uint8Array> = []
    let total = 0
    const loop: Effect.Effect<Uint8Array, E | CheckFailed> = Effect.flatMap(source.read(buf), (n) => {
      if (n === 0) return Effect.succeed(Buffer.concat(parts, total))
      parts.push(buf.slice(0, n))
      total += n
      return total > limit ? Effect.fail(new CheckFailed(`more than ${limit} bytes`)) : loop
    })
    return loop
  })

// A full GC whether or not node was started with --expose-gc.
v8.setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

/** One number per byte position, so a reordering or a lost chunk changes it. */
const checksum = (b: Uint8Array): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 16777619) >>> 0
  return h
}

const check = (ok: boolean, what: string): Effect.Effect<void, CheckFailed> =>
  ok ? Effect.void : Effect.fail(new CheckFailed(what))

// Payloads are precomputed (generating them would dominate the load): 16 of up to 256 KiB.
const payloads = Array.from({ length: 16 }, (_, i) => {
  const data = new Uint8Array(randomBytes(1 + ((i * 40_503) % (256 * 1024))))
  return { data, sum: checksum(data) }
})

// The pause: each fiber runs its steps through `step`; the sampler sets `paused` and waits
// until no step is running, so the fds and memory it reads are those of an idle program.
let paused = false
let active = 0
let ops = 0
const step = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    if (!paused) {
      active++
      return Effect.ensuring(Effect.tap(effect, () => void ops++), Effect.sync(() => void active--))
    }
    return Effect.zipRight(Effect.sleep("5 millis"), step(effect))
  })

const forever = <E, R>(body: (i: number) => Effect.Effect<void, E, R>): Effect.Effect<never, E, R> => {
  const loop = (i: number): Effect.Effect<never, E, R> => Effect.flatMap(step(body(i)), () => loop(i + 1))
  return loop(0)
}

const fileFiber = (fsys: FileSystem.FileSystem, dir: string, id: number) => {
  const next = rng(0x1000 + id)
  const a = path.join(dir, `f${id}.bin`)
  const b = path.join(dir, `f${id}.copy`)
  return forever((i) =>
    Effect.gen(function*() {
      const p = payloads[next(payloads.length)]!
      if (i % 5 === 4) {
        // Interrupted part-way (or not at all, when it was quick): either way no fd or
        // buffer may outlive it. The file may be partial; it is rewritten next.
        yield* Effect.ignore(Effect.timeout(fsys.writeFile(a, p.data), Duration.micros(BigInt(next(2000)))))
        return
      }
      yield* fsys.writeFile(a, p.data)
      const back = yield* fsys.readFile(a)
      yield* check(back.length === p.data.length && checksum(back) === p.sum, `readFile of ${a}`)
      if (i % 3 === 0) {
        yield* fsys.copyFile(a, b)
        const copied = yield* fsys.readFile(b)
        yield* check(checksum(copied) === p.sum, `copyFile to ${b}`)
        yield* fsys.remove(b)
      }
    })
  )
}

const pipeFiber = (env: Stdenv.Stdenv, id: number) => {
  const next = rng(0x2000 + id)
  return forever((i) =>
    Effect.scoped(Effect.gen(function*() {
      const pipe = yield* env.pipe
      if (i % 4 === 3) {
        // A read on an empty pipe, interrupted: its cancel must complete before the buffer goes.
        yield* Effect.timeout(pipe.source.read(new Uint8Array(4096)), Duration.micros(BigInt(next(3000)))).pipe(Effect.ignore)
        return
      }
      const p = payloads[next(payloads.length)]!
      const writer = yield* Effect.fork(Effect.ensuring(pipe.sink.write(p.data), pipe.sink.close))
      const got = yield* readToEnd(pipe.source, 16 * 1024, 1024 * 1024)
      yield* Fiber.join(writer)
      yield* check(checksum(got) === p.sum, "pipe contents")
    }))
  )
}

const netFiber = (env: Stdenv.Stdenv, address: Net.Tcp, id: number) => {
  const next = rng(0x3000 + id)
  return forever((i) => {
    const p = payloads[next(payloads.length)]!
    const roundTrip = Effect.scoped(Effect.gen(function*() {
      const conn = yield* env.net.connect(address)
      const writer = yield* Effect.fork(Effect.zipRight(conn.write(p.data), conn.shutdown("send")))
      const got = yield* readToEnd(conn, 64 * 1024, 1024 * 1024)
      yield* Fiber.join(writer)
      return got
    }))
    return i % 6 === 5
      // Cut short at a random point: connect, the write or the read is interrupted.
      ? Effect.ignore(Effect.timeout(roundTrip, Duration.micros(BigInt(next(5000)))))
      : Effect.flatMap(roundTrip, (got) => check(checksum(got) === p.sum, "echo contents"))
  })
}

const sleepFiber = (id: number) => {
  const next = rng(0x4000 + id)
  return forever(() =>
    Effect.raceFirst(Effect.sleep(Duration.millis(1 + next(20))), Effect.sleep(Duration.millis(1 + next(20))))
  )
}

interface Sample {
  readonly t: number
  readonly ops: number
  readonly rate: number
  readonly rssMb: number
  readonly heapMb: number
  readonly fds: number
  readonly ringFds: number
  readonly inFlightLive: number
  readonly inFlightIdle: number
}

const mb = (bytes: number) => bytes / (1024 * 1024)
const row = (cells: ReadonlyArray<string | number>) => `| ${cells.join(" | ")} |`

const sampler = (inFlight: () => number, started: number, samples: Array<Sample>) =>
  Effect.gen(function*() {
    const live = inFlight()
    paused = true
    while (active > 0) yield* Effect.sleep("5 millis")
    // Closes and cancels issued by the last steps complete within a few loop turns.
    yield* Effect.sleep("200 millis")
    yield* Effect.sync(gc)
    const mem = process.memoryUsage()
    const t = (performance.now() - started) / 1000
    const previous = samples.at(-1)
    const sample: Sample = {
      t,
      ops,
      rate: (ops - (previous?.ops ?? 0)) / (t - (previous?.t ?? 0)),
      rssMb: mb(mem.rss),
      heapMb: mb(mem.heapUsed),
      fds: countFds(),
      ringFds: ioUringFds(),
      inFlightLive: live,
      inFlightIdle: inFlight()
    }
    samples.push(sample)
    paused = false
    console.log(row([
      sample.t.toFixed(0),
      sample.ops,
      sample.rate.toFixed(0),
      sample.rssMb.toFixed(1),
      sample.heapMb.toFixed(1),
      sample.fds,
      sample.ringFds,
      sample.inFlightLive,
      sample.inFlightIdle
    ]))
  })

Runtime.run((env) =>
  Effect.gen(function*() {
    if (env.backendId !== "io_uring") console.error("soak: not on io_uring; the numbers are the node backend's")
    const fsys = yield* FileSystem.FileSystem
    const uring = yield* Effect.serviceOption(Uring.Uring)
    const inFlight = () => Option.match(uring, { onNone: () => 0, onSome: (u) => u.ring.inFlight })
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effio-soak-"))),
      (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
    )
    const listener = yield* env.net.listen(Net.tcp("127.0.0.1", 0), { noDelay: true })
    if (listener.address._tag !== "Tcp") return yield* Effect.die("not a TCP listener")
    const address = listener.address
    yield* Effect.forkScoped(env.net.runServer(listener, (flow) => Flow.copy(flow, flow), { onError: () => Effect.void }))

    console.log(`soak: ${seconds} s on ${env.backendId}, a row every ${interval} s; bounds from the 2nd row to the last: RSS +${rssBoundMb} MiB, fds +${fdBound}`)
    console.log(`soak: ${FILE_FIBERS} file, ${PIPE_FIBERS} pipe, ${NET_FIBERS} TCP and ${SLEEP_FIBERS} sleep fibers; GC every 2 s`)
    console.log(row(["t (s)", "ops", "ops/s", "RSS (MiB)", "heap (MiB)", "fds", "io_uring fds", "in flight (live)", "in flight (idle)"]))
    console.log(row(Array.from({ length: 9 }, () => "--:")))

    const load = [
      ...Array.from({ length: FILE_FIBERS }, (_, i) => fileFiber(fsys, dir, i)),
      ...Array.from({ length: PIPE_FIBERS }, (_, i) => pipeFiber(env, i)),
      ...Array.from({ length: NET_FIBERS }, (_, i) => netFiber(env, address, i)),
      ...Array.from({ length: SLEEP_FIBERS }, (_, i) => sleepFiber(i)),
      Effect.forever(Effect.zipRight(Effect.sleep("2 seconds"), Effect.sync(gc)))
    ]
    const started = performance.now()
    const samples: Array<Sample> = []
    const sampling = Effect.forever(Effect.zipRight(Effect.sleep(Duration.seconds(interval)), sampler(inFlight, started, samples)))
    // The load fails the run at once if a check fails; otherwise the time limit ends it.
    yield* Effect.raceFirst(
      Effect.all([...load, sampling], { concurrency: "unbounded", discard: true }),
      Effect.sleep(Duration.seconds(seconds))
    )
    if (samples.length < 2) {
      console.log("soak: fewer than 2 samples, no growth check (run longer than 2 intervals)")
      return
    }
    const first = samples[1]!
    const last = samples.at(-1)!
    const rssGrowth = last.rssMb - first.rssMb
    const fdGrowth = last.fds - first.fds
    console.log(
      `soak: ${last.ops} ops; from the 2nd sample to the last: RSS ${rssGrowth >= 0 ? "+" : ""}${rssGrowth.toFixed(1)} MiB (bound ${rssBoundMb}), ` +
        `heap ${(last.heapMb - first.heapMb).toFixed(1)} MiB, fds ${fdGrowth >= 0 ? "+" : ""}${fdGrowth} (bound ${fdBound}), ` +
        `in flight when idle ${last.inFlightIdle}`
    )
    if (rssGrowth > rssBoundMb || fdGrowth > fdBound) {
      return yield* Effect.fail(new CheckFailed(`growth past the bounds: RSS ${rssGrowth.toFixed(1)} MiB, fds ${fdGrowth}`))
    }
  })
)
