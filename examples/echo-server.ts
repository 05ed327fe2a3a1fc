/**
 * echo-server: a TCP echo server on env.net (Eio's `Net.run_server`): every connection gets
 * back what it sends, until it closes its side. Ctrl-C stops it.
 *
 *   npx tsx examples/echo-server.ts 7000
 *   (in another terminal) echo hello | nc -q1 127.0.0.1 7000
 */
import { Flow, Net, Runtime } from "@effio/runtime"
import { Effect } from "effect"

const port = Number(process.argv[2] ?? 7000)

Runtime.run((env) =>
  Effect.gen(function*() {
    const listener = yield* env.net.listen(Net.tcp("127.0.0.1", port), { noDelay: true })
    yield* env.stdout.write(`echo server on ${Net.show(listener.address)} (${env.backendId})\n`)
    // Each connection in a fiber of its own; its flow is closed when the handler returns.
    yield* env.net.runServer(listener, (flow) => Flow.copy(flow, flow), {
      onError: (cause) => Effect.logWarning("connection failed", cause)
    })
  })
)
