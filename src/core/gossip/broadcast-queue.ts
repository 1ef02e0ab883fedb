import { assert } from "../util/assert.ts";

/**
 * A take() gives up after this many broadcasts too big for the room left: the packet is about
 * full, and scanning a long queue for a small enough one would cost more than the bytes are worth.
 */
const missesMax = 8;

interface Broadcast<T> {
  readonly name: string | null;
  readonly msg: T;
  readonly sizeBytes: number;
  transmits: number;
  live: boolean;
  readonly onDone: (() => void) | null;
}

/**
 * memberlist's TransmitLimitedQueue: broadcasts piggybacked on outgoing packets, least-sent first
 * and, within the same send count, newest first; each is sent `transmitLimit` times and dropped.
 * A named broadcast (memberlist names them by member) replaces the older one with that name,
 * because only the newest news about a member matters.
 *
 * Layout: tiers[t] holds the broadcasts sent t times, in arrival order (newest last). Moving a
 * broadcast to the next tier leaves a stale slot behind, compacted once stale slots outnumber live
 * ones, so a take() costs about the number of broadcasts it returns.
 *
 * Invariant: liveCount equals the number of live broadcasts, each found once in tiers[transmits].
 */
export class BroadcastQueue<T> {
  private readonly tiers: Broadcast<T>[][] = [];
  private readonly staleSlots: number[] = [];
  private readonly byName = new Map<string, Broadcast<T>>();
  private liveCount = 0;
  /** Bytes (sizes plus overheads) of what the last take() returned. */
  lastTakeBytes = 0;
  /** The smallest broadcast ever queued: once less room than this is left, a take() stops looking. */
  private sizeMinBytes = Number.POSITIVE_INFINITY;

  get length(): number {
    return this.liveCount;
  }

  queue(name: string | null, msg: T, sizeBytes: number, onDone: (() => void) | null = null): void {
    assert(sizeBytes > 0, `broadcast size ${sizeBytes} must be > 0`);
    if (name !== null) {
      const old = this.byName.get(name);
      if (old !== undefined) this.finish(old);
    }
    const b: Broadcast<T> = { name, msg, sizeBytes, transmits: 0, live: true, onDone };
    this.sizeMinBytes = Math.min(this.sizeMinBytes, sizeBytes);
    if (name !== null) this.byName.set(name, b);
    this.tier(0).push(b);
    this.liveCount++;
  }

  /**
   * Broadcasts that fit in `limitBytes`, each costing its size plus `overheadBytes` (the compound
   * frame's per-message length). Every returned broadcast counts one more transmit.
   */
  take(overheadBytes: number, limitBytes: number, transmitLimit: number): T[] {
    assert(transmitLimit >= 1, `transmitLimit ${transmitLimit} < 1`);
    const out: T[] = [];
    const moved: Broadcast<T>[] = [];
    let used = 0;
    let misses = 0;
    const roomMinBytes = this.sizeMinBytes + overheadBytes;
    for (let t = 0; t < this.tiers.length && limitBytes - used >= roomMinBytes && misses < missesMax; t++) {
      const tier = this.tiers[t]!;
      for (let i = tier.length - 1; i >= 0 && limitBytes - used >= roomMinBytes && misses < missesMax; i--) {
        const b = tier[i]!;
        if (!b.live || b.transmits !== t) continue;
        const cost = b.sizeBytes + overheadBytes;
        if (used + cost > limitBytes) {
          misses++;
          continue;
        }
        used += cost;
        out.push(b.msg);
        moved.push(b);
      }
    }
    for (const b of moved) this.advance(b, transmitLimit);
    this.lastTakeBytes = used;
    return out;
  }

  /** Keep only the `maxRetain` freshest broadcasts: the most-sent, oldest go first. */
  prune(maxRetain: number): void {
    for (let t = this.tiers.length - 1; t >= 0 && this.liveCount > maxRetain; t--) {
      const tier = this.tiers[t]!;
      for (let i = 0; i < tier.length && this.liveCount > maxRetain; i++) {
        const b = tier[i]!;
        if (b.live && b.transmits === t) this.finish(b);
      }
    }
    assert(this.liveCount <= maxRetain, `prune left ${this.liveCount} > ${maxRetain}`);
  }

  invariants(): void {
    let live = 0;
    this.tiers.forEach((tier, t) => {
      for (const b of tier) if (b.live && b.transmits === t) live++;
    });
    assert(live === this.liveCount, `broadcast queue counts ${this.liveCount} live, tiers hold ${live}`);
    for (const [name, b] of this.byName) assert(b.live, `named broadcast ${name} is not live`);
  }

  private advance(b: Broadcast<T>, transmitLimit: number): void {
    const from = b.transmits;
    b.transmits++;
    if (b.transmits >= transmitLimit) this.drop(b);
    else this.tier(b.transmits).push(b);
    this.markStale(from);
  }

  private finish(b: Broadcast<T>): void {
    const from = b.transmits;
    this.drop(b);
    this.markStale(from);
  }

  private drop(b: Broadcast<T>): void {
    assert(b.live, "dropping a broadcast twice");
    b.live = false;
    this.liveCount--;
    if (b.name !== null && this.byName.get(b.name) === b) this.byName.delete(b.name);
    if (b.onDone !== null) b.onDone();
  }

  private tier(t: number): Broadcast<T>[] {
    while (this.tiers.length <= t) {
      this.tiers.push([]);
      this.staleSlots.push(0);
    }
    return this.tiers[t]!;
  }

  private markStale(t: number): void {
    this.staleSlots[t]!++;
    const tier = this.tiers[t]!;
    // Takes start from the newest end, so stale slots gather there: trim them at once.
    while (tier.length > 0 && (!tier[tier.length - 1]!.live || tier[tier.length - 1]!.transmits !== t)) {
      tier.pop();
      this.staleSlots[t]!--;
    }
    if (this.staleSlots[t]! * 2 < tier.length) return;
    this.tiers[t] = tier.filter((b) => b.live && b.transmits === t);
    this.staleSlots[t] = 0;
  }
}
