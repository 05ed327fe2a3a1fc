/** Garbage collections seen by a `PerformanceObserver` while a measurement runs. */
import { constants, type PerformanceEntry, PerformanceObserver, performance } from "node:perf_hooks"
import { fmtNum } from "./table.ts"

export interface GcStats {
  /** Mark-compact collections (old generation). */
  major: number
  /** Scavenges (young generation). */
  minor: number
  /** Other kinds (incremental marking steps, weak callbacks). */
  other: number
  /** Summed pause time of all of them. */
  ms: number
}

/** Starts counting GCs; `stop()` returns what happened since. */
export const watchGc = (): { stop: () => GcStats } => {
  const stats: GcStats = { major: 0, minor: 0, other: 0, ms: 0 }
  const add = (entries: ReadonlyArray<PerformanceEntry>) => {
    for (const e of entries) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) stats.major++
      else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) stats.minor++
      else stats.other++
      stats.ms += e.duration
    }
  }
  const observer = new PerformanceObserver((list) => add(list.getEntries()))
  observer.observe({ entryTypes: ["gc"] })
  return {
    stop: () => {
      add(observer.takeRecords())
      observer.disconnect()
      return stats
    }
  }
}

/**
 * Time spent in GC (PerformanceObserver "gc" entries): `share(seconds)` is the GC time of the
 * last `seconds` before the call (the timed window) as a share of it. A large share means V8
 * is copying many survivors per scavenge (see the report's notes on pretenuring).
 */
export const gcMeter = () => {
  const entries: Array<{ startTime: number; duration: number }> = []
  const take = (list: ReadonlyArray<{ startTime: number; duration: number }>) => {
    for (const e of list) entries.push({ startTime: e.startTime, duration: e.duration })
  }
  const obs = new PerformanceObserver((list) => take(list.getEntries()))
  obs.observe({ entryTypes: ["gc"] })
  return {
    share: (seconds: number): string => {
      take(obs.takeRecords())
      obs.disconnect()
      const from = performance.now() - seconds * 1000
      let ms = 0
      let n = 0
      for (const e of entries) {
        if (e.startTime < from) continue
        ms += e.duration
        n++
      }
      return `GC ${fmtNum(ms / (seconds * 10), 0)}% (${n} pauses)`
    }
  }
}
