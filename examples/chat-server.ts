/**
 * chat-server: a line-based chat room. Each connection runs in a `Switch` of its own: a reader
 * fiber broadcasts the lines it receives, a writer fiber sends the room's lines to the client;
 * when either ends (the client leaves, or a write fails) the switch turns off and the other is
 * interrupted too.
 *
 *   npx tsx examples/chat-server.ts 7001
 *   (in two other terminals) nc 127.0.0.1 7001
 */
import { Flow, Net, Runtime, Switch } from "@effio/runtime"
import { Effect, PubSub, Queue, Stream } from "effect"

const port = Number(process.argv[2] ?? 7001)

Runtime.run((env) =>
  Effect.gen(function*() {
    const room = yield* PubSub.unbounded<string>()
    const listener = yield* env.net.listen(Net.tcp("127.0.0.1", port))
    yield* env.stdout.write(`chat on ${Net.show(listener.address)}\n`)
    let next = 1
    yield* env.net.runServer(listener, (flow, peer) =>
      Switch.run((sw) =>
        Effect.gen(function*() {
          const name = `guest${next++}`
          const inbox = yield* PubSub.subscribe(room)
          yield* flow.write(`welcome, ${name} (${Net.show(peer)})\n`)
          yield* PubSub.publish(room, `* ${name} joined\n`)
          // The writer: the room's lines to this client.
          yield* Switch.fork(sw, Effect.forever(Effect.flatMap(Queue.take(inbox), (line) => flow.write(line))))
          // The reader: this client's lines to the room; its end ends the switch.
          yield* Flow.lines(flow).pipe(
            Stream.runForEach((line) => PubSub.publish(room, `${name}: ${line}\n`)),
            Effect.ensuring(PubSub.publish(room, `* ${name} left\n`))
          )
          yield* Switch.fail(sw, "left")
        })
      ).pipe(Effect.catchAll(() => Effect.void)))
  })
)
