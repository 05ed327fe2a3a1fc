/**
 * net: TCP over loopback (127.0.0.1). Effio's `Net` flows and its `@effect/platform` Socket
 * drop-ins (`UringSocketServer`, `UringSocket`) on io_uring, against raw `node:net`,
 * `@effect/platform-node`'s `NodeSocketServer` / `NodeSocket`, and a small C epoll server
 * (bench/net/echo-epoll.c, compiled here with `cc -O2`; skipped when there is no compiler).
 *
 * 1. Ping-pong: N connections (64, then 1,000) each send a 64-byte message and wait for its
 *    echo, over and over; round trips/s. Every server runs in a process of its own; the client
 *    is one driver written with raw `node:net` in another process (the same for every server),
 *    which also reads the server's CPU time from /proc/<pid>/stat around its timed window.
 *    TCP_NODELAY is on at both ends for every contestant (UringSocketServer has no option for
 *    it: its handler sets it on the connection's fd). Every echo is compared with what was sent.
 * 2. Ping-pong through the Socket interface in one process: a SocketServer echo and N
 *    `makeNet` clients written against `@effect/platform`'s Socket, Effio's vs NodeSocket's.
 * 3. Bulk stream: one connection per transfer; the raw node:net client writes
 *    EFFIO_BENCH_NET_MB (default 512) MiB in 1 MiB writes and half-closes; the server reads and
 *    DISCARDS (no echo), and at end of stream writes back the byte count, which the client
 *    checks, then closes. GB/s (10⁹ bytes) from the first write to the server's close.
 *
 * Env: EFFIO_BENCH_SECONDS (timed seconds per ping-pong case, default 3), EFFIO_BENCH_NET_MB
 * (bulk MiB, default 512), EFFIO_BENCH_NET_REPS (timed bulk transfers, default 3),
 * EFFIO_BENCH_NET_CONNS (the big ping-pong's connections, default 1000: `ulimit -n` must
 * exceed it plus some; it is lowered to fit, with a note), EFFIO_BENCH_NET_CASES (only cases
 * whose name contains one of these comma-separated substrings), EFFIO_BENCH_NET_PROFILE
 * (a V8 CPU profile, via node:inspector, into os.tmpdir()/effio-net-prof/<case>.cpuprofile of
 * the server process, or of the whole in-process case, for the cases whose name contains it;
 * summarize one with `node bench/net/cpuprofile-top.mjs <file>`).
 *
 * Measured 2026-12-01 (node 20.20, Linux 6.18, 2 vCPUs), after the send fast path (a write
 * with nothing queued is first a non-blocking send(2): uring-native trySend) and the Socket
 * adapter's push mode, in a quiet run (load average 0.7-1.4): ping-pong 64 conns, server CPU
 * per round trip: C epoll 6.9 µs, node:net 11.6, Effio Net io_uring 14.8 (rate 66.9k vs 82.2k
 * rt/s: 0.81x; 0.71-1.10x in four runs on a loaded machine; 23.0 µs before the fast path),
 * NodeSocketServer 34.5, UringSocketServer 24.5 (1.36x its rate). 1,000 conns: Effio Net 30.6
 * µs vs node:net 13.0 (0.49x). In-process Socket interface: 0.99x NodeSocket at 64 conns (47.3
 * vs 46.6 µs/rt of CPU; it was 0.61x), 0.90x at 1,000: the 3x target is missed. Bulk 512 MiB:
 * C 3.9 GB/s, node:net 3.5, Effio readChunk 2.0, read(buf) 1.8 (server CPU/MiB 156 / 273 /
 * 566 / 586).
 *
 * Profiles (EFFIO_BENCH_NET_PROFILE, 3 s, 200 µs sampling, startup included), top self time:
 * - pp64 effio-net: idle 30%, trySend 25% (the send(2) itself: TCP and waking the peer, which
 *   node pays in writeBuffer), effect's fiberRuntime 10%, GC 8%, BufRing view 1.7%. In steady
 *   state the ring submits nothing (its multishot recv stays armed): what Effio pays over node
 *   is one fiber suspension and resume per read, where node's 'data' callback runs at once.
 * - inproc64 effio-socket: trySend 23%, GC 11%, fiberRuntime 14%, fiberRefs 4.7% (copying
 *   FiberRefs into the fiber forked per chunk, as NodeSocket forks too): both now pay the same
 *   syscalls and the same fork per chunk, so they cost the same; 3x would take batched sends
 *   without a suspension per write, which the Effect interface has no cheaper way to complete.
 * - bulk effio-net sink-chunk: idle 40%, BufRing view (the copy out of a 16 KiB ring buffer)
 *   11.5%, Ring #submit 4.7% (re-arms after ENOBUFS): one CQE, one copy and one inbox step per
 *   16 KiB, where node reads 64 KiB per syscall.
 * Before the fast path (same case, same machine): GC 23.7%, fiberRuntime 23.9%, the writer's
 * Effects (latch.whenOpen, mapError, an Effect.async resumed by each send's CQE) and a reader
 * fiber that parked and resumed per chunk.
 *
 * The exported case functions run in child processes (lib/child-main.ts): `serve` is a
 * server that prints its port and runs until its stdin closes; `pingClient`, `bulkClient`
 * and `inProcessSocket` are clients run with lib/child.ts's runChild.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Benchmark } from "./lib/benchmark.ts"
import { type ChildOutcome, RESULT_MARK, runChild } from "./lib/child.ts"
import { gcMeter } from "./lib/gc.ts"
import { type Measured, type Timing, timedAsync, timingFromEnv } from "./lib/measure.ts"
import { ringNotes } from "./lib/proc.ts"
import { fmtInt, fmtNum, printTable } from "./lib/table.ts"

const HOST = "127.0.0.1"
const MSG = 64
const MiB = 1024 * 1024
const BACKLOG = 4096
const LISTEN_RE = /^listening (\d+)$/m
const PROF_DIR = path.join(os.tmpdir(), "effio-net-prof")

type ServerKind = "effio-net" | "effio-net-node" | "effio-socket" | "node-net" | "node-socket" | "c-epoll"
/** echo: write back what is read. sink, sink-chunk: count and discard, answer the count at EOF. */
type Mode = "echo" | "sink" | "sink-chunk"

