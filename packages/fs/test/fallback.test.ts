// UringFileSystem.layer where io_uring is denied: child processes under a seccomp filter that
// makes io_uring_setup fail with EPERM (`effio-seccomp-deny`, built with the addon). The
// layer falls back to node's file system (Effio's: same reasons) with one notice line on
// stderr and honours EFFIO_BACKEND; layerStrict fails with UringUnavailable.
import { describe, expect, it } from "@effect/vitest"
import { seccompDenyPath } from "@effio/uring-native/test-tools"
import { fixture, runTs } from "./fs-helpers.js"

const describeWithSeccomp = seccompDenyPath === undefined ? describe.skip : describe
const fallback = fixture("fallback.ts")

// runTs of fs-helpers takes no env: the variable is set for the child through `env -u/VAR=`.
const withEnv = (value: string | undefined): ReadonlyArray<string> =>
  value === undefined ? ["env", "-u", "EFFIO_BACKEND"] : ["env", `EFFIO_BACKEND=${value}`]

const runIn = async (args: ReadonlyArray<string>, backend: string | undefined, seccomp: boolean) => {
  const prefix = [...withEnv(backend), ...(seccomp ? [seccompDenyPath!] : [])]
  const r = await runTs(fallback, args, prefix)
  const show = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
  const lines = r.stdout.trim().split("\n")
  return { r, show, out: JSON.parse(lines.at(-1) || "null"), notices: r.stderr.split("\n").filter((l) => l !== "") }
}

describeWithSeccomp("UringFileSystem under a seccomp filter that denies io_uring_setup (EPERM)", { timeout: 60_000 }, () => {
  it.concurrent("layer: falls back to node's file system (no ring, Effio's reasons), one notice line naming EPERM", async () => {
    const { out, notices, show } = await runIn([], undefined, true)
    expect(out, show).toMatchObject({ built: true, read: "through the layer", uringFds: 0, readLinkReason: "InvalidData" })
    expect(notices, show).toHaveLength(1)
    expect(notices[0]).toMatch(/^effio: using the node backend: .*EPERM/)
  })

  it.concurrent("layerStrict: fails with UringUnavailable, no notice", async () => {
    const { out, notices, show } = await runIn(["strict"], undefined, true)
    expect(out, show).toMatchObject({ built: false, tag: "UringUnavailable" })
    expect(notices, show).toEqual([])
  })

  it.concurrent("layer with EFFIO_BACKEND=io_uring: fails with BackendUnavailable naming EPERM", async () => {
    const { out, show } = await runIn([], "io_uring", true)
    expect(out, show).toMatchObject({ built: false, tag: "BackendUnavailable", reason: expect.stringContaining("EPERM") })
  })

  it.concurrent("layer with EFFIO_BACKEND=node: node's file system, notice naming EFFIO_BACKEND (io_uring usable or not)", async () => {
    for (const seccomp of [true, false]) {
      const { out, notices, show } = await runIn([], "node", seccomp)
      expect(out, show).toMatchObject({ built: true, read: "through the layer", uringFds: 0, readLinkReason: "InvalidData" })
      expect(notices, show).toEqual(["effio: using the node backend: requested by EFFIO_BACKEND=node"])
    }
  })

  it.concurrent("layer without the filter: io_uring (a ring fd held), no notice", async () => {
    const { out, notices, show } = await runIn([], undefined, false)
    expect(out, show).toMatchObject({ built: true, read: "through the layer", readLinkReason: "InvalidData" })
    expect(out.uringFds, show).toBeGreaterThan(0)
    expect(notices, show).toEqual([])
  })
})
