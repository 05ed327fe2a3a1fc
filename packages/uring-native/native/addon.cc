// @effio/uring-native: one io_uring driven from the libuv loop of the Node environment
// that created it. Raw syscalls only (no liburing), so building needs nothing but a C++
// toolchain and Node's headers. On non-Linux platforms the addon is a stub whose probe()
// reports the ring unavailable.
//
// Files:
//   ring.h/.cc   the ring core: SQ/CQ memory and its ordering, queue/flush/reap, the libuv
//                loop integration, the close drain, the NativeRing JS class
//   ops.h/.cc    the ops: JS arguments -> plain data -> one SQE, behind one prep() entry
//   args.h/.cc   decoding JS arguments (Get* functions and the Args cursor)
//   probe.h/.cc  probe(), name tables, kernel release, why io_uring_setup failed
//   net.h/.cc    socket addresses, the synchronous socket calls, socket constants
//   offload.h/.cc  copy_file_range(2) on libuv's threadpool
//   recycle.h/.cc  allocRecycled(): Buffers whose memory is reused once freed
//   addon.cc     this file: module init, pipe2(), the non-Linux stub

#include <napi.h>

#ifdef __linux__

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "args.h"
#include "net.h"
#include "offload.h"
#include "ops.h"
#include "probe.h"
#include "recycle.h"
#include "ring.h"

namespace effio {
namespace {

// pipe2(size?) -> [readFd, writeFd] with O_CLOEXEC, optionally resized with F_SETPIPE_SZ
// (best effort: capped by /proc/sys/fs/pipe-max-size for unprivileged processes). Node has
// no API for an OS pipe; the runtime's stdenv and fs's splice copy need one. Throws an Error
// with `code` = errno name on failure.
Napi::Value Pipe2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t want = 0;
  if (info.Length() > 0 && !info[0].IsUndefined() && !GetInt(env, info[0], "size", 0, 1 << 30, &want)) return Napi::Value();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    int err = errno;
    Napi::Error e = Napi::Error::New(env, std::string("pipe2 failed: ") + strerror(err));
    e.Set("errno", Napi::Number::New(env, err));
    e.Set("code", Napi::String::New(env, err == EMFILE ? "EMFILE" : err == ENFILE ? "ENFILE" : "EPIPE2"));
    e.Set("syscall", Napi::String::New(env, "pipe2"));
    e.ThrowAsJavaScriptException();
    return Napi::Value();
  }
#ifdef F_SETPIPE_SZ
  if (want > 0) (void)fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(want));
#endif
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}

// bufferInFlight(value) -> whether `value` is an ArrayBuffer whose memory an op in flight on
// a ring of this thread holds (the facade's guard of ArrayBuffer.prototype.transfer).
Napi::Value BufferInFlight(const Napi::CallbackInfo& info) {
  const std::shared_ptr<v8::BackingStore> store = BackingStoreOf(info[0]);
  return Napi::Boolean::New(info.Env(), Ring::AnyOpHolds(store.get()));
}

// transferReallocates() -> whether ArrayBuffer.prototype.transfer to another length resizes
// the very BackingStore it came from (V8 12, Node 22: a realloc, which frees the old memory
// under everyone who holds that store) instead of copying into a new one (V8 13). Found out
// by doing it once, not from a version number.
Napi::Value TransferReallocates(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, 64);
  Napi::Value fn = ab.Get("transfer");
  if (!fn.IsFunction()) return Napi::Boolean::New(env, false);
  const std::shared_ptr<v8::BackingStore> held = BackingStoreOf(ab);
  Napi::Value moved = fn.As<Napi::Function>().Call(ab, {Napi::Number::New(env, 4096)});
  if (moved.IsEmpty()) {
    (void)env.GetAndClearPendingException();
    return Napi::Boolean::New(env, true);  // unknown: assume the worst
  }
  return Napi::Boolean::New(env, held != nullptr && BackingStoreOf(moved) == held);
}

}  // namespace
}  // namespace effio

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, effio::Probe));
  exports.Set("NativeRing", effio::Ring::Init(env));
  exports.Set("opKinds", effio::OpKindTable(env));
  exports.Set("pipe2", Napi::Function::New(env, effio::Pipe2));
  exports.Set("bufferInFlight", Napi::Function::New(env, effio::BufferInFlight));
  exports.Set("transferReallocates", Napi::Function::New(env, effio::TransferReallocates));
  exports.Set("constants", effio::ArgumentConstants(env));
  effio::InitNet(env, exports);
  effio::InitOffload(env, exports);
  effio::InitRecycle(env, exports);
  exports.Set("platform", "linux");
  return exports;
}

#else  // not Linux: a stub

namespace {
Napi::Value ProbeStub(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", false);
  out.Set("reason", "io_uring requires Linux; this build of @effio/uring-native is a stub");
  out.Set("kernel", "");
  out.Set("ops", Napi::Array::New(env));
  out.Set("features", Napi::Array::New(env));
  return out;
}
Napi::Value RingStub(const Napi::CallbackInfo& info) {
  Napi::Error::New(info.Env(), "io_uring requires Linux").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
}  // namespace

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, ProbeStub));
  exports.Set("NativeRing", Napi::Function::New(env, RingStub));
  exports.Set("platform", "stub");
  return exports;
}

#endif

NODE_API_MODULE(effio_uring, InitAll)
