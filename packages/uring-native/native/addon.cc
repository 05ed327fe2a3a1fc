// @effio/uring-native: one io_uring driven from the libuv loop of the Node environment
// that created it. Raw syscalls only (no liburing), so building needs nothing but a C++
// toolchain and Node's headers. On non-Linux platforms this file compiles to a stub whose
// probe() reports the ring unavailable.
//
// Shape of the hot path:
//   JS prep*(slot, ...)   -> one SQE written into the mmap'd SQ (or the overflow queue)
//   uv_prepare / end of a completion batch -> one io_uring_enter() submits everything queued
//   uv_poll on the ring fd -> all CQEs copied into a shared Int32Array -> ONE JS call per batch
// Slot ids are owned by the JS facade; this file enforces that a slot is never reused before
// its own CQE and keeps every piece of native memory the kernel may read or write (paths,
// iovecs, open_how, timespecs) alive until then. JS buffers are pinned by the facade.

#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#ifdef __linux__
#include "uring_abi.h"
#endif

namespace {

#ifdef __linux__

// ---------------------------------------------------------------------------------------
// Syscall wrappers

int sys_setup(unsigned entries, io_uring_params* p) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, p));
}
int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg, size_t argsz) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz));
}
int sys_register(int fd, unsigned opcode, const void* arg, unsigned nr_args) {
  return static_cast<int>(syscall(__NR_io_uring_register, fd, opcode, arg, nr_args));
}

