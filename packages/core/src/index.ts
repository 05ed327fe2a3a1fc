/**
 * `@effio/core`: the Effect side of Effio's io_uring, which `@effio/fs` and `@effio/net`
 * build on. Users import these modules from `@effio/runtime`, which re-exports them.
 * @module
 */
export * as Backend from "./Backend.js"
export * as Cap from "./Cap.js"
export * as Errors from "./Errors.js"
export * as Fd from "./Fd.js"
export * as Flow from "./Flow.js"
export * as Scheduler from "./Scheduler.js"
export * as Switch from "./Switch.js"
export * as Uring from "./Uring.js"
