import test from "ava";
import { Script } from "./harness.ts";
import { Catalog, encodeCommand, newSessionId } from "./imports.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";

function withNode(): Script {
  const s = new Script();
  s.node("n1");
  return s;
}

test("session create: defaults are serfHealth, release, 15 s lock delay", (t) => {
  const s = withNode();
  s.session("s1", "n1", { Name: "patroni" });
  t.like(s.catalog.sessionInfo("s1").value[0], {
    ID: "s1", Name: "patroni", Node: "n1", NodeChecks: ["serfHealth"], ServiceChecks: [], Checks: ["serfHealth"],
    Behavior: "release", LockDelay: 15_000_000_000, TTL: "", CreateIndex: 2, ModifyIndex: 2,
  });
});

test("session create: an explicit empty check list binds nothing (Patroni's pure TTL session)", (t) => {
  const s = withNode();
  s.session("s1", "n1", { checks: [], ttl: "15.0s", lockdelay: "0.001s", behavior: "delete" });
  t.like(s.catalog.sessionInfo("s1").value[0], { NodeChecks: [], Checks: [], TTL: "15.0s", LockDelay: 1_000_000, Behavior: "delete" });
});

test("session create: TTL outside [10s, 24h] is Consul's 500 text", (t) => {
  const s = withNode();
  const error = s.err({ op: "session.create", ID: "s1", Node: "n1", TTL: "5s" });
  t.is(error.status, 500);
  t.is(error.message, "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]");
  t.is(s.err({ op: "session.create", ID: "s1", Node: "n1", TTL: "86401s" }).status, 500);
  s.session("s1", "n1", { TTL: "86400s" });
});

test("session create: an unparseable TTL is Consul's 500 `Session TTL '<v>' invalid: ...`", (t) => {
  const s = withNode();
  t.deepEqual(s.err({ op: "session.create", ID: "s1", Node: "n1", TTL: "soon" }), {
    status: 500, message: `Session TTL 'soon' invalid: time: invalid duration "soon"`,
  });
  // Go's time.ParseDuration words the other failures its own way.
  t.is(s.err({ op: "session.create", ID: "s1", Node: "n1", TTL: "15" }).message, `Session TTL '15' invalid: time: missing unit in duration "15"`);
  t.is(s.err({ op: "session.create", ID: "s1", Node: "n1", TTL: "15q" }).message, `Session TTL '15q' invalid: time: unknown unit "q" in duration "15q"`);
  t.is(s.catalog.sessionList().value.length, 0, "nothing was created");
});

test("session create: missing node, missing check and critical check are refused", (t) => {
  const s = withNode();
  t.is(s.err({ op: "session.create", ID: "s1", Node: "nope" }).message, "Missing node registration");
  t.is(s.err({ op: "session.create", ID: "s1", Node: "n1", NodeChecks: ["x"] }).message, "Missing check 'x' registration");
  s.ok({ op: "catalog.register", Node: "n1", Address: "a", Check: { CheckID: "bad", Status: "critical" } });
  t.is(s.err({ op: "session.create", ID: "s1", Node: "n1", NodeChecks: ["bad"] }).message, "Check 'bad' is in critical state");
  t.is(s.err({ op: "session.create", ID: "s1", Node: "n1", Behavior: "keep" }).message, "Invalid session behavior: keep");
});

test("acquire/release: LockIndex counts acquisitions, re-acquire by the holder does not", (t) => {
  const s = withNode();
  s.session("s1", "n1");
  t.is(s.lock("k", "s1"), true);
  t.like(s.catalog.kvGet("k").value, { LockIndex: 1, Session: "s1" });
  t.is(s.lock("k", "s1", "again"), true);
  t.like(s.catalog.kvGet("k").value, { LockIndex: 1, Session: "s1" });
  t.is(s.unlock("k", "s1"), true);
  t.is(s.catalog.kvGet("k").value!.Session, undefined);
  t.is(s.lock("k", "s1"), true);
  t.is(s.catalog.kvGet("k").value!.LockIndex, 2);
});

test("acquire: a lock held by another session is refused; release by a non-holder is false", (t) => {
  const s = withNode();
  s.session("s1", "n1");
  s.session("s2", "n1");
  s.lock("k", "s1");
  t.is(s.lock("k", "s2"), false);
  t.is(s.unlock("k", "s2"), false);
  t.like(s.catalog.kvGet("k").value, { Session: "s1" });
});

test("acquire: an unknown session is a 500 naming it", (t) => {
  const s = withNode();
  const error = s.err({ op: "kv", Verb: "lock", Key: "k", Session: "ghost" });
  t.deepEqual(error, { status: 500, message: 'invalid session "ghost"' });
});

