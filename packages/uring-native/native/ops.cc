// The ops: one struct per op, its fields the op's decoded arguments (plain data, like the
// Rust io-uring crate's opcode builders), with
//   void Decode(Args&)                        JS arguments -> fields, in argument order
//   void Fill(OpContext&, io_uring_sqe*)     fields -> SQE (moving owned memory to the slot)
// Fill starts from FillRw, the common layout (opcode, fd, addr, len, off) most ops share.
#ifdef __linux__

#include "ops.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <utility>

namespace effio {

namespace {

uint64_t Ptr(const void* p) { return reinterpret_cast<uint64_t>(p); }

// The shared SQE layout: opcode, fd, addr, len, off. The SQE is zeroed by the caller.
void FillRw(io_uring_sqe* sqe, uint8_t opcode, int fd, uint64_t addr, uint32_t len, uint64_t off) {
  sqe->opcode = opcode;
  sqe->fd = fd;
  sqe->addr = addr;
  sqe->len = len;
  sqe->off = off;
}

// nop()
struct Nop {
  void Decode(Args&) {}
  void Fill(OpContext&, io_uring_sqe* sqe) const { FillRw(sqe, IORING_OP_NOP, -1, 0, 0, 0); }
};

// read(fd, buffer, offset, length, position) / write(...): position -1 = the fd's own.
template <uint8_t kOpcode>
struct ReadWrite {
  int fd = -1;
  Span buf;
  uint64_t pos = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    buf = a.Range();
    pos = a.Position("position");
  }
  void Fill(OpContext&, io_uring_sqe* sqe) const {
    FillRw(sqe, kOpcode, fd, Ptr(buf.data), static_cast<uint32_t>(buf.len), pos);
  }
};
using Read = ReadWrite<IORING_OP_READ>;
using Write = ReadWrite<IORING_OP_WRITE>;

// readv(fd, buffers, position) / writev(...): the iovec array lives in the slot.
template <uint8_t kOpcode>
struct Vectored {
  int fd = -1;
  std::vector<iovec> iov;
  uint64_t pos = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    iov = a.Iovecs("buffers");
    pos = a.Position("position");
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) {
    SlotExtra& ex = m.Get();
    ex.iov.swap(iov);
    FillRw(sqe, kOpcode, fd, Ptr(ex.iov.data()), static_cast<uint32_t>(ex.iov.size()), pos);
  }
};
using Readv = Vectored<IORING_OP_READV>;
using Writev = Vectored<IORING_OP_WRITEV>;

// fsync(fd, datasync)
struct Fsync {
  int fd = -1;
  bool datasync = false;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    datasync = a.Flag();
  }
  void Fill(OpContext&, io_uring_sqe* sqe) const {
    FillRw(sqe, IORING_OP_FSYNC, fd, 0, 0, 0);
    sqe->fsync_flags = datasync ? IORING_FSYNC_DATASYNC : 0;
  }
};

// openat2(dirfd, path, flags, mode, resolve): O_CLOEXEC always; path and open_how in the slot.
struct Openat2 {
  int dirfd = -1;
  std::string path;
  uint32_t flags = 0;
  uint32_t mode = 0;
  uint32_t resolve = 0;
  void Decode(Args& a) {
    dirfd = a.DirFd("dirfd");
    path = a.Path("path");
    flags = a.U32("flags");
    mode = static_cast<uint32_t>(a.Int("mode", 0, 07777));
    resolve = a.U32("resolve");
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) {
    SlotExtra& ex = m.Get();
    ex.path.swap(path);
    ex.how = open_how{};
    ex.how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
    // The kernel rejects a mode without O_CREAT/O_TMPFILE in openat2. glibc's __O_TMPFILE
    // includes O_DIRECTORY, so test for the whole O_TMPFILE (a plain O_DIRECTORY open has no mode).
    const bool creates = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
    ex.how.mode = creates ? mode : 0;
    ex.how.resolve = resolve;
    FillRw(sqe, IORING_OP_OPENAT2, dirfd, Ptr(ex.path.c_str()), sizeof(open_how), Ptr(&ex.how));
  }
};

// close(fd)
struct Close {
  int fd = -1;
  void Decode(Args& a) { fd = a.Fd("fd"); }
  void Fill(OpContext&, io_uring_sqe* sqe) const { FillRw(sqe, IORING_OP_CLOSE, fd, 0, 0, 0); }
};

