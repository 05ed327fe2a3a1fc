/** Garbage collections seen by a `PerformanceObserver` while a measurement runs. */
import { constants, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks"

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
