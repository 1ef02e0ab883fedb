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

test("a file's size follows its appends and truncations (kept without an fstat per ask)", (t) => {
  const dirPath = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-size-"));
  t.teardown(() => fs.rmSync(dirPath, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dirPath, "f"), Uint8Array.of(1, 2, 3));
  const dir = new NodeFsDirectory(dirPath);
  t.teardown(() => dir.close());
  const file = dir.open("f");
  const onDisk = () => fs.statSync(path.join(dirPath, "f")).size;
  const steps: [string, number, number][] = [["opened", file.sizeBytes(), onDisk()]];
  file.append(Uint8Array.of(4, 5));
  steps.push(["appended 2", file.sizeBytes(), onDisk()]);
  file.truncate(1);
  steps.push(["truncated to 1", file.sizeBytes(), onDisk()]);
  file.append(Uint8Array.of(6));
  steps.push(["appended 1", file.sizeBytes(), onDisk()]);
  file.truncate(4);
  steps.push(["extended to 4", file.sizeBytes(), onDisk()]);
  t.deepEqual(steps, [["opened", 3, 3], ["appended 2", 5, 5], ["truncated to 1", 1, 1], ["appended 1", 2, 2], ["extended to 4", 4, 4]]);
  t.deepEqual([...file.read(0, 2)], [1, 6]);
});
