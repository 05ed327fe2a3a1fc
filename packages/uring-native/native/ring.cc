// The ring core: see ring.h. Sections: syscalls, ring memory, construction, submission,
// completion, loop integration, close drain, JS methods.
#ifdef __linux__

#include "ring.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "args.h"
#include "probe.h"

namespace effio {

// ---- syscalls ---------------------------------------------------------------------------

int sys_setup(unsigned entries, io_uring_params* p) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, p));
}
int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg, size_t argsz) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz));
}
int sys_register(int fd, unsigned opcode, const void* arg, unsigned nr_args) {
  return static_cast<int>(syscall(__NR_io_uring_register, fd, opcode, arg, nr_args));
}

namespace {

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

__kernel_timespec MsToTimespec(int64_t ms) {
  __kernel_timespec ts{};
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000;
  return ts;
}

// Grows a per-slot table so that `slot` is a valid index (doubling, capped at kMaxSlots).
template <typename T>
void EnsureSlot(std::vector<T>& v, uint32_t slot) {
  if (slot < v.size()) return;
  size_t want = std::min<size_t>(kMaxSlots, v.size() * 2 + 64);
  v.resize(std::max<size_t>(want, static_cast<size_t>(slot) + 1));
}

// The open rings of this thread (a worker thread has its own), for AnyOpHolds.
thread_local std::vector<Ring*> open_rings;

// Setup flag sets to try, best first. SUBMIT_ALL keeps one bad SQE from stalling the batch.
const uint32_t kFlagAttempts[] = {
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SINGLE_ISSUER,
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    IORING_SETUP_SUBMIT_ALL,
    0,
};

}  // namespace

// ---- ring memory ------------------------------------------------------------------------

