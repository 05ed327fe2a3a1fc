// allocRecycled: Buffers whose memory goes back to a free list when they are freed (V8
// collected them, no ring op pins them), and comes out again, still mapped, for the next
// Buffer of that size.
import fs from "node:fs"
import path from "node:path"
import { Worker } from "node:worker_threads"
import { afterEach, describe, expect, it } from "vitest"
import { firstMessage } from "../../../test-utils/index.js"
import { allocRecycled, RECYCLED_MAX, RECYCLED_MIN, recycledInfo, releaseRecycled, Ring } from "../src/index.js"
import { closeTracked, gc, immediate, makePipe, makeTempDir, pseudoRandomBytes, removeTempDirs, run, sleep } from "./helpers.js"

const KiB = 1024

afterEach(() => {
  closeTracked()
  removeTempDirs()
})

/** Collects garbage until the free lists hold at least `bytes` (finalizers may run a tick later), at most ~2 s. */
const collectUntilPooled = async (bytes: number): Promise<number> => {
  for (let i = 0; i < 200; i++) {
    gc()
    await immediate()
    if (recycledInfo().pooled >= bytes) break
    await sleep(10)
  }
  return recycledInfo().pooled
}

/**
 * Allocates and touches `n` Buffers of `size`, and keeps none: in a plain function, so no
 * suspended async frame (whose registers can outlive a block) still refers to them.
 */
const allocAndDrop = (n: number, size: number): void => {
  for (let i = 0; i < n; i++) allocRecycled(size).fill(i)
}

/** Transfers `b`'s memory to a new ArrayBuffer that nothing keeps (in a plain function, see allocAndDrop). */
const transferAway = (b: Buffer): void => {
  structuredClone(b.buffer, { transfer: [b.buffer] })
}

/** Collects garbage until a block was freed after `freed` frees, at most `rounds` rounds. */
const collectUntilFreed = async (freed: number, rounds: number): Promise<void> => {
  for (let i = 0; i < rounds && recycledInfo().freed === freed; i++) await collections(1)
}

/** `n` rounds of a full collection and a loop turn. */
const collections = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) {
    gc()
    await immediate()
  }
}

/** Empty lists, with the earlier tests' Buffers collected first (freed later, they would refill them). */
const drained = async (): Promise<void> => {
  await collections(5)
  releaseRecycled()
}

/** Submits a read of `fd` into `buffer()`, in a plain function (see allocAndDrop): only the ring keeps the buffer. */
const submitRead = (ring: Ring, fd: number, buffer: () => Buffer, cb: (res: number) => void): void => {
  const b = buffer()
  ring.read(fd, b, 0, b.length, -1, cb)
  ring.submit()
}

/**
 * After draining the lists, runs `body` while a read of an empty pipe into `buffer()` is in
 * flight on a ring of its own; `complete()` writes 4 bytes and gives the read's result.
 */
const withPipeRead = async (buffer: () => Buffer, body: (complete: () => Promise<number | undefined>) => Promise<void>): Promise<void> => {
  await drained()
  const pipe = makePipe(makeTempDir())
  const ring = new Ring()
  try {
    let res: number | undefined
    submitRead(ring, pipe.r, buffer, (r) => {
      res = r
    })
    await body(async () => {
      fs.writeSync(pipe.w, "data")
      for (let i = 0; i < 200 && res === undefined; i++) await sleep(5)
      return res
    })
  } finally {
    ring.close()
    releaseRecycled()
  }
}

