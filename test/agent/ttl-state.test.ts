/**
 * A TTL check's last status survives an agent restart within its TTL (Consul's persisted check
 * state); after the TTL it is stale and the check starts from its initial status again.
 */
import test from "ava";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent, type RunningAgent } from "../../src/agent/run.ts";

const host = "127.0.0.213";

async function start(dataDir: string): Promise<{ running: RunningAgent; base: string }> {
  const args = ["-server", "-bootstrap", "-node", "ttl1", "-bind", host, "-client", host, "-data-dir", dataDir,
    "-http-port", "0", "-dns-port", "-1", "-serf-lan-port", "18357", "-serf-wan-port", "-1", "-server-port", "18358"];
  const running = await startAgent(loadConfig(args).config, createLogger({ level: "error", write: () => {} }));
  return { running, base: `http://${host}:${running.httpPorts[0]!}` };
}

async function checkStatus(base: string, id: string): Promise<{ Status: string; Output: string } | undefined> {
  const checks = await (await fetch(`${base}/v1/agent/checks`)).json() as Record<string, { Status: string; Output: string }>;
  return checks[id];
}

test.serial("a passing TTL check is still passing after a restart within its TTL, and starts critical again after it", async (t) => {
  t.timeout(120_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-ttl-state-"));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  let { running, base } = await start(dataDir);
  const register = (id: string, ttl: string) => fetch(`${base}/v1/agent/check/register`, { method: "PUT", body: JSON.stringify({ ID: id, Name: id, TTL: ttl }) });
  t.is((await register("long", "10m")).status, 200);
  t.is((await register("short", "2s")).status, 200);
  t.is((await checkStatus(base, "long"))?.Status, "critical", "a TTL check starts critical");
  t.is((await fetch(`${base}/v1/agent/check/pass/long?note=all%20good`, { method: "PUT" })).status, 200);
  t.is((await fetch(`${base}/v1/agent/check/warn/short?note=slow`, { method: "PUT" })).status, 200);
  await running.stop();

  await new Promise((resolve) => setTimeout(resolve, 2_500));
  ({ running, base } = await start(dataDir));
  try {
    t.deepEqual(await checkStatus(base, "long"), { ...(await checkStatus(base, "long"))!, Status: "passing", Output: "all good" });
    t.is((await checkStatus(base, "short"))?.Status, "critical", "the 2 s TTL ran out while the agent was down");
    t.is((await fetch(`${base}/v1/agent/check/deregister/long`, { method: "PUT" })).status, 200);
    t.is((await register("long", "10m")).status, 200);
    t.is((await checkStatus(base, "long"))?.Status, "critical", "deregistering forgets the saved state");
  } finally {
    await running.stop();
  }
});
