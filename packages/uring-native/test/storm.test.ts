// Ring storms: far more ops in flight than the CQ can hold (the kernel keeps the overflow
// aside, IORING_FEAT_NODROP, until an enter with GETEVENTS moves it in), and a submission
// queue of 2 with the native overflow queue in use (RingOptions.testQueueWhenFull: this
// kernel always takes the whole SQ, so without the option that queue is never reached).
// Every op carries its own identity (a tag in the bytes it reads or writes, or its index in
// the callback), so a completion lost, delivered twice or delivered to the wrong op shows.
import fs from "node:fs"
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { errno, Ring } from "../src/index.js"
import { isTagBlock as isBlock, messageTag, rng, tagBlock as block, tagMessage as message, tagBlocks, tagMessages as messages } from "../../../test-utils/index.js"
import { closeTracked, gc, immediate, makePipe, makeTempDir, removeTempDirs, track } from "./helpers.js"

afterEach(() => {
  closeTracked()
  removeTempDirs()
})

const ETIME = -errno.ETIME!
const ECANCELED = -errno.ECANCELED!
const fdCount = (): number => fs.readdirSync("/proc/self/fd").length
const STORM_OPS = Number(process.env.EFFIO_STORM_OPS ?? 100_000)

/** A file of `blocks` 16-byte blocks, block k being tagBlock(k). */
const taggedFile = (dir: string, blocks: number): string => {
  const file = path.join(dir, "tagged.bin")
  fs.writeFileSync(file, tagBlocks(blocks))
  return file
}
/**
 * Completion bookkeeping for `n` ops: each op's call count and last result; `all` settles
 * when all `n` have completed, or rejects after `timeoutMs` (then `stuck` is true).
 */
const tracker = (n: number, timeoutMs: number) => {
  const calls = new Uint8Array(n)
  const results = new Int32Array(n).fill(1)
  let completed = 0
  let resolveAll!: () => void
  let rejectAll!: (e: Error) => void
  const all = new Promise<void>((resolve, reject) => {
    resolveAll = resolve
    rejectAll = reject
  })
  const t = {
    calls,
    results,
    stuck: false,
    get completed() {
      return completed
    },
    done: (i: number, res: number): void => {
      calls[i]!++
      results[i] = res
      if (++completed === n) resolveAll()
    },
    /** Waits for every completion (bounded). */
    wait: async (): Promise<void> => {
      const timer = setTimeout(() => {
        t.stuck = true
        rejectAll(new Error(`stuck: ${completed} of ${n} completed`))
      }, timeoutMs)
      try {
        await all
      } finally {
        clearTimeout(timer)
      }
    },
    onceEach: (): boolean => calls.every((c) => c === 1)
  }
  return t
}