interface ServeArgs {
  readonly kind: Exclude<ServerKind, "c-epoll">
  readonly mode: Mode
}

// ---------------------------------------------------------------------------------------------
// Child side: servers

/**
 * Runs `f` under V8's CPU profiler when EFFIO_BENCH_NET_PROF_FILE is set (the parent sets it
 * for cases matching EFFIO_BENCH_NET_PROFILE), and writes the .cpuprofile there. The inspector
 * API, because node refuses `--cpu-prof` in NODE_OPTIONS.
 */
const profiling = async <A>(f: () => Promise<A>): Promise<A> => {
  const out = process.env.EFFIO_BENCH_NET_PROF_FILE
  if (out === undefined || out === "") return f()
  const inspector = await import("node:inspector/promises")
  const session = new inspector.Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 200 })
  await session.post("Profiler.start")
  try {
    return await f()
  } finally {
    const { profile } = await session.post("Profiler.stop")
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, JSON.stringify(profile))
    session.disconnect()
  }
}

/** Prints the port, serves until stdin closes, returns notes (ring batching) for the report. */
export const serve = (a: ServeArgs): Promise<{ notes: string }> => profiling(() => serveImpl(a))

const serveImpl = async (a: ServeArgs): Promise<{ notes: string }> => {
  const announce = (port: number) => process.stdout.write(`\nlistening ${port}\n`)
  const stdinClosed = new Promise<void>((resolve) => {
    process.stdin.on("end", resolve).on("close", resolve).resume()
  })
  if (a.kind === "node-net") {
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => {
      s.on("error", () => {})
      if (a.mode === "echo") {
        s.on("data", (d) => s.write(d))
        s.on("end", () => s.end())
      } else {
        let n = 0
        s.on("data", (d) => (n += d.length))
        s.on("end", () => s.end(`${n}\n`))
      }
    })
    await new Promise<void>((resolve) => server.listen({ host: HOST, port: 0, backlog: BACKLOG }, resolve))
    announce((server.address() as net.AddressInfo).port)
    await stdinClosed
    server.close()
    return { notes: "" }
  }

  const Effect = await import("effect/Effect")
  const Exit = await import("effect/Exit")
  const Fiber = await import("effect/Fiber")
  const Layer = await import("effect/Layer")
  const { Scheduler, Uring } = await import("@effio/core")
  const { Net } = await import("@effio/net")
  type Eff<A, E = never> = import("effect/Effect").Effect<A, E>
  const ready = (eff: Eff<void, unknown>) => Effect.runFork(eff)

  if (a.kind === "effio-net" || a.kind === "effio-net-node") {
    const handler = (flow: import("@effio/net").Net.Connection): Eff<void, unknown> =>
      Effect.suspend(() => {
        if (a.mode === "echo") {
          const buf = new Uint8Array(64 * 1024)
          const loop: Eff<void, unknown> = Effect.flatMap(flow.read(buf), (n) => n === 0 ? Effect.void : Effect.zipRight(flow.write(buf.subarray(0, n)), loop))
          return loop
        }
        let total = 0
        if (a.mode === "sink-chunk") {
          const loop: Eff<void, unknown> = Effect.flatMap(flow.readChunk, (c) => {
            if (c === undefined) return flow.write(`${total}\n`)
            total += c.length
            return loop
          })
          return loop
        }
        const buf = new Uint8Array(256 * 1024)
        const loop: Eff<void, unknown> = Effect.flatMap(flow.read(buf), (n) => {
          if (n === 0) return flow.write(`${total}\n`)
          total += n
          return loop
        })
        return loop
      })
    const uring = a.kind === "effio-net"
    let info: (() => string) | undefined
    const program = Effect.gen(function*() {
      if (uring) {
        const u = yield* Uring.Uring
        info = () => `${ringNotes(u.ring.info())}; ${recvNotes()}`
        countRecvs(u.ring)
      }
      const listener = yield* Net.listen(Net.tcp(HOST, 0), { noDelay: true, backlog: BACKLOG })
      announce((listener.address as import("@effio/net").Net.Tcp).port)
      yield* Net.runServer(listener, handler, { onError: () => Effect.void })
    }).pipe(
      Effect.scoped,
      Effect.provide(uring ? Net.layerWithRing.pipe(Layer.provideMerge(Uring.layer())) : Net.layerNode),
      Scheduler.withLoopScheduler
    ) as Eff<void, unknown>
    const fiber = ready(program)
    await Promise.race([stdinClosed, Effect.runPromise(Fiber.join(fiber))])
    const notes = info?.() ?? ""
    const exit = await Effect.runPromise(Fiber.interrupt(fiber))
    if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) throw new Error(`server failed: ${String(exit.cause)}`)
    return { notes }
  }

  // The @effect/platform SocketServer: Effio's (io_uring) or NodeSocketServer.
  const Scope = await import("effect/Scope")
  const scope = await Effect.runPromise(Scope.make())
  const effio = a.kind === "effio-socket"
  await loadSocketDeps()
  const { server, uring } = await Effect.runPromise(Scope.extend(await socketServer(effio), scope))
  if (uring !== undefined) countRecvs(uring.ring)
  announce(server.address._tag === "TcpAddress" ? server.address.port : 0)
  const fiber = Effect.runFork(
    effio ? Scheduler.withLoopScheduler(server.run(socketEchoHandler(effio, a.mode))) : server.run(socketEchoHandler(effio, a.mode))
  )
  await stdinClosed
  const notes = uring ? `${ringNotes(uring.ring.info())}; ${recvNotes()}` : ""
  if (uring !== undefined && uring.ring.info().completions === 0) throw new Error("UringSocketServer did not run on the io_uring ring")
  await Effect.runPromise(Fiber.interrupt(fiber))
  void Effect.runPromise(Scope.close(scope, Exit.void))
  return { notes }
}

