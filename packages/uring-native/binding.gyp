{
  "targets": [
    {
      "target_name": "effio_uring",
      "sources": ["native/addon.cc", "native/ring.cc", "native/ops.cc", "native/args.cc", "native/probe.cc", "native/net.cc", "native/offload.cc", "native/recycle.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      # Never unloaded: memory from allocRecycled may be freed (by its deleter, code in this
      # library) after the environment that loaded the addon has closed it (native/recycle.cc).
      "ldflags": ["-Wl,-z,nodelete"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_ENABLE_CPP_EXCEPTIONS": "NO"
      },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 0 } }
    }
  ],
  "conditions": [
    ["OS==\"linux\"", {
      "targets": [
        {
          # Test helper: runs a command with io_uring_setup denied by seccomp (see test-tools.js).
          "target_name": "effio-seccomp-deny",
          "type": "executable",
          "sources": ["native/seccomp-deny.c"],
          "cflags": ["-O2", "-Wall", "-Wextra"]
        }
      ]
    }]
  ]
}
