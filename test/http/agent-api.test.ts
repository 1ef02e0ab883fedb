/**
 * What the fake-only tests (they inspect the fake backend's recorded calls) check, asked of a
 * real `-dev` agent (127.0.0.90) through HTTP alone: status and operator answers, consistency
 * modes and their headers, parameter and body errors, a read-only txn without a Raft write,
 * maintenance, and the token order reaching a real agent without breaking reads.
 */
import test from "ava";
import { startDevAgent, type AgentApi } from "./harness.ts";

let api: AgentApi;
const stops: (() => unknown)[] = [];

test.before(async () => {
  api = await startDevAgent({ teardown: (stop) => stops.push(stop) }, "127.0.0.90", ["-node", "api-node"]);
});

test.after.always(async () => {
  for (const stop of stops) await stop();
});

async function gauge(name: string): Promise<number> {
  const gauges = (await api.get("/v1/agent/metrics")).json<{ Gauges: { Name: string; Value: number }[] }>().Gauges;
  return gauges.find((g) => g.Name === name)!.Value;
}

test.serial("real agent: status leader and peers name this server's RPC address; raft configuration; autopilot", async (t) => {
  t.is((await api.get("/v1/status/leader")).json(), "127.0.0.90:8300");
  t.deepEqual((await api.get("/v1/status/peers")).json(), ["127.0.0.90:8300"]);
  const config = (await api.get("/v1/operator/raft/configuration")).json();
  t.is(config.Servers.length, 1);
  t.like(config.Servers[0], { Node: "api-node", Address: "127.0.0.90:8300", Leader: true, Voter: true });
  t.true(config.Index >= 1);
  const health = await api.get("/v1/operator/autopilot/health");
  t.is(health.status, 200, health.text);
  t.is(health.json().Healthy, true);
  const none = await api.call("DELETE", "/v1/operator/raft/peer");
  t.is(none.status, 400);
  t.regex(none.text, /Must specify either \?id/);
  t.is((await api.call("DELETE", "/v1/operator/raft/peer?id=a&address=b")).status, 400);
});

test.serial("real agent: consistency modes and their headers; ?stale with ?consistent and bad max_stale are 400s", async (t) => {
  await api.put("/v1/kv/modes", "x");
  const header = async (query: string) => {
    const res = await api.get(`/v1/kv/modes${query}`);
    t.is(res.status, 200, `${query}: ${res.text}`);
    return [res.headers.get("x-consul-effective-consistency"), res.headers.get("x-consul-knownleader"), res.headers.get("x-consul-lastcontact")];
  };
  t.deepEqual(await header(""), ["leader", "true", "0"]);
  t.deepEqual(await header("?stale"), ["stale", "true", "0"]);
  t.deepEqual(await header("?stale="), ["stale", "true", "0"]);
  t.deepEqual(await header("?consistent"), ["consistent", "true", "0"]);
  t.deepEqual(await header("?max_stale=2s"), ["stale", "true", "0"]);
  const both = await api.get("/v1/kv/modes?stale&consistent");
  t.is(both.status, 400);
  t.is(both.text, "Cannot specify ?stale with ?consistent, conflicting semantics.");
  t.is((await api.get("/v1/kv/modes?consistent&max_stale=5s")).status, 400);
  t.is((await api.get("/v1/catalog/nodes?max_stale=soon")).text, 'Invalid max_stale value "soon"');
  t.is((await api.get("/v1/kv/modes?index=abc")).status, 400);
  t.is((await api.get("/v1/kv/modes?index=1&wait=forever")).status, 400);
});