// Multishot recv completions on the server's ring, and how many ended with ENOBUFS (the
// shared provided-buffer ring ran dry and the recv had to be re-armed).
const recvStats = { cqes: 0, enobufs: 0, rearms: 0 }
const countRecvs = (ring: import("@effio/uring-native").Ring) => {
  const ENOBUFS = -(os.constants.errno.ENOBUFS)
  const orig = ring.recvMultishot.bind(ring)
  ring.recvMultishot = (fd, bufRing, cb) => {
    recvStats.rearms++
    return orig(fd, bufRing, (res, flags) => {
      recvStats.cqes++
      if (res === ENOBUFS) recvStats.enobufs++
      cb(res, flags)
    })
  }
}
const recvNotes = () => `${recvStats.cqes} recv CQEs, ${recvStats.enobufs} ENOBUFS, ${recvStats.rearms} recv arms`

/** A listening SocketServer on 127.0.0.1 (Effio's with the loop's shared Uring service, for its counters). */
const socketServer = async (effio: boolean): Promise<
  import("effect/Effect").Effect<
    { server: import("@effect/platform/SocketServer").SocketServer["Type"]; uring: import("@effio/core").Uring.UringService | undefined },
    unknown,
    import("effect/Scope").Scope
  >
> => {
  const Effect = await import("effect/Effect")
  if (effio) {
    const { Uring } = await import("@effio/core")
    const { UringSocketServer } = await import("@effio/net")
    return Effect.all({ uring: Uring.make(), server: UringSocketServer.make({ port: 0, host: HOST, backlog: BACKLOG }) })
  }
  const NodeSocketServer = await import("@effect/platform-node/NodeSocketServer")
  return Effect.map(NodeSocketServer.make({ port: 0, host: HOST, backlog: BACKLOG, noDelay: true }), (server) => ({ server, uring: undefined }))
}

/**
 * The Socket-interface echo: `socket.run(chunk => write(chunk))` (or count, then answer the
 * count at end of stream). Effio's connections get TCP_NODELAY from the fd of
 * `CurrentConnection` at their first chunk (UringSocketServer has no option for it).
 */
const socketEchoHandler = (effio: boolean, mode: Mode) => {
  // Filled in by `loadSocketDeps` before any server runs (the modules load asynchronously).
  const d = socketDeps!
  const { Effect } = d
  return (socket: import("@effect/platform/Socket").Socket) =>
    Effect.scoped(Effect.flatMap(socket.writer, (write) => {
      if (mode !== "echo") {
        let total = 0
        return Effect.zipRight(socket.run((chunk) => void (total += chunk.length)), Effect.suspend(() => write(`${total}\n`)))
      }
      let noDelay = !effio
      return socket.run((chunk) => {
        if (noDelay) return write(chunk)
        noDelay = true
        return Effect.zipRight(
          Effect.map(Effect.serviceOption(d.CurrentConnection), (c) => {
            if (c._tag === "Some" && c.value.fd !== undefined) d.setsockopt(c.value.fd, d.S.IPPROTO_TCP, d.S.TCP_NODELAY, 1)
          }),
          write(chunk)
        )
      })
    }))
}

let socketDeps:
  | {
    Effect: typeof import("effect/Effect")
    CurrentConnection: typeof import("@effio/net").UringSocket.CurrentConnection
    setsockopt: typeof import("@effio/uring-native").setsockopt
    S: typeof import("@effio/uring-native").socketConstants
  }
  | undefined
const loadSocketDeps = async () => {
  const { UringSocket } = await import("@effio/net")
  const { setsockopt, socketConstants } = await import("@effio/uring-native")
  socketDeps = { Effect: await import("effect/Effect"), CurrentConnection: UringSocket.CurrentConnection, setsockopt, S: socketConstants }
}

// ---------------------------------------------------------------------------------------------
// Child side: clients

/** utime + stime of process `pid` (all threads) in µs, from /proc/<pid>/stat (USER_HZ = 100). */
const procCpuUs = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(f[11]) + Number(f[12])) * 10_000
}

interface PingArgs {
  readonly port: number
  readonly serverPid: number
  readonly conns: number
  readonly timing: Timing
}

interface PingResult extends Measured {
  /** Server CPU (user + sys, all threads) in the timed window, µs (0 when in-process). */
  readonly serverCpuUs: number
  readonly notes: string
}

/** The message of connection `id`: distinct bytes per connection, bytes 0..3 = the round number. */
const message = (id: number): Buffer => {
  const m = Buffer.alloc(MSG)
  for (let i = 0; i < MSG; i++) m[i] = (id * 131 + i * 7 + 1) & 255
  return m
}

/** Connects `n` raw node:net sockets with TCP_NODELAY, 100 at a time (no SYN storm on the backlog). */
const connectAll = async (port: number, n: number): Promise<Array<net.Socket>> => {
  const out: Array<net.Socket> = []
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, () =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: HOST, port, noDelay: true })
        s.once("connect", () => {
          s.setNoDelay(true)
          s.off("error", reject)
          resolve(s)
        })
        s.once("error", reject)
      }))
    out.push(...(await Promise.all(batch)))
  }
  return out
}