template <typename T> T load_acquire(const T* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
template <typename T> void store_release(T* p, T v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// Names by opcode number, up to the newest kernels we know of; unknown numbers become OP_<n>.
const char* const kOpNames[] = {
    "nop", "readv", "writev", "fsync", "read_fixed", "write_fixed", "poll_add", "poll_remove",
    "sync_file_range", "sendmsg", "recvmsg", "timeout", "timeout_remove", "accept", "async_cancel",
    "link_timeout", "connect", "fallocate", "openat", "close", "files_update", "statx", "read",
    "write", "fadvise", "madvise", "send", "recv", "openat2", "epoll_ctl", "splice",
    "provide_buffers", "remove_buffers", "tee", "shutdown", "renameat", "unlinkat", "mkdirat",
    "symlinkat", "linkat", "msg_ring", "fsetxattr", "setxattr", "fgetxattr", "getxattr", "socket",
    "uring_cmd", "send_zc", "sendmsg_zc", "read_multishot", "waitid", "futex_wait", "futex_wake",
    "futex_waitv", "fixed_fd_install", "ftruncate", "bind", "listen", "recv_zc", "epoll_wait",
    "readv_fixed", "writev_fixed", "pipe"};
constexpr unsigned kOpNameCount = sizeof(kOpNames) / sizeof(kOpNames[0]);

const char* const kFeatureNames[] = {
    "single_mmap", "nodrop", "submit_stable", "rw_cur_pos", "cur_personality", "fast_poll",
    "poll_32bits", "sqpoll_nonfixed", "ext_arg", "native_workers", "rsrc_tags", "cqe_skip",
    "linked_file", "reg_reg_ring", "recvsend_bundle", "min_timeout", "rw_attr", "no_iowait"};
constexpr unsigned kFeatureNameCount = sizeof(kFeatureNames) / sizeof(kFeatureNames[0]);

std::vector<std::string> FeatureList(uint32_t features) {
  std::vector<std::string> out;
  for (unsigned i = 0; i < 32; i++) {
    if (!(features & (1u << i))) continue;
    out.push_back(i < kFeatureNameCount ? kFeatureNames[i] : "feat_" + std::to_string(i));
  }
  return out;
}

std::string OpName(unsigned op) {
  return op < kOpNameCount ? kOpNames[op] : "op_" + std::to_string(op);
}

// Setup flag sets to try, best first. SUBMIT_ALL keeps one bad SQE from stalling the batch.
const uint32_t kFlagAttempts[] = {
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SINGLE_ISSUER,
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    IORING_SETUP_SUBMIT_ALL,
    0,
};

std::vector<std::string> SetupFlagList(uint32_t flags) {
  static const std::pair<uint32_t, const char*> names[] = {
      {IORING_SETUP_SQPOLL, "sqpoll"},           {IORING_SETUP_CQSIZE, "cqsize"},
      {IORING_SETUP_CLAMP, "clamp"},             {IORING_SETUP_SUBMIT_ALL, "submit_all"},
      {IORING_SETUP_COOP_TASKRUN, "coop_taskrun"}, {IORING_SETUP_TASKRUN_FLAG, "taskrun_flag"},
      {IORING_SETUP_SINGLE_ISSUER, "single_issuer"}, {IORING_SETUP_DEFER_TASKRUN, "defer_taskrun"}};
  std::vector<std::string> out;
  for (auto& n : names)
    if (flags & n.first) out.push_back(n.second);
  return out;
}

// ---------------------------------------------------------------------------------------
// The ring memory: SQ/CQ mappings and the SQE array.

struct RingMem {
  int fd = -1;
  io_uring_params params{};
  void* sq_ptr = nullptr;
  size_t sq_len = 0;
  void* cq_ptr = nullptr;
  size_t cq_len = 0;
  io_uring_sqe* sqes = nullptr;
  size_t sqes_len = 0;

  unsigned* sq_khead = nullptr;
  unsigned* sq_ktail = nullptr;
  unsigned* sq_kflags = nullptr;
  unsigned sq_mask = 0;
  unsigned sq_entries = 0;
  unsigned* cq_khead = nullptr;
  unsigned* cq_ktail = nullptr;
  unsigned cq_mask = 0;
  unsigned cq_entries = 0;
  io_uring_cqe* cqes = nullptr;

  // Returns 0 or -errno.
  int Open(unsigned entries, unsigned cq_entries_wanted, uint32_t flags) {
    params = io_uring_params{};
    params.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    params.cq_entries = cq_entries_wanted;
    fd = sys_setup(entries, &params);
    if (fd < 0) {
      fd = -1;
      return -errno;
    }
    sq_len = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    cq_len = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
    bool single = params.features & IORING_FEAT_SINGLE_MMAP;
    if (single) sq_len = cq_len = (sq_len > cq_len ? sq_len : cq_len);
    sq_ptr = mmap(nullptr, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (sq_ptr == MAP_FAILED) return Fail();
    if (single) {
      cq_ptr = sq_ptr;
    } else {
      cq_ptr = mmap(nullptr, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
      if (cq_ptr == MAP_FAILED) {
        cq_ptr = nullptr;
        return Fail();
      }
    }
    sqes_len = params.sq_entries * sizeof(io_uring_sqe);
    sqes = static_cast<io_uring_sqe*>(
        mmap(nullptr, sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES));
    if (sqes == MAP_FAILED) {
      sqes = nullptr;
      return Fail();
    }
    auto* sq = static_cast<char*>(sq_ptr);
    sq_khead = reinterpret_cast<unsigned*>(sq + params.sq_off.head);
    sq_ktail = reinterpret_cast<unsigned*>(sq + params.sq_off.tail);
    sq_kflags = reinterpret_cast<unsigned*>(sq + params.sq_off.flags);
    sq_mask = *reinterpret_cast<unsigned*>(sq + params.sq_off.ring_mask);
    sq_entries = *reinterpret_cast<unsigned*>(sq + params.sq_off.ring_entries);
    // Identity mapping of SQ index -> SQE slot, written once (as liburing does).
    auto* array = reinterpret_cast<unsigned*>(sq + params.sq_off.array);
    for (unsigned i = 0; i < sq_entries; i++) array[i] = i;
    auto* cq = static_cast<char*>(cq_ptr);
    cq_khead = reinterpret_cast<unsigned*>(cq + params.cq_off.head);
    cq_ktail = reinterpret_cast<unsigned*>(cq + params.cq_off.tail);
    cq_mask = *reinterpret_cast<unsigned*>(cq + params.cq_off.ring_mask);
    cq_entries = *reinterpret_cast<unsigned*>(cq + params.cq_off.ring_entries);
    cqes = reinterpret_cast<io_uring_cqe*>(cq + params.cq_off.cqes);
    return 0;
  }

  int Fail() {
    int e = -errno;
    Close();
    return e;
  }

  void Close() {
    if (sqes) munmap(sqes, sqes_len);
    if (cq_ptr && cq_ptr != sq_ptr) munmap(cq_ptr, cq_len);
    if (sq_ptr && sq_ptr != MAP_FAILED) munmap(sq_ptr, sq_len);
    sqes = nullptr;
    cq_ptr = sq_ptr = nullptr;
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

std::string KernelRelease() {
  struct utsname u;
  if (uname(&u) != 0) return "unknown";
  return u.release;
}

std::string ReadTrimmed(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[64];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return "";
  buf[n] = 0;
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string SetupFailureReason(int err) {
  switch (err) {
    case ENOSYS:
      return "io_uring_setup is not implemented by this kernel (ENOSYS)";
    case EPERM: {
      std::string disabled = ReadTrimmed("/proc/sys/kernel/io_uring_disabled");
      if (disabled == "2") return "io_uring is disabled by sysctl kernel.io_uring_disabled=2 (EPERM)";
      if (disabled == "1")
        return "io_uring is restricted by sysctl kernel.io_uring_disabled=1 and this process is not in "
               "kernel.io_uring_group (EPERM)";
      return "io_uring_setup was denied by a seccomp filter or security policy (EPERM)";
    }
    case EACCES:
      return "io_uring_setup was denied by a security module (EACCES)";
    case ENOMEM:
      return "io_uring_setup could not allocate ring memory; raise RLIMIT_MEMLOCK (ENOMEM)";
    case EMFILE:
    case ENFILE:
      return std::string("io_uring_setup could not allocate a file descriptor (") + (err == EMFILE ? "EMFILE" : "ENFILE") + ")";
    default:
      return std::string("io_uring_setup failed: ") + strerror(err) + " (errno " + std::to_string(err) + ")";
  }
}

// Opens a ring trying the flag sets above; returns 0 or -errno of the last attempt.
int OpenWithFallback(RingMem& mem, unsigned entries, unsigned cq_entries, uint32_t extra_flags) {
  int err = -EINVAL;
  for (uint32_t flags : kFlagAttempts) {
    err = mem.Open(entries, cq_entries, flags | extra_flags);
    if (err != -EINVAL) return err;
  }
  return err;
}

// ---------------------------------------------------------------------------------------
// probe()

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("kernel", KernelRelease());
  Napi::Array ops = Napi::Array::New(env);
  Napi::Array features = Napi::Array::New(env);
  out.Set("ops", ops);
  out.Set("features", features);

  RingMem mem;
  int err = OpenWithFallback(mem, 4, 8, 0);
  if (err < 0) {
    out.Set("available", false);
    out.Set("reason", SetupFailureReason(-err));
    out.Set("errno", -err);
    return out;
  }
  uint32_t idx = 0;
  for (auto& f : FeatureList(mem.params.features)) features.Set(idx++, f);

  const size_t probe_size = sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op);
  std::vector<char> storage(probe_size, 0);
  auto* pr = reinterpret_cast<io_uring_probe*>(storage.data());
  if (sys_register(mem.fd, IORING_REGISTER_PROBE, pr, 256) == 0) {
    idx = 0;
    for (unsigned i = 0; i <= pr->last_op && i < pr->ops_len; i++) {
      if (pr->ops[i].flags & IO_URING_OP_SUPPORTED) ops.Set(idx++, OpName(i));
    }
  }
  Napi::Array setup = Napi::Array::New(env);
  idx = 0;
  for (auto& f : SetupFlagList(mem.params.flags)) setup.Set(idx++, f);
  out.Set("setupFlags", setup);
  mem.Close();
  out.Set("available", true);
  return out;
}

// ---------------------------------------------------------------------------------------
// Per-slot native memory the kernel may read until the op's CQE.

struct SlotExtra {
  std::string path;
  std::string path2;
  std::vector<iovec> iov;
  open_how how{};
  __kernel_timespec ts{};
};

// user_data layout: bits 0..31 the JS slot; bit 63 marks internal SQEs (cancel requests)
// whose CQEs are consumed here and never reach JS.
constexpr uint64_t kInternal = 1ull << 63;
constexpr uint64_t kCancelAll = kInternal | 0xFFFFFFFFull;
constexpr uint32_t kMaxSlots = 1u << 24;

class Ring;

// libuv handles live in their own allocation: uv_close is asynchronous and may finish after
// the JS wrapper has been garbage collected.
struct LoopHandles {
  uv_poll_t poll;
  uv_prepare_t prepare;
  Ring* owner;
  int open_handles;
};

class Ring : public Napi::ObjectWrap<Ring> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Ring(const Napi::CallbackInfo& info);
  ~Ring() override;

 private:
  // JS-facing methods
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value InFlight(const Napi::CallbackInfo& info);
  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value PrepNop(const Napi::CallbackInfo& info);
  Napi::Value PrepRW(const Napi::CallbackInfo& info);
  Napi::Value PrepRWV(const Napi::CallbackInfo& info);
  Napi::Value PrepFsync(const Napi::CallbackInfo& info);
  Napi::Value PrepOpenat2(const Napi::CallbackInfo& info);
  Napi::Value PrepClose(const Napi::CallbackInfo& info);
  Napi::Value PrepStatx(const Napi::CallbackInfo& info);
  Napi::Value PrepUnlinkat(const Napi::CallbackInfo& info);
  Napi::Value PrepRenameat(const Napi::CallbackInfo& info);
  Napi::Value PrepMkdirat(const Napi::CallbackInfo& info);
  Napi::Value PrepSymlinkat(const Napi::CallbackInfo& info);
  Napi::Value PrepLinkat(const Napi::CallbackInfo& info);
  Napi::Value PrepFallocate(const Napi::CallbackInfo& info);
  Napi::Value PrepFtruncate(const Napi::CallbackInfo& info);
  Napi::Value PrepSplice(const Napi::CallbackInfo& info);
  Napi::Value PrepTimeout(const Napi::CallbackInfo& info);
  Napi::Value PrepPollAdd(const Napi::CallbackInfo& info);
  Napi::Value PrepCancel(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);

  // Internals
  bool EnsureOpen(Napi::Env env);
  bool TakeSlot(Napi::Env env, const Napi::Value& v, uint32_t* slot);
  io_uring_sqe* NextSqe();
  void Queue(const io_uring_sqe& sqe);
  void Commit(io_uring_sqe* sqe, uint8_t opcode, uint64_t user_data);
  SlotExtra& Extra(uint32_t slot);
  void ReleaseSlot(uint32_t slot);
  int Flush();
  void MoveOverflow();
  unsigned CopyCompletions(bool* any_internal);
  void NeedKernelFlush();
  void Reap();
  void UpdateRef();
  void Teardown(bool call_js);
  void DrainAll(bool call_js);
  static void OnPoll(uv_poll_t* h, int status, int events);
  static void OnPrepare(uv_prepare_t* h);
  static void OnHandleClosed(uv_handle_t* h);
  static void OnEnvCleanup(void* arg);

  RingMem mem_;
  bool open_ = false;
  bool dispatching_ = false;
  LoopHandles* handles_ = nullptr;
  uv_loop_t* loop_ = nullptr;
  napi_env env_ = nullptr;
  bool cleanup_hook_ = false;
  // While ops are in flight the JS wrapper and on_batch_ (and through it the facade with its
  // callbacks and pinned buffers) are held strongly; an idle ring holds nothing, so a ring
  // dropped without close() is garbage collected (the destructor then releases it).
  bool referenced_ = false;

  unsigned sq_tail_ = 0;       // local tail: SQEs written
  uint64_t in_flight_ = 0;     // SQEs queued or submitted whose final CQE has not been reaped
  uint64_t submitted_ = 0;     // counters for stats
  uint64_t enters_ = 0;
  uint64_t batches_ = 0;
  uint64_t completions_ = 0;
  std::deque<io_uring_sqe> overflow_;
  std::vector<std::unique_ptr<SlotExtra>> extras_;
  std::vector<uint8_t> busy_;

  Napi::Reference<Napi::Int32Array> out_ref_;
  int32_t* out_ = nullptr;  // [slot, res, flags] * out_cap_
  unsigned out_cap_ = 0;
  Napi::FunctionReference on_batch_;  // (count) => void; weak while idle, see referenced_
  Napi::ObjectReference async_resource_;
  std::unique_ptr<Napi::AsyncContext> async_ctx_;
};

// ---- argument helpers -----------------------------------------------------------------

bool ThrowType(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}
bool ThrowRange(Napi::Env env, const std::string& msg) {
  Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

// An integer-valued JS number in [lo, hi].
bool GetInt(Napi::Env env, const Napi::Value& v, const char* name, int64_t lo, int64_t hi, int64_t* out) {
  if (!v.IsNumber()) return ThrowType(env, std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != d || d != static_cast<double>(static_cast<int64_t>(d)))
    return ThrowType(env, std::string(name) + " must be an integer");
  int64_t i = static_cast<int64_t>(d);
  if (i < lo || i > hi)
    return ThrowRange(env, std::string(name) + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]: " + std::to_string(i));
  *out = i;
  return true;
}

bool GetFd(Napi::Env env, const Napi::Value& v, const char* name, int* fd) {
  int64_t i;
  if (!GetInt(env, v, name, 0, INT32_MAX, &i)) return false;
  *fd = static_cast<int>(i);
  return true;
}

// A directory fd: >= 0 or AT_FDCWD.
bool GetDirFd(Napi::Env env, const Napi::Value& v, const char* name, int* fd) {
  int64_t i;
  if (!GetInt(env, v, name, AT_FDCWD, INT32_MAX, &i)) return false;
  if (i < 0 && i != AT_FDCWD) return ThrowRange(env, std::string(name) + " must be a file descriptor >= 0 or AT_FDCWD");
  *fd = static_cast<int>(i);
  return true;
}

// A file position: -1 (current position / none) or 0..2^53.
bool GetPosition(Napi::Env env, const Napi::Value& v, const char* name, uint64_t* pos) {
  int64_t i;
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

// Any ArrayBufferView or ArrayBuffer -> (pointer, byte length); rejects detached buffers.
bool GetBytes(Napi::Env env, const Napi::Value& v, const char* name, uint8_t** data, size_t* len) {
  napi_value raw = v;
  bool is = false;
  napi_value ab = nullptr;
  void* ptr = nullptr;
  size_t byte_len = 0;
  if (napi_is_typedarray(env, raw, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_get_typedarray_info(env, raw, &type, &length, &ptr, &ab, &offset);
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    byte_len = length * elem;
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
  *data = static_cast<uint8_t*>(ptr);
  *len = byte_len;
  return true;
}

// buffer, offset, length -> a checked [ptr, ptr+len) inside the buffer.
bool GetRange(Napi::Env env, const Napi::Value& buf, const Napi::Value& off, const Napi::Value& len,
              uint8_t** ptr, uint32_t* n) {
  uint8_t* data;
  size_t size;
  if (!GetBytes(env, buf, "buffer", &data, &size)) return false;
  int64_t o, l;
  if (!GetInt(env, off, "offset", 0, INT64_MAX, &o)) return false;
  if (!GetInt(env, len, "length", 0, 0x7ffff000, &l)) return false;
  if (static_cast<uint64_t>(o) > size || static_cast<uint64_t>(l) > size - static_cast<uint64_t>(o))
    return ThrowRange(env, "offset + length (" + std::to_string(o) + " + " + std::to_string(l) +
                               ") is past the end of the buffer (" + std::to_string(size) + " bytes)");
  *ptr = data + o;
  *n = static_cast<uint32_t>(l);
  return true;
}

// ---- Ring -----------------------------------------------------------------------------

#define RING_METHOD(name, fn) InstanceMethod(name, &Ring::fn)

Napi::Function Ring::Init(Napi::Env env) {
  return DefineClass(env, "NativeRing",
                     {RING_METHOD("info", Info), RING_METHOD("inFlight", InFlight),
                      RING_METHOD("submit", Submit), RING_METHOD("close", Close),
                      RING_METHOD("nop", PrepNop), RING_METHOD("rw", PrepRW), RING_METHOD("rwv", PrepRWV),
                      RING_METHOD("fsync", PrepFsync), RING_METHOD("openat2", PrepOpenat2),
                      RING_METHOD("close_", PrepClose), RING_METHOD("statx", PrepStatx),
                      RING_METHOD("unlinkat", PrepUnlinkat), RING_METHOD("renameat", PrepRenameat),
                      RING_METHOD("mkdirat", PrepMkdirat), RING_METHOD("symlinkat", PrepSymlinkat),
                      RING_METHOD("linkat", PrepLinkat), RING_METHOD("fallocate", PrepFallocate),
                      RING_METHOD("ftruncate", PrepFtruncate), RING_METHOD("splice", PrepSplice),
                      RING_METHOD("timeout", PrepTimeout), RING_METHOD("pollAdd", PrepPollAdd),
                      RING_METHOD("asyncCancel", PrepCancel), RING_METHOD("cancel", Cancel)});
}

// new NativeRing(entries, cqEntries, out: Int32Array, onBatch: (count) => void)
Ring::Ring(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Ring>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  int64_t entries, cq_entries;
  if (!GetInt(env, info[0], "entries", 1, 32768, &entries)) return;
  if (!GetInt(env, info[1], "cqEntries", 2, 65536, &cq_entries)) return;
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowType(env, "out must be an Int32Array");
    return;
  }
  if (!info[3].IsFunction()) {
    ThrowType(env, "onBatch must be a function");
    return;
  }
  Napi::Int32Array out = info[2].As<Napi::Int32Array>();
  if (out.ElementLength() < 3) {
    ThrowRange(env, "out must hold at least one completion");
    return;
  }
  if (napi_get_uv_event_loop(env, &loop_) != napi_ok || loop_ == nullptr) {
    Napi::Error::New(env, "no libuv loop for this environment").ThrowAsJavaScriptException();
    return;
  }
  int err = OpenWithFallback(mem_, static_cast<unsigned>(entries), static_cast<unsigned>(cq_entries), 0);
  if (err < 0) {
    Napi::Error e = Napi::Error::New(env, SetupFailureReason(-err));
    e.Set("errno", Napi::Number::New(env, -err));
    e.Set("code", Napi::String::New(env, "ERR_IO_URING_UNAVAILABLE"));
    e.ThrowAsJavaScriptException();
    return;
  }
  out_ref_ = Napi::Persistent(out);
  out_ = out.Data();
  out_cap_ = static_cast<unsigned>(out.ElementLength() / 3);
  // Weak: a strong reference here would make wrapper -> on_batch_ -> facade -> wrapper a
  // cycle through a GC root, and no ring left unclosed could ever be collected.
  on_batch_ = Napi::Weak(info[3].As<Napi::Function>());
  Napi::Object resource = Napi::Object::New(env);
  async_resource_ = Napi::Persistent(resource);
  async_ctx_ = std::make_unique<Napi::AsyncContext>(env, "effio:uring", resource);

  handles_ = new LoopHandles();
  handles_->owner = this;
  handles_->open_handles = 0;
  uv_poll_init(loop_, &handles_->poll, mem_.fd);
  handles_->poll.data = handles_;
  handles_->open_handles++;
  uv_prepare_init(loop_, &handles_->prepare);
  handles_->prepare.data = handles_;
  handles_->open_handles++;
  uv_poll_start(&handles_->poll, UV_READABLE, OnPoll);
  uv_prepare_start(&handles_->prepare, OnPrepare);
  // Nothing in flight yet: an idle ring never keeps the process alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->prepare));
  napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
  cleanup_hook_ = true;
  open_ = true;
}

Ring::~Ring() {
  // Reached only when the wrapper is unreachable, which implies nothing is in flight
  // (the wrapper is held strongly while in_flight_ > 0).
  if (open_) Teardown(false);
  if (cleanup_hook_) napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
}

void Ring::OnEnvCleanup(void* arg) {
  Ring* self = static_cast<Ring*>(arg);
  self->cleanup_hook_ = false;
  // Environment is going away: cancel and wait for in-flight ops without calling JS, so
  // the kernel is done with every buffer before the heap is torn down.
  if (self->open_) self->Teardown(false);
}

bool Ring::EnsureOpen(Napi::Env env) {
  if (open_) return true;
  Napi::Error e = Napi::Error::New(env, "the ring is closed");
  e.Set("code", Napi::String::New(env, "ERR_RING_CLOSED"));
  e.ThrowAsJavaScriptException();
  return false;
}

bool Ring::TakeSlot(Napi::Env env, const Napi::Value& v, uint32_t* slot) {
  if (!EnsureOpen(env)) return false;
  int64_t s;
  if (!GetInt(env, v, "slot", 0, kMaxSlots - 1, &s)) return false;
  if (static_cast<size_t>(s) >= busy_.size()) busy_.resize(static_cast<size_t>(s) * 2 + 64, 0);
  if (busy_[s]) {
    Napi::Error::New(env, "slot " + std::to_string(s) + " is still in flight").ThrowAsJavaScriptException();
    return false;
  }
  *slot = static_cast<uint32_t>(s);
  return true;
}

SlotExtra& Ring::Extra(uint32_t slot) {
  if (slot >= extras_.size()) extras_.resize(static_cast<size_t>(slot) * 2 + 64);
  auto& e = extras_[slot];
  if (!e) e = std::make_unique<SlotExtra>();
  return *e;
}

void Ring::ReleaseSlot(uint32_t slot) {
  if (slot < busy_.size()) busy_[slot] = 0;
  if (slot < extras_.size() && extras_[slot]) {
    // Keep the allocation for reuse but drop large contents.
    auto& e = *extras_[slot];
    e.path.clear();
    e.path2.clear();
    if (e.iov.capacity() > 64) std::vector<iovec>().swap(e.iov); else e.iov.clear();
  }
}

// A zeroed SQE to fill: a free SQ entry when there is one (after trying to submit when the
// SQ is full), else nullptr and the caller queues to the overflow list.
io_uring_sqe* Ring::NextSqe() {
  if (!overflow_.empty()) return nullptr;  // keep FIFO order behind queued SQEs
  unsigned head = load_acquire(mem_.sq_khead);
  if (sq_tail_ - head >= mem_.sq_entries) {
    Flush();
    head = load_acquire(mem_.sq_khead);
    if (sq_tail_ - head >= mem_.sq_entries) return nullptr;
  }
  io_uring_sqe* sqe = &mem_.sqes[sq_tail_ & mem_.sq_mask];
  memset(sqe, 0, sizeof(*sqe));
  return sqe;
}

void Ring::Queue(const io_uring_sqe& sqe) {
  io_uring_sqe* dst = NextSqe();
  if (dst) {
    *dst = sqe;
    sq_tail_++;
    store_release(mem_.sq_ktail, sq_tail_);
  } else {
    overflow_.push_back(sqe);
  }
}

void Ring::Commit(io_uring_sqe* sqe, uint8_t opcode, uint64_t user_data) {
  sqe->opcode = opcode;
  sqe->user_data = user_data;
  if (!(user_data & kInternal)) busy_[user_data & 0xFFFFFFFFu] = 1;
  in_flight_++;
  Queue(*sqe);
  UpdateRef();
}

void Ring::MoveOverflow() {
  while (!overflow_.empty()) {
    unsigned head = load_acquire(mem_.sq_khead);
    if (sq_tail_ - head >= mem_.sq_entries) {
      if (Flush() <= 0) return;
      continue;
    }
    mem_.sqes[sq_tail_ & mem_.sq_mask] = overflow_.front();
    overflow_.pop_front();
    sq_tail_++;
    store_release(mem_.sq_ktail, sq_tail_);
  }
}

// Submits every SQE written so far with one io_uring_enter. Returns the number submitted,
// 0 when there was nothing to do, or -errno (EAGAIN/EBUSY: retried after the next reap).
int Ring::Flush() {
  if (!open_) return 0;
  unsigned pending = sq_tail_ - load_acquire(mem_.sq_khead);
  if (pending == 0) return 0;
  int r;
  do {
    r = sys_enter(mem_.fd, pending, 0, 0, nullptr, 0);
  } while (r < 0 && errno == EINTR);
  enters_++;
  if (r < 0) return -errno;
  submitted_ += static_cast<unsigned>(r);
  return r;
}

void Ring::NeedKernelFlush() {
  // Overflowed CQEs (IORING_FEAT_NODROP keeps them in the kernel) and deferred task work are
  // only moved into the CQ by an io_uring_enter with GETEVENTS.
  unsigned flags = load_acquire(mem_.sq_kflags);
  if (flags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) {
    int r;
    do {
      r = sys_enter(mem_.fd, 0, 0, IORING_ENTER_GETEVENTS, nullptr, 0);
    } while (r < 0 && errno == EINTR);
    enters_++;
  }
}

// Copies ready CQEs into out_ (up to its capacity) and advances the CQ head. Internal CQEs
// are consumed here. Returns the number of entries written for JS.
unsigned Ring::CopyCompletions(bool* any) {
  unsigned head = *mem_.cq_khead;
  unsigned tail = load_acquire(mem_.cq_ktail);
  unsigned n = 0;
  while (head != tail && n < out_cap_) {
    const io_uring_cqe& cqe = mem_.cqes[head & mem_.cq_mask];
    head++;
    *any = true;
    completions_++;
    bool more = cqe.flags & IORING_CQE_F_MORE;
    if (!more) in_flight_--;
    if (cqe.user_data & kInternal) continue;
    uint32_t slot = static_cast<uint32_t>(cqe.user_data);
    int32_t res = (slot < busy_.size() && busy_[slot] == 2) ? -ECANCELED : cqe.res;
    if (!more) ReleaseSlot(slot);
    out_[n * 3] = static_cast<int32_t>(slot);
    out_[n * 3 + 1] = res;
    out_[n * 3 + 2] = static_cast<int32_t>(cqe.flags);
    n++;
  }
  store_release(mem_.cq_khead, head);
  return n;
}

void Ring::UpdateRef() {
  if (!handles_) return;
  bool want = in_flight_ > 0;
  auto* poll = reinterpret_cast<uv_handle_t*>(&handles_->poll);
  if (want && !uv_has_ref(poll)) uv_ref(poll);
  if (!want && uv_has_ref(poll)) uv_unref(poll);
  if (want && !referenced_) {
    Ref();
    on_batch_.Ref();
    referenced_ = true;
  } else if (!want && referenced_) {
    referenced_ = false;
    on_batch_.Unref();
    Unref();
  }
}

// Reap every ready completion, handing them to JS one batch per call, then submit whatever
// the callbacks queued.
void Ring::Reap() {
  if (dispatching_) return;
  dispatching_ = true;
  Napi::Env env(env_);
  for (int rounds = 0; open_ && rounds < 64; rounds++) {
    bool any = false;
    unsigned n = CopyCompletions(&any);
    if (n > 0) {
      batches_++;
      Napi::HandleScope scope(env);
      // MakeCallback: runs microtasks and nextTicks when the call returns, so fibers resumed
      // by this batch run before libuv goes on.
      napi_value argv[1] = {Napi::Number::New(env, n)};
      napi_value result;
      napi_status st = napi_make_callback(env, *async_ctx_, async_resource_.Value(), on_batch_.Value(), 1, argv, &result);
      if (st == napi_pending_exception) {
        napi_value exc;
        napi_get_and_clear_last_exception(env, &exc);
        napi_fatal_exception(env, exc);
      }
    }
    if (!open_) break;
    MoveOverflow();
    Flush();
    if (!any) {
      unsigned flags = load_acquire(mem_.sq_kflags);
      if (!(flags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN))) break;
      NeedKernelFlush();
    }
  }
  dispatching_ = false;
  if (open_) UpdateRef();
}

void Ring::OnPoll(uv_poll_t* h, int status, int events) {
  auto* hs = static_cast<LoopHandles*>(h->data);
  if (hs->owner) hs->owner->Reap();
}

void Ring::OnPrepare(uv_prepare_t* h) {
  auto* hs = static_cast<LoopHandles*>(h->data);
  Ring* self = hs->owner;
  if (!self || !self->open_) return;
  if (!self->overflow_.empty()) self->MoveOverflow();
  self->Flush();
  // Completions that the submit produced inline (cached reads, nops) are already in the CQ;
  // the poll phase right after this will see the ring fd readable and dispatch them.
}

void Ring::OnHandleClosed(uv_handle_t* h) {
  auto* hs = static_cast<LoopHandles*>(h->data);
  if (--hs->open_handles == 0) delete hs;
}

// Cancel everything in flight and wait for each op's own CQE. When call_js is true the
// completions are delivered to JS (from inside a JS call, so no MakeCallback).
void Ring::DrainAll(bool call_js) {
  if (in_flight_ == 0 && overflow_.empty()) return;
  // SQEs still waiting in the overflow list never reached the kernel: complete them here.
  Napi::Env env(env_);
  while (!overflow_.empty()) {
    io_uring_sqe sqe = overflow_.front();
    overflow_.pop_front();
    in_flight_--;
    if (sqe.user_data & kInternal) continue;
    uint32_t slot = static_cast<uint32_t>(sqe.user_data);
    ReleaseSlot(slot);
    if (call_js) {
      out_[0] = static_cast<int32_t>(slot);
      out_[1] = -ECANCELED;
      out_[2] = 0;
      Napi::HandleScope scope(env);
      on_batch_.Call({Napi::Number::New(env, 1)});
      if (env.IsExceptionPending()) {
        Napi::Error e = env.GetAndClearPendingException();
        (void)e;  // a throwing callback must not stop the drain
      }
    }
  }
  if (in_flight_ == 0) return;
  io_uring_sqe cancel{};
  cancel.opcode = IORING_OP_ASYNC_CANCEL;
  cancel.fd = -1;
  cancel.cancel_flags = IORING_ASYNC_CANCEL_ANY;
  cancel.user_data = kCancelAll;
  in_flight_++;
  Queue(cancel);
  Flush();
  // Wait up to ~30 s for every CQE; each wait is bounded so a stuck op cannot hang forever.
  for (int waited_ms = 0; in_flight_ > 0 && waited_ms < 30000;) {
    bool any = false;
    unsigned n = CopyCompletions(&any);
    if (n > 0 && call_js) {
      Napi::HandleScope scope(env);
      on_batch_.Call({Napi::Number::New(env, n)});
      if (env.IsExceptionPending()) (void)env.GetAndClearPendingException();
    }
    if (any || in_flight_ == 0) continue;
    if (mem_.params.features & IORING_FEAT_EXT_ARG) {
      __kernel_timespec ts{0, 50 * 1000 * 1000};
      io_uring_getevents_arg arg{};
      arg.ts = reinterpret_cast<uint64_t>(&ts);
      int r = sys_enter(mem_.fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
      if (r < 0 && errno == ETIME) waited_ms += 50;
      if (r < 0 && errno != ETIME && errno != EINTR) waited_ms += 50;
    } else {
      sys_enter(mem_.fd, 0, 1, IORING_ENTER_GETEVENTS, nullptr, 0);
    }
    // Re-issue the cancel now and then: an op may have been mid-issue the first time.
    if (waited_ms > 0 && waited_ms % 1000 == 0) {
      in_flight_++;
      Queue(cancel);
      Flush();
    }
  }
}

void Ring::Teardown(bool call_js) {
  open_ = false;
  // Re-open the gate briefly for the drain's own submissions.
  open_ = true;
  DrainAll(call_js);
  open_ = false;
  if (in_flight_ > 0) {
    // The kernel still owns memory we cannot prove free: leak the mapping, fd and pinned
    // buffers rather than risk the kernel writing into reused memory.
    fprintf(stderr, "effio: ring closed with %llu ops that never completed; leaking their memory\n",
            static_cast<unsigned long long>(in_flight_));
  } else {
    mem_.Close();
    extras_.clear();
  }
  if (handles_) {
    handles_->owner = nullptr;
    uv_poll_stop(&handles_->poll);
    uv_prepare_stop(&handles_->prepare);
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->poll), OnHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->prepare), OnHandleClosed);
    handles_ = nullptr;
  }
  if (referenced_ && in_flight_ == 0) {
    referenced_ = false;
    on_batch_.Unref();
    Unref();
  }
}

// ---- JS methods -----------------------------------------------------------------------

Napi::Value Ring::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("open", open_);
  o.Set("sqEntries", mem_.sq_entries);
  o.Set("cqEntries", mem_.cq_entries);
  Napi::Array features = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& f : FeatureList(mem_.params.features)) features.Set(i++, f);
  o.Set("features", features);
  Napi::Array flags = Napi::Array::New(env);
  i = 0;
  for (auto& f : SetupFlagList(mem_.params.flags)) flags.Set(i++, f);
  o.Set("setupFlags", flags);
  o.Set("fd", mem_.fd);
  o.Set("inFlight", static_cast<double>(in_flight_));
  o.Set("overflowQueued", static_cast<double>(overflow_.size()));
  o.Set("submitted", static_cast<double>(submitted_));
  o.Set("enters", static_cast<double>(enters_));
  o.Set("batches", static_cast<double>(batches_));
  o.Set("completions", static_cast<double>(completions_));
  return o;
}

Napi::Value Ring::InFlight(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(in_flight_));
}

Napi::Value Ring::Submit(const Napi::CallbackInfo& info) {
  if (!open_) return Napi::Number::New(info.Env(), 0);
  MoveOverflow();
  int r = Flush();
  return Napi::Number::New(info.Env(), r);
}

Napi::Value Ring::Close(const Napi::CallbackInfo& info) {
  if (open_) Teardown(true);
  return info.Env().Undefined();
}

// nop(slot)
Napi::Value Ring::PrepNop(const Napi::CallbackInfo& info) {
  uint32_t slot;
  if (!TakeSlot(info.Env(), info[0], &slot)) return Napi::Value();
  io_uring_sqe sqe{};
  Commit(&sqe, IORING_OP_NOP, slot);
  return Napi::Value();
}

// rw(slot, write: boolean, fd, buffer, offset, length, position)
Napi::Value Ring::PrepRW(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int fd;
  uint8_t* ptr;
  uint32_t len;
  uint64_t pos;
  if (!TakeSlot(env, info[0], &slot) || !GetFd(env, info[2], "fd", &fd) ||
      !GetRange(env, info[3], info[4], info[5], &ptr, &len) || !GetPosition(env, info[6], "position", &pos))
    return Napi::Value();
  io_uring_sqe sqe{};
  sqe.fd = fd;
  sqe.addr = reinterpret_cast<uint64_t>(ptr);
  sqe.len = len;
  sqe.off = pos;
  Commit(&sqe, info[1].ToBoolean() ? IORING_OP_WRITE : IORING_OP_READ, slot);
  return Napi::Value();
}

// rwv(slot, write: boolean, fd, buffers: ArrayBufferView[], position)
Napi::Value Ring::PrepRWV(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int fd;
  uint64_t pos;
  if (!TakeSlot(env, info[0], &slot) || !GetFd(env, info[2], "fd", &fd)) return Napi::Value();
  if (!info[3].IsArray()) {
    ThrowType(env, "buffers must be an array");
    return Napi::Value();
  }
  if (!GetPosition(env, info[4], "position", &pos)) return Napi::Value();
  Napi::Array arr = info[3].As<Napi::Array>();
  uint32_t count = arr.Length();
  if (count == 0 || count > IOV_MAX) {
    ThrowRange(env, "buffers must hold 1.." + std::to_string(IOV_MAX) + " buffers");
    return Napi::Value();
  }
  std::vector<iovec> iov(count);
  for (uint32_t i = 0; i < count; i++) {
    uint8_t* data;
    size_t size;
    if (!GetBytes(env, arr.Get(i), "buffers[i]", &data, &size)) return Napi::Value();
    iov[i].iov_base = data;
    iov[i].iov_len = size;
  }
  SlotExtra& ex = Extra(slot);
  ex.iov.swap(iov);
  io_uring_sqe sqe{};
  sqe.fd = fd;
  sqe.addr = reinterpret_cast<uint64_t>(ex.iov.data());
  sqe.len = count;
  sqe.off = pos;
  Commit(&sqe, info[1].ToBoolean() ? IORING_OP_WRITEV : IORING_OP_READV, slot);
  return Napi::Value();
}

// fsync(slot, fd, datasync: boolean)
Napi::Value Ring::PrepFsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int fd;
  if (!TakeSlot(env, info[0], &slot) || !GetFd(env, info[1], "fd", &fd)) return Napi::Value();
  io_uring_sqe sqe{};
  sqe.fd = fd;
  sqe.fsync_flags = info[2].ToBoolean() ? IORING_FSYNC_DATASYNC : 0;
  Commit(&sqe, IORING_OP_FSYNC, slot);
  return Napi::Value();
}