describe("a completion queue of 8", () => {
  it(`${STORM_OPS} ops in overlapping bursts (nop, timeout, pipe read/write, file read): each completes once, with its own result`, async () => {
    const dir = makeTempDir()
    const BLOCKS = 4096
    const fd = track(fs.openSync(taggedFile(dir, BLOCKS), "r"))
    const { r, w } = makePipe(dir)
    const fdsBefore = fdCount()
    const ring = new Ring({ entries: 4, cqEntries: 8 })
    const random = rng(0x5707)
    try {
      expect(ring.info().cqEntries).toBe(8)
      const N = STORM_OPS
      const t = tracker(N, 40_000)
      const wrong: Array<string> = []
      // Pipe messages: how often each write's tag was read (exactly once each, in the end).
      const received = new Uint8Array(N)
      let submitted = 0
      let maxInFlight = 0
      let bursts = 0
      let lastBurst = 0
      let writes = 0
      const done = (i: number, res: number, ok: boolean, what: string): void => {
        if (!ok) wrong.push(`${what} ${i}: ${res}`)
        t.done(i, res)
        // Overlapping bursts: the next one goes out from inside a completion callback, while
        // the CQ is overflowing, once half of what is in flight has completed.
        if (!t.stuck && submitted < N && submitted - t.completed < lastBurst / 2) burst()
      }
      const pipeRead = (i: number): void => {
        const buf = new Uint8Array(8)
        ring.read(r, buf, 0, 8, -1, (res) => {
          const tag = messageTag(buf)
          const ok = res === 8 && tag >= 0 && tag < N
          if (ok && ++received[tag]! > 1) wrong.push(`message ${tag} read twice`)
          done(i, res, ok, "pipe read")
        })
      }
      const pipeWrite = (i: number): void => {
        writes++
        ring.write(w, message(i), 0, 8, -1, (res) => done(i, res, res === 8, "pipe write"))
      }
      const burst = (): void => {
        bursts++
        const size = Math.min(N - submitted, 500 + random(2500))
        lastBurst = size
        const end = submitted + size
        while (submitted < end) {
          const i = submitted++
          const kind = random(7)
          if (kind < 2) ring.nop((res) => done(i, res, res === 0, "nop"))
          else if (kind < 4) {
            const k = i % BLOCKS
            const buf = new Uint8Array(16)
            ring.read(fd, buf, 0, 16, k * 16, (res) => done(i, res, res === 16 && isBlock(buf, k), "file read"))
          } else if (kind < 6) ring.timeout(random(200_000), (res) => done(i, res, res === ETIME, "timeout"))
          else if (submitted === end) ring.nop((res) => done(i, res, res === 0, "nop")) // no room for a pair
          else {
            // A pipe write and a pipe read, in either order (a read waits for some write).
            const j = submitted++
            if (random(2) === 0) {
              pipeRead(i)
              pipeWrite(j)
            } else {
              pipeWrite(i)
              pipeRead(j)
            }
          }
        }
        maxInFlight = Math.max(maxInFlight, ring.inFlight)
      }
      const before = ring.info()
      burst()
      await t.wait()
      await immediate()

      expect(wrong.slice(0, 10)).toEqual([])
      expect(t.onceEach()).toBe(true)
      // Every message written was read exactly once (a read of a message never written, or of
      // one read before, is wrong above).
      expect(received.reduce((a, x) => a + x, 0)).toBe(writes)
      expect(writes).toBeGreaterThan(N / 20)
      const info = ring.info()
      expect(info.inFlight).toBe(0)
      expect(info.completions - before.completions).toBe(N)
      expect(info.submitted - before.submitted).toBe(N)
      // The CQ really overflowed, many times, and was recovered each time.
      expect(maxInFlight).toBeGreaterThan(100 * info.cqEntries)
      expect(info.cqOverflowFlushes).toBeGreaterThan(100)
      expect(bursts).toBeGreaterThan(10)
      fs.writeSync(w, "x")
      expect(fs.readSync(r, Buffer.alloc(8), 0, 8, null)).toBe(1) // nothing left over in the pipe
    } finally {
      ring.close()
    }
    expect(fdCount()).toBe(fdsBefore)
  }, 60_000)
})

