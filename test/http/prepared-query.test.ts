/**
 * /v1/query against a real `-dev` agent (127.0.0.122): create, list, get, update, delete,
 * execute (health filters, tags, ?limit, ?near=_agent, ?connect refused), explain, template
 * lookup by the longest prefix, session-bound queries, Consul's error statuses and texts, and a
 * client agent (127.0.0.123) forwarding them.
 */
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent } from "../../src/agent/run.ts";
import { client, startDevAgent, type AgentApi } from "./harness.ts";

let api: AgentApi;
// The agent lives for the whole file: a before hook's own teardowns would stop it as the hook ends.
const teardowns: (() => unknown)[] = [];
test.after.always(async () => {
  for (const fn of teardowns) await fn();
});
test.before(async () => {
  api = await startDevAgent({ teardown: (fn) => teardowns.push(fn) }, "127.0.0.122", ["-node", "pq-node"]);
  for (const [node, status, tags] of [["pq-a", "passing", ["v1", "primary"]], ["pq-b", "warning", ["v1"]], ["pq-c", "critical", ["v2"]]] as const) {
    const res = await api.put("/v1/catalog/register", {
      Node: node, Address: `10.1.0.${node.charCodeAt(3)}`, NodeMeta: { rack: node === "pq-a" ? "a" : "b" },
      Service: { Service: "api", ID: "api", Port: 8080, Tags: tags },
      Check: { CheckID: "api-health", ServiceID: "api", Status: status, Name: "api health" },
    });
    if (res.status !== 200) throw new Error(`register ${node}: ${res.status} ${res.text}`);
  }
});

const nodesOf = (answer: { Nodes: { Node: { Node: string } }[] }): string[] => answer.Nodes.map((entry) => entry.Node.Node).sort();