int RingMem::Open(unsigned entries, unsigned cq_entries_wanted, uint32_t flags) {
  params = io_uring_params{};
  params.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  params.cq_entries = cq_entries_wanted;
  if (flags & IORING_SETUP_SQPOLL) params.sq_thread_idle = sq_thread_idle_ms;
  fd = sys_setup(entries, &params);
  if (fd < 0) {
    fd = -1;
    return -errno;
  }
  sq_len = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  cq_len = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
  const bool single = params.features & IORING_FEAT_SINGLE_MMAP;
  if (single) sq_len = cq_len = std::max(sq_len, cq_len);
  sq_ptr = mmap(nullptr, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (sq_ptr == MAP_FAILED) {
    sq_ptr = nullptr;
    return Fail();
  }
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
  void* s = mmap(nullptr, sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (s == MAP_FAILED) return Fail();
  sqes = static_cast<io_uring_sqe*>(s);

  auto* sq = static_cast<char*>(sq_ptr);
  sq_khead = reinterpret_cast<unsigned*>(sq + params.sq_off.head);
  sq_ktail = reinterpret_cast<unsigned*>(sq + params.sq_off.tail);
  sq_kflags = reinterpret_cast<unsigned*>(sq + params.sq_off.flags);
  sq_mask = *reinterpret_cast<unsigned*>(sq + params.sq_off.ring_mask);
  sq_entries = *reinterpret_cast<unsigned*>(sq + params.sq_off.ring_entries);
  // Identity mapping of SQ index -> SQE slot, written once before any submission; the first
  // release store of the SQ tail publishes it along with the first SQE.
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

int RingMem::Fail() {
  int e = -errno;
  Close();
  return e;
}

void RingMem::Close() {
  if (sqes) munmap(sqes, sqes_len);
  if (cq_ptr && cq_ptr != sq_ptr) munmap(cq_ptr, cq_len);
  if (sq_ptr) munmap(sq_ptr, sq_len);
  sqes = nullptr;
  cq_ptr = sq_ptr = nullptr;
  if (fd >= 0) close(fd);
  fd = -1;
}

int OpenWithFallback(RingMem& mem, unsigned entries, unsigned cq_entries, uint32_t extra_flags) {
  int err = -EINVAL;
  for (uint32_t flags : kFlagAttempts) {
    err = mem.Open(entries, cq_entries, flags | extra_flags);
    if (err != -EINVAL) return err;
  }
  return err;
}

// ---- construction -----------------------------------------------------------------------

Napi::Function Ring::Init(Napi::Env env) {
  Napi::Function cls =
      DefineClass(env, "NativeRing",
                  {InstanceMethod("info", &Ring::Info), InstanceMethod("inFlight", &Ring::InFlight),
                   InstanceMethod("submit", &Ring::Submit), InstanceMethod("close", &Ring::Close),
                   InstanceMethod("cancel", &Ring::Cancel), InstanceMethod("capabilities", &Ring::Capabilities),
                   InstanceMethod("registerBufRing", &Ring::RegisterBufRing),
                   InstanceMethod("unregisterBufRing", &Ring::UnregisterBufRing),
                   InstanceMethod("recycleBuf", &Ring::RecycleBuf), InstanceMethod("copyBuf", &Ring::CopyBuf)});
  napi_value prep;
  if (napi_create_function(env, "prep", NAPI_AUTO_LENGTH, &Ring::PrepEntry, nullptr, &prep) == napi_ok)
    cls.Get("prototype").As<Napi::Object>().Set("prep", Napi::Value(env, prep));
  return cls;
}

// new NativeRing(entries, cqEntries, out: Int32Array, onBatch: (count) => void,
//                testFlags?: number, drainWarnMs?: number, hideOps?: string[],   (these three: tests only)
//                sqPollIdleMs?: number)   (set: an SQPOLL ring whose SQ thread idles out after that long)
Ring::Ring(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Ring>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  int64_t entries = 0, cq_entries = 0, test_flags = 0, warn_ms = kDrainWarnMs;
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
  if (!info[4].IsUndefined() && !GetInt(env, info[4], "testFlags", 0, 15, &test_flags)) return;
  if (!info[5].IsUndefined() && !GetInt(env, info[5], "drainWarnMs", 0, 1ll << 30, &warn_ms)) return;
  int64_t sq_idle_ms = -1;
  if (!info[7].IsUndefined() && !GetInt(env, info[7], "sqPollIdleMs", 1, 60000, &sq_idle_ms)) return;
  Napi::Int32Array out = info[2].As<Napi::Int32Array>();
  if (out.ElementLength() < 3) {
    ThrowRange(env, "out must hold at least one completion");
    return;
  }
  if (napi_get_uv_event_loop(env, &loop_) != napi_ok || loop_ == nullptr) {
    Napi::Error::New(env, "no libuv loop for this environment").ThrowAsJavaScriptException();
    return;
  }
  int err = -EINVAL;
  if (sq_idle_ms >= 0) {
    // SQPOLL where the kernel allows it (EPERM before 5.11 unprivileged, EINVAL without
    // support): otherwise an ordinary ring, which info().sqPoll tells.
    mem_.sq_thread_idle_ms = static_cast<unsigned>(sq_idle_ms);
    err = OpenWithFallback(mem_, static_cast<unsigned>(entries), static_cast<unsigned>(cq_entries), IORING_SETUP_SQPOLL);
    // Before 5.11 an SQPOLL ring takes only registered files (EBADF for every other fd).
    if (err >= 0 && !(mem_.params.features & IORING_FEAT_SQPOLL_NONFIXED)) {
      mem_.Close();
      err = -EINVAL;
    }
  }
  if (err < 0) err = OpenWithFallback(mem_, static_cast<unsigned>(entries), static_cast<unsigned>(cq_entries), 0);
  if (err < 0) {
    Napi::Error e = Napi::Error::New(env, SetupFailureReason(-err));
    e.Set("errno", Napi::Number::New(env, -err));
    e.Set("code", Napi::String::New(env, "ERR_IO_URING_UNAVAILABLE"));
    e.ThrowAsJavaScriptException();
    return;
  }
  if (!ProbeOps(info)) {
    mem_.Close();
    return;
  }
  test_flags_ = static_cast<uint32_t>(test_flags);
  drain_warn_ms_ = warn_ms;
  cancel_any_ = !(test_flags_ & kTestNoCancelAny);
  ext_arg_ = (mem_.params.features & IORING_FEAT_EXT_ARG) && !(test_flags_ & kTestNoExtArg);

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
  handles_->cleanup = nullptr;
  napi_add_async_cleanup_hook(env, OnEnvCleanup, handles_, &handles_->cleanup);
  state_ = State::kOpen;
  open_rings.push_back(this);
}

bool Ring::AnyOpHolds(const v8::BackingStore* store) {
  if (store == nullptr) return false;
  for (const Ring* r : open_rings)
    for (const Slot& s : r->slots_)
      if (s.state != kFree && s.pins.Holds(store)) return true;
  return false;
}

Ring::~Ring() {
  // Reached only when the wrapper is unreachable, which implies nothing is in flight
  // (the wrapper is held strongly while ops are in flight).
  Teardown(false);
}

void Ring::OnEnvCleanup(napi_async_cleanup_hook_handle hook, void* arg) {
  // The environment is going away (process exit, worker.terminate()): cancel and wait for
  // every op without calling JS, so the kernel is done with every buffer before V8 frees it.
  // Teardown closes the loop handles; the last close callback removes this hook, which lets
  // the teardown go on. A ring already closed has only its close callbacks left to run.
  auto* hs = static_cast<LoopHandles*>(arg);
  if (hs->owner) hs->owner->Teardown(false);
}

// The ring's opcodes (IORING_REGISTER_PROBE on its own fd) and capabilities, less the names
// in the test-only hide list info[6]: opcode names ("socket", "bind", ...) or
// "accept_multishot", "recv_multishot", "pbuf_ring". Throws RangeError for an unknown name.
bool Ring::ProbeOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ops_.reset();
  const size_t probe_size = sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op);
  std::vector<char> storage(probe_size, 0);
  auto* pr = reinterpret_cast<io_uring_probe*>(storage.data());
  if (sys_register(mem_.fd, IORING_REGISTER_PROBE, pr, 256) == 0) {
    for (unsigned i = 0; i <= pr->last_op && i < pr->ops_len && i < 256; i++)
      if (pr->ops[i].flags & IO_URING_OP_SUPPORTED) ops_.set(i);
  }
  caps_ = 0;
  // No probe tells these apart; each arrived in the release of an opcode that can be probed.
  if (ops_.test(EFFIO_IORING_OP_SOCKET)) caps_ |= kCapAcceptMultishot;
  if (ops_.test(EFFIO_IORING_OP_SEND_ZC)) caps_ |= kCapRecvMultishot;
  // Unregistering a group that was never registered: -ENOENT where buffer rings exist,
  // -EINVAL (unknown register opcode) where they do not.
  EffioBufReg reg{};
  if (sys_register(mem_.fd, kEffioUnregisterPbufRing, &reg, 1) < 0 && errno == ENOENT) caps_ |= kCapBufRing;

  if (info.Length() < 7 || info[6].IsUndefined()) return true;
  if (!info[6].IsArray()) return ThrowType(env, "hideOps must be an array of names");
  Napi::Array hide = info[6].As<Napi::Array>();
  for (uint32_t i = 0; i < hide.Length(); i++) {
    Napi::Value v = hide.Get(i);
    if (!v.IsString()) return ThrowType(env, "hideOps must be an array of names");
    const std::string name = v.As<Napi::String>().Utf8Value();
    if (name == "accept_multishot") {
      caps_ &= ~kCapAcceptMultishot;
      continue;
    }
    if (name == "recv_multishot") {
      caps_ &= ~kCapRecvMultishot;
      continue;
    }
    if (name == "pbuf_ring") {
      caps_ &= ~kCapBufRing;
      continue;
    }
    unsigned op = 0;
    while (op < 256 && OpName(op) != name) op++;
    if (op == 256) return ThrowRange(env, "hideOps: unknown name \"" + name + "\"");
    ops_.reset(op);
  }
  return true;
}

// ---- submission -------------------------------------------------------------------------

bool Ring::ThrowIfNotOpen(Napi::Env env) {
  if (state_ == State::kOpen) return true;
  Napi::Error e = Napi::Error::New(env, "the ring is closed");
  e.Set("code", Napi::String::New(env, "ERR_RING_CLOSED"));
  e.ThrowAsJavaScriptException();
  return false;
}

bool Ring::TakeSlot(Napi::Env env, Args& args, uint64_t* id, uint32_t* slot) {
  const int64_t i = args.Int("id", 0, kMaxId);
  if (!args.ok()) return false;
  const uint32_t s = static_cast<uint32_t>(static_cast<uint64_t>(i) & kSlotMask);
  EnsureSlot(slots_, s);
  if (slots_[s].state != kFree) {
    Napi::Error::New(env, "slot " + std::to_string(s) + " is still in flight").ThrowAsJavaScriptException();
    return false;
  }
  *id = static_cast<uint64_t>(i);
  *slot = s;
  return true;
}

// The SQE to write next: a free SQ entry when there is one (after trying to submit when
// the SQ is full), else nullptr and the caller queues to the overflow list.
io_uring_sqe* Ring::NextSqe() {
  if (!overflow_.empty()) return nullptr;  // keep FIFO order behind queued SQEs
  // Acquire on the head: the kernel has finished reading the entry we are about to reuse.
  if (SqFull()) {
    if (test_flags_ & kTestQueueWhenFull) return nullptr;
    Flush();
    if (SqPoll() && SqFull() && !WaitSqRoom()) return nullptr;
    if (SqFull()) return nullptr;
  }
  return &mem_.sqes[sq_tail_ & mem_.sq_mask];
}

void Ring::Queue(const io_uring_sqe& sqe) {
  io_uring_sqe* dst = NextSqe();
  if (dst == nullptr) {
    overflow_.push_back(sqe);
    return;
  }
  *dst = sqe;
  sq_tail_++;
  // Release: the SQE written above is visible to the kernel before the tail that covers it.
  mem_.PublishSqTail(sq_tail_);
}

void Ring::QueueInternal(const io_uring_sqe& sqe) {
  internal_in_flight_++;
  Queue(sqe);
}

void Ring::MoveOverflow() {
  while (!overflow_.empty()) {
    if (SqFull()) {  // acquire, as in NextSqe
      if (Flush() <= 0) return;
      if (SqPoll()) {
        // Flush only woke the SQ thread; room comes when it has taken an SQE.
        if (!WaitSqRoom() || SqFull()) return;
      }
      continue;
    }
    mem_.sqes[sq_tail_ & mem_.sq_mask] = overflow_.front();
    overflow_.pop_front();
    sq_tail_++;
    mem_.PublishSqTail(sq_tail_);  // release, as in Queue
  }
}

// Submits every SQE written so far with one io_uring_enter. Returns the number submitted,
// 0 when there was nothing to do, or -errno (EAGAIN/EBUSY: retried after the next reap).
int Ring::Flush() {
  if (state_ == State::kClosed) return 0;
  unsigned pending = sq_tail_ - mem_.SqHead();
  if (SqPoll()) CountSqPollSubmitted();
  if (pending == 0) return 0;
  if (SqPoll()) {
    // The kernel's SQ thread takes SQEs as soon as their tail is published; an enter is
    // needed only to wake it once it has idled out. The full fence orders the tail store
    // before the flags load, so a thread that is just going to sleep is never missed.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (mem_.SqFlags() & IORING_SQ_NEED_WAKEUP) {
      sq_wakeups_++;
      if (EnterNoSubmit(IORING_ENTER_SQ_WAKEUP) < 0) return -errno;
    }
    return static_cast<int>(pending);
  }
  int r;
  do {
    r = sys_enter(mem_.fd, pending, 0, 0, nullptr, 0);
  } while (r < 0 && errno == EINTR);
  enters_++;
  if (r < 0) return -errno;
  submitted_ += static_cast<unsigned>(r);
  return r;
}

