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
      // Renames in another thread for a bounded time; each bumps the kernel's rename sequence.
      const renamer = new Worker(
        `const fs = require("node:fs"); const d = ${JSON.stringify(dir)}; const end = Date.now() + 4000
         while (Date.now() < end) { fs.renameSync(d + "/x", d + "/y"); fs.renameSync(d + "/y", d + "/x") }`,
        { eval: true }
      )
      yield* Effect.addFinalizer(() => Effect.promise(() => renamer.terminate()))
      const how = { flags: C.O_RDONLY!, resolve: C.RESOLVE_BENEATH! }
      const raw = () =>
        new Promise<number>((resolve) => uring.ring.openat2(dirfd, "a/b/../f", how, (res) => {
          if (res >= 0) fs.closeSync(res)
          resolve(res)
        }))
      let rawEagain = 0
      let serviceOpens = 0
      const deadline = Date.now() + 2500
      // Bounded: until the raw ring has seen the race a few times, or the deadline.
      while (Date.now() < deadline && rawEagain < 20) {
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
    }).pipe(Effect.scoped))
})
