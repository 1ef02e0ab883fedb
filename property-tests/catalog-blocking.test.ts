/**
 * Blocking queries never spin and never sleep through a change (issue 14, defect 5). Random
 * command sequences run against the catalog; before each apply, every query is watched from the
 * index it last reported, as a client passing back X-Consul-Index does, and after the apply:
 *
 *   - passing back the reported index never wakes at once (the watch is not already fired);
 *   - a query whose answer changed was woken, and its index moved past the one passed back;
 *   - a query that was woken reports a moved index (a wake without a new index is a spin);
 *   - the index never decreases, tombstone reaps and snapshot restores included.
 *
 * The same property run on the planted defect-5 mutants must fail, so it cannot pass vacuously.
 */
import test from "ava";
import fc from "fast-check";
import { Catalog, defaultCatalogConfig, encodeCommand, queryScopes, type Command, type QueryResult, type WatchScope } from "../src/core/catalog/index.ts";
import { catalogMutants, type CatalogFactory } from "../test/mutants/catalog-mutants.ts";

const nodes = ["n1", "n2", "n3"];
const services = ["web", "db"];
const keys = ["a", "a/b", "a/c", "b"];
const statuses = ["passing", "passing", "warning", "critical"] as const;
const preparedQueryIds = ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"] as const;

interface Query {
  readonly name: string;
  readonly scopes: readonly WatchScope[];
  readonly run: (catalog: Catalog) => QueryResult<unknown>;
}

/** Every query the HTTP layer answers with a blocking index, over names that exist, existed or never will. */
function queries(): Query[] {
  const list: Query[] = [
    { name: "catalogNodes", scopes: queryScopes.catalogNodes(), run: (c) => c.catalogNodes() },
    { name: "catalogServices", scopes: queryScopes.catalogServices(), run: (c) => c.catalogServices() },
    { name: "catalogServices(rack=a)", scopes: queryScopes.catalogServices({ rack: "a" }), run: (c) => c.catalogServices({ rack: "a" }) },
    { name: "healthState(any)", scopes: queryScopes.healthState(), run: (c) => c.healthState("any") },
    { name: "healthState(critical, rack=a)", scopes: queryScopes.healthState({ rack: "a" }), run: (c) => c.healthState("critical", { rack: "a" }) },
    { name: "sessionList", scopes: queryScopes.sessionList(), run: (c) => c.sessionList() },
    { name: "sessionInfo(s1)", scopes: queryScopes.sessionInfo(), run: (c) => c.sessionInfo("s1") },
    { name: "preparedQueryList", scopes: queryScopes.preparedQueries(), run: (c) => c.preparedQueryList() },
    { name: "preparedQueryGet(q1)", scopes: queryScopes.preparedQueries(), run: (c) => c.preparedQueryGet(preparedQueryIds[0]) },
  ];
  for (const node of [...nodes, "never"]) {
    list.push({ name: `catalogNode(${node})`, scopes: queryScopes.catalogNode(node), run: (c) => c.catalogNode(node) });
    list.push({ name: `healthNode(${node})`, scopes: queryScopes.healthNode(node), run: (c) => c.healthNode(node) });
  }
  for (const service of [...services, "never"]) {
    list.push({ name: `catalogService(${service})`, scopes: queryScopes.catalogService(service), run: (c) => c.catalogService(service) });
    list.push({ name: `healthService(${service})`, scopes: queryScopes.healthService(service), run: (c) => c.healthService(service) });
    list.push({ name: `healthChecks(${service})`, scopes: queryScopes.healthChecks(service), run: (c) => c.healthChecks(service) });
  }
  for (const key of [...keys, "never"]) list.push({ name: `kvGet(${key})`, scopes: queryScopes.kvGet(key), run: (c) => c.kvGet(key) });
  for (const prefix of ["", "a", "a/", "b", "never/"]) {
    list.push({ name: `kvList(${prefix})`, scopes: queryScopes.kvList(prefix), run: (c) => c.kvList(prefix) });
    list.push({ name: `kvKeys(${prefix})`, scopes: queryScopes.kvKeys(prefix), run: (c) => c.kvKeys(prefix, "/") });
  }
  return list;
}

