// Decoding of JS arguments into C values, with the TypeError/RangeError an op throws for a
// bad argument before anything reaches the kernel.
//
// Two layers: Get* functions (one value, report by return value, throw on failure) and
// Args, a left-to-right cursor over a call's arguments built on them, which ops use.
#pragma once
#ifdef __linux__

#include <napi.h>
#include <sys/uio.h>
#include <v8.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net.h"

namespace effio {

// Throw a JS TypeError/RangeError; return false so a decoder can `return Throw...(...)`.
bool ThrowType(Napi::Env env, const std::string& msg);
bool ThrowRange(Napi::Env env, const std::string& msg);

// An integer-valued JS number in [lo, hi].
bool GetInt(Napi::Env env, const Napi::Value& v, const char* name, int64_t lo, int64_t hi, int64_t* out);
// A file descriptor: 0..INT32_MAX.
bool GetFd(Napi::Env env, const Napi::Value& v, const char* name, int* fd);
// A directory fd: >= 0 or AT_FDCWD.
bool GetDirFd(Napi::Env env, const Napi::Value& v, const char* name, int* fd);
// A file position: -1 (current position / none) or 0..2^53.
bool GetPosition(Napi::Env env, const Napi::Value& v, const char* name, uint64_t* pos);
// A string without NUL bytes (a path), UTF-8.
bool GetString(Napi::Env env, const Napi::Value& v, const char* name, std::string* out);
// The V8 backing stores (the memory itself) of the JS buffers an op hands to the kernel. A
// JS reference to a buffer keeps its ArrayBuffer object alive, not its memory: a transfer
// (postMessage, structuredClone with `transfer`, ArrayBuffer.prototype.transfer) moves the
// memory to a new ArrayBuffer that may be collected at once. Holding the BackingStore keeps
// the memory itself until the op's final CQE, whoever owns it by then. One slot's worth;
// most ops have a single buffer, so the first one is held without an allocation.
struct Pins {
  std::shared_ptr<v8::BackingStore> first;
  std::vector<std::shared_ptr<v8::BackingStore>> rest;
  void Add(std::shared_ptr<v8::BackingStore> store);
  bool Holds(const v8::BackingStore* store) const;
  void Clear();
};

// The backing store of an ArrayBuffer or SharedArrayBuffer value (nullptr for anything else).
std::shared_ptr<v8::BackingStore> BackingStoreOf(napi_value buffer);

// Any ArrayBufferView or ArrayBuffer -> (pointer, byte length); rejects detached buffers.
// With `pins`, the buffer's backing store is added to it.
bool GetBytes(Napi::Env env, const Napi::Value& v, const char* name, uint8_t** data, size_t* len,
              Pins* pins = nullptr);
// buffer, offset, length -> a checked [ptr, ptr + n) inside the buffer (n <= 0x7ffff000).
bool GetRange(Napi::Env env, const Napi::Value& buf, const Napi::Value& off, const Napi::Value& len,
              uint8_t** ptr, uint32_t* n, Pins* pins = nullptr);

// Memory the kernel reads from or writes into, inside a JS buffer the facade pins.
struct Span {
  uint8_t* data = nullptr;
  size_t len = 0;
};

// Reads a call's arguments from `first` on, one per getter, left to right. The first bad
// argument throws and clears ok(); every later getter then returns a zero value without
// looking at its argument, so a decoder reads all its fields unconditionally and checks
// ok() once at the end (no value is ever left uninitialized).
class Args {
 public:
  // argv[first..argc) are the op's arguments; reading past argc gives undefined.
  Args(Napi::Env env, const napi_value* argv, size_t argc, size_t first)
      : env_(env), argv_(argv), argc_(argc), next_(first) {}

  bool ok() const { return ok_; }
  Napi::Env env() const { return env_; }
  // The backing stores of the buffers read so far (Range, Bytes, Iovecs), for the slot to
  // hold until the op's final CQE.
  Pins& pins() { return pins_; }

  int64_t Int(const char* name, int64_t lo, int64_t hi);
  uint32_t U32(const char* name) { return static_cast<uint32_t>(Int(name, 0, UINT32_MAX)); }
  int Fd(const char* name);
  int DirFd(const char* name);
  uint64_t Position(const char* name);
  bool Flag();  // JS truthiness
  std::string Path(const char* name);
  Span Bytes(const char* name);
  // Three arguments: buffer, offset, length.
  Span Range();
  // An array of 1..IOV_MAX buffers, each taken whole.
  std::vector<iovec> Iovecs(const char* name);
  // A socket address object (see net.h).
  SockAddr Address(const char* name);

  // A check of its own that failed (e.g. a buffer too small for the op): throws RangeError.
  void FailRange(const std::string& msg);

 private:
  Napi::Value Next() {
    const size_t i = next_++;
    return i < argc_ ? Napi::Value(env_, argv_[i]) : env_.Undefined();
  }

  Napi::Env env_;
  const napi_value* argv_;
  size_t argc_;
  size_t next_;
  bool ok_ = true;
  Pins pins_;
};

}  // namespace effio

#endif  // __linux__
