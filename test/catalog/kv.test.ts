import test from "ava";
import { Script } from "./harness.ts";
import { Catalog } from "./imports.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test("kv set: CreateIndex stays, ModifyIndex moves, Flags stored; PUT answers true", (t) => {
  const s = new Script();
  t.is(s.set("a", "1", { Flags: 42 }), true);
  s.set("a", "2", { Flags: 42 });
  t.like(s.catalog.kvGet("a"), { index: 2, value: { Key: "a", Flags: 42, LockIndex: 0, CreateIndex: 1, ModifyIndex: 2 } });
  t.is(s.value("a"), "2");
});

test("kv set: writing the same value and flags keeps ModifyIndex and the table index", (t) => {
  const s = new Script();
  s.set("a", "1");
  s.set("b", "1");
  s.set("a", "1");
  t.is(s.catalog.kvGet("a").value!.ModifyIndex, 1);
  t.is(s.catalog.kvList("").index, 2);
});

test("kv cas: index 0 creates only; otherwise the ModifyIndex must match", (t) => {
  const s = new Script();
  t.is(s.ok({ op: "kv", Verb: "cas", Key: "k", Index: 0, Value: bytes("first") }), true);
  t.is(s.ok({ op: "kv", Verb: "cas", Key: "k", Index: 0, Value: bytes("again") }), false);
  t.is(s.ok({ op: "kv", Verb: "cas", Key: "k", Index: 99, Value: bytes("stale") }), false);
  t.is(s.ok({ op: "kv", Verb: "cas", Key: "k", Index: 1, Value: bytes("second") }), true);
  t.is(s.ok({ op: "kv", Verb: "cas", Key: "missing", Index: 5, Value: bytes("x") }), false);
  t.is(s.value("k"), "second");
  t.is(s.catalog.kvGet("missing").value, null);
});

test("kv delete, delete-tree and delete-cas leave tombstones that keep prefix indexes moving forward", (t) => {
  const s = new Script();
  s.set("app/a", "1");
  s.set("app/b", "1");
  s.set("other", "1");
  t.is(s.catalog.kvList("app/").index, 2);
  s.ok({ op: "kv", Verb: "delete", Key: "app/b" });
  t.is(s.catalog.kvList("app/").index, 4, "the delete moved the prefix index");
  t.is(s.ok({ op: "kv", Verb: "delete-cas", Key: "app/a", Index: 7 }), false);
  t.is(s.ok({ op: "kv", Verb: "delete-cas", Key: "app/a", Index: 1 }), true);
  t.is(s.ok({ op: "kv", Verb: "delete-cas", Key: "app/a", Index: 1 }), true, "a missing key counts as deleted");
  t.deepEqual(s.catalog.kvList("app/").value, []);
  t.is(s.catalog.kvList("app/").index, 6);
  s.set("tree/x/1", "1");
  s.set("tree/x/2", "1");
  s.ok({ op: "kv", Verb: "delete-tree", Key: "tree/" });
  t.deepEqual(s.catalog.kvKeys("").value, ["other"]);
  t.is(s.catalog.kvList("tree/").index, s.index);
  t.is(s.catalog.kvGet("gone").index, s.index, "a missing key answers the table index");
});

test("kv delete of a missing key touches nothing", (t) => {
  const s = new Script();
  s.set("a", "1");
  s.ok({ op: "kv", Verb: "delete", Key: "nope" });
  t.is(s.catalog.kvList("").index, 1);
});

