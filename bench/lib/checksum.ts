/**
 * A cheap streaming checksum for bytes that pass through JS: Fletcher-style sums over
 * little-endian 32-bit words (`a += w; b += a`, mod 2^32), so it notices changed, lost,
 * repeated and reordered words. The result depends only on the byte sequence, never on how
 * it was cut into chunks (bytes carry over between `update` calls until a word is full).
 */
export class Checksum {
  #a = 0
  #b = 0
  #bytes = 0
  // A word being assembled across a chunk boundary: its first `#carryLen` bytes, little-endian.
  #carry = 0
  #carryLen = 0
  #ns = 0n

  get bytes(): number {
    return this.#bytes
  }

  /** Time spent in `update` so far, in nanoseconds (to tell the checksum's cost from the rest). */
  get nanos(): number {
    return Number(this.#ns)
  }

  update(chunk: Uint8Array): void {
    const t0 = process.hrtime.bigint()
    this.#update(chunk)
    this.#ns += process.hrtime.bigint() - t0
  }

  #update(chunk: Uint8Array): void {
    const n = chunk.length
    this.#bytes += n
    let i = 0
    let a = this.#a
    let b = this.#b
    if (this.#carryLen > 0) {
      while (i < n && this.#carryLen < 4) this.#carry |= chunk[i++]! << (8 * this.#carryLen++)
      if (this.#carryLen < 4) return
      a = (a + this.#carry) | 0
      b = (b + a) | 0
      this.#carry = 0
      this.#carryLen = 0
    }
    const words = (n - i) >>> 2
    const start = chunk.byteOffset + i
    if ((start & 3) === 0) {
      const w = new Int32Array(chunk.buffer, start, words)
      for (let k = 0; k < words; k++) {
        a = (a + w[k]!) | 0
        b = (b + a) | 0
      }
    } else {
      for (let k = 0; k < words; k++) {
        const j = i + k * 4
        a = (a + (chunk[j]! | (chunk[j + 1]! << 8) | (chunk[j + 2]! << 16) | (chunk[j + 3]! << 24))) | 0
        b = (b + a) | 0
      }
    }
    i += words * 4
    while (i < n) this.#carry |= chunk[i++]! << (8 * this.#carryLen++)
    this.#a = a
    this.#b = b
  }

  /** Hex digest of everything so far (a partial last word counts zero-padded, plus the length). */
  digest(): string {
    let a = this.#a
    let b = this.#b
    if (this.#carryLen > 0) {
      a = (a + this.#carry) | 0
      b = (b + a) | 0
    }
    const hex = (x: number) => (x >>> 0).toString(16).padStart(8, "0")
    return `${hex(a)}${hex(b)}-${this.#bytes}`
  }
}
