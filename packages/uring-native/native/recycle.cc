// allocRecycled(size): an ArrayBuffer over memory mapped here; when its last holder lets go
// (V8's collection, or the ring's pin of an op's buffer), the memory goes to a free list, and
// the next ArrayBuffer of that size gets it with its pages still mapped.
//
// Why: a file read in 1 MiB chunks (FileSystem.stream, File.readAlloc) allocates a fresh
// Buffer per chunk, and V8 frees such chunks in batches, at its collections. glibc hands a
// freed run back to the kernel (a heap trim, or munmap above its mmap threshold), so the
// next chunks are new pages: a fault and a zeroed page per 4 KiB before the kernel's copy.
// Measured on a cached 1 GiB file: a ring read into a reused 1 MiB buffer took 148 us, into
// a fresh one 566 us; an Effect loop reading into a fresh 1 MiB Buffer each time made 583k
// page faults per 3 GiB, a plain readSync loop 51k. FileSystem.stream of 1 MiB chunks went
// from 1.9-2.1 to 2.4-2.6 GB/s with this list (one build, runs alternating).
//
// The memory is a V8 BackingStore with our deleter, not an N-API external buffer: node keeps
// a weak handle on each of those, so V8 frees them only at full collections (80-130 per 3 GiB
// streamed), runs the finalizer from a later setImmediate, and calls it at an environment's
// teardown even while something else (a ring op in flight) still holds the memory. V8 calls a
// BackingStore's deleter when the last shared_ptr to it goes, on whatever thread that is.
#ifdef __linux__

#include "recycle.h"

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "args.h"

namespace effio {
namespace {

// Sizes that are recycled, where it measured a gain (FileSystem.stream with an earlier
// version of this list, over N-API external buffers; chunks of 512 KiB: 2.1 -> 2.7 GB/s,
// 1 MiB: 2.3 -> 3.7, 2 MiB: 2.0-2.4 -> 3.1-3.4). At 64 and 256 KiB malloc reuses memory as
// well, and at 4 MiB it measured the same.
constexpr int64_t kMin = 512 * 1024;
constexpr int64_t kMax = int64_t{2} << 20;
// Most bytes the free lists hold; a block freed beyond it is unmapped. One V8 collection
// frees what was allocated since the last, 60-90 MiB in a 1 MiB-chunk stream: 64 MiB let
// a third of the blocks overflow and gave no gain, 128 and 256 MiB the same gain.
constexpr size_t kCap = size_t{128} << 20;
// Distinct sizes with a list; a new size takes the place of a list that is empty.
constexpr size_t kBuckets = 8;
// After this long without an allocation the lists are unmapped, and blocks freed later are
// unmapped at once: a burst's memory does not stay mapped.
constexpr auto kIdle = std::chrono::seconds(1);

using Clock = std::chrono::steady_clock;

struct Pool {
  std::mutex mu;
  struct Bucket {
    size_t size;
    std::vector<void*> blocks;
  };
  std::vector<Bucket> buckets;
  size_t pooled = 0;
  double hits = 0, misses = 0, freed = 0;
  Clock::time_point last_take{};
};

// Leaked on purpose: a BackingStore may be freed on any thread, also after an environment's
// (or the main isolate's) teardown, and its deleter must still find the pool. For the same
// reason the addon is linked with -z nodelete (binding.gyp): a worker's environment closes
// its addons before its isolate frees the last BackingStores, whose deleter is code here.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

size_t Rounded(size_t size) {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (size + page - 1) / page * page;
}

void* Take(size_t mapped) {
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    p.last_take = Clock::now();
    for (auto& b : p.buckets) {
      if (b.size == mapped && !b.blocks.empty()) {
        void* block = b.blocks.back();
        b.blocks.pop_back();
        p.pooled -= mapped;
        p.hits++;
        return block;
      }
    }
    p.misses++;
  }
  void* block = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return block == MAP_FAILED ? nullptr : block;
}

// The list of `mapped`-byte blocks, made (in place of an empty one) if there is room; or null.
Pool::Bucket* BucketFor(Pool& p, size_t mapped) {
  Pool::Bucket* empty = nullptr;
  for (auto& b : p.buckets) {
    if (b.size == mapped) return &b;
    if (empty == nullptr && b.blocks.empty()) empty = &b;
  }
  if (p.buckets.size() < kBuckets) {
    p.buckets.push_back({mapped, {}});
    return &p.buckets.back();
  }
  if (empty != nullptr) empty->size = mapped;
  return empty;
}

void Give(void* block, size_t mapped) {
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    p.freed++;
    if (p.pooled + mapped <= kCap && Clock::now() - p.last_take < kIdle) {
      if (Pool::Bucket* b = BucketFor(p, mapped)) {
        b->blocks.push_back(block);
        p.pooled += mapped;
        return;
      }
    }
  }
  munmap(block, mapped);
}

