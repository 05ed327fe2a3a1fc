// Volume, GC pressure and queueing beyond the SQ: leaks, buffer pinning, exactly-once delivery.
import fs from "node:fs"
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { Ring, transferGuarded } from "../src/index.js"
import { closeNow, closeTracked, gc, immediate, makePipe, makeTempDir, pseudoRandomBytes, removeTempDirs, sleep, track } from "./helpers.js"

afterEach(() => {
  closeTracked()
  removeTempDirs()
})

const fdCount = (): number => fs.readdirSync("/proc/self/fd").length

/** Pushes `total` nops through `ring`, keeping `depth` in flight; resolves with the callback count. */
const pumpNops = (ring: Ring, total: number, depth: number): Promise<number> =>
  new Promise((resolve, reject) => {
    let submitted = 0
    let completed = 0
    const cb = (res: number): void => {
      completed++
      if (res !== 0) {
        reject(new Error(`nop completed with ${res}`))
        return
      }
      if (submitted < total) {
        submitted++
        ring.nop(cb)
      } else if (completed === total) {
        resolve(completed)
      }
    }
    for (; submitted < Math.min(depth, total); ) {
      submitted++
      ring.nop(cb)
    }
  })

const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    await immediate()
    gc()
  }
}

describe("volume", () => {
  it("1,000,000 nops with 64 in flight: heap, fds and inFlight stay flat", async () => {
    const ring = new Ring({ entries: 128 })
    try {
      expect(await pumpNops(ring, 100_000, 64)).toBe(100_000)
      expect(ring.inFlight).toBe(0)
      await settle()
      const heapAt100k = process.memoryUsage().heapUsed
      const rssAt100k = process.memoryUsage().rss
      const fdsAt100k = fdCount()
      const info0 = ring.info()

      expect(await pumpNops(ring, 900_000, 64)).toBe(900_000)
      expect(ring.inFlight).toBe(0)
      await settle()
      const heapAtEnd = process.memoryUsage().heapUsed
      const rssAtEnd = process.memoryUsage().rss
      const info1 = ring.info()

      expect(fdCount()).toBe(fdsAt100k)
      // A leak of even one small object per op would be ~30+ MB over 900k ops.
      expect(heapAtEnd - heapAt100k).toBeLessThan(2 * 1024 * 1024)
      // Native per-op leaks do not show in the JS heap: bound the RSS too (generously).
      expect(rssAtEnd - rssAt100k).toBeLessThan(24 * 1024 * 1024)
      expect(info1.completions - info0.completions).toBe(900_000)
      expect(info1.submitted - info0.submitted).toBe(900_000)
      expect(info1.inFlight).toBe(0)
      expect(info1.overflowQueued).toBe(0)
      // Batching: far fewer JS calls and enters than ops.
      expect(info1.batches - info0.batches).toBeLessThan(900_000 / 8)
    } finally {
      ring.close()
    }
  })
})

