// The ring core: the mmap'd SQ/CQ, queueing and flushing SQEs, reaping CQEs into the JS
// batch array, the libuv loop integration, and the close drain. This is the only part of
// the addon that shares memory with the kernel; every access to the shared ring indices
// goes through the RingMem accessors below, with the memory order spelled out.
//
// Shape of the hot path:
//   JS prep(id, kind, ...)   -> one SQE written into the mmap'd SQ (or the overflow queue)
//   uv_prepare / end of a completion batch -> one io_uring_enter() submits everything queued
//   uv_poll on the ring fd   -> all CQEs copied into a shared Int32Array -> ONE JS call per batch
// Op ids are chosen by the JS facade (slot + generation, see kSlotBits); this file enforces
// that a slot is never reused before its own final CQE, and keeps every piece of native
// memory the kernel may read or write (SlotExtra) alive until then. JS buffers are pinned by
// the facade until the same CQE.
#pragma once
#ifdef __linux__

#include <napi.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "ops.h"
#include "uring_abi.h"

namespace effio {

// ---- syscalls (no liburing) -------------------------------------------------------------

int sys_setup(unsigned entries, io_uring_params* p);
int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg, size_t argsz);
int sys_register(int fd, unsigned opcode, const void* arg, unsigned nr_args);

// ---- the ring memory --------------------------------------------------------------------

// The SQ/CQ mappings and the SQE array of one io_uring instance.
//
// Memory ordering (the kernel is the other party; liburing's rules):
//  - SQ tail: written only by us. The release store publishes the SQE contents written
//    before it; the kernel reads the tail with acquire semantics before reading SQEs.
//  - SQ head: written by the kernel once it has consumed SQEs. We load it with acquire
//    before reusing an SQE slot, so the kernel's reads of the old entry happen before our
//    overwrite.
//  - CQ tail: written by the kernel after it wrote the CQEs. Acquire before reading CQEs.
//  - CQ head: written only by us. The release store tells the kernel it may overwrite the
//    entries before it, ordered after our reads of them.
//  - SQ flags (CQ overflow / task-run hints): a relaxed read is enough; they only decide
//    whether to enter the kernel, and entering re-checks everything.
// Without SQPOLL the kernel touches the SQ only inside io_uring_enter on this thread, but the
// CQ is written from other contexts (io-wq workers, task work), so the CQ side matters
// regardless; the SQ side is kept correct for SQPOLL too.
struct RingMem {
  int fd = -1;
  io_uring_params params{};
  unsigned sq_thread_idle_ms = 0;  // for an Open with IORING_SETUP_SQPOLL
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

  // io_uring_setup + the three mmaps. Returns 0 or -errno (and leaves nothing open).
  int Open(unsigned entries, unsigned cq_entries_wanted, uint32_t flags);
  // munmap + close; idempotent.
  void Close();

  unsigned SqHead() const { return __atomic_load_n(sq_khead, __ATOMIC_ACQUIRE); }
  void PublishSqTail(unsigned tail) { __atomic_store_n(sq_ktail, tail, __ATOMIC_RELEASE); }
  unsigned SqFlags() const { return __atomic_load_n(sq_kflags, __ATOMIC_RELAXED); }
  // Our own index: nobody else writes it, a relaxed load is exact.
  unsigned CqHead() const { return __atomic_load_n(cq_khead, __ATOMIC_RELAXED); }
  unsigned CqTail() const { return __atomic_load_n(cq_ktail, __ATOMIC_ACQUIRE); }
  void ReleaseCqHead(unsigned head) { __atomic_store_n(cq_khead, head, __ATOMIC_RELEASE); }

 private:
  int Fail();
};

// Opens a ring with the best setup flags this kernel accepts; 0 or -errno of the last try.
int OpenWithFallback(RingMem& mem, unsigned entries, unsigned cq_entries, uint32_t extra_flags);

// ---- op ids and user_data ---------------------------------------------------------------

// An op id is generation * 2^24 + slot, below 2^53 (a JS safe integer), and is the SQE's
// user_data as it is, so a kernel-side cancel by user_data can never match a later op
// that reuses the slot. Bit 63 marks the ring's internal SQEs, whose CQEs never reach JS.
constexpr unsigned kSlotBits = 24;
constexpr uint32_t kMaxSlots = 1u << kSlotBits;
constexpr uint64_t kSlotMask = kMaxSlots - 1;
constexpr int64_t kMaxId = (1ll << 53) - 1;
constexpr uint64_t kInternal = 1ull << 63;
// Internal SQE kinds, in bits 56..62 of their user_data.
constexpr uint64_t kTagCancel = kInternal | (1ull << 56);     // Ring.cancel, per-op drain cancel
constexpr uint64_t kTagCancelAny = kInternal | (2ull << 56);  // IORING_ASYNC_CANCEL_ANY
constexpr uint64_t kTagWait = kInternal | (3ull << 56);       // the drain's bounded-wait timeout
constexpr uint64_t kTagMask = kInternal | (0x7Full << 56);

