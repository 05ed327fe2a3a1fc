/** Big test files in the temp directory, created once and reused, what they hold, and page-cache warming. */
import { randomFillSync } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fmtNum } from "./table.ts"

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

/**
 * The test file of `size` bytes every big-file benchmark shares (`effio-bench-<MiB>m.dat`),
 * created if needed and read once into the page cache; progress goes to stderr under `label`.
 */
export const prepareTestFile = (label: string, size: number): string => {
  const file = ensureTestFile(`effio-bench-${size / MiB}m.dat`, size)
  console.error(`${label}: ${file.created ? "created" : "reusing"} ${file.path}; warming the page cache...`)
  console.error(`${label}: read ${size / MiB} MiB in ${fmtNum(warmPageCache(file.path))} s`)
  return file.path
}

/** A test file is one 1 MiB chunk repeated ({@link ensureTestFile}): its first MiB tells every block. */
export const readChunk = (file: string): Buffer => {
  const chunk = Buffer.alloc(MiB)
  const fd = fs.openSync(file, "r")
  try {
    if (fs.readSync(fd, chunk, 0, MiB, 0) !== MiB) throw new Error(`${file} is shorter than 1 MiB`)
  } finally {
    fs.closeSync(fd)
  }
  return chunk
}

/** The bytes the test file holds at `pos` (block-aligned, `len` ≤ 1 MiB - pos % 1 MiB). */
export const expectedAt = (chunk: Buffer, pos: number, len: number): Buffer => chunk.subarray(pos % MiB, (pos % MiB) + len)

/**
 * Zeroes the first and last byte of `buf` before a read into it: a test file has no zero
 * bytes, so a read that reports a full count but left the buffer unfilled shows.
 */
export const arm = (buf: Uint8Array): void => {
  buf[0] = 0
  buf[buf.length - 1] = 0
}
