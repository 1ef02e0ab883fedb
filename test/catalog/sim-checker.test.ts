import test from "ava";
import { BlockingChecker, type BlockingAnswer } from "../../sim/checkers/blocking-checker.ts";
import { CatalogChecker } from "../../sim/checkers/catalog-checker.ts";
import { checkLinearizable } from "../../sim/checkers/linearizability.ts";
import { LockClientChecker } from "../../sim/checkers/lock-client-checker.ts";
import { holderKey, LockHistory, sessionKey } from "../../sim/checkers/lock-history.ts";
import { SessionChecker } from "../../sim/checkers/session-checker.ts";
import { checkerOf } from "../../sim/violation.ts";
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

// ---- Blocking queries, judged from the client's answers ----

const answer = (fields: Partial<BlockingAnswer> & Pick<BlockingAnswer, "passedIndex" | "index" | "print">): BlockingAnswer => ({
  waitMs: 1_000, callMs: 0, returnMs: 10, server: "n1", how: fields.passedIndex === 0 ? "immediate" : "woken", ...fields,
});

test("blocking checker: a stream woken with the index it passed and no change is a spin", (t) => {
  const checker = new BlockingChecker();
  checker.open("s", "catalog/node/a");
  checker.onAnswer("s", answer({ passedIndex: 0, index: 7, print: "x" }));
  t.is(checker.nextIndex("s"), 7);
  t.throws(() => checker.onAnswer("s", answer({ passedIndex: 7, index: 7, print: "x" })), {
    name: "SafetyViolation", message: /catalog\/node\/a .*answered twice with the same index 7 and no change/,
  });
});

test("blocking checker: the same answer when the wait ran out is fine; a new index without change is fine", (t) => {
  const checker = new BlockingChecker();
  checker.open("s", "q");
  checker.onAnswer("s", answer({ passedIndex: 0, index: 7, print: "x" }));
  checker.onAnswer("s", answer({ passedIndex: 7, index: 7, print: "x", how: "timeout", returnMs: 1_005 }));
  checker.onAnswer("s", answer({ passedIndex: 7, index: 9, print: "x" }));
  checker.onAnswer("s", answer({ passedIndex: 9, index: 12, print: "y" }));
  t.is(checker.wakes, 2);
  t.is(checker.timeouts, 1);
  t.is(checker.answers, 4);
});

test("blocking checker: a change seen only when the wait ran out is a missed wake", (t) => {
  const checker = new BlockingChecker();
  checker.open("s", "health/node/a");
  checker.onAnswer("s", answer({ passedIndex: 0, index: 7, print: "x" }));
  t.throws(() => checker.onAnswer("s", answer({ passedIndex: 7, index: 9, print: "y", how: "timeout" })), {
    message: /changed during the wait \(index 7 -> 9\) but the waiter was not woken/,
  });
});

test("blocking checker: a change under the same index, and an index going back, are violations", (t) => {
  const hidden = new BlockingChecker();
  hidden.open("s", "q");
  hidden.onAnswer("s", answer({ passedIndex: 0, index: 7, print: "x" }));
  t.throws(() => hidden.onAnswer("s", answer({ passedIndex: 7, index: 7, print: "y", how: "timeout" })), { message: /changed under the same index 7/ });
  const back = new BlockingChecker();
  back.open("s", "q");
  back.onAnswer("s", answer({ passedIndex: 0, index: 7, print: "x" }));
  t.throws(() => back.onAnswer("s", answer({ passedIndex: 7, index: 5, print: "x", server: "n2" })), { message: /from n2.*index went back from 7 to 5/ });
});

test("blocking checker: reopening a stream starts it again from index 0", (t) => {
  const checker = new BlockingChecker();
  checker.open("s", "q");
  checker.onAnswer("s", answer({ passedIndex: 0, index: 7, print: "x" }));
  checker.open("s", "q");
  t.is(checker.nextIndex("s"), 0);
  checker.onAnswer("s", answer({ passedIndex: 0, index: 3, print: "z" }));
  t.throws(() => checker.onAnswer("nope", answer({ passedIndex: 0, index: 1, print: "" })), { message: /unknown stream nope/ });
});

// ---- Session TTLs, judged against the clients' renewals and the leaders' takeovers ----

