/**
 * Anti-entropy says what it wrote in Consul's words ("Synced service", "Deregistered service"...):
 * operators grep for them, and the Go api's TestAPI_AgentMonitor waits for a line after
 * registering a service.
 */
import test from "ava";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent } from "../../src/agent/run.ts";

const host = "127.0.0.131";

test.serial("a service registered and deregistered is logged as Consul logs it once the catalog has it", async (t) => {
  t.timeout(120_000);
  const lines: string[] = [];
  const args = ["-dev", "-node", "sync1", "-bind", host, "-client", host, "-http-port", "0", "-dns-port", "-1",
    "-serf-lan-port", "18431", "-serf-wan-port", "-1", "-server-port", "18432"];
  const running = await startAgent(loadConfig(args).config, createLogger({ level: "info", write: (line) => lines.push(line) }));
  try {
    const base = `http://${host}:${running.httpPorts[0]!}`;
    const waitFor = async (pattern: RegExp) => {
      for (let i = 0; i < 200 && !lines.some((line) => pattern.test(line)); i++) await new Promise((r) => setTimeout(r, 25));
      return lines.find((line) => pattern.test(line));
    };
    t.truthy(await waitFor(/\[INFO\]  agent: Synced node info\n$/));
    const body = JSON.stringify({ Name: "redis", Check: { CheckID: "redis-ttl", TTL: "30s" } });
    t.is((await fetch(`${base}/v1/agent/service/register`, { method: "PUT", body })).status, 200);
    t.truthy(await waitFor(/\[INFO\]  agent: Synced service: service=redis\n$/), lines.join(""));
    t.truthy(await waitFor(/\[INFO\]  agent: Synced check: check=redis-ttl\n$/), lines.join(""));
    t.is((await fetch(`${base}/v1/agent/service/deregister/redis`, { method: "PUT" })).status, 200);
    t.truthy(await waitFor(/\[INFO\]  agent: Deregistered service: service=redis\n$/), lines.join(""));
  } finally {
    await running.stop();
  }
});

test.serial("agent/self's DebugConfig has the Serf LAN address as Consul prints it (the Go api's AgentJoin joins it)", async (t) => {
  t.timeout(120_000);
  const args = ["-dev", "-node", "self1", "-bind", host, "-client", host, "-http-port", "0", "-dns-port", "-1",
    "-serf-lan-port", "18433", "-serf-wan-port", "-1", "-server-port", "18434"];
  const running = await startAgent(loadConfig(args).config, createLogger({ level: "error", write: () => {} }));
  try {
    const self = await (await fetch(`http://${host}:${running.httpPorts[0]!}/v1/agent/self`)).json() as { DebugConfig: Record<string, unknown> };
    t.is(self.DebugConfig.SerfAdvertiseAddrLAN, `tcp://${host}:18433`);
    t.is(self.DebugConfig.SerfAdvertiseAddrWAN, "", "no WAN pool with -serf-wan-port -1");
  } finally {
    await running.stop();
  }
});

test.serial("agent/monitor?logjson streams Consul's JSON log lines (the Go api's AgentMonitorJSON)", async (t) => {
  t.timeout(120_000);
  const args = ["-dev", "-node", "mon1", "-bind", host, "-client", host, "-http-port", "0", "-dns-port", "-1",
    "-serf-lan-port", "18437", "-serf-wan-port", "-1", "-server-port", "18438"];
  const running = await startAgent(loadConfig(args).config, createLogger({ level: "info", write: () => {} }));
  const controller = new AbortController();
  try {
    const base = `http://${host}:${running.httpPorts[0]!}`;
    const res = await fetch(`${base}/v1/agent/monitor?loglevel=debug&logjson`, { signal: controller.signal });
    t.is(res.status, 200);
    t.is((await fetch(`${base}/v1/agent/service/register`, { method: "PUT", body: JSON.stringify({ Name: "redis" }) })).status, 200);
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("Synced service")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    const line = text.split("\n").find((l) => l.includes("Synced service"))!;
    t.like(JSON.parse(line), { "@level": "info", "@module": "agent", "@message": "Synced service", service: "redis" });
  } finally {
    controller.abort();
    await running.stop();
  }
});
