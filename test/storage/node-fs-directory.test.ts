import test from "ava";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NodeFsDirectory } from "../../src/storage/node-fs-directory.ts";
import { WalStorage } from "../../src/storage/wal-storage.ts";

const entry = (index: number, term: number) => ({ index, term, type: "normal" as const, data: Uint8Array.of(index, term) });

test("the WAL on real files survives a reopen, a compaction and a torn tail", (t) => {
  const dirPath = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-wal-"));
  t.teardown(() => fs.rmSync(dirPath, { recursive: true, force: true }));
  const dir = new NodeFsDirectory(dirPath);
  const wal = new WalStorage(dir);
  wal.load();
  wal.save({ hardState: { term: 1, vote: "n1", commit: 3 }, entries: [1, 2, 3, 4].map((i) => entry(i, 1)) });
  wal.compact({ meta: { index: 2, term: 1, conf: { voters: ["n1"], learners: [] } }, data: Uint8Array.of(42) });
  wal.save({ entries: [entry(5, 1)] });
  dir.close();
  t.deepEqual(fs.readdirSync(dirPath).sort(), ["wal-1.log", "wal-meta-1"]);
  // A torn write at the end, as a power cut in the middle of an append would leave it.
  fs.appendFileSync(path.join(dirPath, "wal-1.log"), Uint8Array.of(200, 0, 0, 0, 1, 2));
  const again = new WalStorage(new NodeFsDirectory(dirPath));
  const state = again.load();
  t.deepEqual(state.entries.map((e) => e.index), [3, 4, 5]);
  t.deepEqual([...state.snapshot!.data], [42]);
  t.deepEqual(state.hardState, { term: 1, vote: "n1", commit: 3 });
  t.is(again.stats.tailsDropped, 1);
  t.is(again.stats.tailBytesDropped, 6);
});
