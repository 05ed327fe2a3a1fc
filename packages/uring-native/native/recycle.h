// Buffers whose memory is reused once V8 collects them: allocRecycled(size).
#pragma once
#ifdef __linux__

#include <napi.h>

namespace effio {

// Adds allocRecycled and releaseRecycled to the addon's exports.
void InitRecycle(Napi::Env env, Napi::Object exports);

}  // namespace effio

#endif  // __linux__
