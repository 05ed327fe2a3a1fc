// Ring storms through the Uring service: Effect fibers over a ring whose completion queue
// holds 8 entries (the kernel keeps what does not fit aside until it is flushed), and over a
// submission queue of 2 with the native overflow queue in use (RingOptions.testQueueWhenFull),
// with fibers interrupted while their op still sits in that queue. Every op carries its own
// identity (a tag in the bytes it reads or writes), so a completion lost, delivered twice or
// resuming the wrong fiber shows.
import { describe, expect, it } from "@effect/vitest"
import { Uring } from "@effio/core"
import { pipe2, Ring } from "@effio/uring-native"
import { Duration, Effect, Exit, Fiber, Scheduler } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { countFds, isTagBlock as isBlock, messageTag, rng, tagBlock as block, tagBlocks, tagMessage as message, tagMessages, tempDir } from "./helpers.js"

const STORM_OPS = Number(process.env.EFFIO_STORM_OPS ?? 100_000)

/** A kernel pipe (blocking ends), both closed when the scope closes. */
const rawPipe = Effect.acquireRelease(Effect.sync(() => pipe2()), ([r, w]) =>
  Effect.sync(() => {
    fs.closeSync(r)
    fs.closeSync(w)
  }))

/** An fd opened by node, closed when the scope closes. */
const openFd = (file: string, flags: string) =>
  Effect.acquireRelease(Effect.sync(() => fs.openSync(file, flags)), (fd) => Effect.sync(() => fs.closeSync(fd)))

/** A ring of our own, closed when the scope closes. */
const ownRing = (options: ConstructorParameters<typeof Ring>[0]) =>
  Effect.acquireRelease(Effect.sync(() => new Ring(options)), (ring) => Effect.sync(() => ring.close()))

describe("Uring over a completion queue of 8", () => {
  it.live(`${STORM_OPS} fibers in overlapping bursts (nop, sleep, pipe read/write, file read): each resumes once with its own result`, () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const BLOCKS = 4096
      const file = path.join(dir, "tagged.bin")
      fs.writeFileSync(file, tagBlocks(BLOCKS))
      const fd = yield* openFd(file, "r")
      const [r, w] = yield* rawPipe
      const ring = yield* ownRing({ entries: 4, cqEntries: 8 })
      expect(ring.info().cqEntries).toBe(8)
      const uring = Uring.fromRing(ring)
      const random = rng(0xe44e)

      const N = STORM_OPS
      const resumed = new Uint8Array(N)
      const received = new Uint8Array(N)
      const wrong: Array<string> = []
      let writes = 0
      let maxInFlight = 0
      const check = (i: number, ok: boolean, what: string) =>
        Effect.sync(() => {
          resumed[i]!++
          if (!ok) wrong.push(`${what} ${i}`)
          if ((i & 255) === 0) maxInFlight = Math.max(maxInFlight, ring.inFlight)
        })
      const pipeRead = (i: number) =>
        Effect.suspend(() => {
          const buf = new Uint8Array(8)
          return Effect.flatMap(uring.read(r, buf, 0, 8, -1), (n) => {
            const tag = messageTag(buf)
            const ok = n === 8 && tag >= 0 && tag < N
            if (ok && ++received[tag]! > 1) wrong.push(`message ${tag} read twice`)
            return check(i, ok, "pipe read")
          })
        })
      const pipeWrite = (i: number) =>
        Effect.suspend(() => {
          writes++
          return Effect.flatMap(uring.write(w, message(i), 0, 8, -1), (n) => check(i, n === 8, "pipe write"))
        })
      // The ops of one burst (each an Effect resuming one fiber), chosen by the seeded rng.
      const burst = (first: number, size: number) => {
        const ops: Array<Effect.Effect<void, unknown>> = []
        const end = first + size
        for (let i = first; i < end; i++) {
          const kind = random(7)
          const k = i % BLOCKS
          if (kind < 2) ops.push(Effect.flatMap(uring.nop, (res) => check(i, res === 0, "nop")))
          else if (kind < 4) {
            ops.push(Effect.suspend(() => {
              const buf = new Uint8Array(16)
              return Effect.flatMap(uring.read(fd, buf, 0, 16, k * 16), (n) => check(i, n === 16 && isBlock(buf, k), "file read"))
            }))
          } else if (kind < 6) ops.push(Effect.zipRight(uring.sleep(Duration.micros(BigInt(random(200)))), check(i, true, "sleep")))
          else if (i + 1 === end) ops.push(Effect.flatMap(uring.nop, (res) => check(i, res === 0, "nop")))
          else {
            // A pipe write and a pipe read, in either order (a read waits for some write).
            const j = ++i
            if (random(2) === 0) ops.push(pipeRead(i - 1), pipeWrite(j))
            else ops.push(pipeWrite(i - 1), pipeRead(j))
          }
        }
        return ops
      }
      const bursts: Array<{ first: number; size: number }> = []
      for (let first = 0; first < N;) {
        const size = Math.min(N - first, 500 + random(2000))
        bursts.push({ first, size })
        first += size
      }
      const before = ring.info()
      // Two bursts in flight at a time, each with all its fibers at once.
      yield* Effect.forEach(
        bursts,
        ({ first, size }) => Effect.forEach(burst(first, size), (op) => op, { concurrency: "unbounded", discard: true }),
        { concurrency: 2, discard: true }
      ).pipe(
        // Disconnected: a stuck storm fails the test at once; its fibers end when the ring closes.
        Effect.disconnect,
        Effect.timeoutFail({ duration: "45 seconds", onTimeout: () => new Error(`stuck: ${resumed.reduce((a, x) => a + x, 0)} of ${N} resumed`) })
      )

      expect(wrong.slice(0, 10)).toEqual([])
      expect(resumed.every((c) => c === 1)).toBe(true)
      expect(received.reduce((a, x) => a + x, 0)).toBe(writes)
      expect(writes).toBeGreaterThan(N / 20)
      const info = ring.info()
      expect(info.inFlight).toBe(0)
      expect(info.completions - before.completions).toBe(N)
      // Far more in flight than the CQ holds, and the overflow recovered again and again.
      expect(maxInFlight).toBeGreaterThan(50 * info.cqEntries)
      expect(info.cqOverflowFlushes).toBeGreaterThan(100)
    }).pipe(Effect.scoped), 60_000)
})

