/**
 * Praetor's gossip beside Debian's `serf agent`, in the same run on loopback: a pool of N serf agents
 * and a pool of N Praetor members (each its own `gossip-node` process), both with their defaults.
 * tcpdump counts every packet and payload byte of each pool (each on its own loopback address and
 * port range); /proc gives each process's CPU and memory; then one member of each pool is killed
 * with SIGKILL and the time until a peer reports it failed is taken.
 *
 *   node --import tsx bench/gossip-vs-serf.ts [--nodes 20] [--window-s 60] [--warmup-s 15] [--node-flags "--max-semi-space-size=1"]
 *     [--serf-host 127.0.2.1] [--praetor-host 127.0.3.1]
 *
 * Memory per member is printed four ways, because RSS alone overstates what N members cost: every
 * process on the machine maps the same node (or serf) binary, and those file-backed pages count in
 * each one's RSS but exist once. PSS divides each shared page among the processes that map it, USS
 * is the pages only this process holds (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup),
 * and RssAnon is its anonymous memory (heap, stacks): what one more member really adds.
 *
 * Members run compiled, as the agent ships (dist/, from `npm run build`); `--node-flags` are passed
 * to each member's node. A bare `node -e "setInterval(()=>{},1000)"` runs beside them: its RSS is
 * the floor any Node process starts from, printed next to ours.
 *
 * CPU depends on how long the members have run: for its first minutes a Node process spends a good
 * part of its CPU in V8's optimizing compiler (TurboFan, on a background thread) working through the
 * functions that turn hot one after another, a cost serf's Go binary never pays. With the default
 * 15 s warm-up the window sees that start-up; `--warmup-s 240` measures a member's steady state.
 *
 * Needs serf and tcpdump (apt-get install serf tcpdump) and the right to capture on lo.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const n = Number(arg("nodes", "20"));
// A whole push/pull period at N=50 (memberlist scales 30 s by 2 above 32 members): members started
// together push/pull in phase, so a shorter window can miss one pool's push/pulls altogether.
const windowS = Number(arg("window-s", "60"));
const warmupS = Number(arg("warmup-s", "15"));
const serfHost = arg("serf-host", "127.0.2.1");
const praetorHost = arg("praetor-host", "127.0.3.1");
const serfPortBase = 21000;
const serfRpcBase = 23000;
const praetorPortBase = 22000;
const nodeFlags = arg("node-flags", "").split(" ").filter(Boolean);
const memberEntry = "dist/src/cli/gossip-node.js";
if (!existsSync(memberEntry)) {
  console.error(`${memberEntry} is missing: run npm run build first (members run compiled, as the agent ships)`);
  process.exit(2);
}
const procs: ChildProcess[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cleanup(): void {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
}
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));

function startSerf(i: number): ChildProcess {
  const p = spawn("serf", ["agent", "-node", `serf${i}`, "-bind", `${serfHost}:${serfPortBase + i}`, "-rpc-addr", `${serfHost}:${serfRpcBase + i}`,
    // -retry-join: all start at once, and serf exits when a plain -join finds serf0 not yet listening.
    ...(i > 0 ? ["-retry-join", `${serfHost}:${serfPortBase}`, "-retry-interval", "1s"] : [])], { stdio: "ignore" });
  procs.push(p);
  return p;
}

const praetorOut = new Map<number, string[]>();
const praetorListening = new Set<number>();
function startPraetor(i: number): ChildProcess {
  const p = spawn(process.execPath, [...nodeFlags, memberEntry, "--name", `p${i}`, "--bind", `${praetorHost}:${praetorPortBase + i}`,
    ...(i > 0 ? ["--join", `${praetorHost}:${praetorPortBase}`] : [])], { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  praetorOut.set(i, lines);
  p.stdout!.on("data", (d: Buffer) => lines.push(...d.toString().split("\n").filter(Boolean)));
  p.stderr!.on("data", (d: Buffer) => {
    if (d.toString().includes("listening on")) praetorListening.add(i);
  });
  procs.push(p);
  return p;
}

async function serfMembers(i: number): Promise<{ name: string; status: string }[]> {
  const { stdout } = await execFileAsync("serf", ["members", "-rpc-addr", `${serfHost}:${serfRpcBase + i}`, "-format", "json"]);
  return (JSON.parse(stdout) as { members: { name: string; status: string }[] }).members;
}

function praetorAlive(i: number): number {
  const alive = new Set<string>([`p${i}`]);
  for (const l of praetorOut.get(i) ?? []) {
    const e = JSON.parse(l) as { event: string; name: string };
    if (e.event === "member-join") alive.add(e.name);
    if (e.event === "member-failed" || e.event === "member-leave") alive.delete(e.name);
  }
  return alive.size;
}

/** utime+stime in ms, from /proc. */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Memory { rssBytes: number; pssBytes: number; ussBytes: number; rssAnonBytes: number }

