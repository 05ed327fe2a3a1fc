// Process-level behaviour, in child processes and workers: throwing callbacks, exit with an
// idle ring, seccomp denial, worker threads.
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { Worker } from "node:worker_threads"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { firstMessage } from "../../../test-utils/index.js"
import { Ring } from "../src/index.js"
import { seccompDenyPath } from "../test-tools.js"
import { closeTracked, distIndex, distIndexUrl, makePipe, packageDir, makeTempDir, removeTempDirs, runChild, runNodeScript, sleep } from "./helpers.js"

beforeAll(() => {
  // Children import the compiled facade: build it with `npx tsc -b` first.
  expect(fs.existsSync(distIndex), `${distIndex} (run npx tsc -b)`).toBe(true)
})
afterEach(() => {
  closeTracked()
  removeTempDirs()
})

const lines = (s: string): Array<string> => s.split("\n").filter((l) => l.length > 0)

describe("a callback that throws", () => {
  // The child: a file with known content; one batch holding three nops (the middle one throws)
  // and eight file reads; meanwhile a read on an empty pipe whose buffer only the ring holds.
  const childScript = (dir: string, handle: boolean): string => `
    import { Ring, errnoName } from ${JSON.stringify(distIndexUrl)}
    import fs from "node:fs"
    const say = (s) => fs.writeSync(1, s + "\\n")
    ${handle ? `process.on("uncaughtException", (e) => say("UNCAUGHT " + e.message))` : ""}
    const data = Buffer.alloc(8 * 512)
    for (let i = 0; i < data.length; i++) data[i] = (i * 13 + 5) & 255
    fs.writeFileSync(${JSON.stringify(path.join(dir, "data.bin"))}, data)
    const fd = fs.openSync(${JSON.stringify(path.join(dir, "data.bin"))}, "r")
    const fifo = ${JSON.stringify(path.join(dir, "fifo"))}
    const nb = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    const w = fs.openSync(fifo, fs.constants.O_WRONLY)
    const r = fs.openSync("/proc/self/fd/" + nb, fs.constants.O_RDONLY)
    const ring = new Ring()

    // In flight across the throw: only the ring references this buffer.
    let pending
    ;(() => {
      const buf = new Uint8Array(16).fill(0)
      const ref = new WeakRef(buf)
      ring.read(r, buf, 0, 16, -1, (res) => {
        const b = ref.deref()
        pending = b === undefined ? "collected" : res + ":" + Buffer.from(b.subarray(0, res)).toString()
      })
    })()
    await new Promise((resolve) => setTimeout(resolve, 20))

    const batchesBefore = ring.info().batches
    const reads = []
    ring.nop(() => say("A"))
    // B and C collect garbage while the reads below are still undelivered in this batch.
    ring.nop(() => { say("B"); globalThis.gc(); throw new Error("boom-from-callback") })
    ring.nop(() => { say("C"); globalThis.gc() })
    for (let k = 0; k < 8; k++) {
      ;(() => {
        const buf = new Uint8Array(512)
        const ref = new WeakRef(buf)
        ring.read(fd, buf, 0, 512, k * 512, (res) => {
          const b = ref.deref()
          reads.push(b !== undefined && res === 512 && Buffer.compare(b, data.subarray(k * 512, (k + 1) * 512)) === 0)
          globalThis.gc()
        })
      })()
    }
    globalThis.gc()
    setTimeout(() => {
      say("BATCHES " + (ring.info().batches - batchesBefore))
      say("READS " + reads.length + " " + reads.every(Boolean))
      globalThis.gc()
      fs.writeSync(w, "still pinned")
      setTimeout(() => {
        say("PENDING " + pending)
        say("INFLIGHT " + ring.inFlight)
      }, 50)
    }, 50)
  `

  it("the rest of the batch runs, other buffers stay pinned, the error is an uncaught exception", async () => {
    const dir = makeTempDir()
    execFileSync("mkfifo", [path.join(dir, "fifo")])
    const res = await runNodeScript(childScript(dir, true), { timeoutMs: 15_000 })
    expect(res.stderr).toBe("")
    expect(res.code).toBe(0)
    const out = lines(res.stdout)
    // A, B and C ran in order, then the error surfaced through uncaughtException.
    expect(out.slice(0, 4)).toEqual(["A", "B", "C", "UNCAUGHT boom-from-callback"])
    expect(out).toContain("BATCHES 1")
    expect(out).toContain("READS 8 true")
    expect(out).toContain("PENDING 12:still pinned")
    expect(out).toContain("INFLIGHT 0")
  })

  it("without a handler the process dies with the error on stderr, after the whole batch ran", async () => {
    const dir = makeTempDir()
    execFileSync("mkfifo", [path.join(dir, "fifo")])
    const res = await runNodeScript(childScript(dir, false), { timeoutMs: 15_000 })
    expect(res.killed).toBe(false)
    expect(res.code).not.toBe(0)
    expect(res.code).toBe(1)
    expect(res.stderr).toContain("boom-from-callback")
    expect(res.stderr).toMatch(/Error: boom-from-callback/)
    expect(lines(res.stdout)).toEqual(["A", "B", "C"])
  })
})

