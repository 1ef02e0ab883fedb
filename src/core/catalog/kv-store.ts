/**
 * The KV table: entries in key order, tombstones for deleted keys (so a prefix's index never
 * slides back after a delete, as Consul's graveyard does), the keys each session holds, and the
 * table index. A journal makes a txn all-or-nothing: the first time a txn touches a key, its
 * previous entry and tombstone are remembered, and `rollback` puts them back.
 *
 * Invariants: `order` holds exactly the keys of `entries`; `bySession` maps each session to
 * exactly the keys whose entry names it; `tableIndex` >= every ModifyIndex and tombstone.
 */
import { assert } from "../util/assert.ts";
import { SortedKeys } from "./sorted-keys.ts";
import type { KvEntry, RaftIndex } from "./types.ts";

interface JournalRecord {
  readonly key: string;
  readonly entry: KvEntry | undefined;
  readonly tombstone: RaftIndex | undefined;
}

export class KvStore {
  private readonly entries = new Map<string, KvEntry>();
  private readonly order = new SortedKeys();
  private readonly tombstones = new Map<string, RaftIndex>();
  private readonly tombstoneOrder = new SortedKeys();
  private readonly bySession = new Map<string, Set<string>>();
  private journal: JournalRecord[] | null = null;
  private journaledKeys = new Set<string>();
  private journalTableIndex = 0;
  /** Highest index that wrote, deleted or reaped in this table. */
  tableIndex: RaftIndex = 0;
  /**
   * The highest tombstone index ever reaped. A prefix's index never reports less, so reaping
   * the tombstone that set a prefix's index cannot slide that index back (Consul's can: its
   * clients must reset on a decrease; ours never see one). Invariant: reapedIndexMax <= tableIndex.
   */
  reapedIndexMax: RaftIndex = 0;

  get size(): number {
    return this.entries.size;
  }

  get tombstoneCount(): number {
    return this.tombstones.size;
  }

  get(key: string): KvEntry | undefined {
    return this.entries.get(key);
  }

  /** Stores `entry` (a fresh object the store now owns) as the key's current version. */
  put(entry: KvEntry): void {
    assert(entry.ModifyIndex >= entry.CreateIndex, () => `kv put ${entry.Key}: ModifyIndex ${entry.ModifyIndex} < CreateIndex ${entry.CreateIndex}`);
    assert(entry.ModifyIndex >= this.tableIndex, () => `kv put ${entry.Key}: ModifyIndex ${entry.ModifyIndex} < table index ${this.tableIndex}`);
    this.remember(entry.Key);
    const previous = this.entries.get(entry.Key);
    if (previous?.Session !== undefined) this.unindexSession(previous.Session, entry.Key);
    if (entry.Session !== undefined) this.indexSession(entry.Session, entry.Key);
    this.entries.set(entry.Key, entry);
    if (previous === undefined) this.order.add(entry.Key);
    this.tableIndex = entry.ModifyIndex;
  }

  /** Deletes `key` and leaves a tombstone at `index`; false when the key did not exist. */
  remove(key: string, index: RaftIndex): boolean {
    const previous = this.entries.get(key);
    if (previous === undefined) return false;
    assert(index >= this.tableIndex, () => `kv remove ${key}: index ${index} < table index ${this.tableIndex}`);
    this.remember(key);
    if (previous.Session !== undefined) this.unindexSession(previous.Session, key);
    this.entries.delete(key);
    this.order.delete(key);
    if (!this.tombstones.has(key)) this.tombstoneOrder.add(key);
    this.tombstones.set(key, index);
    this.tableIndex = index;
    return true;
  }

  *withPrefix(prefix: string): Generator<KvEntry> {
    for (const key of this.order.withPrefix(prefix)) yield this.entries.get(key)!;
  }

  /** Keys in order, for deletes that must not iterate while mutating. */
  keysWithPrefix(prefix: string): string[] {
    return [...this.order.withPrefix(prefix)];
  }

  /**
   * Consul's kvsListTxn index: the highest ModifyIndex or tombstone under the prefix, or the
   * table index when there is none (or the prefix is empty: listing everything); never below
   * the highest reaped tombstone, so it only grows along the log.
   */
  prefixIndex(prefix: string): RaftIndex {
    if (prefix === "") return this.tableIndex;
    let highest = 0;
    for (const entry of this.withPrefix(prefix)) highest = Math.max(highest, entry.ModifyIndex);
    for (const key of this.tombstoneOrder.withPrefix(prefix)) highest = Math.max(highest, this.tombstones.get(key)!);
    return highest === 0 ? this.tableIndex : Math.max(highest, this.reapedIndexMax);
  }

  /** Keys held by `session`, in key order (so invalidation is deterministic). */
  heldBy(session: string): string[] {
    return [...(this.bySession.get(session) ?? [])].sort();
  }

