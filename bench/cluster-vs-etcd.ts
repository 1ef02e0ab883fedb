/**
 * KV requests/s of 3 Praetor servers (and a dev agent) beside a 3-node etcd, in the same run, with
 * the fsyncs each system made counted by strace (issues 11 and 12):
 *
 *   node --import tsx bench/cluster-vs-etcd.ts [--seconds 10] [--connections 64] [--keys 1000]
 *                                               [--target all|leader] [--no-strace] [--no-dev]
 *                                               [--phases put,get,consistent,stale] [--no-etcd]
 *                                               [--praetor-ips A,B,C] [--dev-ip D] [--etcd-ips E,F,G]
 *                                               [--node-args "--cpu-prof --cpu-prof-dir=DIR"]
 *
 * Praetor: `bin/praetor.mjs agent -server -bootstrap-expect 3` on 127.0.0.101-103 (built: run
 * `npm run build` first) with data dirs on disk, and `agent -dev` on 127.0.0.104. etcd: Debian's
 * `etcd` on 127.0.0.111-113 (each set movable with the --*-ips options, so runs beside other
 * agents on this machine do not collide), through its v3 HTTP gateway (POST /v3/kv/put, /v3/kv/range with
 * base64 JSON). Load: wrk, 64 connections split over the three nodes (`--target all`, each
 * node's share from its own wrk) or all on the leader. Phases, each Praetor then etcd:
 *   PUT                 PUT /v1/kv/bench/kN            POST /v3/kv/put
 *   GET default         GET /v1/kv/bench/kN            POST /v3/kv/range  (linearizable: etcd's default)
 *   GET ?consistent     GET /v1/kv/bench/kN?consistent POST /v3/kv/range  (linearizable)
 *   GET ?stale          GET /v1/kv/bench/kN?stale      POST /v3/kv/range  serializable: true
 * Every server runs under `strace -f -c --seccomp-bpf -e trace=fsync,fdatasync` (only those two
 * calls stop the process, so the tracing costs both systems the same little); the counts cover
 * the whole run (start-up and the read phases write nothing). Beside each figure: the servers'
 * CPU time per request (user + system from /proc, all three nodes), which a loaded machine
 * inflates far less than requests/s, and the load average.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { loadavg, tmpdir } from "node:os";
import * as path from "node:path";

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
};
const seconds = Number(option("seconds", "10"));
const connections = Number(option("connections", "64"));
const keys = Number(option("keys", "1000"));
const target = option("target", "all");
const traced = !args.includes("--no-strace");
const withDev = !args.includes("--no-dev");
const withEtcd = !args.includes("--no-etcd");
const phaseNames = option("phases", "put,get,consistent,stale").split(",");
const praetorIps = option("praetor-ips", "127.0.0.101,127.0.0.102,127.0.0.103").split(",");
const devIp = option("dev-ip", "127.0.0.104");
const etcdIps = option("etcd-ips", "127.0.0.111,127.0.0.112,127.0.0.113").split(",");
/** Extra node flags for the Praetor processes (a profiler's, say). */
const nodeArgs = option("node-args", "").split(" ").filter(Boolean);
const ipPattern = /^127(\.\d{1,3}){3}$/;
if (![...praetorIps, devIp, ...etcdIps].every((ip) => ipPattern.test(ip)) || praetorIps.length !== 3 || etcdIps.length !== 3) {
  throw new Error("usage: --praetor-ips and --etcd-ips take three loopback addresses, --dev-ip one");
}
if (!phaseNames.every((p) => ["put", "get", "consistent", "stale"].includes(p))) throw new Error("usage: --phases takes put,get,consistent,stale");
if (!(seconds > 0 && connections >= 3 && keys > 0) || !["all", "leader"].includes(target)) {
  throw new Error("usage: --seconds N>0 --connections N>=3 --keys N>0 --target all|leader");
}
for (const tool of ["wrk", ...(withEtcd ? ["etcd"] : []), ...(traced ? ["strace"] : [])]) {
  if (spawnSync("which", [tool]).status !== 0) throw new Error(`${tool} is not installed (Debian package ${tool === "etcd" ? "etcd-server" : tool})`);
}
const praetorBin = path.resolve("bin/praetor.mjs");
if (!fs.existsSync(path.resolve("dist/src/cli/main.js"))) throw new Error("dist/ is missing: run `npm run build` first");

