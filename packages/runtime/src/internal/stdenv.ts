import { type PlatformError, SystemError } from "@effect/platform/Error"
import { NativeUnavailableError, pipe2 } from "@effio/uring-native"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { randomFillSync } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import { type Cap, Fd, Flow, type Uring } from "@effio/core"
import { Path } from "@effio/fs"
import { Net } from "@effio/net"
import type { BackendId, Pipe, Stdenv } from "../Stdenv.js"


const noClose = () => Effect.void

// What both backends share; `root` makes a capability root with the backend's Dir ops, `net`
// is the backend's network.
const common = (backendId: BackendId, root: (native: string, confined: boolean) => Cap.Path, net: Net.NetBackend) => ({
  net: Net.bind(net),
  fs: root("/", false),
  cwd: root(process.cwd(), true),
  clock: { now: Clock.currentTimeMillis, sleep: Effect.sleep },
  monoClock: { now: Clock.currentTimeNanos, sleep: Effect.sleep },
  secureRandom: {
    fill: (buf: Uint8Array) =>
      Effect.sync(() => {
        randomFillSync(buf)
      }),
    bytes: (n: number) => Effect.sync(() => randomFillSync(new Uint8Array(n)))
  },
  backendId
})

const pipeError = (err: unknown): SystemError => {
  const e = err as { code?: string; message?: string }
  return new SystemError({
    reason: e.code === "EMFILE" || e.code === "ENFILE" ? "Busy" : "Unknown",
    module: "Stream",
    method: "pipe",
    syscall: "pipe2",
    description: e.message ?? String(err),
    cause: err
  })
}

/** pipe2(O_CLOEXEC) → [read end, write end], closed by the scope unless closed earlier. */
const osPipe = <A>(
  wrap: (r: number, w: number) => A,
  release: (a: A) => Effect.Effect<void>
): Effect.Effect<A, PlatformError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({ try: () => pipe2(), catch: pipeError }).pipe(Effect.map(([r, w]) => wrap(r, w))),
    release
  )

const closeFdSync = (fd: number) =>
  Effect.sync(() => {
    try {
      fs.closeSync(fd)
    } catch {
      // already closed
    }
  })

/** The stdenv on io_uring: stdio and pipes are fds driven through the ring. */
export const makeUring = (uring: Uring.UringService, net: Net.NetBackend): Stdenv => {
  // close(2) directly when the ring cannot take the op (it is closed: a flow that outlives
  // the layer), which throws rather than failing.
  const closeViaRing = (fd: number) => Fd.closeFd(uring, fd)
  return {
    ...common("io_uring", (native, confined) => Path.uringRoot(uring, native, confined), net),
    fromFd: (fd, options) => {
      const ref = new Fd.FdRef(fd, options?.close ? closeViaRing : noClose, "Stream")
      return { source: Flow.uringFdSource(uring, ref), sink: Flow.uringFdSink(uring, ref) }
    },
    stdin: Flow.uringFdSource(uring, new Fd.FdRef(0, noClose, "Stream")),
    stdout: Flow.uringFdSink(uring, new Fd.FdRef(1, noClose, "Stream")),
    stderr: Flow.uringFdSink(uring, new Fd.FdRef(2, noClose, "Stream")),
    pipe: osPipe(
      (r, w): Pipe => ({
        source: Flow.uringFdSource(uring, new Fd.FdRef(r, closeViaRing, "Stream")),
        sink: Flow.uringFdSink(uring, new Fd.FdRef(w, closeViaRing, "Stream"))
      }),
      (p) => Effect.zipRight(p.source.close, p.sink.close)
    )
  }
}

const destroyWith = (s: net.Socket) =>
  Effect.async<void>((resume) => {
    if (s.destroyed) return resume(Effect.void)
    s.once("close", () => resume(Effect.void))
    s.destroy()
  })

/** An in-process pipe for machines without the native addon (no `pipe2` to call). */
const memoryPipe: Effect.Effect<Pipe, never, Scope.Scope> = Effect.acquireRelease(
  Effect.map(Queue.bounded<Uint8Array | null>(16), (queue): Pipe => {
    let leftover: Uint8Array | undefined
    let eof = false
    const read = (buf: Uint8Array): Effect.Effect<number> =>
      Effect.suspend(() => {
        const take: Effect.Effect<Uint8Array | null> = leftover !== undefined
          ? Effect.succeed(leftover)
          : eof
          ? Effect.succeed(null)
          : Effect.catchAllCause(Queue.take(queue), () => Effect.succeed(null))
        return Effect.map(take, (chunk) => {
          if (chunk === null) {
            eof = true
            return 0
          }
          const n = Math.min(buf.length, chunk.length)
          buf.set(chunk.subarray(0, n))
          leftover = n === chunk.length ? undefined : chunk.subarray(n)
          return n
        })
      })
    const sinkClose = Effect.asVoid(Queue.offer(queue, null))
    return {
      source: Flow.makeSource(read, Queue.shutdown(queue)),
      sink: Flow.makeSink(
        (data) => {
          const bytes = Flow.toBytes(data)
          return bytes.length === 0 ? Effect.void : Effect.asVoid(Queue.offer(queue, bytes.slice()))
        },
        sinkClose
      )
    }
  }),
  (p) => Effect.zipRight(p.sink.close, p.source.close)
)

/** The stdenv on node streams (the fallback backend). */
export const makeNode = (network: Net.NetBackend): Stdenv => {
  let stdin: Flow.Source | undefined
  let stdout: Flow.Sink | undefined
  let stderr: Flow.Sink | undefined
  const nativePipe = osPipe(
    (r, w) => {
      const rs = new net.Socket({ fd: r, readable: true, writable: false })
      const ws = new net.Socket({ fd: w, readable: false, writable: true })
      return {
        source: Flow.fromReadable(rs, destroyWith(rs), r),
        sink: Flow.fromWritable(ws, destroyWith(ws), w)
      }
    },
    (p: Pipe) => Effect.zipRight(p.source.close, p.sink.close)
  )
  return {
    ...common("node", Path.nodeRoot, network),
    fromFd: (fd, options) => {
      const ref = new Fd.FdRef(fd, options?.close ? closeFdSync : noClose, "Stream")
      return { source: Flow.nodeFdSource(ref), sink: Flow.nodeFdSink(ref) }
    },
    // process.stdin/stdout are created on first use: a program that never reads stdin
    // never opens a handle on it.
    get stdin() {
      return (stdin ??= Flow.fromReadable(process.stdin, Effect.void, 0))
    },
    get stdout() {
      return (stdout ??= Flow.fromWritable(process.stdout, Effect.void, 1))
    },
    get stderr() {
      return (stderr ??= Flow.fromWritable(process.stderr, Effect.void, 2))
    },
    pipe: Effect.catchAll(nativePipe, (e) =>
      e.cause instanceof NativeUnavailableError ? memoryPipe : Effect.fail(e))
  }
}
