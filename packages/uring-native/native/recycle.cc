// allocRecycled(size): a Buffer over memory mapped here; when V8 collects the Buffer, its
// memory goes to a free list, and the next Buffer of that size gets it with its pages still
// mapped.
//
// Why: a file read in 1 MiB chunks (FileSystem.stream, File.readAlloc) allocates a fresh
// Buffer per chunk, and V8 frees such chunks in batches, at its collections. glibc hands a
// freed run back to the kernel (a heap trim, or munmap above its mmap threshold), so the
// next chunks are new pages: a fault and a zeroed page per 4 KiB before the kernel's copy.
// Measured on a cached 1 GiB file: a ring read into a reused 1 MiB buffer took 148 us, into
// a fresh one 566 us; an Effect loop reading into a fresh 1 MiB Buffer each time made 583k
// page faults per 3 GiB, a plain readSync loop 51k. With this list bench/fs-big-file's
// FileSystem.stream went from 2.2 to 2.9 GB/s (2.7x to 3.7x platform-node's), a readAlloc
// loop from 2.8-3.2 to 4.4-4.5.
#ifdef __linux__

#include "recycle.h"

#include <sys/mman.h>

#include <cstdint>
#include <mutex>
#include <vector>

#include "args.h"

namespace effio {
namespace {

// Sizes that are recycled, where it measured a gain (FileSystem.stream, chunks of 512 KiB:
// 2.1 -> 2.7 GB/s, 1 MiB: 2.3 -> 3.7, 2 MiB: 2.0-2.4 -> 3.1-3.4). At 64 and 256 KiB malloc
// reuses memory as well, and at 4 MiB it measured the same: there the list's cost stays
// away (a Buffer over external memory is freed only by a full collection, not a scavenge).
constexpr int64_t kMin = 512 * 1024;
constexpr int64_t kMax = int64_t{2} << 20;
constexpr size_t kPage = 4096;
// Most bytes the free lists hold; a block freed beyond it is unmapped. One V8 collection
// frees what was allocated since the last, 60-90 MiB in a 1 MiB-chunk stream: 64 MiB let
// a third of the blocks overflow and gave no gain, 128 and 256 MiB the same gain.
constexpr size_t kCap = size_t{128} << 20;

struct Pool {
  std::mutex mu;
  struct Bucket {
    size_t size;
    std::vector<void*> blocks;
  };
  std::vector<Bucket> buckets;
  size_t pooled = 0;
  double hits = 0, misses = 0;
};

// Leaked on purpose: Buffers of any thread's environment may be collected during or after
// its teardown, and their finalizers must still find the pool.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

size_t Rounded(size_t size) { return (size + kPage - 1) & ~(kPage - 1); }

void* Take(size_t mapped) {
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
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

void Give(void* block, size_t mapped) {
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.pooled + mapped <= kCap) {
      for (auto& b : p.buckets) {
        if (b.size == mapped) {
          b.blocks.push_back(block);
          p.pooled += mapped;
          return;
        }
      }
      if (p.buckets.size() < 8) {
        p.buckets.push_back({mapped, {block}});
        p.pooled += mapped;
        return;
      }
    }
  }
  munmap(block, mapped);
}

// Runs on the Buffer's JS thread, maybe inside a collection: no JS, only the list.
void Finalize(napi_env, void* data, void* hint) { Give(data, reinterpret_cast<uintptr_t>(hint)); }

// allocRecycled(size) -> Buffer of `size` uninitialized bytes, size in [512 KiB, 2 MiB]; or
// undefined when no memory could be mapped or the environment refuses external buffers (a
// V8 sandbox: napi_no_external_buffers_allowed), and the caller allocates an ordinary one.
Napi::Value AllocRecycled(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t size = 0;
  if (!GetInt(env, info[0], "size", kMin, kMax, &size)) return Napi::Value();
  const size_t mapped = Rounded(static_cast<size_t>(size));
  void* block = Take(mapped);
  if (block == nullptr) return env.Undefined();
  napi_value out;
  const napi_status s = napi_create_external_buffer(env, static_cast<size_t>(size), block, Finalize,
                                                    reinterpret_cast<void*>(static_cast<uintptr_t>(mapped)), &out);
  if (s == napi_ok) return Napi::Value(env, out);
  Give(block, mapped);
  if (env.IsExceptionPending()) return Napi::Value();
  return env.Undefined();
}

// recycledInfo() -> { pooled, hits, misses }: bytes in the free lists, allocations served
// from them and by a new mapping.
Napi::Value RecycledInfo(const Napi::CallbackInfo& info) {
  Pool& p = pool();
  Napi::Object out = Napi::Object::New(info.Env());
  std::lock_guard<std::mutex> lock(p.mu);
  out.Set("pooled", static_cast<double>(p.pooled));
  out.Set("hits", p.hits);
  out.Set("misses", p.misses);
  return out;
}

// releaseRecycled() -> bytes unmapped: empties the free lists.
Napi::Value ReleaseRecycled(const Napi::CallbackInfo& info) {
  Pool& p = pool();
  std::vector<std::pair<void*, size_t>> out;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    for (auto& b : p.buckets) {
      for (void* block : b.blocks) out.emplace_back(block, b.size);
      b.blocks.clear();
    }
    p.pooled = 0;
  }
  double total = 0;
  for (auto& [block, size] : out) {
    munmap(block, size);
    total += static_cast<double>(size);
  }
  return Napi::Number::New(info.Env(), total);
}

}  // namespace

void InitRecycle(Napi::Env env, Napi::Object exports) {
  exports.Set("allocRecycled", Napi::Function::New(env, AllocRecycled));
  exports.Set("releaseRecycled", Napi::Function::New(env, ReleaseRecycled));
  exports.Set("recycledInfo", Napi::Function::New(env, RecycledInfo));
}

}  // namespace effio

#endif  // __linux__