describe("allocRecycled", () => {
  it("gives a writable Buffer of the size asked for, which a ring read fills", async () => {
    const dir = makeTempDir()
    const data = pseudoRandomBytes(600 * KiB, 11)
    fs.writeFileSync(path.join(dir, "f"), data)
    const fd = fs.openSync(path.join(dir, "f"), "r")
    const ring = new Ring()
    try {
      const b = allocRecycled(RECYCLED_MIN)
      expect(Buffer.isBuffer(b)).toBe(true)
      expect(b.length).toBe(RECYCLED_MIN)
      expect(await run((cb) => ring.read(fd, b, 0, b.length, 4 * KiB, cb))).toBe(RECYCLED_MIN)
      expect(b.equals(data.subarray(4 * KiB, 4 * KiB + RECYCLED_MIN))).toBe(true)
      b.fill(0x5a)
      expect(b[b.length - 1]).toBe(0x5a)
    } finally {
      ring.close()
      fs.closeSync(fd)
    }
  })

  it("outside its sizes gives an ordinary Buffer, and a bad size throws as Buffer.allocUnsafeSlow does", () => {
    const before = recycledInfo()
    expect(allocRecycled(0).length).toBe(0)
    expect(allocRecycled(RECYCLED_MIN - 1).length).toBe(RECYCLED_MIN - 1)
    expect(allocRecycled(RECYCLED_MAX + 1).length).toBe(RECYCLED_MAX + 1)
    const after = recycledInfo()
    expect(after.hits + after.misses).toBe(before.hits + before.misses) // none came from the lists
    for (const bad of [-1, Number.NaN, 2 ** 60]) {
      expect(() => Buffer.allocUnsafeSlow(bad)).toThrow(RangeError)
      expect(() => allocRecycled(bad)).toThrow(RangeError)
    }
    expect(allocRecycled(RECYCLED_MIN + 0.5).length).toBe(Buffer.allocUnsafeSlow(RECYCLED_MIN + 0.5).length)
  })

  it("a collected Buffer's memory serves the next Buffer of its size; releaseRecycled unmaps the lists", async () => {
    await drained()
    const size = RECYCLED_MIN + 64 * KiB
    allocAndDrop(4, size)
    expect(recycledInfo().pooled).toBe(0)
    expect(await collectUntilPooled(4 * size)).toBeGreaterThanOrEqual(4 * size)
    const { hits } = recycledInfo()
    const again = allocRecycled(size)
    expect(again.length).toBe(size)
    expect(recycledInfo().hits).toBe(hits + 1)
    // another size does not take a block of this one
    const other = allocRecycled(size + 4 * KiB)
    expect(recycledInfo().hits).toBe(hits + 1)
    expect(releaseRecycled()).toBeGreaterThanOrEqual(3 * size)
    expect(recycledInfo().pooled).toBe(0)
    expect(again.length + other.length).toBe(2 * size + 4 * KiB)
  })

  it("a Buffer an op is reading into is not recycled while the op is in flight, even unreferenced", () =>
    withPipeRead(() => allocRecycled(RECYCLED_MAX), async (complete) => {
      // A control in the same collections: an unpinned Buffer of another size is freed.
      allocAndDrop(1, RECYCLED_MIN)
      expect(await collectUntilPooled(RECYCLED_MIN)).toBe(RECYCLED_MIN) // the ring pins the other
      expect(await complete()).toBe(4)
      allocAndDrop(1, RECYCLED_MIN) // an allocation within the last second: freed memory is kept
      expect(await collectUntilPooled(RECYCLED_MIN + RECYCLED_MAX)).toBe(RECYCLED_MIN + RECYCLED_MAX) // now it is free
    }))

  it("memory an op is reading into is not freed while the op is in flight, even with its ArrayBuffer transferred away and dropped", () => {
    const b = allocRecycled(RECYCLED_MIN)
    return withPipeRead(() => b, async (complete) => {
      const { freed } = recycledInfo()
      // Move the memory to another ArrayBuffer and drop that: only the ring's native pin on
      // the BackingStore holds it now (the facade's pin is the detached Buffer).
      transferAway(b)
      expect(b.length).toBe(0)
      await collections(10)
      expect(recycledInfo().freed).toBe(freed)
      expect(await complete()).toBe(4)
      await collectUntilFreed(freed, 100)
      expect(recycledInfo().freed).toBe(freed + 1)
    })
  })

  it("eight sizes have lists; a ninth is unmapped when freed, until releaseRecycled drops the lists", async () => {
    await drained()
    const sizes = Array.from({ length: 9 }, (_, i) => RECYCLED_MIN + i * 64 * KiB)
    for (const size of sizes.slice(0, 8)) allocAndDrop(1, size)
    const eight = sizes.slice(0, 8).reduce((a, b) => a + b, 0)
    expect(await collectUntilPooled(eight)).toBe(eight)
    const { freed } = recycledInfo()
    allocAndDrop(1, sizes[8]!)
    // (not collectUntilPooled: its wait would pass the idle second)
    await collectUntilFreed(freed, 50)
    expect(recycledInfo().freed).toBe(freed + 1)
    expect(recycledInfo().pooled).toBe(eight) // no room for a ninth list
    expect(releaseRecycled()).toBe(eight)
    allocAndDrop(1, sizes[8]!)
    expect(await collectUntilPooled(sizes[8]!)).toBe(sizes[8]!)
    releaseRecycled()
  })

  it("a Buffer's ArrayBuffer transferred to a worker is detached here, intact there, and freed when the worker lets go", async () => {
    await drained()
    const b = allocRecycled(RECYCLED_MIN)
    b.fill(0x37)
    const worker = new Worker(
      "const { parentPort } = require('node:worker_threads'); parentPort.once('message', (ab) => { const u = new Uint8Array(ab); parentPort.postMessage([u.length, u[0], u[u.length - 1]]) })",
      { eval: true }
    )
    const { freed } = recycledInfo()
    try {
      const got = firstMessage<Array<number>>(worker)
      worker.postMessage(b.buffer, [b.buffer])
      expect(b.length).toBe(0) // detached
      expect(await got).toEqual([RECYCLED_MIN, 0x37, 0x37])
    } finally {
      await worker.terminate()
    }
    // The worker's teardown freed the memory (and, its environment gone, unmapped it).
    await collectUntilFreed(freed, 100)
    expect(recycledInfo().freed).toBeGreaterThan(freed)
    releaseRecycled()
  })

  it("the lists are unmapped a second after the last allocation, and memory freed after that at once", async () => {
    await drained()
    const held: { b?: Buffer } = { b: allocRecycled(RECYCLED_MAX) }
    allocAndDrop(1, RECYCLED_MIN)
    expect(await collectUntilPooled(RECYCLED_MIN)).toBe(RECYCLED_MIN)
    for (let i = 0; i < 400 && recycledInfo().pooled > 0; i++) await sleep(10)
    expect(recycledInfo().pooled).toBe(0)
    expect(releaseRecycled(true)).toBe(0) // idle: nothing left, nothing refused
    const { freed } = recycledInfo()
    held.b = undefined
    await collectUntilFreed(freed, 200)
    expect(recycledInfo().freed).toBe(freed + 1)
    expect(recycledInfo().pooled).toBe(0) // freed after the idle second: unmapped, not kept
  })
})
