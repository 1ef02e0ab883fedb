import test from "ava";
import { CatalogChecker } from "../../sim/checkers/catalog-checker.ts";
import { Catalog, encodeCommand, type Command } from "./imports.ts";

/** Applies commands to one catalog with the checker wrapped around each apply, as the scenario does. */
function checked(checker: CatalogChecker, node = "a") {
  const catalog = new Catalog();
  let index = 0;
  const apply = (command: Command) => {
    const before = checker.lockView(catalog);
    const result = catalog.applyBytes(encodeCommand(command), ++index);
    checker.afterApply(node, catalog, index, before);
    return result;
  };
  return { catalog, apply };
}

function setup(apply: (c: Command) => unknown): void {
  apply({ v: 1, op: "catalog.register", Node: "n1", Address: "a" });
  apply({ v: 1, op: "session.create", nowMs: 0, ID: "s1", Node: "n1", NodeChecks: [], LockDelayMs: 10_000 });
  apply({ v: 1, op: "session.create", nowMs: 0, ID: "s2", Node: "n1", NodeChecks: [] });
  apply({ v: 1, op: "kv", nowMs: 0, Verb: "lock", Key: "lock/x", Session: "s1" });
  apply({ v: 1, op: "session.destroy", nowMs: 1_000, ID: "s1" });
}

test("checker: a hand-over inside the lock-delay window is a safety violation", (t) => {
  const { apply } = checked(new CatalogChecker(1));
  setup(apply);
  // A txn lock skips lock-delay (as Consul's txn endpoint does), so only the checker stops it.
  t.throws(() => apply({ v: 1, op: "txn", nowMs: 5_000, Ops: [{ KV: { Verb: "lock", Key: "lock/x", Session: "s2" } }] }), {
    name: "SafetyViolation", message: /inside the lock-delay window/,
  });
});

test("checker: the same hand-over after the window is fine and counted", (t) => {
  const checker = new CatalogChecker(1);
  const { apply } = checked(checker);
  setup(apply);
  apply({ v: 1, op: "kv", nowMs: 11_000, Verb: "lock", Key: "lock/x", Session: "s2" });
  t.is(checker.handovers, 1);
  t.is(checker.invalidationReleases, 1);
});

test("checker: two servers with different state at one index are a safety violation", (t) => {
  const checker = new CatalogChecker(1);
  const a = checked(checker, "a");
  const b = checked(checker, "b");
  a.apply({ v: 1, op: "kv", nowMs: 0, Verb: "set", Key: "k", Value: new Uint8Array([1]) });
  t.throws(() => b.apply({ v: 1, op: "kv", nowMs: 0, Verb: "set", Key: "k", Value: new Uint8Array([2]) }), { message: /identical state/ });
});
