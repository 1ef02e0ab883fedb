import test from "ava";
import { SimDisk } from "../../sim/disk.ts";
import type { Entry, HardState, PersistedState, Snapshot } from "../../src/core/raft/types.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { segmentName, WalCorruptionError, WalStorage } from "../../src/storage/wal-storage.ts";

const entry = (index: number, term: number, text = `cmd${index}@${term}`): Entry => ({
  index,
  term,
  type: "normal",
  data: new TextEncoder().encode(text),
});
const range = (from: number, to: number, term: number): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
const hard = (term: number, commit: number, vote: string | null = "n1"): HardState => ({ term, vote, commit });
const snap = (index: number, term: number, data = `state@${index}`): Snapshot => ({
  meta: { index, term, conf: { voters: ["n1", "n2", "n3"], learners: ["n4"] } },
  data: new TextEncoder().encode(data),
});

/** A fresh storage over the disk, as a restarted node builds it. */
function reopen(disk: SimDisk): { wal: WalStorage; state: PersistedState } {
  const wal = new WalStorage(disk);
  return { wal, state: wal.load() };
}

const indexes = (state: PersistedState): string => state.entries.map((e) => `${e.index}@${e.term}`).join(" ");

test("round trip: hard state, entries and snapshot come back as saved", (t) => {
  const disk = new SimDisk();
  const { wal, state: empty } = reopen(disk);
  t.deepEqual(empty, { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] });
  wal.save({ hardState: hard(1, 0), entries: range(1, 3, 1) });
  wal.save({ hardState: hard(2, 3, null), entries: [{ ...entry(4, 2), type: "config" }, { ...entry(5, 2), type: "noop", data: new Uint8Array() }] });
  const { state } = reopen(disk);
  t.deepEqual(state.hardState, hard(2, 3, null));
  t.is(indexes(state), "1@1 2@1 3@1 4@2 5@2");
  t.deepEqual(state.entries, wal.persisted().entries);
  t.is(state.entries[3]!.type, "config");
  t.is(new TextDecoder().decode(state.entries[0]!.data), "cmd1@1");
});

test("entries that overlap the stored tail replace it from their first index", (t) => {
  const disk = new SimDisk();
  const { wal } = reopen(disk);
  wal.save({ hardState: hard(1, 1), entries: range(1, 5, 1) });
  wal.save({ hardState: hard(2, 1), entries: range(3, 4, 2) });
  t.is(indexes(reopen(disk).state), "1@1 2@1 3@2 4@2", "the old 5@1 is gone with the conflicting suffix");
});

test("a snapshot received from the leader replaces the whole log", (t) => {
  const disk = new SimDisk();
  const { wal } = reopen(disk);
  wal.save({ hardState: hard(1, 2), entries: range(1, 4, 1) });
  wal.save({ hardState: hard(3, 10), snapshot: snap(10, 3), entries: range(11, 12, 3) });
  const { state } = reopen(disk);
  t.is(state.snapshot?.meta.index, 10);
  t.deepEqual(state.snapshot?.meta.conf, { voters: ["n1", "n2", "n3"], learners: ["n4"] });
  t.is(indexes(state), "11@3 12@3");
});

test("a crash before sync loses only the unsynced record", (t) => {
  const disk = new SimDisk();
  const { wal } = reopen(disk);
  wal.save({ hardState: hard(1, 1), entries: range(1, 2, 1) });
  disk.failSyncAfter(0);
  t.throws(() => wal.save({ hardState: hard(2, 2), entries: range(3, 3, 2) }), { message: /disk crashed/ });
  disk.crash(mulberry32(7));
  const { state } = reopen(disk);
  t.deepEqual(state.hardState, hard(1, 1));
  t.is(indexes(state), "1@1 2@1");
});