// openat2(slot, dirfd, path, flags, mode, resolve)
Napi::Value Ring::PrepOpenat2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int dirfd;
  std::string path;
  int64_t flags, mode, resolve;
  if (!TakeSlot(env, info[0], &slot) || !GetDirFd(env, info[1], "dirfd", &dirfd) ||
      !GetString(env, info[2], "path", &path) || !GetInt(env, info[3], "flags", 0, UINT32_MAX, &flags) ||
      !GetInt(env, info[4], "mode", 0, 07777, &mode) || !GetInt(env, info[5], "resolve", 0, UINT32_MAX, &resolve))
    return Napi::Value();
  SlotExtra& ex = Extra(slot);
  ex.path.swap(path);
  ex.how = open_how{};
  ex.how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  // The kernel rejects a mode without O_CREAT/O_TMPFILE in openat2. glibc's __O_TMPFILE
  // includes O_DIRECTORY, so test for the whole O_TMPFILE (a plain O_DIRECTORY open has no mode).
  const bool creates = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
  ex.how.mode = creates ? static_cast<uint64_t>(mode) : 0;
  ex.how.resolve = static_cast<uint64_t>(resolve);
  io_uring_sqe sqe{};
  sqe.fd = dirfd;
  sqe.addr = reinterpret_cast<uint64_t>(ex.path.c_str());
  sqe.len = sizeof(open_how);
  sqe.off = reinterpret_cast<uint64_t>(&ex.how);
  Commit(&sqe, IORING_OP_OPENAT2, slot);
  return Napi::Value();
}