// Test-only switches (RingOptions.test*): force the fallback paths of the close drain.
enum TestFlags : uint32_t {
  kTestNoCancelAny = 1,    // cancel op by op, as on kernels before 5.19
  kTestNoExtArg = 2,       // bound waits with a timeout SQE, as on kernels before 5.11
  kTestNoDrainCancel = 4,  // issue no cancels: every op looks uncancellable to the drain
  kTestQueueWhenFull = 8,  // a full SQ is not submitted to make room: SQEs go to overflow_, as
                           // when the kernel refuses them (EBUSY/EAGAIN), which this kernel never does
};

// What this ring can do beyond its opcodes (probed, or inferred where no probe exists; see
// Ring::Ring), less what a test hides.
enum Capability : uint32_t {
  kCapAcceptMultishot = 1,  // IORING_ACCEPT_MULTISHOT, 5.19 (inferred from IORING_OP_SOCKET)
  kCapRecvMultishot = 2,    // IORING_RECV_MULTISHOT, 6.0 (inferred from IORING_OP_SEND_ZC)
  kCapBufRing = 4,          // IORING_REGISTER_PBUF_RING, 5.19 (probed by an unregister)
};

// One provided-buffer ring (IORING_REGISTER_PBUF_RING): `entries` buffers of `size` bytes,
// native memory (anonymous mmaps, page aligned) that lives until the group is unregistered,
// which happens only when no op uses the group. Each buffer is either the kernel's (in the
// ring, it may write it at any time) or the program's (handed out by a CQE with
// IORING_CQE_F_BUFFER, until recycled): only the latter may be copied out or recycled.
struct BufGroup {
  bool registered = false;
  EffioBuf* ring = nullptr;
  size_t ring_len = 0;
  uint8_t* bufs = nullptr;
  size_t bufs_len = 0;
  uint32_t entries = 0;
  uint32_t size = 0;
  uint16_t tail = 0;            // our copy of the ring tail
  uint64_t users = 0;           // ops in flight that select from this group
  std::vector<uint8_t> ours;    // 1: handed out by a CQE, not in the kernel's ring
};

// How long one drain round waits before re-issuing the cancels, and after how long ops
// that are still running earn the stderr warning.
constexpr int64_t kDrainRoundMs = 100;
constexpr int64_t kDrainWarnMs = 2000;

// libuv handles live in their own allocation: uv_close is asynchronous and may finish after
// the JS wrapper has been garbage collected. The env's async cleanup hook is registered for
// as long as they exist: at env teardown (process exit, worker.terminate()) Node then waits
// for their close callbacks before it unloads the addon those callbacks live in.
class Ring;
struct LoopHandles {
  uv_poll_t poll;
  uv_prepare_t prepare;
  Ring* owner;
  int open_handles;
  napi_async_cleanup_hook_handle cleanup;
};

