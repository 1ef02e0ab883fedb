import test from "ava";
import { matrix, startApi } from "./harness.ts";

/** Tests that speak only HTTP run over the fake backend and against a real dev agent (127.0.7.x). */
const both = matrix(7);

test("status: leader is a JSON string, peers a list", async (t) => {
  const api = await startApi(t);
  t.is((await api.get("/v1/status/leader")).text, '"127.0.0.1:8300"');
  t.deepEqual((await api.get("/v1/status/peers")).json(), ["127.0.0.1:8300"]);
  api.backend.leader = "";
  t.is((await api.get("/v1/status/leader")).text, '""');
  t.deepEqual((await api.get("/v1/status/peers")).json(), []);
});

test("operator: raft configuration, peer removal by ?id or ?address, transfer-leader, autopilot 200/429", async (t) => {
  const api = await startApi(t);
  const config = (await api.get("/v1/operator/raft/configuration")).json();
  t.is(config.Servers[0].Leader, true);
  t.is(config.Index, 1);
  const none = await api.call("DELETE", "/v1/operator/raft/peer");
  t.is(none.status, 400);
  t.regex(none.text, /Must specify either \?id/);
  t.is((await api.call("DELETE", "/v1/operator/raft/peer?id=11111111-2222-3333-4444-555555555555")).status, 200);
  t.is((await api.call("DELETE", "/v1/operator/raft/peer?address=10.9.9.9:8300")).status, 500);
  t.is((await api.call("DELETE", "/v1/operator/raft/peer?id=a&address=b")).status, 400);
  const transfer = await api.call("POST", "/v1/operator/raft/transfer-leader");
  t.is(transfer.status, 500);
  t.is(transfer.text, "cannot find peer to transfer leadership to");
  t.is((await api.get("/v1/operator/autopilot/health")).status, 200);
  api.backend.healthy = false;
  const unhealthy = await api.get("/v1/operator/autopilot/health");
  t.is(unhealthy.status, 429);
  t.is(unhealthy.json().Healthy, false);
});

both("snapshot: GET saves the catalog with X-Consul-Index, PUT restores it on the running server; a malformed archive is a 400", async (t, api) => {
  await api.put("/v1/kv/keep", "before");
  const saved = await api.get("/v1/snapshot");
  t.is(saved.status, 200);
  t.true(saved.bytes.length > 0);
  t.truthy(saved.headers.get("x-consul-index"));
  await api.put("/v1/kv/keep", "after");
  await api.put("/v1/kv/extra", "x");
  const indexBefore = Number((await api.get("/v1/kv/keep")).headers.get("x-consul-index"));
  const restored = await api.put("/v1/snapshot", saved.bytes);
  t.is(restored.status, 200, restored.text);
  const keep = await api.get("/v1/kv/keep");
  t.is(Buffer.from(keep.json()[0].Value, "base64").toString(), "before");
  t.true(Number(keep.headers.get("x-consul-index")) > indexBefore, "the restore moves the index forward");
  t.is((await api.get("/v1/kv/extra")).status, 404);
  const garbage = await api.put("/v1/snapshot", "not a snapshot");
  t.is(garbage.status, 400);
  t.regex(garbage.text, /snapshot archive/);
  t.is((await api.put("/v1/snapshot", "")).status, 400);
});

both("coordinate: datacenters, nodes (with read headers), node/:node (404 when unknown)", async (t, api) => {
  t.is((await api.get("/v1/coordinate/datacenters")).json()[0].Datacenter, "dc1");
  const nodes = await api.get("/v1/coordinate/nodes");
  t.is(nodes.json()[0].Node, "node-a");
  t.truthy(nodes.headers.get("x-consul-index"));
  t.is((await api.get("/v1/coordinate/node/node-a")).json()[0].Node, "node-a");
  t.is((await api.get("/v1/coordinate/node/ghost")).status, 404);
  t.deepEqual((await api.get(`/v1/coordinate/nodes?filter=${encodeURIComponent("Node == other")}`)).json(), []);
});

both("event: fire with payload and filters, list by ?name, blocking list wakes on a new event", async (t, api) => {
  // The agent records an event whose service filter matches one of its services (shouldProcessUserEvent).
  t.is((await api.put("/v1/agent/service/register", { ID: "web", Name: "web", Tags: ["v2"], Port: 80 })).status, 200);
  const fired = await api.put("/v1/event/fire/deploy?service=web&tag=v2", "payload-1");
  t.is(fired.status, 200);
  const event = fired.json();
  t.like(event, { Name: "deploy", ServiceFilter: "web", TagFilter: "v2", NodeFilter: "" });
  t.is(Buffer.from(event.Payload, "base64").toString(), "payload-1");
  await api.put("/v1/event/fire/other");
  const list = await api.get("/v1/event/list?name=deploy");
  t.deepEqual(list.json().map((e: { ID: string }) => e.ID), [event.ID]);
  const index = Number(list.headers.get("x-consul-index"));
  t.true(index >= 1);
  const pending = api.get(`/v1/event/list?name=deploy&index=${index}&wait=5s`);
  await new Promise((r) => setTimeout(r, 100));
  await api.put("/v1/event/fire/deploy", "payload-2");
  const woke = await pending;
  t.is(woke.json().length, 2);
  t.not(woke.headers.get("x-consul-index"), String(index));
  const tagOnly = await api.put("/v1/event/fire/x?tag=v1");
  t.is(tagOnly.status, 500, "Consul's agent refuses it in UserEvent, answered as a 500");
  t.is(tagOnly.text, "Cannot provide tag filter without service filter");
  const empty = await api.get("/v1/event/list?name=never");
  t.deepEqual(empty.json(), []);
  t.is(empty.headers.get("x-consul-index"), "1", "never 0");
});