// close_(slot, fd)
Napi::Value Ring::PrepClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int fd;
  if (!TakeSlot(env, info[0], &slot) || !GetFd(env, info[1], "fd", &fd)) return Napi::Value();
  io_uring_sqe sqe{};
  sqe.fd = fd;
  Commit(&sqe, IORING_OP_CLOSE, slot);
  return Napi::Value();
}

// statx(slot, dirfd, path, flags, mask, out: >= 256 bytes)
Napi::Value Ring::PrepStatx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int dirfd;
  std::string path;
  int64_t flags, mask;
  uint8_t* out;
  size_t out_len;
  if (!TakeSlot(env, info[0], &slot) || !GetDirFd(env, info[1], "dirfd", &dirfd) ||
      !GetString(env, info[2], "path", &path) || !GetInt(env, info[3], "flags", 0, INT32_MAX, &flags) ||
      !GetInt(env, info[4], "mask", 0, UINT32_MAX, &mask) || !GetBytes(env, info[5], "out", &out, &out_len))
    return Napi::Value();
  if (out_len < sizeof(struct statx)) {
    ThrowRange(env, "out must hold at least " + std::to_string(sizeof(struct statx)) + " bytes");
    return Napi::Value();
  }
  SlotExtra& ex = Extra(slot);
  ex.path.swap(path);
  io_uring_sqe sqe{};
  sqe.fd = dirfd;
  sqe.addr = reinterpret_cast<uint64_t>(ex.path.c_str());
  sqe.len = static_cast<uint32_t>(mask);
  sqe.off = reinterpret_cast<uint64_t>(out);
  sqe.statx_flags = static_cast<uint32_t>(flags);
  Commit(&sqe, IORING_OP_STATX, slot);
  return Napi::Value();
}

