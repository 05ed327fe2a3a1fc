import { defineConfig } from "vitest/config"

// Options vitest only reads from the root config (the projects are listed in
// vitest.workspace.ts): every test file runs in a forked process with --expose-gc, so
// tests can force garbage collection while kernel ops are in flight.
export default defineConfig({
  test: {
    pool: "forks",
    poolOptions: { forks: { execArgv: ["--expose-gc"] } }
  }
})
