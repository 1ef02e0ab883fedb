/**
 * DNS queries per second for A and SRV questions against Praetor's DNS server (over the real
 * catalog), measured with Debian's `dnsperf` (4 clients), beside `unbound` serving a static zone of
 * the same names and records in the same run. Without dnsperf it falls back to a Node client in
 * this process (which shares the CPU with the server, so it reads low); without unbound it prints
 * Praetor's figures alone. A Node UDP echo server (each query sent back as its own answer) shows
 * what the socket layer alone costs in this runtime.
 *
 * Praetor serves as a server agent does (answers cached, kept fresh by blocking reads), over the
 * native UDP fast path when it is built (src/dns/native.ts) unless `--udp-path js`; the path used
 * is printed, with how many answers the native thread gave and how many it handed to JavaScript. On a
 * shared machine the load moves between runs, so each type is measured in `--rounds` alternating
 * Praetor/unbound pairs, and the ratio of each pair is printed with their median.
 *
 *   node --import tsx bench/dns.ts [--seconds 5] [--rounds 3] [--clients 4] [--instances 3] [--unbound-threads 1] [--udp-path native|js]
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import dnsPacket from "dns-packet";
import { CatalogBackend } from "../test/dns/harness.ts";
import { defaultDnsConfig } from "../src/dns/config.ts";
import { createDnsHandler } from "../src/dns/handler.ts";
import { startDnsServer } from "../src/dns/server.ts";

const run = promisify(execFile);

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const seconds = argument("seconds", 5);
const rounds = argument("rounds", 3);
const clients = argument("clients", 4);
const instances = argument("instances", 3);
const unboundThreads = argument("unbound-threads", 1);
const udpPathAt = process.argv.indexOf("--udp-path");
const udpPath = udpPathAt >= 0 && process.argv[udpPathAt + 1] === "js" ? "js" : "native";

interface Instance {
  readonly node: string;
  readonly address: string;
  readonly port: number;
}

const web: Instance[] = Array.from({ length: instances }, (_, i) => ({ node: `web-${i + 1}`, address: `10.0.1.${i + 1}`, port: 8080 }));

function catalog(): CatalogBackend {
  const backend = new CatalogBackend("dc1", "server-1");
  backend.node("server-1", "10.0.0.1");
  backend.service("server-1", { ID: "consul", Service: "consul", Port: 8300 });
  for (const instance of web) {
    backend.node(instance.node, instance.address);
    backend.service(instance.node, { ID: "web", Service: "web", Tags: ["v1"], Port: instance.port });
  }
  return backend;
}

/** The same names as a static unbound zone: A and SRV answers, the SRV targets' A and TXT records. */
function unboundConfig(dir: string, port: number): string {
  const data = [
    ...web.map((i) => `web.service.consul. 0 IN A ${i.address}`),
    ...web.map((i) => `web.service.consul. 0 IN SRV 1 1 ${i.port} ${i.node}.node.dc1.consul.`),
    ...web.map((i) => `${i.node}.node.dc1.consul. 0 IN A ${i.address}`),
    ...web.map((i) => `${i.node}.node.dc1.consul. 0 IN TXT "consul-network-segment="`),
  ];
  return [
    "server:",
    `  interface: 127.0.0.1@${port}`,
    `  num-threads: ${unboundThreads}`,
    "  do-daemonize: no", "  chroot: \"\"", "  username: \"\"", `  directory: "${dir}"`, `  pidfile: "${dir}/unbound.pid"`,
    "  use-syslog: no", "  verbosity: 0", "  do-ip6: no", "  access-control: 127.0.0.0/8 allow",
    "  local-zone: \"consul.\" static",
    ...data.map((line) => `  local-data: '${line}'`),
    "",
  ].join("\n");
}

async function have(tool: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

interface Measured {
  readonly qps: number;
  readonly completed: number;
  readonly lost: number;
}

async function dnsperf(port: number, question: string, dir: string): Promise<Measured> {
  const file = join(dir, `${question.replace(/\W/g, "_")}.txt`);
  writeFileSync(file, `${question}\n`);
  const { stdout } = await run("dnsperf", ["-s", "127.0.0.1", "-p", String(port), "-d", file, "-c", String(clients), "-l", String(seconds), "-q", "200"], { timeout: (seconds + 30) * 1000 });
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1]);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const completed = Number(/Queries completed:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  return { qps, completed, lost };
}

/** Fallback: `inFlight` outstanding queries per socket from this process. */
async function nodeClient(port: number, name: string, type: "A" | "SRV"): Promise<Measured> {
  const sockets = Array.from({ length: clients }, () => dgram.createSocket("udp4"));
  const inFlight = 50;
  let answered = 0;
  let id = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => {
    const send = (): void => {
      if (Date.now() >= deadline) return resolve();
      socket.send(dnsPacket.encode({ id: id++ & 0xffff, type: "query", questions: [{ name, type }] }), port, "127.0.0.1");
    };
    socket.on("message", () => {
      answered++;
      send();
    });
    for (let i = 0; i < inFlight; i++) send();
  })));
  for (const socket of sockets) socket.close();
  return { qps: answered / seconds, completed: answered, lost: 0 };
}

/**
 * CPU time (user + system, µs) a server spent: this process for Praetor, /proc for unbound. On a
 * shared machine throughput follows the scheduler; CPU per answer does not, so both are printed.
 */
