// Socket addresses, the synchronous socket calls and the socket constants: see net.h.
#ifdef __linux__

#include "net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

#include "args.h"
#include "uring_abi.h"

namespace effio {

namespace {

// The longest Unix path (or abstract name) we accept: sun_path less one byte, for the NUL
// of a path (and the leading NUL of an abstract name).
constexpr size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;

bool GetUnix(Napi::Env env, const Napi::Object& o, const char* name, SockAddr* out) {
  std::string path;
  const std::string field = std::string(name) + ".path";
  if (!GetString(env, o.Get("path"), field.c_str(), &path)) return false;
  // A getter that threw leaves an empty value, which must not be converted (node-addon-api
  // aborts the process on a conversion of it while the exception is pending).
  Napi::Value abstract_value = o.Get("abstract");
  if (env.IsExceptionPending()) return false;
  const bool abstract = abstract_value.ToBoolean();
  if (path.size() > kMaxUnixPath)
    return ThrowRange(env, field + " is " + std::to_string(path.size()) + " bytes; a Unix socket address holds at most " +
                               std::to_string(kMaxUnixPath));
  auto* sun = reinterpret_cast<sockaddr_un*>(&out->ss);
  sun->sun_family = AF_UNIX;
  const size_t base = offsetof(sockaddr_un, sun_path);
  if (abstract) {
    sun->sun_path[0] = '\0';
    memcpy(sun->sun_path + 1, path.data(), path.size());
    out->len = static_cast<socklen_t>(base + 1 + path.size());
  } else if (path.empty()) {
    out->len = static_cast<socklen_t>(sizeof(sa_family_t));  // unnamed: bind() autobinds
  } else {
    memcpy(sun->sun_path, path.data(), path.size());
    sun->sun_path[path.size()] = '\0';
    out->len = static_cast<socklen_t>(base + path.size() + 1);
  }
  return true;
}

bool GetInet(Napi::Env env, const Napi::Object& o, const char* name, SockAddr* out) {
  const std::string prefix(name);
  int64_t family = 0, port = 0;
  if (!GetInt(env, o.Get("family"), (prefix + ".family").c_str(), INT32_MIN, INT32_MAX, &family)) return false;
  if (family != 4 && family != 6) return ThrowType(env, prefix + ".family must be 4 or 6 (or give a Unix path)");
  std::string host;
  if (!GetString(env, o.Get("host"), (prefix + ".host").c_str(), &host)) return false;
  if (!GetInt(env, o.Get("port"), (prefix + ".port").c_str(), 0, 65535, &port)) return false;
  if (family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out->ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1)
      return ThrowType(env, prefix + ".host is not a numeric IPv4 address: \"" + host + "\"");
    out->len = sizeof(sockaddr_in);
    return true;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out->ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) != 1)
    return ThrowType(env, prefix + ".host is not a numeric IPv6 address: \"" + host + "\"");
  int64_t scope = 0, flow = 0;
  Napi::Value sv = o.Get("scopeId");
  if (env.IsExceptionPending()) return false;
  Napi::Value fv = o.Get("flowinfo");
  if (env.IsExceptionPending()) return false;
  if (!sv.IsUndefined() && !GetInt(env, sv, (prefix + ".scopeId").c_str(), 0, UINT32_MAX, &scope)) return false;
  if (!fv.IsUndefined() && !GetInt(env, fv, (prefix + ".flowinfo").c_str(), 0, UINT32_MAX, &flow)) return false;
  sin6->sin6_scope_id = static_cast<uint32_t>(scope);
  sin6->sin6_flowinfo = htonl(static_cast<uint32_t>(flow));
  out->len = sizeof(sockaddr_in6);
  return true;
}

Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + " failed: " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return Napi::Value();
}

// getsockname(fd) / getpeername(fd) -> address object (undefined for an unknown family).
template <int (*kCall)(int, sockaddr*, socklen_t*)>
Napi::Value NameOf(const Napi::CallbackInfo& info, const char* syscall) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!GetFd(env, info[0], "fd", &fd)) return Napi::Value();
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (kCall(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return ThrowErrno(env, syscall, errno);
  return SockAddrToJs(env, ss, len);
}

Napi::Value GetSockName(const Napi::CallbackInfo& info) { return NameOf<getsockname>(info, "getsockname"); }
Napi::Value GetPeerName(const Napi::CallbackInfo& info) { return NameOf<getpeername>(info, "getpeername"); }

// The (fd, level, name) both socket-option calls start with.
bool GetSockOptTarget(Napi::Env env, const Napi::CallbackInfo& info, int* fd, int64_t* level, int64_t* name) {
  return GetFd(env, info[0], "fd", fd) && GetInt(env, info[1], "level", 0, INT32_MAX, level) &&
         GetInt(env, info[2], "name", 0, INT32_MAX, name);
}

// setsockopt(fd, level, name, value): value an integer (an int option) or bytes (a struct
// option, e.g. struct linger).
Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  int64_t level = 0, name = 0;
  if (!GetSockOptTarget(env, info, &fd, &level, &name)) return Napi::Value();
  int r;
  if (info[3].IsNumber() || info[3].IsBoolean()) {
    int64_t value = 0;
    if (info[3].IsBoolean()) {
      value = info[3].ToBoolean() ? 1 : 0;
    } else if (!GetInt(env, info[3], "value", INT32_MIN, INT32_MAX, &value)) {
      return Napi::Value();
    }
    const int v = static_cast<int>(value);
    r = setsockopt(fd, static_cast<int>(level), static_cast<int>(name), &v, sizeof(v));
  } else {
    uint8_t* data = nullptr;
    size_t len = 0;
    if (!GetBytes(env, info[3], "value", &data, &len)) return Napi::Value();
    if (len > 4096) {
      ThrowRange(env, "value must be at most 4096 bytes");
      return Napi::Value();
    }
    r = setsockopt(fd, static_cast<int>(level), static_cast<int>(name), data, static_cast<socklen_t>(len));
  }
  if (r != 0) return ThrowErrno(env, "setsockopt", errno);
  return env.Undefined();
}

