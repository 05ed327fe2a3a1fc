// Work io_uring has no opcode for, run on libuv's threadpool and completed on the loop
// thread: copy_file_range(2), for copyFile.
#pragma once
#ifdef __linux__

#include <napi.h>

namespace effio {

// Adds copyFileRange to the addon's exports.
void InitOffload(Napi::Env env, Napi::Object exports);

}  // namespace effio

#endif  // __linux__
