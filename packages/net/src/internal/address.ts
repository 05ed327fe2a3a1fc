// Socket addresses as data (Eio's `Net.Sockaddr`): TCP and Unix stream endpoints, UDP endpoints.

/** A TCP endpoint: an IPv4 or IPv6 address (or, to connect, a host name) and a port. */
export interface Tcp {
  readonly _tag: "Tcp"
  readonly host: string
  readonly port: number
}

/** A Unix-domain stream socket: a path in the file system. */
export interface Unix {
  readonly _tag: "Unix"
  readonly path: string
}

/** A UDP endpoint. */
export interface Udp {
  readonly _tag: "Udp"
  readonly host: string
  readonly port: number
}

/** Where a stream socket listens or connects. */
export type StreamAddress = Tcp | Unix

/** Any socket address. */
export type Address = Tcp | Unix | Udp

export const tcp = (host: string, port: number): Tcp => ({ _tag: "Tcp", host, port })
export const unix = (path: string): Unix => ({ _tag: "Unix", path })
export const udp = (host: string, port: number): Udp => ({ _tag: "Udp", host, port })

/** `127.0.0.1:80`, `[::1]:80`, `/run/x.sock`: for messages. */
export const show = (a: Address | undefined): string =>
  a === undefined ? "" : a._tag === "Unix" ? a.path : a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
