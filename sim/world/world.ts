import { assert } from "../../src/core/util/assert.ts";
import { EventQueue } from "./event-queue.ts";
import { WorldRng } from "./rng.ts";

/** One trace record: deterministic content only (simulated time, never wall-clock values). */
export type TraceRecord = { readonly t: number; readonly e: string } & Record<string, unknown>;

/**
 * The simulated world: a virtual clock in milliseconds, one event queue, and the seed's root
 * random stream. Everything that happens in a seed's run is an event popped from this queue, so
 * the same seed replays the same run.
 */
export class World {
  readonly rng: WorldRng;
  private readonly queue = new EventQueue();
  private nowMsValue = 0;
  eventsProcessed = 0;
  /** Trace lines, when tracing; null otherwise so that a campaign pays nothing for it. */
  readonly trace: string[] | null;

  constructor(readonly seed: number, options: { trace?: boolean } = {}) {
    this.rng = new WorldRng(seed, "world");
    this.trace = options.trace === true ? [] : null;
  }

  get nowMs(): number {
    return this.nowMsValue;
  }

  /** Run `fn` at `atMs` (at or after now). */
  at(atMs: number, fn: () => void): void {
    assert(atMs >= this.nowMsValue, `event at ${atMs} is before now ${this.nowMsValue}`);
    this.queue.push(atMs, fn);
  }

  after(delayMs: number, fn: () => void): void {
    assert(delayMs >= 0, `negative delay ${delayMs}`);
    this.queue.push(this.nowMsValue + delayMs, fn);
  }

  /** Process events up to and including `untilMs`, or until `stop()` says so. */
  runUntil(untilMs: number, stop?: () => boolean): void {
    for (;;) {
      const nextMs = this.queue.peekMs();
      if (nextMs === null || nextMs > untilMs) break;
      const event = this.queue.pop()!;
      this.nowMsValue = event.atMs;
      this.eventsProcessed++;
      event.run();
      if (stop !== undefined && stop()) return;
    }
    this.nowMsValue = Math.max(this.nowMsValue, untilMs);
  }

  record(e: string, fields: Record<string, unknown> = {}): void {
    if (this.trace === null) return;
    this.trace.push(JSON.stringify({ t: this.nowMsValue, e, ...fields }));
  }

  get tracing(): boolean {
    return this.trace !== null;
  }
}
