/**
 * RaftStorage as a write-ahead log over a `DurableDirectory` (the simulator's disk or real files).
 *
 * Layout: segment files `wal-<generation>.log` and two meta slots `wal-meta-0`, `wal-meta-1`.
 * The current generation is the highest one named by a valid slot (generation 0, the first
 * segment, needs no slot). A segment starts with a `header` record, generation > 0 continues with
 * a `base` record (the compaction marker), then one `batch` record per `save()`.
 *
 * save(): one record, one append, one sync. load(): replays the current segment and stops at the
 * first record that is short or fails its checksum (a torn or corrupted tail), cuts the file
 * there and syncs the cut, so later appends follow a valid record. A bad record followed by a
 * valid one is not a tail: load() throws WalCorruptionError naming the file and offset.
 *
 * compact(snapshot): rewrites the live state into the next generation, crash-safe at each step:
 *   1. write `wal-<g+1>.log` (header + base) and sync it;  a crash leaves an orphan, removed by load;
 *   2. write the pointer to g+1 into slot (g+1) % 2 and sync; a torn pointer fails its checksum and
 *      the other slot (naming g, still on disk) wins;
 *   3. remove `wal-<g>.log`; a crash before leaves a stale file, removed by load.
 * Two slots rather than one rewritten in place, because an in-place rewrite torn by a crash
 * would leave no valid pointer at all.
 *
 * Invariants (checked by `invariants()`): entries are contiguous; the first entry follows the
 * snapshot (entries[0].index == snapshot index + 1 when both exist).
 */
import type { ConfState, Entry, HardState, PersistedState, Snapshot } from "../core/raft/types.ts";
import { assert } from "../core/util/assert.ts";
import type { DurableDirectory, DurableFile } from "./durable-file.ts";
import type { RaftStorage, RaftUpdate } from "./types.ts";
import { encodeRecord, readRecord, walFormatVersion, WalFormatError, type WalRecord } from "./wal-records.ts";

export interface WalConfig {
  /** Longest record payload accepted on replay: a longer length field is read as a torn header. */
  readonly recordBytesMax: number;
  /** Returned by load() for a node that has never stored a snapshot (cluster bootstrap). */
  readonly initialConf?: ConfState;
}

export function defaultWalConfig(): WalConfig {
  return {
    recordBytesMax: 256 * 1024 * 1024, // above any snapshot we expect; Consul's KV values are <= 512 KiB.
  };
}

export interface WalStats {
  generation: number;
  segmentBytes: number;
  /** Torn or corrupted tail records dropped by load(). */
  tailsDropped: number;
  tailBytesDropped: number;
  lastDropReason: string | null;
  saves: number;
  compactions: number;
}

const emptyHardState: HardState = { term: 0, vote: null, commit: 0 };

/** The durable state as replay rebuilds it. */
interface LiveState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

export class WalStorage implements RaftStorage {
  readonly stats: WalStats = {
    generation: 0, segmentBytes: 0, tailsDropped: 0, tailBytesDropped: 0, lastDropReason: null, saves: 0, compactions: 0,
  };
  private readonly config: WalConfig;
  private live: LiveState = { hardState: emptyHardState, snapshot: null, entries: [] };
  private segment: DurableFile | null = null;

  constructor(
    private readonly dir: DurableDirectory,
    config: Partial<WalConfig> = {},
  ) {
    this.config = { ...defaultWalConfig(), ...config };
    assert(this.config.recordBytesMax > 0, `recordBytesMax must be positive, got ${this.config.recordBytesMax}`);
  }

  load(): PersistedState {
    const generation = this.currentGeneration();
    this.removeOtherSegments(generation);
    this.stats.generation = generation;
    this.segment = this.dir.open(segmentName(generation));
    this.live = this.replay(this.segment, generation);
    this.stats.segmentBytes = this.segment.sizeBytes();
    this.invariants();
    return this.persisted();
  }

