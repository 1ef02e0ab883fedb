import test from "ava";
import { Script } from "./harness.ts";
import { normalizeCommand, type KvOp, type WatchScope } from "./imports.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const kv = (op: KvOp) => ({ KV: op });

test("txn: results in op order; writes report their entry without the value, gets with it", (t) => {
  const s = new Script();
  s.set("existing", "old");
  const value = s.ok({
    op: "txn", Ops: [
      kv({ Verb: "set", Key: "a", Value: bytes("1") }),
      kv({ Verb: "get", Key: "existing" }),
      kv({ Verb: "delete", Key: "existing" }),
      kv({ Verb: "check-not-exists", Key: "existing" }),
    ],
  }) as { Results: { KV: { Key: string; Value: Uint8Array | null; ModifyIndex: number } }[]; Errors: null };
  t.is(value.Errors, null);
  t.deepEqual(value.Results.map((r) => r.KV.Key), ["a", "existing"]);
  t.is(value.Results[0]!.KV.Value, null);
  t.is(value.Results[0]!.KV.ModifyIndex, 2);
  t.deepEqual(value.Results[1]!.KV.Value, bytes("old"));
  t.is(s.catalog.kvGet("existing").value, null);
});

test("txn: any failure rolls back every op and names each failing OpIndex (409)", (t) => {
  const s = new Script();
  s.set("k", "v");
  const error = s.err({
    op: "txn", Ops: [
      kv({ Verb: "set", Key: "new", Value: bytes("x") }),
      kv({ Verb: "cas", Key: "k", Index: 99, Value: bytes("y") }),
      kv({ Verb: "delete-tree", Key: "" }),
      kv({ Verb: "check-index", Key: "k", Index: 1 }),
      kv({ Verb: "get", Key: "nope" }),
    ],
  });
  t.is(error.status, 409);
  t.deepEqual(error.errors, [
    { OpIndex: 1, What: 'failed to set key "k", index is stale' },
    { OpIndex: 3, What: 'failed to check index, key "k" doesn\'t exist' },
    { OpIndex: 4, What: 'key "nope" doesn\'t exist' },
  ]);
  t.is(s.value("k"), "v");
  t.is(s.catalog.kvGet("new").value, null);
  t.is(s.catalog.kvList("").index, 1, "the rolled-back deletes left no tombstones and no index");
  t.is(s.catalog.stats().tombstones, 0);
  s.catalog.invariants();
});

test("txn: lock, check-session and unlock inside one txn", (t) => {
  const s = new Script();
  s.node("n1");
  s.session("s1", "n1");
  s.ok({ op: "txn", Ops: [kv({ Verb: "lock", Key: "l", Session: "s1", Value: bytes("me") }), kv({ Verb: "check-session", Key: "l", Session: "s1" })] });
  t.like(s.catalog.kvGet("l").value, { Session: "s1", LockIndex: 1 });
  const error = s.err({ op: "txn", Ops: [kv({ Verb: "check-session", Key: "l", Session: "other" })] });
  t.is(error.errors![0]!.What, 'failed session check for key "l", current session "s1" != "other"');
  const refused = s.err({ op: "txn", Ops: [kv({ Verb: "unlock", Key: "l", Session: "other" })] });
  t.is(refused.errors![0]!.What, 'failed to unlock key "l", lock isn\'t held, or is held by another session');
  s.ok({ op: "txn", Ops: [kv({ Verb: "unlock", Key: "l", Session: "s1" })] });
  t.is(s.catalog.kvGet("l").value!.Session, undefined);
});

test("txn: 128 ops are accepted, 129 are a 413", (t) => {
  const s = new Script();
  const ops = (n: number) => Array.from({ length: n }, (_, i) => kv({ Verb: "set", Key: `k${i}`, Value: bytes("v") }));
  s.ok({ op: "txn", Ops: ops(128) });
  t.is(s.catalog.kvKeys("").value.length, 128);
  const error = s.err({ op: "txn", Ops: ops(129) });
  t.deepEqual(error, { status: 413, message: "Transaction contains too many operations (129 > 128)" });
});

