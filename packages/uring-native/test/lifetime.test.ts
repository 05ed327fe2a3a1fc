// Cancellation, close() with ops in flight, and argument validation before the kernel.
import fs from "node:fs"
import path from "node:path"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { constants, errno, errnoName, isRingClosedError, Ring, RingClosedError, type RingOptions, STATX_SIZE } from "../src/index.js"
import { closeTracked, gc, immediate, makePipe, makeTempDir, removeTempDirs, run, sleep, track } from "./helpers.js"

const C = constants as Record<string, number>
const CANCELLED = ["ECANCELED", "EINTR"]

let dir: string
beforeEach(() => {
  dir = makeTempDir()
})
afterEach(() => {
  closeTracked()
  removeTempDirs()
})

const waitUntil = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = performance.now() + ms
  while (!cond() && performance.now() < end) await sleep(2)
}

describe("cancel", () => {
  let ring: Ring
  beforeAll(() => {
    ring = new Ring()
  })
  afterAll(() => ring.close())

  for (const when of ["in the kernel", "still queued in the SQ"] as const) {
    it(`a read on an empty pipe, ${when}: -ECANCELED once, buffer untouched, data left in the pipe`, async () => {
      const { r, w } = makePipe(dir)
      const buf = new Uint8Array(64).fill(0x5a)
      const results: Array<number> = []
      const id = ring.read(r, buf, 0, 64, -1, (res) => results.push(res))
      if (when === "in the kernel") {
        await sleep(10)
        expect(results).toEqual([])
      }
      expect(ring.cancel(id)).toBe(true)
      await waitUntil(() => results.length > 0)
      expect(results).toHaveLength(1)
      expect(CANCELLED).toContain(errnoName(results[0]!))
      expect(ring.cancel(id)).toBe(false)

      fs.writeSync(w, "after the cancel")
      await sleep(20)
      expect(results).toHaveLength(1)
      expect(buf.every((b) => b === 0x5a)).toBe(true)
      const rest = Buffer.alloc(64)
      expect(fs.readSync(r, rest, 0, 64, null)).toBe(16)
      expect(rest.subarray(0, 16).toString()).toBe("after the cancel")
      expect(ring.inFlight).toBe(0)
    })
  }

  it("cancel returns false for ids that are not in flight", async () => {
    expect(ring.cancel(0)).toBe(false)
    expect(ring.cancel(123_456)).toBe(false)
    const id = ring.nop(() => {})
    await sleep(5)
    expect(ring.cancel(id)).toBe(false)
    expect(() => ring.cancel(-1)).toThrow(RangeError)
    expect(() => ring.cancel("1" as unknown as number)).toThrow(TypeError)
  })

  it("a stale id (its op completed, its slot reused) is refused and leaves the later op alone", async () => {
    const { r, w } = makePipe(dir)
    const idA = await new Promise<number>((resolve) => {
      const id = ring.nop(() => resolve(id))
    })
    await immediate()
    const buf = new Uint8Array(16)
    const results: Array<number> = []
    const idB = ring.read(r, buf, 0, 16, -1, (res) => results.push(res))
    // B took A's slot (the free list is LIFO).
    expect(idB % 2 ** 24).toBe(idA % 2 ** 24)
    await sleep(10) // B is in the kernel
    expect(ring.cancel(idA)).toBe(false)
    // The kernel-side cancel by id does not match B either.
    expect(errnoName(await run((cb) => ring.asyncCancel(idA, cb)))).toBe("ENOENT")
    await sleep(10)
    expect(results).toEqual([])
    fs.writeSync(w, "for B")
    await waitUntil(() => results.length > 0)
    expect(results).toEqual([5])
    expect(Buffer.from(buf.subarray(0, 5)).toString()).toBe("for B")
    expect(ring.cancel(idB)).toBe(false)
    expect(ring.inFlight).toBe(0)
    // Under a new generation: a different, still safe, id.
    expect(idB).not.toBe(idA)
    expect(Number.isSafeInteger(idB)).toBe(true)
  })

  it("a cancel that loses the race: the op's real result is delivered, once", async () => {
    const p = path.join(dir, "f")
    fs.writeFileSync(p, "0123456789")
    const fd = track(fs.openSync(p, "r"))
    const buf = Buffer.alloc(10)
    const results: Array<number> = []
    const id = ring.read(fd, buf, 0, 10, 0, (res) => results.push(res))
    ring.cancel(id)
    await waitUntil(() => results.length > 0)
    await sleep(10)
    expect(results).toHaveLength(1)
    if (results[0] === 10) expect(buf.toString()).toBe("0123456789")
    else expect(CANCELLED).toContain(errnoName(results[0]!))
    expect(ring.inFlight).toBe(0)
  })

  // Found by the fuzzer: a splice blocked in an io-wq worker, cancelled, completed with the
  // kernel-internal -ERESTARTSYS (-512) on Linux 6.18, which no errno table knows.
  for (const how of ["cancel", "asyncCancel"] as const) {
    it(`a splice waiting on an empty pipe, cancelled (${how}): -ECANCELED or -EINTR, never a kernel-internal code`, async () => {
      const a = makePipe(dir)
      const b = makePipe(dir)
      const done = run((cb) => {
        const id = ring.splice(a.r, -1, b.w, -1, 4096, 0, cb)
        setTimeout(() => (how === "cancel" ? ring.cancel(id) : ring.asyncCancel(id, () => {})), 20)
        return id
      })
      const res = await done
      expect(res).toBeGreaterThan(-512)
      expect(CANCELLED).toContain(errnoName(res))
      expect(ring.inFlight).toBe(0)
    })
  }
})