// unlinkat(slot, dirfd, path, flags)
Napi::Value Ring::PrepUnlinkat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int dirfd;
  std::string path;
  int64_t flags;
  if (!TakeSlot(env, info[0], &slot) || !GetDirFd(env, info[1], "dirfd", &dirfd) ||
      !GetString(env, info[2], "path", &path) || !GetInt(env, info[3], "flags", 0, INT32_MAX, &flags))
    return Napi::Value();
  SlotExtra& ex = Extra(slot);
  ex.path.swap(path);
  io_uring_sqe sqe{};
  sqe.fd = dirfd;
  sqe.addr = reinterpret_cast<uint64_t>(ex.path.c_str());
  sqe.unlink_flags = static_cast<uint32_t>(flags);
  Commit(&sqe, IORING_OP_UNLINKAT, slot);
  return Napi::Value();
}

// Two-path ops share one shape: (slot, olddirfd, oldpath, newdirfd, newpath, flags).
static bool TwoPaths(Napi::Env env, const Napi::CallbackInfo& info, int* d1, std::string* p1, int* d2,
                     std::string* p2, int64_t* flags) {
  return GetDirFd(env, info[1], "olddirfd", d1) && GetString(env, info[2], "oldpath", p1) &&
         GetDirFd(env, info[3], "newdirfd", d2) && GetString(env, info[4], "newpath", p2) &&
         GetInt(env, info[5], "flags", 0, INT32_MAX, flags);
}