/**
 * The shared ping-pong driver (raw node:net): each connection writes its 64-byte message and
 * waits until the whole echo is back (compared with what was sent), then the next round.
 */
export const pingClient = async (a: PingArgs): Promise<PingResult> => {
  const sockets = await connectAll(a.port, a.conns)
  let cpu0 = 0
  let serverCpuUs = 0
  const m = await timedAsync(
    a.timing,
    (counter) =>
      Promise.all(sockets.map((s, id) =>
        new Promise<void>((resolve, reject) => {
          const msg = message(id)
          const acc = Buffer.alloc(MSG)
          let got = 0
          let round = 0
          s.on("error", reject)
          s.on("close", () => reject(new Error(`connection ${id} closed by the server`)))
          s.on("data", (d: Buffer) => {
            if (got === 0 && d.length === MSG) {
              if (!d.equals(msg)) return reject(new Error(`connection ${id}: the echo differs from what was sent`))
            } else {
              if (got + d.length > MSG) return reject(new Error(`connection ${id}: ${got + d.length} bytes back for ${MSG} sent`))
              d.copy(acc, got)
              got += d.length
              if (got < MSG) return
              got = 0
              if (!acc.equals(msg)) return reject(new Error(`connection ${id}: the echo differs from what was sent`))
            }
            counter.ops++
            if (counter.stop) return resolve()
            msg.writeUInt32LE(++round >>> 0, 0)
            s.write(msg)
          })
          s.write(msg)
        })
      )),
    {
      onStart: () => (cpu0 = procCpuUs(a.serverPid)),
      onEnd: () => (serverCpuUs = procCpuUs(a.serverPid) - cpu0)
    }
  )
  for (const s of sockets) {
    s.removeAllListeners("close")
    s.destroy()
  }
  return { ...m, serverCpuUs, notes: "" }
}

interface BulkArgs {
  readonly port: number
  readonly serverPid: number
  readonly bytes: number
  readonly reps: number
}

interface BulkRun {
  readonly seconds: number
  readonly serverCpuUs: number
  readonly clientCpuUs: number
}

interface BulkResult {
  readonly runs: ReadonlyArray<BulkRun>
  readonly median: BulkRun
}

/**
 * The bulk driver (raw node:net): one connection per transfer, `bytes` written in 1 MiB writes
 * (respecting backpressure), then FIN; done when the server has answered the byte count and
 * closed. One untimed warm-up transfer (at most 64 MiB), then `reps` timed ones.
 */
export const bulkClient = async (a: BulkArgs): Promise<BulkResult> => {
  const chunk = Buffer.alloc(MiB)
  for (let i = 0; i < MiB; i++) chunk[i] = (i * 7 + 1) & 255
  const once = (bytes: number) =>
    new Promise<BulkRun>((resolve, reject) => {
      const s = net.connect({ host: HOST, port: a.port, noDelay: true })
      let sent = 0
      let reply = ""
      let t0 = 0n
      let cpu0: NodeJS.CpuUsage | undefined
      let srv0 = 0
      const pump = () => {
        while (sent < bytes) {
          const n = Math.min(MiB, bytes - sent)
          sent += n
          if (!s.write(n === MiB ? chunk : chunk.subarray(0, n))) return void s.once("drain", pump)
        }
        s.end()
      }
      s.on("error", reject)
      s.once("connect", () => {
        srv0 = procCpuUs(a.serverPid)
        cpu0 = process.cpuUsage()
        t0 = process.hrtime.bigint()
        pump()
      })
      s.setEncoding("latin1").on("data", (d: string) => (reply += d))
      s.on("end", () => {
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9
        const cpu = process.cpuUsage(cpu0)
        const serverCpuUs = procCpuUs(a.serverPid) - srv0
        s.destroy()
        if (reply !== `${bytes}\n`) return reject(new Error(`the server counted ${JSON.stringify(reply)}, ${bytes} bytes were sent`))
        resolve({ seconds, serverCpuUs, clientCpuUs: cpu.user + cpu.system })
      })
    })
  await once(Math.min(a.bytes, 64 * MiB))
  const runs: Array<BulkRun> = []
  for (let i = 0; i < a.reps; i++) runs.push(await once(a.bytes))
  const sorted = [...runs].sort((x, y) => x.seconds - y.seconds)
  return { runs, median: sorted[Math.floor((sorted.length - 1) / 2)]! }
}

interface InProcessArgs {
  readonly impl: "effio" | "node"
  readonly conns: number
  readonly timing: Timing
}

/**
 * Server and clients in one process, all through `@effect/platform`'s Socket interface: a
 * SocketServer echo and `conns` `makeNet({ noDelay: true })` clients, each writing its message
 * from `run`'s `onOpen` and the next one from the handler once the whole echo is back.
 * Effio (UringSocketServer + UringSocket, loop scheduler) or NodeSocketServer + NodeSocket
 * (Effect's default scheduler).
 */
export const inProcessSocket = (a: InProcessArgs): Promise<PingResult> => profiling(() => inProcessSocketImpl(a))

