import test from "ava";
import { matrix, startApi } from "./harness.ts";

/** Tests that speak only HTTP run over the fake backend and against a real dev agent (127.0.6.x). */
const both = matrix(6);

both("agent: self carries Config.Datacenter, NodeName, SessionTTLMin, Member and Coord", async (t, api) => {
  const self = (await api.get("/v1/agent/self")).json();
  t.like(self.Config, { Datacenter: "dc1", NodeName: "node-a", SessionTTLMin: "10s" });
  t.is(self.Member.Status, 1);
  t.true(Array.isArray(self.Coord.Vec));
});

both("agent: members with Serf's numeric status; ?wan lists the WAN pool; ?pretty indents", async (t, api) => {
  const lan = (await api.get("/v1/agent/members")).json();
  t.deepEqual(Object.keys(lan[0]), ["Name", "Addr", "Port", "Tags", "Status", "ProtocolMin", "ProtocolMax", "ProtocolCur", "DelegateMin", "DelegateMax", "DelegateCur"]);
  t.is((await api.get("/v1/agent/members?wan")).json()[0].Name, "node-a.dc1");
  t.is((await api.get("/v1/agent/members?wan=1")).json()[0].Name, "node-a.dc1");
  t.is((await api.get("/v1/agent/members?wan=false")).json()[0].Name, "node-a");
  const pretty = await api.get("/v1/agent/members?pretty");
  t.true(pretty.text.startsWith('[\n    {\n        "Name"'), pretty.text.slice(0, 40));
  t.true(pretty.text.endsWith("\n"));
});

test("agent: service register (with ?replace-existing-checks), services with ?filter, service/:id, deregister", async (t) => {
  const api = await startApi(t);
  const reg = await api.put("/v1/agent/service/register?replace-existing-checks", { name: "web", id: "web1", port: 80, tags: ["a"], check: { ttl: "10s" } });
  t.is(reg.status, 200, reg.text);
  t.is(reg.text, "");
  const call = api.backend.calls.find((c) => c.method === "registerService")!;
  t.deepEqual(call.args[1], { replaceExistingChecks: true });
  await api.put("/v1/agent/service/register", { Name: "db", Port: 5432 });
  t.deepEqual(Object.keys((await api.get("/v1/agent/services")).json()).sort(), ["db", "web1"]);
  t.deepEqual(Object.keys((await api.get(`/v1/agent/services?filter=${encodeURIComponent("Port == 80")}`)).json()), ["web1"]);
  const bad = await api.get(`/v1/agent/services?filter=${encodeURIComponent("Port ==")}`);
  t.is(bad.status, 400);
  t.regex(bad.text, /^Failed to create boolean expression evaluator: .*character 8/);
  t.is((await api.get("/v1/agent/service/web1")).json().Service, "web");
  const missing = await api.get("/v1/agent/service/nope");
  t.is(missing.status, 404);
  t.is(missing.text, "unknown service ID: nope");
  t.is((await api.put("/v1/agent/service/register", { Port: 1 })).status, 400);
  t.is((await api.put("/v1/agent/service/register?replace-existing-checks=perhaps", { Name: "x" })).status, 400);
  t.is((await api.put("/v1/agent/service/deregister/db")).status, 200);
  t.is((await api.put("/v1/agent/service/deregister/db")).status, 404);
});

both("agent: checks, TTL pass/warn/fail with ?note, update with a body, deregister", async (t, api) => {
  await api.put("/v1/agent/service/register", { Name: "web", ID: "web1", Check: { TTL: "10s" } });
  await api.put("/v1/agent/check/register", { Name: "mem", CheckID: "mem", TTL: "30s" });
  const status = async (id: string) => (await api.get("/v1/agent/checks")).json()[id];
  t.is((await api.put("/v1/agent/check/pass/service:web1?note=ok")).status, 200);
  t.like(await status("service:web1"), { Status: "passing", Output: "ok" });
  await api.put("/v1/agent/check/warn/mem");
  t.is((await status("mem")).Status, "warning");
  await api.put("/v1/agent/check/fail/mem?note=oom");
  t.like(await status("mem"), { Status: "critical", Output: "oom" });
  t.is((await api.put("/v1/agent/check/update/mem", { Status: "passing", Output: "fine" })).status, 200);
  t.like(await status("mem"), { Status: "passing", Output: "fine" });
  const badStatus = await api.put("/v1/agent/check/update/mem", { Status: "great" });
  t.is(badStatus.status, 400);
  t.is(badStatus.text, "Invalid check status: 'great'");
  t.deepEqual(Object.keys((await api.get(`/v1/agent/checks?filter=${encodeURIComponent("Status == passing")}`)).json()).sort(), ["mem", "service:web1"]);
  const unknown = await api.put("/v1/agent/check/pass/nope");
  t.is(unknown.status, 404);
  t.regex(unknown.text, /Unknown check ID "nope"/);
  t.is((await api.put("/v1/agent/check/deregister/mem")).status, 200);
  t.is((await status("mem")), undefined);
  t.is((await api.put("/v1/agent/check/register", { CheckID: "x" })).status, 400);
});