test.serial("create answers {ID}; list, get, update and delete follow; blocking list wakes on a write", async (t) => {
  t.deepEqual((await api.get("/v1/query")).json(), []);
  const created = await api.call("POST", "/v1/query", { Name: "api", Service: { Service: "api", Tags: ["v1"] }, DNS: { TTL: "7s" } });
  t.is(created.status, 200, created.text);
  const { ID: id } = created.json<{ ID: string }>();
  t.regex(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const list = await api.get("/v1/query");
  const index = Number(list.headers.get("X-Consul-Index"));
  t.like(list.json()[0], { ID: id, Name: "api", Service: { Service: "api", Tags: ["v1"], OnlyPassing: false }, DNS: { TTL: "7s" }, ModifyIndex: index });
  const got = await api.get(`/v1/query/${id}`);
  t.is(got.status, 200);
  t.is(got.json().length, 1);

  const waiting = api.get(`/v1/query?index=${index}&wait=20s`);
  const updated = await api.put(`/v1/query/${id}`, { Name: "api", Service: { Service: "api", OnlyPassing: true } });
  t.is(updated.status, 200, updated.text);
  const woken = await waiting;
  t.true(Number(woken.headers.get("X-Consul-Index")) > index);
  t.like(woken.json()[0], { ID: id, Service: { OnlyPassing: true, Tags: [] } });

  t.is((await api.del(`/v1/query/${id}`)).status, 200);
  const gone = await api.get(`/v1/query/${id}`);
  t.deepEqual([gone.status, gone.text], [404, "Query not found"]);
  const again = await api.del(`/v1/query/${id}`);
  t.deepEqual([again.status, again.text], [500, `Cannot modify non-existent prepared query: '${id}'`]);
});

test.serial("execute: health and tag filters, Consul's answer shape, ?limit, by ID or name", async (t) => {
  const { ID: id } = (await api.call("POST", "/v1/query", { Name: "api-v1", Service: { Service: "api", Tags: ["v1", "!PRIMARY"] }, DNS: { TTL: "3s" } })).json<{ ID: string }>();
  const byName = await api.get("/v1/query/api-v1/execute");
  t.is(byName.status, 200, byName.text);
  const answer = byName.json();
  t.like(answer, { Service: "api", DNS: { TTL: "3s" }, Datacenter: "dc1", Failovers: 0, KnownLeader: true, ConsistencyLevel: "leader" });
  t.deepEqual(nodesOf(answer), ["pq-b"]);
  t.deepEqual(Object.keys(answer.Nodes[0]), ["Node", "Service", "Checks"]);
  t.false("near" in answer, "internal fields stay inside");
  t.deepEqual(nodesOf((await api.get(`/v1/query/${id}/execute`)).json()), ["pq-b"]);

  await api.call("POST", "/v1/query", { Name: "api-any", Service: { Service: "api", IgnoreCheckIDs: ["api-health"] } });
  t.deepEqual(nodesOf((await api.get("/v1/query/API-ANY/execute")).json()), ["pq-a", "pq-b", "pq-c"]);
  t.is((await api.get("/v1/query/api-any/execute?limit=2")).json().Nodes.length, 2);
  const near = (await api.get("/v1/query/api-any/execute?near=pq-c")).json();
  t.is(near.Nodes[0].Node.Node, "pq-c", "the near node itself comes first");
  const connect = await api.get("/v1/query/api-any/execute?connect=true");
  t.is(connect.status, 400);
  const badLimit = await api.get("/v1/query/api-any/execute?limit=many");
  t.is(badLimit.status, 400);

  const missing = await api.get("/v1/query/nothing-here/execute");
  t.deepEqual([missing.status, missing.text], [404, "Query not found"]);
});

test.serial("templates: the longest prefix answers, rendered; explain shows the rendered query", async (t) => {
  const created = await api.call("POST", "/v1/query", {
    Name: "geo-", Template: { Type: "name_prefix_match", Regexp: "^geo-(.+)$" }, Service: { Service: "${match(1)}", OnlyPassing: true },
  });
  t.is(created.status, 200, created.text);
  const explain = await api.get("/v1/query/geo-api/explain");
  t.is(explain.status, 200, explain.text);
  t.like(explain.json(), { Query: { Name: "geo-", Service: { Service: "api", OnlyPassing: true } }, KnownLeader: true });
  t.deepEqual(nodesOf((await api.get("/v1/query/geo-api/execute")).json()), ["pq-a"]);
  const stored = (await api.get(`/v1/query/${created.json().ID}`)).json()[0];
  t.is(stored.Service.Service, "${match(1)}");
});

test.serial("errors: Consul's statuses and wording", async (t) => {
  const noService = await api.call("POST", "/v1/query", { Name: "x", Service: {} });
  t.deepEqual([noService.status, noService.text], [500, "Invalid prepared query: Must provide a Service name to query"]);
  const badJson = await api.call("POST", "/v1/query", "{not json");
  t.is(badJson.status, 400);
  t.regex(badJson.text, /^Request decode failed: /);
  const badType = await api.call("POST", "/v1/query", { Name: 5, Service: { Service: "api" } });
  t.deepEqual([badType.status, badType.text], [400, "Request decode failed: Name must be a string"]);
  const withId = await api.call("POST", "/v1/query", { ID: "abc", Name: "y", Service: { Service: "api" } });
  t.deepEqual([withId.status, withId.text], [500, "ID must be empty when creating a new prepared query"]);
  await api.call("POST", "/v1/query", { Name: "dup", Service: { Service: "api" } });
  const dup = await api.call("POST", "/v1/query", { Name: "DUP", Service: { Service: "api" } });
  t.deepEqual([dup.status, dup.text], [500, "name 'DUP' aliases an existing query name"]);
  const badSession = await api.call("POST", "/v1/query", { Session: "nope", Service: { Service: "api" } });
  t.deepEqual([badSession.status, badSession.text], [500, `invalid session "nope"`]);
  t.is((await api.call("PATCH", "/v1/query")).status, 405);
});

test.serial("a query bound to a session goes when the session does", async (t) => {
  const session = (await api.put("/v1/session/create", { TTL: "" })).json<{ ID: string }>().ID;
  const { ID: id } = (await api.call("POST", "/v1/query", { Session: session, Service: { Service: "api" } })).json<{ ID: string }>();
  t.is((await api.get(`/v1/query/${id}/execute`)).status, 200);
  t.is((await api.put(`/v1/session/destroy/${session}`)).status, 200);
  t.is((await api.get(`/v1/query/${id}`)).status, 404);
});

test.serial("through a client agent (127.0.0.123): create is forwarded to the leader, execute runs there and Near=_agent puts the client first", async (t) => {
  t.timeout(120_000);
  const { config } = loadConfig(["-bind", "127.0.0.123", "-client", "127.0.0.123", "-data-dir", mkdtempSync(join(tmpdir(), "praetor-pq-")),
    "-node", "pq-client", "-retry-join", "127.0.0.122", "-dns-port", "-1", "-http-port", "0"]);
  const running = await startAgent(config, createLogger({ level: "warn", write: () => {} }));
  t.teardown(() => running.stop());
  const viaClient = client(`http://127.0.0.123:${running.httpPorts[0]!}`);
  t.is((await viaClient.put("/v1/agent/service/register", { ID: "api", Name: "api", Port: 81 })).status, 200);
  const created = await viaClient.call("POST", "/v1/query", { Name: "api-near", Service: { Service: "api", Near: "_agent", IgnoreCheckIDs: ["api-health"] } });
  t.is(created.status, 200, created.text);
  const deadline = Date.now() + 60_000;
  let nodes: string[] = [];
  while (Date.now() < deadline) {
    const res = await viaClient.get("/v1/query/api-near/execute");
    nodes = res.status === 200 ? res.json<{ Nodes: { Node: { Node: string } }[] }>().Nodes.map((e) => e.Node.Node) : [];
    if (nodes.includes("pq-client")) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.is(nodes.length, 4, nodes.join(","));
  t.is(nodes[0], "pq-client", "_agent is the client that answered");
  t.is((await api.get(`/v1/query/${created.json().ID}`)).status, 200, "the server holds the query the client created");
});