// renameat(slot, olddirfd, oldpath, newdirfd, newpath, flags)
Napi::Value Ring::PrepRenameat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int d1, d2;
  std::string p1, p2;
  int64_t flags;
  if (!TakeSlot(env, info[0], &slot) || !TwoPaths(env, info, &d1, &p1, &d2, &p2, &flags)) return Napi::Value();
  SlotExtra& ex = Extra(slot);
  ex.path.swap(p1);
  ex.path2.swap(p2);
  io_uring_sqe sqe{};
  sqe.fd = d1;
  sqe.addr = reinterpret_cast<uint64_t>(ex.path.c_str());
  sqe.len = static_cast<uint32_t>(d2);
  sqe.addr2 = reinterpret_cast<uint64_t>(ex.path2.c_str());
  sqe.rename_flags = static_cast<uint32_t>(flags);
  Commit(&sqe, IORING_OP_RENAMEAT, slot);
  return Napi::Value();
}

// linkat(slot, olddirfd, oldpath, newdirfd, newpath, flags)
Napi::Value Ring::PrepLinkat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int d1, d2;
  std::string p1, p2;
  int64_t flags;
  if (!TakeSlot(env, info[0], &slot) || !TwoPaths(env, info, &d1, &p1, &d2, &p2, &flags)) return Napi::Value();
  SlotExtra& ex = Extra(slot);
  ex.path.swap(p1);
  ex.path2.swap(p2);
  io_uring_sqe sqe{};
  sqe.fd = d1;
  sqe.addr = reinterpret_cast<uint64_t>(ex.path.c_str());
  sqe.len = static_cast<uint32_t>(d2);
  sqe.addr2 = reinterpret_cast<uint64_t>(ex.path2.c_str());
  sqe.hardlink_flags = static_cast<uint32_t>(flags);
  Commit(&sqe, IORING_OP_LINKAT, slot);
  return Napi::Value();
}

