/**
 * `NAME.query.consul` with real `dig` against a real `-dev` agent (127.0.0.124): the query created
 * over HTTP answers A and SRV with its DNS.TTL, shuffled by the agent per question, and the
 * query's own health filter decides the instances.
 */
import test from "ava";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent } from "../../src/agent/run.ts";
import { client } from "../http/harness.ts";
import { section } from "./harness.ts";

const host = "127.0.0.124";
const run = promisify(execFile);

test("real agent: dig NAME.query.consul answers the query's instances with its TTL, shuffled", async (t) => {
  t.timeout(120_000);
  const { config } = loadConfig(["-dev", "-bind", host, "-client", host, "-data-dir", mkdtempSync(join(tmpdir(), "praetor-pq-dns-")),
    "-node", "pq-dns", "-dns-port", "0", "-http-port", "0"]);
  const running = await startAgent(config, createLogger({ level: "warn", write: () => {} }));
  t.teardown(() => running.stop());
  const api = client(`http://${host}:${running.httpPorts[0]!}`);
  const deadline = Date.now() + 60_000;
  while ((await api.get("/v1/status/leader")).text.length <= 2) {
    if (Date.now() > deadline) throw new Error("no leader within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const i of [1, 2, 3, 4]) {
    const res = await api.put("/v1/catalog/register", {
      Node: `db-${i}`, Address: `10.7.0.${i}`, Service: { ID: "db", Service: "db", Port: 5432 },
      Check: { CheckID: "db-alive", ServiceID: "db", Status: i === 4 ? "critical" : "passing" },
    });
    t.is(res.status, 200, res.text);
  }
  t.is((await api.call("POST", "/v1/query", { Name: "db-rw", Service: { Service: "db" }, DNS: { TTL: "4s" } })).status, 200);
  const dig = async (...args: string[]) => (await run("dig", [`@${host}`, "-p", String(running.dnsPorts[0]!), "+time=10", "+tries=1", ...args], { timeout: 20_000 })).stdout;

  const a = section(await dig("db-rw.query.consul", "A"), "ANSWER");
  t.deepEqual([...a].sort(), ["db-rw.query.consul. 4 IN A 10.7.0.1", "db-rw.query.consul. 4 IN A 10.7.0.2", "db-rw.query.consul. 4 IN A 10.7.0.3"]);
  const srv = section(await dig("db-rw.query.dc1.consul", "SRV"), "ANSWER").sort();
  t.deepEqual(srv, [1, 2, 3].map((i) => `db-rw.query.dc1.consul. 4 IN SRV 1 1 5432 db-${i}.node.dc1.consul.`));
  const orders = new Set<string>();
  for (let i = 0; i < 20 && orders.size < 2; i++) orders.add(section(await dig("db-rw.query.consul", "A"), "ANSWER").join("|"));
  t.true(orders.size >= 2, "the agent shuffles a prepared query's answer per question");
  t.true((await dig("nothing.query.consul", "A")).includes("status: NXDOMAIN"));
});
