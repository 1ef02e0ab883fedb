import test from "ava";
import { Script } from "./harness.ts";

test("register: node, service and checks land with the write's index as Create/ModifyIndex", (t) => {
  const s = new Script();
  s.ok({
    op: "catalog.register", Node: "n1", ID: "id-1", Address: "10.0.0.1", TaggedAddresses: { lan: "10.0.0.1" },
    NodeMeta: { rack: "r1" }, Service: { ID: "web-1", Service: "web", Tags: ["v1"], Port: 8080 },
    Checks: [{ CheckID: "service:web-1", Name: "web alive", Status: "passing", ServiceID: "web-1" }],
  });
  const [entry] = s.catalog.catalogService("web").value;
  t.like(entry, {
    ID: "id-1", Node: "n1", Address: "10.0.0.1", Datacenter: "dc1", TaggedAddresses: { lan: "10.0.0.1" },
    NodeMeta: { rack: "r1" }, ServiceKind: "", ServiceID: "web-1", ServiceName: "web", ServiceTags: ["v1"],
    ServiceAddress: "", ServiceWeights: { Passing: 1, Warning: 1 }, ServiceMeta: {}, ServicePort: 8080,
    ServiceEnableTagOverride: false, CreateIndex: 1, ModifyIndex: 1,
  });
  const [check] = s.catalog.healthChecks("web").value;
  t.like(check, { CheckID: "service:web-1", ServiceName: "web", ServiceTags: ["v1"], Status: "passing", CreateIndex: 1 });
});

test("register: a write that changes nothing keeps ModifyIndex and every table index", (t) => {
  const s = new Script();
  const body = {
    op: "catalog.register" as const, Node: "n1", Address: "10.0.0.1", Service: { Service: "web", Port: 80 },
    Checks: [{ CheckID: "c1", Status: "passing", ServiceID: "web" }],
  };
  s.ok(body);
  s.ok(body);
  t.is(s.catalog.catalogNodes().value[0]!.ModifyIndex, 1);
  t.is(s.catalog.catalogNodes().index, 1);
  t.is(s.catalog.catalogService("web").value[0]!.ModifyIndex, 1);
  t.is(s.catalog.healthChecks("web").value[0]!.ModifyIndex, 1);
  t.is(s.catalog.healthService("web").index, 1);
  s.ok({ ...body, Service: { Service: "web", Port: 81 } });
  t.is(s.catalog.catalogService("web").value[0]!.ModifyIndex, 3);
  t.is(s.catalog.catalogService("web").value[0]!.CreateIndex, 1);
  t.is(s.catalog.catalogNodes().value[0]!.ModifyIndex, 1, "the node did not change");
});

test("register: a check without status is critical, an unknown status is a 400", (t) => {
  const s = new Script();
  s.ok({ op: "catalog.register", Node: "n1", Address: "a", Check: { CheckID: "c" } });
  t.is(s.catalog.healthNode("n1").value[0]!.Status, "critical");
  const error = s.err({ op: "catalog.register", Node: "n1", Address: "a", Check: { CheckID: "c", Status: "bogus" } });
  t.is(error.status, 400);
});

test("register: a check for a service the node lacks is refused and writes nothing", (t) => {
  const s = new Script();
  const error = s.err({ op: "catalog.register", Node: "n1", Address: "a", Checks: [{ CheckID: "c", ServiceID: "nope" }] });
  t.is(error.message, "Missing service registration");
  t.deepEqual(s.catalog.catalogNodes().value, []);
});

test("deregister node: cascades to its services, checks and sessions", (t) => {
  const s = new Script();
  s.node("n1");
  s.service("n1", "web", {}, [{ CheckID: "web-check", Status: "passing", ServiceID: "web" }]);
  s.session("s1", "n1", { Checks: [] });
  s.lock("lock/a", "s1");
  s.ok({ op: "catalog.deregister", Node: "n1" });
  t.deepEqual(s.catalog.catalogNodes().value, []);
  t.deepEqual(s.catalog.catalogService("web").value, []);
  t.deepEqual(s.catalog.healthState("any").value, []);
  t.deepEqual(s.catalog.sessionList().value, []);
  t.is(s.catalog.kvGet("lock/a").value!.Session, undefined, "the lock was released");
  s.catalog.invariants();
});

