/**
 * An operator's restore (PUT /v1/snapshot) applied as a log entry: the saved state comes back,
 * every query's index moves past anything served before, waiters wake, sessions get a fresh TTL,
 * and a malformed archive changes nothing.
 */
import test from "ava";
import { Encoder, Decoder } from "@msgpack/msgpack";
import { checkInvariants } from "../../src/core/catalog/invariants.ts";
import type { WatchScope } from "./imports.ts";
import { Script } from "./harness.ts";

function saved(): { s: Script; archive: Uint8Array } {
  const s = new Script();
  s.node("n1");
  s.service("n1", "web", { ID: "web1", Port: 80 });
  s.set("config/a", "1");
  s.set("config/b", "2");
  s.session("11111111-1111-1111-1111-111111111111", "n1", { TTL: "30s" });
  return { s, archive: s.catalog.snapshot() };
}

test("restore: the saved KV, nodes and services come back; later writes are gone", (t) => {
  const { s, archive } = saved();
  s.set("config/a", "changed");
  s.set("config/c", "new");
  s.ok({ op: "catalog.deregister", Node: "n1", ServiceID: "web1" });
  t.is(s.ok({ op: "snapshot.restore", Data: archive }), true);
  t.is(s.value("config/a"), "1");
  t.is(s.value("config/c"), null);
  t.is(s.catalog.catalogService("web").value.length, 1);
  t.is(s.catalog.appliedIndex, s.index);
});

test("restore: every query reports at least the restore's index, so no client sees an index go back", (t) => {
  const { s, archive } = saved();
  for (let i = 0; i < 20; i++) s.set(`later/${i}`, "x");
  const queries: WatchScope[][] = [
    [{ kind: "kvKey", key: "config/a" }], [{ kind: "kvPrefix", prefix: "config/" }], [{ kind: "service", name: "web" }],
    [{ kind: "node", name: "n1" }], [{ kind: "table", table: "nodes" }], [{ kind: "kvKey", key: "missing" }],
  ];
  const before = queries.map((scopes) => s.catalog.scopeIndex(scopes));
  s.ok({ op: "snapshot.restore", Data: archive });
  const restoreIndex = s.index;
  queries.forEach((scopes, i) => {
    const after = s.catalog.scopeIndex(scopes);
    t.true(after >= restoreIndex && after > before[i]!, `${JSON.stringify(scopes)}: ${before[i]} -> ${after}`);
  });
  // The floor survives the log compaction snapshot (a restarted server keeps it).
  const reloaded = new Script();
  reloaded.catalog.restore(s.catalog.snapshot());
  t.true(reloaded.catalog.scopeIndex([{ kind: "kvKey", key: "config/a" }]) >= restoreIndex);
});

test("restore: every blocking waiter wakes, whatever it watches", (t) => {
  const { s, archive } = saved();
  s.set("other", "x");
  const woken: string[] = [];
  for (const scopes of [[{ kind: "kvKey", key: "nothing/here" }], [{ kind: "service", name: "db" }]] as WatchScope[][]) {
    s.catalog.watch(scopes, s.catalog.scopeIndex(scopes), () => woken.push(JSON.stringify(scopes)));
  }
  s.ok({ op: "snapshot.restore", Data: archive });
  t.is(woken.length, 2);
});

test("restore: a session renewed long ago gets a fresh TTL from the restore", (t) => {
  const { s, archive } = saved();
  s.advance(10 * 60_000);
  s.ok({ op: "snapshot.restore", Data: archive });
  t.deepEqual(s.catalog.expiredSessions(s.nowMs + 30_000), [], "not expired within its TTL after the restore");
  t.deepEqual(s.catalog.expiredSessions(s.nowMs + 61_000), ["11111111-1111-1111-1111-111111111111"]);
});

test("restore: an archive with indexes above the log's (another cluster's) is capped at the restore's index", (t) => {
  const big = new Script();
  big.index = 5_000;
  big.node("far");
  big.set("k", "v");
  const s = new Script();
  s.set("x", "1");
  s.ok({ op: "snapshot.restore", Data: big.catalog.snapshot() });
  t.is(s.value("k"), "v");
  t.notThrows(() => checkInvariants((s.catalog as unknown as { state: Parameters<typeof checkInvariants>[0] }).state));
  s.set("k", "w");
  t.is(s.value("k"), "w", "writes after the restore apply at indexes above the capped ones");
});

test("restore: malformed archives are a 400 naming the problem, and nothing changes", (t) => {
  const { s, archive } = saved();
  s.set("config/a", "kept");
  const decoded = new Decoder().decode(archive) as Record<string, unknown>;
  const cases: [string, Uint8Array, RegExp][] = [
    ["not msgpack", new Uint8Array([0xc1, 0xc1]), /not a snapshot archive/],
    ["a number", new Encoder().encode(7), /not a map/],
    ["wrong version", new Encoder().encode({ ...decoded, v: 9 }), /unsupported version 9/],
    ["bad kv", new Encoder().encode({ ...decoded, kv: [{ Key: 1 }] }), /kv entries are malformed/],
    ["bad nodes", new Encoder().encode({ ...decoded, nodes: "x" }), /nodes are malformed/],
    ["negative index", new Encoder().encode({ ...decoded, appliedIndex: -1 }), /appliedIndex/],
  ];
  for (const [what, data, message] of cases) {
    const error = s.err({ op: "snapshot.restore", Data: data });
    t.is(error.status, 400, what);
    t.regex(error.message, message, what);
  }
  t.is(s.value("config/a"), "kept");
  t.true(s.err({ op: "snapshot.restore", Data: new Uint8Array() }).message.includes("snapshot archive"));
});
