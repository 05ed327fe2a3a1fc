// Round trip of every op against the real kernel, on real files in temp dirs.
import fs from "node:fs"
import path from "node:path"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { CQE_F_MORE, constants, decodeStatx, errnoName, pipe2, probe, Ring, STATX_SIZE } from "../src/index.js"
import {
  closeTracked,
  fdFlags,
  makePipe,
  makeTempDir,
  pseudoRandomBytes,
  removeTempDirs,
  run,
  runFull,
  sleep,
  track,
  umask
} from "./helpers.js"

const C = constants as Record<string, number>
const AT_FDCWD = C.AT_FDCWD!
const BAD_FD = 1_000_000 // never open (RLIMIT_NOFILE is far lower)

let ring: Ring
let dir: string

beforeAll(() => {
  expect(probe().available).toBe(true)
  ring = new Ring()
})
afterAll(() => {
  ring.close()
  expect(ring.inFlight).toBe(0)
})
beforeEach(() => {
  dir = makeTempDir()
})
afterEach(() => {
  closeTracked()
  removeTempDirs()
})


const openFile = (name: string, content?: Uint8Array | string, flags = "w+"): { p: string; fd: number } => {
  const p = path.join(dir, name)
  if (content !== undefined) fs.writeFileSync(p, content)
  return { p, fd: track(fs.openSync(p, content !== undefined && flags === "w+" ? "r+" : flags)) }
}

const readAll = (fd: number, max = 1 << 16): Buffer => {
  const b = Buffer.alloc(max)
  const n = fs.readSync(fd, b, 0, max, null)
  return b.subarray(0, n)
}

describe("probe, constants, errnoName", () => {
  it("probe reports the ops and features the tests rely on", () => {
    const p = probe()
    expect(p.available).toBe(true)
    expect(p.kernel).toMatch(/^\d+\.\d+/)
    for (const op of ["nop", "read", "write", "readv", "writev", "openat2", "statx", "splice", "timeout", "poll_add", "async_cancel"])
      expect(p.ops).toContain(op)
    expect(p.features).toContain("nodrop")
  })

  it("probe() leaves no fd behind", () => {
    const before = fs.readdirSync("/proc/self/fd").length
    for (let i = 0; i < 50; i++) expect(probe().available).toBe(true)
    expect(fs.readdirSync("/proc/self/fd").length).toBe(before)
  })

  it("constants come from the C headers and errnoName maps negative errnos", () => {
    expect(C.AT_FDCWD).toBe(-100)
    expect(C.O_CREAT).toBe(fs.constants.O_CREAT)
    expect(C.O_RDWR).toBe(fs.constants.O_RDWR)
    expect(C.O_DIRECTORY).toBe(fs.constants.O_DIRECTORY)
    expect(C.AT_REMOVEDIR).toBe(0x200)
    expect(C.RESOLVE_BENEATH).toBe(0x08)
    expect(errnoName(-2)).toBe("ENOENT")
    expect(errnoName(-125)).toBe("ECANCELED")
    expect(errnoName(-62)).toBe("ETIME") // not in libuv's table
    expect(errnoName(-4)).toBe("EINTR")
    expect(errnoName(0)).toBe("")
    expect(errnoName(7)).toBe("")
    expect(Object.isFrozen(constants)).toBe(true)
  })
})

describe("pipe2", () => {
  it("gives a distinct, close-on-exec read/write pair that works with the ring", async () => {
    const [r, w] = pipe2()
    track(r)
    track(w)
    expect(r).not.toBe(w)
    expect(fs.fstatSync(r).isFIFO()).toBe(true)
    expect(fdFlags(r) & C.O_CLOEXEC!).toBe(C.O_CLOEXEC)
    expect(fdFlags(w) & C.O_CLOEXEC!).toBe(C.O_CLOEXEC)
    expect(fdFlags(r) & 3).toBe(C.O_RDONLY)
    expect(fdFlags(w) & 3).toBe(C.O_WRONLY)
    expect(await run((cb) => ring.write(w, Buffer.from("pipe2"), 0, 5, -1, cb))).toBe(5)
    const b = Buffer.alloc(8)
    expect(await run((cb) => ring.read(r, b, 0, 8, -1, cb))).toBe(5)
    expect(b.subarray(0, 5).toString()).toBe("pipe2")
  })
})

describe("nop", () => {
  it("completes with 0, asynchronously, exactly once", async () => {
    let calls = 0
    let sync = true
    const done = new Promise<{ res: number; flags: number }>((resolve) => {
      ring.nop((res, flags) => {
        calls++
        expect(sync).toBe(false)
        resolve({ res, flags })
      })
    })
    sync = false
    expect(await done).toEqual({ res: 0, flags: 0 })
    await sleep(5)
    expect(calls).toBe(1)
  })
})

