import test from "ava";
import { Script } from "./harness.ts";
import type { KvOp } from "./imports.ts";

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
