import { describe, expect, it } from "@effect/vitest"
import { afterAll, vi } from "vitest"
import { Runtime, Stdenv, Uring } from "@effio/runtime"
import { Effect, Option } from "effect"
import { backends, readAll } from "./helpers.js"

// The node backend's one-line notice goes to stderr once per process: captured for the whole
// file (so it does not land in the test output), asserted below.
const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true)
const notices = () => stderr.mock.calls.map((c) => String(c[0])).filter((l) => l.startsWith("effio: "))
afterAll(() => stderr.mockRestore())

describe.each(backends)("Runtime on the %s backend", (backendId, layer) => {
  it("runPromise resolves with the program's value", async () => {
    const value = await Runtime.runPromise((env) => Effect.succeed(`${env.backendId}:42`), { backend: backendId })
    expect(value).toBe(`${backendId}:42`)
  })

  it("runPromise runs real I/O (a pipe round trip) and closes the program's scope", async () => {
    const text = await Runtime.runPromise(
      (env) =>
        Effect.gen(function*() {
          const { sink, source } = yield* env.pipe
          yield* sink.write("through the pipe")
          yield* sink.close
          return new TextDecoder().decode(yield* readAll(source))
        }),
      { backend: backendId }
    )
    expect(text).toBe("through the pipe")
  })

  it("runPromise rejects with the program's failure", async () => {
    await expect(Runtime.runPromise(() => Effect.fail(new Error("boom from the program")), { backend: backendId })).rejects
      .toThrow("boom from the program")
  })

  it("runPromise rejects on a defect too", async () => {
    await expect(Runtime.runPromise(() => Effect.die(new Error("defect here")), { backend: backendId })).rejects.toThrow(
      "defect here"
    )
  })

  it.live("the layer provides Uring.Uring exactly on io_uring", () =>
    Effect.gen(function*() {
      const env = yield* Stdenv.Stdenv
      const uring = yield* Effect.serviceOption(Uring.Uring)
      expect(env.backendId).toBe(backendId)
      expect(Option.isSome(uring)).toBe(backendId === "io_uring")
    }).pipe(Effect.provide(layer)))
})

describe("Runtime", () => {
  it("runPromise on io_uring releases the ring when the program ends", async () => {
    // On io_uring the context also holds Uring.Uring (reached with Effect.serviceOption).
    const ring = await Runtime.runPromise(() =>
      Effect.map(Effect.serviceOption(Uring.Uring), (u) => {
        const ring = Option.getOrThrow(u).ring
        expect(ring.info().open).toBe(true)
        return ring
      }), { backend: "io_uring" })
    expect(ring.info().open).toBe(false)
  })

  it.live("layer({ backend: \"bogus\" }) fails with BackendUnavailable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(Stdenv.Stdenv, Runtime.layer({ backend: "bogus" as any })))
      expect(error).toBeInstanceOf(Runtime.BackendUnavailable)
      expect(error._tag).toBe("BackendUnavailable")
      expect(error.message).toContain("bogus")
    }))

  it("runPromise with a bogus backend rejects with BackendUnavailable", async () => {
    await expect(Runtime.runPromise(() => Effect.void, { backend: "bogus" as any })).rejects.toThrow(/unknown backend "bogus"/)
  })

  it("chooseBackend: auto picks io_uring where the probe says it is available; node when asked, said once on stderr", () => {
    const before = notices().length
    expect(Runtime.chooseBackend({ backend: "auto" })).toBe("io_uring")
    expect(Runtime.chooseBackend({ backend: "io_uring" })).toBe("io_uring")
    expect(notices().length).toBe(before)
    expect(Runtime.chooseBackend({ backend: "node" })).toBe("node")
    expect(Runtime.chooseBackend({ backend: "node" })).toBe("node")
    // Once per process, whichever test used node first.
    expect(notices().length).toBe(1)
    expect(notices()[0]).toMatch(/^effio: using the node backend: requested by /)
  })

  it("EFFIO_BACKEND picks the backend when options do not", async () => {
    const saved = process.env.EFFIO_BACKEND
    try {
      process.env.EFFIO_BACKEND = "node"
      expect(await Runtime.runPromise((env) => Effect.succeed(env.backendId))).toBe("node")
      process.env.EFFIO_BACKEND = "io_uring"
      expect(await Runtime.runPromise((env) => Effect.succeed(env.backendId))).toBe("io_uring")
      // options.backend wins over the variable.
      expect(await Runtime.runPromise((env) => Effect.succeed(env.backendId), { backend: "node" })).toBe("node")
      process.env.EFFIO_BACKEND = "nonsense"
      expect(() => Runtime.chooseBackend()).toThrow(Runtime.BackendUnavailable)
    } finally {
      if (saved === undefined) delete process.env.EFFIO_BACKEND
      else process.env.EFFIO_BACKEND = saved
    }
  })
})