// statx(dirfd, path, flags, mask, out): `out` (>= sizeof(struct statx)) is written by the kernel.
struct Statx {
  int dirfd = -1;
  std::string path;
  uint32_t flags = 0;
  uint32_t mask = 0;
  Span out;
  void Decode(Args& a) {
    dirfd = a.DirFd("dirfd");
    path = a.Path("path");
    flags = static_cast<uint32_t>(a.Int("flags", 0, INT32_MAX));
    mask = a.U32("mask");
    out = a.Bytes("out");
    if (a.ok() && out.len < sizeof(struct statx))
      a.FailRange("out must hold at least " + std::to_string(sizeof(struct statx)) + " bytes");
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) {
    SlotExtra& ex = m.Get();
    ex.path.swap(path);
    FillRw(sqe, IORING_OP_STATX, dirfd, Ptr(ex.path.c_str()), mask, Ptr(out.data));
    sqe->statx_flags = flags;
  }
};

// unlinkat(dirfd, path, flags)
struct Unlinkat {
  int dirfd = -1;
  std::string path;
  uint32_t flags = 0;
  void Decode(Args& a) {
    dirfd = a.DirFd("dirfd");
    path = a.Path("path");
    flags = static_cast<uint32_t>(a.Int("flags", 0, INT32_MAX));
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) {
    SlotExtra& ex = m.Get();
    ex.path.swap(path);
    FillRw(sqe, IORING_OP_UNLINKAT, dirfd, Ptr(ex.path.c_str()), 0, 0);
    sqe->unlink_flags = flags;
  }
};

// renameat(olddirfd, oldpath, newdirfd, newpath, flags) / linkat(...): one layout.
template <uint8_t kOpcode>
struct TwoPaths {
  int olddirfd = -1;
  std::string oldpath;
  int newdirfd = -1;
  std::string newpath;
  uint32_t flags = 0;
  void Decode(Args& a) {
    olddirfd = a.DirFd("olddirfd");
    oldpath = a.Path("oldpath");
    newdirfd = a.DirFd("newdirfd");
    newpath = a.Path("newpath");
    flags = static_cast<uint32_t>(a.Int("flags", 0, INT32_MAX));
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) {
    SlotExtra& ex = m.Get();
    ex.path.swap(oldpath);
    ex.path2.swap(newpath);
    FillRw(sqe, kOpcode, olddirfd, Ptr(ex.path.c_str()), static_cast<uint32_t>(newdirfd), 0);
    sqe->addr2 = Ptr(ex.path2.c_str());
    if (kOpcode == IORING_OP_RENAMEAT)
      sqe->rename_flags = flags;
    else
      sqe->hardlink_flags = flags;
  }
};
using Renameat = TwoPaths<IORING_OP_RENAMEAT>;
using Linkat = TwoPaths<IORING_OP_LINKAT>;

// mkdirat(dirfd, path, mode)
struct Mkdirat {
  int dirfd = -1;
  std::string path;
  uint32_t mode = 0;
  void Decode(Args& a) {
    dirfd = a.DirFd("dirfd");
    path = a.Path("path");
    mode = static_cast<uint32_t>(a.Int("mode", 0, 07777));
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) {
    SlotExtra& ex = m.Get();
    ex.path.swap(path);
    FillRw(sqe, IORING_OP_MKDIRAT, dirfd, Ptr(ex.path.c_str()), mode, 0);
  }
};

// symlinkat(target, newdirfd, linkpath)
struct Symlinkat {
  std::string target;
  int newdirfd = -1;
  std::string linkpath;
  void Decode(Args& a) {
    target = a.Path("target");
    newdirfd = a.DirFd("newdirfd");
    linkpath = a.Path("linkpath");
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) {
    SlotExtra& ex = m.Get();
    ex.path.swap(target);
    ex.path2.swap(linkpath);
    FillRw(sqe, IORING_OP_SYMLINKAT, newdirfd, Ptr(ex.path.c_str()), 0, 0);
    sqe->addr2 = Ptr(ex.path2.c_str());
  }
};

// fallocate(fd, mode, offset, length): the length travels in addr.
struct Fallocate {
  int fd = -1;
  uint32_t mode = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    mode = static_cast<uint32_t>(a.Int("mode", 0, INT32_MAX));
    offset = static_cast<uint64_t>(a.Int("offset", 0, 1ll << 53));
    length = static_cast<uint64_t>(a.Int("length", 1, 1ll << 53));
  }
  void Fill(OpContext&, io_uring_sqe* sqe) const { FillRw(sqe, IORING_OP_FALLOCATE, fd, length, mode, offset); }
};

