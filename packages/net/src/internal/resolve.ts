// Name resolution: getaddrinfo(3) through node's threadpool (io_uring has no opcode for it),
// and the "try each address in order" rule that node's connect and Eio's with_tcp_connect share.
import * as Effect from "effect/Effect"
import * as dns from "node:dns"
import * as fs from "node:fs"
import * as net from "node:net"
import { type Tcp, tcp, type Udp, udp } from "./address.js"
import { fromNodeError, type NetError, netError } from "./error.js"

let services: Map<string, number> | undefined

// /etc/services: "http 80/tcp". Read once, on the first service name that is not a number.
const serviceTable = (): Map<string, number> => {
  if (services !== undefined) return services
  services = new Map()
  try {
    for (const line of fs.readFileSync("/etc/services", "utf8").split("\n")) {
      const m = /^([A-Za-z0-9._-]+)\s+(\d+)\/tcp\b(.*)$/.exec(line.replace(/#.*/, ""))
      if (!m) continue
      const port = Number(m[2])
      for (const name of [m[1]!, ...m[3]!.trim().split(/\s+/).filter((a) => a.length > 0)]) {
        if (!services.has(name)) services.set(name, port)
      }
    }
  } catch {
    // no services file: numbers only
  }
  for (const [name, port] of [["http", 80], ["https", 443]] as const) if (!services.has(name)) services.set(name, port)
  return services
}

/** A port number from a service: a number, a numeric string, or a name from /etc/services. */
export const servicePort = (service: string | number): number | undefined => {
  if (typeof service === "number") return Number.isInteger(service) && service >= 0 && service < 65536 ? service : undefined
  if (/^\d+$/.test(service)) return servicePort(Number(service))
  return serviceTable().get(service)
}

/** `getaddrinfo(host, service)`: every address, in the resolver's order (IPv6 and IPv4). */
export const getaddrinfo = (host: string, service: string | number): Effect.Effect<ReadonlyArray<Tcp>, NetError> =>
  Effect.suspend(() => {
    const port = servicePort(service)
    if (port === undefined) return Effect.fail(netError("EAI_SERVICE", "getaddrinfo", tcp(host, 0)))
    if (net.isIP(host) !== 0) return Effect.succeed([tcp(host, port)])
    return Effect.async<ReadonlyArray<Tcp>, NetError>((resume) => {
      dns.lookup(host, { all: true, verbatim: true }, (err, addresses) => {
        if (err) resume(Effect.fail(fromNodeError(err, "getaddrinfo", tcp(host, port))))
        else resume(Effect.succeed(addresses.map((a) => tcp(a.address, port))))
      })
    })
  })

/**
 * Tries `attempt` on each address in order; the first success wins, else the last failure.
 * A host that is already an IP address is tried as it is.
 */
export const tryEach = <A, E, R>(
  addresses: ReadonlyArray<Tcp>,
  attempt: (address: Tcp) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | NetError, R> => {
  const loop = (i: number, last: E | NetError): Effect.Effect<A, E | NetError, R> =>
    i >= addresses.length ? Effect.fail(last) : Effect.catchAll(attempt(addresses[i]!), (e) => loop(i + 1, e))
  return loop(0, netError("ENOTFOUND", "connect"))
}

/**
 * A UDP address with a host name looked up, as node's dgram does for bind and for every send:
 * the first address of `family` (any family when undefined), else ENOTFOUND from getaddrinfo.
 * An IP address (or the empty wildcard host) is returned as it is.
 */
export const resolveUdp = (to: Udp, family: 4 | 6 | undefined): Effect.Effect<Udp, NetError> =>
  to.host === "" || net.isIP(to.host) !== 0
    ? Effect.succeed(to)
    : Effect.flatMap(getaddrinfo(to.host, to.port), (all) => {
      const hit = all.find((a) => family === undefined || net.isIP(a.host) === family)
      return hit === undefined ? Effect.fail(netError("ENOTFOUND", "getaddrinfo", to)) : Effect.succeed(udp(hit.host, to.port))
    })
