import type { Entry, HardState, PersistedState, Snapshot } from "../core/raft/types.ts";

/** What one Ready asks to persist. */
export type RaftUpdate = { hardState?: HardState; entries: readonly Entry[]; snapshot?: Snapshot };

/**
 * Durable Raft state for one server. `save` returns only when everything given is synced, so the
 * caller may then send the messages of the same Ready (the persistence rule). `load` rebuilds
 * what survived a crash; a torn or corrupted tail record is detected by checksum and dropped,
 * never applied.
 */
export interface RaftStorage {
  save(update: RaftUpdate): void;
  /**
   * Optional: `save` without blocking the caller. The update is written at once (a later `save`,
   * `saveAsync` or `compact` follows it in the log) and synced off the caller's thread; `done` is
   * called once it is durable, or with the error that kept it from being so. `done` may run before
   * `saveAsync` returns. The caller starts no other save or compaction until `done` has run.
   */
  saveAsync?(update: RaftUpdate, done: (error: Error | null) => void): void;
  load(): PersistedState;
  /** The state machine snapshotted at snapshot.meta.index: keep it, drop the log before it. */
  compact(snapshot: Snapshot): void;
}
