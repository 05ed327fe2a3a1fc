/**
 * Runs the benchmarks one after another: `pnpm bench [filter]` (root), or
 * `npx tsx bench/run.ts [filter]`. The filter picks benchmarks whose name contains it.
 *
 * `fs` picks all fs benchmarks (fs-random, fs-small-files, fs-big-file).
 *
 * Env: EFFIO_BENCH_SECONDS (timed seconds per case, default 3), EFFIO_BENCH_FILE_MB
 * (the test file size of random-read, fs-random and fs-big-file, default 1024),
 * EFFIO_BENCH_PIPE_MB (bytes moved per pipe-throughput case, default 256),
 * EFFIO_BENCH_FS_CASES (fs benchmarks: only the cases whose name contains one of these
 * comma-separated substrings). bench/net.ts documents the EFFIO_BENCH_NET_* variables of `net`.
 */
import type { Benchmark } from "./lib/benchmark.ts"
import { effectNop } from "./effect-nop.ts"
import { pipeThroughput } from "./pipe-throughput.ts"
import { fsBigFile } from "./fs-big-file.ts"
import { fsRandom } from "./fs-random.ts"
import { fsSmallFiles } from "./fs-small-files.ts"
import { netBench } from "./net.ts"
import { randomRead } from "./random-read.ts"

const benchmarks: ReadonlyArray<Benchmark> = [randomRead, effectNop, pipeThroughput, fsRandom, fsSmallFiles, fsBigFile, netBench]

const filter = process.argv[2]
const selected = benchmarks.filter((b) => filter === undefined || b.name.includes(filter))
if (selected.length === 0) {
  console.error(`no benchmark matches "${filter}"; there are: ${benchmarks.map((b) => b.name).join(", ")}`)
  process.exit(2)
}

let ok = true
for (const b of selected) {
  console.error(`\n== ${b.name}: ${b.description}`)
  ok = (await b.run()) && ok
}
process.exitCode = ok ? 0 : 1