describe("close()", () => {
  it("with ops in flight: every callback runs once, cancelled, before close() returns", async () => {
    const ring = new Ring()
    const pipes = [makePipe(dir), makePipe(dir), makePipe(dir)]
    const results = new Map<string, Array<number>>()
    const record = (name: string) => (res: number) => {
      const list = results.get(name) ?? []
      list.push(res)
      results.set(name, list)
    }
    const bufs = pipes.map(() => new Uint8Array(32).fill(0x11))
    pipes.forEach((p, i) => ring.read(p.r, bufs[i]!, 0, 32, -1, record(`read${i}`)))
    ring.timeout(60_000_000_000, record("timeout"))
    ring.pollAdd(pipes[0]!.r, C.POLLIN!, record("poll"))
    ring.pollAdd(pipes[1]!.r, C.POLLIN!, record("multipoll"), true)
    await sleep(20) // all in the kernel now
    expect(results.size).toBe(0)
    // and some that are still only queued
    ring.read(pipes[2]!.r, new Uint8Array(8), 0, 8, -1, record("queuedRead"))
    ring.timeout(60_000_000_000, record("queuedTimeout"))
    expect(ring.inFlight).toBe(8)

    const t0 = performance.now()
    ring.close()
    expect(performance.now() - t0).toBeLessThan(2000)
    expect([...results.keys()].sort()).toEqual(
      ["multipoll", "poll", "queuedRead", "queuedTimeout", "read0", "read1", "read2", "timeout"].sort()
    )
    for (const [name, list] of results) {
      expect(list, name).toHaveLength(1)
      if (name.includes("imeout") || name.includes("poll")) expect(errnoName(list[0]!), name).toBe("ECANCELED")
      else expect(CANCELLED, name).toContain(errnoName(list[0]!))
    }
    expect(ring.inFlight).toBe(0)
    expect(ring.info().open).toBe(false)
    expect(ring.info().fd).toBe(-1)

    // Nothing more arrives later, and the buffers were not written.
    for (const p of pipes) fs.writeSync(p.w, "late data")
    await sleep(20)
    for (const list of results.values()) expect(list).toHaveLength(1)
    for (const b of bufs) expect(b.every((x) => x === 0x11)).toBe(true)

    // Ops after close throw ERR_RING_CLOSED; close() again is a no-op.
    const closed = expect.objectContaining({ code: "ERR_RING_CLOSED" })
    expect(() => ring.nop(() => {})).toThrow(closed)
    expect(() => ring.read(pipes[0]!.r, new Uint8Array(4), 0, 4, -1, () => {})).toThrow(closed)
    expect(() => ring.timeout(1000, () => {})).toThrow(closed)
    expect(() => ring.cancel(0)).toThrow(closed)
    let err: unknown
    try {
      ring.nop(() => {})
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(Error)
    expect(() => ring.close()).not.toThrow()
    expect(() => ring.close()).not.toThrow()
    expect(ring.inFlight).toBe(0)
    expect(ring.submit()).toBe(0)
  })

  it("right after submitting (nothing reached the kernel yet)", () => {
    const ring = new Ring({ entries: 8 })
    const { r } = makePipe(dir)
    const results: Array<number> = []
    for (let i = 0; i < 50; i++) ring.read(r, new Uint8Array(4), 0, 4, -1, (res) => results.push(res))
    for (let i = 0; i < 50; i++) ring.nop((res) => results.push(res))
    ring.close()
    expect(results).toHaveLength(100)
    for (const res of results) expect(res === 0 || CANCELLED.includes(errnoName(res))).toBe(true)
    expect(results.filter((x) => x !== 0).length).toBeGreaterThanOrEqual(50)
    expect(ring.inFlight).toBe(0)
  })

  it("from inside a completion callback: the rest of that batch and every op in flight still complete once", async () => {
    const ring = new Ring()
    const pipes = [makePipe(dir), makePipe(dir), makePipe(dir)]
    const calls = new Map<string, Array<number>>()
    const record = (name: string, res: number) => calls.set(name, [...(calls.get(name) ?? []), res])
    pipes.forEach((p, i) => ring.read(p.r, new Uint8Array(8), 0, 8, -1, (res) => record(`read${i}`, res)))
    await sleep(10)
    // Three nops complete in one batch; the first one closes the ring.
    const closedInside = new Promise<void>((resolve) => {
      ring.nop((res) => {
        record("nop0", res)
        ring.close()
        resolve()
      })
    })
    ring.nop((res) => record("nop1", res))
    ring.nop((res) => record("nop2", res))
    await closedInside
    await sleep(10)
    expect([...calls.keys()].sort()).toEqual(["nop0", "nop1", "nop2", "read0", "read1", "read2"])
    for (const [name, list] of calls) {
      expect(list, name).toHaveLength(1)
      if (name.startsWith("nop")) expect(list[0], name).toBe(0)
      else expect(CANCELLED, name).toContain(errnoName(list[0]!))
    }
    expect(ring.inFlight).toBe(0)
  })

  it("rethrows the first error a callback threw during the drain, after closing", async () => {
    const ring = new Ring()
    const { r } = makePipe(dir)
    let second = 0
    ring.read(r, new Uint8Array(4), 0, 4, -1, () => {
      throw new Error("thrown while closing")
    })
    ring.read(r, new Uint8Array(4), 0, 4, -1, () => second++)
    await sleep(10)
    expect(() => ring.close()).toThrow("thrown while closing")
    expect(second).toBe(1)
    expect(ring.inFlight).toBe(0)
    expect(ring.info().open).toBe(false)
  })
})

describe("close() on every drain path", () => {
  // CANCEL_ANY + EXT_ARG is what this kernel has; the test options force the paths of older
  // kernels: cancel op by op (before 5.19), bound waits with a timeout SQE (before 5.11).
  const paths: ReadonlyArray<readonly [string, RingOptions]> = [
    ["cancel-any, wait timeout", {}],
    ["per-op cancel", { testNoCancelAny: true }],
    ["cancel-any, timeout SQE", { testNoExtArg: true }],
    ["per-op cancel, timeout SQE", { testNoCancelAny: true, testNoExtArg: true }]
  ]

  for (const [name, options] of paths) {
    it(`${name}: pipe reads, polls and timeouts in flight are each called back once, cancelled, and close returns`, async () => {
      const ring = new Ring(options)
      const pipes = [makePipe(dir), makePipe(dir), makePipe(dir)]
      const results = new Map<string, Array<number>>()
      const record = (key: string) => (res: number) => results.set(key, [...(results.get(key) ?? []), res])
      const bufs = pipes.map(() => new Uint8Array(32).fill(0x22))
      pipes.forEach((p, i) => ring.read(p.r, bufs[i]!, 0, 32, -1, record(`read${i}`)))
      ring.pollAdd(pipes[0]!.r, C.POLLIN!, record("poll"))
      ring.pollAdd(pipes[1]!.r, C.POLLIN!, record("multipoll"), true)
      ring.timeout(60_000_000_000, record("timeout"))
      ring.timeout(30_000_000_000, record("countTimeout"), { count: 1000 })
      const ops = 7
      await sleep(20) // all in the kernel
      expect(results.size).toBe(0)
      expect(ring.inFlight).toBe(ops)
      const before = ring.info().completions

      const t0 = performance.now()
      ring.close()
      expect(performance.now() - t0).toBeLessThan(2000)
      expect([...results.keys()].sort()).toEqual(["countTimeout", "multipoll", "poll", "read0", "read1", "read2", "timeout"])
      for (const [key, list] of results) {
        expect(list, key).toHaveLength(1)
        if (key.startsWith("read")) expect(CANCELLED, key).toContain(errnoName(list[0]!))
        else expect(errnoName(list[0]!), key).toBe("ECANCELED")
      }
      expect(ring.inFlight).toBe(0)
      expect(ring.info().open).toBe(false)
      // Which path ran: per op, every op's cancel has a CQE of its own besides the op's.
      const reaped = ring.info().completions - before
      if (options.testNoCancelAny) expect(reaped).toBeGreaterThanOrEqual(2 * ops)
      else expect(reaped).toBeLessThan(2 * ops)

      for (const p of pipes) fs.writeSync(p.w, "late data")
      await sleep(20)
      for (const list of results.values()) expect(list).toHaveLength(1)
      for (const b of bufs) expect(b.every((x) => x === 0x22)).toBe(true)
    })
  }

  for (const [name, options] of paths) {
    it(`${name}: an op the drain cannot cancel is waited for, with its real result`, async () => {
      // testNoDrainCancel: close() issues no cancels, as if the op were a regular-file read on
      // a hung mount; it must not return before the op's own completion.
      const ring = new Ring({ ...options, testNoDrainCancel: true, testDrainWarnMs: 60_000 })
      const results: Array<number> = []
      ring.timeout(300_000_000, (res) => results.push(res))
      await sleep(5)
      const before = ring.info().completions
      const t0 = performance.now()
      ring.close()
      const elapsed = performance.now() - t0
      expect(results.map(errnoName)).toEqual(["ETIME"])
      expect(elapsed).toBeGreaterThanOrEqual(250)
      expect(elapsed).toBeLessThan(2000)
      expect(ring.inFlight).toBe(0)
      // Waits bounded by timeout SQEs leave their CQEs (one per ~100 ms round) in the count.
      const reaped = ring.info().completions - before
      if (options.testNoExtArg) expect(reaped).toBeGreaterThanOrEqual(3)
      else expect(reaped).toBe(1)
    })
  }
})

describe("RingClosedError", () => {
  it("ops on a closed ring throw RingClosedError (code ERR_RING_CLOSED); so does cancel", () => {
    const ring = new Ring()
    ring.close()
    const attempts: ReadonlyArray<() => unknown> = [
      () => ring.nop(() => {}),
      () => ring.read(0, new Uint8Array(4), 0, 4, -1, () => {}),
      () => ring.timeout(1000, () => {}),
      () => ring.openat2(C.AT_FDCWD!, "x", { flags: 0 }, () => {}),
      () => ring.cancel(0)
    ]
    for (const attempt of attempts) {
      let thrown: unknown
      try {
        attempt()
      } catch (e) {
        thrown = e
      }
      expect(thrown).toBeInstanceOf(RingClosedError)
      expect(thrown).toBeInstanceOf(Error)
      expect((thrown as RingClosedError).name).toBe("RingClosedError")
      expect((thrown as RingClosedError).code).toBe("ERR_RING_CLOSED")
      expect(isRingClosedError(thrown)).toBe(true)
    }
    expect(isRingClosedError(new Error("other"))).toBe(false)
    expect(isRingClosedError(Object.assign(new Error("another copy"), { code: "ERR_RING_CLOSED" }))).toBe(true)
    expect(isRingClosedError(undefined)).toBe(false)
  })

  it("a callback that starts an op while close() drains gets RingClosedError; cancel there is harmless", async () => {
    const ring = new Ring()
    const { r } = makePipe(dir)
    const seen: Array<unknown> = []
    let cancelled: boolean | undefined
    let res: number | undefined
    const id = ring.read(r, new Uint8Array(4), 0, 4, -1, (x) => {
      res = x
      try {
        ring.nop(() => seen.push("nop ran"))
      } catch (e) {
        seen.push(e)
      }
    })
    ring.timeout(60_000_000_000, () => {
      cancelled = ring.cancel(id)
    })
    await sleep(10)
    ring.close()
    expect(CANCELLED).toContain(errnoName(res!))
    expect(seen).toHaveLength(1)
    expect(seen[0]).toBeInstanceOf(RingClosedError)
    expect(typeof cancelled).toBe("boolean")
    expect(ring.inFlight).toBe(0)
  })

  it("errno numbers by name, positive, matching CQE results", async () => {
    expect(errno.ENOENT).toBe(2)
    expect(errno.ETIME).toBe(62)
    expect(errno.ECANCELED).toBe(125)
    expect(Object.isFrozen(errno)).toBe(true)
    const ring = new Ring()
    try {
      expect(await run((cb) => ring.timeout(1_000_000, cb))).toBe(-errno.ETIME!)
    } finally {
      ring.close()
    }
  })
})

describe("garbage collection of rings", () => {
  const fdCount = (): number => fs.readdirSync("/proc/self/fd").length
  const collect = async (): Promise<void> => {
    for (let i = 0; i < 4; i++) {
      gc()
      await immediate()
    }
  }

  it("an idle ring dropped without close() is collected and releases its fd", async () => {
    await collect()
    const before = fdCount()
    const weak: Array<WeakRef<Ring>> = []
    ;(() => {
      for (let i = 0; i < 20; i++) {
        const ring = new Ring({ entries: 4 })
        ring.nop(() => {}) // used once, then idle
        weak.push(new WeakRef(ring))
      }
    })()
    expect(fdCount()).toBe(before + 20)
    await sleep(10) // the nops complete: nothing in flight any more
    await collect()
    await sleep(10)
    await collect()
    expect(weak.filter((w) => w.deref() !== undefined)).toHaveLength(0)
    expect(fdCount()).toBe(before)
  })

  it("a dropped ring with an op in flight is kept alive until the op completes", async () => {
    const t0 = performance.now()
    const fired = new Promise<number>((resolve) => {
      ;(() => {
        const ring = new Ring({ entries: 4 })
        const buf = new Uint8Array(4096)
        ring.timeout(80_000_000, (res) => resolve(res + buf.length * 0))
      })()
    })
    await collect()
    await sleep(20)
    await collect()
    const res = await Promise.race([fired, sleep(5000).then(() => "callback never ran")])
    expect(errnoName(res as number)).toBe("ETIME")
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75)
  })
})

