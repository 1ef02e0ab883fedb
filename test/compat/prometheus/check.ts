/**
 * Prometheus' Consul service discovery (consul_sd_configs) against a `praetor agent -dev`: the real
 * prometheus binary discovers the registered services with their __meta_consul_* labels and
 * follows changes (a health change, a new service, a deregistration) through its blocking
 * queries on /v1/catalog/services and /v1/health/service/:name.
 *
 *   PROMETHEUS=/path/to/prometheus node --import tsx test/compat/prometheus/check.ts
 *
 * Debian's prometheus package is built without Consul SD (its changelog: "Disable Consul SD until
 * its Debian package is back in shape"), so PROMETHEUS must name a build that has it:
 * build-prometheus.sh beside this file makes one from Prometheus' own source. Needs `npm run
 * build` first (the agent runs from the compiled bin). Binds 127.0.5.10 (agent) and 127.0.5.11
 * (prometheus). Prints one line per check and exits 1 if any fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const prometheusBin = process.env.PROMETHEUS ?? "prometheus";
const agentHost = "127.0.5.10";
const agentHttpPort = 18500;
const promAddr = "127.0.5.11:19090";
const agent = `http://${agentHost}:${agentHttpPort}`;

type Labels = Record<string, string>;
let failures = 0;
const children: ChildProcess[] = [];
const work = mkdtempSync(path.join(tmpdir(), "praetor-prometheus-"));

function check(what: string, ok: boolean, detail = ""): void {
  if (!ok) failures++;
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${ok || detail === "" ? "" : `: ${detail}`}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function http(method: string, url: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, text: await res.text() };
}

async function targets(): Promise<Labels[]> {
  try {
    const res = await fetch(`http://${promAddr}/api/v1/targets?state=active`);
    const body = await res.json() as { data: { activeTargets: { discoveredLabels: Labels }[] } };
    return body.data.activeTargets.map((t) => t.discoveredLabels).filter((l) => l.job === "consul");
  } catch {
    return [];
  }
}

/** Polls Prometheus' targets until `pred` holds; Prometheus hands discovery updates to scraping at most every 5 s. */
async function waitFor(what: string, pred: (ts: Labels[]) => boolean, timeoutMs = 30_000): Promise<{ ts: Labels[]; ms: number }> {
  const start = Date.now();
  let ts: Labels[] = [];
  while (Date.now() - start < timeoutMs) {
    ts = await targets();
    if (pred(ts)) return { ts, ms: Date.now() - start };
    await sleep(200);
  }
  check(what, false, `not within ${timeoutMs} ms; targets: ${JSON.stringify(ts.map((t) => [t.__meta_consul_service_id, t.__meta_consul_health]))}`);
  return { ts, ms: -1 };
}

const byId = (ts: Labels[], id: string) => ts.find((t) => t.__meta_consul_service_id === id);