/** RSS, PSS and USS from smaps_rollup, RssAnon from status; all in bytes. */
function memoryOf(pid: number): Memory {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (text: string, field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    if (m === null) throw new Error(`/proc/${pid}: no ${field}`);
    return Number(m[1]) * 1024;
  };
  return {
    rssBytes: kb(rollup, "Rss"), pssBytes: kb(rollup, "Pss"),
    ussBytes: kb(rollup, "Private_Clean") + kb(rollup, "Private_Dirty"),
    rssAnonBytes: kb(readFileSync(`/proc/${pid}/status`, "utf8"), "RssAnon"),
  };
}

function capture(host: string, portFrom: number, portTo: number): { stop: () => Promise<{ packets: number; udpBytes: number; tcpBytes: number; udpPackets: number; tcpPackets: number; tcpStreams: number }> } {
  const p = spawn("tcpdump", ["-i", "lo", "-nn", "-l", `host ${host} and portrange ${portFrom}-${portTo}`], { stdio: ["ignore", "pipe", "ignore"] });
  procs.push(p);
  const totals = { packets: 0, udpBytes: 0, tcpBytes: 0, udpPackets: 0, tcpPackets: 0, tcpStreams: 0 };
  let rest = "";
  p.stdout!.on("data", (d: Buffer) => {
    const text = rest + d.toString();
    const lines = text.split("\n");
    rest = lines.pop()!;
    for (const l of lines) {
      const udp = /UDP, length (\d+)/.exec(l);
      const tcp = /: Flags \[([^\]]*)\].* length (\d+)/.exec(l);
      if (udp) {
        totals.udpPackets++;
        totals.udpBytes += Number(udp[1]);
      } else if (tcp) {
        totals.tcpPackets++;
        totals.tcpBytes += Number(tcp[2]);
        if (tcp[1] === "S") totals.tcpStreams++;
      } else continue;
      totals.packets++;
    }
  });
  return {
    stop: async () => {
      p.kill("SIGINT");
      await sleep(500);
      return totals;
    },
  };
}

async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await Promise.resolve().then(probe).catch(() => false)) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(250);
  }
}

console.log(`gossip vs serf on loopback: N=${n} each, ${warmupS} s warm-up, ${windowS} s window; members: node ${[...nodeFlags, memberEntry].join(" ")}`);
const bareNode = spawn(process.execPath, [...nodeFlags, "-e", "setInterval(()=>{},1000)"], { stdio: "ignore" });
procs.push(bareNode);
const serfs = Array.from({ length: n }, (_, i) => {
  const p = startSerf(i);
  return p;
});
const praetors: ChildProcess[] = [startPraetor(0)];
await waitFor("p0 listening", () => praetorListening.has(0), 60_000);
// Started in batches, each once the previous one listens: on a loaded machine 50 loaders at once
// take longer than a join's 10 s TCP timeout (a failed join is not retried by gossip-node).
for (let batch = 1; batch < n; batch += 10) {
  const ids = Array.from({ length: Math.min(10, n - batch) }, (_, k) => batch + k);
  for (const i of ids) praetors.push(startPraetor(i));
  await waitFor(`p${ids[0]}..p${ids[ids.length - 1]} listening`, () => ids.every((i) => praetorListening.has(i)), 120_000);
}
await waitFor("serf pool formed", async () => (await serfMembers(0)).filter((m) => m.status === "alive").length === n, 120_000);
await waitFor("Praetor pool formed", () => praetorAlive(0) === n && praetorAlive(n - 1) === n, 300_000);
console.log("both pools formed; warming up");
await sleep(warmupS * 1000);