test("tombstone reap: drops tombstones up to an index, and the prefix index never slides back", (t) => {
  const s = new Script();
  s.set("p/a", "1");
  s.set("p/b", "1");
  s.ok({ op: "kv", Verb: "delete", Key: "p/b" });
  t.is(s.catalog.kvList("p/").index, 3);
  t.is(s.catalog.stats().tombstones, 1);
  t.is(s.ok({ op: "tombstone.reap", Index: 3 }), 1);
  t.is(s.catalog.stats().tombstones, 0);
  // Consul would fall back to p/a's index 1 here; a client passing back 3 would see the index
  // go backwards. The reaped tombstone's index stays the prefix's floor.
  t.is(s.catalog.kvList("p/").index, 3);
  t.is(s.catalog.kvKeys("p/").index, 3);
  s.set("p/a", "2");
  t.is(s.catalog.kvList("p/").index, s.index, "a later write moves it on");
  const restored = new Catalog();
  restored.restore(s.catalog.snapshot());
  s.ok({ op: "kv", Verb: "delete", Key: "p/a" });
  s.ok({ op: "tombstone.reap", Index: s.index });
  t.is(s.catalog.kvList("p/").index, s.index, "no entries left: the table index");
  t.is(restored.kvList("p/").index, 5, "the floor survives a snapshot");
});

test("kv keys with a separator roll up sub-folders", (t) => {
  const s = new Script();
  for (const key of ["web/a", "web/sub/x", "web/sub/y", "web/z", "webx"]) s.set(key, "v");
  t.deepEqual(s.catalog.kvKeys("web/", "/").value, ["web/a", "web/sub/", "web/z"]);
  t.deepEqual(s.catalog.kvKeys("web").value, ["web/a", "web/sub/x", "web/sub/y", "web/z", "webx"]);
  t.deepEqual(s.catalog.kvList("web/sub/").value.map((e) => e.Key), ["web/sub/x", "web/sub/y"]);
});

test("kv value limit: 512 KiB is accepted, one byte more is a 413", (t) => {
  const s = new Script();
  t.is(s.ok({ op: "kv", Verb: "set", Key: "big", Value: new Uint8Array(512 * 1024) }), true);
  const error = s.err({ op: "kv", Verb: "set", Key: "big", Value: new Uint8Array(512 * 1024 + 1) });
  t.is(error.status, 413);
  t.is(error.message, "Request body(524289 bytes) too large, max size: 524288 bytes");
});

test("kv: a key without a value answers Value null", (t) => {
  const s = new Script();
  s.ok({ op: "kv", Verb: "set", Key: "empty" });
  t.is(s.catalog.kvGet("empty").value!.Value, null);
});

test("kv: keys iterate in order across many inserts in random order", (t) => {
  const s = new Script();
  const keys = Array.from({ length: 3000 }, (_, i) => `k/${(i * 7919) % 3000}`);
  for (const key of keys) s.ok({ op: "kv", Verb: "set", Key: key });
  const listed = s.catalog.kvKeys("k/").value;
  t.deepEqual(listed, [...keys].sort());
  s.catalog.invariants();
});

test("kv flags are a uint64: api.Lock's 0x2ddccbc058a50c18 and 2^64 - 1 survive the log, a snapshot and a restore exactly", (t) => {
  const s = new Script();
  const lockFlag = 0x2ddccbc058a50c18n;
  t.is(s.set("lock", "", { Flags: lockFlag }), true);
  t.is(s.set("max", "", { Flags: 18446744073709551615n }), true);
  t.is(s.set("small", "", { Flags: 42n }), true);
  t.is(s.catalog.kvGet("lock").value!.Flags, lockFlag);
  t.is(s.catalog.kvGet("max").value!.Flags, 18446744073709551615n);
  t.is(s.catalog.kvGet("small").value!.Flags, 42, "a flag that fits a number is one, so === compares flags");
  const index = s.catalog.kvGet("lock").value!.ModifyIndex;
  s.set("lock", "", { Flags: lockFlag });
  t.is(s.catalog.kvGet("lock").value!.ModifyIndex, index, "the same flags again is no change");
  const archive = s.catalog.snapshot();
  s.set("lock", "", { Flags: 1 });
  t.is(s.ok({ op: "snapshot.restore", Data: archive }), true);
  t.is(s.catalog.kvGet("lock").value!.Flags, lockFlag);
  t.is(s.catalog.kvGet("max").value!.Flags, 18446744073709551615n);
  for (const bad of [18446744073709551616n, -1, 2 ** 60, "12x"]) {
    t.regex(s.err({ op: "kv", Verb: "set", Key: "bad", Flags: bad } as never).message, /Flags must be an unsigned 64-bit integer/, String(bad));
  }
});
