/**
 * send vs send_zc, a lever measurement (not part of `pnpm bench`): `npx tsx bench/net/send-zc.ts`.
 * The raw Ring pushes 1 GiB over one TCP loopback connection, one send in flight, in 64 KiB,
 * 256 KiB and 1 MiB sends, with `send` and with `sendZc` (which completes twice: the byte count,
 * then the notification that the buffer is free); a node:net server in the same process
 * discards. Prints this process's CPU per MiB (sender and receiver) and GB/s, two rounds each.
 *
 * Measured 2026-12-01 (Node 20, Linux 6.18, the 2-core VM under load from other jobs):
 * 64 KiB: send 1,173-1,222 µs/MiB, send_zc 838-1,132; 256 KiB: 678-834 vs 560-600; 1 MiB:
 * 904-1,055 vs 979-1,071. So 0.7-0.97x the CPU for mid-sized sends and nothing at 1 MiB, on
 * loopback, where the kernel still copies zero-copy buffers at delivery. `@effio/net` keeps
 * plain sends (tried first as a non-blocking send(2)): send_zc would pin every written buffer
 * until its notification, one more completion per write, for a gain that needs a real NIC.
 */
import * as net from "node:net"
import { CQE_F_MORE, CQE_F_NOTIF, Ring, socketConstants as S } from "@effio/uring-native"
const TOTAL = 1 << 30
const ring = new Ring()
const server = net.createServer((s) => s.on("data", () => {}))
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
const port = (server.address() as net.AddressInfo).port
const connect = () => new Promise<number>((resolve) => {
  ring.socket(S.AF_INET, S.SOCK_STREAM, 0, (fd) => ring.connect(fd, { family: 4, host: "127.0.0.1", port }, () => resolve(fd)))
})
const run = async (zc: boolean, chunk: number) => {
  const fd = await connect()
  const buf = Buffer.alloc(chunk, 7)
  const t0 = process.cpuUsage(); const w0 = performance.now()
  for (let sent = 0; sent < TOTAL;) {
    sent += await new Promise<number>((resolve) => {
      let n = 0
      const cb = (res: number, flags: number) => {
        if (res < 0 && (flags & CQE_F_NOTIF) === 0) throw new Error(`send ${res}`)
        if ((flags & CQE_F_NOTIF) === 0) n = res
        if ((flags & CQE_F_MORE) === 0) resolve(n)
      }
      zc ? ring.sendZc(fd, buf, 0, chunk, 0, cb) : ring.send(fd, buf, 0, chunk, 0, cb)
    })
  }
  const cpu = process.cpuUsage(t0); const wall = performance.now() - w0
  await new Promise((r) => ring.closeFd(fd, r))
  return { cpuUsPerMiB: (cpu.user + cpu.system) / (TOTAL / (1 << 20)), gbps: TOTAL / wall / 1e6 }
}
for (const chunk of [64 << 10, 256 << 10, 1 << 20]) {
  for (let i = 0; i < 2; i++) {
    const a = await run(false, chunk), b = await run(true, chunk)
    console.log(`${chunk >> 10} KiB: send ${a.cpuUsPerMiB.toFixed(0)} µs/MiB ${a.gbps.toFixed(2)} GB/s | send_zc ${b.cpuUsPerMiB.toFixed(0)} µs/MiB ${b.gbps.toFixed(2)} GB/s`)
  }
}
ring.close(); server.close()