async function main(): Promise<void> {
  const agentProc = spawn(process.execPath, [path.join(root, "bin/praetor.mjs"), "agent", "-dev", "-node", "prom-node", "-bind", agentHost, "-client", agentHost,
    "-http-port", String(agentHttpPort), "-dns-port", "-1", "-node-meta", "rack:r1"], { stdio: ["ignore", "ignore", "inherit"] });
  children.push(agentProc);
  for (let i = 0; ; i++) {
    const leader = await http("GET", `${agent}/v1/status/leader`).catch(() => ({ status: 0, text: "" }));
    if (leader.status === 200 && leader.text.length > 2) break;
    if (i > 300) throw new Error("the agent has no leader after 30 s");
    await sleep(100);
  }
  await http("PUT", `${agent}/v1/agent/service/register`, {
    Name: "web", ID: "web1", Address: "127.0.5.20", Port: 8080, Tags: ["v1", "blue"], Meta: { version: "1.2", "team-name": "edge" },
    Check: { CheckID: "web1-ttl", TTL: "10m", Status: "passing" },
  });
  await http("PUT", `${agent}/v1/agent/service/register`, { Name: "db", ID: "db1", Port: 5432, Tags: ["primary"] });

  writeFileSync(path.join(work, "prometheus.yml"), [
    "global:", "  scrape_interval: 1h", "scrape_configs:", "  - job_name: consul", "    consul_sd_configs:",
    // refresh_interval is how long Prometheus pauses between two blocking queries of one watch
    // (default 30 s): a change waits for the pause, then returns the blocking query at once.
    `      - server: '${agentHost}:${agentHttpPort}'`, "        refresh_interval: 1s", "",
  ].join("\n"));
  const prom = spawn(prometheusBin, [`--config.file=${path.join(work, "prometheus.yml")}`, `--web.listen-address=${promAddr}`,
    `--storage.tsdb.path=${path.join(work, "data")}`, "--log.level=warn"], { stdio: ["ignore", "ignore", "inherit"] });
  children.push(prom);

  const first = await waitFor("web1 and db1 discovered", (ts) => byId(ts, "web1") !== undefined && byId(ts, "db1") !== undefined);
  const web = byId(first.ts, "web1");
  const db = byId(first.ts, "db1");
  if (web !== undefined && db !== undefined) {
    console.log(`     discovered in ${first.ms} ms from prometheus' start`);
    const want: Labels = {
      __address__: "127.0.5.20:8080", __meta_consul_service: "web", __meta_consul_service_id: "web1", __meta_consul_tags: ",v1,blue,",
      __meta_consul_node: "prom-node", __meta_consul_address: agentHost, __meta_consul_service_address: "127.0.5.20",
      __meta_consul_service_port: "8080", __meta_consul_health: "passing", __meta_consul_dc: "dc1",
      __meta_consul_service_metadata_version: "1.2", __meta_consul_service_metadata_team_name: "edge",
      __meta_consul_tagged_address_lan: agentHost, __meta_consul_tagged_address_wan: agentHost,
    };
    for (const [k, v] of Object.entries(want)) check(`web1 ${k}=${JSON.stringify(v)}`, web[k] === v, `got ${JSON.stringify(web[k])}`);
    check("web1 carries the node's metadata (-node-meta rack:r1)", web.__meta_consul_metadata_rack === "r1", JSON.stringify(web));
    // Prometheus drops empty-valued labels, so an empty service address is an absent label.
    check("db1 without a service address is scraped at the node's address", db.__address__ === `${agentHost}:5432` && db.__meta_consul_service_address === undefined, JSON.stringify(db));
    check("db1 tags and health", db.__meta_consul_tags === ",primary," && db.__meta_consul_health === "passing", JSON.stringify(db));
    check("the consul service itself is discovered", first.ts.some((t) => t.__meta_consul_service === "consul"));
  }

  await idleBlocking();

  await http("PUT", `${agent}/v1/agent/check/fail/web1-ttl?note=down`);
  const critical = await waitFor("web1's health follows its check to critical", (ts) => byId(ts, "web1")?.__meta_consul_health === "critical");
  if (critical.ms >= 0) check(`health change followed (${critical.ms} ms)`, true);

  await http("PUT", `${agent}/v1/agent/service/register`, { Name: "api", ID: "api1", Port: 9000, Tags: ["canary"] });
  const added = await waitFor("a new service is discovered", (ts) => byId(ts, "api1") !== undefined);
  if (added.ms >= 0) check(`new service followed (${added.ms} ms)`, byId(added.ts, "api1")?.__meta_consul_tags === ",canary,");

  await http("PUT", `${agent}/v1/agent/service/deregister/db1`);
  const removed = await waitFor("a deregistered service is dropped", (ts) => byId(ts, "db1") === undefined && byId(ts, "web1") !== undefined);
  if (removed.ms >= 0) check(`deregistration followed (${removed.ms} ms)`, true);

  await http("PUT", `${agent}/v1/agent/check/pass/web1-ttl`);
  await http("PUT", `${agent}/v1/agent/service/register`, {
    Name: "web", ID: "web1", Address: "127.0.5.21", Port: 8081, Tags: ["v2"], Meta: { version: "1.3" }, Check: { CheckID: "web1-ttl", TTL: "10m", Status: "passing" },
  });
  const moved = await waitFor("a re-registered instance's new address, tags and metadata are followed",
    (ts) => byId(ts, "web1")?.__address__ === "127.0.5.21:8081" && byId(ts, "web1")?.__meta_consul_tags === ",v2," && byId(ts, "web1")?.__meta_consul_service_metadata_version === "1.3");
  if (moved.ms >= 0) check(`re-registration followed (${moved.ms} ms)`, byId(moved.ts, "web1")?.__meta_consul_health === "passing");
  const failed = (await promMetrics()).get("prometheus_sd_consul_rpc_failures_total") ?? -1;
  check("no Consul RPC failed in Prometheus (prometheus_sd_consul_rpc_failures_total 0)", failed === 0, String(failed));
}

async function promMetrics(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${promAddr}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(prometheus_sd_consul_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/**
 * With nothing changing, Prometheus' watches sit in blocking queries (wait=2m): over 10 s each
 * watch (the catalog's and one per service) completes at most one query. Were the agent to answer
 * blocking queries at once, each would complete one per refresh_interval (1 s), about ten.
 */
async function idleBlocking(): Promise<void> {
  await sleep(3_000); // let the first (non-blocking) answers and their 1 s pauses pass
  const count = async () => {
    const m = await promMetrics();
    return (m.get('prometheus_sd_consul_rpc_duration_seconds_count{call="services",endpoint="catalog"}') ?? 0)
      + (m.get('prometheus_sd_consul_rpc_duration_seconds_count{call="service",endpoint="catalog"}') ?? 0);
  };
  const before = await count();
  await sleep(10_000);
  const after = await count();
  const watches = 1 + new Set((await targets()).map((t) => t.__meta_consul_service)).size;
  check(`idle for 10 s, Prometheus' ${watches} watches completed ${after - before} queries (they block)`, after - before <= watches, `${before} -> ${after}`);
}

try {
  await main();
} catch (error) {
  failures++;
  console.log(`FAIL ${(error as Error).message}`);
} finally {
  for (const child of children) child.kill("SIGTERM");
  await sleep(500);
  rmSync(work, { recursive: true, force: true });
}
console.log(failures === 0 ? "prometheus consul_sd against praetor: all checks hold" : `prometheus consul_sd against praetor: ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
