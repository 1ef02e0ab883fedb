import { assert } from "../util/assert.ts";

/** Serf's Lamport clock (serf/lamport.go): time only moves forward. */
export class LamportClock {
  private counter = 0;

  time(): number {
    return this.counter;
  }

  increment(): number {
    this.counter++;
    return this.counter;
  }

  /** Seen a message stamped `v`: our next stamp must be later. */
  witness(v: number): void {
    assert(Number.isInteger(v), `lamport time ${v} not an integer`);
    if (v >= this.counter) this.counter = v + 1;
  }
}