class Ring : public Napi::ObjectWrap<Ring> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Ring(const Napi::CallbackInfo& info);
  ~Ring() override;
  // Whether an op in flight on any open ring of this thread holds `store` (see Pins).
  static bool AnyOpHolds(const v8::BackingStore* store);

 private:
  enum class State : uint8_t { kOpen, kClosing, kClosed };
  enum SlotState : uint8_t {
    kFree = 0,
    kBusy = 1,
    kCancelledInQueue = 2,  // cancelled before reaching the kernel: a NOP stands in, reported -ECANCELED
    kDirect = 3,            // done by a direct syscall: a NOP carries `res` to JS
  };
  struct Slot {
    uint64_t id = 0;
    uint8_t state = kFree;
    int32_t res = 0;     // kDirect: the syscall's result
    int32_t group = -1;  // the provided-buffer group the op selects from, or -1
    Pins pins;           // the memory of the op's JS buffers, held until its final CQE
  };

  // JS-facing methods
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value InFlight(const Napi::CallbackInfo& info);
  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // prep is the hot path of every op: a raw N-API entry (node-addon-api's CallbackInfo
  // heap-allocates for more than 6 arguments; prep takes up to 8).
  static napi_value PrepEntry(napi_env env, napi_callback_info info);
  Napi::Value Prep(Napi::Env env, const napi_value* argv, size_t argc);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Capabilities(const Napi::CallbackInfo& info);
  Napi::Value RegisterBufRing(const Napi::CallbackInfo& info);
  Napi::Value UnregisterBufRing(const Napi::CallbackInfo& info);
  Napi::Value RecycleBuf(const Napi::CallbackInfo& info);
  Napi::Value CopyBuf(const Napi::CallbackInfo& info);

  // Buffer rings
  bool ProbeOps(const Napi::CallbackInfo& info);
  BufGroup* GroupArg(Napi::Env env, const Napi::Value& v);
  void PushBuf(BufGroup& g, uint32_t bid);
  void FreeGroup(BufGroup& g);

  // Submission side
  bool ThrowIfNotOpen(Napi::Env env);
  bool TakeSlot(Napi::Env env, Args& args, uint64_t* id, uint32_t* slot);
  io_uring_sqe* NextSqe();
  void Queue(const io_uring_sqe& sqe);
  void QueueInternal(const io_uring_sqe& sqe);
  void MoveOverflow();
  int Flush();
  bool SqPoll() const { return mem_.params.flags & IORING_SETUP_SQPOLL; }
  // Every SQ entry holds an SQE the kernel has not taken (acquire on the head: the kernel has
  // finished reading an entry before it can be reused).
  bool SqFull() const { return sq_tail_ - mem_.SqHead() >= mem_.sq_entries; }
  bool WaitSqRoom();
  int EnterNoSubmit(unsigned flags);
  void CountSqPollSubmitted();

  // Completion side
  unsigned CopyCompletions(bool emit, bool* any);
  void OnInternalCompletion(const io_uring_cqe& cqe);
  void ReleaseSlot(uint32_t slot);
  void NeedKernelFlush();
  void Reap();
  void UpdateRef();

  // Close
  void Teardown(bool call_js);
  void DrainAll(bool call_js);
  void CompleteQueued(bool call_js);
  void IssueDrainCancels();
  void WaitForCompletion(int64_t ms);
  void DeliverDuringDrain(unsigned n, bool call_js);

  static void OnPoll(uv_poll_t* h, int status, int events);
  static void OnPrepare(uv_prepare_t* h);
  static void OnHandleClosed(uv_handle_t* h);
  static void OnEnvCleanup(napi_async_cleanup_hook_handle hook, void* arg);

  RingMem mem_;
  State state_ = State::kClosed;
  bool dispatching_ = false;
  LoopHandles* handles_ = nullptr;
  uv_loop_t* loop_ = nullptr;
  napi_env env_ = nullptr;
  // While ops are in flight the JS wrapper and on_batch_ (and through it the facade with its
  // callbacks and pinned buffers) are held strongly; an idle ring holds nothing, so a ring
  // dropped without close() is garbage collected (the destructor then releases it).
  bool referenced_ = false;

  OpcodeSet ops_;        // opcodes this ring uses (probed, less the test-hidden ones)
  uint32_t caps_ = 0;    // Capability bits, likewise
  std::vector<BufGroup> groups_;  // by group id

  // Close drain state.
  uint32_t test_flags_ = 0;
  int64_t drain_warn_ms_ = kDrainWarnMs;
  bool cancel_any_ = true;       // IORING_ASYNC_CANCEL_ANY works (5.19+); false after -EINVAL
  bool ext_arg_ = false;         // IORING_FEAT_EXT_ARG: waits can carry a timeout
  bool reissue_cancels_ = false;  // the drain learnt something that calls for a new round now
  bool wait_sqe_pending_ = false;
  __kernel_timespec wait_ts_{};  // the wait timeout's timespec (copied by the kernel at submit)

  unsigned sq_tail_ = 0;           // local SQ tail: SQEs written
  uint64_t ops_in_flight_ = 0;     // JS ops queued or submitted whose final CQE is not reaped
  uint64_t internal_in_flight_ = 0;  // internal SQEs (cancels, wait timeouts) likewise
  uint64_t submitted_ = 0;         // counters for info()
  uint64_t enters_ = 0;
  uint64_t batches_ = 0;
  uint64_t completions_ = 0;
  uint64_t cq_overflow_flushes_ = 0;  // enters that moved the kernel's CQ overflow list into the CQ
  uint64_t sq_wakeups_ = 0;        // SQPOLL: enters that woke the idle SQ thread
  unsigned sq_head_seen_ = 0;      // SQPOLL: the SQ head when submitted_ was last counted
  std::deque<io_uring_sqe> overflow_;  // SQEs waiting for room in the SQ, in order
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<SlotExtra>> extras_;

  Napi::Reference<Napi::Int32Array> out_ref_;
  int32_t* out_ = nullptr;  // [slot, res, flags] * out_cap_
  unsigned out_cap_ = 0;
  Napi::FunctionReference on_batch_;  // (count) => void; weak while idle, see referenced_
  Napi::ObjectReference async_resource_;
  std::unique_ptr<Napi::AsyncContext> async_ctx_;
};

}  // namespace effio

#endif  // __linux__
