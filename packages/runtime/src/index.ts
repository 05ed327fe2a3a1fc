/**
 * `@effio/runtime`: structured-concurrency I/O for Effect, driven by io_uring. The
 * composition root (Eio's `eio_main`): `Runtime.run(env => …)`, the stdenv and the Layers,
 * plus `@effio/core`'s modules re-exported, so one import gives a program everything:
 *
 * ```ts
 * import { Flow, Runtime, Switch } from "@effio/runtime"
 * ```
 * @module
 */
export { Backend, Cap, Errors, Fd, Flow, Scheduler, Switch, Uring } from "@effio/core"
export { Net } from "@effio/net"
export * as Runtime from "./Runtime.js"
export * as Stdenv from "./Stdenv.js"
