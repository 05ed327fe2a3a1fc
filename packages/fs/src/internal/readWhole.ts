// Reading a whole file.
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import type { Cap } from "@effio/core"
import * as Effect from "effect/Effect"
import { errnoError } from "./capPath.js"
import { C } from "./constants.js"

const CHUNK = 64 * 1024

/** The whole contents of `file` (opened from `p`): its size first, then reads until EOF. */
export const readToEnd = (p: Cap.Path, file: FileSystem.File): Effect.Effect<Uint8Array, PlatformError> =>
  Effect.flatMap(file.stat, (info) => {
    if (info.type === "Directory") return Effect.fail(errnoError(-C.EISDIR, "load", "read", p))
    const parts: Array<Uint8Array> = []
    let total = 0
    const loop = (size: number): Effect.Effect<Uint8Array, PlatformError> =>
      Effect.suspend(() => {
        const buf = new Uint8Array(size)
        return Effect.flatMap(file.read(buf), (got) => {
          const n = Number(got)
          if (n === 0) {
            if (parts.length === 1) return Effect.succeed(parts[0]!)
            const out = new Uint8Array(total)
            let at = 0
            for (const part of parts) {
              out.set(part, at)
              at += part.length
            }
            return Effect.succeed(out)
          }
          parts.push(n === buf.length ? buf : buf.subarray(0, n))
          total += n
          return loop(CHUNK)
        })
      })
    const size = Number(info.size)
    return loop(info.type === "File" && size > 0 ? size : CHUNK)
  })