test.serial("real agent: bad ?filter, unknown paths and methods, body limits, malformed JSON, unknown ?dc", async (t) => {
  const filter = await api.get(`/v1/catalog/nodes?filter=${encodeURIComponent("Node ==")}`);
  t.is(filter.status, 400);
  t.regex(filter.text, /^Failed to create boolean expression evaluator/);
  const unknown = await api.get("/v1/nope");
  t.is(unknown.status, 404);
  t.is(unknown.text, "Invalid URL path: not a recognized HTTP API endpoint");
  const method = await api.call("POST", "/v1/kv/x");
  t.is(method.status, 405);
  t.truthy(method.headers.get("allow"));
  const big = await api.put("/v1/agent/service/register", "x".repeat(4 * 1024 * 1024 + 1));
  t.is(big.status, 413);
  t.regex(big.text, /^Request body\(\d+ bytes\) too large, max size: 4194304 bytes$/);
  const kvBig = await api.put("/v1/kv/big", new Uint8Array(512 * 1024 + 1));
  t.is(kvBig.status, 413);
  const malformed = await api.put("/v1/session/create", "{not json");
  t.is(malformed.status, 400);
  t.regex(malformed.text, /^Request decode failed: /);
  const dc = await api.get("/v1/catalog/nodes?dc=elsewhere");
  t.is(dc.status, 500);
  t.is(dc.text, "No path to datacenter");
  t.is((await api.get("/v1/catalog/nodes?dc=dc1")).status, 200);
  const pretty = await api.get("/v1/catalog/nodes?pretty");
  t.true(pretty.text.includes("\n    "), "?pretty indents by four spaces");
});

test.serial("real agent: a read-only txn makes no Raft write; a failing one is 409 with Errors", async (t) => {
  await api.put("/v1/kv/r/a", "A");
  await api.put("/v1/kv/r/b", "B");
  const writes = await gauge("praetor.raft.writes");
  const res = await api.put("/v1/txn", [{ KV: { Verb: "get", Key: "r/a" } }, { KV: { Verb: "get-tree", Key: "r/" } }]);
  t.is(res.status, 200, res.text);
  t.truthy(res.headers.get("x-consul-index"));
  t.deepEqual(res.json().Results.map((r: { KV: { Value: string } }) => Buffer.from(r.KV.Value, "base64").toString()), ["A", "A", "B"]);
  t.is(await gauge("praetor.raft.writes"), writes, "no write for a read-only txn");
  const miss = await api.put("/v1/txn", [{ KV: { Verb: "get", Key: "r/none" } }]);
  t.is(miss.status, 409);
  t.deepEqual(miss.json(), { Results: null, Errors: [{ OpIndex: 0, What: 'key "r/none" doesn\'t exist' }] });
});

test.serial("real agent: node and service maintenance reach the catalog; local health answers 503 under maintenance", async (t) => {
  t.is((await api.put("/v1/agent/service/register", { Name: "web", ID: "web1", Check: { TTL: "10s" } })).status, 200);
  await api.put("/v1/agent/check/pass/service:web1");
  t.is((await api.put("/v1/agent/maintenance")).text, "Missing value for enable");
  t.is((await api.put("/v1/agent/maintenance?enable=true&reason=patching")).status, 200);
  const health = await api.get("/v1/agent/health/service/id/web1");
  t.is(health.status, 503);
  t.is(health.json().AggregatedStatus, "maintenance");
  const deadline = Date.now() + 30_000;
  let checks: { CheckID: string; Notes: string }[] = [];
  while (Date.now() < deadline) {
    checks = (await api.get("/v1/health/node/api-node")).json();
    if (checks.some((c) => c.CheckID === "_node_maintenance")) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.is(checks.find((c) => c.CheckID === "_node_maintenance")?.Notes, "patching", "anti-entropy carried the maintenance check to the catalog");
  t.is((await api.put("/v1/agent/maintenance?enable=false")).status, 200);
  t.is((await api.put("/v1/agent/service/maintenance/ghost?enable=true")).status, 404);
});

test.serial("real agent: ?token, X-Consul-Token and Authorization: Bearer are accepted on reads and writes", async (t) => {
  t.is((await api.put("/v1/kv/tok?token=a", "1")).text, "true");
  t.is((await api.get("/v1/kv/tok", { "X-Consul-Token": "b" })).status, 200);
  t.is((await api.get("/v1/kv/tok", { Authorization: "Bearer c" })).status, 200);
});
