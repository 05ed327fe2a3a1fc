// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the top functions by self time, and
// self time by file. Usage: node bench/net/cpuprofile-top.mjs <file.cpuprofile> [top=25]
import * as fs from "node:fs"

const [file, topArg] = process.argv.slice(2)
if (!file) {
  console.error("usage: node bench/net/cpuprofile-top.mjs <file.cpuprofile> [top]")
  process.exit(2)
}
const top = Number(topArg ?? 25)
const prof = JSON.parse(fs.readFileSync(file, "utf8"))
const byId = new Map(prof.nodes.map((n) => [n.id, n]))
const self = new Map()
// Each sample names the node that was running; the time until the next sample is its self time.
const dts = prof.timeDeltas
let total = 0
for (let i = 0; i < prof.samples.length; i++) {
  const dt = dts[i + 1] ?? 0
  const id = prof.samples[i]
  self.set(id, (self.get(id) ?? 0) + dt)
  total += dt
}
const short = (url) => url.replace(/^file:\/\//, "").replace(/.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "").replace(/.*\/packages\//, "packages/")
const fnKey = (n) => {
  const c = n.callFrame
  return `${c.functionName || "(anonymous)"}  ${c.url ? `${short(c.url)}:${c.lineNumber + 1}` : ""}`.trim()
}
const byFn = new Map()
const byFile = new Map()
for (const [id, us] of self) {
  const n = byId.get(id)
  const k = fnKey(n)
  byFn.set(k, (byFn.get(k) ?? 0) + us)
  const f = n.callFrame.url ? short(n.callFrame.url).replace(/:\d+$/, "") : `(${n.callFrame.functionName})`
  byFile.set(f, (byFile.get(f) ?? 0) + us)
}
const pct = (us) => `${((us / total) * 100).toFixed(1).padStart(5)}%`
console.log(`total ${(total / 1e6).toFixed(2)} s sampled\n\ntop ${top} functions by self time:`)
for (const [k, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`)
console.log(`\nself time by file:`)
for (const [k, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us)}  ${k}`)
