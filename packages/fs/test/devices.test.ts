// No operation deletes or replaces a device node or a FIFO. libuv's copyfile unlinks the
// destination when ftruncate fails, which it does on a device: NodeFileSystem.copyFile(x,
// "/dev/null") run as root deletes /dev/null. Both of Effio's backends write into such a
// destination instead, without truncating it or changing its mode.
//
// Never on the real /dev: the fixture runs in a child in a mount namespace of its own
// (`unshare -m`), with a tmpfs mounted over a fresh temp dir holding mknod-made nodes (null
// and full, as /dev's), FIFOs, a symlink to the null device, and a directory holding a device
// and a FIFO for a recursive copy to land on. The mount goes away with the
// namespace; the temp dir left behind on the real file system is empty.
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { which } from "../../../test-utils/index.js"
import { fixture, runTs } from "./fs-helpers.js"

const canRun = process.getuid?.() === 0 && which("unshare") !== undefined && which("mknod") !== undefined

interface Identity {
  readonly type: string
  readonly rdev?: number
  readonly mode?: number
  readonly ino?: number
}
interface Row {
  readonly name: string
  readonly outcome: string
  readonly fifoGot: number
  readonly before: Identity | null
  readonly after: Identity
}

const runFixture = async (): Promise<Record<"io_uring" | "node", ReadonlyArray<Row>>> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effio-devices-"))
  try {
    // `sh -c` inside the namespace: mount, make the nodes, then exec node on the fixture.
    const setup = [
      `mount -t tmpfs -o size=1m tmpfs "$1"`,
      `mknod "$1/null" c 1 3`,
      `mknod "$1/full" c 1 7`,
      `chmod 666 "$1/null" "$1/full"`,
      `mkfifo "$1/fifo"`,
      `ln -s null "$1/to-null"`,
      `mkdir "$1/tree-dst"`,
      `mknod "$1/tree-dst/dev" c 1 3`,
      `mkfifo "$1/tree-dst/fifo"`,
      `cd "$1"`,
      `shift`,
      `exec "$@"`
    ].join(" && ")
    const r = await runTs(fixture("devices.ts"), [dir], ["unshare", "-m", "--propagation", "private", "sh", "-c", setup, "sh", dir])
    expect(r.timedOut, r.stderr).toBe(false)
    expect(r.code, r.stderr).toBe(0)
    // The tmpfs was private to the child: nothing was written into the real directory.
    expect(fs.readdirSync(dir)).toEqual([])
    return JSON.parse(r.stdout.trim().split("\n").at(-1)!)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe.skipIf(!canRun)("device nodes and FIFOs as destinations", { timeout: 60_000 }, () => {
  it("copyFile, copy, writeFile and Path.save write into them and never delete, replace or chmod them (both backends)", async () => {
    const report = await runFixture()
    for (const backend of ["io_uring", "node"] as const) {
      const rows = report[backend]
      expect(rows.length, backend).toBe(16)
      const byName = new Map(rows.map((row) => [row.name, row]))
      for (const row of rows) {
        const at = `${backend}: ${row.name}`
        if (row.before === null) continue
        expect(row.before.type, at).not.toBe("missing")
        // Same node: still there, same type, same device numbers, same mode, same inode.
        expect(row.after, at).toEqual(row.before)
      }
      const outcome = (name: string) => byName.get(name)?.outcome
      const got = (name: string) => byName.get(name)?.fifoGot
      expect(outcome("copyFile to a char device (null)"), backend).toBe("ok")
      expect(outcome("copyFile through a symlink to a char device"), backend).toBe("ok")
      // /dev/full refuses every write with ENOSPC: the copy fails, the node stays.
      expect(outcome("copyFile to a device that refuses writes (full)"), backend).toMatch(/ENOSPC/)
      expect(outcome("writeFile to a device that refuses writes (full)"), backend).toMatch(/ENOSPC/)
      // What was written went into the FIFO, all of it.
      expect([outcome("copyFile to a FIFO"), got("copyFile to a FIFO")], backend).toEqual(["ok", 19])
      expect([outcome("writeFile to a FIFO"), got("writeFile to a FIFO")], backend).toEqual(["ok", 19])
      expect([outcome("Path.save to a FIFO"), got("Path.save to a FIFO")], backend).toEqual(["ok", 19])
      expect(outcome("writeFile to a char device (null)"), backend).toBe("ok")
      expect(outcome("writeFile in append mode to a char device"), backend).toBe("ok")
      expect(outcome("Path.save to a char device (null)"), backend).toBe("ok")
      // Interrupted with 4 MiB still to write into a full FIFO: the FIFO stays (checked above).
      expect(outcome("writeFile to a FIFO, interrupted"), backend).toBe("TimeoutException")
      expect(got("writeFile to a FIFO, interrupted"), backend).toBeGreaterThanOrEqual(65536)
      // copy with overwrite: fs.cp would unlink the device and the FIFO; they were written into.
      expect(outcome("copy with overwrite onto a char device"), backend).toBe("ok")
      expect(outcome("copy of a tree with overwrite onto a device inside it"), backend).toBe("ok")
      expect([outcome("copy of a tree with overwrite onto a FIFO inside it"), got("copy of a tree with overwrite onto a FIFO inside it")], backend)
        .toEqual(["ok", 19])
      const tree = byName.get("tree copied")!
      expect([tree.outcome, tree.after.type], backend).toEqual(["bytes for a device\n", "file"])
      // The symlink through which one copy went is still the same symlink.
      const link = byName.get("symlink left in place")!
      expect([link.outcome, link.after.type], backend).toEqual(["null", "symlink"])
    }
  })
})