// mkdirat(slot, dirfd, path, mode)
Napi::Value Ring::PrepMkdirat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int dirfd;
  std::string path;
  int64_t mode;
  if (!TakeSlot(env, info[0], &slot) || !GetDirFd(env, info[1], "dirfd", &dirfd) ||
      !GetString(env, info[2], "path", &path) || !GetInt(env, info[3], "mode", 0, 07777, &mode))
    return Napi::Value();
  SlotExtra& ex = Extra(slot);
  ex.path.swap(path);
  io_uring_sqe sqe{};
  sqe.fd = dirfd;
  sqe.addr = reinterpret_cast<uint64_t>(ex.path.c_str());
  sqe.len = static_cast<uint32_t>(mode);
  Commit(&sqe, IORING_OP_MKDIRAT, slot);
  return Napi::Value();
}

// symlinkat(slot, target, newdirfd, linkpath)
Napi::Value Ring::PrepSymlinkat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int dirfd;
  std::string target, linkpath;
  if (!TakeSlot(env, info[0], &slot) || !GetString(env, info[1], "target", &target) ||
      !GetDirFd(env, info[2], "newdirfd", &dirfd) || !GetString(env, info[3], "linkpath", &linkpath))
    return Napi::Value();
  SlotExtra& ex = Extra(slot);
  ex.path.swap(target);
  ex.path2.swap(linkpath);
  io_uring_sqe sqe{};
  sqe.fd = dirfd;
  sqe.addr = reinterpret_cast<uint64_t>(ex.path.c_str());
  sqe.addr2 = reinterpret_cast<uint64_t>(ex.path2.c_str());
  Commit(&sqe, IORING_OP_SYMLINKAT, slot);
  return Napi::Value();
}

// fallocate(slot, fd, mode, offset, length)
Napi::Value Ring::PrepFallocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int fd;
  int64_t mode, off, len;
  if (!TakeSlot(env, info[0], &slot) || !GetFd(env, info[1], "fd", &fd) ||
      !GetInt(env, info[2], "mode", 0, INT32_MAX, &mode) || !GetInt(env, info[3], "offset", 0, 1ll << 53, &off) ||
      !GetInt(env, info[4], "length", 1, 1ll << 53, &len))
    return Napi::Value();
  io_uring_sqe sqe{};
  sqe.fd = fd;
  sqe.off = static_cast<uint64_t>(off);
  sqe.addr = static_cast<uint64_t>(len);
  sqe.len = static_cast<uint32_t>(mode);
  Commit(&sqe, IORING_OP_FALLOCATE, slot);
  return Napi::Value();
}

// ftruncate(slot, fd, length)  (IORING_OP_FTRUNCATE, Linux 6.9+: check probe().ops)
Napi::Value Ring::PrepFtruncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int fd;
  int64_t len;
  if (!TakeSlot(env, info[0], &slot) || !GetFd(env, info[1], "fd", &fd) ||
      !GetInt(env, info[2], "length", 0, 1ll << 53, &len))
    return Napi::Value();
  io_uring_sqe sqe{};
  sqe.fd = fd;
  sqe.off = static_cast<uint64_t>(len);
  Commit(&sqe, EFFIO_IORING_OP_FTRUNCATE, slot);
  return Napi::Value();
}

// splice(slot, fdIn, offIn, fdOut, offOut, length, flags)   offsets: -1 = none (pipes)
Napi::Value Ring::PrepSplice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int fd_in, fd_out;
  uint64_t off_in, off_out;
  int64_t len, flags;
  if (!TakeSlot(env, info[0], &slot) || !GetFd(env, info[1], "fdIn", &fd_in) ||
      !GetPosition(env, info[2], "offIn", &off_in) || !GetFd(env, info[3], "fdOut", &fd_out) ||
      !GetPosition(env, info[4], "offOut", &off_out) || !GetInt(env, info[5], "length", 0, 0x7ffff000, &len) ||
      !GetInt(env, info[6], "flags", 0, UINT32_MAX, &flags))
    return Napi::Value();
  io_uring_sqe sqe{};
  sqe.fd = fd_out;
  sqe.off = off_out;
  sqe.splice_off_in = off_in;
  sqe.splice_fd_in = fd_in;
  sqe.len = static_cast<uint32_t>(len);
  sqe.splice_flags = static_cast<uint32_t>(flags) & ~SPLICE_F_FD_IN_FIXED;
  Commit(&sqe, IORING_OP_SPLICE, slot);
  return Napi::Value();
}