test("session checker: an expiry after TTL from both the last renew and the takeover is fine", (t) => {
  const checker = new SessionChecker(2_000, 5);
  checker.onCreated("s1", 2_000, 1_000);
  checker.onRenewAttempt("s1", 3_000);
  checker.onRenewOk("s1", 3_000);
  checker.onExpireProposed("s1", 7_000, "n1/t2", 4_000);
  checker.onExpired(40, "s1", 7_000, 7_000);
  checker.onExpired(40, "s1", 7_000, 7_000);
  t.is(checker.expiries, 1, "each Raft index is judged once, whichever server applies it first");
  t.is(checker.closestMarginMs, 1_000);
});

test("session checker: an expiry within TTL of the leader's takeover is a violation (defect 6)", (t) => {
  const checker = new SessionChecker(2_000, 5);
  checker.onCreated("s1", 2_000, 1_000);
  // The client's renewals failed for 10 s while there was no leader; n3 took over at 11 s.
  checker.onRenewAttempt("s1", 6_000);
  checker.onExpireProposed("s1", 11_500, "n3/t4", 11_000);
  t.throws(() => checker.onExpired(90, "s1", 11_500, 11_500), {
    name: "SafetyViolation", message: /s1 \(TTL 2000 ms\) expired by n3\/t4 at 11500 ms, before 13000 ms: its leader n3\/t4 took over at 11000 ms/,
  });
});

test("session checker: an expiry within TTL of a successful renew is a violation; unknown expiries too", (t) => {
  const checker = new SessionChecker(2_000, 5);
  checker.onCreated("s1", 5_000, 0);
  checker.onRenewOk("s1", 20_000);
  checker.onExpireProposed("s1", 24_000, "n1/t1", 0);
  t.throws(() => checker.onExpired(7, "s1", 24_000, 24_000), { message: /last successful renew was called at 20000 ms/ });
  checker.onCreated("s2", 5_000, 0);
  t.throws(() => checker.onExpired(8, "s2", 30_000, 30_000), { message: /no leader proposed/ });
  checker.onExpired(9, "not-a-ttl-session", 1, 1);
});

test("session checker: a TTL session alive past 2 x TTL + bound after its clients stopped has outlived its TTL", (t) => {
  const checker = new SessionChecker(2_000, 5);
  checker.onCreated("s1", 2_000, 0);
  checker.onRenewAttempt("s1", 10_000);
  checker.onCreated("plain", 0, 0);
  t.is(checker.ttlMaxMs, 2_000);
  checker.checkNotOutlived(16_005, 1_000, ["s1", "plain"]);
  checker.checkNotOutlived(17_000, 12_000, ["s1"]);
  t.throws(() => checker.checkNotOutlived(16_006, 1_000, ["s1"]), { message: /s1 \(TTL 2000 ms\) still alive at 16006 ms, past 16005 ms/ });
});

// ---- Lock safety from the clients' side ----

test("lock client checker: an acquire while another client believes it holds the key is a violation", (t) => {
  const checker = new LockClientChecker();
  checker.onPureTtlSessionCreated("s1", 2_000, 0);
  checker.onAcquired(1, "s1", "lock/a", 100);
  checker.onRenewOk("s1", 1_500);
  t.throws(() => checker.onAcquired(2, "s2", "lock/a", 3_400), {
    name: "SafetyViolation", message: /client 2 acquired lock\/a with session s2 at 3400 ms while client 1 believed it held it with session s1 since 100 ms \(until 3500 ms\)/,
  });
});

test("lock client checker: a belief ends at the release call, the destroy call, or TTL after the last successful renew", (t) => {
  const checker = new LockClientChecker();
  checker.onPureTtlSessionCreated("s1", 2_000, 0);
  checker.onAcquired(1, "s1", "lock/a", 100);
  checker.onAcquired(1, "s1", "lock/a", 200);
  t.is(checker.beliefsRecorded, 1, "a re-acquire by the holder is the same belief");
  checker.onAcquired(2, "s2", "lock/a", 2_000);
  t.pass("TTL after the create's call: the belief ended at 2000 ms");
  checker.onPureTtlSessionCreated("s3", 5_000, 3_000);
  checker.onAcquired(3, "s3", "lock/b", 3_100);
  checker.onReleaseCall("s3", "lock/b", 3_500);
  checker.onAcquired(4, "s4", "lock/b", 3_600);
  checker.onPureTtlSessionCreated("s5", 5_000, 4_000);
  checker.onAcquired(5, "s5", "lock/c", 4_100);
  checker.onSessionEnded("s5", 4_200);
  checker.onAcquired(6, "s6", "lock/c", 4_300);
  t.is(checker.acquisitionsChecked, 7);
});

