// The backend for layers that need nothing in their context (UringSocket, UringSocketServer,
// Net.layer): io_uring on the loop's shared ring where usable, else node, said once on stderr.
import { Backend, Uring } from "@effio/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { NetBackend } from "./backend.js"
import { nodeBackend } from "./nodeBackend.js"
import { uringBackend } from "./uringBackend.js"

/** The chosen backend for the scope's lifetime (on io_uring, a reference to the loop's ring). */
export const acquireBackend = (
  backend?: Backend.Backend | undefined
): Effect.Effect<NetBackend, Backend.BackendUnavailable | Uring.UringUnavailable, Scope.Scope> =>
  Effect.flatMap(Backend.chooseEffect(backend), (id) =>
    id === "node"
      ? Effect.succeed(nodeBackend)
      : Backend.fallbackOnSetup(backend, Effect.map(Uring.make(), uringBackend), Effect.succeed(nodeBackend)))