const inProcessSocketImpl = async (a: InProcessArgs): Promise<PingResult> => {
  await loadSocketDeps()
  const Effect = await import("effect/Effect")
  const Exit = await import("effect/Exit")
  const Fiber = await import("effect/Fiber")
  const Scope = await import("effect/Scope")
  const { Scheduler } = await import("@effio/core")
  const effio = a.impl === "effio"
  const makeNet = effio
    ? (await import("@effio/net")).UringSocket.makeNet
    : (await import("@effect/platform-node/NodeSocket")).makeNet
  const wrap = <A, E, R>(eff: import("effect/Effect").Effect<A, E, R>) => (effio ? Scheduler.withLoopScheduler(eff) : eff)
  const scope = await Effect.runPromise(Scope.make())
  const { server, uring } = await Effect.runPromise(Scope.extend(await socketServer(effio), scope))
  if (server.address._tag !== "TcpAddress") throw new Error("not a TCP server")
  const port = server.address.port
  const serverFiber = Effect.runFork(wrap(server.run(socketEchoHandler(effio, "echo"))))
  const clients: Array<import("effect/Fiber").RuntimeFiber<unknown, unknown>> = []
  const gc = gcMeter()
  const m = await timedAsync(a.timing, (counter) =>
    new Promise<void>((resolve, reject) => {
      let running = a.conns
      for (let id = 0; id < a.conns; id++) {
        const msg = message(id)
        const acc = new Uint8Array(MSG)
        let got = 0
        let round = 0
        let stopped = false
        const client = Effect.scoped(Effect.gen(function*() {
          const socket = yield* makeNet({ host: HOST, port, noDelay: true })
          const write = yield* socket.writer
          yield* socket.run((chunk: Uint8Array) => {
            if (stopped) return
            if (got + chunk.length > MSG) return void reject(new Error(`connection ${id}: ${got + chunk.length} bytes back for ${MSG} sent`))
            acc.set(chunk, got)
            got += chunk.length
            if (got < MSG) return
            got = 0
            if (!msg.equals(acc)) return void reject(new Error(`connection ${id}: the echo differs from what was sent`))
            counter.ops++
            if (counter.stop) {
              stopped = true
              if (--running === 0) resolve()
              return
            }
            msg.writeUInt32LE(++round >>> 0, 0)
            return write(msg)
          }, { onOpen: Effect.orDie(write(msg)) })
        }))
        const f = Effect.runFork(wrap(client))
        f.addObserver((exit) => {
          if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) reject(new Error(`client ${id} failed: ${String(exit.cause)}`))
        })
        clients.push(f)
      }
    }))
  const notes = [gc.share(a.timing.durationMs / 1000), uring ? ringNotes(uring.ring.info()) : ""].filter((s) => s).join("; ")
  await Effect.runPromise(Fiber.interruptAll(clients))
  await Effect.runPromise(Fiber.interrupt(serverFiber))
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return { ...m, serverCpuUs: 0, notes }
}

// ---------------------------------------------------------------------------------------------
// Parent side

const childMain = fileURLToPath(new URL("./lib/child-main.ts", import.meta.url))
const tsxLoader = (() => {
  try {
    return import.meta.resolve("tsx")
  } catch {
    return "tsx"
  }
})()

const casesFilter = (process.env.EFFIO_BENCH_NET_CASES ?? "").split(",").map((s) => s.trim()).filter((s) => s)
const picked = (name: string) => casesFilter.length === 0 || casesFilter.some((f) => name.includes(f))
const profiled = (name: string) => {
  const p = process.env.EFFIO_BENCH_NET_PROFILE
  return p !== undefined && p !== "" && name.includes(p)
}
const profEnv = (name: string): Record<string, string | undefined> =>
  profiled(name) ? { EFFIO_BENCH_NET_PROF_FILE: path.join(PROF_DIR, `${name.replace(/[^\w-]+/g, "_")}.cpuprofile`) } : { EFFIO_BENCH_NET_PROF_FILE: undefined }
const baseEnv = { EFFIO_BACKEND: undefined, UV_USE_IO_URING: undefined, UV_THREADPOOL_SIZE: undefined }

interface Running {
  readonly port: number
  readonly pid: number
  /** Ends the server; its notes, or why it failed. */
  readonly stop: () => Promise<{ ok: true; notes: string } | { ok: false; error: string }>
}