// ftruncate(fd, length)  (IORING_OP_FTRUNCATE, Linux 6.9+: callers check probe().ops)
struct Ftruncate {
  int fd = -1;
  uint64_t length = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    length = static_cast<uint64_t>(a.Int("length", 0, 1ll << 53));
  }
  void Fill(OpContext&, io_uring_sqe* sqe) const { FillRw(sqe, EFFIO_IORING_OP_FTRUNCATE, fd, 0, 0, length); }
};

// splice(fdIn, offIn, fdOut, offOut, length, flags): offsets -1 = none (pipes).
struct Splice {
  int fd_in = -1;
  uint64_t off_in = 0;
  int fd_out = -1;
  uint64_t off_out = 0;
  uint32_t len = 0;
  uint32_t flags = 0;
  void Decode(Args& a) {
    fd_in = a.Fd("fdIn");
    off_in = a.Position("offIn");
    fd_out = a.Fd("fdOut");
    off_out = a.Position("offOut");
    len = static_cast<uint32_t>(a.Int("length", 0, 0x7ffff000));
    flags = a.U32("flags");
  }
  void Fill(OpContext&, io_uring_sqe* sqe) const {
    FillRw(sqe, IORING_OP_SPLICE, fd_out, 0, len, off_out);
    sqe->splice_off_in = off_in;
    sqe->splice_fd_in = fd_in;
    sqe->splice_flags = flags & ~SPLICE_F_FD_IN_FIXED;  // no registered files here
  }
};

// timeout(nanoseconds, count, flags): -ETIME when it fires, 0 after `count` CQEs. The
// timespec lives in the slot.
struct Timeout {
  int64_t ns = 0;
  uint32_t count = 0;
  uint32_t flags = 0;
  void Decode(Args& a) {
    ns = a.Int("nanoseconds", 0, 1ll << 53);
    count = a.U32("count");
    flags = a.U32("flags");
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) const {
    SlotExtra& ex = m.Get();
    ex.ts.tv_sec = ns / 1000000000ll;
    ex.ts.tv_nsec = ns % 1000000000ll;
    FillRw(sqe, IORING_OP_TIMEOUT, -1, Ptr(&ex.ts), 1, count);
    sqe->timeout_flags = flags;
  }
};

// poll_add(fd, events, multishot)
struct PollAdd {
  int fd = -1;
  uint32_t events = 0;
  bool multishot = false;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    events = a.U32("events");
    multishot = a.Flag();
  }
  void Fill(OpContext&, io_uring_sqe* sqe) const {
    FillRw(sqe, IORING_OP_POLL_ADD, fd, 0, multishot ? IORING_POLL_ADD_MULTI : 0, 0);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    sqe->poll32_events = (events << 16) | (events >> 16);  // the kernel reads it word-reversed
#else
    sqe->poll32_events = events;
#endif
  }
};

// async_cancel(target): cancels the op whose id (user_data) is `target`; its own CQE is 0,
// -ENOENT or -EALREADY. A stale id matches nothing: ids carry a generation.
struct AsyncCancel {
  uint64_t target = 0;
  void Decode(Args& a) { target = static_cast<uint64_t>(a.Int("target", 0, (1ll << 53) - 1)); }
  void Fill(OpContext&, io_uring_sqe* sqe) const { FillRw(sqe, IORING_OP_ASYNC_CANCEL, -1, target, 0, 0); }
};

// ---- sockets ----------------------------------------------------------------------------

int32_t Result(int r) { return r < 0 ? -errno : r; }

// socket(domain, type, protocol): SOCK_CLOEXEC always. IORING_OP_SOCKET: fd=domain,
// off=type, len=protocol; a direct socket(2) where the ring lacks it.
struct Socket {
  int domain = 0;
  int type = 0;
  int protocol = 0;
  void Decode(Args& a) {
    domain = static_cast<int>(a.Int("domain", 0, INT32_MAX));
    type = static_cast<int>(a.Int("type", 0, INT32_MAX));
    protocol = static_cast<int>(a.Int("protocol", 0, INT32_MAX));
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) const {
    const int t = type | SOCK_CLOEXEC;
    if (m.Has(EFFIO_IORING_OP_SOCKET))
      FillRw(sqe, EFFIO_IORING_OP_SOCKET, domain, 0, static_cast<uint32_t>(protocol), static_cast<uint64_t>(t));
    else
      m.Direct(sqe, Result(socket(domain, t, protocol)));
  }
};

