import test from "ava";
import { Script } from "./harness.ts";
import { aggregatedStatus, nodeMaintenanceCheckId, serviceMaintenanceCheckPrefix, type CheckStatus } from "./imports.ts";

function cluster(): Script {
  const s = new Script();
  s.node("n2", { NodeMeta: { rack: "b" } });
  s.node("n1", { NodeMeta: { rack: "a" } });
  s.node("n3", { NodeMeta: { rack: "a" } });
  s.service("n2", "web", { ID: "web", Tags: ["Primary", "v1"] }, [{ CheckID: "web-up", Status: "passing", ServiceID: "web" }]);
  s.service("n1", "web", { ID: "web-b", Tags: ["v1"] }, [{ CheckID: "web-b-up", Status: "passing", ServiceID: "web-b" }]);
  s.service("n1", "web", { ID: "web-a", Tags: ["v2"] }, [{ CheckID: "web-a-up", Status: "warning", ServiceID: "web-a" }]);
  s.service("n3", "web", { ID: "web", Tags: ["v1"] }, [{ CheckID: "web-up", Status: "passing", ServiceID: "web" }]);
  return s;
}

test("health service: entries are {Node, Service, Checks} with node checks included, in CheckID order", (t) => {
  const s = cluster();
  const [first] = s.catalog.healthService("web").value;
  t.is(first!.Node.Node, "n1");
  t.is(first!.Service.ID, "web-a");
  t.deepEqual(first!.Checks.map((c) => c.CheckID), ["serfHealth", "web-a-up"]);
});

test("catalog and health list instances in the same order (Traefik pairs them by position)", (t) => {
  const s = cluster();
  const catalog = s.catalog.catalogService("web").value.map((e) => `${e.Node}/${e.ServiceID}`);
  const health = s.catalog.healthService("web").value.map((e) => `${e.Node.Node}/${e.Service.ID}`);
  t.deepEqual(catalog, ["n1/web-a", "n1/web-b", "n2/web", "n3/web"]);
  t.deepEqual(health, catalog);
});

test("health ?passing drops instances with any non-passing check, node checks included", (t) => {
  const s = cluster();
  s.ok({ op: "catalog.register", Node: "n3", Address: "10.0.0.2", NodeMeta: { rack: "a" }, Check: { CheckID: "serfHealth", Status: "critical" } });
  const passing = s.catalog.healthService("web", { passing: true }).value.map((e) => `${e.Node.Node}/${e.Service.ID}`);
  t.deepEqual(passing, ["n1/web-b", "n2/web"]);
  t.is(s.catalog.healthService("web").value.length, 4);
});

test("tag filters need every tag, case-insensitively; node-meta filters need every pair", (t) => {
  const s = cluster();
  t.deepEqual(s.catalog.catalogService("web", { tags: ["primary"] }).value.map((e) => e.Node), ["n2"]);
  t.deepEqual(s.catalog.catalogService("web", { tags: ["v1", "primary"] }).value.map((e) => e.Node), ["n2"]);
  t.deepEqual(s.catalog.healthService("web", { tags: ["v1"] }).value.map((e) => e.Node.Node), ["n1", "n2", "n3"]);
  t.deepEqual(s.catalog.catalogService("web", { nodeMeta: { rack: "a" } }).value.map((e) => e.ServiceID), ["web-a", "web-b", "web"]);
  t.deepEqual(s.catalog.catalogNodes({ rack: "b" }).value.map((n) => n.Node), ["n2"]);
  t.deepEqual(Object.keys(s.catalog.catalogServices({ rack: "zzz" }).value), []);
});

test("catalog services: name -> distinct tags; lists are never null", (t) => {
  const s = cluster();
  s.service("n1", "db");
  t.deepEqual(s.catalog.catalogServices().value, { db: [], web: ["Primary", "v1", "v2"] });
  t.deepEqual(s.catalog.catalogService("nothing").value, []);
  t.deepEqual(s.catalog.healthNode("nobody").value, []);
});

