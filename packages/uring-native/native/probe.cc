// probe() and the name tables: see probe.h.
#ifdef __linux__

#include "probe.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "ring.h"

namespace effio {

namespace {

// Names by opcode number, up to the newest kernels we know of; unknown numbers become op_<n>.
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

}  // namespace

std::vector<std::string> FeatureList(uint32_t features) {
  std::vector<std::string> out;
  for (unsigned i = 0; i < 32; i++) {
    if (!(features & (1u << i))) continue;
    out.push_back(i < kFeatureNameCount ? kFeatureNames[i] : "feat_" + std::to_string(i));
  }
  return out;
}

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

std::string OpName(unsigned op) { return op < kOpNameCount ? kOpNames[op] : "op_" + std::to_string(op); }

std::string KernelRelease() {
  struct utsname u;
  if (uname(&u) != 0) return "unknown";
  return u.release;
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

Napi::Array StringArray(Napi::Env env, const std::vector<std::string>& items) {
  Napi::Array a = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); i++) a.Set(i, items[i]);
  return a;
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("kernel", KernelRelease());
  out.Set("ops", Napi::Array::New(env));
  out.Set("features", Napi::Array::New(env));

  RingMem mem;
  int err = OpenWithFallback(mem, 4, 8, 0);
  if (err < 0) {
    out.Set("available", false);
    out.Set("reason", SetupFailureReason(-err));
    out.Set("errno", -err);
    return out;
  }
  out.Set("features", StringArray(env, FeatureList(mem.params.features)));

  std::vector<std::string> ops;
  const size_t probe_size = sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op);
  std::vector<char> storage(probe_size, 0);
  auto* pr = reinterpret_cast<io_uring_probe*>(storage.data());
  if (sys_register(mem.fd, IORING_REGISTER_PROBE, pr, 256) == 0) {
    for (unsigned i = 0; i <= pr->last_op && i < pr->ops_len; i++)
      if (pr->ops[i].flags & IO_URING_OP_SUPPORTED) ops.push_back(OpName(i));
  }
  out.Set("ops", StringArray(env, ops));
  out.Set("setupFlags", StringArray(env, SetupFlagList(mem.params.flags)));
  mem.Close();
  out.Set("available", true);
  return out;
}

}  // namespace effio

#endif  // __linux__