// SQPOLL: blocks until the SQ thread has taken at least one SQE (the SQ is full). It takes
// SQEs without waiting for their ops, so this is a short wait, except where completions are
// piling up in the kernel's CQ overflow list: some kernels' SQ threads stop taking SQEs then,
// until the CQ is reaped, which this thread would never get to do. So it does not wait then
// (false): the SQEs stay in the overflow queue, and the reap that follows moves them.
bool Ring::WaitSqRoom() {
  if (mem_.SqFlags() & IORING_SQ_CQ_OVERFLOW) return false;
  EnterNoSubmit(IORING_ENTER_SQ_WAIT);
  return true;
}

// An io_uring_enter that submits nothing and waits for nothing (flags say what it is for),
// retried on EINTR. Returns its result (-1 and errno on failure).
int Ring::EnterNoSubmit(unsigned flags) {
  int r;
  do {
    r = sys_enter(mem_.fd, 0, 0, flags, nullptr, 0);
  } while (r < 0 && errno == EINTR);
  enters_++;
  return r;
}

// SQPOLL: SQEs count as submitted once the SQ thread has taken them (the head moved).
void Ring::CountSqPollSubmitted() {
  const unsigned head = mem_.SqHead();
  submitted_ += head - sq_head_seen_;
  sq_head_seen_ = head;
}

// ---- completion -------------------------------------------------------------------------

