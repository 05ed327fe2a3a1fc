// The backend choice every layer shares: options, then EFFIO_BACKEND (empty = unset), then auto.
import { describe, expect, it } from "@effect/vitest"
import { Backend } from "@effio/core"
import { Effect, Exit, Layer } from "effect"
import * as Context from "effect/Context"
import { afterAll, afterEach, beforeEach, vi } from "vitest"

const saved = process.env.EFFIO_BACKEND
// The node notice goes to stderr once per process: captured here, asserted below.
const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true)
const notices = () => stderr.mock.calls.map((c) => String(c[0])).filter((l) => l.startsWith("effio: "))
afterAll(() => stderr.mockRestore())
beforeEach(() => {
  delete process.env.EFFIO_BACKEND
})
afterEach(() => {
  if (saved === undefined) delete process.env.EFFIO_BACKEND
  else process.env.EFFIO_BACKEND = saved
})

class Which extends Context.Tag("test/Which")<Which, string>() {}
const layers = { io_uring: Layer.succeed(Which, "io_uring"), node: Layer.succeed(Which, "node") }

describe("Backend", () => {
  it("auto is io_uring on this kernel; an option wins over EFFIO_BACKEND", () => {
    expect(Backend.choose()).toBe("io_uring")
    process.env.EFFIO_BACKEND = "node"
    expect(Backend.choose()).toBe("node")
    expect(Backend.choose("io_uring")).toBe("io_uring")
  })

  it("an empty EFFIO_BACKEND means unset", () => {
    process.env.EFFIO_BACKEND = ""
    expect(Backend.requested()).toBe("auto")
    expect(Backend.choose()).toBe("io_uring")
  })

  it("an unknown name is a BackendUnavailable (a tagged error naming the variable)", () => {
    process.env.EFFIO_BACKEND = "kqueue"
    const exit = Effect.runSyncExit(Backend.chooseEffect())
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const e = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(e).toBeInstanceOf(Backend.BackendUnavailable)
      expect(e?._tag).toBe("BackendUnavailable")
      expect(e?.message).toContain("EFFIO_BACKEND")
    }
  })

  it.effect("select builds the chosen backend's layer when the layer is built", () =>
    Effect.gen(function*() {
      expect(yield* Effect.provide(Which, Backend.select(layers))).toBe("io_uring")
      expect(yield* Effect.provide(Which, Backend.select(layers, "node"))).toBe("node")
      process.env.EFFIO_BACKEND = "node"
      expect(yield* Effect.provide(Which, Backend.select(layers))).toBe("node")
    }))

  it("whatever chose node, and however often, one stderr line in the process says so", () => {
    Backend.choose("node")
    process.env.EFFIO_BACKEND = "node"
    Backend.choose()
    expect(notices().length).toBe(1)
    expect(notices()[0]).toMatch(/^effio: using the node backend: requested by (options\.backend|EFFIO_BACKEND=node)\n$/)
  })
})