const work = fs.mkdtempSync(path.join(tmpdir(), "praetor-vs-etcd-"));
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Server { readonly name: string; readonly ip: string; readonly http: string; readonly proc: ChildProcess; readonly straceOut: string | null }

function launch(name: string, ip: string, http: string, argv: readonly string[]): Server {
  const straceOut = traced ? path.join(work, `${name}.strace`) : null;
  const full = straceOut === null ? argv : ["strace", "-f", "-c", "--seccomp-bpf", "-e", "trace=fsync,fdatasync", "-o", straceOut, ...argv];
  const log = fs.openSync(path.join(work, `${name}.log`), "w");
  const proc = spawn(full[0]!, full.slice(1), { stdio: ["ignore", log, log] });
  children.push(proc);
  return { name, ip, http, proc, straceOut };
}

/** The traced program's pid (strace's child), or the process itself when not traced. */
function workerPid(s: Server): number {
  if (s.straceOut === null) return s.proc.pid!;
  const kids = fs.readFileSync(`/proc/${s.proc.pid}/task/${s.proc.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  if (kids.length === 0) throw new Error(`${s.name}: strace has no child`);
  return Number(kids[0]);
}

const ticksPerSecond = Number(spawnSync("getconf", ["CLK_TCK"]).stdout.toString().trim()) || 100;
/** User and system CPU seconds of `servers` so far (the kernel's share is mostly socket and disk syscalls). */
function cpuSeconds(servers: readonly Server[]): { user: number; system: number } {
  const total = { user: 0, system: 0 };
  for (const s of servers) {
    const stat = fs.readFileSync(`/proc/${workerPid(s)}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    total.user += Number(fields[11]) / ticksPerSecond; // utime
    total.system += Number(fields[12]) / ticksPerSecond; // stime
  }
  return total;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what} (logs in ${work})`);
}

// ---------------------------------------------------------------- the two clusters

const praetor = praetorIps.map((ip, i) => launch(`praetor-${i + 1}`, ip, `http://${ip}:8500`, [
  process.execPath, ...nodeArgs, praetorBin, "agent", "-server", "-bootstrap-expect", "3", "-node", `p${i + 1}`, "-bind", ip, "-client", ip,
  "-data-dir", path.join(work, `p${i + 1}`), "-log-level", "warn", ...praetorIps.filter((o) => o !== ip).flatMap((o) => ["-retry-join", o]),
]));
const initialCluster = etcdIps.map((ip, i) => `e${i + 1}=http://${ip}:2380`).join(",");
const etcd = !withEtcd ? [] : etcdIps.map((ip, i) => launch(`etcd-${i + 1}`, ip, `http://${ip}:2379`, [
  "etcd", "--name", `e${i + 1}`, "--data-dir", path.join(work, `e${i + 1}`),
  "--listen-client-urls", `http://${ip}:2379`, "--advertise-client-urls", `http://${ip}:2379`,
  "--listen-peer-urls", `http://${ip}:2380`, "--initial-advertise-peer-urls", `http://${ip}:2380`,
  "--initial-cluster", initialCluster, "--initial-cluster-state", "new", "--initial-cluster-token", "praetor-bench",
  "--log-level", "warn",
]));
const dev = withDev ? launch("praetor-dev", devIp, `http://${devIp}:8500`, [
  process.execPath, ...nodeArgs, praetorBin, "agent", "-dev", "-node", "dev", "-bind", devIp, "-client", devIp, "-log-level", "warn",
]) : null;

