// RingOptions.sqPoll: a kernel SQ thread takes the SQEs. Real kernel ring, real files and pipes.
import fs from "node:fs"
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { errnoName, pipe2, Ring } from "../src/index.js"
import { closeTracked, makeTempDir, pseudoRandomBytes, removeTempDirs, run, sleep, track } from "./helpers.js"

const ECANCELED = -125

const rings: Array<Ring> = []
const open = (options: ConstructorParameters<typeof Ring>[0]): Ring => {
  const ring = new Ring(options)
  rings.push(ring)
  return ring
}
afterEach(() => {
  for (const r of rings.splice(0)) r.close()
  closeTracked()
  removeTempDirs()
})

describe("sqPoll", () => {
  it("an SQPOLL ring says so; chained ops complete without an io_uring_enter per submission", async () => {
    const ring = open({ sqPoll: { idleMs: 1000 } })
    const info0 = ring.info()
    expect(info0.sqPoll).toBe(true)
    expect(info0.setupFlags).toContain("sqpoll")
    // an ordinary ring is not one
    expect(open({}).info().sqPoll).toBe(false)
    for (let i = 0; i < 500; i++) expect(await run((cb) => ring.nop(cb))).toBe(0)
    const info = ring.info()
    expect(info.completions - info0.completions).toBe(500)
    expect(info.submitted - info0.submitted).toBe(500)
    // The thread stays awake (idle 1 s) between these submissions, so the loop thread enters
    // only to wake it: every enter is a wake-up, and far fewer than one per submission (0-2 on
    // a quiet machine; a busy one made 67 in one CI run, the thread idling out while it waited
    // for a CPU).
    const enters = info.enters - info0.enters
    expect(enters).toBe(info.sqWakeups - info0.sqWakeups)
    expect(enters).toBeLessThan(250)
  })

  it("reads and writes of a file land at their offsets, and the bytes are right", async () => {
    const ring = open({ sqPoll: true })
    const dir = makeTempDir()
    const p = path.join(dir, "f")
    const fd = track(fs.openSync(p, "w+"))
    const data = pseudoRandomBytes(64 * 4096)
    const writes = Array.from({ length: 64 }, (_, i) => run((cb) => ring.write(fd, data, i * 4096, 4096, i * 4096, cb)))
    expect(await Promise.all(writes)).toEqual(Array(64).fill(4096))
    expect(Buffer.compare(fs.readFileSync(p), data)).toBe(0)
    const back = Buffer.alloc(data.length)
    const reads = Array.from({ length: 64 }, (_, i) => run((cb) => ring.read(fd, back, i * 4096, 4096, i * 4096, cb)))
    expect(await Promise.all(reads)).toEqual(Array(64).fill(4096))
    expect(Buffer.compare(back, data)).toBe(0)
  })

  it("a full SQ (2 entries) with 2,000 ops queued: each completes once, in submission order", async () => {
    const ring = open({ entries: 2, sqPoll: true })
    const order: Array<number> = []
    const all = Array.from({ length: 2000 }, (_, i) =>
      run((cb) =>
        ring.nop((res, flags) => {
          order.push(i)
          cb(res, flags)
        })
      ))
    expect(await Promise.all(all)).toEqual(Array(2000).fill(0))
    expect(order).toEqual(Array.from({ length: 2000 }, (_, i) => i))
    expect(ring.inFlight).toBe(0)
  })

  it("an idled-out SQ thread is woken by the next submission (sqWakeups)", async () => {
    const ring = open({ sqPoll: { idleMs: 5 } })
    expect(await run((cb) => ring.nop(cb))).toBe(0)
    const before = ring.info().sqWakeups
    await sleep(60) // well past the 5 ms idle time: the thread sleeps
    expect(await run((cb) => ring.nop(cb))).toBe(0)
    expect(ring.info().sqWakeups).toBeGreaterThan(before)
  })

  it("cancel and close: a read blocked on an empty pipe ends with ECANCELED, close drains the rest", async () => {
    const ring = open({ sqPoll: true })
    const [r, w] = pipe2()
    track(r)
    track(w)
    const buf = Buffer.alloc(16)
    const first = run((cb) => {
      const id = ring.read(r, buf, 0, 16, -1, cb)
      setTimeout(() => ring.cancel(id), 20)
      return id
    })
    expect(errnoName(await first)).toBe("ECANCELED")
    const results: Array<number> = []
    for (let i = 0; i < 8; i++) ring.read(r, Buffer.alloc(16), 0, 16, -1, (res) => results.push(res))
    await sleep(20)
    ring.close()
    expect(results).toEqual(Array(8).fill(ECANCELED))
    expect(ring.info().open).toBe(false)
  })

  it("bad sqPoll options throw before a ring is made", () => {
    for (const bad of [{ idleMs: -1 }, { idleMs: 0 }, { idleMs: 1.5 }, { idleMs: 60_001 }]) {
      expect(() => new Ring({ sqPoll: bad })).toThrow(RangeError)
    }
    expect(() => new Ring({ sqPoll: "yes" as unknown as boolean })).toThrow(TypeError)
  })
})
