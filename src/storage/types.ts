import type { Entry, HardState, PersistedState, Snapshot } from "../core/raft/types.ts";

/**
 * Durable Raft state for one server. `save` returns only when everything given is synced, so the
 * caller may then send the messages of the same Ready (the persistence rule). `load` rebuilds
 * what survived a crash; a torn or corrupted tail record is detected by checksum and dropped,
 * never applied.
 */
export interface RaftStorage {
  save(update: { hardState?: HardState; entries: readonly Entry[]; snapshot?: Snapshot }): void;
  load(): PersistedState;
  /** The state machine snapshotted at snapshot.meta.index: keep it, drop the log before it. */
  compact(snapshot: Snapshot): void;
}
