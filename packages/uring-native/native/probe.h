// probe(): can io_uring be used here, and what does this kernel support. Also the name
// tables (opcodes, features, setup flags) that Ring.info() shares, the kernel release and
// the human reason for a failed io_uring_setup.
#pragma once
#ifdef __linux__

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace effio {

// IORING_FEAT_* names in lower case ("nodrop", "ext_arg", ...); unknown bits "feat_<n>".
std::vector<std::string> FeatureList(uint32_t features);
// IORING_SETUP_* names of the flags a ring was set up with.
std::vector<std::string> SetupFlagList(uint32_t flags);
// Opcode name by number ("read", "openat2", ...); unknown numbers "op_<n>".
std::string OpName(unsigned op);
// `uname -r`.
std::string KernelRelease();
// Why io_uring_setup failed with `err` (positive errno), in words with the errno name.
std::string SetupFailureReason(int err);

// probe() -> { available, reason?, errno?, kernel, ops, features, setupFlags? }
Napi::Value Probe(const Napi::CallbackInfo& info);

// A JS array of strings.
Napi::Array StringArray(Napi::Env env, const std::vector<std::string>& items);

}  // namespace effio

#endif  // __linux__
