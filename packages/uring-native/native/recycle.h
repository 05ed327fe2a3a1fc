// ArrayBuffers whose memory is reused once they are freed: allocRecycled(size).
#pragma once
#ifdef __linux__

#include <napi.h>

namespace effio {

// Adds allocRecycled, releaseRecycled and recycledInfo to the addon's exports.
void InitRecycle(Napi::Env env, Napi::Object exports);

}  // namespace effio

#endif  // __linux__