describe("buffers are pinned by the ring", () => {
  it("10,000 concurrent 4 KiB reads with forced GCs and no caller references: every byte correct", async () => {
    const dir = makeTempDir()
    const BLOCK = 4096
    const N = 10_000
    const file = path.join(dir, "blocks.bin")
    const content = pseudoRandomBytes(BLOCK * N, 0xc0ffee)
    fs.writeFileSync(file, content)
    const fd = track(fs.openSync(file, "r"))
    const ring = new Ring() // 256 SQ entries, 1024 CQ entries: far fewer than N
    try {
      const results = new Int32Array(N).fill(-99999)
      const calls = new Uint8Array(N)
      let bad = 0
      let collected = 0
      let completed = 0
      let resolveAll!: () => void
      const allDone = new Promise<void>((resolve) => (resolveAll = resolve))
      let gcsInFlight = 0
      const collectWhileInFlight = (): void => {
        if (ring.inFlight === 0) return
        gc()
        gcsInFlight++
      }

      // Submit from a function whose locals die with it: afterwards only the ring (and the
      // WeakRefs) point at the buffers.
      const weak: Array<WeakRef<Uint8Array>> = []
      ;(() => {
        // Distinct blocks in a scrambled order.
        for (let k = 0; k < N; k++) {
          const block = (k * 7919) % N
          const buf = new Uint8Array(BLOCK).fill(0xee)
          const ref = new WeakRef(buf)
          weak.push(ref)
          ring.read(fd, buf, 0, BLOCK, block * BLOCK, (res) => {
            calls[block]!++
            results[block] = res
            const b = ref.deref()
            if (b === undefined) collected++
            else if (res !== BLOCK || Buffer.compare(b, content.subarray(block * BLOCK, (block + 1) * BLOCK)) !== 0) bad++
            if (++completed === N) resolveAll()
            // GC in the middle of a completion batch, with the rest of the reads still in flight.
            else if (completed % 1000 === 0) collectWhileInFlight()
          })
        }
      })()
      expect(ring.inFlight).toBeGreaterThan(ring.info().sqEntries)
      collectWhileInFlight()
      const again = (): void => {
        if (completed < N) {
          collectWhileInFlight()
          setImmediate(again)
        }
      }
      setImmediate(again)
      await allDone
      await sleep(10)

      expect(gcsInFlight).toBeGreaterThanOrEqual(5)
      expect(collected).toBe(0)
      expect(bad).toBe(0)
      expect(calls.every((c) => c === 1)).toBe(true)
      expect(results.every((r) => r === BLOCK)).toBe(true)
      expect(ring.inFlight).toBe(0)

      // Once completed, the ring lets go of them.
      await settle()
      await settle()
      const alive = weak.filter((w) => w.deref() !== undefined).length
      expect(alive).toBe(0)
    } finally {
      ring.close()
    }
  })
})

describe("more ops in flight than SQ entries", () => {
  it("a ring with 8 entries takes 1000 reads and nops at once; each completes exactly once", async () => {
    const dir = makeTempDir()
    const file = path.join(dir, "small.bin")
    const content = pseudoRandomBytes(500 * 64, 42)
    fs.writeFileSync(file, content)
    const fd = track(fs.openSync(file, "r"))
    const ring = new Ring({ entries: 8 })
    try {
      expect(ring.info().sqEntries).toBe(8)
      const calls = new Uint16Array(1000)
      const res = new Int32Array(1000)
      const bufs: Array<Uint8Array> = []
      let done = 0
      let resolveAll!: () => void
      const all = new Promise<void>((resolve) => (resolveAll = resolve))
      const ids = new Set<number>()
      for (let i = 0; i < 1000; i++) {
        const cb = (r: number): void => {
          calls[i]!++
          res[i] = r
          if (++done === 1000) resolveAll()
        }
        if (i % 2 === 0) {
          ids.add(ring.nop(cb))
        } else {
          const k = (i - 1) / 2
          const b = new Uint8Array(64)
          bufs[k] = b
          ids.add(ring.read(fd, b, 0, 64, k * 64, cb))
        }
      }
      expect(ids.size).toBe(1000) // all distinct while in flight
      const queued = ring.info()
      expect(queued.inFlight).toBe(1000)
      expect(queued.inFlight).toBeGreaterThan(queued.sqEntries)
      await all
      await sleep(20)
      expect(Array.from(calls).every((c) => c === 1)).toBe(true)
      for (let i = 0; i < 1000; i++) expect(res[i]).toBe(i % 2 === 0 ? 0 : 64)
      for (let k = 0; k < 500; k++) expect(Buffer.compare(bufs[k]!, content.subarray(k * 64, k * 64 + 64))).toBe(0)
      expect(ring.inFlight).toBe(0)
      expect(ring.info().overflowQueued).toBe(0)
    } finally {
      ring.close()
    }
  })

  it("a ring with 8 entries takes 100 blocking pipe reads; data then EOF completes them all", async () => {
    const dir = makeTempDir()
    const { r, w } = makePipe(dir)
    const ring = new Ring({ entries: 8 })
    try {
      const calls = new Uint8Array(100)
      const res = new Int32Array(100).fill(-99999)
      const bufs: Array<Uint8Array> = []
      let done = 0
      let resolveAll!: () => void
      const all = new Promise<void>((resolve) => (resolveAll = resolve))
      let maxInFlight = 0
      let sawOverflow = false
      for (let i = 0; i < 100; i++) {
        const b = new Uint8Array(16)
        bufs.push(b)
        ring.read(r, b, 0, 16, -1, (x) => {
          calls[i]!++
          res[i] = x
          if (++done === 100) resolveAll()
        })
        const info = ring.info()
        maxInFlight = Math.max(maxInFlight, info.inFlight)
        if (info.overflowQueued > 0) sawOverflow = true
      }
      expect(sawOverflow || maxInFlight > ring.info().sqEntries).toBe(true)
      await sleep(50)
      expect(done).toBe(0) // they block
      expect(ring.inFlight).toBe(100)

      // 50 writes of 10 bytes each: 500 bytes, then EOF.
      const payload = Buffer.alloc(500)
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff
      for (let i = 0; i < 50; i++) {
        fs.writeSync(w, payload, i * 10, 10)
        if (i % 10 === 9) await sleep(2)
      }
      await sleep(20)
      closeNow(w)
      const timer = setTimeout(() => resolveAll(), 5000)
      await all
      clearTimeout(timer)
      expect(done).toBe(100)
      expect(Array.from(calls).every((c) => c === 1)).toBe(true)
      expect(Array.from(res).every((x) => x >= 0 && x <= 16)).toBe(true)
      const total = Array.from(res).reduce((a, b) => a + b, 0)
      expect(total).toBe(500)
      // Every byte arrived exactly once: compare the byte histograms.
      const hist = new Uint32Array(256)
      for (let i = 0; i < 100; i++) for (const byte of bufs[i]!.subarray(0, res[i])) hist[byte]!++
      const want = new Uint32Array(256)
      for (const byte of payload) want[byte]!++
      expect(Array.from(hist)).toEqual(Array.from(want))
      expect(ring.inFlight).toBe(0)
    } finally {
      ring.close()
    }
  })
})