for (const kind of ["torn", "corrupted"] as const) {
  test(`a ${kind} tail record is detected, dropped and cut off; the synced state is intact`, (t) => {
    for (let seed = 1; seed <= 40; seed++) {
      const disk = new SimDisk();
      const { wal } = reopen(disk);
      wal.save({ hardState: hard(1, 1), entries: range(1, 3, 1) });
      disk.failSyncAfter(0);
      t.throws(() => wal.save({ hardState: hard(2, 3), entries: range(4, 9, 2) }));
      const opts = kind === "torn" ? { tornWriteProbability: 1 } : { corruptWriteProbability: 1 };
      const report = disk.crash(mulberry32(seed), opts);
      t.not(kind === "torn" ? report.torn : report.corrupted, null);
      const sizeBefore = disk.open(segmentName(0)).sizeBytes();
      const { wal: again, state } = reopen(disk);
      t.deepEqual(state.hardState, hard(1, 1), `seed ${seed}`);
      t.is(indexes(state), "1@1 2@1 3@1", `seed ${seed}`);
      const dropped = again.stats.tailsDropped;
      t.is(dropped, sizeBefore > again.stats.segmentBytes ? 1 : 0, `seed ${seed}: ${again.stats.lastDropReason}`);
      // The cut is synced: appending after it and crashing again keeps a valid log.
      again.save({ hardState: hard(3, 3), entries: range(4, 4, 3) });
      disk.crash(mulberry32(seed));
      t.is(indexes(reopen(disk).state), "1@1 2@1 3@1 4@3");
    }
  });
}

test("compaction keeps the snapshot and the entries after it, and the file shrinks", (t) => {
  const disk = new SimDisk();
  const { wal } = reopen(disk);
  for (let i = 1; i <= 100; i += 10) wal.save({ hardState: hard(1, i + 9), entries: range(i, i + 9, 1) });
  const before = wal.stats.segmentBytes;
  wal.compact(snap(95, 1));
  t.true(wal.stats.segmentBytes < before / 4, `${wal.stats.segmentBytes} vs ${before} bytes`);
  t.deepEqual(disk.list().filter((n) => n.endsWith(".log")), ["wal-1.log"]);
  wal.save({ entries: range(101, 101, 1) });
  wal.compact(snap(90, 1));
  t.is(wal.stats.compactions, 1, "a compaction at or below the snapshot is a no-op");
  const { state } = reopen(disk);
  t.is(state.snapshot?.meta.index, 95);
  t.is(indexes(state), "96@1 97@1 98@1 99@1 100@1 101@1");
  t.deepEqual(state.hardState, hard(1, 100));
  t.throws(() => wal.compact(snap(500, 1)), { message: /beyond last stored index 101/ });
});

test("compaction interrupted at each step, torn or not, loads the state before or after it", (t) => {
  const prepare = (disk: SimDisk): WalStorage => {
    const { wal } = reopen(disk);
    wal.save({ hardState: hard(1, 20), entries: range(1, 20, 1) });
    wal.compact(snap(5, 1)); // generation 1, so the next compaction writes the other meta slot
    wal.save({ hardState: hard(2, 25), entries: range(21, 25, 2) });
    return wal;
  };
  const before = "6@1 7@1 8@1 9@1 10@1 11@1 12@1 13@1 14@1 15@1 16@1 17@1 18@1 19@1 20@1 21@2 22@2 23@2 24@2 25@2";
  const after = "21@2 22@2 23@2 24@2 25@2";
  const seen = new Set<string>();
  for (let failAt = 0; failAt <= 2; failAt++) {
    for (let seed = 1; seed <= 20; seed++) {
      const disk = new SimDisk();
      const wal = prepare(disk);
      disk.failSyncAfter(failAt);
      let completed = true;
      try {
        wal.compact(snap(20, 1));
      } catch {
        completed = false;
      }
      disk.crash(mulberry32(seed), { tornWriteProbability: 0.4, corruptWriteProbability: 0.4 });
      const { state } = reopen(disk);
      const got = indexes(state);
      t.deepEqual(state.hardState, hard(2, 25));
      if (completed || got === after) {
        t.is(got, after, `failAt ${failAt} seed ${seed}`);
        t.is(state.snapshot?.meta.index, 20);
      } else {
        t.is(got, before, `failAt ${failAt} seed ${seed}`);
        t.is(state.snapshot?.meta.index, 5);
      }
      t.is(disk.list().filter((n) => n.endsWith(".log")).length, 1, "orphan or stale segments are removed");
      seen.add(`${failAt}:${completed ? "done" : got === after ? "after" : "before"}`);
    }
  }
  t.true(seen.has("0:before") && seen.has("1:before"), [...seen].join(","));
  t.true(seen.has("2:done"), "with two syncs allowed the compaction completes");
});

