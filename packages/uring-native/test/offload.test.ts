// copyFileRange: copy_file_range(2) on the threadpool, called back on the loop thread.
import fs from "node:fs"
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { copyFileRange, errno } from "../src/index.js"
import { makeTempDir, pseudoRandomBytes, removeTempDirs } from "./helpers.js"

const copy = (a: number, offA: number, b: number, offB: number, n: number) =>
  new Promise<number>((resolve) => copyFileRange(a, offA, b, offB, n, resolve))

afterEach(removeTempDirs)

describe("copyFileRange", () => {
  it("copies a range at the given offsets, short at the source's end and 0 past it; the fds' positions do not move", async () => {
    const dir = makeTempDir()
    const data = pseudoRandomBytes(3 * 1024 * 1024 + 123, 5)
    fs.writeFileSync(path.join(dir, "src"), data)
    const src = fs.openSync(path.join(dir, "src"), "r")
    const dst = fs.openSync(path.join(dir, "dst"), "w")
    try {
      expect(await copy(src, 1024 * 1024, dst, 0, 1024 * 1024)).toBe(1024 * 1024)
      expect(await copy(src, 0, dst, 1024 * 1024, 1024 * 1024)).toBe(1024 * 1024)
      expect(await copy(src, 2 * 1024 * 1024, dst, 2 * 1024 * 1024, 4 * 1024 * 1024)).toBe(1024 * 1024 + 123)
      expect(await copy(src, data.length, dst, data.length, 4096)).toBe(0)
      const got = fs.readFileSync(path.join(dir, "dst"))
      expect(got.subarray(0, 1024 * 1024).equals(data.subarray(1024 * 1024, 2 * 1024 * 1024))).toBe(true)
      expect(got.subarray(1024 * 1024).equals(Buffer.concat([data.subarray(0, 1024 * 1024), data.subarray(2 * 1024 * 1024)]))).toBe(true)
      expect(fs.readSync(src, Buffer.alloc(4), 0, 4, null)).toBe(4) // position still 0
    } finally {
      fs.closeSync(src)
      fs.closeSync(dst)
    }
  })

  it("errors are negative errnos in the callback; bad arguments throw before any work is queued", async () => {
    const dir = makeTempDir()
    fs.writeFileSync(path.join(dir, "src"), "abc")
    const src = fs.openSync(path.join(dir, "src"), "r")
    const ro = fs.openSync(path.join(dir, "ro"), "w+")
    fs.closeSync(ro)
    const readOnly = fs.openSync(path.join(dir, "ro"), "r")
    try {
      expect(await copy(src, 0, readOnly, 0, 3)).toBe(-errno.EBADF!) // destination not open for writing
      expect(await copy(src, 0, 999_999, 0, 3)).toBe(-errno.EBADF!)
      expect(() => copyFileRange(src, -1, readOnly, 0, 3, () => {})).toThrow(RangeError)
      expect(() => copyFileRange(src, 0, readOnly, 0, 2 ** 40, () => {})).toThrow(RangeError)
      expect(() => copyFileRange(src, 0, readOnly, Number.NaN, 3, () => {})).toThrow(TypeError)
      expect(() => copyFileRange("3" as never, 0, readOnly, 0, 3, () => {})).toThrow(TypeError)
      expect(() => copyFileRange(src, 0, readOnly, 0, 3, "cb" as never)).toThrow(TypeError)
    } finally {
      fs.closeSync(src)
      fs.closeSync(readOnly)
    }
  })
})
