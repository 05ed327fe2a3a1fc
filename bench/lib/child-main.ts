/** Entry of a benchmark child process (see child.ts): argv[2] = {"module", "fn", "args"}. */
import { ERROR_MARK, RESULT_MARK } from "./child.ts"

const emit = (line: string, code: number) => process.stdout.write(`\n${line}\n`, () => process.exit(code))

try {
  const spec = JSON.parse(process.argv[2] ?? "null") as { module: string; fn: string; args: unknown }
  const mod = (await import(spec.module)) as Record<string, unknown>
  const fn = mod[spec.fn]
  if (typeof fn !== "function") throw new Error(`${spec.module} has no exported function ${spec.fn}`)
  const value: unknown = await fn(spec.args)
  emit(RESULT_MARK + JSON.stringify(value), 0)
} catch (e) {
  console.error(e)
  emit(ERROR_MARK + JSON.stringify(e instanceof Error ? e.message : String(e)), 1)
}