async function praetorLeader(): Promise<Server | null> {
  const leader = await (await fetch(`${praetor[0]!.http}/v1/status/leader`)).json() as string;
  return praetor.find((s) => leader === `${s.ip}:8300`) ?? null;
}

async function etcdLeader(): Promise<Server | null> {
  for (const s of etcd) {
    const status = await (await fetch(`${s.http}/v3/maintenance/status`, { method: "POST", body: "{}" })).json() as { leader?: string; header?: { member_id?: string } };
    if (status.leader !== undefined && status.leader === status.header?.member_id) return s;
  }
  return null;
}

// ---------------------------------------------------------------- load

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** A wrk script cycling over the keys; `bodies` null for body-less requests. */
function wrkScript(name: string, method: string, paths: readonly string[], bodies: readonly string[] | null): string {
  const file = path.join(work, `${name}.lua`);
  const lua = (xs: readonly string[]) => `{${xs.map((x) => JSON.stringify(x)).join(",")}}`;
  fs.writeFileSync(file, [
    `local paths = ${lua(paths)}`,
    `local bodies = ${bodies === null ? "nil" : lua(bodies)}`,
    "local n = math.random(#paths)",
    "request = function()",
    "  n = n % #paths + 1",
    `  return wrk.format("${method}", paths[n], bodies and {["Content-Type"] = "application/json"} or nil, bodies and bodies[n] or nil)`,
    "end",
    "",
  ].join("\n"));
  return file;
}

const range = Array.from({ length: keys }, (_, i) => i);
const scripts = {
  praetorPut: wrkScript("praetor-put", "PUT", range.map((i) => `/v1/kv/bench/k${i}`), range.map((i) => `value-${i}`)),
  praetorGet: wrkScript("praetor-get", "GET", range.map((i) => `/v1/kv/bench/k${i}`), null),
  praetorConsistent: wrkScript("praetor-consistent", "GET", range.map((i) => `/v1/kv/bench/k${i}?consistent`), null),
  praetorStale: wrkScript("praetor-stale", "GET", range.map((i) => `/v1/kv/bench/k${i}?stale`), null),
  etcdPut: wrkScript("etcd-put", "POST", range.map(() => "/v3/kv/put"), range.map((i) => JSON.stringify({ key: b64(`bench/k${i}`), value: b64(`value-${i}`) }))),
  etcdGet: wrkScript("etcd-get", "POST", range.map(() => "/v3/kv/range"), range.map((i) => JSON.stringify({ key: b64(`bench/k${i}`) }))),
  etcdSerializable: wrkScript("etcd-serializable", "POST", range.map(() => "/v3/kv/range"), range.map((i) => JSON.stringify({ key: b64(`bench/k${i}`), serializable: true }))),
};

interface WrkResult { requests: number; errors: number; p50Ms: number; p99Ms: number; maxMs: number }

function parseMs(text: string): number {
  const m = /([\d.]+)(us|ms|s)\b/.exec(text);
  if (m === null) return Number.NaN;
  return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
}

function runWrk(url: string, conns: number, script: string): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn("wrk", ["-t1", `-c${conns}`, `-d${seconds}s`, "--timeout", "10s", "--latency", "-s", script, url]);
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    proc.on("error", reject);
    proc.on("close", () => {
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = non2xx + (socket === null ? 0 : socket.slice(1).reduce((a, b) => a + Number(b), 0));
      const pct = (p: string) => parseMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out)?.[1] ?? "");
      const maxMs = parseMs(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? "");
      if (Number.isNaN(requests)) reject(new Error(`wrk on ${url} printed no result:\n${out}`));
      else resolve({ requests, errors, p50Ms: pct("50"), p99Ms: pct("99"), maxMs });
    });
  });
}

/** Writes keys 0..keys-1 through `put`, 16 at a time; any answer but 200 is an error. */
async function populate(put: (i: number) => Promise<Response>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < keys) {
      const i = next++;
      const res = await put(i);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`writing key ${i} answered ${res.status}`);
    }
  }));
}