test("plain set on a held key keeps the holder and resets LockIndex to 0 (Consul's kvsSetTxn)", (t) => {
  const s = withNode();
  s.session("s1", "n1");
  s.lock("k", "s1");
  t.like(s.catalog.kvGet("k").value, { Session: "s1", LockIndex: 1 });
  s.set("k", "overwritten");
  t.like(s.catalog.kvGet("k").value, { Session: "s1", LockIndex: 0, ModifyIndex: s.index });
  // The holder re-acquiring keeps the (reset) LockIndex; releasing keeps it too.
  t.is(s.lock("k", "s1"), true);
  t.is(s.catalog.kvGet("k").value!.LockIndex, 0);
  t.is(s.unlock("k", "s1"), true);
  t.like(s.catalog.kvGet("k").value, { Session: undefined, LockIndex: 0 });
});

test("cas on a held key resets LockIndex to 0 as well; an identical set writes nothing", (t) => {
  const s = withNode();
  s.session("s1", "n1");
  s.lock("k", "s1", "v");
  const held = s.catalog.kvGet("k").value!;
  t.is(s.ok({ op: "kv", Verb: "cas", Key: "k", Index: held.ModifyIndex, Value: new TextEncoder().encode("v") }), true);
  t.like(s.catalog.kvGet("k").value, { Session: "s1", LockIndex: 0, ModifyIndex: s.index });
  const at = s.index;
  s.set("k", "v");
  t.is(s.catalog.kvGet("k").value!.ModifyIndex, at, "same value, flags, session and LockIndex: no write");
});

test("lock-delay: after invalidation an acquire stamped inside the window fails, after it succeeds", (t) => {
  const s = withNode();
  s.session("s1", "n1", { LockDelay: "10s" });
  s.session("s2", "n1", { Checks: [] });
  s.lock("k", "s1");
  s.ok({ op: "session.destroy", ID: "s1" });
  t.is(s.catalog.lockDelayUntilMs("k"), s.nowMs + 10_000);
  s.advance(9_999);
  t.is(s.lock("k", "s2"), false);
  s.advance(1);
  t.is(s.lock("k", "s2"), true);
});

test("lock-delay: a plain release sets no window; delays above 60 s are clamped", (t) => {
  const s = withNode();
  s.session("s1", "n1", { LockDelayMs: 120_000 });
  s.session("s2", "n1");
  s.lock("a", "s1");
  s.lock("b", "s1");
  s.unlock("a", "s1");
  t.is(s.lock("a", "s2"), true);
  s.ok({ op: "session.destroy", ID: "s1" });
  t.is(s.catalog.lockDelayUntilMs("b"), s.nowMs + 60_000);
});

test("invalidation: a bound check going critical destroys the session and releases its locks", (t) => {
  const s = withNode();
  s.session("s1", "n1");
  s.lock("k", "s1");
  s.ok({ op: "catalog.register", Node: "n1", Address: "a", Check: { CheckID: "serfHealth", Status: "critical" } });
  t.deepEqual(s.catalog.sessionList().value, []);
  t.like(s.catalog.kvGet("k").value, { Session: undefined, LockIndex: 1, ModifyIndex: s.index });
  s.catalog.invariants();
});

test("invalidation: a warning check does not invalidate; deregistering the check does", (t) => {
  const s = withNode();
  s.session("s1", "n1");
  s.ok({ op: "catalog.register", Node: "n1", Address: "a", Check: { CheckID: "serfHealth", Status: "warning" } });
  t.is(s.catalog.sessionList().value.length, 1);
  s.ok({ op: "catalog.deregister", Node: "n1", CheckID: "serfHealth" });
  t.deepEqual(s.catalog.sessionList().value, []);
});

test("invalidation: behavior delete deletes held keys, release keeps them unlocked", (t) => {
  const s = withNode();
  s.session("del", "n1", { Behavior: "delete" });
  s.session("rel", "n1");
  s.lock("by-del", "del");
  s.lock("by-rel", "rel");
  s.ok({ op: "session.destroy", ID: "del" });
  s.ok({ op: "session.destroy", ID: "rel" });
  t.is(s.catalog.kvGet("by-del").value, null);
  t.like(s.catalog.kvGet("by-rel").value, { Session: undefined });
});

test("TTL: expiredSessions reports a session at 2 x TTL after its last renew; expire applies then", (t) => {
  const s = withNode();
  s.session("s1", "n1", { TTL: "10s", Checks: [] });
  s.lock("leader", "s1");
  t.deepEqual(s.catalog.expiredSessions(s.nowMs + 19_999), []);
  t.deepEqual(s.catalog.expiredSessions(s.nowMs + 20_000), ["s1"]);
  t.is(s.catalog.nextSessionDeadlineMs(), s.nowMs + 20_000);
  s.advance(15_000);
  s.ok({ op: "session.renew", ID: "s1" });
  s.advance(10_000);
  t.is(s.ok({ op: "session.expire", ID: "s1" }), false, "the renew moved the deadline");
  t.is(s.catalog.sessionList().value.length, 1);
  s.advance(10_000);
  t.deepEqual(s.catalog.expiredSessions(s.nowMs), ["s1"]);
  t.is(s.ok({ op: "session.expire", ID: "s1" }), true);
  t.deepEqual(s.catalog.sessionList().value, []);
  t.is(s.catalog.kvGet("leader").value!.Session, undefined);
});

