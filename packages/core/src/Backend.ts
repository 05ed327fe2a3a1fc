/**
 * The choice of I/O backend, shared by every Effio layer: io_uring where the kernel lets us
 * use it, else node's own I/O (`@effect/platform-node`), said once on stderr.
 *
 * The backend is the caller's `backend` option, else `EFFIO_BACKEND` (`auto` | `io_uring` |
 * `node`; empty means unset), else `auto`. `auto` is io_uring when `probe()` says it is
 * available; otherwise node, with one line on stderr (once per process) saying why. A forced
 * `io_uring` that is unavailable fails with {@link BackendUnavailable}.
 *
 * @example
 * ```ts
 * import { Backend } from "@effio/core"
 *
 * const id = Backend.choose() // "io_uring" | "node"
 * ```
 * @module
 */
import { probe } from "@effio/uring-native"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { BackendUnavailable, UringUnavailable } from "./internal/errors.js"

export { BackendUnavailable } from "./internal/errors.js"

/** What a caller may ask for: `auto` uses io_uring when available, else node. */
export type Backend = "auto" | "io_uring" | "node"

/** Which I/O backend runs the program. */
export type BackendId = "io_uring" | "node"

/** The requested backend: `backend` if given, else `EFFIO_BACKEND` (empty = unset), else `auto`. */
export const requested = (backend?: Backend | undefined): Backend => {
  const raw = backend ?? (process.env.EFFIO_BACKEND || undefined) ?? "auto"
  if (raw === "auto" || raw === "io_uring" || raw === "node") return raw
  throw new BackendUnavailable({ reason: `unknown backend "${raw}" (EFFIO_BACKEND must be auto, io_uring or node)` })
}

let nodeAnnounced = false

/** One line on stderr, once per process, whenever the node backend is used instead of io_uring. */
export const announceNode = (why: string): void => {
  if (nodeAnnounced) return
  nodeAnnounced = true
  process.stderr.write(`effio: using the node backend: ${why}\n`)
}

/**
 * Decides the backend now (see the module doc). Throws {@link BackendUnavailable} for a
 * forced io_uring that is unavailable, or an unknown name.
 */
export const choose = (backend?: Backend | undefined): BackendId => {
  const wanted = requested(backend)
  if (wanted === "node") {
    announceNode(backend === "node" ? "requested by options.backend" : "requested by EFFIO_BACKEND=node")
    return "node"
  }
  const probed = probe()
  if (probed.available) return "io_uring"
  if (wanted === "io_uring") {
    throw new BackendUnavailable({ reason: `io_uring was requested but is unavailable: ${probed.reason}` })
  }
  announceNode(`io_uring is unavailable (${probed.reason})`)
  return "node"
}

/** {@link choose} as an Effect that fails with {@link BackendUnavailable}. */
export const chooseEffect = (backend?: Backend | undefined): Effect.Effect<BackendId, BackendUnavailable> =>
  Effect.try({
    try: () => choose(backend),
    catch: (e) => (e instanceof BackendUnavailable ? e : new BackendUnavailable({ reason: String(e) }))
  })

/**
 * Under `auto`, what to do when the ring itself cannot be opened although the probe passed:
 * the probe's ring is tiny, the loop's is not, so a memlock limit (ENOMEM) or an fd limit can
 * refuse the real one. That is one more reason for the node backend, said on the same one
 * line; a forced `io_uring` keeps the failure. Other failures pass through.
 */
export const fallbackOnSetup = <A, E, R, A2, E2, R2>(
  backend: Backend | undefined,
  uring: Effect.Effect<A, E, R>,
  node: Effect.Effect<A2, E2, R2>
): Effect.Effect<A | A2, E | E2, R | R2> =>
  requested(backend) !== "auto"
    ? uring
    : Effect.catchIf(uring, (e): e is E & UringUnavailable => e instanceof UringUnavailable, (e) => Effect.zipRight(announceSetupFailure(e), node))

/** The one notice line for {@link fallbackOnSetup} and {@link select}: the ring was refused. */
const announceSetupFailure = (e: UringUnavailable): Effect.Effect<void> =>
  Effect.sync(() => announceNode(`io_uring is unavailable (${e.reason})`))

/**
 * The layer of the chosen backend: `io_uring` where it is usable, else `node` (with the
 * notice). The choice is made when the layer is built; under `auto`, an io_uring layer whose
 * ring cannot be opened after all ({@link fallbackOnSetup}) gives way to `node` as well.
 *
 * @example
 * ```ts
 * const FileSystemLive = Backend.select({ io_uring: UringFileSystem.layerWithRing.pipe(...), node: NodeFileSystem.layer })
 * ```
 */
export const select = <ROut, E1, E2, RIn1, RIn2>(
  layers: { readonly io_uring: Layer.Layer<ROut, E1, RIn1>; readonly node: Layer.Layer<ROut, E2, RIn2> },
  backend?: Backend | undefined
): Layer.Layer<ROut, E1 | E2 | BackendUnavailable, RIn1 | RIn2> =>
  Layer.unwrapEffect(
    Effect.map(chooseEffect(backend), (id): Layer.Layer<ROut, E1 | E2, RIn1 | RIn2> =>
      id === "node"
        ? layers.node
        : requested(backend) !== "auto"
        ? layers.io_uring
        : Layer.catchAll(layers.io_uring, (e): Layer.Layer<ROut, E1 | E2, RIn2> =>
          e instanceof UringUnavailable ? Layer.unwrapEffect(Effect.as(announceSetupFailure(e), layers.node)) : Layer.fail(e)))
  )
