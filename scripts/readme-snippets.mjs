// Writes every ```ts block of README.md to examples/readme-snippets/snippet-N.ts, so the test command's
// typecheck (examples/tsconfig.json) compiles them: a README example that stops compiling
// fails the tests. Each block must be a whole module (its own imports).
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
const out = path.join(root, "examples", "readme-snippets")
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1])
blocks.forEach((code, i) => {
  const line = readme.slice(0, readme.indexOf(code)).split("\n").length
  fs.writeFileSync(path.join(out, `snippet-${i + 1}.ts`), `// README.md line ${line}\n${code}export {}\n`)
})
console.log(`readme-snippets: ${blocks.length} TypeScript blocks of README.md written to examples/readme-snippets/`)
