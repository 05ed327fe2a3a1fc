import { describe, expect, it } from "@effect/vitest"
import { Flow, Stdenv } from "@effio/runtime"
import { Chunk, Effect, Fiber, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { backends, expectSameBytes, openFd, payload, readAll, tempDir } from "./helpers.js"

const encoder = new TextEncoder()
const bytes = (...xs: Array<number>) => new Uint8Array(xs)

describe.each(backends)("Flow on the %s backend", (_backendId, layer) => {
  describe("copy", () => {
    it.live("file (fromFd) → pipe: a 3 MiB pseudo-random payload, byte for byte, with the count", () =>
      Effect.gen(function*() {
        const env = yield* Stdenv.Stdenv
        const dir = yield* tempDir
        const file = path.join(dir, "payload.bin")
        const data = payload(3 * 1024 * 1024 + 123, 42)
        fs.writeFileSync(file, data)
        const fd = yield* openFd(file)
        const { sink, source } = yield* env.pipe
        // The pipe holds 64 KiB: the copy only finishes because the reader drains it meanwhile.
        const reader = yield* Effect.fork(readAll(source))
        const copied = yield* Flow.copy(env.fromFd(fd).source, sink)
        yield* sink.close
        const received = yield* Fiber.join(reader)
        expect(copied).toBe(data.length)
        expectSameBytes(received, data)
      }).pipe(Effect.scoped, Effect.provide(layer)))

    it.live("file → file (no pipe on either end): the whole file with the count", () =>
      Effect.gen(function*() {
        const env = yield* Stdenv.Stdenv
        const dir = yield* tempDir
        const data = payload(300_000, 5)
        fs.writeFileSync(path.join(dir, "in"), data)
        const inFd = yield* openFd(path.join(dir, "in"))
        const outFd = yield* openFd(path.join(dir, "out"), "w")
        const copied = yield* Flow.copy(env.fromFd(inFd).source, env.fromFd(outFd).sink)
        expect(copied).toBe(data.length)
        expectSameBytes(fs.readFileSync(path.join(dir, "out")), data)
      }).pipe(Effect.scoped, Effect.provide(layer)))

    it.live("pipe → pipe, with a writer and a reader running concurrently", () =>
      Effect.gen(function*() {
        const env = yield* Stdenv.Stdenv
        const a = yield* env.pipe
        const b = yield* env.pipe
        const data = payload(2 * 1024 * 1024, 99)
        const writer = yield* Effect.fork(
          Effect.gen(function*() {
            for (let off = 0; off < data.length; off += 50_000) yield* a.sink.write(data.subarray(off, off + 50_000))
            yield* a.sink.close
          })
        )
        const reader = yield* Effect.fork(readAll(b.source, 7777))
        const copied = yield* Flow.copy(b.sink)(a.source) // data-last form
        yield* b.sink.close
        yield* Fiber.join(writer)
        expect(copied).toBe(data.length)
        expectSameBytes(yield* Fiber.join(reader), data)
      }).pipe(Effect.scoped, Effect.provide(layer)))

    it.live("an empty source copies 0 bytes", () =>
      Effect.gen(function*() {
        const env = yield* Stdenv.Stdenv
        const a = yield* env.pipe
        const b = yield* env.pipe
        yield* a.sink.close
        expect(yield* Flow.copy(a.source, b.sink)).toBe(0)
      }).pipe(Effect.scoped, Effect.provide(layer)))
  })

  describe("lines", () => {
    // Writes `parts` into a real pipe (then closes it) while Flow.lines reads the other end.
    // With `separateReads`, each part is written only after the reader consumed the previous
    // one, so every part arrives in a read of its own (chunk boundaries exactly there).
    const linesOf = (
      parts: ReadonlyArray<string | Uint8Array>,
      options: Flow.LinesOptions & { readonly separateReads?: boolean } = {}
    ) =>
      Effect.gen(function*() {
        const env = yield* Stdenv.Stdenv
        const { sink, source } = yield* env.pipe
        let consumed = 0
        const counted = Flow.makeSource(
          (buf) => Effect.tap(source.read(buf), (n) => Effect.sync(() => (consumed += n))),
          source.close
        )
        yield* Effect.fork(
          Effect.gen(function*() {
            let written = 0
            for (const part of parts) {
              const b = typeof part === "string" ? encoder.encode(part) : part
              yield* sink.write(b)
              written += b.length
              if (options.separateReads) {
                while (consumed < written) yield* Effect.sleep("1 millis")
              }
            }
            yield* sink.close
          })
        )
        return Chunk.toArray(yield* Stream.runCollect(Flow.lines(counted, options)))
      }).pipe(Effect.scoped)

    it.live("LF-terminated lines", () =>
      Effect.gen(function*() {
        expect(yield* linesOf(["one\ntwo\nthree\n"])).toEqual(["one", "two", "three"])
      }).pipe(Effect.provide(layer)))

    it.live("CRLF-terminated lines (the CR is not part of the line)", () =>
      Effect.gen(function*() {
        expect(yield* linesOf(["one\r\ntwo\r\n"])).toEqual(["one", "two"])
      }).pipe(Effect.provide(layer)))

    it.live("mixed terminators; a lone CR inside a line is kept", () =>
      Effect.gen(function*() {
        expect(yield* linesOf(["a\r\nb\nc\r\n\nd\re\n"])).toEqual(["a", "b", "c", "", "d\re"])
      }).pipe(Effect.provide(layer)))

    it.live("a last line without a terminator is kept; no phantom empty line after a final LF", () =>
      Effect.gen(function*() {
        expect(yield* linesOf(["first\nlast"])).toEqual(["first", "last"])
        expect(yield* linesOf(["only\n"])).toEqual(["only"])
        expect(yield* linesOf([])).toEqual([])
      }).pipe(Effect.provide(layer)))

    it.live("empty lines are kept", () =>
      Effect.gen(function*() {
        expect(yield* linesOf(["\n\nx\n\n"])).toEqual(["", "", "x", ""])
        expect(yield* linesOf(["\r\n\r\n"])).toEqual(["", ""])
      }).pipe(Effect.provide(layer)))

    it.live("a multi-byte UTF-8 character split across two reads is decoded whole", () =>
      Effect.gen(function*() {
        // "€" is E2 82 AC; "😀" is F0 9F 98 80.
        const lines = yield* linesOf(
          [bytes(0x61, 0xe2), bytes(0x82, 0xac, 0x62, 0x0a, 0xf0, 0x9f), bytes(0x98), bytes(0x80, 0x0a)],
          { separateReads: true }
        )
        expect(lines).toEqual(["a€b", "😀"])
      }).pipe(Effect.provide(layer)))

    it.live("a CRLF split across two reads is still one terminator", () =>
      Effect.gen(function*() {
        expect(yield* linesOf(["one\r", "\ntwo\r", "\n"], { separateReads: true })).toEqual(["one", "two"])
      }).pipe(Effect.provide(layer)))

    it.live("100,000 short lines (no stack overflow, none lost)", () =>
      Effect.gen(function*() {
        const count = 100_000
        const text = Array.from({ length: count }, (_, i) => `${i}\n`).join("")
        const env = yield* Stdenv.Stdenv
        const { sink, source } = yield* env.pipe
        yield* Effect.fork(Effect.zipRight(sink.write(text), sink.close))
        const [n, sum, last] = yield* Flow.lines(source).pipe(
          Stream.runFold([0, 0, ""] as [number, number, string], ([n, sum], line): [number, number, string] => [n + 1, sum + Number(line), line])
        )
        expect(n).toBe(count)
        expect(sum).toBe((count * (count - 1)) / 2)
        expect(last).toBe(String(count - 1))
      }).pipe(Effect.scoped, Effect.provide(layer)))

    it.live("a line longer than maxLength fails with LineTooLong", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(linesOf(["short\n", `${"x".repeat(11)}\n`, "after\n"], { maxLength: 10 }))
        expect(error._tag).toBe("LineTooLong")
        expect(error).toBeInstanceOf(Flow.LineTooLong)
        expect((error as Flow.LineTooLong).maxLength).toBe(10)
        // Exactly maxLength is fine (a CR of CRLF does not count).
        expect(yield* linesOf([`${"y".repeat(10)}\r\n${"z".repeat(10)}`], { maxLength: 10 })).toEqual([
          "y".repeat(10),
          "z".repeat(10)
        ])
      }).pipe(Effect.provide(layer)))

    it.live("an unterminated line growing past maxLength fails before the input ends (memory stays bounded)", () =>
      Effect.gen(function*() {
        const env = yield* Stdenv.Stdenv
        const { sink, source } = yield* env.pipe
        // 8,000 characters without a newline, and the pipe stays open: only the running
        // length check can end the stream.
        for (let i = 0; i < 8; i++) yield* sink.write("w".repeat(1000))
        const error = yield* Flow.lines(source, { maxLength: 2500 }).pipe(
          Stream.runDrain,
          Effect.flip,
          Effect.timeoutFail({ duration: "3 seconds", onTimeout: () => "no LineTooLong while the input was open" })
        )
        expect(error).toBeInstanceOf(Flow.LineTooLong)
        // The same text at the end of input, too long as the last line.
        const last = yield* Effect.flip(linesOf(["ok\n", "v".repeat(20)], { maxLength: 10 }))
        expect(last._tag).toBe("LineTooLong")
      }).pipe(Effect.scoped, Effect.provide(layer)))
  })
})

