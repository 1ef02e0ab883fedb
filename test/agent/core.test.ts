/**
 * The agent's pure decisions (src/core/agent): what the leader writes for each gossip status, when a
 * server bootstraps, which membership change autopilot asks for, and what anti-entropy writes.
 * Each case reads as "given this pool and this catalog, these writes" — and a steady state writes nothing.
 */
import test from "ava";
import { syncWrites, type LocalCheck, type LocalService, type SyncInput } from "../../src/core/agent/anti-entropy.ts";
import { Autopilot } from "../../src/core/agent/autopilot.ts";
import { bootstrapDecision, type ServerInfo } from "../../src/core/agent/bootstrap.ts";
import { consulServiceFor, reconcileAll, reconcileMember, serfFailedOutput, type CatalogNodeView, type PoolMember } from "../../src/core/agent/reconcile.ts";
import type { NodeRecord } from "../../src/core/catalog/index.ts";

const node = (name: string, address: string, meta: Record<string, string> = {}): NodeRecord => ({
  ID: `id-${name}`, Node: name, Address: address, Datacenter: "dc1", TaggedAddresses: {}, Meta: meta, CreateIndex: 1, ModifyIndex: 1,
});
const member = (name: string, status: PoolMember["status"], addr = "10.0.0.1"): PoolMember => ({ name, addr, status, nodeId: `id-${name}` });
const view = (n: NodeRecord, serf: "passing" | "critical" | null): CatalogNodeView => ({
  node: n, serfHealth: serf === null ? null : { Status: serf, Output: "" },
});

test("reconcile: an alive member already registered and passing needs no write", (t) => {
  t.deepEqual(reconcileMember(member("a", "alive"), view(node("a", "10.0.0.1"), "passing"), "dc1"), []);
});

test("reconcile: an alive member missing from the catalog is registered with serfHealth passing", (t) => {
  const [write, ...rest] = reconcileMember(member("a", "alive"), null, "dc1");
  t.deepEqual(rest, []);
  t.like(write, { op: "catalog.register", Node: "a", Address: "10.0.0.1", Check: { CheckID: "serfHealth", Status: "passing" } });
});

test("reconcile: a moved address or a critical serfHealth is re-registered", (t) => {
  t.is(reconcileMember(member("a", "alive", "10.0.0.9"), view(node("a", "10.0.0.1"), "passing"), "dc1").length, 1);
  t.is(reconcileMember(member("a", "alive"), view(node("a", "10.0.0.1"), "critical"), "dc1").length, 1);
});

test("reconcile: a failed member turns critical once, keeping its address and meta", (t) => {
  const [write] = reconcileMember(member("a", "failed", "10.0.0.7"), view(node("a", "10.0.0.1", { rack: "r1" }), "passing"), "dc1");
  t.like(write, { op: "catalog.register", Address: "10.0.0.1", NodeMeta: { rack: "r1" }, Check: { Status: "critical", Output: serfFailedOutput } });
  t.deepEqual(reconcileMember(member("a", "failed"), view(node("a", "10.0.0.1"), "critical"), "dc1"), []);
});

test("reconcile: a left member is deregistered if present, and nothing is written if gone; leaving waits", (t) => {
  t.deepEqual(reconcileMember(member("a", "left"), view(node("a", "10.0.0.1"), "passing"), "dc1"), [{ op: "catalog.deregister", Node: "a" }]);
  t.deepEqual(reconcileMember(member("a", "left"), null, "dc1"), []);
  t.deepEqual(reconcileMember(member("a", "leaving"), view(node("a", "10.0.0.1"), "passing"), "dc1"), []);
});

