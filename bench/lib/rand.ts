/** Small deterministic PRNG (mulberry32), so every case reads the same kind of pattern. */
export const seededRandom = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Uniform block-aligned positions in `[0, fileSize)`: `next()` → `k * blockSize`. */
export const randomPositions = (fileSize: number, blockSize: number, seed: number): (() => number) => {
  const blocks = Math.floor(fileSize / blockSize)
  const rnd = seededRandom(seed)
  return () => Math.floor(rnd() * blocks) * blockSize
}
