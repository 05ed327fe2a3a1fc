/**
 * Parent side of the fs benchmarks (fs-random.ts, fs-small-files.ts, fs-big-file.ts; `bench fs`
 * runs all three): the `@effect/platform` FileSystem over io_uring (`@effio/fs`,
 * `UringFileSystem.layer`) against `@effect/platform-node`'s `NodeFileSystem.layer` and Node's
 * own fs APIs.
 *
 * Every case runs in a fresh child process (lib/child.ts) and checks what it got: byte
 * counts on every op, content against the expected bytes on a sample, so a broken path
 * cannot look fast. `EFFIO_BENCH_FS_CASES=a,b` runs only the cases whose name contains one of
 * the comma-separated substrings (handy for profiling one case).
 *
 * Cases that use the big test file read it once before measuring: page cache left idle for
 * a while may be dropped (e.g. by a DAMON pageout scheme), and "page-cached" must hold.
 */
import * as os from "node:os"
import type { Benchmark } from "./benchmark.ts"
import { type ChildCase, type ChildOutcome, runChildren } from "./child.ts"
import type { CaseMeasured, CaseResult } from "./fs-case.ts"
import { type Measured, type Timing, timingFromEnv } from "./measure.ts"
import { fmtNum, printTable } from "./table.ts"

export type Get = (name: string) => ChildOutcome<CaseResult> | undefined

export interface Section {
  readonly title: string
  readonly cases: ReadonlyArray<ChildCase>
  /** The case list is run this many times, interleaved (A B C A B C), and the rounds summed. */
  readonly rounds: number
  /** Prints the section's tables from its outcomes (by case name). */
  readonly report: (get: Get) => void
}

const plain = { UV_USE_IO_URING: undefined, UV_THREADPOOL_SIZE: undefined }

/** A case maker for the benchmark module at `module` (its `import.meta.url`): `fn` is one of its exports. */
export const caseMaker = (module: string) => (name: string, fn: string, args: unknown, timeoutMs?: number): ChildCase => ({
  name,
  module,
  fn,
  args,
  env: plain,
  ...(timeoutMs === undefined ? {} : { timeoutMs })
})

export const measuredOf = (o: ChildOutcome<CaseResult> | undefined): CaseMeasured | undefined =>
  o?.ok && !("skipped" in o.value) ? o.value : undefined

/** Several rounds of one case as one result: ops, time, CPU and bytes summed, the best run kept. */
const combine = (os: ReadonlyArray<ChildOutcome<CaseResult>>): ChildOutcome<CaseResult> => {
  if (os.length === 1) return os[0]!
  const bad = os.find((o) => !o.ok || "skipped" in o.value)
  if (bad) return bad
  const ms = os.map((o) => measuredOf(o)!)
  const sum = (f: (m: CaseMeasured) => number) => ms.reduce((acc, m) => acc + f(m), 0)
  const ops = sum((m) => m.ops)
  const seconds = sum((m) => m.seconds)
  const userUs = sum((m) => m.userUs)
  const sysUs = sum((m) => m.sysUs)
  const value: CaseMeasured = {
    ops,
    seconds,
    opsPerSec: ops / seconds,
    userUs,
    sysUs,
    cpuUsPerOp: (userUs + sysUs) / ops,
    bytes: sum((m) => m.bytes ?? 0),
    bestSeconds: Math.min(...ms.map((m) => m.bestSeconds ?? Infinity)),
    notes: `${os.length} rounds: ${ms.map((m) => fmtNum((m.bytes ?? 0) / m.seconds / 1e6, 0)).join(" / ")} MB/s; ${ms[0]!.notes ?? ""}`
  }
  return { ok: true, value, wallMs: os.reduce((acc, o) => acc + o.wallMs, 0) }
}

export const cpuPct = (m: Measured) => fmtNum(((m.userUs + m.sysUs) / (m.seconds * 1e6)) * 100, 0)

export const mbps = (m: { bytes?: number; seconds: number }) => (m.bytes ?? 0) / m.seconds / 1e6

/** A row for a failed or skipped case, or undefined when it was measured. */
const failedRow = (name: string, o: ChildOutcome<CaseResult> | undefined, width: number): Array<string> | undefined => {
  if (o === undefined) return undefined
  if (!o.ok) return [name, ...Array.from({ length: width - 2 }, () => "–"), `FAILED: ${o.error.split("\n")[0]}`]
  if ("skipped" in o.value) return [name, ...Array.from({ length: width - 2 }, () => "–"), `skipped (${o.value.skipped})`]
  return undefined
}