test("deregister service: takes its checks, leaves node checks and other services", (t) => {
  const s = new Script();
  s.node("n1");
  s.service("n1", "web", {}, [{ CheckID: "web-check", Status: "passing", ServiceID: "web" }]);
  s.service("n1", "db");
  s.ok({ op: "catalog.deregister", Node: "n1", ServiceID: "web" });
  t.deepEqual(Object.keys(s.catalog.catalogNode("n1").value!.Services), ["db"]);
  t.deepEqual(s.catalog.healthNode("n1").value.map((c) => c.CheckID), ["serfHealth"]);
});

test("deregister check: removes only the check", (t) => {
  const s = new Script();
  s.node("n1");
  s.service("n1", "web", {}, [{ CheckID: "web-check", Status: "passing", ServiceID: "web" }]);
  s.ok({ op: "catalog.deregister", Node: "n1", CheckID: "web-check" });
  t.deepEqual(s.catalog.healthNode("n1").value.map((c) => c.CheckID), ["serfHealth"]);
  t.is(s.catalog.catalogService("web").value.length, 1);
});

test("indexes: deletes move table and service indexes forward, never back", (t) => {
  const s = new Script();
  s.node("n1");
  s.service("n1", "web");
  const before = s.catalog.catalogService("web").index;
  s.ok({ op: "catalog.deregister", Node: "n1", ServiceID: "web" });
  const after = s.catalog.catalogService("web").index;
  t.true(after > before);
  t.is(after, s.index);
  t.is(s.catalog.catalogServices().index, s.index);
  s.ok({ op: "catalog.deregister", Node: "n1" });
  t.is(s.catalog.catalogNodes().index, s.index);
  s.ok({ op: "catalog.deregister", Node: "missing" });
  t.is(s.catalog.catalogNodes().index, s.index - 1, "deleting nothing touches nothing");
});

test("indexes: an empty catalog answers index 1, never 0", (t) => {
  const s = new Script();
  t.is(s.catalog.catalogNodes().index, 1);
  t.is(s.catalog.kvGet("x").index, 1);
  t.is(s.catalog.healthService("web").index, 1);
});

test("register: a node check change bumps the index of every service on the node", (t) => {
  const s = new Script();
  s.node("n1");
  s.service("n1", "web");
  s.service("n1", "db");
  s.ok({ op: "catalog.register", Node: "n1", Address: "10.0.0.2", Check: { CheckID: "serfHealth", Status: "critical" } });
  t.is(s.catalog.healthService("web").index, s.index);
  t.is(s.catalog.healthService("db").index, s.index);
});

test("register: renaming a service moves the instance between names", (t) => {
  const s = new Script();
  s.node("n1");
  s.service("n1", "web", { ID: "x" });
  s.service("n1", "api", { ID: "x" });
  t.deepEqual(s.catalog.catalogService("web").value, []);
  t.is(s.catalog.catalogService("api").value.length, 1);
  t.is(s.catalog.catalogService("web").index, s.index);
  s.catalog.invariants();
});

test("register: an empty address is refused unless SkipNodeUpdate is set, which keeps an existing node as it is", (t) => {
  const s = new Script();
  t.is(s.err({ op: "catalog.register", Node: "n1", Address: "" }).status, 500);
  s.node("n1");
  s.ok({ op: "catalog.register", Node: "n1", Address: "", SkipNodeUpdate: true, Service: { Service: "web" } });
  t.is(s.catalog.catalogNodes().value[0]!.Address, "10.0.0.2");
});

test("register: SkipNodeUpdate for a node not yet registered creates it with an empty address, as Consul does (the Go api's tests register in map order)", (t) => {
  const s = new Script();
  s.ok({ op: "catalog.register", Node: "baz", Address: "", SkipNodeUpdate: true, Service: { Service: "critical", ID: "criticalV2", Port: 8080 } });
  t.like(s.catalog.catalogNodes().value[0], { Node: "baz", Address: "" });
  t.is(s.catalog.catalogService("critical").value.length, 1);
  s.ok({ op: "catalog.register", Node: "baz", Address: "10.0.0.9" });
  t.is(s.catalog.catalogNodes().value[0]!.Address, "10.0.0.9");
  s.catalog.invariants();
});
