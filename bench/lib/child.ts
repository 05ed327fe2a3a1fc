/**
 * Runs one function of a benchmark module in a fresh `node` process (with tsx's loader), so
 * libuv threadpool state, `UV_*` settings and JIT warm-up never leak from one case into the
 * next. The function's JSON result comes back on a marked stdout line.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** One case: which export of which module to call in the child, with what args and env. */
export interface ChildCase {
  readonly name: string
  /** Module URL, e.g. `import.meta.url` of the benchmark file. */
  readonly module: string
  /** Exported function `(args) => R | Promise<R>`; R must survive `JSON.stringify`. */
  readonly fn: string
  readonly args?: unknown
  /** Environment overrides for the child; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Kill the child after this long. Default 120 s. */
  readonly timeoutMs?: number
}

export type ChildOutcome<R> =
  | { readonly ok: true; readonly value: R; readonly wallMs: number }
  | { readonly ok: false; readonly error: string; readonly wallMs: number }

/** Prefix of the result line the child prints. */
export const RESULT_MARK = "@@effio-bench-result "
/** Prefix of the line a failed child prints (a JSON string: the error message). */
export const ERROR_MARK = "@@effio-bench-error "

const childMain = fileURLToPath(new URL("./child-main.ts", import.meta.url))
const tsxLoader = (() => {
  try {
    return import.meta.resolve("tsx")
  } catch {
    return "tsx"
  }
})()

const lastLines = (s: string, n: number) => s.trimEnd().split("\n").slice(-n).join("\n")

/** Runs `c` in a child process and returns its result, or why there is none (never rejects). */
export const runChild = <R>(c: ChildCase): Promise<ChildOutcome<R>> =>
  new Promise((resolve) => {
    const env: Record<string, string | undefined> = { ...process.env }
    for (const [k, v] of Object.entries(c.env ?? {})) {
      if (v === undefined) delete env[k]
      else env[k] = v
    }
    const spec = JSON.stringify({ module: c.module, fn: c.fn, args: c.args ?? null })
    const t0 = Date.now()
    const child = spawn(process.execPath, ["--import", tsxLoader, childMain, spec], { env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, c.timeoutMs ?? 120_000)
    const finish = (out: { ok: true; value: R } | { ok: false; error: string }) => {
      clearTimeout(timer)
      resolve({ ...out, wallMs: Date.now() - t0 })
    }
    child.on("error", (e) => finish({ ok: false, error: `spawn failed: ${e.message}` }))
    child.on("close", (code, signal) => {
      const lines = stdout.split("\n")
      const result = lines.find((l) => l.startsWith(RESULT_MARK))
      const error = lines.find((l) => l.startsWith(ERROR_MARK))
      if (code === 0 && result !== undefined) return finish({ ok: true, value: JSON.parse(result.slice(RESULT_MARK.length)) as R })
      const why = error !== undefined
        ? (JSON.parse(error.slice(ERROR_MARK.length)) as string)
        : timedOut
          ? `timed out after ${c.timeoutMs ?? 120_000} ms`
          : `exited with ${signal ?? `code ${code}`} and no result${stderr ? `:\n${lastLines(stderr, 10)}` : ""}`
      finish({ ok: false, error: why })
    })
  })

/** Runs the cases one after another (never two at once: they would compete for the CPUs). */
export const runChildren = async <R>(
  cases: ReadonlyArray<ChildCase>,
  onDone?: (c: ChildCase, outcome: ChildOutcome<R>) => void
): Promise<Array<ChildOutcome<R>>> => {
  const outcomes: Array<ChildOutcome<R>> = []
  for (const c of cases) {
    const outcome = await runChild<R>(c)
    onDone?.(c, outcome)
    outcomes.push(outcome)
  }
  return outcomes
}