test("save and compact before load, and a gap in appended entries, are refused", (t) => {
  const disk = new SimDisk();
  const wal = new WalStorage(disk);
  t.throws(() => wal.save({ entries: range(1, 1, 1) }), { message: /before load/ });
  wal.load();
  t.throws(() => wal.save({ entries: range(3, 4, 1) }), { message: /gap after 0/ });
  t.throws(() => wal.save({ entries: [entry(1, 1), entry(3, 1)] }), { message: /jump/ });
});

test("initialConf from the config is returned by load", (t) => {
  const wal = new WalStorage(new SimDisk(), { initialConf: { voters: ["n1"], learners: [] } });
  t.deepEqual(wal.load().initialConf, { voters: ["n1"], learners: [] });
});

/** Flip one byte of a synced segment at `offset` (bit rot, not a crash). */
function flipSyncedByte(disk: SimDisk, name: string, offset: number): void {
  const file = disk.open(name);
  const bytes = file.read(0, file.sizeBytes());
  bytes[offset] = bytes[offset]! ^ 0x40;
  file.truncate(0);
  file.append(bytes);
  file.sync();
}

/** Byte offsets of each save's record in a fresh segment: [header+first save ends, second ends, ...]. */
function saveEnds(disk: SimDisk, wal: WalStorage, saves: number): number[] {
  const ends: number[] = [];
  for (let i = 1; i <= saves; i++) {
    wal.save({ hardState: hard(1, i - 1), entries: [entry(i, 1)] });
    ends.push(disk.open(segmentName(0)).sizeBytes());
  }
  return ends;
}

test("a checksum failure in the middle of the WAL, with valid records after it, stops load() naming the file and offset", (t) => {
  const disk = new SimDisk();
  const { wal } = reopen(disk);
  const ends = saveEnds(disk, wal, 4);
  // Corrupt the payload of the second save's record (it starts where the first save ended).
  flipSyncedByte(disk, segmentName(0), ends[0]! + 12);
  const error = t.throws(() => reopen(disk), { instanceOf: WalCorruptionError });
  t.is(error.message.split(":")[0], "wal-0.log");
  t.true(error.message.includes(`record at offset ${ends[0]} fails its checksum`), error.message);
  t.true(error.message.includes(`but a valid record follows at offset ${ends[1]}`), error.message);
  t.true(error.message.includes("not torn at its tail"), error.message);
  t.is(disk.open(segmentName(0)).sizeBytes(), ends[3], "nothing was cut: the records after the damage are still on disk");
});

test("a checksum failure in the last record is a torn tail: dropped, and the records before it kept", (t) => {
  const disk = new SimDisk();
  const { wal } = reopen(disk);
  const ends = saveEnds(disk, wal, 4);
  flipSyncedByte(disk, segmentName(0), ends[2]! + 12);
  const { wal: reopened, state } = reopen(disk);
  t.is(indexes(state), "1@1 2@1 3@1");
  t.regex(reopened.stats.lastDropReason ?? "", new RegExp(`^wal-0.log at ${ends[2]}: checksum`));
});

test("a bad header in a segment holding only its first append (header + one record) is a torn first write, not corruption", (t) => {
  const disk = new SimDisk();
  const { wal } = reopen(disk);
  saveEnds(disk, wal, 1);
  flipSyncedByte(disk, segmentName(0), 10);
  const { state } = reopen(disk);
  t.is(indexes(state), "");
});

test("a bad header followed by several valid records is corruption", (t) => {
  const disk = new SimDisk();
  const { wal } = reopen(disk);
  saveEnds(disk, wal, 3);
  flipSyncedByte(disk, segmentName(0), 10);
  t.throws(() => reopen(disk), { instanceOf: WalCorruptionError, message: /^wal-0.log: record at offset 0 fails its checksum/ });
});
