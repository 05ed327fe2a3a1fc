// Builds the native addon with node-gyp against the running Node's own headers.
// A failed build never fails `pnpm install`/`pnpm build` on a developer machine: the JS
// facade then reports `probe().available === false` and the runtime falls back to node.
// Under CI (CI=true) or EFFIO_REQUIRE_NATIVE=1 a failed build is an error.
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const pkg = resolve(here, "..")
const require = createRequire(import.meta.url)
const nodeGyp = require.resolve("node-gyp/bin/node-gyp.js")

// --if-stale: skip when the built addon is newer than every native source (fast `pnpm build`).
if (process.argv.includes("--if-stale")) {
  const out = join(pkg, "build", "Release", "effio_uring.node")
  if (existsSync(out)) {
    const built = statSync(out).mtimeMs
    const sources = [join(pkg, "binding.gyp"), ...readdirSync(join(pkg, "native")).map((f) => join(pkg, "native", f))]
    if (sources.every((f) => statSync(f).mtimeMs <= built)) process.exit(0)
  }
}

const args = [nodeGyp, "rebuild", "--release", "--loglevel=warn"]
// Official Node builds and distro packages ship headers next to the binary: use them,
// so node-gyp never tries to download a header tarball.
const prefix = resolve(dirname(process.execPath), "..")
if (existsSync(join(prefix, "include", "node", "node_api.h"))) args.push(`--nodedir=${prefix}`)

const r = spawnSync(process.execPath, args, { cwd: pkg, stdio: "inherit" })
if (r.status !== 0) {
  const strict = process.env.CI === "true" || process.env.EFFIO_REQUIRE_NATIVE === "1"
  console.error(`[effio] building the io_uring addon failed (exit ${r.status}); ` +
    (strict ? "failing because CI/EFFIO_REQUIRE_NATIVE is set" : "Effio will fall back to the node backend"))
  process.exit(strict ? 1 : 0)
}