// getsockopt(fd, level, name) -> the int value.
Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  int64_t level = 0, name = 0;
  if (!GetSockOptTarget(env, info, &fd, &level, &name)) return Napi::Value();
  int v = 0;
  socklen_t len = sizeof(v);
  if (getsockopt(fd, static_cast<int>(level), static_cast<int>(name), &v, &len) != 0)
    return ThrowErrno(env, "getsockopt", errno);
  return Napi::Number::New(env, v);
}

// trySend(fd, buffer, offset, length) -> bytes sent, or -errno (-EAGAIN when the socket
// buffer is full). A send(2) with MSG_DONTWAIT | MSG_NOSIGNAL on the loop thread: it never
// blocks, and when it takes every byte the caller's write is done without an SQE, a CQE and a
// fiber suspension (see @effio/net's sender for the measured gain). A bad argument throws.
Napi::Value TrySend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint8_t* ptr = nullptr;
  uint32_t n = 0;
  if (!GetFd(env, info[0], "fd", &fd) || !GetRange(env, info[1], info[2], info[3], &ptr, &n)) return Napi::Value();
  ssize_t r;
  do r = send(fd, ptr, n, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  return Napi::Number::New(env, r < 0 ? -errno : static_cast<double>(r));
}

// encodeSockaddr(address) -> Uint8Array of the sockaddr (tests, and callers that keep one).
Napi::Value EncodeSockAddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SockAddr sa;
  if (!GetSockAddr(env, info[0], "address", &sa)) return Napi::Value();
  Napi::Uint8Array out = Napi::Uint8Array::New(env, sa.len);
  memcpy(out.Data(), &sa.ss, sa.len);
  return out;
}

// decodeSockaddr(bytes) -> address object. `bytes` is either a bare sockaddr (its length the
// address length) or a recvFrom output buffer (kAddrOutSize bytes: the length is at 128).
Napi::Value DecodeSockAddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data = nullptr;
  size_t len = 0;
  if (!GetBytes(env, info[0], "bytes", &data, &len)) return Napi::Value();
  sockaddr_storage ss{};
  socklen_t sl = 0;
  if (len == kAddrOutSize) {
    uint32_t stored = 0;
    memcpy(&stored, data + kAddrOutLenOffset, sizeof(stored));
    sl = static_cast<socklen_t>(stored < sizeof(ss) ? stored : sizeof(ss));
  } else {
    sl = static_cast<socklen_t>(len < sizeof(ss) ? len : sizeof(ss));
  }
  memcpy(&ss, data, sl);
  return SockAddrToJs(env, ss, sl);
}

}  // namespace

bool GetSockAddr(Napi::Env env, const Napi::Value& v, const char* name, SockAddr* out) {
  *out = SockAddr{};
  if (!v.IsObject() || v.IsArray()) return ThrowType(env, std::string(name) + " must be an address object");
  Napi::Object o = v.As<Napi::Object>();
  const bool unix_path = o.Has("path");
  const bool ok = !env.IsExceptionPending() && (unix_path ? GetUnix(env, o, name, out) : GetInet(env, o, name, out));
  // A getter of the caller's that threw (say `abstract`) leaves its exception pending even
  // where the decoding went on with an empty value: then the address is not to be used.
  return ok && !env.IsExceptionPending();
}

