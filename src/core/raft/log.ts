import { assert } from "../util/assert.ts";
import type { Entry, Index, Term } from "./types.ts";

/**
 * The in-memory Raft log: a snapshot boundary (index and term of the last compacted entry),
 * the entries after it, the commit index, and how far the log has been handed to the caller
 * for persistence (etcd raft's `raftLog` with its `unstable` part folded in).
 *
 * Invariant: snapshotIndex <= commit <= lastIndex; durableIndex <= handedOutIndex <= lastIndex;
 * entries[i].index === snapshotIndex + 1 + i; terms never decrease along the log.
 */
export class RaftLog {
  private entries: Entry[];
  snapshotIndex: Index;
  snapshotTerm: Term;
  commit: Index;
  /** Entries up to here were given to the caller in a Ready (so they are, or will be, durable). */
  handedOutIndex: Index;
  /** Entries up to here are on disk: the caller advanced past the Ready that carried them. */
  durableIndex: Index;

  constructor(snapshotIndex: Index, snapshotTerm: Term, entries: readonly Entry[], commit: Index) {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    this.entries = [...entries];
    this.commit = commit;
    this.handedOutIndex = this.lastIndex();
    this.durableIndex = this.lastIndex();
  }

  firstIndex(): Index {
    return this.snapshotIndex + 1;
  }

  lastIndex(): Index {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): Term {
    return this.entries[this.entries.length - 1]?.term ?? this.snapshotTerm;
  }

  /** The term at `index`, or undefined when it is compacted away or beyond the log. */
  term(index: Index): Term | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshotIndex - 1]!.term;
  }

  entry(index: Index): Entry | undefined {
    if (index <= this.snapshotIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshotIndex - 1];
  }

  matchTerm(index: Index, term: Term): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    return lastTerm > this.lastTerm() || (lastTerm === this.lastTerm() && lastIndex >= this.lastIndex());
  }

  /** Entries in [from, to], which must lie after the snapshot; at most `maxCount` of them. */
  slice(from: Index, to: Index, maxCount = Number.POSITIVE_INFINITY): Entry[] {
    if (from > to) return [];
    assert(from > this.snapshotIndex, `slice from ${from} is compacted (snapshot ${this.snapshotIndex})`);
    assert(to <= this.lastIndex(), `slice to ${to} beyond lastIndex ${this.lastIndex()}`);
    const end = Math.min(to, from + maxCount - 1);
    return this.entries.slice(from - this.snapshotIndex - 1, end - this.snapshotIndex);
  }

  /** Index of the first entry whose term differs from ours (or that we lack), 0 if none. */
  findConflict(entries: readonly Entry[]): Index {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term (0 when unknown):
   * etcd raft's fast backtracking. Everything after it certainly mismatches a log whose entry at
   * `index` has term `term`.
   */
  findConflictByTerm(index: Index, term: Term): [Index, Term] {
    let at = Math.min(index, this.lastIndex());
    for (;;) {
      const found = this.term(at);
      if (found === undefined) return [at, 0];
      if (found <= term) return [at, found];
      at -= 1;
    }
  }

  append(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, () => `append index ${entry.index} after lastIndex ${this.lastIndex()}`);
    assert(entry.term >= this.lastTerm(), () => `append term ${entry.term} below lastTerm ${this.lastTerm()}`);
    this.entries.push(entry);
  }

  /** Replace the log from entries[0].index on; committed entries are never replaced. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const from = entries[0]?.index;
    if (from === undefined) return;
    assert(from > this.commit, () => `truncating committed entry ${from} (commit ${this.commit})`);
    this.replaceFrom(from, entries);
  }

  /** The raw replacement, without the committed-entry guard (kept separate for the test-only mutants). */
  replaceFrom(from: Index, entries: readonly Entry[]): void {
    assert(from > this.snapshotIndex, `replace from ${from} inside snapshot ${this.snapshotIndex}`);
    assert(from <= this.lastIndex() + 1, `replace from ${from} leaves a gap after ${this.lastIndex()}`);
    this.entries.length = from - this.snapshotIndex - 1;
    for (const entry of entries) this.append(entry);
    this.handedOutIndex = Math.min(this.handedOutIndex, from - 1);
    this.durableIndex = Math.min(this.durableIndex, from - 1);
  }

  commitTo(index: Index): boolean {
    if (index <= this.commit) return false;
    assert(index <= this.lastIndex(), () => `commit ${index} beyond lastIndex ${this.lastIndex()}`);
    this.commit = index;
    return true;
  }

  /** Entries not yet handed to the caller for persistence. */
  unpersisted(): Entry[] {
    return this.entries.slice(this.handedOutIndex - this.snapshotIndex);
  }

  /** Drop the prefix up to `index`, which the state machine has snapshotted. */
  compact(index: Index): void {
    const term = this.term(index);
    assert(term !== undefined, `compact at ${index} outside the log [${this.snapshotIndex}, ${this.lastIndex()}]`);
    assert(index <= this.handedOutIndex, `compact at ${index} beyond persisted ${this.handedOutIndex}`);
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }

  /** Replace the whole log with a snapshot received from the leader. */
  restore(index: Index, term: Term): void {
    assert(index > this.commit, `restore snapshot ${index} at or below commit ${this.commit}`);
    this.entries = [];
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.commit = index;
    this.handedOutIndex = index;
    this.durableIndex = index;
  }
}
