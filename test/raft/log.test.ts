import test from "ava";
import { RaftLog } from "../../src/core/raft/log.ts";
import type { Entry } from "../../src/core/raft/types.ts";
import { log } from "./harness.ts";

/** The (term/index) pairs of some entries, for compact assertions. */
const ids = (entries: readonly Entry[]): string[] => entries.map((e) => `${e.term}/${e.index}`);

/** A log compacted up to index 3 (term 2) with entries 4..7 of terms 2 3 3 5 after it, commit 5. */
const compacted = () => new RaftLog(3, 2, log("2 3 3 5", 4), 5);

test("log: an empty log is its snapshot: indexes, terms and lookups at the boundary", (t) => {
  const fresh = new RaftLog(0, 0, [], 0);
  t.is(fresh.firstIndex(), 1);
  t.is(fresh.lastIndex(), 0);
  t.is(fresh.lastTerm(), 0);
  t.is(fresh.term(0), 0);
  t.is(fresh.term(1), undefined);
  t.deepEqual(fresh.unpersisted(), []);

  const restored = new RaftLog(10, 4, [], 10);
  t.is(restored.firstIndex(), 11);
  t.is(restored.lastIndex(), 10);
  t.is(restored.lastTerm(), 4, "no entries: the last term is the snapshot's");
  t.is(restored.term(10), 4);
  t.is(restored.entry(10), undefined, "the snapshot's own entry is gone");
});

test("log: term() and entry() answer inside (snapshot, last] and nothing outside it", (t) => {
  const l = compacted();
  t.is(l.firstIndex(), 4);
  t.is(l.lastIndex(), 7);
  t.is(l.lastTerm(), 5, "the last entry's term, not the snapshot's");
  t.deepEqual([2, 3, 4, 5, 6, 7, 8].map((i) => l.term(i)), [undefined, 2, 2, 3, 3, 5, undefined]);
  t.deepEqual([3, 4, 5, 6, 7, 8].map((i) => l.entry(i)?.index), [undefined, 4, 5, 6, 7, undefined]);
  t.deepEqual(ids([l.entry(4)!, l.entry(7)!]), ["2/4", "5/7"]);
  t.true(l.matchTerm(3, 2), "the snapshot boundary matches by its term");
  t.true(l.matchTerm(6, 3));
  t.false(l.matchTerm(6, 2));
  t.false(l.matchTerm(8, 5), "an entry we lack never matches");
  t.false(l.matchTerm(2, 0), "a compacted entry is not known to match");
});

test("log: up-to-date compares last terms first, then last indexes (§5.4.1)", (t) => {
  const l = compacted(); // last 5/7
  t.true(l.isUpToDate(7, 5), "identical logs");
  t.true(l.isUpToDate(8, 5), "same term, longer");
  t.false(l.isUpToDate(6, 5), "same term, shorter");
  t.true(l.isUpToDate(1, 6), "higher last term wins even when shorter");
  t.false(l.isUpToDate(100, 4), "lower last term loses even when longer");
});

test("log: slice returns [from, to] capped at maxCount, and refuses compacted or missing ranges", (t) => {
  const l = compacted();
  t.deepEqual(ids(l.slice(4, 7)), ["2/4", "3/5", "3/6", "5/7"]);
  t.deepEqual(ids(l.slice(5, 5)), ["3/5"], "a single entry");
  t.deepEqual(ids(l.slice(5, 7, 2)), ["3/5", "3/6"], "capped at two");
  t.deepEqual(ids(l.slice(5, 7, 3)), ["3/5", "3/6", "5/7"], "a cap equal to the range changes nothing");
  t.deepEqual(ids(l.slice(4, 7, 1)), ["2/4"]);
  t.deepEqual(l.slice(6, 5), [], "an empty range");
  t.deepEqual(l.slice(2, 1), [], "an empty range is empty even where it would be compacted");
  t.deepEqual(l.slice(9, 8), [], "an empty range is empty even beyond the log");
  t.throws(() => l.slice(3, 5), { message: /slice from 3 is compacted \(snapshot 3\)/ });
  t.throws(() => l.slice(4, 8), { message: /slice to 8 beyond lastIndex 7/ });
});

