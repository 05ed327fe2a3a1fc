// Faults of the process around the ring, in child processes:
// - a program with pipe reads, file writes and sleeps in flight ends by process.exit()
//   (from a timer and from a fiber), an uncaught exception, or SIGKILL: it never hangs, and
//   the parent's fds are untouched;
// - ring setup refused with ENOMEM (a tiny RLIMIT_MEMLOCK without CAP_IPC_LOCK, which the
//   kernel charges ring memory to): Runtime.run falls back to node with the reason in its
//   one stderr line, whether the probe's ring was refused too or only the loop's bigger one.
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type ChildResult, countFds, expectSameBytes, fixture, linesOf, payload, runTs, which } from "./helpers.js"

const show = (r: ChildResult) => `exit ${r.code} signal ${r.signal}\nstdout: ${r.stdout.toString("utf8").slice(0, 2000)}\nstderr: ${r.stderr}`

type Mode = "exit" | "exit-in-fiber" | "throw" | "wait"

/** Runs the faults fixture in `mode`; for `wait`, SIGKILLs it once ready. Returns ms from "ready" to the exit. */
const fault = async (mode: Mode, backend: "io_uring" | "node") => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effio-faults-"))
  try {
    let readyAt = 0
    const r = await runTs(fixture("faults.ts"), [mode, dir], {
      env: { EFFIO_BACKEND: backend },
      holdStdinOpen: true,
      timeoutMs: 30_000,
      onStdout: (seen, child) => {
        if (readyAt !== 0 || !seen.includes("ready")) return
        readyAt = performance.now()
        if (mode === "wait") child.kill("SIGKILL")
      }
    })
    const sinceReady = readyAt === 0 ? Infinity : performance.now() - readyAt
    // The child wrote into the directory it was given, and left nothing that stops its removal.
    expect(fs.existsSync(path.join(dir, "big.bin")), show(r)).toBe(true)
    return { r, sinceReady }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const expected: Record<Mode, { readonly code: number | null; readonly signal: NodeJS.Signals | null }> = {
  exit: { code: 7, signal: null },
  "exit-in-fiber": { code: 3, signal: null },
  throw: { code: 1, signal: null },
  wait: { code: null, signal: "SIGKILL" }
}

describe("a program dying with ops in flight", { timeout: 90_000 }, () => {
  for (const backend of ["io_uring", "node"] as const) {
    it(`process.exit (from a timer, from a fiber), an uncaught exception, SIGKILL (${backend}): no hang, the parent's fds untouched`, async () => {
      const fdsBefore = countFds()
      const modes = ["exit", "exit-in-fiber", "throw", "wait"] as const
      const results = await Promise.all(modes.map((mode) => fault(mode, backend)))
      for (const [i, mode] of modes.entries()) {
        const { r, sinceReady } = results[i]!
        const context = `${mode}: ${show(r)}`
        expect(r.timedOut, context).toBe(false)
        const ready = /ready (-?\d+) (\S+)/.exec(r.stdout.toString("utf8"))
        expect(ready?.[2], context).toBe(backend)
        // On io_uring the reads, the sleep and a write were in the kernel when it died.
        if (backend === "io_uring") expect(Number(ready?.[1]), context).toBeGreaterThanOrEqual(4)
        expect({ code: r.code, signal: r.signal }, context).toEqual(expected[mode])
        if (mode === "throw") expect(r.stderr, context).toContain("effio-fault-uncaught")
        // Gone promptly: the ring's teardown waited for its ops without hanging on the
        // reads that never get data (start-up excluded, generous for a loaded machine).
        expect(sinceReady, context).toBeLessThan(5000)
      }
      // Every child's pipes are closed on our side; nothing of ours was closed or leaked.
      expect(countFds()).toBe(fdsBefore)
      for (const fd of [0, 1, 2]) expect(() => fs.fstatSync(fd)).not.toThrow()
    })
  }
})

// The kernel charges ring memory to RLIMIT_MEMLOCK only for a process without
// CAP_IPC_LOCK: setpriv drops it (root keeps every other capability), prlimit sets the limit.
const canLimit = process.getuid?.() === 0 && which("setpriv") !== undefined && which("prlimit") !== undefined
const limited = (bytes: number) => [
  "setpriv",
  "--inh-caps=-ipc_lock",
  "--bounding-set=-ipc_lock",
  "prlimit",
  `--memlock=${bytes}:${bytes}`
]

describe.skipIf(!canLimit)("ring setup refused with ENOMEM (RLIMIT_MEMLOCK)", { timeout: 90_000 }, () => {
  // 0: no ring at all, the probe says ENOMEM. 16 KiB: the probe's 4-entry ring fits, the
  // loop's ring (16,384 CQEs, 256 KiB) does not: the failure comes when the layer opens it.
  for (const [bytes, probe] of [[0, "refused"], [16 * 1024, "passed"]] as const) {
    it(`memlock ${bytes}: the probe ${probe === "passed" ? "passes" : "is refused"}, Runtime.run falls back to node, one stderr line with ENOMEM`, async (ctx) => {
      const input = payload(100_000, bytes + 1)
      const r = await runTs(fixture("memlock.ts"), [], { prefix: limited(bytes), env: { EFFIO_BACKEND: undefined }, input })
      const out = r.stdout.toString("utf8")
      const first = out.slice(0, out.indexOf("\n") + 1)
      // A kernel that does not charge ring memory to memlock cannot refuse it this way (a
      // broken fallback shows as exit 1 with UringUnavailable, not as io_uring running).
      if (first.includes("backend io_uring")) ctx.skip()
      expect(r.code, show(r)).toBe(0)
      expect(first, show(r)).toBe(`probe ${probe}, backend node\n`)
      expectSameBytes(r.stdout.subarray(first.length), input)
      const lines = linesOf(r.stderr)
      expect(lines, show(r)).toHaveLength(1)
      expect(lines[0]).toMatch(/^effio: using the node backend: io_uring is unavailable \(.*RLIMIT_MEMLOCK.*\(ENOMEM\)\)$/)
    })
  }

  it("memlock 16 KiB with EFFIO_BACKEND=io_uring: fails (exit 1) with ENOMEM, no fallback", async () => {
    const r = await runTs(fixture("memlock.ts"), [], {
      prefix: limited(16 * 1024),
      env: { EFFIO_BACKEND: "io_uring" },
      input: new TextEncoder().encode("never copied\n")
    })
    expect(r.code, show(r)).toBe(1)
    expect(r.stdout.toString("utf8")).toBe("")
    expect(r.stderr, show(r)).toContain("UringUnavailable")
    expect(r.stderr, show(r)).toContain("ENOMEM")
    expect(r.stderr).not.toContain("using the node backend")
  })
})
