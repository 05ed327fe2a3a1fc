/**
 * `@effio/runtime`: structured-concurrency I/O for Effect, driven by io_uring.
 *
 * ```ts
 * import { Flow, Runtime, Switch } from "@effio/runtime"
 * ```
 * @module
 */
export * as Cap from "./Cap.js"
export * as Errors from "./Errors.js"
export * as Fd from "./Fd.js"
export * as Flow from "./Flow.js"
export * as Runtime from "./Runtime.js"
export * as Scheduler from "./Scheduler.js"
export * as Stdenv from "./Stdenv.js"
export * as Switch from "./Switch.js"
export * as Uring from "./Uring.js"