describe("bad arguments throw synchronously and never reach the kernel", () => {
  let ring: Ring
  let fd: number
  beforeAll(() => {
    ring = new Ring()
  })
  afterAll(() => ring.close())
  beforeEach(() => {
    const p = path.join(dir, "args.bin")
    fs.writeFileSync(p, "some bytes for the argument tests")
    fd = track(fs.openSync(p, "r+"))
  })

  const detachedView = (): Uint8Array => {
    const u = new Uint8Array(16)
    structuredClone(u.buffer, { transfer: [u.buffer] })
    expect(u.buffer.byteLength).toBe(0)
    return u
  }
  const detachedBuffer = (): ArrayBuffer => {
    const ab = new ArrayBuffer(16)
    structuredClone(ab, { transfer: [ab] })
    return ab
  }

  type Case = readonly [name: string, call: () => unknown, error: typeof TypeError | typeof RangeError]
  const cases = (): ReadonlyArray<Case> => {
    const buf = new Uint8Array(16)
    const cb = () => {}
    const bad = "x\0y"
    const AT = C.AT_FDCWD!
    return [
      ["string fd", () => ring.read("3" as unknown as number, buf, 0, 16, 0, cb), TypeError],
      ["fractional fd", () => ring.read(fd + 0.5, buf, 0, 16, 0, cb), TypeError],
      ["NaN fd", () => ring.write(NaN, buf, 0, 16, 0, cb), TypeError],
      ["negative fd", () => ring.read(-1, buf, 0, 16, 0, cb), RangeError],
      ["negative fd (fsync)", () => ring.fsync(-3, cb), RangeError],
      ["negative fd (closeFd)", () => ring.closeFd(-1, cb), RangeError],
      ["fd above int32", () => ring.read(2 ** 31, buf, 0, 16, 0, cb), RangeError],
      ["non-buffer (string)", () => ring.read(fd, "buffer" as unknown as Uint8Array, 0, 1, 0, cb), TypeError],
      ["non-buffer (array)", () => ring.write(fd, [1, 2, 3] as unknown as Uint8Array, 0, 1, 0, cb), TypeError],
      ["non-buffer (null)", () => ring.read(fd, null as unknown as Uint8Array, 0, 1, 0, cb), TypeError],
      ["length past the end", () => ring.read(fd, buf, 0, 17, 0, cb), RangeError],
      ["offset + length past the end", () => ring.write(fd, buf, 10, 7, 0, cb), RangeError],
      ["offset past the end", () => ring.read(fd, buf, 17, 0, 0, cb), RangeError],
      ["negative offset", () => ring.read(fd, buf, -1, 4, 0, cb), RangeError],
      ["negative length", () => ring.read(fd, buf, 0, -4, 0, cb), RangeError],
      ["position below -1", () => ring.read(fd, buf, 0, 4, -2, cb), RangeError],
      ["detached view (read)", () => ring.read(fd, detachedView(), 0, 0, 0, cb), TypeError],
      ["detached view (write)", () => ring.write(fd, detachedView(), 0, 0, 0, cb), TypeError],
      ["detached ArrayBuffer", () => ring.read(fd, detachedBuffer(), 0, 0, 0, cb), TypeError],
      ["detached view in readv", () => ring.readv(fd, [new Uint8Array(4), detachedView()], 0, cb), TypeError],
      ["detached statx output", () => ring.statx(AT, dir, 0, C.STATX_BASIC_STATS!, detachedView(), cb), TypeError],
      ["readv: not an array", () => ring.readv(fd, buf as unknown as Array<Uint8Array>, 0, cb), TypeError],
      ["writev: string element", () => ring.writev(fd, [buf, "no" as unknown as Uint8Array], 0, cb), TypeError],
      ["writev: empty list", () => ring.writev(fd, [], 0, cb), RangeError],
      ["path with NUL (openat2)", () => ring.openat2(AT, bad, { flags: 0 }, cb), TypeError],
      ["path with NUL (statx)", () => ring.statx(AT, bad, 0, 0, new Uint8Array(STATX_SIZE), cb), TypeError],
      ["path with NUL (unlinkat)", () => ring.unlinkat(AT, bad, 0, cb), TypeError],
      ["path with NUL (mkdirat)", () => ring.mkdirat(AT, bad, 0o700, cb), TypeError],
      ["new path with NUL (renameat)", () => ring.renameat(AT, "a", AT, bad, 0, cb), TypeError],
      ["new path with NUL (linkat)", () => ring.linkat(AT, "a", AT, bad, 0, cb), TypeError],
      ["target with NUL (symlinkat)", () => ring.symlinkat(bad, AT, "l", cb), TypeError],
      ["non-string path", () => ring.unlinkat(AT, 42 as unknown as string, 0, cb), TypeError],
      ["bad dirfd", () => ring.unlinkat(-5, "x", 0, cb), RangeError],
      ["mode out of range", () => ring.openat2(AT, "x", { flags: C.O_CREAT!, mode: 0o10000 }, cb), RangeError],
      ["how not an object", () => ring.openat2(AT, "x", null as unknown as { flags: number }, cb), TypeError],
      ["statx output too small", () => ring.statx(AT, dir, 0, 0, new Uint8Array(100), cb), RangeError],
      ["negative timeout", () => ring.timeout(-1, cb), RangeError],
      ["negative fallocate offset", () => ring.fallocate(fd, 0, -1, 10, cb), RangeError],
      ["zero fallocate length", () => ring.fallocate(fd, 0, 0, 0, cb), RangeError],
      ["splice offset below -1", () => ring.splice(fd, -2, fd, -1, 10, 0, cb), RangeError],
      ["callback not a function (nop)", () => ring.nop("cb" as unknown as () => void), TypeError],
      ["callback not a function (read)", () => ring.read(fd, buf, 0, 16, 0, undefined as unknown as () => void), TypeError],
      ["callback not a function (openat2)", () => ring.openat2(AT, "x", { flags: 0 }, {} as unknown as () => void), TypeError]
    ]
  }

  it("each bad call throws the right error class", async () => {
    await immediate() // let anything earlier settle
    const before = ring.info()
    for (const [name, call, error] of cases()) {
      let thrown: unknown
      try {
        call()
      } catch (e) {
        thrown = e
      }
      expect(thrown, name).toBeInstanceOf(error)
      expect(ring.inFlight, name).toBe(before.inFlight)
    }
    // Nothing was queued for the next submission either.
    expect(ring.submit()).toBe(0)
    await immediate()
    await sleep(5)
    const after = ring.info()
    expect(after.submitted).toBe(before.submitted)
    expect(after.completions).toBe(before.completions)
    expect(after.inFlight).toBe(before.inFlight)
    expect(after.overflowQueued).toBe(0)
  })

  it("the ring still works after bad calls, and their ids were given back", async () => {
    for (let round = 0; round < 3; round++) for (const [, call] of cases()) expect(call).toThrow()
    const ids = new Set<number>()
    const done: Array<Promise<number>> = []
    for (let i = 0; i < 10; i++) done.push(run((cb) => {
      const id = ring.nop(cb)
      ids.add(id)
      return id
    }))
    expect(await Promise.all(done)).toEqual(new Array(10).fill(0))
    expect(ids.size).toBe(10)
    // ids are dense: failed calls returned theirs instead of leaking them
    expect(Math.max(...ids)).toBeLessThan(16)
    const b = Buffer.alloc(4)
    expect(await run((cb) => ring.read(fd, b, 0, 4, 0, cb))).toBe(4)
    expect(b.toString()).toBe("some")
  })
})
