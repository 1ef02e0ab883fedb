/**
 * HTTP API figures over the fake backend (the real catalog core in-process, no Raft), so they
 * measure the HTTP layer and the catalog, not replication:
 *
 *   1. KV GET (default and ?consistent) and PUT requests/s with wrk, 64 connections;
 *   2. blocking-query wake-up: N watchers on one key, one write, time until the last answer;
 *   3. N watchers on N different keys: one write wakes one, latency and server CPU per write,
 *      and RSS with the watchers open.
 *
 *   node --import tsx bench/http.ts [--duration 10s] [--watchers 1000,10000]
 *
 * Needs `wrk` (Debian package wrk). Watchers are held by a client in another process
 * (test/http/watchers-client.ts); 50,000 needs `ulimit -n` above 100,000 on both sides.
 * The same figures on real agents (Raft, RPC, client agents): bench/watchers.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHttpApi, startHttpServer } from "../src/http/server.ts";
import { FakeBackend } from "../test/http/fake-backend.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
};
const duration = option("duration", "10s");
const watcherCounts = option("watchers", "1000,10000").split(",").map(Number).filter((n) => n > 0);
const client = fileURLToPath(new URL("../test/http/watchers-client.ts", import.meta.url));

const backend = new FakeBackend();
backend.recordCalls = false;
const server = await startHttpServer({ host: "127.0.0.1", port: 0, app: createHttpApi(backend) });
const base = `http://127.0.0.1:${server.port}`;
console.log(`bench/http: HTTP API over the fake backend on ${base}, node ${process.version}`);

async function put(path: string, body: string): Promise<void> {
  const res = await fetch(base + path, { method: "PUT", body });
  if (!res.ok) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}

/** wrk runs in a child process, so this process must stay free to serve: spawn, not spawnSync. */
function wrk(path: string, script?: string, origin = base): Promise<string> {
  return new Promise((resolve, reject) => {
    const wrkArgs = ["-t4", "-c64", `-d${duration}`, "--latency", ...(script ? ["-s", script] : []), origin + path];
    const child = spawn("wrk", wrkArgs);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", () => resolve(out));
  });
}

function summary(out: string): string {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? "?";
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? "?";
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? "?";
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0";
  return `${Number(rps).toFixed(0).padStart(7)} req/s  p50 ${p50.padStart(8)}  p99 ${p99.padStart(8)}  non-2xx ${errors}`;
}

async function throughput(): Promise<void> {
  if (spawnSync("wrk", ["-v"]).error !== undefined) {
    console.log("wrk not found (apt-get install wrk): skipping requests/s");
    return;
  }
  await put("/v1/kv/bench/key", "x".repeat(64));
  const dir = mkdtempSync(join(tmpdir(), "praetor-bench-"));
  const putScript = join(dir, "put.lua");
  writeFileSync(putScript, 'local i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format("PUT", "/v1/kv/bench/k" .. (i % 1000), nil, "value-" .. i)\nend\n');
  console.log(`\nKV over HTTP, wrk -t4 -c64 -d${duration} (load average now ${loadavg().map((x) => x.toFixed(1)).join(" ")} on ${cpus().length} CPUs):`);
  // A bare node:http server answering a constant: what this machine allows at all, for scale.
  const bare = createServer((_req, res) => res.end('[{"Key":"bench/key"}]'));
  await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
  console.log(`  bare node:http    ${summary(await wrk("/", undefined, `http://127.0.0.1:${(bare.address() as AddressInfo).port}`))}`);
  bare.close();
  console.log(`  GET default       ${summary(await wrk("/v1/kv/bench/key"))}`);
  console.log(`  GET ?consistent   ${summary(await wrk("/v1/kv/bench/key?consistent"))}`);
  console.log(`  PUT               ${summary(await wrk("/v1/kv/bench/k", putScript))}`);
}

interface Watchers {
  answers: number[];
  stop(): void;
}

/** Opens `count` blocking GETs (keys `<prefix>0..count-1`, or one key for all when `prefix` ends in "#"). */
async function openWatchers(count: number, prefix: string, index: number): Promise<Watchers> {
  const child = spawn(process.execPath, ["--import", "tsx", client, String(server.port), String(count), prefix, String(index), "10m"], { stdio: ["ignore", "pipe", "inherit"] });
  const answers: number[] = [];
  let opened = false;
  let buffered = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith("open ")) opened = true;
      else if (line.startsWith("woke ")) answers.push(performance.now());
      else if (line.startsWith("error ")) throw new Error(`watcher client: ${line}`);
    }
  });
  const before = backend.catalog.waiterCount;
  while (!opened || backend.catalog.waiterCount < before + count) await new Promise((r) => setTimeout(r, 20));
  return { answers, stop: () => child.kill("SIGKILL") };
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setImmediate(r));
  }
  return true;
}