describe("a submission queue of 2 with the native overflow queue (testQueueWhenFull)", () => {
  const N = 10_000

  it(`${N} ops: the queue drains in order; each completes once with its own result`, async () => {
    const dir = makeTempDir()
    const fd = track(fs.openSync(taggedFile(dir, N), "r"))
    const out = path.join(dir, "out.bin")
    const wfd = track(fs.openSync(out, "w+"))
    const { r, w } = makePipe(dir)
    const ring = new Ring({ entries: 2, testQueueWhenFull: true })
    const random = rng(0x2222)
    try {
      expect(ring.info().sqEntries).toBe(2)
      const t = tracker(N, 20_000)
      const wrong: Array<string> = []
      const nopOrder: Array<number> = []
      const written: Array<number> = []
      let pipeReads = 0
      const done = (i: number, res: number, ok: boolean, what: string): void => {
        if (!ok) wrong.push(`${what} ${i}: ${res}`)
        t.done(i, res)
      }
      for (let i = 0; i < N; i++) {
        const kind = random(5)
        if (kind < 2) {
          ring.nop((res) => {
            nopOrder.push(i)
            done(i, res, res === 0, "nop")
          })
        } else if (kind === 2) {
          const buf = new Uint8Array(16)
          ring.read(fd, buf, 0, 16, i * 16, (res) => done(i, res, res === 16 && isBlock(buf, i), "file read"))
        } else if (kind === 3) {
          written.push(i)
          ring.write(wfd, block(i), 0, 16, i * 16, (res) => done(i, res, res === 16, "file write"))
        } else {
          pipeReads++
          const buf = new Uint8Array(8)
          ring.read(r, buf, 0, 8, -1, (res) => done(i, res, res === 8 && messageTag(buf) >= 0, "pipe read"))
        }
      }
      // Everything beyond the SQ's 2 entries is in the native queue, none yet in the kernel.
      const queued = ring.info()
      expect(queued.overflowQueued).toBe(N - 2)
      expect(queued.inFlight).toBe(N)
      expect(queued.submitted).toBe(0)
      await immediate()
      await immediate()
      expect(ring.info().overflowQueued).toBe(0)
      // The pipe reads wait in the kernel now; their data comes from node.
      fs.writeSync(w, messages(pipeReads))
      await t.wait()

      expect(wrong.slice(0, 10)).toEqual([])
      expect(t.onceEach()).toBe(true)
      // Nops complete when the kernel takes them, in SQ order: in submission order only if the
      // queue drained first-in first-out.
      expect(nopOrder.length).toBeGreaterThan(N / 3)
      expect(nopOrder.every((v, k) => k === 0 || v > nopOrder[k - 1]!)).toBe(true)
      const file = new Uint8Array(fs.readFileSync(out))
      for (const i of written) expect(isBlock(file.subarray(i * 16, i * 16 + 16), i), `block ${i}`).toBe(true)
      expect(ring.inFlight).toBe(0)
      expect(ring.info().submitted).toBe(N)
    } finally {
      ring.close()
    }
  })

  it(`cancel of ops in the queue: -ECANCELED, and the kernel never runs them (${N} writes and pipe reads)`, async () => {
    const dir = makeTempDir()
    const out = path.join(dir, "out.bin")
    const wfd = track(fs.openSync(out, "w+"))
    const { r, w } = makePipe(dir)
    const ring = new Ring({ entries: 2, testQueueWhenFull: true })
    const random = rng(0xca9c)
    try {
      const t = tracker(N, 20_000)
      const reads = new Map<number, Uint8Array>()
      const ids: Array<number> = []
      for (let i = 0; i < N; i++) {
        if (i % 4 === 3) {
          const buf = new Uint8Array(8)
          reads.set(i, buf)
          ids.push(ring.read(r, buf, 0, 8, -1, (res) => t.done(i, res)))
        } else {
          ids.push(ring.write(wfd, block(i), 0, 16, i * 16, (res) => t.done(i, res)))
        }
      }
      expect(ring.info().overflowQueued).toBe(N - 2)
      // Cancel a seeded half of what sits in the native queue (ops 2.. : 0 and 1 are in the SQ).
      const cancelled = new Set<number>()
      for (let i = 2; i < N; i++) {
        if (random(2) === 0) continue
        expect(ring.cancel(ids[i]!)).toBe(true)
        cancelled.add(i)
      }
      expect(ring.info().overflowQueued).toBe(N - 2) // a cancelled op keeps its place, as a NOP
      const liveReads = [...reads.keys()].filter((i) => !cancelled.has(i))
      await immediate()
      await immediate()
      // Exactly one message per live read: a cancelled read that still ran would take one and
      // leave a live read waiting.
      fs.writeSync(w, messages(liveReads.length))
      await t.wait()

      expect(t.onceEach()).toBe(true)
      const file = new Uint8Array(fs.readFileSync(out))
      const tags = new Set<number>()
      for (let i = 0; i < N; i++) {
        const res = t.results[i]
        if (cancelled.has(i)) {
          expect(res, `op ${i}`).toBe(ECANCELED)
          if (!reads.has(i)) expect(file.subarray(i * 16, i * 16 + 16).every((b) => b === 0), `block ${i} written`).toBe(true)
          else expect(reads.get(i)!.every((b) => b === 0), `read ${i} got data`).toBe(true)
        } else if (reads.has(i)) {
          expect(res, `read ${i}`).toBe(8)
          tags.add(messageTag(reads.get(i)!))
        } else {
          expect(res, `write ${i}`).toBe(16)
          expect(isBlock(file.subarray(i * 16, i * 16 + 16), i), `block ${i}`).toBe(true)
        }
      }
      expect(tags.size).toBe(liveReads.length)
      expect(cancelled.size).toBeGreaterThan(N / 3)
      // The kernel ran a NOP in place of each cancelled op: the same number of SQEs.
      expect(ring.info().submitted).toBe(N)
      // Ids that completed are not in flight any more.
      expect(ring.cancel(ids[2]!)).toBe(false)
      expect(ring.inFlight).toBe(0)
      fs.writeSync(w, "x")
      expect(fs.readSync(r, Buffer.alloc(8), 0, 8, null)).toBe(1) // nothing left over in the pipe
    } finally {
      ring.close()
    }
  })

  it(`close with ${N} ops in the kernel and in the queue, also from a callback: each completes once, queued ones never run`, async () => {
    const dir = makeTempDir()
    const wfd = track(fs.openSync(path.join(dir, "out.bin"), "w+"))
    const { r } = makePipe(dir)
    const fdsBefore = fdCount()
    for (const from of ["the caller", "a completion callback"] as const) {
      fs.ftruncateSync(wfd, 0)
      const ring = new Ring({ entries: 2, testQueueWhenFull: true })
      const t = tracker(N, 20_000)
      const half = N / 2
      // First half: blocking pipe reads and 10 s timeouts, moved into the kernel by a loop turn.
      for (let i = 0; i < half; i++) {
        if (i % 2 === 0) ring.read(r, new Uint8Array(8), 0, 8, -1, (res) => t.done(i, res))
        else ring.timeout(10e9, (res) => t.done(i, res))
      }
      await immediate()
      await immediate()
      expect(ring.info().overflowQueued).toBe(0)
      expect(ring.inFlight).toBe(half)
      // Second half: file writes, queued behind the SQ; then close.
      let queuedAtClose = -1
      const queueAndClose = (): void => {
        for (let i = half; i < N; i++) ring.write(wfd, block(i), 0, 16, i * 16, (res) => t.done(i, res))
        queuedAtClose = ring.info().overflowQueued
        ring.close()
      }
      if (from === "the caller") queueAndClose()
      else await new Promise<void>((resolve) => ring.nop(() => resolve(queueAndClose())))
      expect(queuedAtClose).toBe(half - 2)
      // close() returned: every op has had its completion, inside the close.
      expect(t.completed).toBe(N)
      expect(t.onceEach()).toBe(true)
      for (let i = 0; i < half; i++) expect(t.results[i], `op ${i}`).toBe(ECANCELED)
      // The two writes already in the SQ may have run; every queued one completed cancelled.
      for (let i = half + 2; i < N; i++) expect(t.results[i], `write ${i}`).toBe(ECANCELED)
      expect(fs.fstatSync(wfd).size).toBeLessThanOrEqual((half + 2) * 16)
      expect(ring.info().open).toBe(false)
      expect(ring.inFlight).toBe(0)
      gc()
    }
    expect(fdCount()).toBe(fdsBefore)
  })
})
