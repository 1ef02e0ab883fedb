/**
 * Whole agents as separate processes on loopback, as an operator runs them: three servers with
 * -bootstrap-expect 3 and a client form a cluster; the leader killed with SIGKILL is replaced and
 * no acknowledged write is lost; the killed server restarts from its data and catches up; a full
 * restart of every server keeps every key; a client killed with SIGKILL turns failed with
 * serfHealth critical; a client that leaves turns left and its node leaves the catalog.
 */
import test from "ava";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const main = path.join(root, "src/cli/main.ts");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-cluster-"));
// Addresses no other test binds, so the default ports are free on them.
const ip = (i: number) => `127.0.0.${20 + i}`;
const fastConfig = path.join(work, "fast.json");
fs.writeFileSync(fastConfig, JSON.stringify({ performance: { raft_multiplier: 1 }, log_level: "debug" }));

const procs = new Map<string, ChildProcess>();
const logs = new Map<string, string[]>();

function start(name: string, i: number, args: string[]): void {
  const child = spawn(process.execPath, ["--import", "tsx", main, "agent", "-node", name, "-bind", ip(i), "-client", ip(i),
    "-data-dir", path.join(work, name), "-config-file", fastConfig, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = logs.get(name) ?? [];
  logs.set(name, lines);
  child.stdout!.on("data", (d: Buffer) => lines.push(d.toString()));
  child.stderr!.on("data", (d: Buffer) => lines.push(d.toString()));
  procs.set(name, child);
}

const server = (name: string, i: number) => start(name, i, ["-server", "-bootstrap-expect", "3", "-retry-join", ip(1), "-retry-join", ip(2)]);
const client = (name: string, i: number) => start(name, i, ["-retry-join", ip(1), "-retry-join", ip(2)]);

function kill9(name: string): Promise<void> {
  const child = procs.get(name)!;
  procs.delete(name);
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

async function http(i: number, p: string, init?: RequestInit): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(`http://${ip(i)}:8500${p}`, { ...init, signal: AbortSignal.timeout(15_000) });
    return { status: res.status, text: await res.text() };
  } catch (error) {
    return { status: 0, text: String((error as Error).cause ?? error) };
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const leaderOf = async (i: number) => {
  const r = await http(i, "/v1/status/leader");
  return r.status === 200 && r.text !== '""' ? (JSON.parse(r.text) as string) : null;
};

async function memberStatus(i: number, name: string): Promise<number | null> {
  const r = await http(i, "/v1/agent/members");
  if (r.status !== 200) return null;
  return (JSON.parse(r.text) as { Name: string; Status: number }[]).find((m) => m.Name === name)?.Status ?? null;
}

test.after.always(async () => {
  await Promise.all([...procs.keys()].map(kill9));
  fs.rmSync(work, { recursive: true, force: true });
});

test.serial("three servers and a client form a cluster, survive a leader's SIGKILL, a restart and a full restart", async (t) => {
  t.timeout(300_000);
  server("s1", 1);
  server("s2", 2);
  server("s3", 3);
  client("c1", 4);
  const startedMs = Date.now();
  const leader = await until("a leader", 60_000, () => leaderOf(1));
  t.log(`first leader after ${Date.now() - startedMs} ms`);
  t.regex(leader, /^127\.0\.0\.2[123]:8300$/);
  const peers = JSON.parse((await http(1, "/v1/status/peers")).text) as string[];
  t.deepEqual(peers.sort(), [`${ip(1)}:8300`, `${ip(2)}:8300`, `${ip(3)}:8300`]);
  await until("4 alive members seen by the client", 30_000, async () => {
    const r = await http(4, "/v1/agent/members");
    return r.status === 200 && (JSON.parse(r.text) as { Status: number }[]).filter((m) => m.Status === 1).length === 4;
  });

  // The leader registers each server as an instance of the `consul` service on its RPC port.
  const consulInstances = await until("the consul service on 3 servers", 30_000, async () => {
    const r = await http(4, "/v1/catalog/service/consul");
    const instances = r.status === 200 ? (JSON.parse(r.text) as { Node: string; ServicePort: number }[]) : [];
    return instances.length === 3 ? instances : null;
  });
  t.deepEqual(consulInstances.map((i) => `${i.Node}:${i.ServicePort}`).sort(), ["s1:8300", "s2:8300", "s3:8300"]);

  // Writes through the client are forwarded to a server, then to the leader.
  for (let k = 0; k < 30; k++) {
    const r = await http(4, `/v1/kv/cluster/k${k}`, { method: "PUT", body: `v${k}` });
    t.is(r.text, "true", `write k${k} acknowledged (status ${r.status} ${r.text})`);
  }

  const li = Number(leader.split(":")[0]!.split(".")[3]) - 20;
  await kill9(`s${li}`);
  const other = li === 1 ? 2 : 1;
  const killedMs = Date.now();
  const next = await until("a new leader", 30_000, async () => {
    const l = await leaderOf(other);
    return l !== null && l !== leader ? l : null;
  });
  t.not(next, leader);
  t.log(`new leader ${Date.now() - killedMs} ms after the SIGKILL`);
  for (let k = 0; k < 30; k++) {
    const r = await http(other, `/v1/kv/cluster/k${k}?raw&consistent`);
    t.is(r.text, `v${k}`, `k${k} survives the leader's SIGKILL`);
  }
  t.is((await http(4, "/v1/kv/cluster/after", { method: "PUT", body: "after" })).text, "true");

  server(`s${li}`, li);
  await until("the restarted server catches up", 30_000, async () => (await http(li, "/v1/kv/cluster/after?raw&stale")).text === "after");

  // Every server SIGKILLed at once, then restarted from its data dir.
  await Promise.all([kill9("s1"), kill9("s2"), kill9("s3")]);
  server("s1", 1);
  server("s2", 2);
  server("s3", 3);
  await until("a leader after the full restart", 60_000, () => leaderOf(1));
  for (let k = 0; k < 30; k++) {
    const r = await until(`k${k} after the full restart`, 20_000, async () => {
      const res = await http(2, `/v1/kv/cluster/k${k}?raw`);
      return res.status === 200 ? res : null;
    });
    t.is(r.text, `v${k}`);
  }
  t.is((await http(3, "/v1/kv/cluster/after?raw")).text, "after");
});

test.serial("a killed client turns failed with serfHealth critical; a client that leaves is left and leaves the catalog", async (t) => {
  t.timeout(120_000);
  await until("c1 in the catalog", 30_000, async () => (await http(1, "/v1/catalog/nodes")).text.includes('"c1"'));
  await kill9("c1");
  await until("c1 failed", 30_000, async () => (await memberStatus(1, "c1")) === 4);
  const health = await until("c1's serfHealth critical", 20_000, async () => {
    const r = await http(1, "/v1/health/node/c1");
    return r.text.includes('"critical"') ? r.text : null;
  });
  t.true(health.includes("Agent not live or unreachable"));

  client("c2", 5);
  await until("c2 alive", 30_000, async () => (await memberStatus(1, "c2")) === 1);
  await until("c2 in the catalog", 30_000, async () => (await http(1, "/v1/catalog/nodes")).text.includes('"c2"'));
  await until("c2's HTTP API", 30_000, async () => (await http(5, "/v1/agent/self")).status === 200);
  const left = await http(5, "/v1/agent/leave", { method: "PUT" });
  t.is(left.status, 200, left.text);
  await until("c2 left", 30_000, async () => (await memberStatus(1, "c2")) === 3);
  await until("c2 out of the catalog", 30_000, async () => !(await http(1, "/v1/catalog/nodes")).text.includes('"c2"'));
  const exited = procs.get("c2")!;
  await until("c2's process exits after leaving", 15_000, async () => exited.exitCode !== null);
  t.is(exited.exitCode, 0);
  procs.delete("c2");
});
