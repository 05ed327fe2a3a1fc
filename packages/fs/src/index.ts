/**
 * `@effio/fs`: the `@effect/platform` `FileSystem` over io_uring, and Eio-style capability
 * paths confined by the kernel.
 * @module
 */
export * as Path from "./Path.js"
export * as UringFileSystem from "./UringFileSystem.js"
