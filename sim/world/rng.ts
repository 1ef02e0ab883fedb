import seedrandom from "seedrandom";
import type { Rng } from "../../src/core/util/rng.ts";

/**
 * The world's random source. One seed makes one root generator; every consumer (topology, fault
 * schedule, network, workload, each node's core) gets its own stream derived from the seed and a
 * label, so removing a fault from the schedule does not shift the workload's draws (shrinking
 * depends on that).
 */
export class WorldRng implements Rng {
  private readonly prng: seedrandom.PRNG;

  constructor(readonly seed: number, readonly label: string) {
    this.prng = seedrandom(`praetor/${seed}/${label}`);
  }

  /** An independent stream for one consumer. */
  derive(label: string): WorldRng {
    return new WorldRng(this.seed, `${this.label}/${label}`);
  }

  next(): number {
    return this.prng.quick();
  }

  /** An integer in [min, max] inclusive. */
  int(min: number, max: number): number {
    if (max < min) throw new RangeError(`int: max ${max} < min ${min}`);
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick: empty list");
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A float in [min, max). */
  uniform(min: number, max: number): number {
    return min + this.next() * (max - min);
  }
}
