import test from "ava";
import type { GossipEvent } from "../../src/core/gossip/events.ts";
import { TestPool } from "./pool.ts";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const userEvents = (pool: TestPool, name: string): { name: string; payload: string; lTime: number }[] =>
  pool.eventsOf(name, "user-event").map((e) => {
    const u = e as Extract<GossipEvent, { type: "user-event" }>;
    return { name: u.name, payload: new TextDecoder().decode(u.payload), lTime: u.lTime };
  });

test("user events: each member delivers each event once, in Lamport order per sender", (t) => {
  const pool = TestPool.formed(5);
  pool.node("n2").userEvent("deploy", bytes("v1"), false);
  pool.node("n2").userEvent("deploy", bytes("v2"), false);
  pool.run(30);
  for (const name of pool.nodes.keys()) {
    const got = userEvents(pool, name);
    t.deepEqual(got.map((e) => e.payload).sort(), ["v1", "v2"], `${name} got each event once`);
    const [v1, v2] = [got.find((e) => e.payload === "v1")!, got.find((e) => e.payload === "v2")!];
    t.true(v1.lTime < v2.lTime, "later event, later Lamport time");
  }
});

test("user events: a duplicate (same time, name, payload) is dropped; a different payload at the same time is not", (t) => {
  const pool = TestPool.formed(2);
  const n1 = pool.node("n1");
  const from = pool.addrOf("n2");
  const ev = { type: "userEvent", LTime: 40, Name: "x", Payload: bytes("p"), CC: false } as const;
  n1.receive(from, { type: "user", Msg: ev }, "udp");
  n1.receive(from, { type: "user", Msg: ev }, "udp");
  n1.receive(from, { type: "user", Msg: { ...ev, Payload: bytes("q") } }, "udp");
  t.deepEqual(userEvents(pool, "n1").length, 0, "events are reported on drain");
  pool.flush();
  t.deepEqual(userEvents(pool, "n1").map((e) => e.payload), ["p", "q"]);
});

test("user events: the event clock jumps past any time witnessed, so our next event orders after", (t) => {
  const pool = TestPool.formed(2);
  const n1 = pool.node("n1");
  n1.receive(pool.addrOf("n2"), { type: "user", Msg: { type: "userEvent", LTime: 100, Name: "a", Payload: bytes(""), CC: false } }, "udp");
  n1.userEvent("b", bytes(""), false);
  pool.flush();
  const got = userEvents(pool, "n1");
  t.deepEqual(got.map((e) => [e.name, e.lTime]), [["a", 100], ["b", 101]]);
});

test("user events: too old for the event buffer is ignored", (t) => {
  const pool = TestPool.formed(2);
  const n1 = pool.node("n1");
  n1.receive(pool.addrOf("n2"), { type: "user", Msg: { type: "userEvent", LTime: 2_000, Name: "new", Payload: bytes(""), CC: false } }, "udp");
  n1.receive(pool.addrOf("n2"), { type: "user", Msg: { type: "userEvent", LTime: 10, Name: "ancient", Payload: bytes(""), CC: false } }, "udp");
  pool.flush();
  t.deepEqual(userEvents(pool, "n1").map((e) => e.name), ["new"]);
});

test("user events: an oversized event is refused with a clear error", (t) => {
  const pool = TestPool.formed(2);
  const error = t.throws(() => pool.node("n1").userEvent("big", new Uint8Array(600), false));
  t.regex(error!.message, /over the limit of 512/);
  t.is(pool.node("n1").counters.oversizedEvents, 1);
});

test("user events reach a member that joins later through push/pull", (t) => {
  const pool = TestPool.formed(3);
  pool.node("n1").userEvent("hello", bytes("world"), false);
  pool.run(20);
  const late = pool.add("n4");
  late.join([pool.addrOf("n2")]);
  pool.run(5);
  t.deepEqual(userEvents(pool, "n4").map((e) => e.payload), ["world"]);
});

test("serf: a join reports the member's tags; our own member is reported too", (t) => {
  const pool = new TestPool();
  pool.add("n1", { role: "consul", dc: "dc1", port: "8300" });
  pool.add("n2", { role: "node" });
  pool.node("n2").join([pool.addrOf("n1")]);
  pool.run(5);
  const joins = pool.eventsOf("n2", "member-join").map((e) => ("member" in e ? [e.member.name, e.member.tags] : []));
  t.deepEqual(joins, [["n2", { role: "node" }], ["n1", { role: "consul", dc: "dc1", port: "8300" }]]);
});

