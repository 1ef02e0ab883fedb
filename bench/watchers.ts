/**
 * Blocking-query watchers on a real agent (Raft, catalog, HTTP on real sockets), each in its own
 * process: a `-dev` server on 127.0.0.93, optionally client agents (127.0.0.94-96, 127.0.1.241-) that
 * forward their watchers' queries to it over RPC, and watcher processes that hold one HTTP
 * connection per watcher from their own loopback source address (127.0.1.x), so neither the
 * ephemeral port range nor one process's file-descriptor limit caps the count.
 *
 * For each watcher count N it prints, with the load average:
 *   own keys: N watchers on N different keys; W writes to watched keys, each waking exactly one
 *             watcher: wake-up latency (write sent -> answer received) and the server's (and
 *             client agents') CPU per write, less what holding the N watchers costs without writes;
 *   one key:  N watchers on one key; one write wakes all N: latency to the first, median and last
 *             answer, and the server's CPU for that write (through client agents: in its first
 *             300 ms, by when the server's part is long over) and the client agents' CPU;
 *   RSS of the server (and of the client agents) with the N watchers open, and without.
 *
 *   node --import tsx bench/watchers.ts [--counts 1000,10000,50000] [--writes 50] [--topology direct|clients] [--modes own,one]
 *                                       [--clients K] [--profile DIR]   (--cpu-prof of every agent, written when they leave)
 *
 * `direct`: every watcher connects to the server itself; one process may hold only as many
 * sockets as `ulimit -n` allows (20,000 here, and raising the hard limit needs CAP_SYS_RESOURCE),
 * so counts above 18,000 are run through `clients`: watchers spread over client agents, as
 * Consul's applications talk to their local agent. A client agent holds its watchers, and
 * identical ones share one blocking call to the server (src/agent/forwarded-queries.ts).
 *
 * The script re-runs itself with `--watch-client ...` for the watcher processes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { Agent as HttpAgent, request } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);
const mainCli = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const args = process.argv.slice(2);

if (args[0] === "--watch-client") await watchClient(args.slice(1));
else await main();

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on this machine. */
function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

// ------------------------------------------------------------------ watcher process

async function watchClient([host, portText, countText, mode, indexText, wait, localAddress, offsetText]: string[]): Promise<void> {
  const count = Number(countText);
  const offset = Number(offsetText);
  // Keep-alive, as the Go API client, consul-template and python-consul's session hold their connections.
  const agent = new HttpAgent({ keepAlive: true, maxSockets: Infinity });
  let out = "";
  const flush = (): void => {
    if (out !== "") process.stdout.write(out);
    out = "";
  };
  setInterval(flush, 2).unref();
  // Once every watcher is answered nothing holds the process (free keep-alive sockets are unref'd):
  // it exits on its own, and the last answers must not be lost with it.
  process.on("exit", flush);
  process.on("SIGTERM", () => process.exit(0));
  // The bench went away: nobody reads the answers any more.
  process.stdout.on("error", () => process.exit(0));
  for (let i = 0; i < count; i++) {
    const n = offset + i;
    const key = mode === "one" ? "bench/hot" : `bench/w/${n}`;
    const req = request({ host, port: Number(portText), localAddress, path: `/v1/kv/${key}?index=${indexText}&wait=${wait}`, agent }, (res) => {
      let body = "";
      if (res.statusCode === 200) res.resume();
      else res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => {
        out += `woke ${n} ${res.statusCode} ${epochMs().toFixed(2)}\n`;
        if (res.statusCode !== 200) out += `error ${n} HTTP ${res.statusCode}: ${body.slice(0, 120).replace(/\n/g, " ")}\n`;
      });
    });
    req.on("error", (error) => {
      out += `error ${n} ${error.message}\n`;
    });
    req.end();
    // Open about 250 a second per process: a loaded agent that cannot read a connection's
    // headers within Node's headersTimeout (60 s) answers it 408.
    if (i % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  out += `open ${count}\n`;
  flush();
  // Stay until the bench kills us: exiting once answered closed thousands of sockets while the
  // agent was still answering the other processes' watchers, and that close work (about a quarter
  // of a client agent's CPU in the wake-up window, by --profile) was counted as the write's cost.
  // Real watchers re-arm on the same connection; they do not hang up.
  setInterval(() => {}, 60_000);
  await new Promise(() => {});
}

// ------------------------------------------------------------------ the bench

interface Proc {
  readonly child: ChildProcess;
  readonly name: string;
}

function option(name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
}

function load(): string {
  return loadavg().map((x) => x.toFixed(2)).join(" ");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** CPU time of a process, all threads, in ms (schedstat counts nanoseconds, not 10 ms ticks). */
function cpuMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return ns / 1e6;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))!;
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

