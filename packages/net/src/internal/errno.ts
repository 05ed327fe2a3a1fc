// errno name → NetError reason, with no Effect in it (an Effect 4 adapter re-wraps it as it is).

/** Why a network operation failed. */
export type Reason =
  | "ConnectionRefused"
  | "ConnectionReset"
  | "AddressInUse"
  | "AddressNotAvailable"
  | "HostUnreachable"
  | "NetworkUnreachable"
  | "TimedOut"
  | "NotFound"
  | "Unknown"

/** The reason for an errno name (`ECONNREFUSED`) or a getaddrinfo code (`ENOTFOUND`). */
export const reasonOf = (code: string): Reason => {
  switch (code) {
    case "ECONNREFUSED":
      return "ConnectionRefused"
    case "ECONNRESET":
    case "EPIPE":
    case "ECONNABORTED":
      return "ConnectionReset"
    case "EADDRINUSE":
      return "AddressInUse"
    case "EADDRNOTAVAIL":
      return "AddressNotAvailable"
    case "EHOSTUNREACH":
    case "EHOSTDOWN":
      return "HostUnreachable"
    case "ENETUNREACH":
    case "ENETDOWN":
      return "NetworkUnreachable"
    case "ETIMEDOUT":
    case "ETIME":
      return "TimedOut"
    case "ENOTFOUND":
    case "EAI_NONAME":
    case "EAI_NODATA":
    case "EAI_AGAIN":
    case "ENOENT":
      return "NotFound"
    default:
      return "Unknown"
  }
}
