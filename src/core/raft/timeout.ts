import { assert } from "../util/assert.ts";
import { randomInt, type Rng } from "../util/rng.ts";

/**
 * A timer that counts ticks (TigerBeetle's `Timeout`). The owner ticks it, asks `fired()`, and
 * must `reset()` or `stop()` it after it fires: a timer that is ticked past its deadline without a
 * reset means a code path forgot to handle it, and `fired()` throws.
 *
 * Invariant: !running || elapsedTicks <= afterTicks + 1 (one tick past the deadline is the bug).
 */
export class Timeout {
  private elapsedTicks = 0;
  private afterTicks = 0;
  private running = false;

  constructor(readonly name: string, private readonly owner: string) {}

  start(afterTicks: number): void {
    assert(Number.isInteger(afterTicks) && afterTicks >= 1, () => `${this.owner}: timer ${this.name} afterTicks ${afterTicks} < 1`);
    this.afterTicks = afterTicks;
    this.elapsedTicks = 0;
    this.running = true;
  }

  /** Start with a deadline drawn uniformly from [minTicks, maxTicks]. */
  startRandom(rng: Rng, minTicks: number, maxTicks: number): void {
    this.start(randomInt(rng, minTicks, maxTicks));
  }

  /** Restart the countdown with the same deadline. */
  reset(): void {
    assert(this.running, () => `${this.owner}: timer ${this.name} reset while stopped`);
    this.elapsedTicks = 0;
  }

  stop(): void {
    this.running = false;
    this.elapsedTicks = 0;
  }

  tick(): void {
    if (this.running) this.elapsedTicks += 1;
  }

  fired(): boolean {
    if (!this.running) return false;
    assert(this.elapsedTicks <= this.afterTicks,
      () => `${this.owner}: timer ${this.name} kept firing (elapsed ${this.elapsedTicks} > after ${this.afterTicks}): nobody reset it`);
    return this.elapsedTicks === this.afterTicks;
  }

  get isRunning(): boolean {
    return this.running;
  }

  get elapsed(): number {
    return this.elapsedTicks;
  }

  get deadlineTicks(): number {
    return this.afterTicks;
  }
}
