/**
 * WalStorage.saveAsync: the record is written at once and synced off the caller's thread (real
 * files: fdatasync on libuv's pool). Until `done` runs nothing is promised: a crash may keep the
 * record, tear it or lose it, and load() never returns half of it.
 */
import test from "ava";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SimDisk } from "../../sim/disk.ts";
import type { Entry } from "../../src/core/raft/types.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import type { DurableDirectory, DurableFile } from "../../src/storage/durable-file.ts";
import { NodeFsDirectory } from "../../src/storage/node-fs-directory.ts";
import { WalStorage } from "../../src/storage/wal-storage.ts";

const entry = (index: number, term: number): Entry => ({ index, term, type: "normal", data: Uint8Array.of(index, term) });

/** The simulated disk, whose files sync only when the test says (a sync that is slow to finish). */
class HeldSyncDisk implements DurableDirectory {
  readonly held: (() => void)[] = [];
  constructor(readonly disk: SimDisk) {}
  open(name: string): DurableFile {
    const file = this.disk.open(name);
    const held = this.held;
    return Object.assign(Object.create(file) as DurableFile, {
      syncAsync(done: (error: Error | null) => void): void {
        held.push(() => {
          file.sync();
          done(null);
        });
      },
    });
  }
  exists(name: string): boolean {
    return this.disk.exists(name);
  }
  list(): string[] {
    return this.disk.list();
  }
  remove(name: string): void {
    this.disk.remove(name);
  }
}

test("saveAsync on real files: done runs later, and the saved batch loads after a reopen", async (t) => {
  const dirPath = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-wal-async-"));
  t.teardown(() => fs.rmSync(dirPath, { recursive: true, force: true }));
  const dir = new NodeFsDirectory(dirPath);
  const wal = new WalStorage(dir);
  wal.load();
  wal.save({ hardState: { term: 1, vote: "n1", commit: 0 }, entries: [entry(1, 1)] });
  let doneBeforeReturn = false;
  let calledBack = false;
  const synced = new Promise<Error | null>((resolve) => {
    wal.saveAsync({ hardState: { term: 1, vote: "n1", commit: 1 }, entries: [entry(2, 1), entry(3, 1)] }, (error) => {
      calledBack = true;
      resolve(error);
    });
    doneBeforeReturn = calledBack;
  });
  t.false(doneBeforeReturn, "the sync ran on the thread pool, not inline");
  t.is(await synced, null);
  t.is(wal.stats.saves, 2);
  dir.close();
  const state = new WalStorage(new NodeFsDirectory(dirPath)).load();
  t.deepEqual(state.entries.map((e) => e.index), [1, 2, 3]);
  t.deepEqual(state.hardState, { term: 1, vote: "n1", commit: 1 });
});

test("saveAsync over a file without an asynchronous sync syncs inline and calls done before returning", (t) => {
  const disk = new SimDisk();
  const wal = new WalStorage(disk);
  wal.load();
  let result: Error | null | undefined;
  wal.saveAsync({ hardState: { term: 1, vote: "n1", commit: 0 }, entries: [entry(1, 1)] }, (error) => (result = error));
  t.is(result, null);
  t.deepEqual(new WalStorage(disk).load().entries.map((e) => e.index), [1]);
});

test("a crash before saveAsync's sync completes keeps the batch whole or drops it whole", (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const disk = new SimDisk();
    const held = new HeldSyncDisk(disk);
    const wal = new WalStorage(held);
    wal.load();
    wal.save({ hardState: { term: 1, vote: "n1", commit: 0 }, entries: [entry(1, 1), entry(2, 1)] });
    let done = false;
    wal.saveAsync({ hardState: { term: 2, vote: "n2", commit: 2 }, entries: [entry(3, 2), entry(4, 2)] }, () => (done = true));
    t.false(done);
    disk.crash(mulberry32(seed), { tornWriteProbability: 0.4, corruptWriteProbability: 0.4 });
    const state = new WalStorage(disk).load();
    t.deepEqual(state.entries.map((e) => `${e.index}@${e.term}`), ["1@1", "2@1"], `seed ${seed}: the unsynced batch is gone whole`);
    t.deepEqual(state.hardState, { term: 1, vote: "n1", commit: 0 });
  }
});

test("saveAsync's batch is durable once done runs, and the live state follows only then", (t) => {
  const disk = new SimDisk();
  const held = new HeldSyncDisk(disk);
  const wal = new WalStorage(held);
  wal.load();
  wal.saveAsync({ hardState: { term: 1, vote: "n1", commit: 0 }, entries: [entry(1, 1)] }, () => {});
  t.is(held.held.length, 1);
  t.deepEqual(wal.persisted().entries, [], "nothing counts as stored before the sync");
  held.held.shift()!();
  t.deepEqual(wal.persisted().entries.map((e) => e.index), [1]);
  disk.crash(mulberry32(1));
  t.deepEqual(new WalStorage(disk).load().entries.map((e) => e.index), [1]);
});

test("saveAsync reports a refused batch through done instead of throwing", (t) => {
  const wal = new WalStorage(new SimDisk());
  wal.load();
  let error: Error | null = null;
  wal.saveAsync({ entries: [entry(5, 1)] }, (e) => (error = e));
  t.regex(String(error), /append at 5 leaves a gap after 0/);
});
