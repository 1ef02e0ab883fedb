/**
 * RSS of a server agent holding N keys: starts `praetor agent -server -bootstrap` (compiled, from
 * bin/) on 127.0.0.61 with a temporary data dir, writes N keys through /v1/txn in batches of 64,
 * and prints the agent's RSS idle before and after.
 *
 *   node --import tsx bench/agent-rss.ts [--keys 100000] [--value-bytes 64]
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const keys = Number(opt("keys", "100000"));
const valueBytes = Number(opt("value-bytes", "64"));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-rss-"));
const base = "http://127.0.0.61:8500";
const child = spawn(process.execPath, [path.resolve("bin/praetor.mjs"), "agent", "-server", "-bootstrap", "-node", "rss", "-bind", "127.0.0.61", "-client", "127.0.0.61", "-data-dir", dir, "-log-level", "warn"], { stdio: "ignore" });
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024;
try {
  for (;;) {
    const leader = await fetch(`${base}/v1/status/leader`).then((r) => r.json()).catch(() => "");
    if (leader !== "") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 3000));
  const idle = rssMb();
  const value = Buffer.alloc(valueBytes, "v").toString("base64");
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < keys) {
      const from = next;
      next += 64;
      const ops = [];
      for (let k = from; k < Math.min(from + 64, keys); k++) ops.push({ KV: { Verb: "set", Key: `rss/key-${k}`, Value: value } });
      const res = await fetch(`${base}/v1/txn`, { method: "PUT", body: JSON.stringify(ops) });
      if (res.status !== 200) throw new Error(`txn answered ${res.status}: ${await res.text()}`);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 5000));
  console.log(`idle server RSS ${idle.toFixed(1)} MB; with ${keys} keys of ${valueBytes} B: ${rssMb().toFixed(1)} MB (written in ${seconds.toFixed(1)} s, ${(keys / seconds).toFixed(0)} keys/s through /v1/txn)`);
} finally {
  child.kill("SIGKILL");
  fs.rmSync(dir, { recursive: true, force: true });
}
