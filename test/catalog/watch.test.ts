import test from "ava";
import { Script } from "./harness.ts";
import { Catalog, catalogStateMachine, encodeCommand, type WatchScope } from "./imports.ts";

function waiter(s: Script, scopes: WatchScope[], fromIndex = s.catalog.scopeIndex(scopes)) {
  const woken: number[] = [];
  const cancel = s.catalog.watch(scopes, fromIndex, (index) => woken.push(index));
  return { woken, cancel };
}

test("watch: a KV prefix waiter wakes for writes under the prefix only", (t) => {
  const s = new Script();
  s.set("app/a", "1");
  const app = waiter(s, [{ kind: "kvPrefix", prefix: "app/" }]);
  const other = waiter(s, [{ kind: "kvPrefix", prefix: "other/" }]);
  s.set("apx", "1");
  s.set("other/x", "1");
  t.deepEqual(app.woken, []);
  s.set("app/b", "1");
  t.deepEqual(app.woken, [4]);
  t.deepEqual(other.woken, [3]);
  t.is(s.catalog.waiterCount, 0, "waiters are one-shot");
});

test("watch: a single-key waiter ignores its siblings and wakes on delete", (t) => {
  const s = new Script();
  s.set("leader", "a");
  const w = waiter(s, [{ kind: "kvKey", key: "leader" }]);
  s.set("leader2", "x");
  t.deepEqual(w.woken, []);
  s.ok({ op: "kv", Verb: "delete", Key: "leader" });
  t.deepEqual(w.woken, [3]);
});

test("watch: a write that changes nothing wakes nobody", (t) => {
  const s = new Script();
  s.set("k", "v");
  s.node("n1");
  const kv = waiter(s, [{ kind: "kvKey", key: "k" }]);
  const nodes = waiter(s, [{ kind: "table", table: "nodes" }]);
  s.set("k", "v");
  s.node("n1");
  t.deepEqual(kv.woken, []);
  t.deepEqual(nodes.woken, []);
});

test("watch: a service waiter wakes for its instances, their checks and their nodes, not for other services", (t) => {
  const s = new Script();
  s.node("n1");
  s.node("n2");
  s.service("n1", "web");
  s.service("n2", "db");
  const web = waiter(s, [{ kind: "service", name: "web" }]);
  s.service("n2", "db", { Port: 5432 });
  t.deepEqual(web.woken, []);
  s.ok({ op: "catalog.register", Node: "n1", Address: "10.0.0.2", Check: { CheckID: "serfHealth", Status: "critical" } });
  t.deepEqual(web.woken, [s.index]);
  t.is(s.catalog.healthService("web").index, s.index);
});

test("watch: a caller already behind is answered at once; cancel stops a wake", (t) => {
  const s = new Script();
  s.set("a", "1");
  s.set("a", "2");
  const behind = waiter(s, [{ kind: "kvKey", key: "a" }], 1);
  t.deepEqual(behind.woken, [2]);
  const cancelled = waiter(s, [{ kind: "kvKey", key: "a" }]);
  cancelled.cancel();
  s.set("a", "3");
  t.deepEqual(cancelled.woken, []);
  t.is(s.catalog.waiterCount, 0);
});

test("watch: a rolled-back txn wakes nobody; a committed one wakes its keys", (t) => {
  const s = new Script();
  const w = waiter(s, [{ kind: "kvPrefix", prefix: "t/" }]);
  s.err({ op: "txn", Ops: [{ KV: { Verb: "set", Key: "t/a" } }, { KV: { Verb: "get", Key: "missing" } }] });
  t.deepEqual(w.woken, []);
  s.ok({ op: "txn", Ops: [{ KV: { Verb: "set", Key: "t/a" } }] });
  t.deepEqual(w.woken, [2]);
});

test("watch: restore wakes every waiter", (t) => {
  const s = new Script();
  s.set("a", "1");
  const snapshot = s.catalog.snapshot();
  const w = waiter(s, [{ kind: "kvKey", key: "zzz" }]);
  s.catalog.restore(snapshot);
  t.deepEqual(w.woken, [1]);
});

test("watch: session invalidation wakes the waiters of the released keys", (t) => {
  const s = new Script();
  s.node("n1");
  s.session("s1", "n1");
  s.lock("svc/leader", "s1");
  const w = waiter(s, [{ kind: "kvKey", key: "svc/leader" }]);
  s.ok({ op: "session.destroy", ID: "s1" });
  t.deepEqual(w.woken, [s.index]);
});

test("watch: a throwing callback does not keep the other waiters asleep; the error surfaces after", (t) => {
  const s = new Script();
  const woken: string[] = [];
  s.catalog.watch([{ kind: "kvKey", key: "k" }], 0, () => {
    throw new Error("waiter bug");
  });
  s.catalog.watch([{ kind: "kvKey", key: "k" }], 0, () => woken.push("second"));
  t.throws(() => s.set("k", "v"), { message: "waiter bug" });
  t.deepEqual(woken, ["second"]);
  t.is(s.catalog.kvGet("k").value!.ModifyIndex, 1, "the write itself was applied");
});

test("watch: Catalog.apply takes plain command objects too", (t) => {
  const s = new Script();
  const w = waiter(s, [{ kind: "table", table: "sessions" }]);
  t.deepEqual(s.catalog.apply({ v: 1, op: "session.create", nowMs: 0, ID: "x", Node: "missing" }, 1), { ok: false, error: { status: 500, message: "Missing node registration" } });
  t.false(s.catalog.apply({ v: 9 } as never, 2).ok);
  t.deepEqual(w.woken, []);
  t.is(s.catalog.appliedIndex, 2);
});

test("catalogStateMachine: the Raft host's view applies entries and round-trips snapshots", (t) => {
  const catalog = new Catalog();
  const sm = catalogStateMachine(catalog);
  const data = encodeCommand({ v: 1, op: "kv", nowMs: 0, Verb: "set", Key: "k" });
  t.deepEqual(sm.apply({ data, index: 4 }), { ok: true, value: true });
  const other = new Catalog();
  catalogStateMachine(other).restore(sm.snapshot());
  t.is(other.kvGet("k").index, 4);
});