test("lock client checker: sessions its client cannot vouch for record no belief", (t) => {
  const checker = new LockClientChecker();
  checker.onAcquired(1, "bound-to-serf", "lock/a", 100);
  checker.onAcquired(2, "s2", "lock/a", 200);
  t.is(checker.beliefsRecorded, 0);
});

// ---- Lock and session operations in the linearizability history ----

test("lock history: two fresh acquires of one key with no release between are not linearizable", (t) => {
  const history = new LockHistory();
  history.done(history.call(1, { kind: "cas", key: holderKey("lock/a"), expected: null, value: "s1" }, 0), { kind: "cas", swapped: true }, 10);
  history.done(history.call(2, { kind: "cas", key: holderKey("lock/a"), expected: null, value: "s2" }, 20), { kind: "cas", swapped: true }, 30);
  const result = checkLinearizable(history.history());
  t.false(result.ok);
  t.is(result.ok ? "" : result.key, "holder:lock/a");
});

test("lock history: the cluster's release between them (an expiry, recorded once per Raft index) makes it linearizable", (t) => {
  const history = new LockHistory();
  history.done(history.call(1, { kind: "cas", key: holderKey("lock/a"), expected: null, value: "s1" }, 0), { kind: "cas", swapped: true }, 10);
  history.onClusterDelete(holderKey("lock/a"), 42, 12, 15);
  history.onClusterDelete(holderKey("lock/a"), 42, 12, 16);
  history.done(history.call(2, { kind: "cas", key: holderKey("lock/a"), expected: null, value: "s2" }, 20), { kind: "cas", swapped: true }, 30);
  t.is(history.history().length, 3, "the second server's apply of index 42 adds nothing");
  t.true(checkLinearizable(history.history()).ok);
});

test("lock history: a renew answered after the session's end was acknowledged is not linearizable; timed-out and dropped ops constrain nothing", (t) => {
  const history = new LockHistory();
  history.done(history.call(1, { kind: "cas", key: sessionKey("s1"), expected: null, value: "alive" }, 0), { kind: "cas", swapped: true }, 5);
  history.done(history.call(1, { kind: "delete", key: sessionKey("s1") }, 10), { kind: "ok" }, 20);
  history.call(1, { kind: "put", key: holderKey("lock/b"), value: "s1" }, 21);
  history.drop(history.call(2, { kind: "cas", key: holderKey("lock/b"), expected: null, value: "s2" }, 22));
  t.true(checkLinearizable(history.history()).ok);
  history.read(1, sessionKey("s1"), "alive", 30, 40);
  const result = checkLinearizable(history.history());
  t.false(result.ok);
  t.is(result.ok ? "" : result.key, "session:s1");
});

test("catalog checkers name their violation in the first clause, so the shrinker keeps the same one", (t) => {
  const spin = new BlockingChecker();
  spin.open("s", "catalog/node/agent-2");
  spin.onAnswer("s", answer({ passedIndex: 0, index: 7, print: "x" }));
  const error = t.throws(() => spin.onAnswer("s", answer({ passedIndex: 7, index: 7, print: "x" })))!;
  t.is(checkerOf("safety", error.stack ?? ""), "blocking query spin");
  const sessions = new SessionChecker(2_000, 5);
  sessions.onCreated("s1", 2_000, 0);
  sessions.onExpireProposed("s1", 500, "n1/t2", 400);
  const early = t.throws(() => sessions.onExpired(3, "s1", 500, 500))!;
  t.is(checkerOf("safety", early.stack ?? ""), "session TTL early expiry");
  const locks = new LockClientChecker();
  locks.onPureTtlSessionCreated("s1", 2_000, 0);
  locks.onAcquired(1, "s1", "lock/a", 10);
  const clash = t.throws(() => locks.onAcquired(2, "s2", "lock/a", 20))!;
  t.is(checkerOf("safety", clash.stack ?? ""), "client lock safety");
});