// timeout(slot, nanoseconds, count, flags)  -> -ETIME when it fires, 0 after `count` CQEs
Napi::Value Ring::PrepTimeout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int64_t ns, count, flags;
  if (!TakeSlot(env, info[0], &slot) || !GetInt(env, info[1], "nanoseconds", 0, 1ll << 53, &ns) ||
      !GetInt(env, info[2], "count", 0, UINT32_MAX, &count) || !GetInt(env, info[3], "flags", 0, UINT32_MAX, &flags))
    return Napi::Value();
  SlotExtra& ex = Extra(slot);
  ex.ts.tv_sec = ns / 1000000000ll;
  ex.ts.tv_nsec = ns % 1000000000ll;
  io_uring_sqe sqe{};
  sqe.fd = -1;
  sqe.addr = reinterpret_cast<uint64_t>(&ex.ts);
  sqe.len = 1;
  sqe.off = static_cast<uint64_t>(count);
  sqe.timeout_flags = static_cast<uint32_t>(flags);
  Commit(&sqe, IORING_OP_TIMEOUT, slot);
  return Napi::Value();
}

// pollAdd(slot, fd, events, multishot)
Napi::Value Ring::PrepPollAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int fd;
  int64_t events;
  if (!TakeSlot(env, info[0], &slot) || !GetFd(env, info[1], "fd", &fd) ||
      !GetInt(env, info[2], "events", 0, UINT32_MAX, &events))
    return Napi::Value();
  io_uring_sqe sqe{};
  sqe.fd = fd;
  sqe.poll32_events = static_cast<uint32_t>(events);
  if (info[3].ToBoolean()) sqe.len = IORING_POLL_ADD_MULTI;
  Commit(&sqe, IORING_OP_POLL_ADD, slot);
  return Napi::Value();
}

// asyncCancel(slot, targetSlot): a cancel request with its own CQE (0, -ENOENT, -EALREADY).
Napi::Value Ring::PrepCancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot;
  int64_t target;
  if (!TakeSlot(env, info[0], &slot) || !GetInt(env, info[1], "target", 0, kMaxSlots - 1, &target))
    return Napi::Value();
  io_uring_sqe sqe{};
  sqe.fd = -1;
  sqe.addr = static_cast<uint64_t>(target);
  Commit(&sqe, IORING_OP_ASYNC_CANCEL, slot);
  return Napi::Value();
}

// cancel(targetSlot): fire-and-forget cancel; the target still completes through its own
// CQE (-ECANCELED, or its real result if it won the race). Returns false if not in flight.
Napi::Value Ring::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t target;
  if (!EnsureOpen(env) || !GetInt(env, info[0], "target", 0, kMaxSlots - 1, &target)) return Napi::Value();
  if (static_cast<size_t>(target) >= busy_.size() || !busy_[target]) return Napi::Boolean::New(env, false);
  // Still waiting in the overflow list: drop it there, completing it as cancelled.
  for (auto it = overflow_.begin(); it != overflow_.end(); ++it) {
    if (it->user_data == static_cast<uint64_t>(target)) {
      overflow_.erase(it);
      // It never reached the kernel: a NOP takes its place at the front so it still completes
      // through its own CQE, which CopyCompletions reports as -ECANCELED (busy_ == 2).
      io_uring_sqe nop{};
      nop.opcode = IORING_OP_NOP;
      nop.user_data = static_cast<uint64_t>(target);
      overflow_.push_front(nop);
      busy_[target] = 2;
      return Napi::Boolean::New(env, true);
    }
  }
  io_uring_sqe sqe{};
  sqe.opcode = IORING_OP_ASYNC_CANCEL;
  sqe.fd = -1;
  sqe.addr = static_cast<uint64_t>(target);
  sqe.user_data = kInternal | static_cast<uint64_t>(target);
  in_flight_++;
  Queue(sqe);
  UpdateRef();
  return Napi::Boolean::New(env, true);
}

// pipe2(O_CLOEXEC) -> [readFd, writeFd], optionally resized with F_SETPIPE_SZ (best effort:
// the size is capped by /proc/sys/fs/pipe-max-size for unprivileged processes). Node has no
// API for an OS pipe; the runtime's stdenv (env.pipe) and fs's splice copy need one. Throws an
// Error with `code` = errno name on failure.
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

#endif  // __linux__

}  // namespace

#ifdef __linux__

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("NativeRing", Ring::Init(env));
  exports.Set("pipe2", Napi::Function::New(env, Pipe2));
  exports.Set("platform", "linux");
  // Arch-dependent values (O_* differ between x86 and arm64), taken from the C headers.
  Napi::Object c = Napi::Object::New(env);
  const std::pair<const char*, int64_t> values[] = {
      {"AT_FDCWD", AT_FDCWD}, {"AT_EMPTY_PATH", AT_EMPTY_PATH}, {"AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW},
      {"AT_REMOVEDIR", AT_REMOVEDIR}, {"AT_SYMLINK_FOLLOW", AT_SYMLINK_FOLLOW},
      {"O_RDONLY", O_RDONLY}, {"O_WRONLY", O_WRONLY}, {"O_RDWR", O_RDWR}, {"O_CREAT", O_CREAT},
      {"O_EXCL", O_EXCL}, {"O_TRUNC", O_TRUNC}, {"O_APPEND", O_APPEND}, {"O_NONBLOCK", O_NONBLOCK},
      {"O_DIRECTORY", O_DIRECTORY}, {"O_NOFOLLOW", O_NOFOLLOW}, {"O_CLOEXEC", O_CLOEXEC},
      {"O_PATH", O_PATH}, {"O_NOCTTY", O_NOCTTY}, {"O_SYNC", O_SYNC}, {"O_DSYNC", O_DSYNC},
      {"O_DIRECT", O_DIRECT}, {"O_TMPFILE", O_TMPFILE},
      {"RESOLVE_NO_XDEV", RESOLVE_NO_XDEV}, {"RESOLVE_NO_MAGICLINKS", RESOLVE_NO_MAGICLINKS},
      {"RESOLVE_NO_SYMLINKS", RESOLVE_NO_SYMLINKS}, {"RESOLVE_BENEATH", RESOLVE_BENEATH},
      {"RESOLVE_IN_ROOT", RESOLVE_IN_ROOT},
      {"STATX_BASIC_STATS", STATX_BASIC_STATS}, {"STATX_BTIME", STATX_BTIME},
      {"RENAME_NOREPLACE", 1}, {"RENAME_EXCHANGE", 2},
      {"SPLICE_F_MOVE", 1}, {"SPLICE_F_NONBLOCK", 2},
      {"POLLIN", 0x001}, {"POLLPRI", 0x002}, {"POLLOUT", 0x004}, {"POLLERR", 0x008}, {"POLLHUP", 0x010},
      {"POLLRDHUP", 0x2000},
      {"IORING_TIMEOUT_ABS", 1}, {"IORING_CQE_F_MORE", IORING_CQE_F_MORE},
      {"FALLOC_FL_KEEP_SIZE", 1}, {"FALLOC_FL_PUNCH_HOLE", 2},
  };
  for (auto& v : values) c.Set(v.first, Napi::Number::New(env, static_cast<double>(v.second)));
  exports.Set("constants", c);
  return exports;
}

#else

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
