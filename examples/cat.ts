/**
 * cat: copies the files named on the command line (or stdin when there are none) to stdout.
 * On io_uring, Flow.copy splices when stdout is a pipe: the bytes never enter JS.
 *
 *   npx tsx examples/cat.ts README.md | wc -c
 *   echo hi | npx tsx examples/cat.ts
 */
import { Flow, Runtime } from "@effio/runtime"
import { Effect } from "effect"
import * as fs from "node:fs"

const files = process.argv.slice(2)

Runtime.run((env) =>
  files.length === 0
    ? Flow.copy(env.stdin, env.stdout)
    : Effect.forEach(files, (file) =>
      Effect.acquireUseRelease(
        // Until @effio/fs lands, files are opened with node and read as flows over the fd.
        Effect.try(() => fs.openSync(file, "r")),
        (fd) => Flow.copy(env.fromFd(fd).source, env.stdout),
        (fd) => Effect.sync(() => fs.closeSync(fd))
      ), { discard: true })
)
