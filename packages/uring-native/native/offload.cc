// copy_file_range(2) on libuv's threadpool: see offload.h.
//
// Why a thread: the copy is done by the kernel, page cache to page cache (or a reflink),
// in the calling thread, for as long as it takes; io_uring has no opcode for it, and the
// splice pipeline through a pipe that io_uring can do moved 0.72x of node's fs.copyFile
// (bench/fs-big-file). On the threadpool, as libuv's uv_fs_copyfile does, but a chunk per
// request, so that the caller can stop between chunks.
#ifdef __linux__

#include "offload.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "args.h"

namespace effio {
namespace {

class CopyRange : public Napi::AsyncWorker {
 public:
  CopyRange(const Napi::Function& cb, int in, int64_t off_in, int out, int64_t off_out, int64_t len)
      : Napi::AsyncWorker(cb, "effio.copyFileRange"), in_(in), out_(out), off_in_(off_in), off_out_(off_out), len_(len) {}

  // Copies until `len` bytes are done, the source ends, or an error; an error after some bytes
  // were copied reports those bytes (the next call meets the error again).
  void Execute() override {
    loff_t in = off_in_, out = off_out_;
    int64_t done = 0;
    while (done < len_) {
      const ssize_t n = copy_file_range(in_, &in, out_, &out, static_cast<size_t>(len_ - done), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (done == 0) result_ = -errno;
        break;
      }
      if (n == 0) break;
      done += n;
    }
    if (result_ == 0) result_ = done;
  }

  void OnOK() override { Callback().Call({Napi::Number::New(Env(), static_cast<double>(result_))}); }

 private:
  const int in_, out_;
  const int64_t off_in_, off_out_, len_;
  int64_t result_ = 0;
};

// copyFileRange(fdIn, offIn, fdOut, offOut, length, cb): cb(bytes copied | -errno), on the
// loop thread. The fds must stay open until cb runs (the caller pins them).
Napi::Value CopyFileRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr int64_t kMaxOffset = int64_t{1} << 53;
  int in = -1, out = -1;
  int64_t off_in = 0, off_out = 0, len = 0;
  if (!GetFd(env, info[0], "fdIn", &in) || !GetInt(env, info[1], "offIn", 0, kMaxOffset, &off_in) ||
      !GetFd(env, info[2], "fdOut", &out) || !GetInt(env, info[3], "offOut", 0, kMaxOffset, &off_out) ||
      !GetInt(env, info[4], "length", 0, 0x7ffff000, &len)) {
    return Napi::Value();
  }
  if (!info[5].IsFunction()) {
    ThrowType(env, "cb must be a function");
    return Napi::Value();
  }
  auto* work = new CopyRange(info[5].As<Napi::Function>(), in, off_in, out, off_out, len);
  work->Queue();
  return env.Undefined();
}

}  // namespace

void InitOffload(Napi::Env env, Napi::Object exports) {
  exports.Set("copyFileRange", Napi::Function::New(env, CopyFileRange));
}

}  // namespace effio

#endif  // __linux__