/** Between phases: no waiter left and the previous client's sockets all closed on our side. */
async function drained(): Promise<void> {
  const connections = () => new Promise<number>((resolve) => server.server.getConnections((_error, count) => resolve(count)));
  while (backend.catalog.waiterCount > 0 || (await connections()) > 0) await new Promise((r) => setTimeout(r, 100));
}

async function wakeOneKey(count: number): Promise<void> {
  await put("/v1/kv/hot", "0");
  const index = backend.catalog.kvGet("hot").index;
  const watchers = await openWatchers(count, "hot#", index);
  const cpu = process.cpuUsage();
  const writtenAt = performance.now();
  await put("/v1/kv/hot", "1");
  const all = await waitFor(() => watchers.answers.length >= count, 60_000);
  const used = process.cpuUsage(cpu);
  const lastMs = Math.max(...watchers.answers) - writtenAt;
  console.log(`  ${String(count).padStart(6)} watchers on one key: ${all ? "all" : "NOT all"} answered ${watchers.answers.length}, last after ${lastMs.toFixed(0)} ms; server CPU ${((used.user + used.system) / 1000).toFixed(0)} ms for the write and ${count} answers`);
  watchers.stop();
  await drained();
}

async function wakeManyKeys(count: number): Promise<void> {
  const index = Math.max(1, backend.catalog.appliedIndex);
  const rssBeforeMiB = process.memoryUsage().rss / 2 ** 20;
  const watchers = await openWatchers(count, "many/", index);
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  const samples: { latencyMs: number; cpuMs: number }[] = [];
  for (let i = 0; i < 20; i++) {
    const woken = watchers.answers.length;
    const cpu = process.cpuUsage();
    const writtenAt = performance.now();
    await put(`/v1/kv/many/${i * 37}`, "x");
    await waitFor(() => watchers.answers.length > woken, 10_000);
    const used = process.cpuUsage(cpu);
    samples.push({ latencyMs: watchers.answers[watchers.answers.length - 1]! - writtenAt, cpuMs: (used.user + used.system) / 1000 });
  }
  const cpuUnrelated = process.cpuUsage();
  for (let i = 0; i < 20; i++) await put(`/v1/kv/unwatched/${i}`, "x");
  const unrelatedMs = (process.cpuUsage(cpuUnrelated).user + process.cpuUsage(cpuUnrelated).system) / 1000 / 20;
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`  ${String(count).padStart(6)} watchers on ${count} keys: one write wakes its watcher in ${median(samples.map((s) => s.latencyMs)).toFixed(1)} ms (median of 20), server CPU ${median(samples.map((s) => s.cpuMs)).toFixed(2)} ms per write; an unwatched write ${unrelatedMs.toFixed(2)} ms CPU; RSS ${rssMiB.toFixed(0)} MiB (+${(rssMiB - rssBeforeMiB).toFixed(0)} MiB for the watchers)`);
  watchers.stop();
  await drained();
}

await throughput();
if (watcherCounts.length > 0) {
  console.log("\nBlocking queries (watchers held by another process over loopback HTTP):");
  for (const count of watcherCounts) {
    await wakeOneKey(count);
    await wakeManyKeys(count);
  }
}
await server.close();
