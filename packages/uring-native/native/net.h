// Sockets outside the ring: JS socket addresses <-> struct sockaddr, the synchronous socket
// calls (getsockname, getpeername, setsockopt, getsockopt) and the socket constants.
//
// The JS address shape, both ways:
//   { family: 4, host: "127.0.0.1", port: 8080 }
//   { family: 6, host: "::1", port: 8080, scopeId?: number, flowinfo?: number }
//   { path: "/tmp/x.sock" }                 a Unix socket path (at most 107 UTF-8 bytes)
//   { path: "name", abstract: true }        a Linux abstract Unix address (at most 107 bytes)
//   { path: "" }                            an unnamed Unix socket (decoding only; binding
//                                           it autobinds)
// Hosts are numeric (inet_pton): no name lookup happens here.
#pragma once
#ifdef __linux__

#include <napi.h>
#include <sys/socket.h>

#include <cstdint>

namespace effio {

// A decoded socket address and its length, as bind/connect/sendmsg take it.
struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
};

// The most an address output buffer of recvFrom needs: the sockaddr (128 bytes), then the
// length the kernel wrote (u32 at 128) and the msg_flags (u32 at 132).
constexpr size_t kAddrOutSize = 136;
constexpr size_t kAddrOutLenOffset = sizeof(sockaddr_storage);
constexpr size_t kAddrOutFlagsOffset = sizeof(sockaddr_storage) + 4;
static_assert(sizeof(sockaddr_storage) == 128, "sockaddr_storage is 128 bytes");

// A JS address object -> SockAddr. Throws TypeError (not an object, bad family, a host
// inet_pton cannot parse, NUL in a path) or RangeError (port outside 0..65535, a path longer
// than sun_path holds) and returns false.
bool GetSockAddr(Napi::Env env, const Napi::Value& v, const char* name, SockAddr* out);

// struct sockaddr (of `len` bytes) -> the JS address object; undefined for AF_UNSPEC, an
// empty address or a family this module does not know.
Napi::Value SockAddrToJs(Napi::Env env, const sockaddr_storage& ss, socklen_t len);

// Adds the synchronous socket calls to the addon's exports.
void InitNet(Napi::Env env, Napi::Object exports);

// Socket constants (AF_*, SOCK_*, SOL_*, SO_*, IPPROTO_*, TCP_*, IPV6_*, SHUT_*, MSG_*,
// IORING_CQE_F_*) into `c`.
void SocketConstants(Napi::Env env, Napi::Object c);

}  // namespace effio

#endif  // __linux__