test("log: findConflict names the first entry we lack or hold with another term", (t) => {
  const l = compacted();
  t.is(l.findConflict([]), 0);
  t.is(l.findConflict(log("2 3 3 5", 4)), 0, "all match");
  t.is(l.findConflict(log("3 5", 6)), 0, "a matching suffix");
  t.is(l.findConflict(log("2 3 4 4", 4)), 6, "a term differs at 6");
  t.is(l.findConflict(log("3 5 5 5", 6)), 8, "new entries past the end");
});

test("log: findConflictByTerm walks back to the last index whose term is at most the given one", (t) => {
  const l = new RaftLog(0, 0, log("1 1 2 2 4 4"), 0);
  t.deepEqual(l.findConflictByTerm(6, 4), [6, 4], "the entry itself fits");
  t.deepEqual(l.findConflictByTerm(6, 3), [4, 2], "skips the whole term-4 run");
  t.deepEqual(l.findConflictByTerm(6, 2), [4, 2], "a term equal to the given one fits");
  t.deepEqual(l.findConflictByTerm(3, 1), [2, 1]);
  t.deepEqual(l.findConflictByTerm(20, 3), [4, 2], "an index beyond the log starts from the last entry");
  t.deepEqual(l.findConflictByTerm(6, 0), [0, 0], "down to the empty prefix");

  const c = compacted(); // snapshot 3/2, then 2 3 3 5
  t.deepEqual(c.findConflictByTerm(7, 2), [4, 2]);
  t.deepEqual(c.findConflictByTerm(7, 1), [2, 0], "below the snapshot the term is unknown: 0");
});

test("log: append extends by exactly one index and never lowers the term", (t) => {
  const l = compacted();
  l.append({ term: 5, index: 8, type: "normal", data: new Uint8Array() });
  t.is(l.lastIndex(), 8);
  t.throws(() => l.append({ term: 5, index: 10, type: "normal", data: new Uint8Array() }), { message: /append index 10 after lastIndex 8/ });
  t.throws(() => l.append({ term: 5, index: 8, type: "normal", data: new Uint8Array() }), { message: /append index 8 after lastIndex 8/ });
  t.throws(() => l.append({ term: 4, index: 9, type: "normal", data: new Uint8Array() }), { message: /append term 4 below lastTerm 5/ });
  l.append({ term: 6, index: 9, type: "noop", data: new Uint8Array() });
  t.is(l.lastTerm(), 6);

  const empty = new RaftLog(10, 4, [], 10);
  t.throws(() => empty.append({ term: 3, index: 11, type: "normal", data: new Uint8Array() }), { message: /append term 3 below lastTerm 4/ },
    "after a snapshot the snapshot's term is the floor");
  empty.append({ term: 4, index: 11, type: "normal", data: new Uint8Array() });
  t.deepEqual(ids(empty.slice(11, 11)), ["4/11"]);
});

test("log: unpersisted is what was appended since the log was handed out", (t) => {
  const l = compacted();
  t.deepEqual(l.unpersisted(), [], "entries read from disk are persisted");
  t.is(l.handedOutIndex, 7);
  l.append({ term: 5, index: 8, type: "normal", data: new Uint8Array() });
  l.append({ term: 6, index: 9, type: "normal", data: new Uint8Array() });
  t.deepEqual(ids(l.unpersisted()), ["5/8", "6/9"]);
  l.handedOutIndex = 8;
  t.deepEqual(ids(l.unpersisted()), ["6/9"]);
});

test("log: truncateAndAppend replaces an uncommitted tail and must be handed out again", (t) => {
  const l = compacted(); // commit 5, entries to 7, all handed out
  l.truncateAndAppend([]);
  t.is(l.lastIndex(), 7, "nothing to append: nothing changes");
  l.truncateAndAppend(log("4 4 4", 6));
  t.deepEqual(ids(l.slice(4, 8)), ["2/4", "3/5", "4/6", "4/7", "4/8"]);
  t.is(l.handedOutIndex, 5, "the replaced suffix is no longer on disk");
  t.deepEqual(ids(l.unpersisted()), ["4/6", "4/7", "4/8"]);
  t.throws(() => l.truncateAndAppend(log("9", 5)), { message: /truncating committed entry 5 \(commit 5\)/ });
  t.throws(() => l.truncateAndAppend(log("9", 4)), { message: /truncating committed entry 4/ });
  t.deepEqual(ids(l.slice(4, 8)), ["2/4", "3/5", "4/6", "4/7", "4/8"], "a refused truncation changes nothing");
});

