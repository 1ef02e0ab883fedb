/**
 * The blocking-query groups of src/core/agent/query-share.ts over a real catalog: identical
 * waiters cost one evaluation per write and receive one shared answer object; an answer that
 * did not change keeps them waiting; different filters are different groups; idle groups go.
 */
import test from "ava";
import { queryScopes, runQuery } from "../../src/core/agent/query.ts";
import { SharedQueries, type SharedAnswer } from "../../src/core/agent/query-share.ts";
import type { CatalogQuery } from "../../src/core/agent/query-types.ts";
import { Script } from "../catalog/harness.ts";

function setup() {
  const s = new Script();
  const jobs: (() => void)[] = [];
  const shared = new SharedQueries({
    evaluate: (query, filter) => {
      const result = runQuery(s.catalog, query as Extract<CatalogQuery, { kind: CatalogQuery["kind"] }>);
      return filter === null || !Array.isArray(result.value) ? result : { index: result.index, value: result.value.filter(filter) };
    },
    scopes: queryScopes,
    scopeIndex: (scopes) => s.catalog.scopeIndex(scopes),
    watch: (scopes, fromIndex, wake) => s.catalog.watch(scopes, fromIndex, wake),
    defer: (job) => jobs.push(job),
  }, 3);
  /** Runs the deferred re-evaluations, as the agent's microtask queue would after a Raft batch. */
  const settle = () => {
    while (jobs.length > 0) jobs.shift()!();
  };
  const set = (key: string, value: string) => s.ok({ op: "kv", Verb: "set", Key: key, Value: new TextEncoder().encode(value), Flags: 0 });
  return { s, shared, settle, set };
}

function watchers(shared: SharedQueries, query: CatalogQuery, count: number, filter?: { expression: string; predicate: (v: unknown) => boolean }) {
  const woken: SharedAnswer[] = [];
  const first = shared.current(query, filter?.expression, filter?.predicate ?? null);
  const cancels = [];
  for (let i = 0; i < count; i++) {
    const current = shared.current(query, filter?.expression, filter?.predicate ?? null);
    cancels.push(shared.wait(query, filter?.expression, filter?.predicate ?? null, { minIndex: current.index, baseline: current.json, wake: (a) => woken.push(a) }));
  }
  return { woken, first, cancels };
}

test("shared queries: 1,000 identical watchers cost one evaluation per write and get one answer object", (t) => {
  const { shared, settle, set } = setup();
  set("k", "0");
  const w = watchers(shared, { kind: "kvGet", key: "k" }, 1000);
  t.is(shared.counters.evaluations, 1, "the first read evaluates, the other 1,000 reuse it");
  t.is(shared.waiterCount, 1000);
  set("k", "1");
  set("k", "2");
  t.is(w.woken.length, 0, "woken after the batch of applies, not inside it");
  settle();
  t.is(shared.counters.evaluations, 2, "two writes in one batch: one re-evaluation");
  t.is(w.woken.length, 1000);
  t.true(w.woken.every((answer) => answer === w.woken[0]), "every watcher receives the same answer object");
  t.is(new TextDecoder().decode((w.woken[0]!.value as { Value: Uint8Array }).Value), "2");
  t.is(shared.waiterCount, 0);
});

test("shared queries: an index that moved with the same answer keeps them waiting; a later change wakes them", (t) => {
  const { shared, settle, set } = setup();
  set("k", "same");
  set("other", "x");
  const w = watchers(shared, { kind: "kvList", prefix: "k" }, 10);
  set("k", "same");
  settle();
  t.is(w.woken.length, 0, "rewriting an equal value is no change for the watcher");
  t.is(shared.waiterCount, 10);
  set("kk", "new");
  settle();
  t.is(w.woken.length, 10);
  t.is((w.woken[0]!.value as unknown[]).length, 2);
});