  /** Drops tombstones at or below `upTo`; the table index moves to `index`. */
  reapTombstones(upTo: RaftIndex, index: RaftIndex): number {
    let reaped = 0;
    for (const [key, at] of [...this.tombstones]) {
      if (at > upTo) continue;
      this.tombstones.delete(key);
      this.tombstoneOrder.delete(key);
      this.reapedIndexMax = Math.max(this.reapedIndexMax, at);
      reaped++;
    }
    if (reaped > 0) this.tableIndex = Math.max(this.tableIndex, index);
    return reaped;
  }

  begin(): void {
    assert(this.journal === null, "kv begin: a txn is already open");
    this.journal = [];
    this.journaledKeys = new Set();
    this.journalTableIndex = this.tableIndex;
  }

  commit(): void {
    assert(this.journal !== null, "kv commit: no txn open");
    this.journal = null;
    this.journaledKeys = new Set();
  }

  rollback(): void {
    const journal = this.journal;
    assert(journal !== null, "kv rollback: no txn open");
    this.journal = null;
    for (let i = journal.length - 1; i >= 0; i--) this.restoreRecord(journal[i]!);
    this.tableIndex = this.journalTableIndex;
    this.journaledKeys = new Set();
  }

  /** Snapshot helpers: everything in key order. */
  allEntries(): KvEntry[] {
    return [...this.withPrefix("")];
  }

  allTombstones(): [string, RaftIndex][] {
    return [...this.tombstoneOrder.withPrefix("")].map((key) => [key, this.tombstones.get(key)!]);
  }

  /** Snapshot restore: entries arrive in key order with any ModifyIndex. */
  restoreEntry(entry: KvEntry): void {
    assert(!this.entries.has(entry.Key), () => `kv restore: duplicate key ${entry.Key}`);
    this.entries.set(entry.Key, entry);
    this.order.add(entry.Key);
    if (entry.Session !== undefined) this.indexSession(entry.Session, entry.Key);
  }

  restoreTombstone(key: string, index: RaftIndex): void {
    if (!this.tombstones.has(key)) this.tombstoneOrder.add(key);
    this.tombstones.set(key, index);
  }

  invariants(): void {
    this.order.invariants();
    this.tombstoneOrder.invariants();
    assert(this.order.size === this.entries.size, () => `kv: order ${this.order.size} != entries ${this.entries.size}`);
    assert(this.tombstoneOrder.size === this.tombstones.size, () => `kv: tombstone order ${this.tombstoneOrder.size} != ${this.tombstones.size}`);
    assert(this.reapedIndexMax <= this.tableIndex, () => `kv: reaped index ${this.reapedIndexMax} > table ${this.tableIndex}`);
    let held = 0;
    for (const entry of this.entries.values()) {
      assert(entry.ModifyIndex <= this.tableIndex, () => `kv ${entry.Key}: ModifyIndex ${entry.ModifyIndex} > table ${this.tableIndex}`);
      if (entry.Session === undefined) continue;
      held++;
      assert(this.bySession.get(entry.Session)?.has(entry.Key), () => `kv ${entry.Key}: session ${entry.Session} not indexed`);
    }
    let indexed = 0;
    for (const keys of this.bySession.values()) indexed += keys.size;
    assert(indexed === held, () => `kv: ${indexed} session-indexed keys != ${held} held`);
  }

  private remember(key: string): void {
    if (this.journal === null || this.journaledKeys.has(key)) return;
    this.journaledKeys.add(key);
    this.journal.push({ key, entry: this.entries.get(key), tombstone: this.tombstones.get(key) });
  }

  private restoreRecord(record: JournalRecord): void {
    const current = this.entries.get(record.key);
    if (current?.Session !== undefined) this.unindexSession(current.Session, record.key);
    if (record.entry === undefined) {
      if (current !== undefined) this.order.delete(record.key);
      this.entries.delete(record.key);
    } else {
      if (current === undefined) this.order.add(record.key);
      this.entries.set(record.key, record.entry);
      if (record.entry.Session !== undefined) this.indexSession(record.entry.Session, record.key);
    }
    if (record.tombstone === undefined) {
      if (this.tombstones.delete(record.key)) this.tombstoneOrder.delete(record.key);
    } else {
      this.restoreTombstone(record.key, record.tombstone);
    }
  }

  private indexSession(session: string, key: string): void {
    let keys = this.bySession.get(session);
    if (keys === undefined) this.bySession.set(session, (keys = new Set()));
    keys.add(key);
  }

  private unindexSession(session: string, key: string): void {
    const keys = this.bySession.get(session);
    assert(keys !== undefined && keys.has(key), () => `kv ${key}: session ${session} index missing`);
    keys.delete(key);
    if (keys.size === 0) this.bySession.delete(session);
  }
}