test("serf: statuses alive, leaving, left, failed are reported by members()", (t) => {
  const pool = TestPool.formed(4);
  pool.node("n3").leave();
  pool.runUntil(() => pool.status("n1", "n3") !== "alive", 50);
  t.is(pool.status("n1", "n3"), "leaving", "the leave intent arrives before the member goes");
  pool.runUntil(() => pool.node("n3").hasLeft, 200);
  pool.down.add("n3");
  pool.down.add("n4");
  pool.runUntil(() => pool.status("n1", "n4") === "failed", 600);
  const statuses = Object.fromEntries(pool.node("n1").members().map((m) => [m.name, m.status]));
  t.deepEqual(statuses, { n1: "alive", n2: "alive", n3: "left", n4: "failed" });
});

test("serf: a member told it is leaving at the very time it holds for itself refutes it (agent seed 820)", (t) => {
  // A push/pull lists times without saying which intent set them: n1 may learn its own time 50 as a
  // join while n3 holds n1 as leaving at 50. n1's join at 50 is stale to n3, so unless n1 refutes
  // the leave at 50 when it hears it, n3 keeps a live member leaving for good.
  const pool = TestPool.formed(3);
  const state = (statusLTimes: Record<string, number>, left: string[]) => ({
    type: "pushPull" as const, Join: false, Nodes: [],
    UserState: { type: "pushPull" as const, LTime: 60, StatusLTimes: statusLTimes, LeftMembers: left, EventLTime: 1, Events: [], QueryLTime: 1 },
  });
  pool.node("n1").receive(pool.addrOf("n2"), state({ n1: 50 }, []), "tcp-reply");
  pool.node("n3").receive(pool.addrOf("n2"), state({ n1: 50 }, ["n1"]), "tcp-reply");
  t.is(pool.status("n3", "n1"), "leaving");
  pool.node("n1").receive(pool.addrOf("n3"), state({ n1: 50 }, ["n1"]), "tcp-reply");
  pool.runUntil(() => pool.status("n3", "n1") === "alive", 100);
  t.is(pool.status("n3", "n1"), "alive", "n1's refutation (a join after 50) reached n3");
  t.is(pool.status("n2", "n1"), "alive");
});

test("serf: a left member's newer join time is not listed as a leave in push/pull (agent seed 820)", (t) => {
  // n3 left; before memberlist hears it is back, n1 learns a newer join intent for it. Listing n3
  // among LeftMembers at that time would tell a peer that never knew n3 it left at its join's
  // time: that peer then holds the rejoined n3 as leaving, and n3's own join is stale to it.
  const pool = TestPool.formed(4);
  pool.node("n3").leave();
  pool.runUntil(() => pool.node("n3").hasLeft, 200);
  pool.down.add("n3");
  pool.runUntil(() => pool.status("n1", "n3") === "left", 200);
  t.is(pool.status("n1", "n3"), "left");
  const pushPull = (statusLTimes: Record<string, number>, left: string[]) => ({
    type: "pushPull" as const, Join: false, Nodes: [],
    UserState: { type: "pushPull" as const, LTime: 1000, StatusLTimes: statusLTimes, LeftMembers: left, EventLTime: 1, Events: [], QueryLTime: 1 },
  });
  const n1 = pool.node("n1");
  n1.drain();
  // memberlist answers a push/pull with its state before merging the peer's: ask twice.
  const ask = (statusLTimes: Record<string, number>, left: string[]) => {
    n1.receive(pool.addrOf("n2"), pushPull(statusLTimes, left), "tcp");
    n1.drain();
    n1.receive(pool.addrOf("n2"), pushPull({}, []), "tcp");
    return n1.drain().packets.find((p) => p.via === "tcp-reply");
  };
  const reply = ask({ n3: 900 }, []);
  const userState = (m: unknown) => {
    const us = m !== undefined && (m as { type?: string }).type === "pushPull" ? (m as { UserState: unknown }).UserState : null;
    return us as { StatusLTimes: Record<string, number>; LeftMembers: string[] } | null;
  };
  const state = userState(reply?.msgs[0]);
  t.truthy(state, "n1 answers the push/pull");
  t.is(state!.StatusLTimes["n3"], 900, "n1 holds the newer join's time");
  t.false(state!.LeftMembers.includes("n3"), "a join's time is not sent as a leave");
  t.is(pool.status("n1", "n3"), "left", "memberlist has not said n3 is back");
  // A leave newer than that join puts it back among the left members.
  const again = ask({ n3: 950 }, ["n3"]);
  const state2 = userState(again?.msgs[0]);
  t.is(state2!.StatusLTimes["n3"], 950);
  t.true(state2!.LeftMembers.includes("n3"));
});
