/** Facts about the current process from /proc (Linux), for case notes. */
import * as fs from "node:fs"
import { fmtInt, fmtNum } from "./table.ts"

/** How many of this process's fds are io_uring instances (shows whether libuv set one up). */
export const ioUringFds = (): number => {
  let n = 0
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === "anon_inode:[io_uring]") n++
    } catch {}
  }
  return n
}

/** Threads of this process (main, V8 helpers, libuv threadpool). */
export const threadCount = (): number => Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1] ?? NaN)

/** "io_uring fds 1, threads 11". */
export const procNotes = (): string => `io_uring fds ${ioUringFds()}, threads ${threadCount()}`

/** "4.0 CQEs/batch, 2.1 SQEs/enter": how well a ring batched, from its `info()` counters. */
export const ringNotes = (
  info: { completions: number; batches: number; submitted: number; enters: number; sqPoll?: boolean; sqWakeups?: number }
): string =>
  `${fmtNum(info.completions / info.batches, 1)} CQEs/batch, ` +
  (info.sqPoll
    ? `SQPOLL: ${fmtInt(info.submitted)} SQEs, ${fmtInt(info.enters)} enters (${fmtInt(info.sqWakeups ?? 0)} wake-ups)`
    : `${fmtNum(info.submitted / info.enters, 1)} SQEs/enter`)