// Consumes ready CQEs and advances the CQ head. With `emit`, JS ops' completions are written
// to out_ as [slot, res, flags] (at most out_cap_ of them; the rest stay for the next call)
// and their number is returned; without, they are consumed silently (no JS to call).
// Internal CQEs are handled here. `any` tells whether any CQE at all was consumed.
unsigned Ring::CopyCompletions(bool emit, bool* any) {
  unsigned head = mem_.CqHead();
  const unsigned tail = mem_.CqTail();  // acquire: the CQEs up to tail are written
  unsigned n = 0;
  while (head != tail && (!emit || n < out_cap_)) {
    const io_uring_cqe cqe = mem_.cqes[head & mem_.cq_mask];
    head++;
    *any = true;
    completions_++;
    if (cqe.user_data & kInternal) {
      OnInternalCompletion(cqe);
      continue;
    }
    const uint32_t slot = static_cast<uint32_t>(cqe.user_data & kSlotMask);
    if (slot >= slots_.size() || slots_[slot].state == kFree || slots_[slot].id != cqe.user_data) continue;
    const bool more = cqe.flags & IORING_CQE_F_MORE;
    Slot& s = slots_[slot];
    int32_t res = s.state == kCancelledInQueue ? -ECANCELED : s.state == kDirect ? s.res : cqe.res;
    // The kernel's internal restart codes (ERESTARTSYS 512 .. ERESTART_RESTARTBLOCK 516) are
    // never meant for user space, but a cancelled splice blocked in an io-wq worker completes
    // with -ERESTARTSYS (seen on 6.18): it was interrupted, so it reports -EINTR.
    if (res <= -512 && res >= -516) res = -EINTR;
    if (s.group >= 0 && (cqe.flags & IORING_CQE_F_BUFFER)) {
      // The kernel handed this buffer out: it is the program's until recycled.
      BufGroup& g = groups_[static_cast<size_t>(s.group)];
      const uint32_t bid = cqe.flags >> kEffioCqeBufferShift;
      if (bid < g.entries) g.ours[bid] = 1;
    }
    if (!more && slot < extras_.size() && extras_[slot] && extras_[slot]->addr_out) {
      // recvfrom: the address length and msg_flags the kernel wrote into the slot's msghdr.
      SlotExtra& ex = *extras_[slot];
      const uint32_t len = ex.msg.msg_namelen, mflags = static_cast<uint32_t>(ex.msg.msg_flags);
      memcpy(ex.addr_out + kAddrOutLenOffset, &len, sizeof(len));
      memcpy(ex.addr_out + kAddrOutFlagsOffset, &mflags, sizeof(mflags));
    }
    if (!more) {
      ops_in_flight_--;
      ReleaseSlot(slot);
    }
    if (emit) {
      out_[n * 3] = static_cast<int32_t>(slot);
      out_[n * 3 + 1] = res;
      out_[n * 3 + 2] = static_cast<int32_t>(cqe.flags);
      n++;
    }
  }
  // Release: our reads of the entries above are done before the kernel may reuse them.
  mem_.ReleaseCqHead(head);
  return n;
}

void Ring::OnInternalCompletion(const io_uring_cqe& cqe) {
  internal_in_flight_--;
  switch (cqe.user_data & kTagMask) {
    case kTagCancelAny:
      // Kernels before 5.19 reject unknown cancel flags: cancel op by op from now on.
      if (cqe.res == -EINVAL && cancel_any_) {
        cancel_any_ = false;
        reissue_cancels_ = true;
      }
      break;
    case kTagWait:
      wait_sqe_pending_ = false;
      break;
    default:  // kTagCancel: 0, -ENOENT or -EALREADY; the target reports through its own CQE
      break;
  }
}

void Ring::ReleaseSlot(uint32_t slot) {
  Slot& s = slots_[slot];
  s.state = kFree;
  // The kernel is done with the op's buffers: their memory may go (this may free it, when a
  // transfer left the op the last holder).
  s.pins.Clear();
  if (s.group >= 0) {
    groups_[static_cast<size_t>(s.group)].users--;
    s.group = -1;
  }
  if (slot < extras_.size() && extras_[slot]) {
    // Keep the allocation for reuse but drop large contents.
    SlotExtra& e = *extras_[slot];
    e.addr_out = nullptr;
    e.path.clear();
    e.path2.clear();
    if (e.iov.capacity() > 64) std::vector<iovec>().swap(e.iov); else e.iov.clear();
  }
}

void Ring::NeedKernelFlush() {
  // Overflowed CQEs (IORING_FEAT_NODROP keeps them in the kernel) and deferred task work are
  // only moved into the CQ by an io_uring_enter with GETEVENTS.
  const unsigned flags = mem_.SqFlags();
  if (flags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) {
    if (flags & IORING_SQ_CQ_OVERFLOW) cq_overflow_flushes_++;
    EnterNoSubmit(IORING_ENTER_GETEVENTS);
  }
}

void Ring::UpdateRef() {
  if (!handles_) return;
  const bool want = ops_in_flight_ + internal_in_flight_ > 0;
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

// ---- loop integration -------------------------------------------------------------------

// Reaps every ready completion, handing them to JS one batch per call, then submits whatever
// the callbacks queued.
void Ring::Reap() {
  if (dispatching_ || state_ != State::kOpen) return;
  dispatching_ = true;
  Napi::Env env(env_);
  for (int rounds = 0; state_ == State::kOpen && rounds < 64; rounds++) {
    bool any = false;
    unsigned n = CopyCompletions(true, &any);
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
    if (state_ != State::kOpen) break;  // a callback closed the ring
    MoveOverflow();
    Flush();
    if (!any) {
      if (!(mem_.SqFlags() & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN))) break;
      NeedKernelFlush();
    }
  }
  dispatching_ = false;
  if (state_ == State::kOpen) UpdateRef();
}

