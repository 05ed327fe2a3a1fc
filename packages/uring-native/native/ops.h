// The ops: each one decodes its JS arguments into plain data, then fills one SQE from it.
// The ring (ring.cc) owns the slot, the user_data and the queueing; an op only knows its
// own arguments and the kernel's SQE layout for its opcode.
//
// JS calls every op through one entry, NativeRing.prep(id, kind, ...args); `kind` is an
// OpKind below, whose numbers the addon exports as `opKinds` and the facade checks at load.
#pragma once
#ifdef __linux__

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "uring_abi.h"

namespace effio {

// Every op, in kind order: X(enum name, JS name, struct in ops.cc).
//
// Adding an op (the net ops are next, see below):
//   1. a line here, at the end (kinds are numbered by position);
//   2. in ops.cc a struct with `void Decode(Args&)` and `void Fill(SlotMemory&, io_uring_sqe*)`;
//   3. in src/index.ts the same name in `Op` and a Ring method calling #submit.
// Memory the kernel reads or writes after submission (a path, an iovec array, a sockaddr and
// its length) goes into SlotMemory, which lives until the op's final CQE.
//
// Planned net ops, and what each needs beyond that pattern:
//   socket(domain, type, protocol)      IORING_OP_SOCKET (5.19): fd=domain, off=type, len=protocol.
//   bind(fd, addr) / connect(fd, addr)  IORING_OP_BIND (6.11) / CONNECT: a sockaddr_storage and
//                                       its length in SlotMemory (addr=&sa, addr2/off=len).
//   listen(fd, backlog)                 IORING_OP_LISTEN (6.11): len=backlog.
//   accept(fd, multishot)               IORING_OP_ACCEPT, ioprio |= IORING_ACCEPT_MULTISHOT: one
//                                       CQE per connection with IORING_CQE_F_MORE; the ring
//                                       already keeps a slot busy until the CQE without F_MORE.
//                                       A peer address needs a sockaddr + socklen_t the kernel
//                                       writes, in SlotMemory (single-shot only).
//   send(fd, buffer, off, len, flags)   IORING_OP_SEND: like read/write (Span from Args::Range).
//   recv(fd, ..., multishot, group)     IORING_OP_RECV; multishot (ioprio |= IORING_RECV_MULTISHOT)
//                                       needs a provided buffer ring: IOSQE_BUFFER_SELECT with
//                                       buf_group; the buffer id comes back in
//                                       cqe.flags >> IORING_CQE_BUFFER_SHIFT (JS already gets the
//                                       flags). Registering the ring (IORING_REGISTER_PBUF_RING)
//                                       is ring state, so it belongs in ring.cc next to the SQ,
//                                       and the JS buffers behind it stay pinned until unregistered.
//   shutdown(fd, how)                   IORING_OP_SHUTDOWN: len=how.
#define EFFIO_OPS(X)                    \
  X(kNop, "nop", Nop)                   \
  X(kRead, "read", Read)                \
  X(kWrite, "write", Write)             \
  X(kReadv, "readv", Readv)             \
  X(kWritev, "writev", Writev)          \
  X(kFsync, "fsync", Fsync)             \
  X(kOpenat2, "openat2", Openat2)       \
  X(kClose, "close", Close)             \
  X(kStatx, "statx", Statx)             \
  X(kUnlinkat, "unlinkat", Unlinkat)    \
  X(kRenameat, "renameat", Renameat)    \
  X(kLinkat, "linkat", Linkat)          \
  X(kMkdirat, "mkdirat", Mkdirat)       \
  X(kSymlinkat, "symlinkat", Symlinkat) \
  X(kFallocate, "fallocate", Fallocate) \
  X(kFtruncate, "ftruncate", Ftruncate) \
  X(kSplice, "splice", Splice)          \
  X(kTimeout, "timeout", Timeout)       \
  X(kPollAdd, "poll_add", PollAdd)      \
  X(kAsyncCancel, "async_cancel", AsyncCancel)

enum class OpKind : uint32_t {
#define EFFIO_OP_ENUM(kind, name, type) kind,
  EFFIO_OPS(EFFIO_OP_ENUM)
#undef EFFIO_OP_ENUM
      kCount
};
constexpr uint32_t kOpKindCount = static_cast<uint32_t>(OpKind::kCount);

// Native memory an op's SQE points at and the kernel may read (or write) until the op's
// final CQE. One per slot, allocated on first need and reused; the ring never lets a slot
// be reused (and so this be overwritten) before that CQE.
struct SlotExtra {
  std::string path;
  std::string path2;
  std::vector<iovec> iov;
  open_how how{};
  __kernel_timespec ts{};
};

// A slot's SlotExtra, allocated only by the ops that need one.
class SlotMemory {
 public:
  explicit SlotMemory(std::unique_ptr<SlotExtra>& holder) : holder_(holder) {}
  SlotExtra& Get() {
    if (!holder_) holder_ = std::make_unique<SlotExtra>();
    return *holder_;
  }

 private:
  std::unique_ptr<SlotExtra>& holder_;
};

// Decodes the JS arguments of op `kind` and fills `sqe` (opcode, fd, addr, len, off and the
// op's flags; never user_data or sqe->flags, which are the ring's). Returns false with a JS
// exception pending when an argument is bad; then nothing of `sqe` is to be used.
bool PrepareOp(OpKind kind, Args& args, SlotMemory& memory, io_uring_sqe* sqe);

// `{ nop: 0, read: 1, ... }` for the facade's check of its own table.
Napi::Object OpKindTable(Napi::Env env);

// Kernel constants for op arguments, from the C headers (O_* differ between x86 and arm64).
Napi::Object ArgumentConstants(Napi::Env env);

}  // namespace effio

#endif  // __linux__
