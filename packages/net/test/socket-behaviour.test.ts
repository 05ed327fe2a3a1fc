// The Socket/SocketServer behaviour suite (./socket-suite.ts), run against
// @effect/platform-node's NodeSocket/NodeSocketServer (the reference) and against
// UringSocket/UringSocketServer on both of Effio's backends, with identical expectations.
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { UringSocket, UringSocketServer } from "../src/index.js"
import { captureNodeNotice } from "../../../test-utils/index.js"
import { socketSuite } from "./socket-suite.js"

// The node rows choose the node backend on purpose: its one-line notice stays out of the output.
const notices = captureNodeNotice()

socketSuite("NodeSocket", {
  makeNet: NodeSocket.makeNet,
  makeNetChannel: NodeSocket.makeNetChannel,
  layerNet: NodeSocket.layerNet,
  makeServer: NodeSocketServer.make,
  layerServer: NodeSocketServer.layer
})

const uring = {
  makeNet: UringSocket.makeNet,
  makeNetChannel: UringSocket.makeNetChannel,
  layerNet: UringSocket.layerNet,
  makeServer: UringSocketServer.make,
  layerServer: UringSocketServer.layer
} as const

socketSuite("UringSocket on io_uring", uring)

// The same layers where io_uring is unavailable: EFFIO_BACKEND=node makes them choose node.
describe("with EFFIO_BACKEND=node", () => {
  const saved = process.env.EFFIO_BACKEND
  beforeAll(() => {
    process.env.EFFIO_BACKEND = "node"
  })
  afterAll(() => {
    if (saved === undefined) delete process.env.EFFIO_BACKEND
    else process.env.EFFIO_BACKEND = saved
    // UringSocket chose node, and said so once.
    expect(notices()).toEqual(["effio: using the node backend: requested by EFFIO_BACKEND=node\n"])
  })
  socketSuite("UringSocket on node", uring)
})