test("txn: an oversized value is an op error and rolls back", (t) => {
  const s = new Script();
  const error = s.err({ op: "txn", Ops: [kv({ Verb: "set", Key: "a" }), kv({ Verb: "set", Key: "big", Value: new Uint8Array(512 * 1024 + 1) })] });
  t.deepEqual(error.errors, [{ OpIndex: 1, What: 'Value for key "big" is too large (524289 > 524288 bytes)' }]);
  t.is(s.catalog.kvGet("a").value, null);
});

test("txn: later ops see earlier ones", (t) => {
  const s = new Script();
  s.ok({ op: "txn", Ops: [kv({ Verb: "cas", Key: "c", Index: 0, Value: bytes("1") }), kv({ Verb: "check-index", Key: "c", Index: 1 })] });
  t.is(s.value("c"), "1");
});

test("read txn: answered from state, refuses write verbs, changes nothing", (t) => {
  const s = new Script();
  s.set("a", "1");
  const result = s.catalog.readTxn([{ Verb: "get", Key: "a" }, { Verb: "get-tree", Key: "" }]);
  t.true(result.ok);
  t.false(s.catalog.readTxn([{ Verb: "set", Key: "a" }]).ok);
  t.is(s.catalog.kvList("").index, 1);
});

// ---- Node, Service, Check and Session operations (Consul's txn.go) ----

type Results = { Results: Record<string, Record<string, unknown>>[]; Errors: null };

function withNodes(): Script {
  const s = new Script();
  s.node("n1");
  s.service("n1", "web", { ID: "web1", Port: 80 }, [{ CheckID: "web1-up", Status: "passing", ServiceID: "web1" }]);
  return s;
}

test("txn catalog ops: set, get and cas of a node, service and check answer Consul's shapes", (t) => {
  const s = withNodes();
  const value = s.ok({
    op: "txn", Ops: [
      { Node: { Verb: "set", Node: { Node: "n2", Address: "10.0.0.2", Meta: { rack: "r1" } } } },
      { Service: { Verb: "set", Node: "n2", Service: { ID: "db1", Service: "db", Port: 5432 } } },
      { Check: { Verb: "set", Check: { Node: "n2", CheckID: "db1-up", Status: "passing", ServiceID: "db1" } } },
      { Node: { Verb: "get", Node: { Node: "n1" } } },
      { Service: { Verb: "get", Node: "n1", Service: { ID: "web1", Service: "" } } },
      { Check: { Verb: "get", Check: { Node: "n1", CheckID: "web1-up" } } },
      { KV: { Verb: "set", Key: "k", Value: bytes("v") } },
    ],
  }) as Results;
  t.deepEqual(value.Results.map((r) => Object.keys(r)[0]), ["Node", "Service", "Check", "Node", "Service", "Check", "KV"]);
  t.like(value.Results[0]!.Node, { Node: "n2", Address: "10.0.0.2", Meta: { rack: "r1" }, CreateIndex: s.index, ModifyIndex: s.index });
  t.like(value.Results[1]!.Service, { ID: "db1", Service: "db", Port: 5432, ModifyIndex: s.index });
  t.like(value.Results[2]!.Check, { Node: "n2", CheckID: "db1-up", ServiceName: "db", Status: "passing" });
  t.like(value.Results[3]!.Node, { Node: "n1" });
  t.like(value.Results[4]!.Service, { ID: "web1", Port: 80 });
  t.like(value.Results[5]!.Check, { CheckID: "web1-up", ServiceID: "web1" });
  t.deepEqual(s.catalog.healthService("db").value.map((e) => e.Checks.map((c) => c.CheckID)), [["db1-up", "serfHealth"].filter((id) => id !== "serfHealth")]);
  const web = s.catalog.catalogNode("n1").value!.Services["web1"]!;
  s.ok({ op: "txn", Ops: [{ Service: { Verb: "cas", Node: "n1", Service: { ID: "web1", Service: "web", Port: 81, ModifyIndex: web.ModifyIndex } } }] });
  t.is(s.catalog.catalogNode("n1").value!.Services["web1"]!.Port, 81);
  s.catalog.invariants();
});