// bind(fd, address): IORING_OP_BIND (6.11): addr=&sockaddr, addr2=its length; else bind(2).
struct Bind {
  int fd = -1;
  SockAddr addr;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    addr = a.Address("address");
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) const {
    if (!m.Has(EFFIO_IORING_OP_BIND)) {
      m.Direct(sqe, Result(bind(fd, reinterpret_cast<const sockaddr*>(&addr.ss), addr.len)));
      return;
    }
    SlotExtra& ex = m.Get();
    ex.addr = addr;
    FillRw(sqe, EFFIO_IORING_OP_BIND, fd, Ptr(&ex.addr.ss), 0, ex.addr.len);
  }
};

// listen(fd, backlog): IORING_OP_LISTEN (6.11): len=backlog; else listen(2).
struct Listen {
  int fd = -1;
  int backlog = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    backlog = static_cast<int>(a.Int("backlog", 0, INT32_MAX));
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) const {
    if (m.Has(EFFIO_IORING_OP_LISTEN))
      FillRw(sqe, EFFIO_IORING_OP_LISTEN, fd, 0, static_cast<uint32_t>(backlog), 0);
    else
      m.Direct(sqe, Result(listen(fd, backlog)));
  }
};

// accept(fd, multishot): new fds SOCK_CLOEXEC; no peer address (getpeername has it).
struct Accept {
  int fd = -1;
  bool multishot = false;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    multishot = a.Flag();
  }
  void Fill(OpContext&, io_uring_sqe* sqe) const {
    FillRw(sqe, IORING_OP_ACCEPT, fd, 0, 0, 0);
    sqe->accept_flags = SOCK_CLOEXEC;
    sqe->ioprio = multishot ? IORING_ACCEPT_MULTISHOT : 0;
  }
};

// connect(fd, address): addr=&sockaddr, off=its length.
struct Connect {
  int fd = -1;
  SockAddr addr;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    addr = a.Address("address");
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) const {
    SlotExtra& ex = m.Get();
    ex.addr = addr;
    FillRw(sqe, IORING_OP_CONNECT, fd, Ptr(&ex.addr.ss), 0, ex.addr.len);
  }
};

// send(fd, buffer, offset, length, flags) / send_zc(...): MSG_NOSIGNAL always, so a peer
// that has gone gives -EPIPE and never SIGPIPE.
template <uint8_t kOpcode>
struct SendOp {
  int fd = -1;
  Span buf;
  uint32_t flags = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    buf = a.Range();
    flags = a.U32("flags");
  }
  void Fill(OpContext&, io_uring_sqe* sqe) const {
    FillRw(sqe, kOpcode, fd, Ptr(buf.data), static_cast<uint32_t>(buf.len), 0);
    sqe->msg_flags = flags | MSG_NOSIGNAL;
  }
};
using Send = SendOp<IORING_OP_SEND>;
using SendZc = SendOp<EFFIO_IORING_OP_SEND_ZC>;

// sendto(fd, buffer, offset, length, address, flags): SENDMSG; msghdr, iovec and sockaddr
// in the slot.
struct SendTo {
  int fd = -1;
  Span buf;
  SockAddr addr;
  uint32_t flags = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    buf = a.Range();
    addr = a.Address("address");
    flags = a.U32("flags");
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) const {
    SlotExtra& ex = m.Get();
    ex.addr = addr;
    ex.iov1 = iovec{buf.data, buf.len};
    ex.msg = msghdr{};
    ex.msg.msg_name = &ex.addr.ss;
    ex.msg.msg_namelen = ex.addr.len;
    ex.msg.msg_iov = &ex.iov1;
    ex.msg.msg_iovlen = 1;
    FillRw(sqe, IORING_OP_SENDMSG, fd, Ptr(&ex.msg), 1, 0);
    sqe->msg_flags = flags | MSG_NOSIGNAL;
  }
};

// recv(fd, buffer, offset, length, flags)
struct Recv {
  int fd = -1;
  Span buf;
  uint32_t flags = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    buf = a.Range();
    flags = a.U32("flags");
  }
  void Fill(OpContext&, io_uring_sqe* sqe) const {
    FillRw(sqe, IORING_OP_RECV, fd, Ptr(buf.data), static_cast<uint32_t>(buf.len), 0);
    sqe->msg_flags = flags;
  }
};

