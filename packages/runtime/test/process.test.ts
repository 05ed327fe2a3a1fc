// Whole programs in child processes: signals and exit codes, failures, examples/cat.ts on
// both backends and under a seccomp filter that denies io_uring_setup, and reads cancelled
// by a timeout that must not keep a process alive.
//
// Children run as `node --import tsx <file>` (one process, so signals reach the program
// itself; `npx tsx` would put a relaying parent in between). Each costs ~1 s of start-up, so
// independent children run concurrently.
import { describe, expect, it } from "@effect/vitest"
import { seccompDenyPath } from "@effio/uring-native/test-tools"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type ChildResult, expectSameBytes, fixture, linesOf, payload, repoDir, runTs } from "./helpers.js"

const catExample = path.join(repoDir, "examples", "cat.ts")
const describeWithSeccomp = seccompDenyPath === undefined ? describe.skip : describe

/** Shows the child's output when an assertion about it fails. */
const show = (r: ChildResult) => `exit ${r.code} signal ${r.signal}\nstdout: ${r.stdout.toString("utf8").slice(0, 2000)}\nstderr: ${r.stderr}`

/** Runs the signal fixture on `backend` and sends `signal` once it printed "ready". */
const signalled = (signal: NodeJS.Signals, backend: "io_uring" | "node") => {
  let sent = false
  return runTs(fixture("signal.ts"), [], {
    env: { EFFIO_BACKEND: backend },
    onStdout: (seen, child) => {
      if (!sent && seen.includes("ready")) {
        sent = true
        child.kill(signal)
      }
    }
  })
}