/** Starts a server process and waits for its "listening <port>" line (at most 30 s). */
const startServer = (cmd: string, argv: ReadonlyArray<string>, env: Record<string, string | undefined>, killToStop: boolean) =>
  new Promise<Running>((resolve, reject) => {
    const fullEnv: Record<string, string | undefined> = { ...process.env }
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete fullEnv[k]
      else fullEnv[k] = v
    }
    const child: ChildProcess = spawn(cmd, argv, { env: fullEnv, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let listening = false
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on("close", (code, signal) => r({ code, signal })))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the server did not listen within 30 s:\n${stderr.trimEnd().split("\n").slice(-10).join("\n")}`))
    }, 30_000)
    child.on("error", (e) => reject(new Error(`spawn ${cmd} failed: ${e.message}`)))
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d
      const m = LISTEN_RE.exec(stdout)
      if (listening || m === null) return
      listening = true
      clearTimeout(timer)
      resolve({
        port: Number(m[1]),
        pid: child.pid!,
        stop: async () => {
          const kill = setTimeout(() => child.kill("SIGKILL"), 20_000)
          if (killToStop) child.kill("SIGTERM")
          else child.stdin!.end()
          const { code, signal } = await closed
          clearTimeout(kill)
          if (killToStop) return signal === "SIGTERM" ? { ok: true, notes: "" } : { ok: false, error: `exited with ${signal ?? code}: ${stderr}` }
          const line = stdout.split("\n").find((l) => l.startsWith(RESULT_MARK))
          if (code === 0 && line !== undefined) return { ok: true, notes: (JSON.parse(line.slice(RESULT_MARK.length)) as { notes: string }).notes }
          return { ok: false, error: `the server exited with ${signal ?? `code ${code}`}:\n${stderr.trimEnd().split("\n").slice(-10).join("\n")}` }
        }
      })
    })
    void closed.then(({ code, signal }) => {
      if (!listening) {
        clearTimeout(timer)
        reject(new Error(`the server exited with ${signal ?? `code ${code}`} before listening:\n${stderr.trimEnd().split("\n").slice(-10).join("\n")}`))
      }
    })
  })

/** Compiles bench/net/echo-epoll.c into the temp directory (cached by source hash); a reason when it cannot. */
const compileC = (): { binary: string } | { skipped: string } => {
  const src = fileURLToPath(new URL("./net/echo-epoll.c", import.meta.url))
  const hash = createHash("sha256").update(fs.readFileSync(src)).digest("hex").slice(0, 12)
  const binary = path.join(os.tmpdir(), `effio-bench-echo-epoll-${hash}`)
  if (fs.existsSync(binary)) return { binary }
  const cc = process.env.CC ?? "cc"
  const r = spawnSync(cc, ["-O2", "-Wall", "-o", binary, src], { encoding: "utf8" })
  if (r.error) return { skipped: `skipped: no C compiler (${cc}: ${r.error.message})` }
  if (r.status !== 0) return { skipped: `skipped: ${cc} failed: ${r.stderr.trim().split("\n")[0]}` }
  return { binary }
}

type Outcome<R> = ChildOutcome<R> | { readonly ok: false; readonly skipped: string; readonly wallMs: 0 }

const isSkip = <R>(o: Outcome<R> | undefined): o is { ok: false; skipped: string; wallMs: 0 } => o !== undefined && "skipped" in o
const whyNot = (o: Outcome<unknown>): string => ("skipped" in o ? o.skipped : o.ok ? "" : `FAILED: ${o.error}`)

/** Starts the server of `kind`, runs the client case against it, stops the server. */
const withServer = async <R>(
  name: string,
  kind: ServerKind,
  mode: Mode,
  c: ReturnType<typeof compileC>,
  client: (port: number, pid: number) => Promise<ChildOutcome<R>>
): Promise<Outcome<R & { serverNotes: string }>> => {
  const t0 = Date.now()
  if (kind === "c-epoll" && "skipped" in c) return { ok: false, skipped: c.skipped, wallMs: 0 }
  let server: Running
  try {
    server = kind === "c-epoll"
      ? await startServer((c as { binary: string }).binary, [mode === "echo" ? "echo" : "sink"], {}, true)
      : await startServer(
        process.execPath,
        ["--import", tsxLoader, childMain, JSON.stringify({ module: import.meta.url, fn: "serve", args: { kind, mode } satisfies ServeArgs })],
        { ...baseEnv, ...profEnv(name) },
        false
      )
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e), wallMs: Date.now() - t0 }
  }
  const out = await client(server.port, server.pid)
  const stopped = await server.stop()
  if (!out.ok) return out
  if (!stopped.ok) return { ok: false, error: stopped.error, wallMs: Date.now() - t0 }
  return { ok: true, value: { ...out.value, serverNotes: stopped.notes }, wallMs: Date.now() - t0 }
}

const SERVERS: ReadonlyArray<{ readonly kind: ServerKind; readonly label: string }> = [
  { kind: "effio-net", label: "Effio Net flows (io_uring)" },
  { kind: "effio-net-node", label: "Effio Net flows (node backend)" },
  { kind: "effio-socket", label: "Effio UringSocketServer (Socket interface, io_uring)" },
  { kind: "node-net", label: "raw node:net" },
  { kind: "node-socket", label: "@effect/platform-node NodeSocketServer" },
  { kind: "c-epoll", label: "C epoll (cc -O2)" }
]

const BULK_SERVERS: ReadonlyArray<{ readonly kind: ServerKind; readonly mode: Mode; readonly label: string }> = [
  { kind: "effio-net", mode: "sink", label: "Effio Net read(256 KiB buf) (io_uring)" },
  { kind: "effio-net", mode: "sink-chunk", label: "Effio Net readChunk (io_uring)" },
  { kind: "node-net", mode: "sink", label: "raw node:net ('data' events)" },
  { kind: "c-epoll", mode: "sink", label: "C epoll recv(256 KiB) (cc -O2)" }
]

const intFromEnv = (name: string, dflt: number): number => {
  const n = Number(process.env[name] ?? dflt)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${process.env[name]}`)
  return n
}

/** `ulimit -n` of this process (children inherit it), from /proc/self/limits. */
const fdLimit = (): number => {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync("/proc/self/limits", "utf8"))
  return m === null || m[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(m[1])
}

