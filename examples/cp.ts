/**
 * cp: recursive copy of a file or directory tree through capability paths (both confined
 * beneath the working directory), with a progress line on stderr for large trees.
 *
 *   npx tsx examples/cp.ts <source> <destination>
 */
import { Path } from "@effio/fs"
import { Runtime } from "@effio/runtime"
import { Effect } from "effect"

const [from, to] = process.argv.slice(2)
if (from === undefined || to === undefined) {
  process.stderr.write("usage: cp.ts <source> <destination>\n")
  process.exit(2)
}

Runtime.run((env) =>
  Effect.gen(function*() {
    const progress = { files: 0, bytes: 0, shown: 0 }
    const report = (final: boolean) =>
      Effect.suspend(() => {
        const now = Date.now()
        if (!final && now - progress.shown < 200) return Effect.void
        progress.shown = now
        const mb = (progress.bytes / 1048576).toFixed(1)
        return env.stderr.write(`\r${progress.files} files, ${mb} MiB copied${final ? "\n" : ""}`)
      })

    const copy = (src: Path.Path, dst: Path.Path): Effect.Effect<void, unknown> =>
      Effect.gen(function*() {
        const kind = yield* Path.kind(src, { follow: false })
        if (kind === "Directory") {
          yield* Path.mkdirs(dst, { existsOk: true, perm: 0o755 })
          const names = yield* Path.readDir(src)
          // Copy a directory's entries concurrently, a few at a time.
          yield* Effect.forEach(names, (name) => copy(Path.join(src, name), Path.join(dst, name)), {
            concurrency: 8,
            discard: true
          })
        } else if (kind === "SymbolicLink") {
          yield* Path.symlink(dst, { linkTo: yield* Path.readLink(src) })
        } else if (kind === "File") {
          const data = yield* Path.load(src)
          const info = yield* Path.stat(src)
          yield* Path.save(dst, data, { create: "or-truncate", perm: info.mode & 0o777 })
          progress.files++
          progress.bytes += data.length
          yield* report(false)
        } else {
          yield* env.stderr.write(`skipping ${yield* Path.native(src)}: ${kind}\n`)
        }
      })

    yield* copy(Path.join(env.cwd, from), Path.join(env.cwd, to))
    yield* report(true)
  })
)
