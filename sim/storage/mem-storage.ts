import type { Entry, HardState, PersistedState, Snapshot } from "../../src/core/raft/types.ts";
import { assert } from "../../src/core/util/assert.ts";
import type { RaftStorage } from "../../src/storage/types.ts";

/**
 * A RaftStorage kept in memory where every save is durable at once: the simulator's storage when
 * a seed does not exercise the simulated disk, and a reference for the disk-backed one.
 */
export class MemRaftStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private snapshot: Snapshot | null = null;
  private entries: Entry[] = [];

  save(update: { hardState?: HardState; entries: readonly Entry[]; snapshot?: Snapshot }): void {
    if (update.snapshot !== undefined) this.applySnapshot(update.snapshot);
    if (update.entries.length > 0) this.append(update.entries);
    if (update.hardState !== undefined) this.hardState = update.hardState;
  }

  load(): PersistedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }

  compact(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    if (this.snapshot !== null && index <= this.snapshot.meta.index) return;
    const offset = this.snapshot?.meta.index ?? 0;
    this.entries = this.entries.slice(Math.max(0, index - offset));
    this.snapshot = snapshot;
  }

  private applySnapshot(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    // The leader's snapshot supersedes the whole local log (etcd MemoryStorage.ApplySnapshot).
    this.entries = [];
  }

  private append(entries: readonly Entry[]): void {
    const first = entries[0]!;
    const offset = this.snapshot?.meta.index ?? 0;
    const lastIndex = this.entries.length > 0 ? this.entries[this.entries.length - 1]!.index : offset;
    assert(first.index > offset, `append at ${first.index} at or below snapshot ${offset}`);
    assert(first.index <= lastIndex + 1, `append at ${first.index} leaves a gap after ${lastIndex}`);
    // Entries are contiguous from offset + 1, so the kept prefix is a length, not a search.
    this.entries.length = first.index - offset - 1;
    for (const entry of entries) this.entries.push(entry);
  }
}