void Ring::OnPoll(uv_poll_t* h, int status, int events) {
  auto* hs = static_cast<LoopHandles*>(h->data);
  if (hs->owner) hs->owner->Reap();
}

void Ring::OnPrepare(uv_prepare_t* h) {
  auto* hs = static_cast<LoopHandles*>(h->data);
  Ring* self = hs->owner;
  if (!self || self->state_ != State::kOpen) return;
  if (!self->overflow_.empty()) self->MoveOverflow();
  self->Flush();
  // Completions that the submit produced inline (cached reads, nops) are already in the CQ;
  // the poll phase right after this will see the ring fd readable and dispatch them.
}

void Ring::OnHandleClosed(uv_handle_t* h) {
  auto* hs = static_cast<LoopHandles*>(h->data);
  if (--hs->open_handles > 0) return;
  if (hs->cleanup) napi_remove_async_cleanup_hook(hs->cleanup);
  delete hs;
}

// ---- close ------------------------------------------------------------------------------

// close(), the env cleanup hook and the destructor all end here. Returns only once every JS
// op has had its final CQE: a buffer, path or iovec the kernel may still touch is never
// released. A drain that outlasts drain_warn_ms_ (an op the kernel cannot cancel, such as
// a regular-file read on a hung mount) keeps waiting, after one line on stderr.
void Ring::Teardown(bool call_js) {
  if (state_ != State::kOpen) return;
  state_ = State::kClosing;  // no new ops from here on; the drain's own SQEs still go out
  DrainAll(call_js);
  state_ = State::kClosed;
  open_rings.erase(std::remove(open_rings.begin(), open_rings.end(), this), open_rings.end());
  // What may be left is internal: a cancel or a wait timeout, which point at no memory the
  // kernel reads after submission. Closing the ring fd lets the kernel reap them.
  overflow_.clear();
  internal_in_flight_ = 0;
  // No op is in flight, so no op selects from a buffer ring any more.
  for (BufGroup& g : groups_) FreeGroup(g);
  groups_.clear();
  if (handles_) {
    // Stop watching the fd before it is closed.
    handles_->owner = nullptr;
    uv_poll_stop(&handles_->poll);
    uv_prepare_stop(&handles_->prepare);
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->poll), OnHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->prepare), OnHandleClosed);
    handles_ = nullptr;
  }
  mem_.Close();
  extras_.clear();
  slots_.clear();
  if (referenced_) {
    referenced_ = false;
    on_batch_.Unref();
    Unref();
  }
}

// Cancels everything in flight and waits for each op's own final CQE, in rounds: each round
// issues the cancels (IORING_ASYNC_CANCEL_ANY, or one ASYNC_CANCEL per op by its user_data
// where that is missing) and waits at most kDrainRoundMs for completions; an op that was
// mid-issue, or running in an io-wq worker, gets a fresh cancel next round. When call_js is
// true the completions are delivered to JS (from inside a JS call, so no MakeCallback).
void Ring::DrainAll(bool call_js) {
  CompleteQueued(call_js);
  const int64_t start = NowMs();
  bool warned = false;
  while (ops_in_flight_ > 0) {
    const int64_t round_end = NowMs() + (warned ? 10 * kDrainRoundMs : kDrainRoundMs);
    reissue_cancels_ = false;
    if (!(test_flags_ & kTestNoDrainCancel)) IssueDrainCancels();
    MoveOverflow();
    Flush();
    while (ops_in_flight_ > 0 && !reissue_cancels_) {
      bool any = false;
      DeliverDuringDrain(CopyCompletions(call_js, &any), call_js);
      if (!overflow_.empty()) {
        MoveOverflow();
        Flush();
      }
      const int64_t left = round_end - NowMs();
      if (left <= 0) break;
      if (!any) WaitForCompletion(left);
    }
    if (!warned && ops_in_flight_ > 0 && NowMs() - start >= drain_warn_ms_) {
      warned = true;
      fprintf(stderr, "effio: ring close waiting for %llu op(s) the kernel has not completed\n",
              static_cast<unsigned long long>(ops_in_flight_));
      fflush(stderr);
    }
  }
}

// JS ops still in the overflow list never reached the kernel: they complete here, cancelled.
// Internal SQEs there are dropped.
void Ring::CompleteQueued(bool call_js) {
  std::deque<io_uring_sqe> queued;
  queued.swap(overflow_);
  unsigned n = 0;
  for (const io_uring_sqe& sqe : queued) {
    if (sqe.user_data & kInternal) {
      internal_in_flight_--;
      continue;
    }
    const uint32_t slot = static_cast<uint32_t>(sqe.user_data & kSlotMask);
    // A direct syscall has happened (a socket may be open): report its result, not a cancel.
    const int32_t res = slots_[slot].state == kDirect ? slots_[slot].res : -ECANCELED;
    ops_in_flight_--;
    ReleaseSlot(slot);
    if (!call_js) continue;
    out_[n * 3] = static_cast<int32_t>(slot);
    out_[n * 3 + 1] = res;
    out_[n * 3 + 2] = 0;
    if (++n == out_cap_) {
      DeliverDuringDrain(n, call_js);
      n = 0;
    }
  }
  DeliverDuringDrain(n, call_js);
}

void Ring::IssueDrainCancels() {
  io_uring_sqe sqe{};
  sqe.opcode = IORING_OP_ASYNC_CANCEL;
  sqe.fd = -1;
  if (cancel_any_) {
    sqe.cancel_flags = IORING_ASYNC_CANCEL_ANY;
    sqe.user_data = kTagCancelAny;
    QueueInternal(sqe);
    return;
  }
  sqe.user_data = kTagCancel;
  for (const Slot& s : slots_) {
    if (s.state == kFree) continue;
    sqe.addr = s.id;  // the op's user_data: an exact match, never a later op in that slot
    QueueInternal(sqe);
  }
}