interface Row { system: string; phase: string; rps: number; errors: number; p50Ms: number; p99Ms: number; maxMs: number; cpuMsPerRequest: number; systemMsPerRequest: number; load: string }

/** Drives `servers` (all, or the leader) with `connections` split between them; sums the wrk results. */
async function phase(system: string, phaseName: string, servers: readonly Server[], targets: readonly Server[], script: string): Promise<Row> {
  const load = loadavg().map((x) => x.toFixed(1)).join(" ");
  const cpuBefore = cpuSeconds(servers);
  const shares = targets.map((_, i) => Math.floor(connections / targets.length) + (i < connections % targets.length ? 1 : 0));
  const results = await Promise.all(targets.map((s, i) => runWrk(s.http, shares[i]!, script)));
  const cpuAfter = cpuSeconds(servers);
  const cpu = cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system;
  const systemCpu = cpuAfter.system - cpuBefore.system;
  const requests = results.reduce((a, r) => a + r.requests, 0);
  return {
    system, phase: phaseName, rps: requests / seconds, errors: results.reduce((a, r) => a + r.errors, 0),
    p50Ms: Math.max(...results.map((r) => r.p50Ms)), p99Ms: Math.max(...results.map((r) => r.p99Ms)), maxMs: Math.max(...results.map((r) => r.maxMs)),
    cpuMsPerRequest: requests === 0 ? Number.NaN : (cpu * 1000) / requests,
    systemMsPerRequest: requests === 0 ? Number.NaN : (systemCpu * 1000) / requests, load,
  };
}

function fsyncCounts(s: Server): { fsync: number; fdatasync: number } {
  const out = { fsync: 0, fdatasync: 0 };
  if (s.straceOut === null || !fs.existsSync(s.straceOut)) return out;
  for (const line of fs.readFileSync(s.straceOut, "utf8").split("\n")) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(fsync|fdatasync)\s*$/.exec(line);
    if (m !== null) out[m[2] as "fsync" | "fdatasync"] = Number(m[1]);
  }
  return out;
}

async function stop(servers: readonly Server[]): Promise<void> {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
    if (s.proc.exitCode !== null) return resolve();
    s.proc.once("exit", () => resolve());
    // SIGINT to the traced program; strace writes its summary when it exits.
    process.kill(workerPid(s), "SIGINT");
    setTimeout(() => s.proc.kill("SIGKILL"), 15_000).unref();
  })));
}

// ---------------------------------------------------------------- run