describe("the event loop", () => {
  it("an idle ring lets the process exit by itself", async () => {
    const script = `
      import { Ring } from ${JSON.stringify(distIndexUrl)}
      const ring = new Ring()
      const idle = new Ring({ entries: 4 })
      ring.nop((res) => console.log("nop " + res))
      globalThis.keep = [ring, idle]
    `
    const res = await runNodeScript(script, { timeoutMs: 2000 })
    expect(res.killed, `still running after 2 s (stderr: ${res.stderr})`).toBe(false)
    expect(res.elapsedMs).toBeLessThan(2000)
    expect(res.code).toBe(0)
    expect(res.stdout.trim()).toBe("nop 0")
  })

  it("a pending read keeps the process alive until the pipe is written", async () => {
    const dir = makeTempDir()
    const fifo = path.join(dir, "fifo")
    execFileSync("mkfifo", [fifo])
    // Our end: read+write, so opening it never blocks and the child's open finds a writer.
    const ours = fs.openSync(fifo, fs.constants.O_RDWR)
    try {
      const script = `
        import { Ring } from ${JSON.stringify(distIndexUrl)}
        import fs from "node:fs"
        const r = fs.openSync(${JSON.stringify(fifo)}, fs.constants.O_RDONLY)
        const ring = new Ring()
        const buf = new Uint8Array(32)
        ring.read(r, buf, 0, 32, -1, (res) => console.log("got " + Buffer.from(buf.subarray(0, res)).toString()))
        console.log("waiting")
      `
      let wroteAt = 0
      const res = await runNodeScript(script, {
        timeoutMs: 5000,
        onSpawn: (child) => {
          child.stdout!.on("data", (d: string) => {
            if (!String(d).includes("waiting")) return
            // Alive with nothing but the read in flight; then feed it.
            setTimeout(() => {
              expect(child.exitCode).toBe(null)
              wroteAt = performance.now()
              fs.writeSync(ours, "ping")
            }, 300)
          })
        }
      })
      expect(res.killed).toBe(false)
      expect(wroteAt).toBeGreaterThan(0)
      expect(res.code).toBe(0)
      expect(lines(res.stdout)).toEqual(["waiting", "got ping"])
    } finally {
      fs.closeSync(ours)
    }
  })
})

