// openat2 under RESOLVE_BENEATH: a rename elsewhere in the file system while a lookup walks `..`
// makes the kernel answer EAGAIN ("retry"); the Uring service retries instead of failing.
import { describe, expect, it } from "@effect/vitest"
import { Uring } from "@effio/core"
import { constants } from "@effio/uring-native"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import { tempDir } from "./helpers.js"

const C = constants as Record<string, number>
const EAGAIN = -11

describe("Uring.openat2 with RESOLVE_BENEATH", () => {
  it.live("concurrent renames: the raw ring sees EAGAIN, the service never fails", () =>
    Effect.gen(function*() {
      const uring = yield* Uring.make()
      const dir = yield* tempDir
      fs.mkdirSync(path.join(dir, "a", "b"), { recursive: true })
      fs.mkdirSync(path.join(dir, "x"))
      fs.writeFileSync(path.join(dir, "a", "f"), "f")
      const dirfd = yield* Effect.acquireRelease(Effect.sync(() => fs.openSync(dir, "r")), (fd) => Effect.sync(() => fs.closeSync(fd)))
      // Renames in another thread until told to stop (at most 20 s); each bumps the kernel's
      // rename sequence. The loop below starts once the renames have (a loaded machine can take
      // seconds to start a worker, so a fixed window could close before the race began).
      const stop = new Int32Array(new SharedArrayBuffer(4))
      const renamer = new Worker(
        `const { parentPort, workerData } = require("node:worker_threads"); const fs = require("node:fs")
         const d = ${JSON.stringify(dir)}; const end = Date.now() + 20000; parentPort.postMessage("go")
         while (Date.now() < end && Atomics.load(workerData, 0) === 0) { fs.renameSync(d + "/x", d + "/y"); fs.renameSync(d + "/y", d + "/x") }`,
        { eval: true, workerData: stop }
      )
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => {
          Atomics.store(stop, 0, 1)
          return renamer.terminate()
        })
      )
      yield* Effect.promise(() => new Promise((resolve) => renamer.once("message", resolve)))
      const how = { flags: C.O_RDONLY!, resolve: C.RESOLVE_BENEATH! }
      const raw = () =>
        new Promise<number>((resolve) => uring.ring.openat2(dirfd, "a/b/../f", how, (res) => {
          if (res >= 0) fs.closeSync(res)
          resolve(res)
        }))
      let rawEagain = 0
      let serviceOpens = 0
      const deadline = Date.now() + 15_000
      // Bounded: until the raw ring has seen the race a few times (and the service has opened
      // enough), or the deadline.
      while (Date.now() < deadline && (rawEagain < 20 || serviceOpens <= 1000)) {
        const results = yield* Effect.promise(() => Promise.all(Array.from({ length: 32 }, raw)))
        rawEagain += results.filter((r) => r === EAGAIN).length
        const fds = yield* Effect.all(Array.from({ length: 32 }, () => uring.openat2(dirfd, "a/b/../f", how)), {
          concurrency: "unbounded"
        })
        for (const fd of fds) fs.closeSync(fd)
        serviceOpens += fds.length
      }
      // The race really happened (else this test would prove nothing), and no service call
      // failed (a failure would have failed the Effect.all above with WouldBlock).
      expect(rawEagain).toBeGreaterThan(0)
      expect(serviceOpens).toBeGreaterThan(1000)
    }).pipe(Effect.scoped), 30_000)
})
