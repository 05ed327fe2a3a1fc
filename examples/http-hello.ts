/**
 * http-hello: a minimal HTTP/1.1 server on env.net that answers every request with
 * "hello\n" and keeps connections alive (what `wrk` measures). Requests are read up to the
 * blank line that ends their headers; request bodies are not supported (a request with a
 * body gets 400 and the connection is closed).
 *
 *   npx tsx examples/http-hello.ts 8080
 *   curl http://127.0.0.1:8080/
 */
import { Net, Runtime } from "@effio/runtime"
import { Effect } from "effect"

const port = Number(process.argv[2] ?? 8080)
const encoder = new TextEncoder()
const ok = encoder.encode("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n")
const bad = encoder.encode("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
const decoder = new TextDecoder()

/** Serves requests on one connection until it ends. */
export const serve = (flow: Net.Connection): Effect.Effect<void, Net.NetError> =>
  Effect.gen(function*() {
    let pending = ""
    for (;;) {
      const chunk = yield* flow.readChunk
      if (chunk === undefined) return
      pending += decoder.decode(chunk)
      let end: number
      let replies = 0
      while ((end = pending.indexOf("\r\n\r\n")) !== -1) {
        const head = pending.slice(0, end).toLowerCase()
        pending = pending.slice(end + 4)
        if (/\r\ncontent-length: *[1-9]|\r\ntransfer-encoding:/.test(head)) {
          yield* flow.write(bad)
          return
        }
        replies++
      }
      // Pipelined requests: one write with every answer.
      if (replies === 1) yield* flow.write(ok)
      else if (replies > 1) {
        const all = new Uint8Array(ok.length * replies)
        for (let i = 0; i < replies; i++) all.set(ok, i * ok.length)
        yield* flow.write(all)
      }
      if (pending.length > 64 * 1024) {
        yield* flow.write(bad)
        return
      }
    }
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  Runtime.run((env) =>
    Effect.gen(function*() {
      const listener = yield* env.net.listen(Net.tcp("127.0.0.1", port), { noDelay: true, backlog: 1024 })
      yield* env.stdout.write(`http://${Net.show(listener.address)}/ (${env.backendId})\n`)
      // A client that resets its connection (wrk does, at the end of a run) is not a failure.
      yield* env.net.runServer(listener, (flow) =>
        serve(flow).pipe(Effect.catchIf((e) => e.reason === "ConnectionReset", () => Effect.void)))
    })
  )
}
