import { assert } from "../util/assert.ts";
import type { Index } from "./types.ts";

/**
 * How the leader replicates to one follower (etcd raft `tracker.Progress`):
 * - probe: one append at a time until the follower's match is found (after a rejection or on
 *   election); the next append waits for an answer or a heartbeat response.
 * - replicate: optimistic pipelining, at most `capacity` appends in flight.
 * - snapshot: the follower needs a snapshot; nothing else is sent until it answers or the
 *   leader gives up waiting.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** The last index of each append in flight, oldest first. Invariant: strictly increasing, length <= capacity. */
export class Inflights {
  private readonly lastIndexes: Index[] = [];

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, `inflights capacity ${capacity} < 1`);
  }

  add(lastIndex: Index): void {
    assert(!this.full(), () => `inflights full (${this.lastIndexes.length}/${this.capacity}) on add ${lastIndex}`);
    const newest = this.lastIndexes[this.lastIndexes.length - 1];
    assert(newest === undefined || lastIndex > newest, () => `inflights add ${lastIndex} not after ${newest}`);
    this.lastIndexes.push(lastIndex);
  }

  /** The follower acknowledged everything up to `index`: those appends are no longer in flight. */
  freeUpTo(index: Index): void {
    let count = 0;
    while (count < this.lastIndexes.length && this.lastIndexes[count]! <= index) count += 1;
    this.lastIndexes.splice(0, count);
  }

  full(): boolean {
    return this.lastIndexes.length >= this.capacity;
  }

  get count(): number {
    return this.lastIndexes.length;
  }

  reset(): void {
    this.lastIndexes.length = 0;
  }
}

/** Invariant: match < next; state === "snapshot" implies pendingSnapshot > 0. */
export class Progress {
  match: Index = 0;
  state: ProgressState = "probe";
  /** probe: an append is outstanding, wait for its answer (or a heartbeat response). */
  probeSent = false;
  pendingSnapshot: Index = 0;
  readonly inflights: Inflights;
  /** Highest heartbeat round this follower echoed (ReadIndex confirmation). */
  ackedRound = 0;
  /** Leader tick at which the newest round this follower echoed was sent (lease, check-quorum). */
  ackSentTick = Number.NEGATIVE_INFINITY;
  /** Leader tick at which match last grew (or replication restarted): detects lost appends. */
  lastAdvanceTick: number;
  snapshotSentTick = 0;

  constructor(public next: Index, maxInflightMsgs: number, nowTick: number) {
    assert(next >= 1, `progress next ${next} < 1`);
    this.inflights = new Inflights(maxInflightMsgs);
    this.lastAdvanceTick = nowTick;
  }

  becomeProbe(): void {
    const pending = this.state === "snapshot" ? this.pendingSnapshot : 0;
    this.state = "probe";
    this.next = Math.max(this.match + 1, pending + 1);
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeReplicate(nowTick: number): void {
    this.state = "replicate";
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflights.reset();
    this.lastAdvanceTick = nowTick;
  }

  becomeSnapshot(snapshotIndex: Index, nowTick: number): void {
    assert(snapshotIndex >= 1, `becomeSnapshot at index ${snapshotIndex}`);
    this.state = "snapshot";
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
    this.probeSent = false;
    this.inflights.reset();
    this.snapshotSentTick = nowTick;
  }

  /** The follower acknowledged `index`; false when the acknowledgement is stale. */
  maybeUpdate(index: Index, nowTick: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      this.probeSent = false;
      this.lastAdvanceTick = nowTick;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The follower rejected an append whose previous index was `rejected`; `matchHint` is the
   * highest index that may match (fast backtracking). False when the rejection is stale.
   */
  maybeDecrTo(rejected: Index, matchHint: Index): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe": return this.probeSent;
      case "replicate": return this.inflights.full();
      case "snapshot": return true;
    }
  }

  /** An append carrying entries up to `lastSent` (or none, when null) went out. */
  onAppendSent(lastSent: Index | null): void {
    if (this.state === "replicate") {
      if (lastSent === null) return;
      this.next = lastSent + 1;
      this.inflights.add(lastSent);
      return;
    }
    assert(this.state === "probe", `append sent in progress state ${this.state}`);
    this.probeSent = true;
  }
}