type Step = { t: "apply"; body: Record<string, unknown> } | { t: "advance"; ms: number } | { t: "restore" } | { t: "reap"; back: number };

const pick = <T>(items: readonly T[]) => fc.constantFrom(...items);
const registerArb = fc.record({
  node: pick(nodes), addr: pick(["10.0.0.1", "10.0.0.2"]), rack: pick(["a", "b"]), serf: pick(statuses),
  service: fc.option(fc.record({ id: pick(["web1", "web2", "db1"]), name: pick(services), port: pick([80, 81]), check: pick(statuses) }), { nil: undefined }),
}).map(({ node, addr, rack, serf, service }): Step => ({
  t: "apply",
  body: {
    op: "catalog.register", Node: node, Address: addr, NodeMeta: { rack },
    Service: service && { ID: service.id, Service: service.name, Port: service.port },
    Checks: [
      { CheckID: "serfHealth", Status: serf },
      ...(service ? [{ CheckID: `svc:${service.id}`, Status: service.check, ServiceID: service.id }] : []),
    ],
  },
}));
/** A check-only change: the node and its services stay as they are (what defect 5 missed). */
const checkOnlyArb = fc.record({ node: pick(nodes), status: pick(statuses), id: pick(["serfHealth", "svc:web1", "svc:db1"]) })
  .map(({ node, status, id }): Step => ({
    t: "apply",
    body: { op: "catalog.register", Node: node, Address: "", SkipNodeUpdate: true, Checks: [{ CheckID: id, Status: status, ...(id === "serfHealth" ? {} : { ServiceID: id.slice(4) }) }] },
  }));
const deregisterArb = fc.record({ node: pick(nodes), what: pick(["node", "web1", "db1", "serfHealth"]) }).map(({ node, what }): Step => ({
  t: "apply",
  body: what === "node" ? { op: "catalog.deregister", Node: node }
    : what === "serfHealth" ? { op: "catalog.deregister", Node: node, CheckID: what }
    : { op: "catalog.deregister", Node: node, ServiceID: what },
}));
const kvArb = fc.record({ verb: pick(["set", "set", "delete", "delete-tree", "lock", "unlock"]), key: pick(keys), value: pick(["1", "2"]), session: pick(["s1", "s2"]) })
  .map(({ verb, key, value, session }): Step => ({
    t: "apply", body: { op: "kv", Verb: verb, Key: key, Value: new TextEncoder().encode(value), ...(verb === "lock" || verb === "unlock" ? { Session: session } : {}) },
  }));
const sessionArb = fc.record({ id: pick(["s1", "s2"]), node: pick(nodes), verb: pick(["create", "create", "destroy", "renew", "expire"]) })
  .map(({ id, node, verb }): Step => ({
    t: "apply",
    body: verb === "create" ? { op: "session.create", ID: id, Node: node, TTL: "10s", NodeChecks: ["serfHealth"], LockDelayMs: 0 }
      : { op: `session.${verb}`, ID: id },
  }));
/** Prepared queries, some bound to a session, so a session's end deletes them. */
const preparedQueryArb = fc.record({ id: pick(preparedQueryIds), verb: pick(["create", "update", "delete"]), name: pick(["q", "r", ""]), session: pick(["s1", ""]) })
  .map(({ id, verb, name, session }): Step => ({
    t: "apply", body: { op: "query", Verb: verb, Query: { ID: id, Name: name, Session: session, Service: { Service: "web" } } },
  }));
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: preparedQueryArb },
  { weight: 4, arbitrary: registerArb },
  { weight: 4, arbitrary: checkOnlyArb },
  { weight: 1, arbitrary: deregisterArb },
  { weight: 4, arbitrary: kvArb },
  { weight: 2, arbitrary: sessionArb },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 25_000 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("reap" as const), back: fc.nat(6) }) },
  { weight: 1, arbitrary: fc.constant<Step>({ t: "restore" }) },
);

