/** Big test files in the temp directory, created once and reused, and page-cache warming. */
import { randomFillSync } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const MiB = 1024 * 1024

/** `EFFIO_BENCH_FILE_MB` (default `defaultMb`) in bytes. */
export const fileSizeFromEnv = (defaultMb = 1024): number => {
  const mb = Number(process.env.EFFIO_BENCH_FILE_MB ?? defaultMb)
  if (!Number.isInteger(mb) || mb <= 0) throw new Error(`EFFIO_BENCH_FILE_MB must be a positive integer, got ${process.env.EFFIO_BENCH_FILE_MB}`)
  return mb * MiB
}

/**
 * `os.tmpdir()/<name>` of exactly `size` bytes, none of them zero (a repeated 1 MiB random
 * chunk). An existing file of the right size is reused; otherwise it is written to a
 * temporary name and renamed into place, so an interrupted run leaves no half file behind.
 */
export const ensureTestFile = (name: string, size: number): { path: string; created: boolean } => {
  const file = path.join(os.tmpdir(), name)
  const st = fs.statSync(file, { throwIfNoEntry: false })
  if (st?.isFile() && st.size === size) return { path: file, created: false }
  const chunk = randomFillSync(Buffer.alloc(MiB))
  for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0) chunk[i] = 1
  const tmp = `${file}.${process.pid}.tmp`
  const fd = fs.openSync(tmp, "w")
  try {
    for (let off = 0; off < size; off += chunk.length) {
      const n = Math.min(chunk.length, size - off)
      if (fs.writeSync(fd, chunk, 0, n, off) !== n) throw new Error(`short write to ${tmp}`)
    }
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  return { path: file, created: true }
}

/** Reads `file` end to end once so it sits in the page cache. Returns the seconds it took. */
export const warmPageCache = (file: string): number => {
  const t0 = process.hrtime.bigint()
  const buf = Buffer.allocUnsafe(8 * MiB)
  const fd = fs.openSync(file, "r")
  try {
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0) {}
  } finally {
    fs.closeSync(fd)
  }
  return Number(process.hrtime.bigint() - t0) / 1e9
}
