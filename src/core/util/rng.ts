/**
 * The only source of randomness a core may use. The caller passes a seeded generator in
 * (the simulator derives one per node from the world seed; the agent seeds one from the OS),
 * so the same seed gives the same run.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
}

/** An integer in [min, max] inclusive. */
export function randomInt(rng: Rng, min: number, max: number): number {
  if (max < min) throw new RangeError(`randomInt: max ${max} < min ${min}`);
  return min + Math.floor(rng.next() * (max - min + 1));
}

/** Fisher-Yates shuffle in place, driven by the injected generator. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}

/**
 * A small deterministic generator (mulberry32) for places that need one without the world's
 * seedrandom, such as property tests of a core. Pure: its state lives in the closure.
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}
