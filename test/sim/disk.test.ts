import test from "ava";
import { DiskCrashedError, SimDisk } from "../../sim/disk.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const text = (file: { read(o: number, n: number): Uint8Array; sizeBytes(): number }): number[] => [...file.read(0, file.sizeBytes())];

test("synced bytes survive a crash and unsynced ones are lost", (t) => {
  const disk = new SimDisk();
  const file = disk.open("log");
  file.append(bytes(1, 2, 3));
  file.sync();
  file.append(bytes(4, 5));
  t.deepEqual(text(file), [1, 2, 3, 4, 5], "reads see unsynced writes before the crash");
  const report = disk.crash(mulberry32(1));
  t.is(report.bytesLost, 2);
  t.deepEqual(text(disk.open("log")), [1, 2, 3]);
  t.is(disk.stats.syncs, 1);
  t.is(disk.stats.bytesWritten, 5);
});

test("a file never synced vanishes in a crash; remove is durable at once", (t) => {
  const disk = new SimDisk();
  disk.open("fresh").append(bytes(9));
  const kept = disk.open("kept");
  kept.sync();
  disk.open("gone").sync();
  disk.remove("gone");
  disk.crash(mulberry32(1));
  t.deepEqual(disk.list(), ["kept"]);
});

test("an unsynced truncate is undone by a crash, even after later appends", (t) => {
  const disk = new SimDisk();
  const file = disk.open("log");
  file.append(bytes(1, 2, 3, 4));
  file.sync();
  file.truncate(1);
  file.append(bytes(7, 7));
  file.truncate(0);
  t.deepEqual([...disk.durableBytes("log")], [1, 2, 3, 4]);
  disk.crash(mulberry32(1), { tornWriteProbability: 1 });
  t.deepEqual(text(disk.open("log")), [1, 2, 3, 4]);
});

test("a torn last write keeps a strict prefix of the unsynced tail of the file written last", (t) => {
  let tornSeen = 0;
  for (let seed = 1; seed <= 50; seed++) {
    const disk = new SimDisk();
    const other = disk.open("other");
    other.append(bytes(1));
    other.sync();
    other.append(bytes(2, 2, 2));
    const log = disk.open("log");
    log.append(bytes(1, 2));
    log.sync();
    log.append(bytes(3, 4, 5, 6));
    const report = disk.crash(mulberry32(seed), { tornWriteProbability: 1 });
    const after = text(disk.open("log"));
    t.true(after.length >= 2 && after.length < 6, `seed ${seed}: ${after.length} bytes kept`);
    t.deepEqual(after, [1, 2, 3, 4, 5, 6].slice(0, after.length));
    t.deepEqual(text(disk.open("other")), [1], "only the last written file is torn");
    t.is(report.torn?.file, "log");
    tornSeen += report.torn === null ? 0 : 1;
  }
  t.is(tornSeen, 50);
});

test("a corrupted last write survives with exactly one byte changed", (t) => {
  const disk = new SimDisk();
  const log = disk.open("log");
  log.append(bytes(0, 0));
  log.sync();
  log.append(new Uint8Array(100));
  const report = disk.crash(mulberry32(3), { corruptWriteProbability: 1 });
  const after = text(disk.open("log"));
  t.is(after.length, 102);
  t.is(after.filter((b) => b !== 0).length, 1);
  t.is(after.findIndex((b) => b !== 0), report.corrupted?.offsetBytes ?? -1);
});

test("crashes are deterministic for a seed", (t) => {
  const run = (seed: number): number[] => {
    const disk = new SimDisk();
    const log = disk.open("log");
    log.append(Uint8Array.from({ length: 40 }, (_, i) => i));
    disk.crash(mulberry32(seed), { tornWriteProbability: 0.5, corruptWriteProbability: 0.5 });
    return disk.exists("log") ? text(disk.open("log")) : [];
  };
  t.deepEqual(run(42), run(42));
});

test("an armed disk fails the chosen sync, refuses I/O until the crash, and stale handles stay dead", (t) => {
  const disk = new SimDisk();
  const log = disk.open("log");
  disk.failSyncAfter(1);
  log.append(bytes(1));
  log.sync();
  log.append(bytes(2));
  t.throws(() => log.sync(), { instanceOf: DiskCrashedError });
  t.throws(() => log.append(bytes(3)), { instanceOf: DiskCrashedError });
  t.throws(() => disk.open("x"), { instanceOf: DiskCrashedError });
  disk.crash(mulberry32(1));
  t.throws(() => log.append(bytes(3)), { message: /handle opened before a crash/ });
  t.deepEqual(text(disk.open("log")), [1]);
});

test("bad arguments get clear errors", (t) => {
  const disk = new SimDisk();
  const log = disk.open("log");
  t.throws(() => log.read(0, 1), { message: /past size 0/ });
  t.throws(() => log.truncate(5), { message: /size is 0/ });
  t.throws(() => disk.open("a/b"), { message: /flat/ });
  t.throws(() => disk.failSyncAfter(-1), { message: /count >= 0/ });
});