test("txn catalog ops: stale CAS, missing records and a missing node are errors with Consul's text, and roll everything back", (t) => {
  const s = withNodes();
  const before = s.catalog.snapshot();
  const error = s.err({
    op: "txn", Ops: [
      { KV: { Verb: "set", Key: "k", Value: bytes("v") } },
      { Node: { Verb: "set", Node: { Node: "n3", Address: "10.0.0.3" } } },
      { Node: { Verb: "cas", Node: { Node: "n1", Address: "x", ModifyIndex: 999 } } },
      { Node: { Verb: "get", Node: { Node: "ghost" } } },
      { Service: { Verb: "get", Node: "n1", Service: { ID: "nope", Service: "" } } },
      { Service: { Verb: "delete-cas", Node: "n1", Service: { ID: "web1", Service: "", ModifyIndex: 1 } } },
      { Service: { Verb: "set", Node: "ghost", Service: { Service: "x" } } },
      { Check: { Verb: "cas", Check: { Node: "n1", CheckID: "web1-up", Status: "critical", ModifyIndex: 0 } } },
      { Check: { Verb: "delete-cas", Check: { Node: "n1", CheckID: "nope", ModifyIndex: 3 } } },
      { Node: { Verb: "delete-cas", Node: { Node: "n1", ModifyIndex: 2 } } },
      { Session: { Verb: "destroy", Session: { ID: "s" } } },
      { Node: { Verb: "delete", Node: { Node: "n1" } } },
    ],
  });
  t.is(error.status, 409);
  t.deepEqual(error.errors, [
    { OpIndex: 2, What: 'failed to set node "n1", index is stale' },
    { OpIndex: 3, What: 'node "ghost" doesn\'t exist' },
    { OpIndex: 4, What: 'service "nope" on node "n1" doesn\'t exist' },
    { OpIndex: 5, What: 'failed to delete service "web1" on node "n1", index is stale' },
    { OpIndex: 6, What: "Missing node registration" },
    { OpIndex: 7, What: 'failed to set check "web1-up" on node "n1", index is stale' },
    { OpIndex: 8, What: 'failed to delete check "nope" on node "n1", index is stale' },
    { OpIndex: 9, What: 'failed to delete node "n1", index is stale' },
    { OpIndex: 10, What: 'failed to delete session: unknown Session verb "destroy"' },
  ]);
  // Nothing of it stayed: not the KV set, not the new node, not the node delete at the end.
  const after = new Script();
  after.catalog.restore(before);
  t.is(s.catalog.kvGet("k").value, null);
  t.is(s.catalog.catalogNode("n3").value, null);
  t.truthy(s.catalog.catalogNode("n1").value);
  t.deepEqual(s.catalog.catalogNodes(), after.catalog.catalogNodes());
  t.deepEqual(s.catalog.healthService("web"), after.catalog.healthService("web"));
  t.is(s.catalog.kvList("").index, after.catalog.kvList("").index);
  s.catalog.invariants();
});

test("txn catalog ops: a rolled-back txn wakes nobody; a committed one wakes the scopes it touched", (t) => {
  const s = withNodes();
  const woken: string[] = [];
  const watch = (name: string, scopes: WatchScope[]) => s.catalog.watch(scopes, s.catalog.scopeIndex(scopes), () => woken.push(name));
  watch("web", [{ kind: "service", name: "web" }]);
  watch("n1", [{ kind: "node", name: "n1" }]);
  watch("kv", [{ kind: "kvPrefix", prefix: "" }]);
  s.err({ op: "txn", Ops: [{ Check: { Verb: "set", Check: { Node: "n1", CheckID: "web1-up", Status: "critical", ServiceID: "web1" } } }, { Node: { Verb: "get", Node: { Node: "ghost" } } }] });
  t.deepEqual(woken, []);
  s.ok({ op: "txn", Ops: [{ Check: { Verb: "set", Check: { Node: "n1", CheckID: "web1-up", Status: "critical", ServiceID: "web1" } } }] });
  t.deepEqual(woken.sort(), ["n1", "web"]);
  t.is(s.catalog.healthChecks("web").index, s.index);
});

