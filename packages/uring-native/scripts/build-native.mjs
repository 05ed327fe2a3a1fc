// Builds the native addon with node-gyp against the running Node's own headers.
// A failed build never fails `pnpm install`/`pnpm build` on a developer machine: the JS
// facade then reports `probe().available === false` and the runtime falls back to node.
// Under CI (CI=true) or EFFIO_REQUIRE_NATIVE=1 a failed build is an error.
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const pkg = resolve(here, "..")
const require = createRequire(import.meta.url)
const nodeGyp = require.resolve("node-gyp/bin/node-gyp.js")

// Which Node the addon was last built for: a build for another Node (another ABI, other
// headers) is stale whatever the file times say.
const stamp = join(pkg, "build", "Release", "effio_uring.node-for")
const thisNode = `${process.version} abi ${process.versions.modules} ${process.execPath}`

// --if-stale: skip when the built addon is newer than every native source and was built for
// this Node (fast `pnpm build`).
if (process.argv.includes("--if-stale")) {
  const out = join(pkg, "build", "Release", "effio_uring.node")
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, "utf8") === thisNode) {
    const built = statSync(out).mtimeMs
    const sources = [join(pkg, "binding.gyp"), ...readdirSync(join(pkg, "native")).map((f) => join(pkg, "native", f))]
    if (sources.every((f) => statSync(f).mtimeMs <= built)) process.exit(0)
  }
}

const args = [nodeGyp, "rebuild", "--release", "--loglevel=warn"]
// Official Node builds and distro packages ship headers next to the binary: use them,
// so node-gyp never tries to download a header tarball.
// The running Node's own headers win over an `npm_config_nodedir` inherited from the user's
// npm config (node-gyp reads it too: a Node 22 build once used Node 20's headers that way).
const prefix = resolve(dirname(process.execPath), "..")
const env = { ...process.env }
if (existsSync(join(prefix, "include", "node", "node_api.h"))) {
  args.push(`--nodedir=${prefix}`)
  env.npm_config_nodedir = prefix
  console.log(`[effio] building the io_uring addon for node ${process.version} with the headers in ${join(prefix, "include", "node")}`)
} else {
  console.log(`[effio] building the io_uring addon for node ${process.version} (no headers beside ${process.execPath}: node-gyp's own)`)
}

const r = spawnSync(process.execPath, args, { cwd: pkg, stdio: "inherit", env })
if (r.status !== 0) {
  const strict = process.env.CI === "true" || process.env.EFFIO_REQUIRE_NATIVE === "1"
  console.error(`[effio] building the io_uring addon failed (exit ${r.status}); ` +
    (strict ? "failing because CI/EFFIO_REQUIRE_NATIVE is set" : "Effio will fall back to the node backend"))
  process.exit(strict ? 1 : 0)
}

writeFileSync(stamp, thisNode)