test("reconcile: a live server of this datacenter carries the consul service on its RPC port; clients and other datacenters do not", (t) => {
  const server: PoolMember = { ...member("s1", "alive"), tags: { role: "consul", dc: "dc1", port: "8301", raft_vsn: "3", build: "0.1.0:praetor" } };
  const [write] = reconcileMember(server, null, "dc1");
  t.true(write?.op === "catalog.register" && write.Service?.ID === "consul" && write.Service.Service === "consul" && write.Service.Port === 8301);
  t.true(write?.op === "catalog.register" && write.Check?.CheckID === "serfHealth");
  const service = consulServiceFor(server, "dc1")!;
  t.is(service.Meta?.version, "0.1.0");
  t.is(service.Meta?.non_voter, "false");
  const registered = { ...view(node("s1", "10.0.0.1"), "passing"), consulService: { Port: 8301, Meta: service.Meta! } };
  t.deepEqual(reconcileMember(server, { ...registered, node: { ...registered.node, ID: "id-s1" } }, "dc1"), [], "in sync: no write");
  t.is(reconcileMember(server, { ...registered, node: { ...registered.node, ID: "id-s1" }, consulService: null }, "dc1").length, 1, "missing service is re-added");
  t.is(reconcileMember(server, { ...registered, node: { ...registered.node, ID: "id-s1" }, consulService: { Port: 8300, Meta: service.Meta! } }, "dc1").length, 1, "moved port re-registers");
  t.is(consulServiceFor({ ...server, tags: { ...server.tags, dc: "dc2" } }, "dc1"), null);
  t.is(consulServiceFor({ ...server, tags: { role: "node" } }, "dc1"), null);
  t.is(consulServiceFor(member("c1", "alive"), "dc1"), null);
});

test("anti-entropy: a server's consul service belongs to the leader and is never deregistered by the agent", (t) => {
  const base = input({});
  const consul = { ...base.catalogNode!.Services.web!, ID: "consul", Service: "consul", Port: 8300 };
  const catalogNode = { Node: { ...node("n1", "10.0.0.1"), ID: "id-n1" }, Services: { ...base.catalogNode!.Services, consul } };
  t.deepEqual(syncWrites({ ...base, catalogNode }), []);
});

test("reconcile all: agents' nodes unknown to the pool go; an external registration stays", (t) => {
  const catalog = new Map<string, CatalogNodeView>([
    ["a", view(node("a", "10.0.0.1"), "passing")],
    ["reaped", view(node("reaped", "10.0.0.2"), "passing")],
    ["raced", view(node("raced", "10.0.0.3", { "consul-network-segment": "" }), null)],
    ["external", view(node("external", "192.0.2.1", { "external-node": "true" }), null)],
  ]);
  const writes = reconcileAll([member("a", "alive")], catalog, "dc1");
  t.deepEqual(writes, [{ op: "catalog.deregister", Node: "reaped" }, { op: "catalog.deregister", Node: "raced" }]);
});

const server = (name: string, expect: number, extra: Partial<ServerInfo> = {}): ServerInfo => ({
  name, raftAddr: `10.0.0.${name.slice(1)}:8300`, datacenter: "dc1", expect, bootstrap: false, ...extra,
});

test("bootstrap: -bootstrap elects alone; -bootstrap-expect waits for N, then every server computes the same voters", (t) => {
  t.deepEqual(bootstrapDecision(server("s1", 0, { bootstrap: true }), []), { kind: "bootstrap", voters: ["10.0.0.1:8300"] });
  t.is(bootstrapDecision(server("s1", 3), [server("s2", 3)]).kind, "wait");
  const a = bootstrapDecision(server("s1", 3), [server("s3", 3), server("s2", 3)]);
  const b = bootstrapDecision(server("s3", 3), [server("s1", 3), server("s2", 3)]);
  t.deepEqual(a, { kind: "bootstrap", voters: ["10.0.0.1:8300", "10.0.0.2:8300", "10.0.0.3:8300"] });
  t.deepEqual(b, a);
});

test("bootstrap: mismatched expectations, a -bootstrap peer and other datacenters", (t) => {
  t.is(bootstrapDecision(server("s1", 3), [server("s2", 5), server("s3", 3)]).kind, "refuse");
  t.is(bootstrapDecision(server("s1", 3), [server("s2", 0, { bootstrap: true }), server("s3", 3)]).kind, "refuse");
  t.is(bootstrapDecision(server("s1", 3), [server("s2", 3), server("s3", 3, { datacenter: "dc2" })]).kind, "wait");
  t.is(bootstrapDecision(server("s1", 0), [server("s2", 3)]).kind, "wait");
});