test("txn catalog ops: deletes answer nothing; a node delete takes its services, checks and sessions", (t) => {
  const s = withNodes();
  s.session("s1", "n1");
  s.lock("lock/a", "s1");
  const value = s.ok({ op: "txn", Ops: [{ Check: { Verb: "delete", Check: { Node: "n1", CheckID: "web1-up" } } }, { Node: { Verb: "delete", Node: { Node: "n1" } } }] }) as Results;
  t.deepEqual(value.Results, []);
  t.is(s.catalog.catalogNode("n1").value, null);
  t.deepEqual(s.catalog.sessionList().value, []);
  t.is(s.catalog.kvGet("lock/a").value!.Session, undefined, "the session's lock was released");
  s.catalog.invariants();
});

test("txn session delete: invalidates the session and releases its locks; an unknown session is no error", (t) => {
  const s = withNodes();
  s.session("s1", "n1", { LockDelay: "0s" });
  s.lock("lock/a", "s1");
  s.ok({ op: "txn", Ops: [{ Session: { Verb: "delete", Session: { ID: "s1" } } }, { Session: { Verb: "delete", Session: { ID: "ghost" } } }] });
  t.deepEqual(s.catalog.sessionList().value, []);
  t.is(s.catalog.kvGet("lock/a").value!.Session, undefined);
});

test("txn KV get-or-empty: the entry with its value, or an empty entry for a missing key; a read for readTxn", (t) => {
  const s = new Script();
  s.set("a", "1");
  const value = s.ok({ op: "txn", Ops: [kv({ Verb: "get-or-empty", Key: "a" }), kv({ Verb: "get-or-empty", Key: "missing" })] }) as Results;
  t.like(value.Results[0]!.KV, { Key: "a", ModifyIndex: 1 });
  t.deepEqual(value.Results[0]!.KV!.Value, bytes("1"));
  t.deepEqual(value.Results[1]!.KV, { LockIndex: 0, Key: "missing", Flags: 0, Value: null, CreateIndex: 0, ModifyIndex: 0 });
  const read = s.catalog.readTxn([{ KV: { Verb: "get-or-empty", Key: "missing" } }, { Node: { Verb: "get", Node: { Node: "n1" } } }]);
  t.false(read.ok, "the node does not exist");
  t.true(s.catalog.readTxn([{ KV: { Verb: "get-or-empty", Key: "missing" } }]).ok);
  t.false(s.catalog.readTxn([{ Node: { Verb: "set", Node: { Node: "n1", Address: "a" } } }]).ok, "a write is refused");
});

test("txn decoding: each op names exactly one kind, catalog verbs are checked, keys match case-insensitively", (t) => {
  const decode = (Ops: unknown[]) => normalizeCommand({ v: 1, op: "txn", nowMs: 0, Ops });
  t.like(decode([{ node: { verb: "get", node: { node: "n1" } } }]), { ok: true, command: { Ops: [{ Node: { Verb: "get", Node: { Node: "n1" } } }] } });
  const message = (Ops: unknown[]) => {
    const result = decode(Ops);
    return result.ok ? "decoded" : `${result.error.status} ${result.error.message}`;
  };
  t.is(message([{ KV: { Verb: "get", Key: "a" }, Node: { Verb: "get", Node: { Node: "n1" } } }]), "400 Ops[0]: expected exactly one of KV, Node, Service, Check or Session, got KV, Node");
  t.is(message([{}]), "400 Ops[0]: expected exactly one of KV, Node, Service, Check or Session, got none");
  t.is(message([{ Check: { Verb: "upsert", Check: { Node: "n1", CheckID: "c" } } }]), "400 Ops[0]: unknown verb \"upsert\" (known: get, set, cas, delete, delete-cas)");
  t.is(message([{ Service: { Verb: "set", Node: "n1", Service: { ID: "x" } } }]), "400 Must provide Service");
  t.like(decode([{ Service: { Verb: "delete", Node: "n1", Service: { ID: "x" } } }]), { ok: true });
});
