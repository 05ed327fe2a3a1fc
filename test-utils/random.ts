// Seeded pseudo-random numbers and bytes, without imports: child processes that do not run
// under vitest (fuzzers, fixtures) use them too. Re-exported by index.ts.

/** A seeded xorshift32 generator of integers in [0, n). */
export const rng = (seed: number) => {
  let x = seed >>> 0 || 1
  return (n: number): number => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x % n
  }
}

/** Deterministic pseudo-random bytes (xorshift32): reproducible, incompressible, no runs. */
export const payload = (size: number, seed = 0x9e3779b9): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}