test("autopilot: a new live server joins as a non-voter, is promoted once caught up for the stable time; a failed voter stays, a left one goes", (t) => {
  const pilot = new Autopilot({ stableTicks: 3, maxTrailingEntries: 10 });
  const conf = { voters: ["a:8300", "b:8300"], learners: [] as string[] };
  t.deepEqual(pilot.next("a:8300", conf, [{ raftAddr: "c:8300", status: "alive" }], {}, 100), { type: "addLearner", node: "c:8300" });
  const withLearner = { voters: ["a:8300", "b:8300"], learners: ["c:8300"] };
  const servers = [{ raftAddr: "b:8300", status: "failed" as const }, { raftAddr: "c:8300", status: "alive" as const }];
  t.is(pilot.next("a:8300", withLearner, servers, { "c:8300": 50 }, 100), null, "trailing by 50 entries: not caught up");
  const changes = [];
  for (let i = 0; i < 5; i++) {
    pilot.tick();
    changes.push(pilot.next("a:8300", withLearner, servers, { "c:8300": 95 }, 100));
  }
  t.deepEqual(changes.filter((c) => c !== null)[0], { type: "promote", node: "c:8300" });
  t.is(changes.findIndex((c) => c !== null), 3, "promoted after exactly stableTicks caught up");
  t.deepEqual(pilot.next("a:8300", conf, [{ raftAddr: "b:8300", status: "left" }], {}, 100), { type: "remove", node: "b:8300" });
  t.is(pilot.next("a:8300", conf, [], {}, 100), null, "a voter the pool has not shown yet is kept");
});

const localNode = { name: "n1", id: "id-n1", address: "10.0.0.1", datacenter: "dc1", taggedAddresses: {}, meta: {} };
const web: LocalService = {
  ID: "web", Service: "web", Tags: ["v1"], Address: "", Port: 80, Meta: {}, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, Kind: "",
};
const webCheck: LocalCheck = { CheckID: "service:web", Name: "web", Status: "passing", Output: "ok", Notes: "", ServiceID: "web", Type: "http" };

function input(overrides: Partial<SyncInput>): SyncInput {
  return {
    node: localNode, services: new Map([["web", web]]), checks: new Map([["service:web", webCheck]]),
    catalogNode: {
      Node: node("n1", "10.0.0.1"),
      Services: { web: { ...web, Tags: ["v1"], Meta: {}, Weights: { Passing: 1, Warning: 1 }, CreateIndex: 2, ModifyIndex: 2 } },
    },
    catalogChecks: [{ Node: "n1", ...webCheck, ServiceName: "web", ServiceTags: ["v1"], CreateIndex: 3, ModifyIndex: 3 }],
    deferOutput: () => false,
    ...overrides,
  };
}

test("anti-entropy: in sync means zero writes", (t) => {
  t.deepEqual(syncWrites({ ...input({}), catalogNode: { ...input({}).catalogNode!, Node: { ...node("n1", "10.0.0.1"), ID: "id-n1" } } }), []);
});

test("anti-entropy: a changed service, a stranger's service and check, a status change are written; serfHealth is the leader's", (t) => {
  const base = input({});
  const catalogNode = {
    Node: { ...node("n1", "10.0.0.1"), ID: "id-n1" },
    Services: { ...base.catalogNode!.Services, web: { ...base.catalogNode!.Services.web!, Tags: ["v0"] }, old: { ...base.catalogNode!.Services.web!, ID: "old", Service: "old" } },
  };
  const checks = [
    { ...base.catalogChecks[0]!, Status: "critical" as const },
    { ...base.catalogChecks[0]!, CheckID: "serfHealth", ServiceID: "" },
    { ...base.catalogChecks[0]!, CheckID: "stale-node-check", ServiceID: "" },
  ];
  const writes = syncWrites({ ...base, catalogNode, catalogChecks: checks });
  const what = (w: (typeof writes)[number]): string =>
    w.op === "catalog.register" ? w.Service?.ID ?? w.Check?.CheckID ?? "node" : w.ServiceID ?? w.CheckID ?? "node";
  t.deepEqual(writes.map((w) => [w.op, what(w)]), [
    ["catalog.register", "web"],
    ["catalog.deregister", "old"],
    ["catalog.register", "service:web"],
    ["catalog.deregister", "stale-node-check"],
  ]);
});

test("anti-entropy: an output-only change waits for check_update_interval; a status change never waits", (t) => {
  const base = input({});
  const node1 = { ...base.catalogNode!, Node: { ...node("n1", "10.0.0.1"), ID: "id-n1" } };
  const outputOnly = [{ ...base.catalogChecks[0]!, Output: "older output" }];
  t.deepEqual(syncWrites({ ...base, catalogNode: node1, catalogChecks: outputOnly, deferOutput: () => true }), []);
  t.is(syncWrites({ ...base, catalogNode: node1, catalogChecks: outputOnly, deferOutput: () => false }).length, 1);
  const statusChange = [{ ...base.catalogChecks[0]!, Status: "warning" as const }];
  t.is(syncWrites({ ...base, catalogNode: node1, catalogChecks: statusChange, deferOutput: () => true }).length, 1);
});
