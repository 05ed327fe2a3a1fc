// The Socket/SocketServer behaviour suite (./socket-suite.ts), run against
// @effect/platform-node's NodeSocket/NodeSocketServer: the reference the io_uring
// implementation (UringSocket/UringSocketServer) is meant to match as a second row.
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { socketSuite } from "./socket-suite.js"

socketSuite("NodeSocket", {
  makeNet: NodeSocket.makeNet,
  makeNetChannel: NodeSocket.makeNetChannel,
  layerNet: NodeSocket.layerNet,
  makeServer: NodeSocketServer.make,
  layerServer: NodeSocketServer.layer
})