const rows: Row[] = [];
const acknowledgedPuts: Record<string, number> = {};
try {
  await waitFor("a Praetor leader", async () => (await praetorLeader()) !== null);
  if (withEtcd) await waitFor("an etcd leader", async () => (await etcdLeader()) !== null);
  if (dev !== null) await waitFor("the dev agent's leader", async () => (await (await fetch(`${dev.http}/v1/status/leader`)).json()) !== "");
  // The clusters settle (Praetor's leader reconciles its members, etcd its lease) before the load.
  await sleep(3_000);
  const pLeader = (await praetorLeader())!;
  const eLeader = withEtcd ? (await etcdLeader())! : null;
  const pTargets = target === "all" ? praetor : [pLeader];
  const eTargets = target === "all" || eLeader === null ? etcd : [eLeader];
  console.log(`bench/cluster-vs-etcd: ${seconds} s per phase, ${connections} connections (${target === "all" ? "split over the 3 nodes" : "on the leader"}), ${keys} keys; ` +
    `Praetor leader ${pLeader.ip}, etcd leader ${eLeader?.ip ?? "(not run)"}; node ${process.version}; load ${loadavg().map((x) => x.toFixed(2)).join(" ")}; work dir ${work}`);
  const plan = ([
    ["put", "PUT", scripts.praetorPut, scripts.etcdPut],
    ["get", "GET default / linearizable", scripts.praetorGet, scripts.etcdGet],
    ["consistent", "GET ?consistent / linearizable", scripts.praetorConsistent, scripts.etcdGet],
    ["stale", "GET ?stale / serializable", scripts.praetorStale, scripts.etcdSerializable],
  ] as const).filter(([key]) => phaseNames.includes(key)).map(([, ...rest]) => rest);
  for (const [name, pScript, eScript] of plan) {
    rows.push(await phase("praetor 3 servers", name, praetor, pTargets, pScript));
    if (dev !== null) rows.push(await phase("praetor dev agent", name, [dev], [dev], pScript));
    if (eLeader !== null) rows.push(await phase("etcd 3 members", name, etcd, eTargets, eScript));
    if (name === "PUT") {
      // The keys written before the reads below are acknowledged PUTs too (and synced like the others).
      for (const r of rows) acknowledgedPuts[r.system] = Math.round(r.rps * seconds - r.errors) + keys;
      // Every key exists before the reads (a PUT phase on a slow machine may not reach them all): a read answers 200, not 404.
      await populate((i) => fetch(`${pLeader.http}/v1/kv/bench/k${i}`, { method: "PUT", body: `value-${i}` }));
      if (dev !== null) await populate((i) => fetch(`${dev.http}/v1/kv/bench/k${i}`, { method: "PUT", body: `value-${i}` }));
      if (eLeader !== null) await populate((i) => fetch(`${eLeader.http}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: b64(`bench/k${i}`), value: b64(`value-${i}`) }) }));
    }
  }
} finally {
  await stop([...praetor, ...etcd, ...(dev === null ? [] : [dev])]).catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
}

const pad = (s: string, n: number) => s.padEnd(n);
const num = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : "-");
console.log(`\n${pad("phase", 32)}${pad("system", 20)}${"req/s".padStart(8)}${"ratio".padStart(7)}${"p50 ms".padStart(8)}${"p99 ms".padStart(8)}${"max ms".padStart(8)}${"errors".padStart(7)}${"CPU ms/req".padStart(11)}${"of it sys".padStart(10)}  load (1/5/15 min)`);
for (const r of rows) {
  const etcdRow = rows.find((x) => x.phase === r.phase && x.system.startsWith("etcd"));
  const ratio = etcdRow === undefined || r === etcdRow ? "" : `${(r.rps / etcdRow.rps).toFixed(2)}x`;
  console.log(`${pad(r.phase, 32)}${pad(r.system, 20)}${num(r.rps).padStart(8)}${ratio.padStart(7)}${num(r.p50Ms, 1).padStart(8)}${num(r.p99Ms, 1).padStart(8)}${num(r.maxMs, 0).padStart(8)}${String(r.errors).padStart(7)}${num(r.cpuMsPerRequest, 2).padStart(11)}${num(r.systemMsPerRequest, 2).padStart(10)}  ${r.load}`);
}
if (traced) {
  console.log(`\nfsyncs over the whole run (strace -f -c --seccomp-bpf -e trace=fsync,fdatasync), and per acknowledged PUT (the PUT phase's and the ${keys} keys written before the reads):`);
  for (const [system, servers] of [["praetor 3 servers", praetor], ["etcd 3 members", etcd], ...(dev === null ? [] : [["praetor dev agent", [dev]]])] as [string, Server[]][]) {
    const counts = servers.map((s) => ({ name: s.name, ...fsyncCounts(s) }));
    const total = counts.reduce((a, c) => a + c.fsync + c.fdatasync, 0);
    const puts = acknowledgedPuts[system] ?? 0;
    console.log(`  ${pad(system, 20)} ${counts.map((c) => `${c.name} fsync ${c.fsync} fdatasync ${c.fdatasync}`).join("; ")}; ` +
      `total ${total} for ${puts} acknowledged PUTs (${puts > 0 ? (total / puts).toFixed(3) : "-"} per PUT)`);
  }
}
console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}; logs and strace files in ${work}`);