/**
 * Table rows of the cases among `names` that ran: `row(name, measured)` for a measured one, a
 * FAILED/skipped row of `width` cells after the cells of `lead` otherwise.
 */
export const caseRows = (
  get: Get,
  names: ReadonlyArray<string>,
  width: number,
  row: (name: string, m: CaseMeasured) => Array<string>,
  lead: ReadonlyArray<string> = []
): Array<Array<string>> =>
  names.filter((n) => get(n) !== undefined).map((n) => {
    const o = get(n)
    const m = measuredOf(o)
    return m ? row(n, m) : [...lead, ...failedRow(n, o, width)!]
  })

export const ratioRow = (label: string, a: number | undefined, b: number | undefined, target: number | undefined) => {
  const r = a !== undefined && b !== undefined ? a / b : undefined
  return [
    label,
    r === undefined ? "n/a" : `${fmtNum(r)}×`,
    target === undefined ? "(info)" : `≥ ${target}×`,
    r === undefined || target === undefined ? "" : r >= target ? "PASS" : "MISS"
  ]
}

export const ratioTable = (header: string, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  console.log("")
  printTable([header, "value", "target", "result"], rows, ["left", "right", "right", "left"])
}

/**
 * Runs the picked cases of `s` (in order, `rounds` times interleaved) and prints a heading, the
 * section's report and the load average. `label` prefixes the heading and the progress lines
 * (stderr); `method` is said after "each in a fresh process" in the preamble.
 */
const runSection = async (label: string, timing: Timing, s: Section, method: string): Promise<boolean> => {
  const only = (process.env.EFFIO_BENCH_FS_CASES ?? "").split(",").map((x) => x.trim()).filter((x) => x !== "")
  const picked = (c: ChildCase) => only.length === 0 || only.some((x) => c.name.includes(x))

  const load0 = os.loadavg()[0]!
  console.log(`\n### ${label}: @effio/fs (UringFileSystem.layer) vs @effect/platform-node vs node:fs`)
  console.log(
    `\n${fmtNum(timing.durationMs / 1000, 1)} s per case after ${fmtNum(timing.warmupMs / 1000, 1)} s warm-up, each in a fresh process${method}; ` +
      `node ${process.version}, libuv ${process.versions.uv}, Linux ${os.release()}, ${os.availableParallelism()} CPUs, ` +
      `load average ${fmtNum(load0)} at start. CPU = user+sys of the whole process (all threads, io_uring workers included) ` +
      `over the timed window; CPU % below 100 on a busy machine means the case was waiting for a CPU. MB = 10^6 bytes.`
  )
  let ok = true
  const list = s.cases.filter(picked)
  if (list.length > 0) {
    console.error(`\n${label}: ${s.title}`)
    const rounds: Array<Array<ChildOutcome<CaseResult>>> = []
    for (let r = 0; r < s.rounds; r++) {
      rounds.push(
        await runChildren<CaseResult>(list, (c, o) =>
          console.error(
            `  ${c.name}${s.rounds > 1 ? ` [round ${r + 1}]` : ""}: ${
              o.ok ? ("skipped" in o.value ? o.value.skipped : `${fmtNum(o.value.opsPerSec, 1)} ops/s`) : `FAILED: ${o.error}`
            } (${fmtNum(o.wallMs / 1000, 1)} s)`
          ))
      )
    }
    const byName = new Map(list.map((c, i) => [c.name, combine(rounds.map((r) => r[i]!))] as const))
    console.log(`\n#### ${s.title}\n`)
    s.report((n) => byName.get(n))
    ok = rounds.every((r) => r.every((o) => o.ok))
  }
  console.log(`\nload average ${fmtNum(load0)} at start / ${fmtNum(os.loadavg()[0])} at end.`)
  return ok
}

/**
 * An fs benchmark of one section: `section(timing)` prepares what its cases need (files) and
 * returns them; `method`, if given, describes how the cases time their runs (in the preamble).
 */
export const fsBenchmark = (spec: {
  readonly name: string
  readonly description: string
  readonly section: (timing: Timing) => Section
  readonly method?: (timing: Timing) => string
}): Benchmark => ({
  name: spec.name,
  description: spec.description,
  run: () => {
    const timing = timingFromEnv()
    return runSection(spec.name, timing, spec.section(timing), spec.method?.(timing) ?? "")
  }
})