// Waits until a CQE arrives or about `ms` pass (or a signal). Every path is bounded.
void Ring::WaitForCompletion(int64_t ms) {
  if (ext_arg_) {
    __kernel_timespec ts = MsToTimespec(ms);
    io_uring_getevents_arg arg{};
    arg.ts = reinterpret_cast<uint64_t>(&ts);
    // 0, -ETIME or -EINTR: the caller looks at the CQ either way.
    sys_enter(mem_.fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
    enters_++;
    return;
  }
  // No EXT_ARG (before 5.11): a timeout SQE bounds the blocking wait below.
  if (!wait_sqe_pending_) {
    wait_ts_ = MsToTimespec(ms);
    io_uring_sqe sqe{};
    sqe.opcode = IORING_OP_TIMEOUT;
    sqe.fd = -1;
    sqe.addr = reinterpret_cast<uint64_t>(&wait_ts_);
    sqe.len = 1;
    sqe.off = 0;  // no completion count: a pure timer
    sqe.user_data = kTagWait;
    QueueInternal(sqe);
    wait_sqe_pending_ = true;
  }
  MoveOverflow();
  Flush();
  if (!overflow_.empty() || sq_tail_ != mem_.SqHead()) {
    // The kernel has not taken every SQE (EAGAIN/EBUSY), so the timeout may not be armed:
    // do not block on it; nap and let the caller come round again.
    timespec nap{0, 1000000};
    nanosleep(&nap, nullptr);
    return;
  }
  sys_enter(mem_.fd, 0, 1, IORING_ENTER_GETEVENTS, nullptr, 0);
  enters_++;
}

void Ring::DeliverDuringDrain(unsigned n, bool call_js) {
  if (n == 0 || !call_js) return;
  batches_++;
  Napi::Env env(env_);
  Napi::HandleScope scope(env);
  on_batch_.Call({Napi::Number::New(env, n)});
  // A throwing callback must not stop the drain (the facade keeps the first error itself).
  if (env.IsExceptionPending()) (void)env.GetAndClearPendingException();
}

// ---- JS methods -------------------------------------------------------------------------

Napi::Value Ring::Info(const Napi::CallbackInfo& info) {
  if (state_ == State::kOpen && SqPoll()) CountSqPollSubmitted();
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("open", state_ == State::kOpen);
  o.Set("sqEntries", mem_.sq_entries);
  o.Set("cqEntries", mem_.cq_entries);
  o.Set("features", StringArray(env, FeatureList(mem_.params.features)));
  o.Set("setupFlags", StringArray(env, SetupFlagList(mem_.params.flags)));
  o.Set("fd", mem_.fd);
  o.Set("inFlight", static_cast<double>(ops_in_flight_));
  o.Set("overflowQueued", static_cast<double>(overflow_.size()));
  o.Set("submitted", static_cast<double>(submitted_));
  o.Set("enters", static_cast<double>(enters_));
  o.Set("batches", static_cast<double>(batches_));
  o.Set("completions", static_cast<double>(completions_));
  o.Set("cqOverflowFlushes", static_cast<double>(cq_overflow_flushes_));
  o.Set("sqPoll", SqPoll());
  o.Set("sqWakeups", static_cast<double>(sq_wakeups_));
  return o;
}

Napi::Value Ring::InFlight(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ops_in_flight_));
}

Napi::Value Ring::Submit(const Napi::CallbackInfo& info) {
  if (state_ != State::kOpen) return Napi::Number::New(info.Env(), 0);
  MoveOverflow();
  return Napi::Number::New(info.Env(), Flush());
}

Napi::Value Ring::Close(const Napi::CallbackInfo& info) {
  Teardown(true);
  return info.Env().Undefined();
}

// prep(id, kind, ...args): every op. `id` = generation * 2^24 + slot, from the facade.
napi_value Ring::PrepEntry(napi_env env, napi_callback_info info) {
  constexpr size_t kMaxArgs = 8;  // id, kind and up to six op arguments (splice)
  napi_value argv[kMaxArgs];
  size_t argc = kMaxArgs;
  napi_value self = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, &self, nullptr) != napi_ok) return nullptr;
  Ring* ring = nullptr;
  if (napi_unwrap(env, self, reinterpret_cast<void**>(&ring)) != napi_ok || ring == nullptr) {
    ThrowType(Napi::Env(env), "prep called on an object that is not a NativeRing");
    return nullptr;
  }
  return ring->Prep(Napi::Env(env), argv, std::min(argc, kMaxArgs));
}

Napi::Value Ring::Prep(Napi::Env env, const napi_value* argv, size_t argc) {
  Args args(env, argv, argc, 0);
  uint64_t id = 0;
  uint32_t slot = 0;
  if (!ThrowIfNotOpen(env) || !TakeSlot(env, args, &id, &slot)) return Napi::Value();
  // kind | kKindAsync: the op goes straight to an io-wq worker (IOSQE_ASYNC).
  const int64_t raw_kind = args.Int("kind", 0, kKindAsync | (kOpKindCount - 1));
  if (!args.ok()) return Napi::Value();
  const int64_t kind = raw_kind & ~static_cast<int64_t>(kKindAsync);
  if (kind >= kOpKindCount) {
    ThrowRange(env, "kind must be an op kind");
    return Napi::Value();
  }
  EnsureSlot(extras_, slot);
  OpContext ctx(extras_[slot], ops_);
  io_uring_sqe sqe{};
  // An exception still pending (a caller's getter threw mid-decoding) fails the op too:
  // nothing may be queued for a call that throws.
  if (!PrepareOp(static_cast<OpKind>(kind), args, ctx, &sqe) || env.IsExceptionPending()) return Napi::Value();
  Slot& s = slots_[slot];
  s.group = -1;
  if (ctx.group() >= 0) {
    const size_t g = static_cast<size_t>(ctx.group());
    if (g >= groups_.size() || !groups_[g].registered) {
      ThrowRange(env, "no buffer ring is registered with group " + std::to_string(g));
      return Napi::Value();
    }
    sqe.flags |= IOSQE_BUFFER_SELECT;
    sqe.buf_group = static_cast<uint16_t>(g);
    groups_[g].users++;
    s.group = ctx.group();
  }
  if (raw_kind & kKindAsync) sqe.flags |= IOSQE_ASYNC;
  sqe.user_data = id;
  s.id = id;
  std::swap(s.pins, args.pins());
  s.state = ctx.direct() ? kDirect : kBusy;
  s.res = ctx.direct_res();
  ops_in_flight_++;
  Queue(sqe);
  UpdateRef();
  return Napi::Value();
}

