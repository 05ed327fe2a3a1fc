/**
 * `@effio/net`: TCP, UDP and Unix sockets over io_uring. `@effect/platform`'s `Socket` and
 * `SocketServer` as drop-ins (`UringSocket`, `UringSocketServer`), and Eio's `Net`.
 * @module
 */
export * as Net from "./Net.js"
export * as UringSocket from "./UringSocket.js"
export * as UringSocketServer from "./UringSocketServer.js"