const run = async (): Promise<boolean> => {
  const timing = timingFromEnv()
  const bulkMiB = intFromEnv("EFFIO_BENCH_NET_MB", 512)
  const reps = intFromEnv("EFFIO_BENCH_NET_REPS", 3)
  const wantConns = intFromEnv("EFFIO_BENCH_NET_CONNS", 1000)
  const limit = fdLimit()
  // The in-process case holds both ends of every connection, plus ~200 fds of its own.
  const bigConns = Math.max(64, Math.min(wantConns, Math.floor((limit - 200) / 2)))
  const connNote = bigConns < wantConns ? ` (ulimit -n is ${limit}: ${bigConns} connections instead of ${wantConns})` : ""
  const c = compileC()
  const load0 = os.loadavg()[0]!
  if (casesFilter.length > 0) console.error(`net: only cases matching ${casesFilter.join(", ")}`)
  if (process.env.EFFIO_BENCH_NET_PROFILE) console.error(`net: CPU profiles of cases matching "${process.env.EFFIO_BENCH_NET_PROFILE}" go to ${PROF_DIR}`)
  const progress = (name: string, o: Outcome<unknown>, what: string) =>
    console.error(`  ${name}: ${o.ok ? what : whyNot(o)}${o.wallMs ? ` (${fmtNum(o.wallMs / 1000, 1)} s)` : ""}`)
  let ok = true

  // 1. Ping-pong, servers in their own processes.
  type Ping = Outcome<PingResult & { serverNotes: string }>
  const ping = new Map<string, Ping>()
  const pingName = (kind: ServerKind, conns: number) => `pp${conns} ${kind}`
  for (const conns of [64, bigConns]) {
    for (const s of SERVERS) {
      const name = pingName(s.kind, conns)
      if (!picked(name)) continue
      const o = await withServer<PingResult>(name, s.kind, "echo", c, (port, pid) =>
        runChild<PingResult>({
          name,
          module: import.meta.url,
          fn: "pingClient",
          args: { port, serverPid: pid, conns, timing } satisfies PingArgs,
          env: baseEnv
        }))
      ping.set(name, o)
      if (!o.ok && !isSkip(o)) ok = false
      progress(name, o, o.ok ? `${fmtInt(o.value.opsPerSec)} round trips/s` : "")
    }
  }

  // 2. Ping-pong through the Socket interface, server and clients in one process.
  const inproc = new Map<string, Outcome<PingResult>>()
  const ipName = (impl: "effio" | "node", conns: number) => `inproc${conns} ${impl}-socket`
  for (const conns of [64, bigConns]) {
    for (const impl of ["effio", "node"] as const) {
      const name = ipName(impl, conns)
      if (!picked(name)) continue
      const o = await runChild<PingResult>({
        name,
        module: import.meta.url,
        fn: "inProcessSocket",
        args: { impl, conns, timing } satisfies InProcessArgs,
        env: { ...baseEnv, ...profEnv(name) }
      })
      inproc.set(name, o)
      if (!o.ok) ok = false
      progress(name, o, o.ok ? `${fmtInt(o.value.opsPerSec)} round trips/s` : "")
    }
  }

  // 3. Bulk stream.
  const bulk = new Map<string, Outcome<BulkResult & { serverNotes: string }>>()
  const bulkName = (kind: ServerKind, mode: Mode) => `bulk ${kind} ${mode}`
  const bytes = bulkMiB * MiB
  const gbps = (r: BulkRun) => bytes / r.seconds / 1e9
  for (const s of BULK_SERVERS) {
    const name = bulkName(s.kind, s.mode)
    if (!picked(name)) continue
    const o = await withServer<BulkResult>(name, s.kind, s.mode, c, (port, pid) =>
      runChild<BulkResult>({
        name,
        module: import.meta.url,
        fn: "bulkClient",
        args: { port, serverPid: pid, bytes, reps } satisfies BulkArgs,
        env: baseEnv
      }))
    bulk.set(name, o)
    if (!o.ok && !isSkip(o)) ok = false
    progress(name, o, o.ok ? `${fmtNum(gbps(o.value.median))} GB/s` : "")
  }

  // Report.
  const s = timing.durationMs / 1000
  console.log(`\n### net: TCP over loopback (127.0.0.1)`)
  console.log(
    `\nnode ${process.version}, Linux ${os.release()}, ${os.availableParallelism()} CPUs, ulimit -n ${limit}${connNote}. ` +
      `Every process is fresh; ping-pong: ${fmtNum(timing.warmupMs / 1000, 1)} s warm-up, then ${fmtNum(s, 1)} s timed. ` +
      `Server CPU = user+sys of the server process (all threads) in the client's timed window, from /proc/<pid>/stat ` +
      `(10 ms ticks); client CPU % of one core. TCP_NODELAY on at both ends everywhere.\n`
  )
  const fail = (o: Outcome<unknown> | undefined) => (o === undefined ? "not run" : whyNot(o).split("\n")[0]!)
  const pingRows = (conns: number) =>
    SERVERS.filter((sv) => ping.has(pingName(sv.kind, conns))).map((sv) => {
      const o = ping.get(pingName(sv.kind, conns))!
      const anchor = ping.get(pingName("node-net", conns))
      if (!o.ok) return [sv.label, "–", "–", "–", "–", "–", fail(o)]
      const v = o.value
      return [
        sv.label,
        fmtInt(v.opsPerSec),
        fmtNum(v.serverCpuUs / v.ops, 2),
        fmtNum((v.serverCpuUs / (v.seconds * 1e6)) * 100, 0),
        fmtNum(((v.userUs + v.sysUs) / (v.seconds * 1e6)) * 100, 0),
        anchor?.ok ? `${fmtNum(v.opsPerSec / anchor.value.opsPerSec)}×` : "–",
        v.serverNotes
      ]
    })
  const pingHeaders = ["server", "round trips/s", "server CPU µs/rt", "server CPU %", "client CPU %", "vs node:net", "notes"]
  const al = ["left", "right", "right", "right", "right", "right", "left"] as const
  for (const conns of [64, bigConns]) {
    const rows = pingRows(conns)
    if (rows.length === 0) continue
    console.log(`\n#### Ping-pong: ${conns} connections × ${MSG} B, one raw node:net client process${conns === bigConns ? connNote : ""}\n`)
    printTable(pingHeaders, rows, al)
  }
  const ipRows = [64, bigConns].flatMap((conns) =>
    (["effio", "node"] as const).filter((impl) => inproc.has(ipName(impl, conns))).map((impl) => {
      const o = inproc.get(ipName(impl, conns))!
      const label = `${impl === "effio" ? "Effio UringSocketServer + UringSocket.makeNet" : "NodeSocketServer + NodeSocket.makeNet"}, ${conns} conns`
      if (!o.ok) return [label, "–", "–", "–", fail(o)]
      const v = o.value
      return [label, fmtInt(v.opsPerSec), fmtNum(v.cpuUsPerOp, 2), fmtNum(((v.userUs + v.sysUs) / (v.seconds * 1e6)) * 100, 0), v.notes]
    })
  )
  if (ipRows.length > 0) {
    console.log(`\n#### Ping-pong through @effect/platform's Socket interface, server and clients in one process (${MSG} B)\n`)
    printTable(["case", "round trips/s", "CPU µs/rt", "CPU %", "notes"], ipRows, ["left", "right", "right", "right", "left"])
  }
  const bulkRows = BULK_SERVERS.filter((b) => bulk.has(bulkName(b.kind, b.mode))).map((b) => {
    const o = bulk.get(bulkName(b.kind, b.mode))!
    if (!o.ok) return [b.label, "–", "–", "–", "–", "–", fail(o)]
    const m = o.value.median
    const all = o.value.runs.map(gbps)
    return [
      b.label,
      fmtNum(gbps(m)),
      `${fmtNum(Math.min(...all))}–${fmtNum(Math.max(...all))}`,
      fmtNum(m.serverCpuUs / bulkMiB, 0),
      fmtNum((m.serverCpuUs / (m.seconds * 1e6)) * 100, 0),
      fmtNum((m.clientCpuUs / (m.seconds * 1e6)) * 100, 0),
      o.value.serverNotes
    ]
  })
  if (bulkRows.length > 0) {
    console.log(
      `\n#### Bulk stream: ${bulkMiB} MiB over one connection, raw node:net client writes 1 MiB chunks, the server reads and discards ` +
        `(median of ${reps} after a warm-up; GB = 10⁹ B)\n`
    )
    printTable(["server", "GB/s", "range GB/s", "server CPU µs/MiB", "server CPU %", "client CPU %", "notes"], bulkRows, al)
  }

  // Ratios and targets.
  const pingV = (n: string) => {
    const o = ping.get(n) ?? inproc.get(n)
    return o?.ok ? { rate: o.value.opsPerSec, cpu: o.value.serverCpuUs > 0 ? o.value.serverCpuUs / o.value.ops : o.value.cpuUsPerOp } : undefined
  }
  const bulkV = (n: string) => {
    const o = bulk.get(n)
    return o?.ok ? { rate: gbps(o.value.median), cpu: o.value.median.serverCpuUs } : undefined
  }
  type V = { rate: number; cpu: number } | undefined
  const ratio = (label: string, num: V, den: V, target?: number, missBelow?: number) => {
    const r = num && den ? num.rate / den.rate : undefined
    const cpu = num && den ? den.cpu / num.cpu : undefined
    let verdict = ""
    if (target !== undefined && r !== undefined) {
      verdict = r >= target ? "PASS" : missBelow !== undefined && r < missBelow ? `MISS (< ${missBelow}×: profile)` : "MISS"
    }
    return [label, r === undefined ? "n/a" : `${fmtNum(r)}×`, cpu === undefined ? "n/a" : `${fmtNum(cpu)}×`, target === undefined ? "" : `≥ ${target}×`, verdict]
  }
  console.log("")
  printTable(
    ["ratio", "rate", "CPU/op (den/num)", "target", "result"],
    [
      ratio("Effio Net (io_uring) vs node:net, ping-pong 64", pingV(pingName("effio-net", 64)), pingV(pingName("node-net", 64)), 1),
      ratio(`Effio Net (io_uring) vs node:net, ping-pong ${bigConns}`, pingV(pingName("effio-net", bigConns)), pingV(pingName("node-net", bigConns))),
      ratio("Effio Socket vs NodeSocket, in-process 64", pingV(ipName("effio", 64)), pingV(ipName("node", 64)), 3, 2),
      ratio(`Effio Socket vs NodeSocket, in-process ${bigConns}`, pingV(ipName("effio", bigConns)), pingV(ipName("node", bigConns))),
      ratio("UringSocketServer vs NodeSocketServer, ping-pong 64", pingV(pingName("effio-socket", 64)), pingV(pingName("node-socket", 64))),
      ratio("Effio Net (io_uring) vs C epoll, ping-pong 64 (moonshot)", pingV(pingName("effio-net", 64)), pingV(pingName("c-epoll", 64)), 1),
      ratio(`Effio Net (io_uring) vs C epoll, ping-pong ${bigConns}`, pingV(pingName("effio-net", bigConns)), pingV(pingName("c-epoll", bigConns))),
      ratio("node:net vs C epoll, ping-pong 64", pingV(pingName("node-net", 64)), pingV(pingName("c-epoll", 64))),
      ratio("Effio Net read(buf) vs node:net, bulk", bulkV(bulkName("effio-net", "sink")), bulkV(bulkName("node-net", "sink"))),
      ratio("Effio Net readChunk vs node:net, bulk", bulkV(bulkName("effio-net", "sink-chunk")), bulkV(bulkName("node-net", "sink"))),
      ratio("Effio Net readChunk vs C epoll, bulk", bulkV(bulkName("effio-net", "sink-chunk")), bulkV(bulkName("c-epoll", "sink")))
    ],
    ["left", "right", "right", "right", "left"]
  )
  console.log(
    `\nrate = round trips/s (GB/s for bulk), num/den; CPU/op = the denominator's CPU per op over the numerator's ` +
      `(server process only for separate-process cases; the whole process in-process), > 1× = the numerator is cheaper. ` +
      `One client process drives every server: where the client is near 100% CPU it, not the server, bounds the rate, ` +
      `and the CPU column is the fairer comparison.`
  )
  console.log(`\nload average ${fmtNum(load0)} at start / ${fmtNum(os.loadavg()[0])} at end.`)
  return ok
}

export const netBench: Benchmark = {
  name: "net",
  description: "TCP loopback: ping-pong round trips/s (64 and 1,000 connections) and bulk GB/s; Effio Net / Socket on io_uring vs node:net, NodeSocket, C epoll",
  run
}