test("shared queries: a write elsewhere evaluates nothing; filters and arguments make separate groups", (t) => {
  const { s, shared, settle, set } = setup();
  s.ok({ op: "catalog.register", Node: "n1", Address: "10.0.0.1", Service: { ID: "web1", Service: "web", Tags: ["a"], Port: 80 } });
  const isA = { expression: "a in ServiceTags", predicate: (v: unknown) => (v as { ServiceTags: string[] }).ServiceTags.includes("a") };
  const plain = watchers(shared, { kind: "catalogService", name: "web" }, 5);
  const filtered = watchers(shared, { kind: "catalogService", name: "web" }, 5, isA);
  const db = watchers(shared, { kind: "catalogService", name: "db" }, 5);
  t.is(shared.groupCount, 3);
  const before = shared.counters.evaluations;
  set("unrelated", "x");
  settle();
  t.is(shared.counters.evaluations, before, "a KV write does not touch the service groups");
  s.ok({ op: "catalog.register", Node: "n1", Address: "10.0.0.1", Service: { ID: "web2", Service: "web", Tags: ["b"], Port: 81 } });
  settle();
  t.is(shared.counters.evaluations, before + 2, "one evaluation per touched group");
  t.is(plain.woken.length, 5, "the unfiltered watchers see web2");
  t.is(filtered.woken.length, 0, "the filtered answer did not change: web2 lacks the tag");
  t.is(db.woken.length, 0);
});

test("shared queries: cancelled waiters are not woken; idle groups are dropped with their catalog watch", (t) => {
  const { s, shared, settle, set } = setup();
  set("k", "0");
  const w = watchers(shared, { kind: "kvGet", key: "k" }, 3);
  for (const cancel of w.cancels) cancel();
  t.is(shared.waiterCount, 0);
  t.is(s.catalog.waiterCount, 1, "the group keeps its watch while idle");
  for (let i = 0; i < 3; i++) shared.tick();
  t.is(shared.groupCount, 0);
  t.is(s.catalog.waiterCount, 0, "dropping the group cancels its catalog watch");
  set("k", "1");
  settle();
  t.is(w.woken.length, 0);
});

test("shared queries: a watcher whose index is behind the group's answer is woken by the next change only if its baseline differs", (t) => {
  const { shared, settle, set } = setup();
  set("k", "0");
  const query: CatalogQuery = { kind: "kvGet", key: "k" };
  const stale = shared.current(query, undefined, null);
  set("k", "1");
  const woken: SharedAnswer[] = [];
  // A client that still holds the old answer and index joins after the write: its baseline differs.
  shared.wait(query, undefined, null, { minIndex: stale.index, baseline: stale.json, wake: (a) => woken.push(a) });
  settle();
  t.is(woken.length, 1);
  t.true(woken[0]!.index > stale.index);
});

test("shared queries: a tick looks only at the groups without waiters, and every such group is dropped in time", (t) => {
  const { shared, settle, set } = setup();
  for (let i = 0; i < 50; i++) set(`k${i}`, "0");
  const busy = Array.from({ length: 50 }, (_, i) => watchers(shared, { kind: "kvGet", key: `k${i}` }, 2));
  t.is(shared.groupCount, 50);
  t.is(shared.idleGroupCount, 0, "groups with waiters are not looked at by a tick");
  set("k0", "1");
  settle();
  t.is(busy[0]!.woken.length, 2);
  t.is(shared.idleGroupCount, 1, "woken out of its waiters: idle");
  busy[1]!.cancels[0]!();
  t.is(shared.idleGroupCount, 1, "one waiter left of two: still busy");
  busy[1]!.cancels[1]!();
  t.is(shared.idleGroupCount, 2);
  shared.current({ kind: "kvGet", key: "k0" }, undefined, null);
  t.is(shared.idleGroupCount, 2, "a plain read keeps an idle group idle");
  const again = shared.current({ kind: "kvGet", key: "k1" }, undefined, null);
  shared.wait({ kind: "kvGet", key: "k1" }, undefined, null, { minIndex: again.index, baseline: again.json, wake: () => {} });
  t.is(shared.idleGroupCount, 1, "a new waiter makes its group busy again");
  for (let i = 0; i < 3; i++) shared.tick();
  t.is(shared.groupCount, 49, "the idle group was dropped, the busy ones kept");
  t.is(shared.idleGroupCount, 0);
});