test("health state: one state, or any", (t) => {
  const s = cluster();
  t.deepEqual(s.catalog.healthState("warning").value.map((c) => c.CheckID), ["web-a-up"]);
  t.is(s.catalog.healthState("any").value.length, 7);
  t.deepEqual(s.catalog.healthState("critical").value, []);
});

test("aggregated status: critical beats warning beats passing; no checks is passing", (t) => {
  t.is(aggregatedStatus([]), "passing");
  t.is(aggregatedStatus([{ Status: "passing" }, { Status: "warning" }]), "warning");
  t.is(aggregatedStatus([{ Status: "warning" }, { Status: "critical" }, { Status: "passing" }]), "critical");
});

test("aggregated status: the maintenance check IDs make it maintenance, whatever their status (Consul's api)", (t) => {
  const check = (CheckID: string, Status: CheckStatus) => ({ CheckID, Status });
  t.is(aggregatedStatus([check("serfHealth", "passing"), check("_node_maintenance", "critical")]), "maintenance");
  t.is(aggregatedStatus([check("service:web", "critical"), check("_service_maintenance:web", "critical")]), "maintenance");
  t.is(aggregatedStatus([check("_service_maintenance:web", "passing")]), "maintenance", "the ID decides, not the status");
  t.is(aggregatedStatus([check("node_maintenance", "critical")]), "critical", "only the exact ID counts");
  t.is(aggregatedStatus([check("x:_service_maintenance:web", "warning")]), "warning", "the prefix must lead");
  t.is(aggregatedStatus([check("serfHealth", "passing"), check("x", "maintenance")]), "maintenance", "a maintenance status counts too");
  t.is(nodeMaintenanceCheckId, "_node_maintenance");
  t.is(serviceMaintenanceCheckPrefix, "_service_maintenance:");
});

test("catalog node: the node and its services by ID; a missing node is null", (t) => {
  const s = cluster();
  const node = s.catalog.catalogNode("n1").value!;
  t.deepEqual(Object.keys(node.Services), ["web-a", "web-b"]);
  t.is(s.catalog.catalogNode("zz").value, null);
});

test("ordering follows Consul's lowercased indexes: nodes, then checks by CheckID across node and service checks", (t) => {
  const s = new Script();
  s.node("B");
  s.node("a");
  s.service("B", "web", {}, [{ CheckID: "alive", Status: "passing", ServiceID: "web" }]);
  s.service("a", "web");
  t.deepEqual(s.catalog.catalogNodes().value.map((n) => n.Node), ["a", "B"]);
  t.deepEqual(s.catalog.healthService("web").value.map((e) => e.Node.Node), ["a", "B"]);
  t.deepEqual(s.catalog.healthService("web").value[1]!.Checks.map((c) => c.CheckID), ["alive", "serfHealth"]);
});

test("nodeServicesAndChecks: the node's full records for anti-entropy, services by ID, checks by CheckID", (t) => {
  const s = cluster();
  const got = s.catalog.nodeServicesAndChecks("n1");
  t.is(got.index, s.catalog.catalogNode("n1").index);
  const value = got.value!;
  t.is(value.Node.Node, "n1");
  t.deepEqual(value.Services.map((svc) => svc.ID), ["web-a", "web-b"]);
  t.deepEqual(value.Checks.map((c) => c.CheckID), [...value.Checks.map((c) => c.CheckID)].sort());
  t.true(value.Checks.some((c) => c.CheckID === "serfHealth" && c.ServiceID === ""), "node checks included");
  t.true(value.Checks.some((c) => c.ServiceID === "web-a"), "service checks included");
  value.Services[0]!.Tags.push("mutated");
  t.false(s.catalog.nodeServicesAndChecks("n1").value!.Services[0]!.Tags.includes("mutated"), "copies, not the live records");
  t.is(s.catalog.nodeServicesAndChecks("zz").value, null);
});
