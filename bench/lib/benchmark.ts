/** What bench/run.ts knows about a benchmark. */
export interface Benchmark {
  /** Matched by the optional filter argument of run.ts (substring). */
  readonly name: string
  readonly description: string
  /** Runs every case and prints the report; false when some case failed (not merely missed a target). */
  readonly run: () => Promise<boolean>
}