  save(update: RaftUpdate): void {
    const segment = this.writeBatch(update, "save");
    if (segment === null) return;
    segment.sync();
    this.savedBatch(update, segment);
  }

  /**
   * `save` with the sync off the caller's thread when the file can (real files: fdatasync on
   * libuv's pool); otherwise it syncs inline and calls `done` before returning. The record is
   * appended at once, so a crash before `done` may keep, tear or lose it: load() handles each.
   */
  saveAsync(update: RaftUpdate, done: (error: Error | null) => void): void {
    let segment: DurableFile | null;
    try {
      segment = this.writeBatch(update, "saveAsync");
    } catch (error) {
      done(error as Error);
      return;
    }
    if (segment === null) return done(null);
    const synced = segment;
    const finish = (error: Error | null): void => {
      if (error === null) this.savedBatch(update, synced);
      done(error);
    };
    if (synced.syncAsync === undefined) {
      try {
        synced.sync();
      } catch (error) {
        return finish(error as Error);
      }
      return finish(null);
    }
    synced.syncAsync(finish);
  }

  compact(snapshot: Snapshot): void {
    this.openSegment("compact");
    const index = snapshot.meta.index;
    const snapshotIndex = this.live.snapshot?.meta.index ?? 0;
    if (index <= snapshotIndex) return;
    const lastIndex = lastIndexOf(this.live);
    assert(index <= lastIndex, `compact at ${index} beyond last stored index ${lastIndex}`);
    const covered = this.live.entries.find((e) => e.index === index);
    assert(covered === undefined || covered.term === snapshot.meta.term, `compact at ${index}: snapshot term ${snapshot.meta.term} != entry term ${covered?.term}`);
    const next: LiveState = { hardState: this.live.hardState, snapshot, entries: this.live.entries.filter((e) => e.index > index) };
    this.rewrite(next);
  }

  /** The state load() would return now. */
  persisted(): PersistedState {
    const state: PersistedState = { hardState: this.live.hardState, snapshot: this.live.snapshot, entries: [...this.live.entries] };
    return this.config.initialConf === undefined ? state : { ...state, initialConf: this.config.initialConf };
  }

  invariants(): void {
    const { snapshot, entries } = this.live;
    const first = entries[0];
    if (first !== undefined && snapshot !== null) {
      assert(first.index === snapshot.meta.index + 1, `first entry ${first.index} does not follow snapshot ${snapshot.meta.index}`);
    }
    for (let i = 1; i < entries.length; i++) {
      assert(entries[i]!.index === entries[i - 1]!.index + 1, `entries jump from ${entries[i - 1]!.index} to ${entries[i]!.index}`);
    }
  }

  // -------------------------------------------------------------------------------------------

  private openSegment(what: string): DurableFile {
    assert(this.segment !== null, `${what} before load()`);
    return this.segment;
  }

  /** Appends `update` as one record (not yet synced); null when there is nothing to write. */
  private writeBatch(update: RaftUpdate, what: string): DurableFile | null {
    const segment = this.openSegment(what);
    if (update.hardState === undefined && update.snapshot === undefined && update.entries.length === 0) return null;
    checkBatch(this.live, update);
    const record = encodeRecord({ type: "batch", ...update });
    const header = segment.sizeBytes() === 0 ? encodeRecord(headerRecord(this.stats.generation)) : null;
    segment.append(header === null ? record : concatBytes(header, record));
    return segment;
  }

  private savedBatch(update: RaftUpdate, segment: DurableFile): void {
    applyBatch(this.live, update);
    this.stats.saves += 1;
    this.stats.segmentBytes = segment.sizeBytes();
  }