// cancel(id): fire-and-forget cancel; the target still completes through its own CQE
// (-ECANCELED, or its real result if it won the race). False when `id` is not in flight,
// including a stale id whose slot now holds a later op.
Napi::Value Ring::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ == State::kClosed) {
    ThrowIfNotOpen(env);
    return Napi::Value();
  }
  int64_t target = 0;
  if (!GetInt(env, info[0], "id", 0, kMaxId, &target)) return Napi::Value();
  const uint64_t id = static_cast<uint64_t>(target);
  const uint32_t slot = static_cast<uint32_t>(id & kSlotMask);
  if (slot >= slots_.size() || slots_[slot].state == kFree || slots_[slot].id != id)
    return Napi::Boolean::New(env, false);
  // Closing (called from a callback the drain delivers): the drain cancels it anyway.
  if (state_ == State::kClosing) return Napi::Boolean::New(env, true);
  // Done already by a direct syscall; its NOP completes promptly with that result.
  if (slots_[slot].state == kDirect) return Napi::Boolean::New(env, true);
  // Still waiting in the overflow list: a NOP takes its place, so it still completes through
  // its own CQE, which CopyCompletions reports as -ECANCELED.
  for (auto it = overflow_.begin(); it != overflow_.end(); ++it) {
    if (it->user_data != id) continue;
    io_uring_sqe nop{};
    nop.opcode = IORING_OP_NOP;
    nop.fd = -1;
    nop.user_data = id;
    *it = nop;
    slots_[slot].state = kCancelledInQueue;
    return Napi::Boolean::New(env, true);
  }
  // The target may still sit in the SQ, queued this turn: submit it first. In the same
  // io_uring_enter the cancel can be looked up before the target is armed (a send that hit
  // EAGAIN and is being queued for poll), find nothing (ENOENT), and leave the op running.
  Flush();
  io_uring_sqe sqe{};
  sqe.opcode = IORING_OP_ASYNC_CANCEL;
  sqe.fd = -1;
  sqe.addr = id;
  sqe.user_data = kTagCancel;
  QueueInternal(sqe);
  UpdateRef();
  return Napi::Boolean::New(env, true);
}

// capabilities() -> { socket, bind, listen, shutdown, sendZc, acceptMultishot,
// recvMultishot, bufRing }: which paths this ring's ops take (false for socket/bind/listen/
// shutdown: a direct syscall; for the rest: not available).
Napi::Value Ring::Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("socket", ops_.test(EFFIO_IORING_OP_SOCKET));
  o.Set("bind", ops_.test(EFFIO_IORING_OP_BIND));
  o.Set("listen", ops_.test(EFFIO_IORING_OP_LISTEN));
  o.Set("shutdown", ops_.test(EFFIO_IORING_OP_SHUTDOWN));
  o.Set("sendZc", ops_.test(EFFIO_IORING_OP_SEND_ZC));
  o.Set("acceptMultishot", (caps_ & kCapAcceptMultishot) != 0);
  o.Set("recvMultishot", (caps_ & kCapRecvMultishot) != 0);
  o.Set("bufRing", (caps_ & kCapBufRing) != 0);
  std::vector<std::string> names;
  for (unsigned i = 0; i < 256; i++)
    if (ops_.test(i)) names.push_back(OpName(i));
  o.Set("ops", StringArray(env, names));
  return o;
}

namespace {

size_t PageRound(size_t n) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

void* MapAnon(size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

Napi::Value ThrowCode(Napi::Env env, const std::string& msg, const char* code, int err = 0) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  if (err != 0) e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return Napi::Value();
}

}  // namespace

// Gives buffer `bid` to the kernel: an entry at the tail, then the tail with a release store
// (the kernel reads the tail with acquire before the entry). Entry 0's `resv` is the tail
// itself, so only addr, len and bid are written.
void Ring::PushBuf(BufGroup& g, uint32_t bid) {
  EffioBuf& b = g.ring[g.tail & (g.entries - 1)];
  b.addr = reinterpret_cast<uint64_t>(g.bufs + static_cast<size_t>(bid) * g.size);
  b.len = g.size;
  b.bid = static_cast<uint16_t>(bid);
  g.tail++;
  g.ours[bid] = 0;
  auto* tail = reinterpret_cast<uint16_t*>(reinterpret_cast<char*>(g.ring) + 14);
  __atomic_store_n(tail, g.tail, __ATOMIC_RELEASE);
}

// Unregisters (while the ring fd is open) and unmaps. Only when no op uses the group.
void Ring::FreeGroup(BufGroup& g) {
  if (g.registered && mem_.fd >= 0) {
    EffioBufReg reg{};
    reg.bgid = static_cast<uint16_t>(&g - groups_.data());
    (void)sys_register(mem_.fd, kEffioUnregisterPbufRing, &reg, 1);
  }
  g.registered = false;
  if (g.ring) munmap(g.ring, g.ring_len);
  if (g.bufs) munmap(g.bufs, g.bufs_len);
  g.ring = nullptr;
  g.bufs = nullptr;
  g.ours.clear();
}