const serfCap = capture(serfHost, serfPortBase, serfPortBase + 999);
const praetorCap = capture(praetorHost, praetorPortBase, praetorPortBase + 999);
const before = { serf: serfs.map((p) => cpuMsOf(p.pid!)), praetor: praetors.map((p) => cpuMsOf(p.pid!)) };
await sleep(windowS * 1000);
const after = { serf: serfs.map((p) => cpuMsOf(p.pid!)), praetor: praetors.map((p) => cpuMsOf(p.pid!)) };
const traffic = { serf: await serfCap.stop(), praetor: await praetorCap.stop() };
// Read while both pools run: PSS depends on how many processes share each page.
const memory = { serf: serfs.map((p) => memoryOf(p.pid!)), praetor: praetors.map((p) => memoryOf(p.pid!)) };

function row(name: string, t: typeof traffic.serf, b: number[], a: number[], mem: Memory[]): Record<string, number> {
  const per = (x: number): number => x / n / windowS;
  const cpuMs = a.reduce((sum, u, i) => sum + u - b[i]!, 0);
  const mb = (pick: (m: Memory) => number): number => Number((mem.reduce((sum, m) => sum + pick(m), 0) / n / 1e6).toFixed(1));
  const r = {
    udpBytesPerMemberPerSec: Math.round(per(t.udpBytes)), tcpBytesPerMemberPerSec: Math.round(per(t.tcpBytes)),
    totalBytesPerMemberPerSec: Math.round(per(t.udpBytes + t.tcpBytes)),
    udpPacketsPerMemberPerSec: Number(per(t.udpPackets).toFixed(2)), tcpPacketsPerMemberPerSec: Number(per(t.tcpPackets).toFixed(2)),
    tcpStreamsPerMemberPerMin: Number((per(t.tcpStreams) * 60).toFixed(2)),
    rssMbPerMember: mb((m) => m.rssBytes), pssMbPerMember: mb((m) => m.pssBytes), ussMbPerMember: mb((m) => m.ussBytes),
    rssAnonMbPerMember: mb((m) => m.rssAnonBytes),
    cpuPercentPerMember: Number(((cpuMs / n / (windowS * 1000)) * 100).toFixed(2)),
  };
  console.log(`${name.padEnd(8)} ${JSON.stringify(r)}`);
  return r;
}
const s = row("serf", traffic.serf, before.serf, after.serf, memory.serf);
const p = row("praetor", traffic.praetor, before.praetor, after.praetor, memory.praetor);
const ratio = (key: keyof typeof p): string => (p[key]! / Math.max(1e-9, s[key]!)).toFixed(2);
console.log(`ratios praetor/serf: total bytes x${ratio("totalBytesPerMemberPerSec")}, udp x${ratio("udpBytesPerMemberPerSec")}, ` +
  `tcp x${ratio("tcpBytesPerMemberPerSec")}, packets x${((p.udpPacketsPerMemberPerSec! + p.tcpPacketsPerMemberPerSec!) / (s.udpPacketsPerMemberPerSec! + s.tcpPacketsPerMemberPerSec!)).toFixed(2)}, ` +
  `RSS x${ratio("rssMbPerMember")}, PSS x${ratio("pssMbPerMember")}, USS x${ratio("ussMbPerMember")}, RssAnon x${ratio("rssAnonMbPerMember")}, CPU x${ratio("cpuPercentPerMember")}`);

const floor = memoryOf(bareNode.pid!);
console.log(`bare node floor (node ${[...nodeFlags, "-e", "setInterval(()=>{},1000)"].join(" ")}): RSS ${(floor.rssBytes / 1e6).toFixed(1)} MB, ` +
  `PSS ${(floor.pssBytes / 1e6).toFixed(1)} MB, USS ${(floor.ussBytes / 1e6).toFixed(1)} MB, RssAnon ${(floor.rssAnonBytes / 1e6).toFixed(1)} MB`);

// Detection of a kill -9: the last member of each pool, as seen by member 0.
serfs[n - 1]!.kill("SIGKILL");
praetors[n - 1]!.kill("SIGKILL");
const [serfDetectMs, praetorDetectMs] = await Promise.all([
  waitFor("serf to mark the killed agent failed", async () => (await serfMembers(0)).some((m) => m.name === `serf${n - 1}` && m.status === "failed"), 60_000),
  waitFor("Praetor to mark the killed member failed", () => (praetorOut.get(0) ?? []).some((l) => l.includes("member-failed") && l.includes(`"p${n - 1}"`)), 60_000),
]);
console.log(`kill -9 detected: serf ${(serfDetectMs / 1000).toFixed(1)} s, praetor ${(praetorDetectMs / 1000).toFixed(1)} s (polled every 0.25 s)`);
cleanup();
process.exit(0);
