/**
 * Real agents: 300 watchers of one key on a client agent (127.0.1.254) beside a `-dev` server
 * (127.0.1.253) hold ONE blocking query on the server, and one write wakes all 300 with the new
 * value. Forwarded one by one they held 300 (and a client agent with more than 4,096 watchers
 * was refused by the server's per-connection cap).
 */
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent as HttpAgent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent } from "../../src/agent/run.ts";
import type { Agent } from "../../src/agent/agent.ts";
import { client, startDevAgent } from "./harness.ts";

const watchers = 300;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function gauge(agent: Agent, name: string): Promise<number> {
  const metrics = await agent.metrics("json") as { Gauges: { Name: string; Value: number }[] };
  return metrics.Gauges.find((g) => g.Name === name)!.Value;
}

test("real agents: 300 watchers of one key on a client agent hold one blocking query on the server; one write wakes all", async (t) => {
  t.timeout(180_000);
  const server = await startDevAgent(t, "127.0.1.253", ["-node", "watch-server"]);
  const dir = mkdtempSync(join(tmpdir(), "praetor-client-watchers-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { config } = loadConfig(["-bind", "127.0.1.254", "-client", "127.0.1.254", "-data-dir", dir, "-node", "watch-client",
    "-retry-join", "127.0.1.253", "-dns-port", "-1", "-http-port", "0"]);
  const running = await startAgent(config, createLogger({ level: "warn", write: () => {} }));
  t.teardown(() => running.stop());
  const api = client(`http://127.0.1.254:${running.httpPorts[0]!}`);
  t.is((await server.put("/v1/kv/hot", "v0")).text, "true");
  await until("the client agent reading through the server", async () => (await api.get("/v1/kv/hot")).status === 200);
  const index = Number((await api.get("/v1/kv/hot")).headers.get("x-consul-index"));

  const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: Infinity });
  t.teardown(() => keepAlive.destroy());
  const answers: { status: number; index: number; body: string }[] = [];
  for (let i = 0; i < watchers; i++) {
    request({ host: "127.0.1.254", port: running.httpPorts[0]!, path: `/v1/kv/hot?index=${index}&wait=60s`, agent: keepAlive }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => answers.push({ status: res.statusCode!, index: Number(res.headers["x-consul-index"]), body }));
    }).end();
  }
  await until("every watcher waiting on the client agent", async () => (await gauge(running.agent, "praetor.blocking.waiters")) === watchers);
  t.deepEqual(answers, [], "nobody answered before the write");
  t.is(await gauge(server.agent, "praetor.blocking.waiters"), 1, "the server holds one blocking query for the 300 watchers");
  t.is(await gauge(running.agent, "praetor.blocking.forwarded_groups"), 1);

  const evaluations = await gauge(server.agent, "praetor.blocking.evaluations");
  t.is((await server.put("/v1/kv/hot", "v1")).text, "true");
  await until("every watcher answered", () => answers.length === watchers, 30_000);
  t.true(answers.every((a) => a.status === 200 && a.index > index), JSON.stringify(answers[0]));
  t.true(answers.every((a) => Buffer.from((JSON.parse(a.body) as { Value: string }[])[0]!.Value, "base64").toString() === "v1"));
  t.true(await gauge(server.agent, "praetor.blocking.evaluations") - evaluations <= 2, "one evaluation for the write (and at most one for the re-armed query)");
  await until("the group re-armed on the server", async () => (await gauge(server.agent, "praetor.blocking.waiters")) === 1, 10_000);
});
