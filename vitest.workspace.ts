import { defineWorkspace } from "vitest/config"

// Each package has its own vitest.config.ts; this file lists them for `vitest run` at the root.
export default defineWorkspace(["packages/*/vitest.config.ts"])