Napi::Value SockAddrToJs(Napi::Env env, const sockaddr_storage& ss, socklen_t len) {
  if (len < sizeof(sa_family_t)) return env.Undefined();
  Napi::Object o = Napi::Object::New(env);
  char text[INET6_ADDRSTRLEN] = {0};
  switch (ss.ss_family) {
    case AF_INET: {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
      o.Set("family", 4);
      o.Set("host", text);
      o.Set("port", ntohs(sin->sin_port));
      return o;
    }
    case AF_INET6: {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
      o.Set("family", 6);
      o.Set("host", text);
      o.Set("port", ntohs(sin6->sin6_port));
      if (sin6->sin6_scope_id != 0) o.Set("scopeId", Napi::Number::New(env, sin6->sin6_scope_id));
      if (sin6->sin6_flowinfo != 0) o.Set("flowinfo", Napi::Number::New(env, ntohl(sin6->sin6_flowinfo)));
      return o;
    }
    case AF_UNIX: {
      const auto* sun = reinterpret_cast<const sockaddr_un*>(&ss);
      const size_t base = offsetof(sockaddr_un, sun_path);
      const size_t n = len > base ? std::min<size_t>(len - base, sizeof(sun->sun_path)) : 0;
      if (n == 0) {
        o.Set("path", "");
      } else if (sun->sun_path[0] == '\0') {
        o.Set("path", Napi::String::New(env, sun->sun_path + 1, n - 1));
        o.Set("abstract", true);
      } else {
        o.Set("path", Napi::String::New(env, sun->sun_path, strnlen(sun->sun_path, n)));
      }
      return o;
    }
    default:
      return env.Undefined();
  }
}

void InitNet(Napi::Env env, Napi::Object exports) {
  exports.Set("getsockname", Napi::Function::New(env, GetSockName));
  exports.Set("getpeername", Napi::Function::New(env, GetPeerName));
  exports.Set("setsockopt", Napi::Function::New(env, SetSockOpt));
  exports.Set("getsockopt", Napi::Function::New(env, GetSockOpt));
  exports.Set("trySend", Napi::Function::New(env, TrySend));
  exports.Set("encodeSockaddr", Napi::Function::New(env, EncodeSockAddr));
  exports.Set("decodeSockaddr", Napi::Function::New(env, DecodeSockAddr));
}

void SocketConstants(Napi::Env env, Napi::Object c) {
  const std::pair<const char*, int64_t> values[] = {
      {"AF_UNSPEC", AF_UNSPEC}, {"AF_INET", AF_INET}, {"AF_INET6", AF_INET6}, {"AF_UNIX", AF_UNIX},
      {"SOCK_STREAM", SOCK_STREAM}, {"SOCK_DGRAM", SOCK_DGRAM}, {"SOCK_SEQPACKET", SOCK_SEQPACKET},
      {"SOCK_RAW", SOCK_RAW}, {"SOCK_NONBLOCK", SOCK_NONBLOCK}, {"SOCK_CLOEXEC", SOCK_CLOEXEC},
      {"SOL_SOCKET", SOL_SOCKET}, {"SO_REUSEADDR", SO_REUSEADDR}, {"SO_REUSEPORT", SO_REUSEPORT},
      {"SO_KEEPALIVE", SO_KEEPALIVE}, {"SO_RCVBUF", SO_RCVBUF}, {"SO_SNDBUF", SO_SNDBUF},
      {"SO_ERROR", SO_ERROR}, {"SO_LINGER", SO_LINGER}, {"SO_BROADCAST", SO_BROADCAST},
      {"SO_TYPE", SO_TYPE}, {"SO_RCVLOWAT", SO_RCVLOWAT},
      {"IPPROTO_IP", IPPROTO_IP}, {"IPPROTO_IPV6", IPPROTO_IPV6}, {"IPPROTO_TCP", IPPROTO_TCP},
      {"IPPROTO_UDP", IPPROTO_UDP}, {"TCP_NODELAY", TCP_NODELAY}, {"TCP_KEEPIDLE", TCP_KEEPIDLE},
      {"TCP_KEEPINTVL", TCP_KEEPINTVL}, {"TCP_KEEPCNT", TCP_KEEPCNT}, {"IPV6_V6ONLY", IPV6_V6ONLY},
      {"SHUT_RD", SHUT_RD}, {"SHUT_WR", SHUT_WR}, {"SHUT_RDWR", SHUT_RDWR},
      {"MSG_NOSIGNAL", MSG_NOSIGNAL}, {"MSG_WAITALL", MSG_WAITALL}, {"MSG_PEEK", MSG_PEEK},
      {"MSG_DONTWAIT", MSG_DONTWAIT}, {"MSG_TRUNC", MSG_TRUNC}, {"MSG_MORE", MSG_MORE},
      {"MSG_OOB", MSG_OOB}, {"MSG_CTRUNC", MSG_CTRUNC},
      {"IORING_CQE_F_BUFFER", IORING_CQE_F_BUFFER}, {"IORING_CQE_F_SOCK_NONEMPTY", IORING_CQE_F_SOCK_NONEMPTY},
      {"IORING_CQE_F_NOTIF", IORING_CQE_F_NOTIF}, {"IORING_CQE_BUFFER_SHIFT", kEffioCqeBufferShift},
  };
  for (auto& v : values) c.Set(v.first, Napi::Number::New(env, static_cast<double>(v.second)));
}

}  // namespace effio

#endif  // __linux__
