/**
 * Producer/consumer over an OS pipe from env.pipe: the producer writes numbered lines and
 * closes its end; the consumer reads lines until end of input and sums the numbers.
 *
 *   npx tsx examples/pipe.ts [lines]
 */
import { Flow, Runtime, Switch } from "@effio/runtime"
import { Effect, Stream } from "effect"

const count = Number(process.argv[2] ?? 10_000)

Runtime.run((env) =>
  Effect.gen(function*() {
    const { sink, source } = yield* env.pipe
    const sum = yield* Switch.run((sw) =>
      Effect.gen(function*() {
        yield* Switch.fork(
          sw,
          Effect.gen(function*() {
            for (let i = 1; i <= count; i++) yield* sink.write(`${i}\n`)
            yield* sink.close // the reader sees end of input
          })
        )
        return yield* Flow.lines(source).pipe(Stream.runFold(0, (acc, line) => acc + Number(line)))
      })
    )
    const expected = (count * (count + 1)) / 2
    yield* env.stdout.write(`read ${count} lines through a pipe on ${env.backendId}: sum ${sum} (expected ${expected})\n`)
    if (sum !== expected) return yield* Effect.fail(new Error("sum mismatch"))
  })
)