describe("seccomp denial of io_uring_setup", () => {
  it("the helper is built and exported through ./test-tools", async () => {
    expect(seccompDenyPath).toBeDefined()
    expect(path.isAbsolute(seccompDenyPath!)).toBe(true)
    expect(path.basename(seccompDenyPath!)).toBe("effio-seccomp-deny")
    expect(fs.statSync(seccompDenyPath!).mode & 0o111).not.toBe(0)
    // Through the package's "exports" map, as other packages import it.
    const res = await runNodeScript(
      `import { seccompDenyPath } from "@effio/uring-native/test-tools"; console.log(seccompDenyPath)`,
      { cwd: packageDir }
    )
    expect(res.stderr).toBe("")
    expect(res.stdout.trim()).toBe(seccompDenyPath)
  })

  it.skipIf(seccompDenyPath === undefined)("probe() reports available: false with EPERM; new Ring() throws RingUnavailableError", async () => {
    const script = `
      import { probe, Ring, RingUnavailableError } from ${JSON.stringify(distIndexUrl)}
      let ring
      try {
        new Ring()
        ring = { created: true }
      } catch (e) {
        ring = { created: false, isRUE: e instanceof RingUnavailableError, name: e.name, code: e.code, errno: e.errno, message: e.message }
      }
      console.log(JSON.stringify({ probe: probe(), ring }))
    `
    const res = await runNodeScript(script, { prefix: [seccompDenyPath!], timeoutMs: 15_000 })
    expect(res.stderr).toBe("")
    expect(res.code).toBe(0)
    const { probe: p, ring } = JSON.parse(res.stdout) as {
      probe: { available: boolean; reason: string; errno: number; ops: Array<string> }
      ring: { created: boolean; isRUE: boolean; name: string; code: string; errno: number; message: string }
    }
    expect(p.available).toBe(false)
    expect(p.reason).toMatch(/EPERM/)
    expect(p.reason).toMatch(/seccomp/)
    expect(p.errno).toBe(1)
    expect(p.ops).toEqual([])
    expect(ring.created).toBe(false)
    expect(ring.isRUE).toBe(true)
    expect(ring.name).toBe("RingUnavailableError")
    expect(ring.code).toBe("ERR_IO_URING_UNAVAILABLE")
    expect(ring.errno).toBe(1)
    expect(ring.message).toMatch(/EPERM/)
  })

  it.skipIf(seccompDenyPath === undefined)("the helper passes exit codes through and leaves other syscalls alone", async () => {
    const ok = await runChild(seccompDenyPath!, ["sh", "-c", "echo fine; exit 7"])
    expect(ok.code).toBe(7)
    expect(ok.stdout).toBe("fine\n")
    const usage = await runChild(seccompDenyPath!, [])
    expect(usage.code).toBe(2)
    const missing = await runChild(seccompDenyPath!, ["/nonexistent/command"])
    expect(missing.code).toBe(127)
  })
})

describe("a close() that has to wait for an op the kernel does not cancel", () => {
  // testNoDrainCancel makes a 400 ms timeout stand in for an uncancellable op (a regular-file
  // read on a hung mount): close() must wait for its real completion, saying so on stderr.
  const warning = "effio: ring close waiting for 1 op(s) the kernel has not completed\n"

  it("close() keeps waiting past the bound, with one line on stderr", async () => {
    const script = `
      import { Ring, errnoName } from ${JSON.stringify(distIndexUrl)}
      const ring = new Ring({ testNoDrainCancel: true, testDrainWarnMs: 50 })
      const results = []
      ring.timeout(400_000_000, (res) => results.push(errnoName(res)))
      await new Promise((resolve) => setTimeout(resolve, 5))
      const t0 = performance.now()
      ring.close()
      console.log(JSON.stringify({ elapsed: performance.now() - t0, results, inFlight: ring.inFlight }))
    `
    const res = await runNodeScript(script, { timeoutMs: 15_000 })
    expect(res.code).toBe(0)
    expect(res.stderr).toBe(warning)
    const out = JSON.parse(res.stdout) as { elapsed: number; results: Array<string>; inFlight: number }
    expect(out.results).toEqual(["ETIME"])
    expect(out.elapsed).toBeGreaterThanOrEqual(350)
    expect(out.inFlight).toBe(0)
  })

  it("worker.terminate() does the same: the worker's env teardown waits for the op", async () => {
    const script = `
      import { Worker } from "node:worker_threads"
      const worker = new Worker(\`
        Promise.all([import(${JSON.stringify(distIndexUrl)}), import("node:worker_threads")]).then(([{ Ring }, { parentPort }]) => {
          const ring = new Ring({ testNoDrainCancel: true, testDrainWarnMs: 50 })
          ring.timeout(400_000_000, () => {})
          parentPort.postMessage("pending")
        })
      \`, { eval: true })
      await new Promise((resolve) => worker.once("message", resolve))
      await new Promise((resolve) => setTimeout(resolve, 10))
      const t0 = performance.now()
      const code = await worker.terminate()
      console.log(JSON.stringify({ elapsed: performance.now() - t0, code }))
    `
    const res = await runNodeScript(script, { timeoutMs: 15_000 })
    expect(res.code).toBe(0)
    expect(res.stderr).toBe(warning)
    const out = JSON.parse(res.stdout) as { elapsed: number; code: number }
    expect(out.code).toBe(1)
    expect(out.elapsed).toBeGreaterThanOrEqual(350)
  })
})

