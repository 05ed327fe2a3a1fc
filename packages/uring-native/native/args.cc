// Argument decoding: see args.h.
#ifdef __linux__

#include "args.h"

#include <fcntl.h>
#include <limits.h>

#include <cstring>
#include <utility>

namespace effio {

// A getter, Proxy trap or valueOf of the caller's may have thrown already (an address
// object's `host`, ...): that exception is the call's result. Throwing a second one while it
// is pending is a fatal error in N-API.
bool ThrowType(Napi::Env env, const std::string& msg) {
  if (!env.IsExceptionPending()) Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

bool ThrowRange(Napi::Env env, const std::string& msg) {
  if (!env.IsExceptionPending()) Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

bool GetInt(Napi::Env env, const Napi::Value& v, const char* name, int64_t lo, int64_t hi, int64_t* out) {
  // One N-API call: napi_get_value_double itself tells a non-number (hot path of every op).
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) return ThrowType(env, std::string(name) + " must be a number");
  // NaN, fractions and values past int64 (the cast below would be undefined for them).
  if (d != d || d < -9.2e18 || d > 9.2e18 || d != static_cast<double>(static_cast<int64_t>(d)))
    return ThrowType(env, std::string(name) + " must be an integer");
  int64_t i = static_cast<int64_t>(d);
  if (i < lo || i > hi)
    return ThrowRange(env, std::string(name) + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                               "]: " + std::to_string(i));
  *out = i;
  return true;
}

bool GetFd(Napi::Env env, const Napi::Value& v, const char* name, int* fd) {
  int64_t i = 0;
  if (!GetInt(env, v, name, 0, INT32_MAX, &i)) return false;
  *fd = static_cast<int>(i);
  return true;
}

bool GetDirFd(Napi::Env env, const Napi::Value& v, const char* name, int* fd) {
  int64_t i = 0;
  if (!GetInt(env, v, name, AT_FDCWD, INT32_MAX, &i)) return false;
  if (i < 0 && i != AT_FDCWD) return ThrowRange(env, std::string(name) + " must be a file descriptor >= 0 or AT_FDCWD");
  *fd = static_cast<int>(i);
  return true;
}

bool GetPosition(Napi::Env env, const Napi::Value& v, const char* name, uint64_t* pos) {
  int64_t i = 0;
  if (!GetInt(env, v, name, -1, (1ll << 53), &i)) return false;
  *pos = i < 0 ? static_cast<uint64_t>(-1) : static_cast<uint64_t>(i);
  return true;
}

bool GetString(Napi::Env env, const Napi::Value& v, const char* name, std::string* out) {
  if (!v.IsString()) return ThrowType(env, std::string(name) + " must be a string");
  *out = v.As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) return ThrowType(env, std::string(name) + " must not contain NUL bytes");
  return true;
}

void Pins::Add(std::shared_ptr<v8::BackingStore> store) {
  if (!store) return;
  if (!first) {
    first = std::move(store);
  } else if (store != first) {
    rest.push_back(std::move(store));
  }
}

bool Pins::Holds(const v8::BackingStore* store) const {
  if (first.get() == store) return true;
  for (const auto& s : rest)
    if (s.get() == store) return true;
  return false;
}

void Pins::Clear() {
  first.reset();
  if (rest.capacity() > 64) std::vector<std::shared_ptr<v8::BackingStore>>().swap(rest); else rest.clear();
}

std::shared_ptr<v8::BackingStore> BackingStoreOf(napi_value buffer) {
  if (buffer == nullptr) return nullptr;
  // Node's N-API represents a napi_value as the bits of a v8::Local<v8::Value> (its own
  // v8impl::V8LocalValueFromJsValue is this memcpy). The addon is built against the headers
  // of the Node that loads it, so the two always agree; N-API itself has no way to reach an
  // ArrayBuffer's BackingStore.
  v8::Local<v8::Value> local;
  static_assert(sizeof(local) == sizeof(buffer), "napi_value is a v8::Local");
  memcpy(static_cast<void*>(&local), &buffer, sizeof(buffer));
  if (local->IsArrayBuffer()) return local.As<v8::ArrayBuffer>()->GetBackingStore();
  if (local->IsSharedArrayBuffer()) return local.As<v8::SharedArrayBuffer>()->GetBackingStore();
  return nullptr;
}

namespace {

v8::Local<v8::Value> ToV8(napi_value v) {
  v8::Local<v8::Value> local;
  memcpy(static_cast<void*>(&local), &v, sizeof(v));
  return local;
}

}  // namespace

bool GetBytes(Napi::Env env, const Napi::Value& v, const char* name, uint8_t** data, size_t* len, Pins* pins) {
  napi_value raw = v;
  bool is = false;
  napi_value ab = nullptr;
  void* ptr = nullptr;
  size_t byte_len = 0;
  if (napi_is_typedarray(env, raw, &is) == napi_ok && is) {
    // The byte length comes from V8 itself, not from N-API's element type times the length:
    // that enum lags V8's kinds (a Float16Array, napi_float16_array on Node 24, was sized as
    // one byte per element). V8 also gives 0 for a view that a shrunken resizable buffer has
    // left out of bounds.
    napi_get_typedarray_info(env, raw, nullptr, nullptr, &ptr, &ab, nullptr);
    byte_len = ToV8(raw).As<v8::ArrayBufferView>()->ByteLength();
  } else if (napi_is_dataview(env, raw, &is) == napi_ok && is) {
    size_t offset;
    napi_get_dataview_info(env, raw, &byte_len, &ptr, &ab, &offset);
  } else if (napi_is_arraybuffer(env, raw, &is) == napi_ok && is) {
    ab = raw;
    napi_get_arraybuffer_info(env, raw, &ptr, &byte_len);
  } else {
    return ThrowType(env, std::string(name) + " must be an ArrayBuffer, a TypedArray, a Buffer or a DataView");
  }
  bool detached = false;
  if (ab != nullptr && napi_is_detached_arraybuffer(env, ab, &detached) == napi_ok && detached)
    return ThrowType(env, std::string(name) + " is detached");
  if (pins != nullptr) pins->Add(BackingStoreOf(ab));
  *data = static_cast<uint8_t*>(ptr);
  *len = byte_len;
  return true;
}

bool GetRange(Napi::Env env, const Napi::Value& buf, const Napi::Value& off, const Napi::Value& len,
              uint8_t** ptr, uint32_t* n, Pins* pins) {
  uint8_t* data = nullptr;
  size_t size = 0;
  if (!GetBytes(env, buf, "buffer", &data, &size, pins)) return false;
  int64_t o = 0, l = 0;
  if (!GetInt(env, off, "offset", 0, INT64_MAX, &o)) return false;
  if (!GetInt(env, len, "length", 0, 0x7ffff000, &l)) return false;
  if (static_cast<uint64_t>(o) > size || static_cast<uint64_t>(l) > size - static_cast<uint64_t>(o))
    return ThrowRange(env, "offset + length (" + std::to_string(o) + " + " + std::to_string(l) +
                               ") is past the end of the buffer (" + std::to_string(size) + " bytes)");
  *ptr = data + o;
  *n = static_cast<uint32_t>(l);
  return true;
}

// ---- Args ------------------------------------------------------------------------------

int64_t Args::Int(const char* name, int64_t lo, int64_t hi) {
  Napi::Value v = Next();
  int64_t out = 0;
  if (ok_ && !GetInt(env(), v, name, lo, hi, &out)) ok_ = false;
  return ok_ ? out : 0;
}

int Args::Fd(const char* name) {
  Napi::Value v = Next();
  int fd = -1;
  if (ok_ && !GetFd(env(), v, name, &fd)) ok_ = false;
  return ok_ ? fd : -1;
}

int Args::DirFd(const char* name) {
  Napi::Value v = Next();
  int fd = -1;
  if (ok_ && !GetDirFd(env(), v, name, &fd)) ok_ = false;
  return ok_ ? fd : -1;
}

uint64_t Args::Position(const char* name) {
  Napi::Value v = Next();
  uint64_t pos = 0;
  if (ok_ && !GetPosition(env(), v, name, &pos)) ok_ = false;
  return ok_ ? pos : 0;
}

bool Args::Flag() {
  Napi::Value v = Next();
  return ok_ && v.ToBoolean();
}

std::string Args::Path(const char* name) {
  Napi::Value v = Next();
  std::string s;
  if (ok_ && !GetString(env(), v, name, &s)) ok_ = false;
  if (!ok_) s.clear();
  return s;
}

Span Args::Bytes(const char* name) {
  Napi::Value v = Next();
  Span s;
  if (ok_ && !GetBytes(env(), v, name, &s.data, &s.len, &pins_)) ok_ = false;
  return ok_ ? s : Span{};
}

Span Args::Range() {
  Napi::Value buf = Next();
  Napi::Value off = Next();
  Napi::Value len = Next();
  uint8_t* ptr = nullptr;
  uint32_t n = 0;
  if (ok_ && !GetRange(env(), buf, off, len, &ptr, &n, &pins_)) ok_ = false;
  return ok_ ? Span{ptr, n} : Span{};
}

std::vector<iovec> Args::Iovecs(const char* name) {
  Napi::Value v = Next();
  std::vector<iovec> iov;
  if (!ok_) return iov;
  if (!v.IsArray()) {
    ok_ = ThrowType(env(), std::string(name) + " must be an array");
    return iov;
  }
  Napi::Array arr = v.As<Napi::Array>();
  uint32_t count = arr.Length();
  if (count == 0 || count > IOV_MAX) {
    ok_ = ThrowRange(env(), std::string(name) + " must hold 1.." + std::to_string(IOV_MAX) + " buffers");
    return iov;
  }
  iov.resize(count);
  const std::string element = std::string(name) + "[i]";
  for (uint32_t i = 0; i < count; i++) {
    uint8_t* data = nullptr;
    size_t size = 0;
    if (!GetBytes(env(), arr.Get(i), element.c_str(), &data, &size, &pins_)) {
      ok_ = false;
      iov.clear();
      return iov;
    }
    iov[i].iov_base = data;
    iov[i].iov_len = size;
  }
  return iov;
}

SockAddr Args::Address(const char* name) {
  Napi::Value v = Next();
  SockAddr sa;
  if (ok_ && !GetSockAddr(env(), v, name, &sa)) ok_ = false;
  return ok_ ? sa : SockAddr{};
}

void Args::FailRange(const std::string& msg) {
  if (ok_) ok_ = ThrowRange(env(), msg);
}

}  // namespace effio

#endif  // __linux__
