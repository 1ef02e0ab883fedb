import type { StateMachine } from "../src/agent/raft-host.ts";
import type { Entry, HardState, PersistedState, Snapshot } from "../src/core/raft/types.ts";
import type { RaftStorage, RaftUpdate } from "../src/storage/types.ts";

/**
 * Crash points inside the host's Ready loop. The Ready loop persists (and syncs), then sends,
 * then applies; a crash fault that fires between inputs only ever sees all three done. These
 * points kill the node in between:
 * - afterPersist: the save returned (synced), the Ready's messages are never sent;
 * - afterAppend: the same, at the next save that carries new log entries (a leader's own new
 *   entries: they are on its disk and nowhere else, the partial replication behind Figure 8);
 * - midApply: some of a Ready's committed entries are applied, the rest and the advance are not.
 * With asynchronous syncs (`enableAsyncSaves`, seeds run with a sync delay) the host sends a
 * leader's appends before its sync completes and a crash fault can land while a sync is in flight;
 * the crash points then fire when the sync completes, before the held messages go out.
 */
export type CrashPoint = "afterPersist" | "afterAppend" | "midApply";
export const CRASH_POINTS: readonly CrashPoint[] = ["afterPersist", "afterAppend", "midApply"];

/** Thrown out of storage or the state machine at an armed crash point; the cluster treats it like a disk dying. */
export class CrashPointError extends Error {
  override name = "CrashPointError";
}

/** A one-shot counter: `fire()` is true on the (n+1)-th call after arming. */
class Arm {
  private remaining: number | null = null;

  /** null disarms. */
  arm(after: number | null): void {
    this.remaining = after;
  }

  fire(): boolean {
    if (this.remaining === null) return false;
    if (this.remaining > 0) {
      this.remaining -= 1;
      return false;
    }
    this.remaining = null;
    return true;
  }
}

/** Storage that can die right after a save completed (the data is durable, the sends never happen). */
export class CrashPointStorage implements RaftStorage {
  private readonly afterPersist = new Arm();
  private readonly afterAppend = new Arm();

  constructor(private readonly inner: RaftStorage) {}

  /** Die right after the (saves+1)-th save from now (null: disarm); with `entriesOnly`, counting only saves that carry log entries. */
  armAfterPersist(saves: number | null, entriesOnly = false): void {
    (entriesOnly ? this.afterAppend : this.afterPersist).arm(saves);
  }

  /** Present once `enableAsyncSaves` was called (and the inner storage has it). */
  saveAsync?: (update: RaftUpdate, done: (error: Error | null) => void) => void;

  save(update: { hardState?: HardState; entries: readonly Entry[]; snapshot?: Snapshot }): void {
    this.inner.save(update);
    this.fireAfterSave(update);
  }

  /** Offer the inner storage's asynchronous save to the host; crash points fire as it completes. */
  enableAsyncSaves(): void {
    const inner = this.inner.saveAsync?.bind(this.inner);
    if (inner === undefined) return;
    this.saveAsync = (update, done) => inner(update, (error) => {
      if (error === null) this.fireAfterSave(update);
      done(error);
    });
  }

  private fireAfterSave(update: RaftUpdate): void {
    if (this.afterPersist.fire()) throw new CrashPointError("crash point: after persisting a Ready, before sending its messages");
    if (update.entries.length > 0 && this.afterAppend.fire()) {
      throw new CrashPointError(`crash point: after persisting entries ${update.entries[0]!.index}-${update.entries[update.entries.length - 1]!.index}, before sending them`);
    }
  }

  load(): PersistedState {
    return this.inner.load();
  }

  compact(snapshot: Snapshot): void {
    this.inner.compact(snapshot);
  }
}

/** A state machine that can die in the middle of applying a Ready's committed entries. */
export class CrashPointStateMachine<R> implements StateMachine<R> {
  constructor(private readonly inner: StateMachine<R>, private readonly midApply: Arm) {}

  apply(entry: Entry): R {
    const result = this.inner.apply(entry);
    if (this.midApply.fire()) throw new CrashPointError(`crash point: in the middle of applying committed entries (after ${entry.index})`);
    return result;
  }

  snapshot(): Uint8Array {
    return this.inner.snapshot();
  }

  restore(data: Uint8Array): void {
    this.inner.restore(data);
  }
}

export { Arm as CrashArm };