describe.concurrent("processes", { timeout: 90_000 }, () => {
  // `prog | head -1`: the reader exits, the next write fails with EPIPE. The program ends as
  // `cat` does there: quietly, with 128 + SIGPIPE.
  for (const backend of ["io_uring", "node"] as const) {
    it(`writing to a closed pipe ends the program quietly with exit 141 (${backend})`, async () => {
      let closed = false
      const r = await runTs(fixture("yes.ts"), [], {
        env: { EFFIO_BACKEND: backend },
        timeoutMs: 20_000,
        onStdout: (_seen, child) => {
          if (!closed) {
            closed = true
            child.stdout!.destroy()
          }
        }
      })
      expect(r.timedOut, show(r)).toBe(false)
      expect(r.code, show(r)).toBe(141)
      expect(r.stderr.replace(/^effio: using the node backend.*\n/, ""), show(r)).toBe("")
    })
  }

  // A finite op cannot be interrupted; on a hung mount it would keep a signalled program alive
  // forever. Runtime.run cancels the ring's finite ops when the signal arrives.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal} ends a program blocked in a finite op (a stand-in for a hung mount): finalizers run, exit ${signal === "SIGINT" ? 130 : 143}`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effio-hung-"))
      try {
        const fifo = path.join(dir, "fifo")
        execFileSync("mkfifo", [fifo])
        let sent = false
        const r = await runTs(fixture("hung-finite.ts"), [fifo], {
          env: { EFFIO_BACKEND: "io_uring" },
          timeoutMs: 20_000,
          onStdout: (seen, child) => {
            if (!sent && seen.includes("ready")) {
              sent = true
              setTimeout(() => child.kill(signal), 200)
            }
          }
        })
        const out = r.stdout.toString("utf8")
        expect(r.timedOut, show(r)).toBe(false)
        expect(out, show(r)).toContain("finalized")
        expect(out, show(r)).toContain("closed")
        expect(out).not.toContain("read returned")
        expect(r.code, show(r)).toBe(signal === "SIGINT" ? 130 : 143)
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  }

  // Shells report a process killed by signal N as 128+N; Runtime.run exits with that code
  // itself after running the finalizers: SIGINT (2) → 130, SIGTERM (15) → 143.
  it("SIGINT interrupts Runtime.run: finalizers run, exit code 130 (128 + SIGINT)", async () => {
    const r = await signalled("SIGINT", "io_uring")
    const out = r.stdout.toString("utf8")
    expect(out, show(r)).toContain("ready io_uring")
    expect(out, show(r)).toContain("finalized")
    expect(out, show(r)).toContain("released")
    expect(out).not.toContain("slept through")
    // Finalizers run in reverse order of registration.
    expect(out.indexOf("finalized")).toBeLessThan(out.indexOf("released"))
    expect(r.signal, show(r)).toBeNull()
    expect(r.code, show(r)).toBe(130)
  })

  it("SIGTERM interrupts Runtime.run: finalizers run, exit code 143 (128 + SIGTERM)", async () => {
    const r = await signalled("SIGTERM", "io_uring")
    const out = r.stdout.toString("utf8")
    expect(out, show(r)).toContain("finalized")
    expect(out, show(r)).toContain("released")
    expect(r.code, show(r)).toBe(143)
  })

  it("SIGINT on the node backend: the same finalizers and code 130", async () => {
    const r = await signalled("SIGINT", "node")
    const out = r.stdout.toString("utf8")
    expect(out, show(r)).toContain("ready node")
    expect(out, show(r)).toContain("finalized")
    expect(out, show(r)).toContain("released")
    expect(r.code, show(r)).toBe(130)
  })

  it("a failing program exits with code 1 and prints the error", async () => {
    const r = await runTs(fixture("fail.ts"))
    expect(r.stdout.toString("utf8"), show(r)).toContain("about to fail")
    expect(r.stderr, show(r)).toContain("effio-fixture-failure 4711")
    expect(r.stderr, show(r)).toContain("FixtureError")
    // The report goes to stderr only: stdout is the program's data.
    expect(r.stdout.toString("utf8"), show(r)).toBe("about to fail\n")
    expect(r.code, show(r)).toBe(1)
  })

  it("examples/cat.ts with EFFIO_BACKEND=node copies stdin to stdout; one stderr line says so", async () => {
    const input = payload(200_000, 11)
    const r = await runTs(catExample, [], { env: { EFFIO_BACKEND: "node" }, input })
    expect(r.code, show(r)).toBe(0)
    expectSameBytes(r.stdout, input)
    const lines = linesOf(r.stderr)
    expect(lines, show(r)).toHaveLength(1)
    expect(lines[0]).toContain("node backend")
    expect(lines[0]).toContain("EFFIO_BACKEND=node")
  })

  it("examples/cat.ts on io_uring (default backend) copies stdin to stdout, silently", async () => {
    const input = payload(200_000, 12)
    const r = await runTs(catExample, [], { env: { EFFIO_BACKEND: undefined }, input })
    expect(r.code, show(r)).toBe(0)
    expectSameBytes(r.stdout, input)
    expect(r.stderr, show(r)).toBe("")
  })

  describeWithSeccomp("under a seccomp filter that denies io_uring_setup (EPERM)", () => {
    it("default backend: falls back to node, output intact, exactly one stderr line with EPERM", async () => {
      const input = payload(200_000, 13)
      const r = await runTs(catExample, [], { prefix: [seccompDenyPath!], env: { EFFIO_BACKEND: undefined }, input })
      expect(r.code, show(r)).toBe(0)
      expectSameBytes(r.stdout, input)
      const lines = linesOf(r.stderr)
      expect(lines, show(r)).toHaveLength(1)
      expect(lines[0]).toContain("EPERM")
      expect(lines[0]).toContain("node backend")
    })

    it("EFFIO_BACKEND=io_uring: fails (exit 1) with an error naming io_uring and EPERM", async () => {
      const r = await runTs(catExample, [], {
        prefix: [seccompDenyPath!],
        env: { EFFIO_BACKEND: "io_uring" },
        input: new TextEncoder().encode("never copied\n")
      })
      expect(r.code, show(r)).toBe(1)
      expect(r.stdout.toString("utf8")).toBe("")
      expect(r.stderr, show(r)).toContain("BackendUnavailable")
      expect(r.stderr, show(r)).toMatch(/io_uring/)
      expect(r.stderr, show(r)).toContain("EPERM")
    })
  })

  // A read interrupted by Effect.timeout must end promptly and leave nothing that keeps the
  // process alive: the parent holds the child's stdin open (never writing), the env.pipe
  // variant holds its own sink open. `run` ends through Runtime.run; `promise` through
  // Runtime.runPromise, where the process has to exit by itself (no process.exit).
  describe.each(["io_uring", "node"] as const)("a read cancelled by a timeout on the %s backend", (backend) => {
    it.each(["stdin", "pipe"] as const)("%s: the child exits by itself within 3 s with code 0", async (which) => {
      const results = await Promise.all(
        (["run", "promise"] as const).map(async (entry) => {
          let readingAt = 0
          const r = await runTs(fixture("timeout-read.ts"), [which, entry], {
            env: { EFFIO_BACKEND: backend },
            holdStdinOpen: true,
            onStdout: (seen, child) => {
              if (readingAt === 0 && seen.includes("reading")) {
                readingAt = performance.now()
                // Well past the 3 s limit: a child still alive then is stuck (result: timedOut).
                setTimeout(() => child.kill("SIGKILL"), 6000).unref()
              }
            }
          })
          return { entry, r, sinceReading: readingAt === 0 ? Infinity : performance.now() - readingAt }
        })
      )
      for (const { entry, r, sinceReading } of results) {
        const out = r.stdout.toString("utf8")
        const context = `${entry}: ${show(r)}`
        expect(r.timedOut, context).toBe(false)
        expect(r.signal, context).toBeNull()
        expect(r.code, context).toBe(0)
        expect(out, context).toContain(`reading ${which} on ${backend}`)
        expect(out, context).toMatch(/timed out after \d+ ms/)
        // The read really blocked for the timeout (~100 ms) before it was cancelled.
        expect(Number(/timed out after (\d+) ms/.exec(out)![1]), context).toBeGreaterThanOrEqual(90)
        if (entry === "promise") expect(out, context).toContain("returned")
        // From the read starting to the process being gone (start-up time excluded).
        expect(sinceReading, context).toBeLessThan(3000)
      }
    })
  })
})