async function http(method: string, url: string, body?: string): Promise<{ status: number; text: string; index: number }> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { body }) });
  return { status: res.status, text: await res.text(), index: Number(res.headers.get("x-consul-index") ?? 0) };
}

async function gauge(base: string, name: string): Promise<number> {
  const metrics = JSON.parse((await http("GET", `${base}/v1/agent/metrics`)).text) as { Gauges: { Name: string; Value: number }[] };
  return metrics.Gauges.find((g) => g.Name === name)?.Value ?? NaN;
}

function startAgentProcess(name: string, flags: string[], procs: Proc[], profileDir?: string): Proc {
  const profile = profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir];
  const child = spawn(process.execPath, [...profile, "--import", "tsx", mainCli, "agent", ...flags, "-log-level", "error"], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => process.stderr.write(`[${name}] ${d.toString()}`));
  const proc = { child, name };
  procs.push(proc);
  return proc;
}

async function main(): Promise<void> {
  const counts = option("counts", "1000,10000,50000").split(",").map(Number).filter((n) => n > 0);
  const writes = Number(option("writes", "50"));
  const topology = option("topology", "auto");
  const modes = option("modes", "own,one").split(",").filter((m): m is "own" | "one" => m === "own" || m === "one");
  const serverHost = "127.0.0.93";
  // A client agent holds its watchers' sockets: 12,500 each keeps every process well below its
  // 20,000 file descriptors. Identical watchers share one blocking call to the server, and past
  // 4,096 calls (the server's cap per connection) a client agent opens another connection.
  const clientCount = Number(option("clients", String(Math.max(3, Math.ceil(Math.max(...counts) / 12_500)))));
  const clientHosts = Array.from({ length: clientCount }, (_, i) => (i < 3 ? `127.0.0.${94 + i}` : `127.0.1.${238 + i}`));
  const httpPort = 8500;
  const server = `http://${serverHost}:${httpPort}`;
  const procs: Proc[] = [];
  const dirs: string[] = [];
  const stopAll = (): void => {
    for (const p of procs) p.child.kill("SIGKILL");
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  process.on("exit", stopAll);
  process.on("SIGINT", () => process.exit(130));

  console.log(`bench/watchers: real agents, node ${process.version}, load average ${load()}`);
  const profileDir = args.includes("--profile") ? option("profile", "") : undefined;
  const agentProc = startAgentProcess("server", ["-dev", "-bind", serverHost, "-client", serverHost, "-dns-port", "-1", "-http-port", String(httpPort)], procs, profileDir);
  const serverPid = agentProc.child.pid!;
  await until("the dev server's leader", async () => (await http("GET", `${server}/v1/status/leader`).catch(() => ({ text: "" }))).text.length > 2, 60_000);

  const maxCount = Math.max(...counts);
  for (let start = 0; start < maxCount; start += 128) {
    const ops = [];
    for (let i = start; i < Math.min(maxCount, start + 128); i++) ops.push({ KV: { Verb: "set", Key: `bench/w/${i}`, Value: "MA==" } });
    const res = await http("PUT", `${server}/v1/txn`, JSON.stringify(ops));
    if (res.status !== 200) throw new Error(`seeding keys: ${res.status} ${res.text}`);
  }
  await http("PUT", `${server}/v1/kv/bench/hot`, "0");
  console.log(`seeded ${maxCount} keys; server RSS ${rssMiB(serverPid).toFixed(0)} MiB with no watchers`);

  let clientBases: string[] = [];
  const clientPids: number[] = [];
  const needClients = topology === "clients" || (topology === "auto" && counts.some((n) => n > 18_000));
  if (needClients) {
    for (const [i, host] of clientHosts.entries()) {
      const dir = mkdtempSync(join(tmpdir(), "praetor-watchers-"));
      dirs.push(dir);
      const proc = startAgentProcess(`client${i}`, ["-bind", host, "-client", host, "-data-dir", dir, "-node", `bench-client-${i}`, "-retry-join", serverHost, "-dns-port", "-1", "-http-port", String(httpPort)], procs, profileDir);
      clientPids.push(proc.child.pid!);
    }
    clientBases = clientHosts.map((h) => `http://${h}:${httpPort}`);
    for (const base of clientBases) {
      await until(`${base} reading through the server`, async () => (await http("GET", `${base}/v1/kv/bench/hot`).catch(() => ({ status: 0 }))).status === 200, 90_000);
    }
    console.log(`${clientHosts.length} client agents joined; client RSS ${clientPids.map((p) => rssMiB(p).toFixed(0)).join(", ")} MiB`);
  }

  // Idle CPU of the server (Raft and gossip ticks, anti-entropy), subtracted from the per-write figures.
  const idleFrom = cpuMs(serverPid);
  const idleStart = performance.now();
  await sleep(3000);
  const idleMsPerMs = (cpuMs(serverPid) - idleFrom) / (performance.now() - idleStart);
  console.log(`server idle CPU: ${(idleMsPerMs * 1000).toFixed(1)} ms per s\n`);

  let sourceAddress = 1;
  for (const count of counts) {
    const viaClients = topology === "clients" || (topology === "auto" && count > 18_000);
    const targets = viaClients ? clientBases : [server];
    const where = viaClients ? `through ${clientHosts.length} client agents` : "directly on the server";
    // Where the watchers wait: on the server, or in their client agents (which hold fewer calls on the server).
    const waiting = async (): Promise<number> => (await Promise.all(targets.map((base) => gauge(base, "praetor.blocking.waiters")))).reduce((a, b) => a + b, 0);
    const clientCpuMs = (): number => (viaClients ? clientPids.reduce((sum, pid) => sum + cpuMs(pid), 0) : 0);
    for (const mode of modes) {
      const index = mode === "one" ? (await http("GET", `${server}/v1/kv/bench/hot`)).index : (await http("GET", `${server}/v1/kv/bench/w/?keys`)).index;
      const woke = new Map<number, number>();
      let opened = 0;
      let errors = 0;
      let firstError = "";
      const watchers: ChildProcess[] = [];
      const perTarget = Math.ceil(count / targets.length);
      for (const [t, base] of targets.entries()) {
        const share = Math.min(perTarget, count - t * perTarget);
        const processes = Math.ceil(share / 12_500);
        for (let p = 0; p < processes; p++) {
          const n = Math.ceil(share / processes);
          const offset = t * perTarget + p * n;
          const size = Math.min(n, share - p * n);
          const url = new URL(base);
          const child = spawn(process.execPath, ["--import", "tsx", self, "--watch-client", url.hostname, url.port, String(size), mode, String(index), "300s", `127.0.1.${sourceAddress++ % 230 + 1}`, String(offset)], { stdio: ["ignore", "pipe", "inherit"] });
          watchers.push(child);
          let buffered = "";
          child.stdout!.on("data", (chunk: Buffer) => {
            buffered += chunk.toString();
            const lines = buffered.split("\n");
            buffered = lines.pop()!;
            for (const line of lines) {
              const [kind, a, b, c] = line.split(" ");
              if (kind === "open") opened += Number(a);
              else if (kind === "woke") {
                woke.set(Number(a), Number(c));
                if (b !== "200") errors++;
              } else if (kind === "error") {
                if (!line.includes(" HTTP ")) errors++;
                firstError ||= line;
              }
            }
          });
        }
      }
      const registered = Date.now();
      const progress = setInterval(() => {
        void Promise.all([waiting(), gauge(server, "praetor.blocking.waiters")]).then(([agents, onServer]) => console.log(`  ... ${opened} opened, ${agents} waiting (${onServer} on the server), ${woke.size} answered early, ${errors} socket errors ${firstError}`), () => {});
      }, 30_000);
      await until(`${count} watchers waiting`, async () => opened === count && (await waiting()) >= count, 600_000)
        .catch((error: Error) => { throw new Error(`${error.message}: opened ${opened}, answered ${woke.size}, errors ${errors} ${firstError}`); });
      clearInterval(progress);
      const openMs = Date.now() - registered;
      await sleep(500);
      if (woke.size > 0) console.log(`  warning: ${woke.size} watchers answered before any write`);
      const rss = rssMiB(serverPid);
      const onServer = await gauge(server, "praetor.blocking.waiters");
      const clientRss = clientPids.map((p) => rssMiB(p).toFixed(0)).join("/");
      // What holding the N watchers costs with no write (sockets, timers, ticks): subtracted from the per-write figures.
      const heldFrom = cpuMs(serverPid);
      const heldClientsFrom = clientCpuMs();
      const heldStart = performance.now();
      await sleep(3000);
      const heldMs = performance.now() - heldStart;
      const heldMsPerMs = (cpuMs(serverPid) - heldFrom) / heldMs;
      const heldClientsMsPerMs = (clientCpuMs() - heldClientsFrom) / heldMs;
      const held = `holding them costs the server ${(heldMsPerMs * 1000).toFixed(1)} ms/s${viaClients ? `, the client agents ${(heldClientsMsPerMs * 1000).toFixed(1)} ms/s` : ""}`;
      const loadNow = load();
      woke.clear();
      if (mode === "own") {
        const latencies: number[] = [];
        const cpuFrom = cpuMs(serverPid);
        const clientCpuFrom = clientCpuMs();
        const started = performance.now();
        for (let w = 0; w < writes; w++) {
          const key = Math.floor((w + 0.5) * (count / writes));
          const sentAt = epochMs();
          await http("PUT", `${server}/v1/kv/bench/w/${key}`, `v${w}`);
          await until(`watcher ${key}`, () => woke.has(key), 60_000);
          latencies.push(woke.get(key)! - sentAt);
        }
        const elapsed = performance.now() - started;
        const cpu = cpuMs(serverPid) - cpuFrom;
        const clientCpu = clientCpuMs() - clientCpuFrom;
        await sleep(300);
        latencies.sort((a, b) => a - b);
        const perWrite = (cpu - heldMsPerMs * elapsed) / writes;
        const clientPerWrite = (clientCpu - heldClientsMsPerMs * elapsed) / writes;
        console.log(`N=${String(count).padStart(6)} ${where}, own keys: ${writes} writes woke ${woke.size} watchers; wake-up p50 ${pct(latencies, 0.5)} p99 ${pct(latencies, 0.99)} max ${pct(latencies, 1)} ms; server CPU/write ${perWrite.toFixed(2)} ms (raw ${(cpu / writes).toFixed(2)})${viaClients ? `, client agents' ${clientPerWrite.toFixed(2)} ms (raw ${(clientCpu / writes).toFixed(2)})` : ""}; ${held}; ${onServer} waiting on the server; server RSS ${rss.toFixed(0)} MiB${clientRss ? `, clients ${clientRss} MiB` : ""}; registered in ${openMs} ms; load ${loadNow}`);
      } else {
        const evaluationsFrom = await gauge(server, "praetor.blocking.evaluations");
        const cpuFrom = cpuMs(serverPid);
        const clientCpuFrom = clientCpuMs();
        const started = performance.now();
        const sentAt = epochMs();
        // Through client agents the server's part (the write, one evaluation, one answer per client agent) is over well within 300 ms.
        const serverWindow = viaClients ? sleep(300).then(() => ({ cpu: cpuMs(serverPid) - cpuFrom, ms: performance.now() - started })) : null;
        await http("PUT", `${server}/v1/kv/bench/hot`, `v${count}`);
        await until(`all ${count} watchers of one key`, () => woke.size >= count, 300_000)
          .catch((error: Error) => { throw new Error(`${error.message}: ${woke.size} answered, errors ${errors} ${firstError}`); });
        const elapsed = performance.now() - started;
        const window = (await serverWindow) ?? { cpu: cpuMs(serverPid) - cpuFrom, ms: elapsed };
        const serverCpu = window.cpu - heldMsPerMs * window.ms;
        const clientCpu = clientCpuMs() - clientCpuFrom - heldClientsMsPerMs * elapsed;
        const evaluations = (await gauge(server, "praetor.blocking.evaluations")) - evaluationsFrom;
        const latencies = [...woke.values()].map((t) => t - sentAt).sort((a, b) => a - b);
        console.log(`N=${String(count).padStart(6)} ${where}, one key: one write woke ${woke.size} (errors ${errors}); first ${pct(latencies, 0)} p50 ${pct(latencies, 0.5)} p99 ${pct(latencies, 0.99)} last ${pct(latencies, 1)} ms; server CPU for the write ${serverCpu.toFixed(1)} ms in its first ${window.ms.toFixed(0)} ms (${(serverCpu / count * 1000).toFixed(2)} µs/watcher, raw ${window.cpu.toFixed(1)}), ${evaluations} evaluation(s)${viaClients ? `; client agents' CPU ${clientCpu.toFixed(1)} ms (${(clientCpu / count * 1000).toFixed(1)} µs/watcher)` : ""}; ${held}; ${onServer} waiting on the server; server RSS ${rss.toFixed(0)} MiB${clientRss ? `, clients ${clientRss} MiB` : ""}; load ${loadNow}`);
      }
      for (const child of watchers) child.kill("SIGKILL");
      await until("the agents dropping the abandoned waiters", async () => (await waiting()) === 0 && (await gauge(server, "praetor.blocking.waiters")) === 0, 300_000);
      await sleep(1000);
    }
  }
  console.log(`\nserver RSS after the runs ${rssMiB(serverPid).toFixed(0)} MiB; load average ${load()}`);
  if (profileDir !== undefined) {
    // A profile is written when its agent exits on its own: leave gracefully (clients first, then the server).
    for (const proc of [...procs.filter((p) => p !== agentProc), agentProc]) {
      proc.child.kill("SIGINT");
      await new Promise((resolve) => proc.child.once("exit", resolve));
    }
    console.log(`CPU profiles of the server${clientPids.length > 0 ? " and the client agents" : ""} in ${profileDir}`);
  }
  stopAll();
  process.exit(0);
}

function pct(sorted: readonly number[], q: number): string {
  if (sorted.length === 0) return "-";
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
}