describe("worker threads", () => {
  it("a Ring in a worker runs on the worker's own loop", async () => {
    const dir = makeTempDir()
    const file = path.join(dir, "w.txt")
    fs.writeFileSync(file, "read from a worker thread")
    const workerFile = path.join(dir, "worker.mjs")
    fs.writeFileSync(
      workerFile,
      `
      import { Ring } from ${JSON.stringify(distIndexUrl)}
      import { parentPort, threadId, workerData } from "node:worker_threads"
      import fs from "node:fs"
      const ring = new Ring()
      const fd = fs.openSync(workerData.file, "r")
      const buf = Buffer.alloc(64)
      ring.read(fd, buf, 0, 64, 5, (res) => {
        parentPort.postMessage({ res, text: buf.subarray(0, Math.max(res, 0)).toString(), threadId, ringFd: ring.info().fd })
        fs.closeSync(fd)
        ring.close()
      })
      `
    )
    const mainRing = new Ring()
    try {
      const worker = new Worker(workerFile, { workerData: { file } })
      const exited = new Promise<number>((resolve) => worker.once("exit", resolve))
      const msg = await firstMessage<{ res: number; text: string; threadId: number; ringFd: number }>(worker)
      const code = await Promise.race([exited, sleep(10_000).then(() => -1)])
      if (code === -1) await worker.terminate()
      expect(msg.res).toBe(20)
      expect(msg.text).toBe("from a worker thread")
      expect(msg.threadId).toBeGreaterThan(0)
      expect(msg.ringFd).not.toBe(mainRing.info().fd)
      expect(code).toBe(0) // the worker's loop emptied by itself
      // The main thread's ring is unaffected.
      const res = await new Promise<number>((resolve) => mainRing.nop(resolve))
      expect(res).toBe(0)
    } finally {
      mainRing.close()
    }
  })

  it("terminating a worker with a read in flight cancels it safely", async () => {
    const dir = makeTempDir()
    const { r, w } = makePipe(dir)
    const worker = new Worker(
      `
      import(${JSON.stringify(distIndexUrl)}).then(({ Ring }) => {
        const { parentPort, workerData } = require("node:worker_threads")
        const ring = new Ring()
        const buf = new Uint8Array(16)
        ring.read(workerData.r, buf, 0, 16, -1, () => parentPort.postMessage("completed?"))
        parentPort.postMessage("pending")
      })
      `,
      { eval: true, workerData: { r } }
    )
    let completed = false
    worker.on("message", (m) => {
      if (m === "completed?") completed = true
    })
    await firstMessage(worker)
    await sleep(20)
    const t0 = performance.now()
    expect(await worker.terminate()).toBe(1)
    expect(performance.now() - t0).toBeLessThan(5000)
    // The cancelled read did not consume what is written now.
    fs.writeSync(w, "after terminate")
    const buf = Buffer.alloc(32)
    expect(fs.readSync(r, buf, 0, 32, null)).toBe(15)
    expect(buf.subarray(0, 15).toString()).toBe("after terminate")
    expect(completed).toBe(false)
  })

  for (const [name, options] of [
    ["per-op cancel", { testNoCancelAny: true }],
    ["per-op cancel, timeout SQE", { testNoCancelAny: true, testNoExtArg: true }]
  ] as const) {
    it(`terminating a worker with reads, polls and timeouts in flight (${name}) cancels them promptly`, async () => {
      const dir = makeTempDir()
      const { r, w } = makePipe(dir)
      const worker = new Worker(
        `
        import(${JSON.stringify(distIndexUrl)}).then(({ Ring, constants }) => {
          const { parentPort, workerData } = require("node:worker_threads")
          const ring = new Ring(workerData.options)
          const done = () => parentPort.postMessage("completed?")
          for (let i = 0; i < 4; i++) ring.read(workerData.r, new Uint8Array(16), 0, 16, -1, done)
          ring.pollAdd(workerData.r, constants.POLLIN, done)
          ring.pollAdd(workerData.r, constants.POLLIN, done, true)
          ring.timeout(60_000_000_000, done)
          parentPort.postMessage("pending")
        })
        `,
        { eval: true, workerData: { r, options } }
      )
      let completed = false
      worker.on("message", (m) => {
        if (m === "completed?") completed = true
      })
      await firstMessage(worker)
      await sleep(20)
      const t0 = performance.now()
      expect(await worker.terminate()).toBe(1)
      expect(performance.now() - t0).toBeLessThan(2000)
      fs.writeSync(w, "after terminate")
      const buf = Buffer.alloc(32)
      expect(fs.readSync(r, buf, 0, 32, null)).toBe(15)
      expect(completed).toBe(false)
    })
  }
})
