/** `?filter` on /v1/catalog/node/:node and node-services filters the node's services, as Consul's does. */
import test from "ava";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent } from "../../src/agent/run.ts";

const host = "127.0.0.132";

test.serial("catalog node ?filter keeps the services that match (the Go api's CatalogNode_Filter)", async (t) => {
  t.timeout(120_000);
  const args = ["-dev", "-node", "filter1", "-bind", host, "-client", host, "-http-port", "0", "-dns-port", "-1",
    "-serf-lan-port", "18435", "-serf-wan-port", "-1", "-server-port", "18436"];
  const running = await startAgent(loadConfig(args).config, createLogger({ level: "error", write: () => {} }));
  try {
    const base = `http://${host}:${running.httpPorts[0]!}`;
    for (const [id, tags] of [["redisV1", ["v1"]], ["webV1", ["v1", "connect"]]] as const) {
      const body = JSON.stringify({ Node: "bar", Address: "198.18.1.3", Service: { ID: id, Service: id.slice(0, -2), Tags: tags } });
      t.is((await fetch(`${base}/v1/catalog/register`, { method: "PUT", body })).status, 200);
    }
    const filter = encodeURIComponent("connect in Tags");
    const node = await (await fetch(`${base}/v1/catalog/node/bar?filter=${filter}`)).json() as { Node: { Node: string }; Services: Record<string, unknown> };
    t.is(node.Node.Node, "bar");
    t.deepEqual(Object.keys(node.Services), ["webV1"]);
    const list = await (await fetch(`${base}/v1/catalog/node-services/bar?filter=${filter}`)).json() as { Services: { ID: string }[] };
    t.deepEqual(list.Services.map((s) => s.ID), ["webV1"]);
    const all = await (await fetch(`${base}/v1/catalog/node/bar`)).json() as { Services: Record<string, unknown> };
    t.deepEqual(Object.keys(all.Services).sort(), ["redisV1", "webV1"]);
  } finally {
    await running.stop();
  }
});
