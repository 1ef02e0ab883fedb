import { type AnyApi, matrix } from "./harness.ts";

/** Tests that speak only HTTP run over the fake backend and against a real dev agent (127.0.3.x). */
const both = matrix(3);

async function seed(api: AnyApi): Promise<void> {
  const register = async (body: object) => {
    const res = await api.put("/v1/catalog/register", body);
    if (res.status !== 200) throw new Error(`register: ${res.status} ${res.text}`);
  };
  await register({ Node: "n1", Address: "10.0.0.1", NodeMeta: { rack: "r1" }, Service: { ID: "web1", Service: "web", Tags: ["v1", "primary"], Port: 80, Meta: { env: "prod" } }, Check: { CheckID: "web1-ok", Name: "ok", Status: "passing", ServiceID: "web1" } });
  await register({ node: "n2", address: "10.0.0.2", nodemeta: { rack: "r2" }, service: { id: "web2", service: "web", tags: ["v2"], port: 8080 }, check: { checkid: "web2-bad", name: "bad", status: "critical", serviceid: "web2" } });
  await register({ Node: "n2", Address: "10.0.0.2", NodeMeta: { rack: "r2" }, Service: { ID: "db1", Service: "db", Port: 5432 } });
}

both("catalog: register (keys in any case), datacenters, nodes with ?node-meta, services", async (t, api) => {
  await seed(api);
  t.deepEqual((await api.get("/v1/catalog/datacenters")).json(), ["dc1"]);
  const nodes = await api.get("/v1/catalog/nodes");
  t.deepEqual(nodes.json().map((n: { Node: string }) => n.Node), ["n1", "n2", "node-a"]);
  t.truthy(nodes.headers.get("x-consul-index"));
  t.deepEqual((await api.get("/v1/catalog/nodes?node-meta=rack:r2")).json().map((n: { Node: string }) => n.Node), ["n2"]);
  const services = (await api.get("/v1/catalog/services")).json();
  // A server lists itself as the "consul" service, as Consul's servers do; the fake has no server.
  delete services.consul;
  t.deepEqual(services, { db: [], web: ["primary", "v1", "v2"] });
  t.deepEqual((await api.get("/v1/catalog/services?node-meta=rack:r1")).json(), { web: ["primary", "v1"] });
});

both("catalog: service/:name with repeated ?tag, ?node-meta and ?filter; Traefik's order matches health", async (t, api) => {
  await seed(api);
  const all = (await api.get("/v1/catalog/service/web")).json();
  t.deepEqual(all.map((e: { ServiceID: string }) => e.ServiceID), ["web1", "web2"]);
  t.like(all[0], { Node: "n1", Address: "10.0.0.1", ServiceName: "web", ServicePort: 80, ServiceTags: ["v1", "primary"], ServiceMeta: { env: "prod" }, NodeMeta: { rack: "r1" } });
  const ids = async (query: string) => (await api.get(`/v1/catalog/service/web${query}`)).json().map((e: { ServiceID: string }) => e.ServiceID);
  t.deepEqual(await ids("?tag=v1&tag=primary"), ["web1"]);
  t.deepEqual(await ids("?tag=v1&tag=v2"), []);
  t.deepEqual(await ids("?node-meta=rack:r2"), ["web2"]);
  t.deepEqual(await ids(`?filter=${encodeURIComponent('ServiceMeta.env == "prod"')}`), ["web1"]);
  t.deepEqual(await ids(`?filter=${encodeURIComponent("ServicePort != 80")}`), ["web2"]);
  t.deepEqual(await ids("?near=_agent"), ["web1", "web2"]);
  const health = (await api.get("/v1/health/service/web")).json();
  t.deepEqual(health.map((e: { Service: { ID: string } }) => e.Service.ID), ["web1", "web2"]);
  t.deepEqual((await api.get("/v1/catalog/service/nothing")).json(), []);
});

both("catalog: node/:node and node-services/:node; an unknown node is null", async (t, api) => {
  await seed(api);
  const node = (await api.get("/v1/catalog/node/n2")).json();
  t.is(node.Node.Address, "10.0.0.2");
  t.deepEqual(Object.keys(node.Services).sort(), ["db1", "web2"]);
  const list = (await api.get("/v1/catalog/node-services/n2")).json();
  t.deepEqual(list.Services.map((s: { ID: string }) => s.ID).sort(), ["db1", "web2"]);
  const ghost = await api.get("/v1/catalog/node/ghost");
  t.is(ghost.status, 200);
  t.is(ghost.text, "null");
  t.is((await api.get("/v1/catalog/node/")).text, "Missing node name");
});

