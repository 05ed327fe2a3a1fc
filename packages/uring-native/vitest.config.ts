import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "uring-native",
    include: ["test/**/*.test.ts"],
    // Real kernel, real processes: forks isolate native state; --expose-gc lets tests force GC
    // while ops are in flight.
    pool: "forks",
    poolOptions: { forks: { execArgv: ["--expose-gc"] } },
    testTimeout: 60_000,
    hookTimeout: 30_000
  }
})