describe("Uring over a submission queue of 2 with the native overflow queue (testQueueWhenFull)", () => {
  it.live("10,000 fibers, a seeded half interrupted while their op is queued: ECANCELED reaches no kernel, the rest complete", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const N = 10_000
      const out = path.join(dir, "out.bin")
      const wfd = yield* openFd(out, "w+")
      const [r, w] = yield* rawPipe
      const fdsBefore = countFds()
      const ring = yield* ownRing({ entries: 2, testQueueWhenFull: true })
      const uring = Uring.fromRing(ring)
      const random = rng(0x1e7e)
      const reads = new Map<number, Uint8Array>()
      // Started on a scheduler we flush ourselves: the fibers reach their op at once, and every
      // interruption's canceller runs before the loop turns (so before the queue moves on).
      const scheduler = new Scheduler.SyncScheduler()
      const fibers: Array<Fiber.RuntimeFiber<number, unknown>> = []
      for (let i = 0; i < N; i++) {
        let op: Effect.Effect<number, unknown>
        if (i % 4 === 3) {
          const buf = new Uint8Array(8)
          reads.set(i, buf)
          op = uring.read(r, buf, 0, 8, -1)
        } else op = uring.write(wfd, block(i), 0, 16, i * 16)
        fibers.push(Effect.runFork(op, { scheduler }))
      }
      expect(ring.info().overflowQueued).toBe(N - 2)
      const interrupted = new Set<number>()
      for (let i = 2; i < N; i++) {
        if (random(2) === 0) continue
        fibers[i]!.unsafeInterruptAsFork(fibers[i]!.id())
        interrupted.add(i)
      }
      scheduler.flush()
      expect(ring.info().submitted).toBe(0) // nothing reached the kernel yet
      const liveReads = [...reads.keys()].filter((i) => !interrupted.has(i))
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(() => setImmediate(resolve))))
      fs.writeSync(w, tagMessages(liveReads.length))

      const exits = yield* Effect.forEach(fibers, Fiber.await).pipe(
        Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error("stuck") })
      )
      const file = new Uint8Array(fs.readFileSync(out))
      const tags = new Set<number>()
      for (let i = 0; i < N; i++) {
        const exit = exits[i]!
        const bytes = file.subarray(i * 16, i * 16 + 16)
        if (interrupted.has(i)) {
          expect(Exit.isInterrupted(exit), `fiber ${i}`).toBe(true)
          if (reads.has(i)) expect(reads.get(i)!.every((b) => b === 0), `read ${i} got data`).toBe(true)
          else expect(bytes.every((b) => b === 0), `block ${i} written`).toBe(true)
        } else if (reads.has(i)) {
          expect(exit, `read ${i}`).toEqual(Exit.succeed(8))
          tags.add(messageTag(reads.get(i)!))
        } else {
          expect(exit, `write ${i}`).toEqual(Exit.succeed(16))
          expect(isBlock(bytes, i), `block ${i}`).toBe(true)
        }
      }
      expect(tags.size).toBe(liveReads.length)
      expect(interrupted.size).toBeGreaterThan(N / 3)
      expect(ring.inFlight).toBe(0)
      expect(ring.info().submitted).toBe(N) // a NOP ran in place of each interrupted op
      ring.close()
      expect(countFds()).toBe(fdsBefore)
    }).pipe(Effect.scoped), 40_000)
})
