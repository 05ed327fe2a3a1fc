#!/usr/bin/env bash
# Runs the native test suite (packages/uring-native/test) against an AddressSanitizer build
# of the addon, then rebuilds the normal addon. Not part of CI: it takes a few minutes and
# wants gcc's libasan. Usage, from anywhere in the repo:
#
#   packages/uring-native/scripts/sanitize.sh [vitest filter...]
#
# Node itself is not instrumented; libasan is preloaded so that its allocator and checks
# replace malloc for the whole process, and the addon's own code (built with
# -fsanitize=address) is checked on every access. Leak detection is off: Node keeps memory
# until exit on purpose. Any report makes the script fail and is printed at the end (the
# reports are also kept under $EFFIO_ASAN_DIR, default a fresh temp dir).
set -euo pipefail
pkg="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$pkg/../.." && pwd)"
libasan="$(${CC:-gcc} -print-file-name=libasan.so)"
if [ ! -e "$libasan" ] || [ "$libasan" = "libasan.so" ]; then
  echo "sanitize.sh: libasan.so not found (install gcc's AddressSanitizer runtime)" >&2
  exit 2
fi
reports="${EFFIO_ASAN_DIR:-$(mktemp -d -t effio-asan-XXXXXX)}"
mkdir -p "$reports"

# Whatever happens, leave the normal build behind.
restore() {
  echo "[sanitize] rebuilding the normal addon"
  (cd "$pkg" && node scripts/build-native.mjs > /dev/null)
}
trap restore EXIT

echo "[sanitize] building the addon with -fsanitize=address"
(cd "$pkg" && CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g" \
  CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer -g" LDFLAGS="-fsanitize=address" \
  node scripts/build-native.mjs)
# (The symbol list is read whole first: `grep -q` quitting early would fail the pipe.)
symbols="$(nm -D "$pkg/build/Release/effio_uring.node")"
if ! grep -q __asan_init <<< "$symbols"; then
  echo "sanitize.sh: the addon was not built with AddressSanitizer (node-gyp ignored the flags?)" >&2
  exit 2
fi
# The ASan build must not pass for a normal one later: forget which Node it was built for.
rm -f "$pkg/build/Release/effio_uring.node-for"

echo "[sanitize] running packages/uring-native/test under ASan (reports in $reports)"
status=0
(cd "$repo" && LD_PRELOAD="$libasan" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:log_path=$reports/asan:allow_user_segv_handler=1:handle_segv=0" \
  npx vitest run --project uring-native "$@") || status=$?

found=0
for f in "$reports"/asan.*; do
  [ -e "$f" ] || continue
  # Children that are not node (sh, mount, ip, unshare) have libasan preloaded too: an error
  # in any process counts.
  if grep -q "ERROR: AddressSanitizer" "$f"; then
    found=$((found + 1))
    echo "==== $f"
    cat "$f"
  fi
done
echo "[sanitize] vitest exit status $status, AddressSanitizer reports: $found"
[ "$status" -eq 0 ] && [ "$found" -eq 0 ]