describe("read / write", () => {
  it("write at an explicit offset from a sub-range of the buffer, read back at an offset", async () => {
    const { p, fd } = openFile("rw.bin", "0123456789abcdef")
    const src = Buffer.from("..HELLO..")
    expect(await run((cb) => ring.write(fd, src, 2, 5, 4, cb))).toBe(5)
    expect(fs.readFileSync(p, "utf8")).toBe("0123HELLO9abcdef")

    const dst = new Uint8Array(12).fill(0x2e) // "."
    expect(await run((cb) => ring.read(fd, dst, 3, 6, 2, cb))).toBe(6)
    expect(Buffer.from(dst).toString()).toBe("...23HELL...")

    // Short read at the end of the file, and 0 at EOF.
    expect(await run((cb) => ring.read(fd, dst, 0, 12, 10, cb))).toBe(6)
    expect(Buffer.from(dst.subarray(0, 6)).toString()).toBe("abcdef")
    expect(await run((cb) => ring.read(fd, dst, 0, 12, 16, cb))).toBe(0)
  })

  it("flags.async (IOSQE_ASYNC, an io-wq worker): large writes and reads in flight at once land at their offsets", async () => {
    const { p, fd } = openFile("async.bin", "")
    const data = pseudoRandomBytes(8 * 1024 * 1024, 11)
    const mib = 1024 * 1024
    const writes = Array.from({ length: 8 }, (_, i) => run((cb) => ring.write(fd, data, i * mib, mib, i * mib, cb, { async: true })))
    expect(await Promise.all(writes)).toEqual(Array(8).fill(mib))
    expect(Buffer.compare(fs.readFileSync(p), data)).toBe(0)
    const back = Buffer.alloc(data.length + 1)
    const reads = Array.from({ length: 8 }, (_, i) => run((cb) => ring.read(fd, back, i * mib, i === 7 ? mib + 1 : mib, i * mib, cb, { async: true })))
    expect(await Promise.all(reads)).toEqual(Array(8).fill(mib))
    expect(Buffer.compare(back.subarray(0, data.length), data)).toBe(0)
    // errors still come back as negative errno; { async: false } is the default path
    expect(errnoName(await run((cb) => ring.read(BAD_FD, back, 0, 16, 0, cb, { async: true })))).toBe("EBADF")
    expect(await run((cb) => ring.read(fd, back, 0, 16, 0, cb, { async: false }))).toBe(16)
  })

  it("accepts ArrayBuffer, DataView and wider typed arrays (byte lengths)", async () => {
    const data = pseudoRandomBytes(64, 7)
    const { fd } = openFile("views.bin", data)
    const ab = new ArrayBuffer(16)
    expect(await run((cb) => ring.read(fd, ab, 0, 16, 0, cb))).toBe(16)
    expect(Buffer.from(ab)).toEqual(data.subarray(0, 16))
    const backing = new ArrayBuffer(40)
    const dv = new DataView(backing, 8, 24)
    expect(await run((cb) => ring.read(fd, dv, 4, 20, 16, cb))).toBe(20)
    expect(Buffer.from(backing, 12, 20)).toEqual(data.subarray(16, 36))
    expect(Buffer.from(backing, 0, 12)).toEqual(Buffer.alloc(12))
    const u32 = new Uint32Array(8) // 32 bytes
    expect(await run((cb) => ring.read(fd, u32, 0, 32, 32, cb))).toBe(32)
    expect(Buffer.from(u32.buffer)).toEqual(data.subarray(32, 64))
  })

  it("every TypedArray kind is sized by its byteLength (Float16Array too, where it exists)", async () => {
    const data = pseudoRandomBytes(64, 11)
    const { fd } = openFile("kinds.bin", data)
    const g = globalThis as unknown as Record<string, (new (n: number) => ArrayBufferView) | undefined>
    const kinds = ["Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Float16Array",
      "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"]
    let tried = 0
    for (const kind of kinds) {
      const Ctor = g[kind]
      if (Ctor === undefined) continue // Float16Array: Node 24+
      tried++
      const view = new Ctor(64 / (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT)
      expect(view.byteLength, kind).toBe(64)
      // N-API's element type once sized a Float16Array at one byte per element: a full-length
      // read was refused as past the end.
      expect(await run((cb) => ring.read(fd, view, 0, 64, 0, cb)), kind).toBe(64)
      expect(Buffer.from(view.buffer, view.byteOffset, view.byteLength), kind).toEqual(data)
      expect(() => ring.read(fd, view, 0, 65, 0, () => {}), kind).toThrow(RangeError)
    }
    expect(tried).toBeGreaterThanOrEqual(11)
  })

  it("position -1 uses and advances the file position", async () => {
    const { p, fd } = openFile("cur.txt", "")
    expect(await run((cb) => ring.write(fd, Buffer.from("abc"), 0, 3, -1, cb))).toBe(3)
    expect(await run((cb) => ring.write(fd, Buffer.from("defg"), 0, 4, -1, cb))).toBe(4)
    expect(fs.readFileSync(p, "utf8")).toBe("abcdefg")
    const rfd = track(fs.openSync(p, "r"))
    const b = Buffer.alloc(4)
    expect(await run((cb) => ring.read(rfd, b, 0, 4, -1, cb))).toBe(4)
    expect(b.toString()).toBe("abcd")
    expect(await run((cb) => ring.read(rfd, b, 0, 4, -1, cb))).toBe(3)
    expect(b.subarray(0, 3).toString()).toBe("efg")
  })

  it("read and write on a pipe with position -1", async () => {
    const { r, w } = makePipe(dir)
    expect(await run((cb) => ring.write(w, Buffer.from("through the pipe"), 0, 16, -1, cb))).toBe(16)
    const b = Buffer.alloc(32)
    expect(await run((cb) => ring.read(r, b, 0, 32, -1, cb))).toBe(16)
    expect(b.subarray(0, 16).toString()).toBe("through the pipe")
    // A read on the empty pipe waits for a writer.
    let got = -1
    ring.read(r, b, 0, 32, -1, (res) => (got = res))
    await sleep(30)
    expect(got).toBe(-1)
    fs.writeSync(w, "later")
    for (let i = 0; i < 100 && got < 0; i++) await sleep(5)
    expect(got).toBe(5)
    expect(b.subarray(0, 5).toString()).toBe("later")
  })

  it("errors come back as negative errno", async () => {
    const b = Buffer.alloc(8)
    expect(errnoName(await run((cb) => ring.read(BAD_FD, b, 0, 8, 0, cb)))).toBe("EBADF")
    const { p } = openFile("ro.txt", "x")
    const ro = track(fs.openSync(p, "r"))
    expect(errnoName(await run((cb) => ring.write(ro, b, 0, 8, 0, cb)))).toBe("EBADF")
    const d = track(fs.openSync(dir, "r"))
    expect(errnoName(await run((cb) => ring.read(d, b, 0, 8, 0, cb)))).toBe("EISDIR")
  })
})

describe("readv / writev", () => {
  it("gather write and scatter read at explicit offsets", async () => {
    const { p, fd } = openFile("v.bin", "----------------------------")
    const parts = [Buffer.from("abc"), new Uint16Array([0x4241, 0x4443]), new DataView(new ArrayBuffer(2))]
    ;(parts[2] as DataView).setUint8(0, 0x7a)
    ;(parts[2] as DataView).setUint8(1, 0x79)
    expect(await run((cb) => ring.writev(fd, parts, 4, cb))).toBe(9)
    expect(fs.readFileSync(p, "latin1")).toBe("----abcABCDzy---------------")

    const a = new Uint8Array(2)
    const b = new Uint8Array(5)
    const c = new ArrayBuffer(3)
    expect(await run((cb) => ring.readv(fd, [a, b, c], 3, cb))).toBe(10)
    expect(Buffer.from(a).toString("latin1")).toBe("-a")
    expect(Buffer.from(b).toString("latin1")).toBe("bcABC")
    expect(Buffer.from(c).toString("latin1")).toBe("Dzy")
  })

  it("the caller may change its array after submitting", async () => {
    const { p, fd } = openFile("v2.bin", "")
    const list = [Buffer.from("one"), Buffer.from("two")]
    const done = run((cb) => ring.writev(fd, list, 0, cb))
    list[0] = Buffer.from("XXX")
    list.length = 1
    expect(await done).toBe(6)
    expect(fs.readFileSync(p, "utf8")).toBe("onetwo")
  })

  it("position -1 on a pipe", async () => {
    const { r, w } = makePipe(dir)
    expect(await run((cb) => ring.writev(w, [Buffer.from("hello "), Buffer.from("vectored "), Buffer.from("pipe")], -1, cb))).toBe(19)
    const x = Buffer.alloc(6)
    const y = Buffer.alloc(20)
    expect(await run((cb) => ring.readv(r, [x, y], -1, cb))).toBe(19)
    expect(x.toString()).toBe("hello ")
    expect(y.subarray(0, 13).toString()).toBe("vectored pipe")
  })
})

describe("fsync / fdatasync", () => {
  it("succeed on a file and fail with the kernel's errno otherwise", async () => {
    const { fd } = openFile("sync.bin", "data")
    expect(await run((cb) => ring.fsync(fd, cb))).toBe(0)
    expect(await run((cb) => ring.fdatasync(fd, cb))).toBe(0)
    expect(errnoName(await run((cb) => ring.fsync(BAD_FD, cb)))).toBe("EBADF")
    expect(errnoName(await run((cb) => ring.fdatasync(BAD_FD, cb)))).toBe("EBADF")
    const { w } = makePipe(dir)
    expect(errnoName(await run((cb) => ring.fsync(w, cb)))).toBe("EINVAL")
  })
})

describe("openat2 / closeFd", () => {
  it("O_CREAT with a mode creates the file with that mode (minus umask) and O_CLOEXEC", async () => {
    const p = path.join(dir, "created.txt")
    const fd = await run((cb) => ring.openat2(AT_FDCWD, p, { flags: C.O_CREAT! | C.O_WRONLY! | C.O_EXCL!, mode: 0o640 }, cb))
    expect(fd).toBeGreaterThanOrEqual(0)
    track(fd)
    expect(fs.fstatSync(fd).mode & 0o7777).toBe(0o640 & ~umask())
    expect(fs.statSync(p).isFile()).toBe(true)
    expect(fdFlags(fd) & C.O_CLOEXEC!).toBe(C.O_CLOEXEC)
    expect(fdFlags(fd) & 3).toBe(C.O_WRONLY)
    fs.writeSync(fd, "via uring fd")
    expect(fs.readFileSync(p, "utf8")).toBe("via uring fd")
    // O_EXCL on an existing file
    expect(errnoName(await run((cb) => ring.openat2(AT_FDCWD, p, { flags: C.O_CREAT! | C.O_EXCL!, mode: 0o600 }, cb)))).toBe("EEXIST")
  })

  it("opens relative to a dirfd; RESOLVE_BENEATH refuses ../x with EXDEV", async () => {
    fs.mkdirSync(path.join(dir, "sub"))
    fs.writeFileSync(path.join(dir, "sub", "inside.txt"), "inside")
    fs.writeFileSync(path.join(dir, "x"), "outside")
    const dirfd = await run((cb) => ring.openat2(AT_FDCWD, path.join(dir, "sub"), { flags: C.O_RDONLY! | C.O_DIRECTORY! }, cb))
    expect(dirfd).toBeGreaterThanOrEqual(0)
    track(dirfd)
    const fd = await run((cb) => ring.openat2(dirfd, "inside.txt", { flags: C.O_RDONLY!, resolve: C.RESOLVE_BENEATH! }, cb))
    expect(fd).toBeGreaterThanOrEqual(0)
    track(fd)
    expect(readAll(fd).toString()).toBe("inside")
    const res = await run((cb) => ring.openat2(dirfd, "../x", { flags: C.O_RDONLY!, resolve: C.RESOLVE_BENEATH! }, cb))
    expect(errnoName(res)).toBe("EXDEV")
    // Without RESOLVE_BENEATH the same path opens.
    const out = await run((cb) => ring.openat2(dirfd, "../x", { flags: C.O_RDONLY! }, cb))
    expect(out).toBeGreaterThanOrEqual(0)
    track(out)
    expect(readAll(out).toString()).toBe("outside")
  })

  it("O_DIRECTORY and O_TMPFILE (with a mode)", async () => {
    const d = await run((cb) => ring.openat2(AT_FDCWD, dir, { flags: C.O_RDONLY! | C.O_DIRECTORY! }, cb))
    expect(d).toBeGreaterThanOrEqual(0)
    track(d)
    expect(fs.fstatSync(d).isDirectory()).toBe(true)
    fs.writeFileSync(path.join(dir, "plain"), "p")
    expect(errnoName(await run((cb) => ring.openat2(AT_FDCWD, path.join(dir, "plain"), { flags: C.O_RDONLY! | C.O_DIRECTORY! }, cb)))).toBe("ENOTDIR")
    const t = await run((cb) => ring.openat2(AT_FDCWD, dir, { flags: C.O_TMPFILE! | C.O_RDWR!, mode: 0o600 }, cb))
    expect(t).toBeGreaterThanOrEqual(0)
    track(t)
    const st = fs.fstatSync(t)
    expect(st.isFile()).toBe(true)
    expect(st.nlink).toBe(0)
    expect(st.mode & 0o777).toBe(0o600)
    expect(fs.readdirSync(dir)).toEqual(["plain"])
  })

  it("a missing file gives ENOENT", async () => {
    const res = await run((cb) => ring.openat2(AT_FDCWD, path.join(dir, "missing"), { flags: C.O_RDONLY! }, cb))
    expect(res).toBeLessThan(0)
    expect(errnoName(res)).toBe("ENOENT")
  })

  it("closeFd closes the descriptor", async () => {
    const p = path.join(dir, "c.txt")
    fs.writeFileSync(p, "c")
    const fd = fs.openSync(p, "r")
    expect(await run((cb) => ring.closeFd(fd, cb))).toBe(0)
    expect(() => fs.fstatSync(fd)).toThrow(expect.objectContaining({ code: "EBADF" }))
    expect(errnoName(await run((cb) => ring.closeFd(BAD_FD, cb)))).toBe("EBADF")
  })
})

describe("statx", () => {
  it("decodeStatx matches fs.statSync (path, and fd with AT_EMPTY_PATH, into a sub-array)", async () => {
    const p = path.join(dir, "st.bin")
    fs.writeFileSync(p, pseudoRandomBytes(12_345))
    fs.chmodSync(p, 0o640)
    const st = fs.statSync(p, { bigint: true })
    const out = new Uint8Array(STATX_SIZE)
    expect(await run((cb) => ring.statx(AT_FDCWD, p, 0, C.STATX_BASIC_STATS!, out, cb))).toBe(0)
    const sx = decodeStatx(out)
    expect(sx.size).toBe(12_345n)
    expect(sx.mode).toBe(Number(st.mode))
    expect(sx.mode & 0o777).toBe(0o640)
    expect(sx.ino).toBe(st.ino)
    expect(sx.nlink).toBe(Number(st.nlink))
    expect(sx.uid).toBe(Number(st.uid))
    expect(sx.gid).toBe(Number(st.gid))
    expect(sx.blocks).toBe(st.blocks)
    expect(sx.blksize).toBe(Number(st.blksize))
    expect(sx.mask & C.STATX_BASIC_STATS!).toBe(C.STATX_BASIC_STATS)
    expect(Math.abs(sx.mtimeMs - Number(st.mtimeMs))).toBeLessThan(1)
    expect(Math.abs(sx.ctimeMs - Number(st.ctimeMs))).toBeLessThan(1)
    expect(BigInt(sx.devMajor) * 256n + BigInt(sx.devMinor)).toBeGreaterThan(0n)

    // Through an fd, into a view with a non-zero byteOffset.
    const fd = track(fs.openSync(p, "r"))
    const big = new Uint8Array(STATX_SIZE + 100).fill(0xff)
    const view = big.subarray(40, 40 + STATX_SIZE)
    expect(await run((cb) => ring.statx(fd, "", C.AT_EMPTY_PATH!, C.STATX_BASIC_STATS!, view, cb))).toBe(0)
    const sx2 = decodeStatx(view)
    expect(sx2.size).toBe(12_345n)
    expect(sx2.ino).toBe(st.ino)
    expect(big.subarray(0, 40).every((b) => b === 0xff)).toBe(true)

    // A directory and a symlink (AT_SYMLINK_NOFOLLOW).
    expect(await run((cb) => ring.statx(AT_FDCWD, dir, 0, C.STATX_BASIC_STATS!, out, cb))).toBe(0)
    expect(decodeStatx(out).mode & fs.constants.S_IFMT).toBe(fs.constants.S_IFDIR)
    fs.symlinkSync("st.bin", path.join(dir, "ln"))
    expect(await run((cb) => ring.statx(AT_FDCWD, path.join(dir, "ln"), C.AT_SYMLINK_NOFOLLOW!, C.STATX_BASIC_STATS!, out, cb))).toBe(0)
    expect(decodeStatx(out).mode & fs.constants.S_IFMT).toBe(fs.constants.S_IFLNK)
    expect(errnoName(await run((cb) => ring.statx(AT_FDCWD, path.join(dir, "nope"), 0, C.STATX_BASIC_STATS!, out, cb)))).toBe("ENOENT")
  })
})

describe("unlinkat / renameat / mkdirat / symlinkat / linkat", () => {
  it("unlinkat removes files, and empty directories with AT_REMOVEDIR", async () => {
    const dirfd = track(fs.openSync(dir, "r"))
    fs.writeFileSync(path.join(dir, "f"), "f")
    fs.mkdirSync(path.join(dir, "d"))
    fs.mkdirSync(path.join(dir, "full"))
    fs.writeFileSync(path.join(dir, "full", "x"), "x")
    expect(errnoName(await run((cb) => ring.unlinkat(dirfd, "d", 0, cb)))).toBe("EISDIR")
    expect(await run((cb) => ring.unlinkat(dirfd, "f", 0, cb))).toBe(0)
    expect(fs.existsSync(path.join(dir, "f"))).toBe(false)
    expect(await run((cb) => ring.unlinkat(AT_FDCWD, path.join(dir, "d"), C.AT_REMOVEDIR!, cb))).toBe(0)
    expect(fs.existsSync(path.join(dir, "d"))).toBe(false)
    expect(errnoName(await run((cb) => ring.unlinkat(dirfd, "full", C.AT_REMOVEDIR!, cb)))).toBe("ENOTEMPTY")
    expect(errnoName(await run((cb) => ring.unlinkat(dirfd, "f", 0, cb)))).toBe("ENOENT")
  })

  it("renameat moves between directory fds; RENAME_NOREPLACE refuses an existing target", async () => {
    fs.mkdirSync(path.join(dir, "a"))
    fs.mkdirSync(path.join(dir, "b"))
    fs.writeFileSync(path.join(dir, "a", "one"), "payload")
    fs.writeFileSync(path.join(dir, "b", "taken"), "taken")
    const da = track(fs.openSync(path.join(dir, "a"), "r"))
    const db = track(fs.openSync(path.join(dir, "b"), "r"))
    expect(await run((cb) => ring.renameat(da, "one", db, "two", 0, cb))).toBe(0)
    expect(fs.existsSync(path.join(dir, "a", "one"))).toBe(false)
    expect(fs.readFileSync(path.join(dir, "b", "two"), "utf8")).toBe("payload")
    expect(errnoName(await run((cb) => ring.renameat(db, "two", AT_FDCWD, path.join(dir, "b", "taken"), C.RENAME_NOREPLACE!, cb)))).toBe("EEXIST")
    expect(await run((cb) => ring.renameat(db, "two", AT_FDCWD, path.join(dir, "b", "taken"), 0, cb))).toBe(0)
    expect(fs.readFileSync(path.join(dir, "b", "taken"), "utf8")).toBe("payload")
    expect(errnoName(await run((cb) => ring.renameat(da, "missing", da, "x", 0, cb)))).toBe("ENOENT")
  })

  it("mkdirat creates a directory with the given mode", async () => {
    const dirfd = track(fs.openSync(dir, "r"))
    expect(await run((cb) => ring.mkdirat(dirfd, "made", 0o750, cb))).toBe(0)
    const st = fs.statSync(path.join(dir, "made"))
    expect(st.isDirectory()).toBe(true)
    expect(st.mode & 0o777).toBe(0o750 & ~umask())
    expect(errnoName(await run((cb) => ring.mkdirat(dirfd, "made", 0o750, cb)))).toBe("EEXIST")
    expect(await run((cb) => ring.mkdirat(AT_FDCWD, path.join(dir, "made", "inner"), 0o700, cb))).toBe(0)
    expect(fs.statSync(path.join(dir, "made", "inner")).isDirectory()).toBe(true)
  })

  it("symlinkat creates a link with the given target", async () => {
    const dirfd = track(fs.openSync(dir, "r"))
    fs.writeFileSync(path.join(dir, "target"), "t")
    expect(await run((cb) => ring.symlinkat("target", dirfd, "link", cb))).toBe(0)
    expect(fs.readlinkSync(path.join(dir, "link"))).toBe("target")
    expect(fs.readFileSync(path.join(dir, "link"), "utf8")).toBe("t")
    expect(await run((cb) => ring.symlinkat("/does/not/exist", AT_FDCWD, path.join(dir, "dangling"), cb))).toBe(0)
    expect(fs.readlinkSync(path.join(dir, "dangling"))).toBe("/does/not/exist")
    expect(errnoName(await run((cb) => ring.symlinkat("x", dirfd, "link", cb)))).toBe("EEXIST")
  })

  it("linkat creates a hard link", async () => {
    const dirfd = track(fs.openSync(dir, "r"))
    const p = path.join(dir, "orig")
    fs.writeFileSync(p, "shared")
    expect(await run((cb) => ring.linkat(AT_FDCWD, p, dirfd, "hard", 0, cb))).toBe(0)
    const a = fs.statSync(p)
    const b = fs.statSync(path.join(dir, "hard"))
    expect(b.ino).toBe(a.ino)
    expect(a.nlink).toBe(2)
    // AT_SYMLINK_FOLLOW links the target of a symlink, not the link.
    fs.symlinkSync("orig", path.join(dir, "sym"))
    expect(await run((cb) => ring.linkat(dirfd, "sym", dirfd, "followed", C.AT_SYMLINK_FOLLOW!, cb))).toBe(0)
    expect(fs.lstatSync(path.join(dir, "followed")).isFile()).toBe(true)
    expect(fs.statSync(p).nlink).toBe(3)
    expect(errnoName(await run((cb) => ring.linkat(dirfd, "orig", dirfd, "hard", 0, cb)))).toBe("EEXIST")
  })
})

describe("fallocate / ftruncate", () => {
  it("fallocate extends the file, KEEP_SIZE keeps it, PUNCH_HOLE zeroes a range", async () => {
    const { p, fd } = openFile("fa.bin", "")
    expect(await run((cb) => ring.fallocate(fd, 0, 0, 1 << 20, cb))).toBe(0)
    expect(fs.statSync(p).size).toBe(1 << 20)
    expect(await run((cb) => ring.fallocate(fd, C.FALLOC_FL_KEEP_SIZE!, 1 << 20, 1 << 20, cb))).toBe(0)
    const st = fs.statSync(p)
    expect(st.size).toBe(1 << 20)
    expect(st.blocks * 512).toBeGreaterThanOrEqual(2 << 20)

    const data = pseudoRandomBytes(64 * 1024, 3)
    fs.writeSync(fd, data, 0, data.length, 0)
    const punch = C.FALLOC_FL_PUNCH_HOLE! | C.FALLOC_FL_KEEP_SIZE!
    expect(await run((cb) => ring.fallocate(fd, punch, 8192, 16384, cb))).toBe(0)
    const back = Buffer.alloc(data.length)
    fs.readSync(fd, back, 0, back.length, 0)
    expect(back.subarray(0, 8192)).toEqual(data.subarray(0, 8192))
    expect(back.subarray(8192, 8192 + 16384).every((b) => b === 0)).toBe(true)
    expect(back.subarray(8192 + 16384)).toEqual(data.subarray(8192 + 16384))
    expect(errnoName(await run((cb) => ring.fallocate(BAD_FD, 0, 0, 10, cb)))).toBe("EBADF")
  })

  const hasFtruncate = probe().ops.includes("ftruncate")
  it.skipIf(!hasFtruncate)("ftruncate shrinks and grows a file (IORING_OP_FTRUNCATE)", async () => {
    const data = pseudoRandomBytes(10_000, 5)
    const { p, fd } = openFile("tr.bin", data)
    expect(await run((cb) => ring.ftruncate(fd, 100, cb))).toBe(0)
    expect(fs.readFileSync(p)).toEqual(data.subarray(0, 100))
    expect(await run((cb) => ring.ftruncate(fd, 5000, cb))).toBe(0)
    const grown = fs.readFileSync(p)
    expect(grown.length).toBe(5000)
    expect(grown.subarray(0, 100)).toEqual(data.subarray(0, 100))
    expect(grown.subarray(100).every((b) => b === 0)).toBe(true)
    const ro = track(fs.openSync(p, "r"))
    expect(errnoName(await run((cb) => ring.ftruncate(ro, 0, cb)))).toMatch(/^(EINVAL|EBADF)$/)
  })
  if (!hasFtruncate) it.skip("ftruncate: this kernel has no IORING_OP_FTRUNCATE (Linux 6.9+)", () => {})
})

describe("splice", () => {
  it("file -> pipe and pipe -> file", async () => {
    const data = pseudoRandomBytes(4096, 11)
    const { p, fd } = openFile("sp.bin", data)
    const { r, w } = makePipe(dir)
    expect(await run((cb) => ring.splice(fd, 100, w, -1, 1000, 0, cb))).toBe(1000)
    const got = Buffer.alloc(2000)
    expect(fs.readSync(r, got, 0, 2000, null)).toBe(1000)
    expect(got.subarray(0, 1000)).toEqual(data.subarray(100, 1100))

    const payload = Buffer.from("spliced into the middle")
    fs.writeSync(w, payload)
    expect(await run((cb) => ring.splice(r, -1, fd, 50, payload.length, 0, cb))).toBe(payload.length)
    const after = fs.readFileSync(p)
    expect(after.subarray(50, 50 + payload.length)).toEqual(payload)
    expect(after.subarray(0, 50)).toEqual(data.subarray(0, 50))
    expect(after.length).toBe(4096)
    // file -> file is not a splice: EINVAL
    const { fd: other } = openFile("other.bin", "")
    expect(errnoName(await run((cb) => ring.splice(fd, 0, other, 0, 10, 0, cb)))).toBe("EINVAL")
  })
})

describe("timeout", () => {
  it("fires with -ETIME after about N ms", async () => {
    const t0 = performance.now()
    const res = await run((cb) => ring.timeout(60_000_000, cb))
    const elapsed = performance.now() - t0
    expect(errnoName(res)).toBe("ETIME")
    expect(elapsed).toBeGreaterThanOrEqual(55)
    expect(elapsed).toBeLessThan(1000)
  })

  it("count form completes with 0 once that many other CQEs arrived", async () => {
    const t0 = performance.now()
    let timeoutRes: number | undefined
    const order: Array<string> = []
    const done = new Promise<void>((resolve) => {
      ring.timeout(
        10_000_000_000,
        (res) => {
          timeoutRes = res
          order.push("timeout")
          resolve()
        },
        { count: 3 }
      )
    })
    for (let i = 0; i < 3; i++) ring.nop(() => order.push(`nop${i}`))
    await done
    expect(timeoutRes).toBe(0)
    expect(performance.now() - t0).toBeLessThan(2000)
    await sleep(5)
    expect(order.filter((o) => o.startsWith("nop"))).toHaveLength(3)
    expect(order).toContain("timeout")
  })

  it("a cancelled timeout completes with -ECANCELED", async () => {
    const t0 = performance.now()
    const p = run((cb) => {
      const id = ring.timeout(30_000_000_000, cb)
      setTimeout(() => expect(ring.cancel(id)).toBe(true), 10)
      return id
    })
    expect(errnoName(await p)).toBe("ECANCELED")
    expect(performance.now() - t0).toBeLessThan(2000)
  })
})

describe("pollAdd", () => {
  it("completes with POLLIN once the pipe becomes readable", async () => {
    const { r, w } = makePipe(dir)
    let got: { res: number; flags: number } | undefined
    ring.pollAdd(r, C.POLLIN!, (res, flags) => (got = { res, flags }))
    await sleep(30)
    expect(got).toBeUndefined()
    fs.writeSync(w, "x")
    for (let i = 0; i < 200 && !got; i++) await sleep(5)
    expect(got).toBeDefined()
    expect(got!.res & C.POLLIN!).toBe(C.POLLIN)
    expect(got!.flags & CQE_F_MORE).toBe(0)
    // Already readable: completes right away.
    const again = await run((cb) => ring.pollAdd(r, C.POLLIN!, cb))
    expect(again & C.POLLIN!).toBe(C.POLLIN)
    // POLLOUT on the write end
    expect((await run((cb) => ring.pollAdd(w, C.POLLOUT!, cb))) & C.POLLOUT!).toBe(C.POLLOUT)
  })

  it("multishot posts CQEs with CQE_F_MORE, then a final one after cancel", async () => {
    const { r, w } = makePipe(dir)
    const events: Array<{ res: number; flags: number }> = []
    let final: (() => void) | undefined
    const finished = new Promise<void>((resolve) => (final = resolve))
    const id = ring.pollAdd(
      r,
      C.POLLIN!,
      (res, flags) => {
        events.push({ res, flags })
        if ((flags & CQE_F_MORE) === 0) final!()
      },
      true
    )
    const waitFor = async (n: number) => {
      for (let i = 0; i < 400 && events.length < n; i++) await sleep(5)
      expect(events.length).toBeGreaterThanOrEqual(n)
    }
    await sleep(20)
    expect(events).toHaveLength(0)
    for (let round = 1; round <= 3; round++) {
      fs.writeSync(w, `round${round}`)
      await waitFor(round)
      expect(readAll(r).toString()).toBe(`round${round}`) // drain, so the next write is a new edge
      await sleep(10)
    }
    expect(events).toHaveLength(3)
    for (const e of events) {
      expect(e.res & C.POLLIN!).toBe(C.POLLIN)
      expect(e.flags & CQE_F_MORE).toBe(CQE_F_MORE)
    }
    expect(ring.cancel(id)).toBe(true)
    await finished
    const last = events[events.length - 1]!
    expect(last.flags & CQE_F_MORE).toBe(0)
    expect(errnoName(last.res)).toBe("ECANCELED")
    expect(events).toHaveLength(4)
    await sleep(20)
    expect(events).toHaveLength(4)
    expect(ring.cancel(id)).toBe(false)
  })
})

describe("asyncCancel", () => {
  it("cancels a pending read (own CQE 0); the target completes with -ECANCELED; unknown target -> -ENOENT", async () => {
    const { r, w } = makePipe(dir)
    const buf = new Uint8Array(8).fill(0xa5)
    let targetRes: number | undefined
    let targetCalls = 0
    const target = ring.read(r, buf, 0, 8, -1, (res) => {
      targetCalls++
      targetRes = res
    })
    await sleep(10)
    expect(targetRes).toBeUndefined()
    expect(await run((cb) => ring.asyncCancel(target, cb))).toBe(0)
    for (let i = 0; i < 200 && targetRes === undefined; i++) await sleep(5)
    expect(["ECANCELED", "EINTR"]).toContain(errnoName(targetRes!))
    expect(targetCalls).toBe(1)
    fs.writeSync(w, "late")
    await sleep(10)
    expect(buf.every((b) => b === 0xa5)).toBe(true)
    expect(readAll(r).toString()).toBe("late")

    expect(errnoName(await run((cb) => ring.asyncCancel(999_999, cb)))).toBe("ENOENT")
    expect(ring.cancel(target)).toBe(false)
  })

  it("cancels a timeout", async () => {
    let timeoutRes: number | undefined
    const id = ring.timeout(30_000_000_000, (res) => (timeoutRes = res))
    await sleep(5)
    expect(await run((cb) => ring.asyncCancel(id, cb))).toBe(0)
    for (let i = 0; i < 200 && timeoutRes === undefined; i++) await sleep(5)
    expect(errnoName(timeoutRes!)).toBe("ECANCELED")
  })
})