// The BackingStore's deleter: any thread, maybe inside a collection, so no V8 and no JS.
void Deleter(void* data, size_t, void* mapped) { Give(data, reinterpret_cast<uintptr_t>(mapped)); }

// Unmaps every pooled block (all of them, or only if the pool is idle); returns the bytes.
double Release(bool only_if_idle) {
  Pool& p = pool();
  std::vector<std::pair<void*, size_t>> out;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    if (only_if_idle && Clock::now() - p.last_take < kIdle) return -1;
    for (auto& b : p.buckets) {
      for (void* block : b.blocks) out.emplace_back(block, b.size);
    }
    p.buckets.clear();
    p.pooled = 0;
  }
  double total = 0;
  for (auto& [block, size] : out) {
    munmap(block, size);
    total += static_cast<double>(size);
  }
  return total;
}

// allocRecycled(size) -> ArrayBuffer of `size` uninitialized bytes, size in [512 KiB,
// 2 MiB]; or undefined when no memory could be mapped (the caller allocates an ordinary one).
Napi::Value AllocRecycled(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t size = 0;
  if (!GetInt(env, info[0], "size", kMin, kMax, &size)) return Napi::Value();
#ifdef V8_ENABLE_SANDBOX
  // A sandboxed V8 (Electron, some custom builds) aborts on a BackingStore outside its
  // sandbox: such a build gets ordinary Buffers.
  return env.Undefined();
#endif
  const size_t mapped = Rounded(static_cast<size_t>(size));
  void* block = Take(mapped);
  if (block == nullptr) return env.Undefined();
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(
      block, static_cast<size_t>(size), Deleter, reinterpret_cast<void*>(static_cast<uintptr_t>(mapped)));
  v8::Local<v8::Value> ab = v8::ArrayBuffer::New(isolate, std::move(store));
  // The reverse of BackingStoreOf's conversion (args.cc): a napi_value is a v8::Local's bits.
  napi_value out;
  static_assert(sizeof(out) == sizeof(ab), "napi_value is a v8::Local");
  memcpy(static_cast<void*>(&out), &ab, sizeof(out));
  return Napi::Value(env, out);
}

// recycledInfo() -> { pooled, hits, misses, freed }: bytes in the free lists, allocations
// served from them and by a new mapping, blocks freed (kept or unmapped).
Napi::Value RecycledInfo(const Napi::CallbackInfo& info) {
  Pool& p = pool();
  double pooled, hits, misses, freed;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    pooled = static_cast<double>(p.pooled);
    hits = p.hits;
    misses = p.misses;
    freed = p.freed;
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("pooled", pooled);
  out.Set("hits", hits);
  out.Set("misses", misses);
  out.Set("freed", freed);
  return out;
}

// releaseRecycled(onlyIfIdle?) -> bytes unmapped, or -1 when `onlyIfIdle` and a block was
// taken less than a second ago (in any thread).
Napi::Value ReleaseRecycled(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Release(info.Length() > 0 && info[0].ToBoolean().Value()));
}

// An environment's teardown (a worker exiting): what it frees from now on is unmapped, and so
// is the pool, as no timer of that environment is left to do it a second later. Another
// thread's next allocation starts the lists again.
void OnEnvCleanup(void*) {
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    p.last_take = {};
  }
  Release(false);
}

}  // namespace

void InitRecycle(Napi::Env env, Napi::Object exports) {
  napi_add_env_cleanup_hook(env, OnEnvCleanup, nullptr);
  exports.Set("allocRecycled", Napi::Function::New(env, AllocRecycled));
  exports.Set("releaseRecycled", Napi::Function::New(env, ReleaseRecycled));
  exports.Set("recycledInfo", Napi::Function::New(env, RecycledInfo));
}

}  // namespace effio

#endif  // __linux__
