import { assert } from "../../src/core/util/assert.ts";
import { EventQueue } from "./event-queue.ts";
import { WorldRng } from "./rng.ts";

/** Events at one simulated instant before the world calls it a livelock. */
const eventsPerInstantMax = 100_000;
/** Events in one simulated second before the world calls it a message storm (normal: about 500). */
const eventsPerSimulatedSecondMax = 50_000;

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
  private eventsThisInstant = 0;
  private windowStartMs = 0;
  private windowEvents = 0;
  /** A seed that needs more events than this is runaway (a message storm), reported as a crash. */
  readonly eventsMax: number;
  /** Trace lines, when tracing; null otherwise so that a campaign pays nothing for it. */
  readonly trace: string[] | null;

  /** Events per simulated second before it is called a storm; a scenario with thousands of nodes raises it. */
  readonly eventsPerSecondMax: number;

  constructor(readonly seed: number, options: { trace?: boolean; eventsMax?: number; eventsPerSecondMax?: number } = {}) {
    this.rng = new WorldRng(seed, "world");
    this.eventsMax = options.eventsMax ?? 20_000_000;
    this.eventsPerSecondMax = options.eventsPerSecondMax ?? eventsPerSimulatedSecondMax;
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
      if (event.atMs === this.nowMsValue) {
        this.eventsThisInstant++;
        // Simulated time must move: a storm of zero-delay events is a livelock, not a workload.
        assert(this.eventsThisInstant < eventsPerInstantMax, `livelock: ${eventsPerInstantMax} events at ${this.nowMsValue} ms`);
      } else {
        this.eventsThisInstant = 0;
      }
      this.nowMsValue = event.atMs;
      this.eventsProcessed++;
      this.checkEventRate();
      event.run();
      if (stop !== undefined && stop()) return;
    }
    this.nowMsValue = Math.max(this.nowMsValue, untilMs);
  }

  /**
   * A seed normally runs a few hundred events per simulated second; a message storm (messages
   * that multiply, as a duplicated request answered twice each round does) would run for hours
   * of wall time without reaching a verdict, so it is a failure with its own message.
   */
  private checkEventRate(): void {
    if (this.nowMsValue - this.windowStartMs >= 1_000) {
      this.windowStartMs = this.nowMsValue;
      this.windowEvents = 0;
    }
    this.windowEvents++;
    assert(this.windowEvents <= this.eventsPerSecondMax, `message storm: over ${this.eventsPerSecondMax} events in the simulated second from ${this.windowStartMs} ms`);
    assert(this.eventsProcessed < this.eventsMax, `event budget of ${this.eventsMax} exhausted at ${this.nowMsValue} ms`);
  }

  record(e: string, fields: Record<string, unknown> = {}): void {
    if (this.trace === null) return;
    this.trace.push(JSON.stringify({ t: this.nowMsValue, e, ...fields }));
  }

  get tracing(): boolean {
    return this.trace !== null;
  }
}
