// The FileSystem methods `@effect/platform` derives from the others, with the checks its
// derivations lack: `stream` refuses bad options up front (a negative chunk size would be a
// RangeError defect in its reader), `readFileString` fails typed on a text longer than V8's
// string limit (`TextDecoder` returns "" there). Shared by both backends' FileSystems.
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { badArgument, ctx } from "./common.js"
import { decodeText } from "./readWhole.js"

type Impl = Parameters<typeof FileSystem.make>[0]

/** Why `options` cannot be a stream's options, or undefined when they can. */
const badStreamOptions = (options: FileSystem.StreamOptions | undefined): string | undefined => {
  if (options === undefined) return undefined
  const check = (name: string, value: FileSystem.SizeInput | number | undefined, min: number) => {
    if (value === undefined) return undefined
    const n = Number(value)
    return Number.isSafeInteger(n) && n >= min ? undefined : `${name} must be an integer >= ${min}, not ${String(value)}`
  }
  return check("chunkSize", options.chunkSize, 1) ?? check("bytesToRead", options.bytesToRead, 0) ??
    check("offset", options.offset, 0) ?? check("bufferSize", options.bufferSize, 1)
}

/** `FileSystem.make(impl)` with the checked `stream` and `readFileString`. */
export const makeFileSystem = (impl: Impl): FileSystem.FileSystem => {
  const fs = FileSystem.make(impl)
  return {
    ...fs,
    readFileString: (p, encoding) =>
      Effect.flatMap(impl.readFile(p), (bytes) => decodeText(bytes, encoding, ctx("readFileString", "read", p))),
    stream: (p, options) => {
      const bad = badStreamOptions(options)
      return bad === undefined ? fs.stream(p, options) : Stream.fail(badArgument("stream", bad))
    }
  }
}
