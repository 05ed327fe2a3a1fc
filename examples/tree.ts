/**
 * tree: prints a directory tree, walking it through a confined capability: openDir gives a
 * Path that cannot reach outside the directory, and symlinks are shown, never followed.
 *
 *   npx tsx examples/tree.ts [dir] [max-depth]
 */
import { Path } from "@effio/fs"
import { Runtime } from "@effio/runtime"
import { Effect } from "effect"

const start = process.argv[2] ?? "."
const maxDepth = Number(process.argv[3] ?? 3)

Runtime.run((env) =>
  Effect.gen(function*() {
    const root = yield* Path.openDir(Path.join(env.cwd, start))
    const counts = { dirs: 0, files: 0 }
    const walk = (dir: Path.Path, prefix: string, depth: number): Effect.Effect<void, unknown> =>
      Effect.gen(function*() {
        const names = (yield* Path.readDir(dir)).filter((n) => n !== "node_modules" && n !== ".git")
        for (const [i, name] of names.entries()) {
          const last = i === names.length - 1
          const child = Path.join(dir, name)
          const kind = yield* Path.kind(child, { follow: false })
          const label = kind === "SymbolicLink" ? `${name} -> ${yield* Path.readLink(child)}` : name
          yield* env.stdout.write(`${prefix}${last ? "└── " : "├── "}${label}\n`)
          if (kind === "Directory") {
            counts.dirs++
            if (depth < maxDepth) yield* walk(child, prefix + (last ? "    " : "│   "), depth + 1)
          } else counts.files++
        }
      })
    yield* env.stdout.write(`${start}\n`)
    yield* walk(root, "", 1)
    yield* env.stdout.write(`\n${counts.dirs} directories, ${counts.files} files\n`)
  })
)
