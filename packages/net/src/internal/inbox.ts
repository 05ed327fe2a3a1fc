// The receive side of a connection: chunks pushed by the backend (node's 'data' events, or
// multishot recv completions), pulled by the reader. Memory is bounded: once `highWater` bytes
// wait unread the producer is paused (node: `socket.pause()`; io_uring: the multishot recv is
// not re-armed), and it is resumed when the reader has taken them below `lowWater`. So at most
// highWater + one chunk in flight per producer is ever buffered, however fast the peer sends.
import * as Effect from "effect/Effect"
import type { NetError } from "./error.js"

/** Unread bytes at which the producer is paused (1 MiB). */
export const HIGH_WATER = 1024 * 1024
/** Unread bytes below which a paused producer is resumed (256 KiB). */
export const LOW_WATER = 256 * 1024

/** Where an attached inbox delivers: chunks in order, then at most one of end or fail. */
export interface InboxListener {
  readonly chunk: (chunk: Uint8Array) => void
  readonly end: () => void
  readonly fail: (error: NetError) => void
}

export class Inbox {
  #listener: InboxListener | undefined
  #chunks: Array<Uint8Array> = []
  #head = 0
  #bytes = 0
  #ended = false
  #failure: NetError | undefined
  #paused = false
  // A waiting reader is only woken: it takes the chunk from the queue itself, so a reader
  // interrupted in the same turn as its wake-up leaves the chunk for the next read instead of
  // losing it (a value handed to an interrupted fiber is dropped).
  #waiter: (() => void) | undefined

  constructor(
    readonly pause: () => void,
    readonly resume: () => void,
    readonly highWater: number = HIGH_WATER,
    readonly lowWater: number = LOW_WATER
  ) {}

  /** Bytes received and not yet taken. */
  get buffered(): number {
    return this.#bytes
  }

  /** True once end of stream or a failure arrived (nothing more will be pushed). */
  get done(): boolean {
    return this.#ended || this.#failure !== undefined
  }

  /** A chunk from the peer; the inbox owns it from now on. */
  push(chunk: Uint8Array): void {
    if (this.done || chunk.length === 0) return
    this.#bytes += chunk.length
    if (!this.#paused && this.#bytes >= this.highWater) {
      this.#paused = true
      this.pause()
    }
    if (this.#listener !== undefined) return this.#listener.chunk(chunk)
    this.#chunks.push(chunk)
    this.#wake()
  }

  /** The peer's end of stream (after the chunks already pushed). */
  end(): void {
    if (this.done) return
    this.#ended = true
    if (this.#listener !== undefined) return this.#listener.end()
    this.#wake()
  }

  /** A receive failure (after the chunks already pushed). */
  fail(error: NetError): void {
    if (this.done) return
    this.#failure = error
    if (this.#listener !== undefined) return this.#listener.fail(error)
    this.#wake()
  }

  /**
   * Push mode, for a consumer that is called back rather than reading (the Socket interface,
   * which forks a handler per chunk as NodeSocket does from its 'data' events): what is
   * queued now and every later chunk go to `listener`, straight from the producer's callback,
   * and `take` is no longer used. A delivered chunk still counts against the bounds until the
   * listener `release`s its bytes, so the producer is paused while handlers hold `highWater`.
   * Measured (in-process Socket ping-pong, 64 connections): the reader fiber this replaces
   * parked and resumed once per chunk and cost more than the handler fork itself.
   */
  attach(listener: InboxListener): void {
    this.#listener = listener
    while (this.#head < this.#chunks.length) {
      const chunk = this.#chunks[this.#head]!
      this.#chunks[this.#head++] = undefined as never
      listener.chunk(chunk)
    }
    this.#chunks = []
    this.#head = 0
    if (this.#failure !== undefined) listener.fail(this.#failure)
    else if (this.#ended) listener.end()
  }

  /** Push mode: a delivered chunk's bytes are no longer held (its handler finished). */
  release(bytes: number): void {
    this.#bytes -= bytes
    this.#resumeIfLow()
  }

  #resumeIfLow(): void {
    if (this.#paused && this.#bytes < this.lowWater && !this.done) {
      this.#paused = false
      this.resume()
    }
  }

  #wake(): void {
    const waiter = this.#waiter
    if (waiter === undefined) return
    this.#waiter = undefined
    waiter()
  }

  #final(): Effect.Effect<undefined, NetError> {
    return this.#failure !== undefined ? Effect.fail(this.#failure) : Effect.succeed(undefined)
  }

  /** Takes the next chunk without waiting, or undefined when none is queued. */
  #shift(): Uint8Array | undefined {
    if (this.#head === this.#chunks.length) return undefined
    const chunk = this.#chunks[this.#head]!
    this.#chunks[this.#head++] = undefined as never
    if (this.#head === this.#chunks.length) {
      this.#chunks = []
      this.#head = 0
    }
    this.#bytes -= chunk.length
    this.#resumeIfLow()
    return chunk
  }

  /** The next chunk, waiting for one; `undefined` at end of stream. */
  readonly take: Effect.Effect<Uint8Array | undefined, NetError> = Effect.suspend(() => this.#next())

  #next(): Effect.Effect<Uint8Array | undefined, NetError> {
    const chunk = this.#shift()
    if (chunk !== undefined) return Effect.succeed(chunk)
    return this.done ? this.#final() : this.#takeWaiting
  }

  // The wait is interruptible, and the chunk is taken off the queue by the woken fiber
  // itself, as the first thing it runs: a fiber interrupted in the same turn as its wake-up
  // has the interruption processed before that (Effect drains a fiber's messages before each
  // step), so it never takes the chunk, which stays for the next read. This replaced an
  // uninterruptibleMask around the wait: the same guarantee without two runtime-flag changes
  // and four more steps per waiting read (bench/net ping-pong, the Net server's hot path).
  readonly #takeWaiting: Effect.Effect<Uint8Array | undefined, NetError> = Effect.async((resume) => {
    const waiter = () => resume(this.take)
    this.#waiter = waiter
    return Effect.sync(() => {
      if (this.#waiter === waiter) this.#waiter = undefined
    })
  })
}
