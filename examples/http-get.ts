/**
 * http-get: fetches a path from an HTTP/1.1 server (such as examples/http-hello.ts) with
 * Net.withTcpConnect (each address of the host tried in order, 5 s per attempt) and prints
 * the response.
 *
 *   npx tsx examples/http-get.ts 127.0.0.1 8080 /
 */
import { Runtime } from "@effio/runtime"
import { Effect } from "effect"

const [host = "127.0.0.1", service = "8080", path = "/"] = process.argv.slice(2)

Runtime.run((env) =>
  env.net.withTcpConnect({ host, service, timeout: "5 seconds" }, (flow) =>
    Effect.gen(function*() {
      yield* flow.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
      yield* flow.shutdown("send")
      const buf = new Uint8Array(64 * 1024)
      for (;;) {
        const n = yield* flow.read(buf)
        if (n === 0) return
        yield* env.stdout.write(buf.subarray(0, n))
      }
    }))
)