test("TTL across a failover: the new leader's resetSessionTimers gives every TTL session a fresh 2 x TTL", (t) => {
  // The old leader's log: s1 (TTL 15 s) renewed at t0, then the leader dies; the client's renews
  // fail until a new leader is elected 31 s later.
  const s = withNode();
  s.session("s1", "n1", { TTL: "15s", Checks: [] });
  s.session("s2", "n1", { TTL: "15s", Checks: [] });
  s.session("plain", "n1", { Checks: [] });
  s.lock("leader", "s1");
  const t0 = s.nowMs;
  const successor = new Catalog();
  successor.restore(s.catalog.snapshot());
  t.is(successor.sessionTimersResetAtMs, 0);
  t.deepEqual(successor.expiredSessions(t0 + 31_000), ["s1", "s2"], "without the reset, the first sweep expires both");
  successor.resetSessionTimers(t0 + 31_000);
  t.is(successor.sessionTimersResetAtMs, t0 + 31_000);
  t.deepEqual(successor.expiredSessions(t0 + 31_000), [], "a fresh 2 x TTL from the takeover");
  t.is(successor.nextSessionDeadlineMs(), t0 + 31_000 + 30_000);
  t.deepEqual(successor.expiredSessions(t0 + 60_999), []);
  t.deepEqual(successor.expiredSessions(t0 + 61_000), ["s1", "s2"], "then clients that never renewed do expire");
  // A renew after the takeover counts from its own time.
  s.advance(40_000);
  const renew = encodeCommand({ v: 1, op: "session.renew", nowMs: s.nowMs, ID: "s1" });
  successor.applyBytes(renew, s.index + 1);
  t.deepEqual(successor.expiredSessions(t0 + 61_000), ["s2"]);
  t.deepEqual(successor.expiredSessions(t0 + 70_000), ["s2", "s1"].sort());
  // The reset is leader memory: a snapshot restore keeps it, and the log never sees it.
  const snapshotBefore = successor.snapshot();
  successor.restore(snapshotBefore);
  t.is(successor.sessionTimersResetAtMs, t0 + 31_000);
  t.deepEqual([...successor.snapshot()], [...snapshotBefore]);
  t.throws(() => successor.resetSessionTimers(Number.NaN), { message: /not a finite time/ });
});

test("TTL: the expire command re-checks against the log alone, so a takeover never blocks a due expiry", (t) => {
  const s = withNode();
  s.session("s1", "n1", { TTL: "10s", Checks: [] });
  s.catalog.resetSessionTimers(s.nowMs + 5_000);
  s.advance(20_000);
  t.deepEqual(s.catalog.expiredSessions(s.nowMs), [], "this leader's timer runs until takeover + 20 s");
  t.is(s.ok({ op: "session.expire", ID: "s1" }), true, "but an expire already proposed is judged by the log's renew time");
});

test("renew: an unknown session is a 404 with Consul's text", (t) => {
  const s = withNode();
  t.deepEqual(s.err({ op: "session.renew", ID: "nope" }), { status: 404, message: "Session id 'nope' not found" });
});

test("log time never runs backwards: an older leader clock cannot reopen a lock-delay window early", (t) => {
  const s = withNode();
  s.session("s1", "n1", { LockDelay: "10s" });
  s.session("s2", "n1", { Checks: [] });
  s.lock("k", "s1");
  s.advance(20_000);
  s.ok({ op: "session.destroy", ID: "s1" });
  s.advance(-15_000);
  t.is(s.lock("k", "s2"), false, "stamped before the destroy, the acquire sees the log's later clock");
  t.is(s.catalog.clockMs, s.nowMs + 15_000);
});

test("sessions by node list only that node's sessions", (t) => {
  const s = withNode();
  s.node("n2");
  s.session("a", "n1");
  s.session("b", "n2");
  t.deepEqual(s.catalog.sessionList("n2").value.map((x) => x.ID), ["b"]);
  t.deepEqual(s.catalog.sessionList().value.map((x) => x.ID), ["a", "b"]);
});

test("session bound to a service check: invalidated when that check goes critical", (t) => {
  const s = withNode();
  s.service("n1", "db", {}, [{ CheckID: "db-alive", Status: "passing", ServiceID: "db" }]);
  s.ok({ op: "session.create", ID: "s1", Node: "n1", ServiceChecks: [{ ID: "db-alive" }] });
  t.like(s.catalog.sessionInfo("s1").value[0], { NodeChecks: ["serfHealth"], ServiceChecks: [{ ID: "db-alive", Namespace: "" }], Checks: ["serfHealth", "db-alive"] });
  s.service("n1", "db", {}, [{ CheckID: "db-alive", Status: "critical", ServiceID: "db" }]);
  t.deepEqual(s.catalog.sessionList().value, []);
});

test("session IDs come from the injected generator: same seed, same ID, UUID-shaped", (t) => {
  const a = newSessionId(mulberry32(9));
  t.is(a, newSessionId(mulberry32(9)));
  t.not(a, newSessionId(mulberry32(10)));
  t.regex(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});