function cpuMicros(pid: number | null): number {
  if (pid === null) {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  }
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * (1_000_000 / 100); // utime, stime in USER_HZ ticks
}

async function measured(pid: number | null, work: () => Promise<Measured>): Promise<{ line: string; qps: number; usPerQuery: number }> {
  const before = cpuMicros(pid);
  const result = await work();
  const usPerQuery = (cpuMicros(pid) - before) / Math.max(1, result.completed);
  return { line: `${result.qps.toFixed(0).padStart(7)} q/s, ${usPerQuery.toFixed(1).padStart(5)} µs CPU/answer (lost ${result.lost})`, qps: result.qps, usPerQuery };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function startUnbound(dir: string): Promise<{ port: number; child: ChildProcess } | null> {
  if (!(await have("unbound"))) return null;
  const port = await freePort();
  const config = join(dir, "unbound.conf");
  writeFileSync(config, unboundConfig(dir, port));
  const child = spawn("unbound", ["-d", "-c", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  for (let attempt = 0; attempt < 50; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      const { stdout } = await run("dig", ["@127.0.0.1", "-p", String(port), "+short", "+time=1", "+tries=1", "web.service.consul"]);
      if (stdout.includes(web[0]!.address)) return { port, child };
    } catch {
      // not up yet
    }
  }
  child.kill();
  throw new Error(`unbound did not answer on port ${port}: ${stderr}`);
}

/** The floor of any Node DNS server: a UDP socket that sends each query back flagged as a response. */
async function startEcho(): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  socket.on("message", (message, remote) => {
    const answer = Buffer.from(message);
    answer[2] = answer[2]! | 0x80;
    socket.send(answer, remote.port, remote.address);
  });
  return socket;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "praetor-dns-bench-"));
  // As on a server agent: the catalog is local, so answers are cached and kept fresh by blocking reads.
  const handler = createDnsHandler(catalog().asBackend(), defaultDnsConfig(), { readsAreLocal: true });
  const server = await startDnsServer({ host: "127.0.0.1", port: 0, handler, udpPath, logger: { info: (m) => console.log(m), warn: (m) => console.warn(m) } });
  const useDnsperf = await have("dnsperf");
  const measure = (port: number, name: string, type: "A" | "SRV") => (useDnsperf ? dnsperf(port, `${name} ${type}`, dir) : nodeClient(port, name, type));
  const unbound = await startUnbound(dir);
  try {
    console.log(`Praetor's UDP path: ${server.udpPath === "native" ? "native (C addon: recvmmsg/sendmmsg thread, misses to JavaScript)" : "JavaScript (node:dgram)"}`);
    console.log(`DNS bench: ${useDnsperf ? `dnsperf, ${clients} clients` : `Node client, ${clients} sockets x 50 in flight (dnsperf not installed)`}, ${seconds} s per run, ${rounds} rounds, web.service.consul with ${instances} instances`);
    const label = `unbound (${unboundThreads} thread${unboundThreads === 1 ? "" : "s"}, static zone)`;
    const ratios = new Map<string, number[]>();
    const cpuRatios = new Map<string, number[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const type of ["A", "SRV"] as const) {
        const praetor = await measured(null, () => measure(server.udpPort, "web.service.consul", type));
        console.log(`${type.padEnd(3)} #${round} praetor                             ${praetor.line}`);
        if (unbound === null) continue;
        const reference = await measured(unbound.child.pid ?? null, () => measure(unbound.port, "web.service.consul", type));
        const ratio = praetor.qps / reference.qps;
        ratios.set(type, [...(ratios.get(type) ?? []), ratio]);
        cpuRatios.set(type, [...(cpuRatios.get(type) ?? []), praetor.usPerQuery / reference.usPerQuery]);
        console.log(`${type.padEnd(3)} #${round} ${label.padEnd(35)} ${reference.line}   praetor/unbound ${ratio.toFixed(2)}`);
      }
    }
    const stats = server.nativeStats();
    if (stats !== null) console.log(`native path: ${stats.answered} answered in C, ${stats.handedToJs} handed to JavaScript, ${stats.handoffDrops} dropped waiting for JavaScript, ${stats.sendErrors} send errors`);
    for (const [type, list] of ratios) {
      const cpu = cpuRatios.get(type)!;
      console.log(`${type.padEnd(3)} praetor/unbound: median ${median(list).toFixed(2)} (${list.map((r) => r.toFixed(2)).join(", ")}); CPU per answer praetor/unbound: median ${median(cpu).toFixed(2)}`);
    }
    // A question no cache holds (NXDOMAIN): the full handler each time, so this is the path's cost for misses.
    console.log(`       praetor, uncached (NXDOMAIN)         ${(await measured(null, () => measure(server.udpPort, "nope.service.consul", "A"))).line}`);
    const echo = await startEcho();
    console.log(`       node UDP echo (the floor)           ${(await measured(null, () => measure(echo.address().port, "web.service.consul", "A"))).line}`);
    echo.close();
    if (unbound === null) console.log("unbound not installed: no reference figures (apt-get install unbound)");
  } finally {
    unbound?.child.kill();
    await server.close();
    handler.close(); // its blocking reads would hold the process for their 10-minute wait
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