// registerBufRing(entries, size) -> group id. `entries` a power of two in 1..32768, `size`
// bytes per buffer; every buffer starts out in the kernel's ring.
Napi::Value Ring::RegisterBufRing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ThrowIfNotOpen(env)) return Napi::Value();
  int64_t entries = 0, size = 0;
  if (!GetInt(env, info[0], "entries", 1, 32768, &entries)) return Napi::Value();
  if (!GetInt(env, info[1], "size", 1, 1ll << 30, &size)) return Napi::Value();
  if ((entries & (entries - 1)) != 0) {
    ThrowRange(env, "entries must be a power of two: " + std::to_string(entries));
    return Napi::Value();
  }
  if (entries * size > (1ll << 30)) {
    ThrowRange(env, "entries * size must be at most 1 GiB");
    return Napi::Value();
  }
  if (!(caps_ & kCapBufRing))
    return ThrowCode(env, "provided-buffer rings need Linux 5.19 (IORING_REGISTER_PBUF_RING)", "ERR_UNSUPPORTED_OP");
  size_t id = 0;
  while (id < groups_.size() && groups_[id].registered) id++;
  if (id > UINT16_MAX) return ThrowCode(env, "every buffer group id is in use", "ERR_UNSUPPORTED_OP");
  if (id == groups_.size()) groups_.emplace_back();
  BufGroup& g = groups_[id];
  g = BufGroup{};
  g.entries = static_cast<uint32_t>(entries);
  g.size = static_cast<uint32_t>(size);
  g.ring_len = PageRound(static_cast<size_t>(entries) * sizeof(EffioBuf));
  g.bufs_len = PageRound(static_cast<size_t>(entries) * static_cast<size_t>(size));
  g.ring = static_cast<EffioBuf*>(MapAnon(g.ring_len));
  g.bufs = static_cast<uint8_t*>(MapAnon(g.bufs_len));
  if (!g.ring || !g.bufs) {
    FreeGroup(g);
    return ThrowCode(env, "could not map the buffer ring's memory", "ENOMEM", ENOMEM);
  }
  EffioBufReg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(g.ring);
  reg.ring_entries = g.entries;
  reg.bgid = static_cast<uint16_t>(id);
  if (sys_register(mem_.fd, kEffioRegisterPbufRing, &reg, 1) < 0) {
    const int err = errno;
    FreeGroup(g);
    return ThrowCode(env, std::string("IORING_REGISTER_PBUF_RING failed: ") + strerror(err), "ERR_REGISTER_FAILED", err);
  }
  g.registered = true;
  g.ours.assign(g.entries, 1);
  for (uint32_t bid = 0; bid < g.entries; bid++) PushBuf(g, bid);
  return Napi::Number::New(env, static_cast<double>(id));
}

// The group named by `v`. Also while the ring is closing: a callback the drain delivers may
// still copy out and recycle its buffers (the memory is freed only after the drain).
BufGroup* Ring::GroupArg(Napi::Env env, const Napi::Value& v) {
  if (state_ == State::kClosed) {
    ThrowIfNotOpen(env);
    return nullptr;
  }
  int64_t id = 0;
  if (!GetInt(env, v, "group", 0, UINT16_MAX, &id)) return nullptr;
  if (static_cast<size_t>(id) >= groups_.size() || !groups_[static_cast<size_t>(id)].registered) {
    ThrowRange(env, "no buffer ring is registered with group " + std::to_string(id));
    return nullptr;
  }
  return &groups_[static_cast<size_t>(id)];
}

// unregisterBufRing(group): refused (ERR_BUFFER_RING_BUSY) while an op selecting from it is
// in flight; the kernel might still write its buffers.
Napi::Value Ring::UnregisterBufRing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BufGroup* g = GroupArg(env, info[0]);
  if (!g) return Napi::Value();
  if (g->users > 0)
    return ThrowCode(env, "the buffer ring is in use by " + std::to_string(g->users) + " op(s) in flight",
                     "ERR_BUFFER_RING_BUSY");
  FreeGroup(*g);
  return env.Undefined();
}

Napi::Value Ring::RecycleBuf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BufGroup* g = GroupArg(env, info[0]);
  if (!g) return Napi::Value();
  int64_t bid = 0;
  if (!GetInt(env, info[1], "bid", 0, g->entries - 1, &bid)) return Napi::Value();
  if (!g->ours[static_cast<size_t>(bid)]) {
    ThrowRange(env, "buffer " + std::to_string(bid) + " is already the kernel's (recycled twice?)");
    return Napi::Value();
  }
  PushBuf(*g, static_cast<uint32_t>(bid));
  return env.Undefined();
}

// copyBuf(group, bid, length) -> a fresh Uint8Array with the buffer's first `length` bytes.
Napi::Value Ring::CopyBuf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BufGroup* g = GroupArg(env, info[0]);
  if (!g) return Napi::Value();
  int64_t bid = 0, len = 0;
  if (!GetInt(env, info[1], "bid", 0, g->entries - 1, &bid)) return Napi::Value();
  if (!GetInt(env, info[2], "length", 0, g->size, &len)) return Napi::Value();
  if (!g->ours[static_cast<size_t>(bid)]) {
    ThrowRange(env, "buffer " + std::to_string(bid) + " is the kernel's (not handed out by a completion)");
    return Napi::Value();
  }
  Napi::Uint8Array out = Napi::Uint8Array::New(env, static_cast<size_t>(len));
  memcpy(out.Data(), g->bufs + static_cast<size_t>(bid) * g->size, static_cast<size_t>(len));
  return out;
}

}  // namespace effio

#endif  // __linux__
