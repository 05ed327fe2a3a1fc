/**
 * `@effio/runtime`: structured-concurrency I/O for Effect, driven by io_uring.
 * @module
 */
export * as Scheduler from "./Scheduler.js"
export * as Switch from "./Switch.js"
export * as Uring from "./Uring.js"
