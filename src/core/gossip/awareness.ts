import { assert } from "../util/assert.ts";

/**
 * Lifeguard's local health awareness (memberlist awareness.go): a score in [0, max) that rises
 * when this member misses acks or nacks it should have had, or must refute a suspicion, and falls
 * on every successful probe. Timeouts scale by (score + 1), so an overloaded member slows down
 * instead of accusing healthy peers.
 *
 * Invariant: 0 <= score < max.
 */
export class Awareness {
  private scoreValue = 0;

  constructor(private readonly max: number) {
    assert(Number.isInteger(max) && max >= 1, `awareness max ${max} must be an integer >= 1`);
  }

  get score(): number {
    return this.scoreValue;
  }

  applyDelta(delta: number): void {
    assert(Number.isInteger(delta), `awareness delta ${delta} not an integer`);
    this.scoreValue = Math.min(this.max - 1, Math.max(0, this.scoreValue + delta));
  }

  scale(timeout: number): number {
    return timeout * (this.scoreValue + 1);
  }

  invariants(): void {
    assert(this.scoreValue >= 0, () => `awareness score ${this.scoreValue} < 0`);
    assert(this.scoreValue < this.max, () => `awareness score ${this.scoreValue} >= max ${this.max}`);
  }
}