// A transfer moves an ArrayBuffer's memory to a new owner (which may be collected at once);
// ArrayBuffer.prototype.transfer() to another length may reallocate it; a resizable buffer
// may shrink. None of that may leave the kernel writing into memory that was freed: the ring
// holds each buffer's memory itself (its V8 BackingStore) until the op's final completion.
describe("buffers changed while their op is in flight", () => {
  const SIZE = 4096
  const MARK = 0xa5
  const data = pseudoRandomBytes(SIZE, 0x5eed)

  // Fresh allocations of the freed size, marked: the allocator hands a freed block out again
  // first, so a kernel write into freed memory shows up as a mark overwritten (or a crash).
  const spray = (): Array<Uint8Array> => Array.from({ length: 512 }, () => new Uint8Array(SIZE).fill(MARK))
  const sprayIntact = (s: ReadonlyArray<Uint8Array>): boolean => s.every((u) => u.every((b) => b === MARK))
  const collect = async (): Promise<void> => {
    for (let i = 0; i < 6; i++) {
      gc()
      await sleep(2)
    }
  }

  /** A read on an empty pipe into `view`, in the kernel, waiting for data; `feed` writes it. */
  const pendingRead = async (ring: Ring, view: Uint8Array) => {
    const { r, w } = makePipe(makeTempDir())
    const done = new Promise<number>((resolve) => ring.read(r, view, 0, view.byteLength, -1, resolve))
    await sleep(5)
    expect(ring.inFlight).toBe(1)
    return { done, feed: () => fs.writeSync(w, data) }
  }

  /** Completes the read after the dropped memory had every chance to be freed and reused. */
  const completesIntoHeldMemory = async (op: { done: Promise<number>; feed: () => void }): Promise<void> => {
    await collect()
    const s = spray()
    op.feed()
    expect(await op.done).toBe(SIZE)
    await collect()
    expect(sprayIntact(s)).toBe(true)
  }

  let ring: Ring
  afterEach(() => ring.close())

  it("structuredClone transfer, the new owner kept: the bytes land in the new owner's buffer", async () => {
    ring = new Ring()
    let ab: ArrayBuffer | undefined = new ArrayBuffer(SIZE)
    const { done, feed } = await pendingRead(ring, new Uint8Array(ab))
    const moved = structuredClone(ab, { transfer: [ab] })
    expect(ab.byteLength).toBe(0)
    ab = undefined
    await collect()
    feed()
    expect(await done).toBe(SIZE)
    expect(Buffer.compare(new Uint8Array(moved), data)).toBe(0)
  })

  for (const how of ["structuredClone", "postMessage"] as const) {
    it(`${how} transfer, every reference dropped and collected: the read completes into memory still held`, async () => {
      ring = new Ring()
      const op = await (async () => {
        const ab = new ArrayBuffer(SIZE)
        const op = await pendingRead(ring, new Uint8Array(ab))
        if (how === "structuredClone") {
          structuredClone(ab, { transfer: [ab] })
        } else {
          const { port1, port2 } = new MessageChannel()
          const received = new Promise<void>((resolve) => port2.once("message", () => resolve()))
          port1.postMessage(ab, [ab])
          await received
          port1.close()
          port2.close()
        }
        expect(ab.byteLength).toBe(0)
        return op
      })()
      await completesIntoHeldMemory(op)
    })
  }

  const hasTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === "function"
  type Transferable = ArrayBuffer & { transfer(n?: number): ArrayBuffer; resize(n: number): void }

  it.skipIf(!hasTransfer)("ArrayBuffer.prototype.transfer() to the same length: the memory moves whole, the bytes land in it", async () => {
    ring = new Ring()
    const ab = new ArrayBuffer(SIZE) as Transferable
    const { done, feed } = await pendingRead(ring, new Uint8Array(ab))
    const moved = ab.transfer()
    await collect()
    feed()
    expect(await done).toBe(SIZE)
    expect(Buffer.compare(new Uint8Array(moved), data)).toBe(0)
  })

  it.skipIf(!hasTransfer)("ArrayBuffer.prototype.transfer() to another length: refused where it would reallocate, else a copy; never freed under the op", async () => {
    ring = new Ring()
    let refused: Transferable | undefined
    const op = await (async () => {
      const ab = new ArrayBuffer(SIZE) as Transferable
      const op = await pendingRead(ring, new Uint8Array(ab))
      if (transferGuarded) {
        // V8 12 (Node 22) would realloc the memory in place: refused while the op runs.
        expect(() => ab.transfer(SIZE * 2)).toThrow(TypeError)
        expect(ab.byteLength).toBe(SIZE)
        refused = ab
      } else {
        const bigger = ab.transfer(SIZE * 2)
        expect(ab.byteLength).toBe(0)
        expect(bigger.byteLength).toBe(SIZE * 2)
      }
      return op
    })()
    await completesIntoHeldMemory(op)
    // Once the op has completed, the buffer that was refused transfers as usual.
    if (refused) expect(refused.transfer(SIZE * 2).byteLength).toBe(SIZE * 2)
  })

  it.skipIf(!hasTransfer)("a resizable buffer transferred away and dropped: its old memory stays mapped until the read completes", async () => {
    ring = new Ring()
    const { done, feed } = await (async () => {
      const rab = new ArrayBuffer(SIZE, { maxByteLength: 64 * SIZE }) as Transferable
      const op = await pendingRead(ring, new Uint8Array(rab))
      rab.transfer() // a resizable buffer's transfer always copies into a new reservation
      expect(rab.byteLength).toBe(0)
      return op
    })()
    await collect()
    feed()
    // Without the hold, the old reservation is unmapped by now and the kernel's copy faults.
    expect(await done).toBe(SIZE)
  })

  it("a resizable buffer shrunk (and grown) while a read into it is pending: no crash, bytes where documented", async () => {
    ring = new Ring()
    const rab = new ArrayBuffer(SIZE, { maxByteLength: 64 * SIZE }) as Transferable
    const view = new Uint8Array(rab) // length-tracking
    const { done, feed } = await pendingRead(ring, view)
    rab.resize(0)
    expect(view.length).toBe(0)
    await collect()
    rab.resize(16 * SIZE)
    rab.resize(SIZE / 2)
    feed()
    const res = await done
    // The kernel writes where the buffer was at submission: into its reserved memory, which
    // never moves and is never freed while the op holds it. Pages V8 released on the shrink
    // make the copy fault (-EFAULT); bytes past the current length stay in the reservation.
    expect(res === SIZE || res === -14).toBe(true)
    rab.resize(SIZE)
    const now = new Uint8Array(rab)
    if (res === SIZE) expect(Buffer.compare(now, data)).toBe(0)
    else expect(now.every((b) => b === 0)).toBe(true)
  })
})