describe("Flow (backend-independent)", () => {
  it.live("isSource / isSink tell flows apart", () =>
    Effect.sync(() => {
      const source = Flow.makeSource(() => Effect.succeed(0), Effect.void)
      const sink = Flow.makeSink(() => Effect.void, Effect.void)
      expect(Flow.isSource(source)).toBe(true)
      expect(Flow.isSink(source)).toBe(false)
      expect(Flow.isSink(sink)).toBe(true)
      expect(Flow.isSource({})).toBe(false)
      expect(Flow.isSource(null)).toBe(false)
    }))

  it.live("copy between user-made flows reads and writes every byte", () =>
    Effect.gen(function*() {
      const data = payload(200_000, 3)
      let pos = 0
      const source = Flow.makeSource(
        (buf) =>
          Effect.sync(() => {
            // Short reads of varying size.
            const n = Math.min(buf.length, data.length - pos, 1 + (pos % 5000))
            buf.set(data.subarray(pos, pos + n))
            pos += n
            return n
          }),
        Effect.void
      )
      const out: Array<Uint8Array> = []
      const sink = Flow.makeSink((d) => Effect.sync(() => void out.push(typeof d === "string" ? encoder.encode(d) : d.slice())), Effect.void)
      expect(yield* Flow.copy(source, sink)).toBe(data.length)
      expectSameBytes(Buffer.concat(out), data)
    }))

  it.live("copy from a source that offers readChunk passes each chunk on as it is (no buffer copy)", () =>
    Effect.gen(function*() {
      const chunks = [encoder.encode("one "), encoder.encode("two "), encoder.encode("three")]
      let i = 0
      const source = {
        ...Flow.makeSource(() => Effect.die("copy must use readChunk"), Effect.void),
        readChunk: Effect.sync(() => chunks[i++])
      }
      const written: Array<Uint8Array> = []
      const sink = Flow.makeSink((d) => Effect.sync(() => void written.push(d as Uint8Array)), Effect.void)
      expect(yield* Flow.copy(source, sink)).toBe(13)
      // The very arrays the source gave: nothing was copied on the way.
      expect(written).toEqual(chunks)
      written.forEach((w, k) => expect(w).toBe(chunks[k]))
    }))
})
