// A seeded PRNG for draws that must repeat: the provider simulator's webhook faults, tests, benchmarks.
/** A seeded PRNG (mulberry32) in [0, 1): the same "random" sequence every run of a test or bench. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