/** Answers compare as JSON, KV values as their bytes. */
function fingerprint(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? [...v] : v));
}

interface Seen {
  index: number;
  print: string;
}

/** Runs the steps; returns the first broken promise as text, or null. */
function runSteps(makeCatalog: CatalogFactory, steps: readonly Step[]): string | null {
  const catalog = makeCatalog(defaultCatalogConfig());
  const list = queries();
  const seen = new Map<string, Seen>(list.map((q) => {
    const r = q.run(catalog);
    return [q.name, { index: r.index, print: fingerprint(r.value) }];
  }));
  // Index 1 is never a catalog write (a Raft log opens with its configuration and the leader's
  // no-op), and an empty catalog already answers 1, the lowest index a client may see.
  let raftIndex = 1;
  let nowMs = 1_000_000;
  for (const [at, step] of steps.entries()) {
    if (step.t === "advance") {
      nowMs += step.ms;
      continue;
    }
    const woken = new Set<string>();
    const cancels: (() => void)[] = [];
    for (const q of list) {
      const passed = seen.get(q.name)!.index;
      cancels.push(catalog.watch(q.scopes, passed, () => woken.add(q.name)));
      if (woken.has(q.name)) return `step ${at}: ${q.name} passed back its index ${passed} and was woken at once (a spin)`;
    }
    if (step.t === "restore") catalog.restore(catalog.snapshot());
    else {
      const command = step.t === "reap" ? { v: 1, op: "tombstone.reap", Index: Math.max(0, raftIndex - step.back) } : { v: 1, nowMs, ...step.body };
      catalog.applyBytes(encodeCommand(command as Command), ++raftIndex);
    }
    for (const cancel of cancels) cancel();
    for (const q of list) {
      const before = seen.get(q.name)!;
      const r = q.run(catalog);
      const print = fingerprint(r.value);
      const what = `step ${at} ${JSON.stringify(step, (_k, v: unknown) => (v instanceof Uint8Array ? "<bytes>" : v))}: ${q.name}`;
      if (r.index < before.index) return `${what}: index went back from ${before.index} to ${r.index}`;
      if (print !== before.print && !woken.has(q.name)) return `${what}: answer changed but the watcher at ${before.index} was not woken`;
      if (print !== before.print && r.index === before.index) return `${what}: answer changed under the same index ${r.index}`;
      // A restore wakes every waiter (anything may have changed); elsewhere a wake must move the index.
      if (step.t !== "restore" && woken.has(q.name) && r.index === before.index) {
        return `${what}: woken at index ${before.index} without the index moving (a blocking client would spin)`;
      }
      seen.set(q.name, { index: r.index, print });
    }
    catalog.invariants();
  }
  return null;
}

const stepsArb = fc.array(stepArb, { minLength: 1, maxLength: 60, size: "max" });

test("every blocking query: woken exactly when its answer may have changed, its index moves then, and passing it back never wakes at once", (t) => {
  fc.assert(fc.property(stepsArb, (steps) => {
    const broken = runSteps((config) => new Catalog(config), steps);
    if (broken !== null) throw new Error(broken);
  }), { numRuns: 150, seed: 1414, includeErrorInReport: true });
  t.pass();
});

for (const mutant of catalogMutants.filter((m) => m.name.includes("index"))) {
  test(`the property catches the planted bug "${mutant.name}"`, (t) => {
    const result = fc.check(fc.property(stepsArb, (steps) => runSteps(mutant.makeCatalog, steps) === null), { numRuns: 250, seed: 1414 });
    t.true(result.failed, `${mutant.name} passed 250 runs`);
    const broken = runSteps(mutant.makeCatalog, result.counterexample![0]);
    t.log(`${mutant.name}: ${broken}`);
    t.regex(broken ?? "", /spin|not woken|same index/);
  });
}