  /** Steps 1-3 of the compaction in the file comment. */
  private rewrite(next: LiveState): void {
    const from = this.stats.generation;
    const to = from + 1;
    const name = segmentName(to);
    if (this.dir.exists(name)) this.dir.remove(name);
    const fresh = this.dir.open(name);
    const base: WalRecord = { type: "base", hardState: next.hardState, snapshot: next.snapshot, entries: next.entries };
    fresh.append(concatBytes(encodeRecord(headerRecord(to)), encodeRecord(base)));
    fresh.sync();
    const slot = this.dir.open(metaSlotName(to));
    slot.truncate(0);
    slot.append(encodeRecord({ type: "pointer", generation: to }));
    slot.sync();
    this.dir.remove(segmentName(from));
    this.segment = fresh;
    this.live = next;
    this.stats.generation = to;
    this.stats.segmentBytes = fresh.sizeBytes();
    this.stats.compactions += 1;
  }

  /** The highest generation named by a valid meta slot; 0 when neither slot is valid. */
  private currentGeneration(): number {
    let best = 0;
    for (const name of [metaSlotName(0), metaSlotName(1)]) {
      if (!this.dir.exists(name)) continue;
      const slot = this.dir.open(name);
      const outcome = readRecord((o, n) => slot.read(o, n), 0, slot.sizeBytes(), this.config.recordBytesMax);
      if (outcome.kind !== "record" || outcome.record.type !== "pointer") continue;
      const { generation } = outcome.record;
      // A slot whose segment is gone names a generation already superseded (its removal happened).
      if (this.dir.exists(segmentName(generation))) best = Math.max(best, generation);
    }
    return best;
  }

  /** Orphans of an interrupted compaction (newer) and leftovers of a finished one (older). */
  private removeOtherSegments(generation: number): void {
    for (const name of this.dir.list()) {
      const g = generationOf(name);
      if (g !== null && g !== generation) this.dir.remove(name);
    }
  }

  private replay(segment: DurableFile, generation: number): LiveState {
    const fileBytes = segment.sizeBytes();
    // One read of the whole segment: replay is sequential, and a read per record costs a syscall each.
    const bytes = segment.read(0, fileBytes);
    let state: LiveState = { hardState: emptyHardState, snapshot: null, entries: [] };
    let offset = 0;
    for (;;) {
      const outcome = readRecord((o, n) => bytes.subarray(o, o + n), offset, fileBytes, this.config.recordBytesMax);
      if (outcome.kind === "end") break;
      if (outcome.kind === "bad") {
        checkTornTail(segment.name, bytes, offset, fileBytes, outcome, this.config.recordBytesMax);
        this.dropTail(segment, offset, fileBytes, outcome.reason);
        break;
      }
      state = applyRecord(state, outcome.record, offset, generation);
      offset += outcome.sizeBytes;
    }
    return state;
  }

  private dropTail(segment: DurableFile, offset: number, fileBytes: number, reason: string): void {
    this.stats.tailsDropped += 1;
    this.stats.tailBytesDropped += fileBytes - offset;
    this.stats.lastDropReason = `${segment.name} at ${offset}: ${reason}`;
    segment.truncate(offset);
    segment.sync();
  }
}

/** A WAL whose damage is not a torn tail: valid records follow a bad one. The server must not start on it. */
export class WalCorruptionError extends Error {
  override name = "WalCorruptionError";
}

/**
 * Only the last write can be torn: one save is one append (a fresh segment's first append also
 * carries the header record), and every append is synced before the next. So a record that fails
 * its checksum while a valid record follows it is corruption of synced data, not a torn tail, and
 * dropping it would silently drop the valid records after it (etcd refuses to start likewise).
 * The one exception is the header at offset 0 followed by exactly one record to the end of the
 * file: both came from the same, unsynced first append.
 */