// recvfrom(fd, buffer, offset, length, addrOut, flags): RECVMSG; the kernel writes the source
// address into addrOut (kAddrOutSize bytes, zeroed here), the ring the length and msg_flags
// after it at the final CQE.
struct RecvFrom {
  int fd = -1;
  Span buf;
  Span out;
  uint32_t flags = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    buf = a.Range();
    out = a.Bytes("addrOut");
    flags = a.U32("flags");
    if (a.ok() && out.len != kAddrOutSize) a.FailRange("addrOut must be " + std::to_string(kAddrOutSize) + " bytes");
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) const {
    SlotExtra& ex = m.Get();
    memset(out.data, 0, out.len);
    ex.iov1 = iovec{buf.data, buf.len};
    ex.msg = msghdr{};
    ex.msg.msg_name = out.data;
    ex.msg.msg_namelen = sizeof(sockaddr_storage);
    ex.msg.msg_iov = &ex.iov1;
    ex.msg.msg_iovlen = 1;
    ex.addr_out = out.data;
    FillRw(sqe, IORING_OP_RECVMSG, fd, Ptr(&ex.msg), 1, 0);
    sqe->msg_flags = flags;
  }
};

// recv_select(fd, group, multishot, flags): RECV into a buffer the kernel picks from
// provided-buffer group `group`; multishot keeps receiving (IORING_RECV_MULTISHOT, 6.0).
struct RecvSelect {
  int fd = -1;
  uint16_t group = 0;
  bool multishot = false;
  uint32_t flags = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    group = static_cast<uint16_t>(a.Int("group", 0, UINT16_MAX));
    multishot = a.Flag();
    flags = a.U32("flags");
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) const {
    FillRw(sqe, IORING_OP_RECV, fd, 0, 0, 0);  // len 0: the whole selected buffer
    sqe->msg_flags = flags;
    sqe->ioprio = multishot ? IORING_RECV_MULTISHOT : 0;
    m.SelectBuffer(group);
  }
};

// shutdown(fd, how): IORING_OP_SHUTDOWN (5.11): len=how; else shutdown(2).
struct Shutdown {
  int fd = -1;
  int how = 0;
  void Decode(Args& a) {
    fd = a.Fd("fd");
    how = static_cast<int>(a.Int("how", 0, 2));
  }
  void Fill(OpContext& m, io_uring_sqe* sqe) const {
    if (m.Has(EFFIO_IORING_OP_SHUTDOWN))
      FillRw(sqe, EFFIO_IORING_OP_SHUTDOWN, fd, 0, static_cast<uint32_t>(how), 0);
    else
      m.Direct(sqe, Result(shutdown(fd, how)));
  }
};

// Decode, then Fill: the one shape every op goes through.
template <class Op>
bool Prepare(Args& args, OpContext& ctx, io_uring_sqe* sqe) {
  Op op;
  op.Decode(args);
  if (!args.ok()) return false;
  op.Fill(ctx, sqe);
  return true;
}

struct OpEntry {
  const char* name;
  bool (*prepare)(Args&, OpContext&, io_uring_sqe*);
};

const OpEntry kOps[] = {
#define EFFIO_OP_ENTRY(kind, name, type) {name, Prepare<type>},
    EFFIO_OPS(EFFIO_OP_ENTRY)
#undef EFFIO_OP_ENTRY
};
static_assert(sizeof(kOps) / sizeof(kOps[0]) == kOpKindCount, "one entry per OpKind");

}  // namespace

void OpContext::Direct(io_uring_sqe* sqe, int32_t res) {
  *sqe = io_uring_sqe{};
  FillRw(sqe, IORING_OP_NOP, -1, 0, 0, 0);
  direct_ = true;
  direct_res_ = res;
}

bool PrepareOp(OpKind kind, Args& args, OpContext& ctx, io_uring_sqe* sqe) {
  const uint32_t k = static_cast<uint32_t>(kind);
  if (k >= kOpKindCount) return ThrowRange(args.env(), "unknown op kind " + std::to_string(k));
  return kOps[k].prepare(args, ctx, sqe);
}

Napi::Object OpKindTable(Napi::Env env) {
  Napi::Object table = Napi::Object::New(env);
  for (uint32_t k = 0; k < kOpKindCount; k++) table.Set(kOps[k].name, Napi::Number::New(env, k));
  return table;
}

Napi::Object ArgumentConstants(Napi::Env env) {
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
  SocketConstants(env, c);
  return c;
}

}  // namespace effio

#endif  // __linux__