both("catalog: deregister a service, then the node; bad registrations are 400s naming the field", async (t, api) => {
  await seed(api);
  t.is((await api.put("/v1/catalog/deregister", { Node: "n2", ServiceID: "db1" })).text, "true");
  t.deepEqual((await api.get("/v1/catalog/service/db")).json(), []);
  t.is((await api.put("/v1/catalog/deregister", { Node: "n2" })).text, "true");
  t.is((await api.get("/v1/catalog/node/n2")).text, "null");
  const noNode = await api.put("/v1/catalog/register", { Address: "1.2.3.4" });
  t.is(noNode.status, 400);
  t.regex(noNode.text, /Node/);
  const badPort = await api.put("/v1/catalog/register", { Node: "x", Address: "1.2.3.4", Service: { Service: "s", Port: "eighty" } });
  t.is(badPort.status, 400);
  t.regex(badPort.text, /Port must be a number/);
  t.is((await api.put("/v1/catalog/register", "")).status, 400);
  t.is((await api.get("/v1/catalog/register")).status, 405);
});

both("health: service with ?passing, ?tag, ?filter; checks/:service; node/:node; state/:state", async (t, api) => {
  await seed(api);
  const ids = async (path: string) => (await api.get(path)).json().map((e: { Service: { ID: string } }) => e.Service.ID);
  t.deepEqual(await ids("/v1/health/service/web?passing"), ["web1"]);
  t.deepEqual(await ids("/v1/health/service/web?passing=1"), ["web1"]);
  t.deepEqual(await ids("/v1/health/service/web?passing=false"), ["web1", "web2"]);
  t.deepEqual(await ids("/v1/health/service/web?tag=v2"), ["web2"]);
  t.deepEqual(await ids(`/v1/health/service/web?filter=${encodeURIComponent('"critical" in Checks.Status')}`), ["web2"]);
  const bad = await api.get("/v1/health/service/web?passing=maybe");
  t.is(bad.status, 400);
  t.regex(bad.text, /passing/);
  const entry = (await api.get("/v1/health/service/db")).json()[0];
  t.deepEqual(entry.Checks, [], "Checks is [] never null");
  t.deepEqual(entry.Service.Tags, [], "Tags is [] never null");
  const checks = (await api.get("/v1/health/checks/web")).json();
  t.deepEqual(checks.map((c: { CheckID: string }) => c.CheckID), ["web1-ok", "web2-bad"]);
  t.deepEqual((await api.get("/v1/health/node/n1")).json().map((c: { CheckID: string }) => c.CheckID), ["web1-ok"]);
  t.deepEqual((await api.get("/v1/health/state/critical")).json().map((c: { CheckID: string }) => c.CheckID), ["web2-bad"]);
  t.deepEqual((await api.get("/v1/health/state/passing")).json().map((c: { CheckID: string }) => c.CheckID).sort(), ["serfHealth", "web1-ok"]);
  t.is((await api.get("/v1/health/state/any")).json().length, 3);
  t.deepEqual((await api.get("/v1/health/state/warning")).json(), []);
  const state = await api.get("/v1/health/state/sick");
  t.is(state.status, 400);
  t.is(state.text, "Invalid check state");
});

both("health: a blocking query on a service wakes on that service only", async (t, api) => {
  await seed(api);
  const index = Number((await api.get("/v1/health/service/web")).headers.get("x-consul-index"));
  let settled = false;
  const pending = api.get(`/v1/health/service/web?index=${index}&wait=5s`).then((r) => {
    settled = true;
    return r;
  });
  await api.put("/v1/kv/noise", "x");
  await api.put("/v1/catalog/register", { Node: "n3", Address: "10.0.0.3", Service: { Service: "db", ID: "db2" } });
  await new Promise((r) => setTimeout(r, 150));
  t.false(settled, "KV and other-service writes must not wake a health/service/web watcher");
  await api.put("/v1/catalog/register", { Node: "n3", Address: "10.0.0.3", Service: { Service: "web", ID: "web3" } });
  const woke = await pending;
  t.is(woke.json().length, 3);
  t.true(Number(woke.headers.get("x-consul-index")) > index);
});

both("catalog: ?dc of an unknown datacenter is 500 No path to datacenter; ?dc=dc1 works", async (t, api) => {
  const res = await api.get("/v1/catalog/nodes?dc=mars");
  t.is(res.status, 500);
  t.is(res.text, "No path to datacenter");
  t.is((await api.get("/v1/catalog/nodes?dc=dc1")).status, 200);
  t.is((await api.put("/v1/kv/a?dc=mars", "x")).text, "No path to datacenter");
});
