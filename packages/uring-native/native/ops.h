// The ops: each one decodes its JS arguments into plain data, then fills one SQE from it.
// The ring (ring.cc) owns the slot, the user_data and the queueing; an op only knows its
// own arguments and the kernel's SQE layout for its opcode.
//
// JS calls every op through one entry, NativeRing.prep(id, kind, ...args); `kind` is an
// OpKind below, whose numbers the addon exports as `opKinds` and the facade checks at load.
#pragma once
#ifdef __linux__

#include <napi.h>

#include <sys/socket.h>

#include <bitset>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "net.h"
#include "uring_abi.h"

namespace effio {

// Every op, in kind order: X(enum name, JS name, struct in ops.cc).
//
// Adding an op:
//   1. a line here, at the end (kinds are numbered by position);
//   2. in ops.cc a struct with `void Decode(Args&)` and `void Fill(OpContext&, io_uring_sqe*)`;
//   3. in src/index.ts the same name in `Op` and a Ring method calling #submit.
// Memory the kernel reads or writes after submission (a path, an iovec array, a sockaddr and
// its length, a msghdr) goes into the slot's SlotExtra (OpContext::Get()), which lives until
// the op's final CQE.
//
// The socket ops and what they rely on beyond that pattern:
//   socket / bind / listen   IORING_OP_SOCKET (5.19), BIND and LISTEN (6.11). Where this ring
//                            lacks the opcode (OpContext::Has), Fill makes the syscall itself
//                            (none of them blocks) and OpContext::Direct turns the SQE into a
//                            NOP whose CQE delivers the syscall's result: asynchronously, like
//                            any op, never inside the caller. shutdown likewise before 5.11.
//   accept(multishot)        ioprio IORING_ACCEPT_MULTISHOT (5.19): one CQE per connection
//                            with IORING_CQE_F_MORE; the ring keeps the slot busy until the
//                            CQE without it. New fds are SOCK_CLOEXEC; no peer address is asked
//                            for (getpeername gives it).
//   send / send_zc / sendto  MSG_NOSIGNAL always. send_zc (6.0) posts its result with F_MORE
//                            and then a notification CQE (IORING_CQE_F_NOTIF) without it: the
//                            buffer stays pinned until that one. sendto is SENDMSG with the
//                            msghdr, iovec and sockaddr in the slot.
//   recvfrom                 RECVMSG; the sockaddr goes straight into a JS output buffer; at
//                            the final CQE the ring copies msg_namelen and msg_flags after it.
//   recv_select              RECV with a provided-buffer group (OpContext::SelectBuffer: the
//                            ring sets IOSQE_BUFFER_SELECT and buf_group, counts the op as a
//                            user of the group until its final CQE, and tracks which buffers
//                            the CQEs hand out); multishot with IORING_RECV_MULTISHOT (6.0).
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
  X(kAsyncCancel, "async_cancel", AsyncCancel) \
  X(kSocket, "socket", Socket)          \
  X(kBind, "bind", Bind)                \
  X(kListen, "listen", Listen)          \
  X(kAccept, "accept", Accept)          \
  X(kConnect, "connect", Connect)       \
  X(kSend, "send", Send)                \
  X(kSendZc, "send_zc", SendZc)         \
  X(kSendTo, "sendto", SendTo)          \
  X(kRecv, "recv", Recv)                \
  X(kRecvFrom, "recvfrom", RecvFrom)    \
  X(kRecvSelect, "recv_select", RecvSelect) \
  X(kShutdown, "shutdown", Shutdown)
enum class OpKind : uint32_t {
#define EFFIO_OP_ENUM(kind, name, type) kind,
  EFFIO_OPS(EFFIO_OP_ENUM)
#undef EFFIO_OP_ENUM
      kCount
};
constexpr uint32_t kOpKindCount = static_cast<uint32_t>(OpKind::kCount);
// Added to an op kind by the facade: submit the op with IOSQE_ASYNC (see Ring#read).
constexpr uint32_t kKindAsync = 0x100;

// Native memory an op's SQE points at and the kernel may read (or write) until the op's
// final CQE. One per slot, allocated on first need and reused; the ring never lets a slot
// be reused (and so this be overwritten) before that CQE.
struct SlotExtra {
  std::string path;
  std::string path2;
  std::vector<iovec> iov;
  open_how how{};
  __kernel_timespec ts{};
  SockAddr addr;       // bind, connect, sendto
  iovec iov1{};        // sendto, recvfrom: the one buffer
  msghdr msg{};        // sendto, recvfrom
  uint8_t* addr_out = nullptr;  // recvfrom: the JS output buffer (see net.h kAddrOut*)
};

// The opcodes a ring may use (probed, less those a test hides).
using OpcodeSet = std::bitset<256>;

// What an op's Fill works with besides its SQE: the slot's native memory (allocated only by
// the ops that need it), the ring's opcodes, and the two requests an op can make of the ring.
class OpContext {
 public:
  OpContext(std::unique_ptr<SlotExtra>& holder, const OpcodeSet& ops) : holder_(holder), ops_(ops) {}
  SlotExtra& Get() {
    if (!holder_) holder_ = std::make_unique<SlotExtra>();
    return *holder_;
  }
  bool Has(unsigned opcode) const { return opcode < 256 && ops_.test(opcode); }
  // The op was done by a direct syscall with result `res` (fd, 0 or -errno): the SQE becomes a
  // NOP and the ring reports `res` for its CQE.
  void Direct(io_uring_sqe* sqe, int32_t res);
  // The op takes its buffer from provided-buffer group `group`.
  void SelectBuffer(uint16_t group) { group_ = group; }

  bool direct() const { return direct_; }
  int32_t direct_res() const { return direct_res_; }
  int32_t group() const { return group_; }

 private:
  std::unique_ptr<SlotExtra>& holder_;
  const OpcodeSet& ops_;
  bool direct_ = false;
  int32_t direct_res_ = 0;
  int32_t group_ = -1;
};

// Decodes the JS arguments of op `kind` and fills `sqe` (opcode, fd, addr, len, off and the
// op's flags; never user_data or sqe->flags, which are the ring's). Returns false with a JS
// exception pending when an argument is bad; then nothing of `sqe` is to be used.
bool PrepareOp(OpKind kind, Args& args, OpContext& ctx, io_uring_sqe* sqe);

// `{ nop: 0, read: 1, ... }` for the facade's check of its own table.
Napi::Object OpKindTable(Napi::Env env);

// Kernel constants for op arguments, from the C headers (O_* differ between x86 and arm64).
Napi::Object ArgumentConstants(Napi::Env env);

}  // namespace effio

#endif  // __linux__