test("log: truncateAndAppend right after the last entry is a plain append", (t) => {
  const l = compacted();
  l.truncateAndAppend(log("6 6", 8));
  t.is(l.lastIndex(), 9);
  t.deepEqual(ids(l.unpersisted()), ["6/8", "6/9"]);
  t.throws(() => l.truncateAndAppend(log("6", 11)), { message: /replace from 11 leaves a gap after 9/ });
});

test("log: replacing a tail that was never handed out keeps the older hand-out mark", (t) => {
  const l = compacted(); // handed out to 7
  l.append({ term: 5, index: 8, type: "normal", data: new Uint8Array() });
  l.append({ term: 5, index: 9, type: "normal", data: new Uint8Array() });
  l.replaceFrom(9, log("6", 9));
  t.is(l.handedOutIndex, 7);
  t.deepEqual(ids(l.unpersisted()), ["5/8", "6/9"]);
  t.throws(() => l.replaceFrom(3, log("2", 3)), { message: /replace from 3 inside snapshot 3/ });
  l.replaceFrom(4, log("7", 4));
  t.deepEqual(ids(l.slice(4, 4)), ["7/4"], "replacing right after the snapshot truncates everything");
  t.is(l.lastIndex(), 4);
  t.is(l.handedOutIndex, 3);
});

test("log: commitTo only moves forward and never past the last index", (t) => {
  const l = compacted(); // commit 5, last 7
  t.false(l.commitTo(4));
  t.false(l.commitTo(5), "committing the commit index again is no change");
  t.is(l.commit, 5);
  t.true(l.commitTo(6));
  t.is(l.commit, 6);
  t.throws(() => l.commitTo(8), { message: /commit 8 beyond lastIndex 7/ });
  t.true(l.commitTo(7));
  t.is(l.commit, 7);
});

test("log: compact keeps the entries after the index and takes its term as the snapshot term", (t) => {
  const l = compacted(); // snapshot 3/2, entries 4..7 terms 2 3 3 5, handed out to 7
  l.append({ term: 5, index: 8, type: "normal", data: new Uint8Array() });
  t.throws(() => l.compact(8), { message: /compact at 8 beyond persisted 7/ });
  t.throws(() => l.compact(9), { message: /compact at 9 outside the log \[3, 8\]/ });
  t.throws(() => l.compact(2), { message: /compact at 2 outside the log/ });
  l.compact(5);
  t.is(l.snapshotIndex, 5);
  t.is(l.snapshotTerm, 3);
  t.is(l.firstIndex(), 6);
  t.is(l.term(5), 3);
  t.is(l.term(4), undefined);
  t.deepEqual(ids(l.slice(6, 8)), ["3/6", "5/7", "5/8"]);
  t.deepEqual(ids(l.unpersisted()), ["5/8"], "compaction does not change what is left to persist");
  l.compact(7);
  t.deepEqual(ids(l.slice(8, 8)), ["5/8"]);
  t.is(l.snapshotTerm, 5);
  l.compact(7);
  t.is(l.lastIndex(), 8, "compacting at the snapshot again changes nothing");
});

test("log: restore replaces everything with the snapshot, committed and persisted", (t) => {
  const l = compacted(); // commit 5, last 7
  t.throws(() => l.restore(5, 9), { message: /restore snapshot 5 at or below commit 5/ });
  l.restore(6, 9);
  t.is(l.lastIndex(), 6);
  t.is(l.lastTerm(), 9);
  t.is(l.term(6), 9);
  t.is(l.entry(5), undefined);
  t.is(l.term(5), undefined);
  t.is(l.commit, 6);
  t.is(l.handedOutIndex, 6);
  t.deepEqual(l.unpersisted(), []);
  l.append({ term: 9, index: 7, type: "normal", data: new Uint8Array() });
  t.deepEqual(ids(l.unpersisted()), ["9/7"]);
});