function checkTornTail(
  file: string, bytes: Uint8Array, offset: number, fileBytes: number,
  bad: { readonly reason: string; readonly sizeBytes?: number }, recordBytesMax: number,
): void {
  if (bad.sizeBytes === undefined) return; // short or over-long: the record runs to the end of the file
  const nextOffset = offset + bad.sizeBytes;
  if (nextOffset >= fileBytes) return;
  const next = readRecord((o, n) => bytes.subarray(o, o + n), nextOffset, fileBytes, recordBytesMax);
  if (next.kind !== "record") return;
  if (offset === 0 && nextOffset + next.sizeBytes === fileBytes) return;
  throw new WalCorruptionError(
    `${file}: record at offset ${offset} fails its checksum (${bad.reason}) but a valid record follows at offset ${nextOffset}: ` +
    "the log is corrupted in the middle, not torn at its tail; refusing to start rather than drop the records after it " +
    "(restore this server's data directory, or remove it and let the server rejoin empty)");
}

function applyRecord(state: LiveState, record: WalRecord, offset: number, generation: number): LiveState {
  const where = `wal-${generation} record at ${offset}`;
  switch (record.type) {
    case "header":
      if (offset !== 0) throw new WalFormatError(`${where}: header in the middle of a segment`);
      if (record.version !== walFormatVersion) throw new WalFormatError(`${where}: format version ${record.version}, expected ${walFormatVersion}`);
      if (record.generation !== generation) throw new WalFormatError(`${where}: header names generation ${record.generation}`);
      return state;
    case "base":
      return { hardState: record.hardState, snapshot: record.snapshot, entries: [...record.entries] };
    case "batch":
      checkBatch(state, record);
      return applyBatch(state, record);
    case "pointer":
      throw new WalFormatError(`${where}: pointer record inside a segment`);
  }
}

/**
 * One save applied to the live state in place, as Raft's storage contract says: a snapshot
 * replaces the whole log (etcd MemoryStorage.ApplySnapshot); entries overwrite the stored suffix
 * from their first index; the hard state replaces the old one. Call `checkBatch` first.
 */
function applyBatch(state: LiveState, update: { hardState?: HardState; entries: readonly Entry[]; snapshot?: Snapshot }): LiveState {
  if (update.snapshot !== undefined) {
    state.snapshot = update.snapshot;
    state.entries = [];
  }
  const first = update.entries[0];
  if (first !== undefined) {
    state.entries.length = first.index - (snapshotIndexOf(state) + 1);
    for (const e of update.entries) state.entries.push(e);
  }
  if (update.hardState !== undefined) state.hardState = update.hardState;
  return state;
}

/** Throws, naming the indexes, when `update` would leave a gap or reach under the snapshot. */
function checkBatch(state: LiveState, update: { entries: readonly Entry[]; snapshot?: Snapshot }): void {
  const first = update.entries[0];
  if (first === undefined) return;
  const snapshotIndex = update.snapshot?.meta.index ?? snapshotIndexOf(state);
  const lastIndex = update.snapshot !== undefined ? snapshotIndex : lastIndexOf(state);
  assert(first.index > snapshotIndex, `append at ${first.index} at or below snapshot ${snapshotIndex}`);
  assert(first.index <= lastIndex + 1, `append at ${first.index} leaves a gap after ${lastIndex}`);
  for (let i = 1; i < update.entries.length; i++) {
    const index = update.entries[i]!.index;
    assert(index === first.index + i, `appended entries jump to ${index} at position ${i} after ${first.index}`);
  }
}

function snapshotIndexOf(state: LiveState): number {
  return state.snapshot?.meta.index ?? 0;
}

function lastIndexOf(state: LiveState): number {
  const last = state.entries[state.entries.length - 1];
  return last?.index ?? state.snapshot?.meta.index ?? 0;
}

function headerRecord(generation: number): WalRecord {
  return { type: "header", version: walFormatVersion, generation };
}

export function segmentName(generation: number): string {
  return `wal-${generation}.log`;
}

function metaSlotName(generation: number): string {
  return `wal-meta-${generation % 2}`;
}

function generationOf(name: string): number | null {
  const match = /^wal-(\d+)\.log$/.exec(name);
  return match === null ? null : Number(match[1]);
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
