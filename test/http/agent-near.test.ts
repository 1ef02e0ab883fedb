/**
 * `?near=` and coordinates against real agents: a `-dev` server (127.0.0.98) and a client agent
 * (127.0.0.99) joined to it. Vivaldi coordinates flow from gossip (probe acks) into
 * /v1/coordinate/nodes; catalog nodes, catalog service and health service sort by the estimated
 * RTT from the named node (`_agent`: the agent answering), nodes without a coordinate last in
 * their catalog order, and the two service endpoints list instances in the same order.
 */
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent } from "../../src/agent/run.ts";
import { client, startDevAgent } from "./harness.ts";

interface Coord { Vec: number[]; Error: number; Adjustment: number; Height: number }

/** Consul's lib.ComputeDistance, written out again here so the test does not trust the code it checks. */
function distance(a: Coord, b: Coord): number {
  const raw = Math.sqrt(a.Vec.reduce((sum, x, i) => sum + (x - b.Vec[i]!) ** 2, 0)) + a.Height + b.Height;
  const adjusted = raw + a.Adjustment + b.Adjustment;
  return adjusted > 0 ? adjusted : raw;
}

async function until<T>(what: string, check: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("real agents: coordinates flow from gossip; ?near sorts nodes and service instances by RTT, unknown coordinates last", async (t) => {
  t.timeout(180_000);
  const server = await startDevAgent(t, "127.0.0.98", ["-node", "near-server"]);
  const { config } = loadConfig(["-bind", "127.0.0.99", "-client", "127.0.0.99", "-data-dir", mkdtempSync(join(tmpdir(), "praetor-near-")),
    "-node", "near-client", "-retry-join", "127.0.0.98", "-dns-port", "-1", "-http-port", "0"]);
  const running = await startAgent(config, createLogger({ level: "warn", write: () => {} }));
  t.teardown(() => running.stop());
  const agentB = client(`http://127.0.0.99:${running.httpPorts[0]!}`);

  for (const [api, id] of [[server, "web-s"], [agentB, "web-c"]] as const) {
    const res = await api.put("/v1/agent/service/register", { ID: id, Name: "web", Port: 80 });
    t.is(res.status, 200, res.text);
  }
  // Nodes registered through the catalog have no agent, so no coordinate.
  for (const node of ["ext-b", "ext-a"]) {
    await server.put("/v1/catalog/register", { Node: node, Address: "10.1.1.1", Service: { ID: "web-x", Service: "web", Port: 80 } });
  }
  const coords = await until("coordinates of both agents in /v1/coordinate/nodes, both services in the catalog", async () => {
    const list = (await server.get("/v1/coordinate/nodes")).json<{ Node: string; Coord: Coord }[]>();
    const web = (await server.get("/v1/catalog/service/web")).json<unknown[]>();
    const map = new Map(list.map((e) => [e.Node, e.Coord]));
    return map.has("near-server") && map.has("near-client") && web.length === 4 ? map : null;
  });
  t.false(coords.has("ext-a"), "a node without an agent has no coordinate");
  t.is((await server.get("/v1/coordinate/node/near-client")).json()[0].Node, "near-client");
  t.deepEqual((await server.get("/v1/agent/self")).json().Coord.Vec.length, coords.get("near-server")!.Vec.length, "agent/self carries this agent's coordinate");

  const expected = (from: string, nodes: string[]): string[] => {
    const origin = coords.get(from)!;
    return nodes.map((node, at) => ({ node, at, d: coords.has(node) ? distance(origin, coords.get(node)!) : Infinity }))
      .sort((a, b) => a.d - b.d || a.at - b.at).map((e) => e.node);
  };
  // Coordinates move with every probe: compare only when they held still around the request.
  const stable = async <T>(read: () => Promise<T>): Promise<T> => until("coordinates holding still for one request", async () => {
    const before = (await server.get("/v1/coordinate/nodes")).text;
    const value = await read();
    return (await server.get("/v1/coordinate/nodes")).text === before ? value : null;
  });

  const plainNodes = (await server.get("/v1/catalog/nodes")).json<{ Node: string }[]>().map((n) => n.Node);
  for (const near of ["near-client", "near-server", "_agent"]) {
    const from = near === "_agent" ? "near-server" : near;
    await stable(async () => {
      const sorted = (await server.get(`/v1/catalog/nodes?near=${near}`)).json<{ Node: string }[]>().map((n) => n.Node);
      t.deepEqual(sorted, expected(from, plainNodes), `catalog/nodes?near=${near}`);
      t.deepEqual(sorted.slice(2), ["ext-a", "ext-b"], "nodes without coordinates last, in catalog order");
      const services = (await server.get(`/v1/catalog/service/web?near=${near}`)).json<{ Node: string }[]>().map((s) => s.Node);
      const health = (await server.get(`/v1/health/service/web?near=${near}`)).json<{ Node: { Node: string } }[]>().map((s) => s.Node.Node);
      t.deepEqual(services, expected(from, (await server.get("/v1/catalog/service/web")).json<{ Node: string }[]>().map((s) => s.Node)));
      t.deepEqual(health, services, "health and catalog list instances in the same order");
    });
  }
  // The client agent answers ?near=_agent from its own node, with its own pool's coordinates.
  // Its pool knows the server's coordinate only after its own first probe of it, which a loaded
  // machine can delay past the server's: wait for that, then check the order.
  const fromClient = await until("the client agent's pool holding a coordinate for the server", async () => {
    const nodes = (await agentB.get("/v1/catalog/nodes?near=_agent")).json<{ Node: string }[]>().map((n) => n.Node);
    return nodes.slice(0, 2).includes("near-server") ? nodes : null;
  });
  t.deepEqual(fromClient.slice(2), ["ext-a", "ext-b"]);
  t.deepEqual(new Set(fromClient.slice(0, 2)), new Set(["near-client", "near-server"]));
  t.deepEqual((await server.get("/v1/catalog/nodes?near=nobody")).json<{ Node: string }[]>().map((n) => n.Node), plainNodes, "an unknown node: no sorting");
});