both("agent: health/service/name and id answer 200/429/503 (and ?format=text) as Consul does", async (t, api) => {
  await api.put("/v1/agent/service/register", { Name: "web", ID: "web1", Check: { TTL: "10s" } });
  await api.put("/v1/agent/service/register", { Name: "web", ID: "web2", Check: { TTL: "10s" } });
  await api.put("/v1/agent/check/pass/service:web1");
  await api.put("/v1/agent/check/warn/service:web2");
  const byName = await api.get("/v1/agent/health/service/name/web");
  t.is(byName.status, 429);
  t.deepEqual(byName.json().map((e: { AggregatedStatus: string }) => e.AggregatedStatus), ["passing", "warning"]);
  const one = await api.get("/v1/agent/health/service/id/web1");
  t.is(one.status, 200);
  t.like(one.json(), { AggregatedStatus: "passing", Service: { ID: "web1" } });
  const text = await api.get("/v1/agent/health/service/id/web2?format=text");
  t.is(text.status, 429);
  t.is(text.text, "warning");
  await api.put("/v1/agent/check/fail/service:web2");
  t.is((await api.get("/v1/agent/health/service/name/web?format=text")).text, "critical");
  t.is((await api.get("/v1/agent/health/service/name/web")).status, 503);
  t.is((await api.get("/v1/agent/health/service/name/none")).status, 404);
  const noId = await api.get("/v1/agent/health/service/id/none");
  t.is(noId.status, 404);
  t.is(noId.text, "ServiceId none not found");
});

test("agent: node and service maintenance need ?enable; maintenance makes local health 503", async (t) => {
  const api = await startApi(t);
  await api.put("/v1/agent/service/register", { Name: "web", ID: "web1", Check: { TTL: "10s" } });
  await api.put("/v1/agent/check/pass/service:web1");
  const missing = await api.put("/v1/agent/maintenance");
  t.is(missing.status, 400);
  t.is(missing.text, "Missing value for enable");
  t.is((await api.put("/v1/agent/maintenance?enable=yes")).status, 400);
  t.is((await api.put("/v1/agent/maintenance?enable=true&reason=patching")).status, 200);
  t.is(api.backend.nodeMaintenanceReason, "patching");
  const health = await api.get("/v1/agent/health/service/id/web1");
  t.is(health.status, 503);
  t.is(health.json().AggregatedStatus, "maintenance");
  await api.put("/v1/agent/maintenance?enable=false");
  t.is(api.backend.nodeMaintenanceReason, null);
  t.is((await api.put("/v1/agent/service/maintenance/web1?enable=true")).status, 200);
  t.truthy((await api.get("/v1/agent/checks")).json()["_service_maintenance:web1"]);
  t.is((await api.put("/v1/agent/service/maintenance/ghost?enable=true")).status, 404);
});

test("agent: join, leave, force-leave (?prune, ?wan), reload", async (t) => {
  const api = await startApi(t);
  t.is((await api.put("/v1/agent/join/10.0.0.5:8301?wan")).status, 200);
  t.deepEqual(api.backend.calls.find((c) => c.method === "join")!.args, ["10.0.0.5:8301", { wan: true }]);
  const badJoin = await api.put("/v1/agent/join/bad%20addr");
  t.is(badJoin.status, 500);
  t.regex(badJoin.text, /Failed to resolve/);
  t.is((await api.put("/v1/agent/force-leave/n9?prune")).status, 200);
  t.deepEqual(api.backend.calls.find((c) => c.method === "forceLeave")!.args, ["n9", { prune: true, wan: false }]);
  t.is((await api.put("/v1/agent/reload")).status, 200);
  t.is(api.backend.reloads, 1);
  t.is((await api.put("/v1/agent/leave")).status, 200);
  t.true(api.backend.left);
  t.is((await api.get("/v1/agent/leave")).status, 405);
});

both("agent: metrics as JSON and as Prometheus text; host", async (t, api) => {
  await api.put("/v1/kv/a", "1");
  const json = (await api.get("/v1/agent/metrics")).json();
  t.true(Array.isArray(json.Gauges));
  const prom = await api.get("/v1/agent/metrics?format=prometheus");
  t.regex(prom.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  t.regex(prom.text, /^# TYPE consul_\w+ gauge$/m);
  t.regex(prom.text, /^consul_\w+ \d+$/m);
  t.truthy((await api.get("/v1/agent/host")).json().Host);
});

test("agent: monitor streams log lines at ?loglevel and above until the client goes away", async (t) => {
  const api = await startApi(t);
  const controller = new AbortController();
  const res = await fetch(`${api.base}/v1/agent/monitor?loglevel=warn`, { signal: controller.signal });
  t.is(res.status, 200);
  t.is(api.backend.monitorCount, 1);
  const reader = res.body!.getReader();
  api.backend.log("info", "not shown");
  api.backend.log("warn", "disk almost full");
  api.backend.log("error", "disk full");
  let text = "";
  while (!text.includes("disk full\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  t.notRegex(text, /not shown/);
  t.regex(text, /\[WARN\] agent: disk almost full\n.*\[ERROR\] agent: disk full\n/);
  controller.abort();
  await reader.cancel().catch(() => {});
  for (let i = 0; i < 50 && api.backend.monitorCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.is(api.backend.monitorCount, 0, "the agent's subscription ends with the connection");
  t.is((await api.get("/v1/agent/monitor?loglevel=loud")).status, 400);
});
