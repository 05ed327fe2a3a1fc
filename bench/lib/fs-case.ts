/**
 * What the cases of the fs benchmarks (fs-random.ts, fs-small-files.ts, fs-big-file.ts; each
 * case runs in a child process) share: sizes, the result type, and the `@effect/platform`
 * FileSystem a case runs on: Effio's (`@effio/fs`) or `@effect/platform-node`'s.
 */
import * as v8 from "node:v8"
import type { FileSystem as PlatformFileSystem } from "@effect/platform"
import type { Effect as EffectNs } from "effect"
import type { Measured } from "./measure.ts"
import { procNotes, ringNotes } from "./proc.ts"

export const KiB = 1024
export const MiB = 1024 * KiB
export const BLOCK = 4 * KiB
/** Fibers, loops or requests in flight. */
export const DEPTH = 32
export const SEED = 0x5eed
/** Full content comparison on every SAMPLE-th op (byte counts are checked on every op). */
export const SAMPLE = 16

export interface CaseMeasured extends Measured {
  readonly bytes?: number
  /** Seconds of the fastest timed iteration (big-file cases). */
  readonly bestSeconds?: number
  readonly notes?: string
}

export type CaseResult = CaseMeasured | { readonly skipped: string }

export const asBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength))

type Impl = "effio" | "node"
type SchedulerChoice = "loop" | "default"

/** Which Effect FileSystem a case uses, and how it runs it. */
export interface EffectCase {
  readonly impl: Impl
  readonly scheduler: SchedulerChoice
  /** V8 flags set at the start of the case (`v8.setFlagsFromString`), for diagnosis rows. */
  readonly v8Flags?: string
  /** Effio only: the loop's ring with a kernel SQ thread (`Uring.layer({ sqPoll: true })`). */
  readonly sqPoll?: boolean
}

/** Diagnosis rows: the same case with V8's allocation-site pretenuring off. */
const NO_PRETENURE = "--no-allocation-site-pretenuring"

/** The EffectCase choices the reports compare, to spread into a case's args. */
export const setups = {
  effio: { impl: "effio", scheduler: "loop" },
  effioDefault: { impl: "effio", scheduler: "default" },
  effioNoPretenure: { impl: "effio", scheduler: "loop", v8Flags: NO_PRETENURE },
  effioSqPoll: { impl: "effio", scheduler: "loop", sqPoll: true },
  node: { impl: "node", scheduler: "default" }
} as const satisfies Record<string, EffectCase>

export interface EffectFs {
  readonly fs: PlatformFileSystem.FileSystem
  /** Runs `eff` on the chosen scheduler. */
  readonly run: <A, E>(eff: EffectNs.Effect<A, E>) => Promise<A>
  readonly notes: () => string
  readonly dispose: () => Promise<void>
}

/**
 * The FileSystem service of `impl`, built once (ManagedRuntime) and used directly: its
 * methods need no context. Effio is `UringFileSystem.layer`, built the same way
 * (`layerWithRing` on `Uring.layer()`) but with the Uring service kept for its counters.
 */
export const effectFs = async ({ impl, scheduler, v8Flags, sqPoll }: EffectCase): Promise<EffectFs> => {
  if (v8Flags !== undefined) v8.setFlagsFromString(v8Flags)
  const Effect = await import("effect/Effect")
  const Layer = await import("effect/Layer")
  const ManagedRuntime = await import("effect/ManagedRuntime")
  // module paths, not the barrels: "@effect/platform" would also load HttpApi's swagger UI
  const FileSystem = await import("@effect/platform/FileSystem")
  const { Scheduler, Uring } = await import("@effio/runtime")
  const run = <A, E>(eff: EffectNs.Effect<A, E>): Promise<A> =>
    Effect.runPromise(scheduler === "loop" ? Scheduler.withLoopScheduler(eff) : eff)
  if (impl === "effio") {
    const { UringFileSystem } = await import("@effio/fs")
    const rt = ManagedRuntime.make(UringFileSystem.layerWithRing.pipe(Layer.provideMerge(Uring.layer({ sqPoll: sqPoll === true }))))
    const [service, uring] = await rt.runPromise(Effect.all([FileSystem.FileSystem, Uring.Uring]))
    if (sqPoll === true && !uring.ring.info().sqPoll) throw new Error("the kernel refused an SQPOLL ring")
    return { fs: service, run, notes: () => `${procNotes()}; ${ringNotes(uring.ring.info())}`, dispose: () => rt.dispose() }
  }
  const NodeFileSystem = await import("@effect/platform-node/NodeFileSystem")
  const rt = ManagedRuntime.make(NodeFileSystem.layer)
  const service = await rt.runPromise(FileSystem.FileSystem)
  return { fs: service, run, notes: procNotes, dispose: () => rt.dispose() }
}
