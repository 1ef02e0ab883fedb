/**
 * Write-ahead log throughput: saves per second (one record and one sync each) and replay time,
 * on the simulator's disk and on real files (fsync included). Prints figures; asserts nothing.
 *
 *   node --import tsx bench/wal-storage.ts
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SimDisk } from "../sim/disk.ts";
import type { Entry } from "../src/core/raft/types.ts";
import type { DurableDirectory } from "../src/storage/durable-file.ts";
import { NodeFsDirectory } from "../src/storage/node-fs-directory.ts";
import { WalStorage } from "../src/storage/wal-storage.ts";

const payload = new Uint8Array(128).fill(7);

function run(label: string, dir: DurableDirectory, saves: number, entriesPerSave: number): void {
  const wal = new WalStorage(dir);
  wal.load();
  let index = 0;
  const t0 = performance.now();
  for (let i = 0; i < saves; i++) {
    const entries: Entry[] = Array.from({ length: entriesPerSave }, () => ({ index: ++index, term: 1, type: "normal", data: payload }));
    wal.save({ hardState: { term: 1, vote: "n1", commit: index - entriesPerSave }, entries });
  }
  const saveMs = performance.now() - t0;
  const tReplay = performance.now();
  const replayed = new WalStorage(dir).load().entries.length;
  const replayMs = performance.now() - tReplay;
  const t1 = performance.now();
  wal.compact({ meta: { index: index - 100, term: 1, conf: { voters: ["n1"], learners: [] } }, data: new Uint8Array(4096) });
  const compactMs = performance.now() - t1;
  const t2 = performance.now();
  const loaded = new WalStorage(dir).load();
  const loadMs = performance.now() - t2;
  console.log(
    `${label}: ${saves} saves x ${entriesPerSave} entries of ${payload.length} B: ${Math.round(saves / (saveMs / 1000))} saves/s, ` +
      `${Math.round(index / (saveMs / 1000))} entries/s; replay of ${replayed} entries ${replayMs.toFixed(1)} ms; compaction ${compactMs.toFixed(1)} ms; ` +
      `load of ${loaded.entries.length} entries after it ${loadMs.toFixed(1)} ms`,
  );
}

run("sim disk", new SimDisk(), 20_000, 1);
run("sim disk", new SimDisk(), 2_000, 64);
const dirPath = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-wal-bench-"));
try {
  const dir = new NodeFsDirectory(dirPath);
  run("real files (fsync)", dir, 500, 1);
  dir.close();
} finally {
  fs.rmSync(dirPath, { recursive: true, force: true });
}
