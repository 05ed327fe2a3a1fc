/**
 * The main demo (`pnpm demo`): shows the runtime doing real I/O.
 *  1. probe() — what io_uring offers on this machine;
 *  2. a Switch with workers streaming lines through an OS pipe into a counter;
 *  3. Flow.copy of this file into a pipe (splice on io_uring) and a byte count;
 *  4. env.net: an echo server on a loopback port and 100 clients, each connection in a fiber;
 *  5. the ring's own counters: ops submitted, enter calls, completion batches.
 */
import { Flow, Net, Runtime, Switch, Uring } from "@effio/runtime"
import { probe } from "@effio/uring-native"
import { Effect, Option, Stream } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"

const self = fileURLToPath(import.meta.url)

Runtime.run((env) =>
  Effect.gen(function*() {
    const say = (line: string) => env.stdout.write(`${line}\n`)
    const p = probe()
    yield* say(`backend: ${env.backendId}`)
    yield* say(
      p.available
        ? `io_uring: kernel ${p.kernel}, ${p.ops.length} ops, features: ${p.features.join(", ")}`
        : `io_uring unavailable: ${p.reason}`
    )

    // Workers produce lines into a pipe; a consumer counts them: all inside one Switch.
    const { sink, source } = yield* env.pipe
    const workers = 4
    const perWorker = 2_500
    const started = yield* env.monoClock.now
    const counted = yield* Switch.run((sw) =>
      Effect.gen(function*() {
        yield* Switch.fork(
          sw,
          Switch.run((producers) =>
            Effect.forEach(
              Array.from({ length: workers }, (_, w) => w),
              (w) =>
                Switch.fork(
                  producers,
                  // 50 lines per write: one ring op carries a batch, as a buffered writer would.
                  Effect.forEach(Array.from({ length: perWorker / 50 }, (_, b) => b), (b) =>
                    sink.write(
                      Array.from({ length: 50 }, (_, i) => `worker ${w} line ${b * 50 + i}\n`).join("")
                    ), { discard: true })
                ),
              { discard: true }
            )
          ).pipe(Effect.zipRight(sink.close))
        )
        return yield* Flow.lines(source).pipe(Stream.runCount)
      })
    )
    const ms = Number((yield* env.monoClock.now) - started) / 1e6
    yield* say(`switch: ${workers} producers wrote ${counted} lines through a pipe in ${ms.toFixed(1)} ms`)

    // Flow.copy: this file into a pipe and out again.
    const copied = yield* Effect.scoped(Effect.gen(function*() {
      const pipe = yield* env.pipe
      const file = env.fromFd(fs.openSync(self, "r"), { close: true })
      const reader = yield* Effect.fork(Flow.lines(pipe.source).pipe(Stream.runCount))
      const bytes = yield* Flow.copy(file.source, pipe.sink)
      yield* pipe.sink.close
      yield* file.source.close
      return { bytes, lines: yield* reader.await.pipe(Effect.flatten) }
    }))
    yield* say(`flow: copied ${copied.bytes} bytes (${copied.lines} lines) of ${self.split("/").pop()} through a pipe`)

    // env.net: an echo server on an ephemeral loopback port, 100 clients at once.
    const echoed = yield* Effect.scoped(Effect.gen(function*() {
      const listener = yield* env.net.listen(Net.tcp("127.0.0.1", 0))
      yield* Effect.forkScoped(env.net.runServer(listener, (flow) => Flow.copy(flow, flow)))
      const t0 = yield* env.monoClock.now
      const sizes = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        (i) =>
          Effect.scoped(Effect.gen(function*() {
            const conn = yield* env.net.connect(listener.address, { noDelay: true })
            yield* conn.write(`hello from client ${i}\n`)
            yield* conn.shutdown("send")
            const buf = new Uint8Array(256)
            let total = 0
            for (let n = yield* conn.read(buf); n > 0; n = yield* conn.read(buf)) total += n
            return total
          })),
        { concurrency: "unbounded" }
      )
      return { bytes: sizes.reduce((a, b) => a + b, 0), ms: Number((yield* env.monoClock.now) - t0) / 1e6, at: listener.address }
    }))
    yield* say(`net: 100 clients echoed ${echoed.bytes} bytes through ${Net.show(echoed.at)} in ${echoed.ms.toFixed(1)} ms`)

    const uring = yield* Effect.serviceOption(Uring.Uring)
    if (Option.isSome(uring)) {
      const info = uring.value.ring.info()
      yield* say(
        `ring: ${info.submitted} SQEs in ${info.enters} io_uring_enter calls, ${info.completions} CQEs in ${info.batches} batches (sq ${info.sqEntries}, cq ${info.cqEntries}, ${info.setupFlags.join("|")})`
      )
    }
  })
)
