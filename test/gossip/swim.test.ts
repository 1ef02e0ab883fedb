import test from "ava";
import { GossipNode } from "../../src/core/gossip/node.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { TestPool, testConfig } from "./pool.ts";

const others = (pool: TestPool, but: string[]): string[] => [...pool.nodes.keys()].filter((n) => !but.includes(n));

test("probe/ack: a healthy pool of 5 forms, and ten seconds of probing suspect no one", (t) => {
  const pool = TestPool.formed(5);
  const delivered = pool.delivered;
  pool.run(100);
  t.true(pool.delivered > delivered, "probes and acks flow");
  for (const name of pool.nodes.keys()) {
    t.deepEqual(pool.memberEvents(name, "member-failed"), []);
    t.is(pool.node(name).awarenessScore, 0);
    for (const other of pool.nodes.keys()) t.is(pool.node(name).memberState(other)?.state, "alive");
  }
});

test("indirect probe: n1 cannot reach n3 over UDP, but ping-req through others keeps n3 alive", (t) => {
  const pool = TestPool.formed(5, testConfig({ disableTcpPings: true }));
  const n3 = pool.addrOf("n3");
  const n1 = pool.addrOf("n1");
  pool.drop = (f) => f.packet.via === "udp" && ((f.from === n1 && f.to === n3) || (f.from === n3 && f.to === n1));
  pool.run(300);
  t.is(pool.status("n1", "n3"), "alive");
  t.deepEqual(pool.memberEvents("n1", "member-failed"), []);
});

test("tcp fallback: n3 reachable only over TCP from n1, with no one to relay, is not failed", (t) => {
  const pool = TestPool.formed(2, testConfig());
  pool.drop = (f) => f.packet.via === "udp" && f.packet.msgs.some((m) => m.type === "ping" || m.type === "ackResp");
  pool.run(200);
  t.is(pool.status("n1", "n2"), "alive");
  t.true(pool.node("n1").counters.tcpFallbackSaves > 0, "acks came back over TCP");
});

test("suspicion and refutation: a suspect message about n2 makes n2 raise its incarnation", (t) => {
  const pool = TestPool.formed(4);
  const before = pool.node("n2").incarnation;
  pool.node("n1").receive(pool.addrOf("n4"), { type: "suspect", Incarnation: before, Node: "n2", From: "n4" }, "udp");
  t.is(pool.node("n1").memberState("n2")?.state, "suspect");
  pool.run(20);
  t.true(pool.node("n2").incarnation > before, "n2 refuted");
  for (const v of ["n1", "n3", "n4"]) t.deepEqual(pool.node(v).memberState("n2"), { state: "alive", incarnation: pool.node("n2").incarnation });
});

test("refutation: being accused raises our incarnation past the accusation and costs health (Lifeguard)", (t) => {
  const pool = TestPool.formed(3);
  const n2 = pool.node("n2");
  n2.receive(pool.addrOf("n1"), { type: "suspect", Incarnation: 7, Node: "n2", From: "n1" }, "udp");
  t.is(n2.incarnation, 8);
  t.is(n2.awarenessScore, 1);
  n2.receive(pool.addrOf("n1"), { type: "dead", Incarnation: 8, Node: "n2", From: "n1" }, "udp");
  t.is(n2.incarnation, 9);
  t.is(n2.awarenessScore, 2);
  t.is(n2.memberState("n2")?.state, "alive");
});

test("dead after timeout: a crashed member is failed everywhere, with a single failed event each", (t) => {
  const pool = TestPool.formed(5);
  pool.down.add("n3");
  const ticks = pool.runUntil(() => others(pool, ["n3"]).every((v) => pool.status(v, "n3") === "failed"), 600);
  t.true(ticks < 400, `detected in ${ticks} ticks`);
  for (const v of others(pool, ["n3"])) t.deepEqual(pool.memberEvents(v, "member-failed"), ["n3"]);
});

test("suspicion with stale incarnation is ignored", (t) => {
  const pool = TestPool.formed(3);
  pool.node("n2").setTags({ role: "x" });
  pool.run(10);
  const inc = pool.node("n2").incarnation;
  pool.node("n1").receive(pool.addrOf("n3"), { type: "suspect", Incarnation: inc - 1, Node: "n2", From: "n3" }, "udp");
  t.is(pool.node("n1").memberState("n2")?.state, "alive");
  pool.node("n1").receive(pool.addrOf("n3"), { type: "dead", Incarnation: inc - 1, Node: "n2", From: "n3" }, "udp");
  t.is(pool.node("n1").memberState("n2")?.state, "alive");
});

test("leave: a graceful leave shows left everywhere, never failed", (t) => {
  const pool = TestPool.formed(5);
  pool.node("n4").leave();
  pool.runUntil(() => pool.node("n4").hasLeft, 200);
  pool.down.add("n4");
  pool.run(400);
  for (const v of others(pool, ["n4"])) {
    t.is(pool.status(v, "n4"), "left");
    t.deepEqual(pool.memberEvents(v, "member-failed"), []);
    t.deepEqual(pool.memberEvents(v, "member-leave"), ["n4"]);
  }
  t.is(pool.eventsOf("n4", "left").length, 1);
});

test("rejoin: a crashed member restarted with the same name comes back with a higher incarnation", (t) => {
  const pool = TestPool.formed(4);
  pool.down.add("n2");
  pool.runUntil(() => pool.status("n1", "n2") === "failed", 600);
  const failedAt = pool.node("n1").memberState("n2")!.incarnation;
  // The restart: a fresh node at the same address starts at incarnation 1 and joins.
  const fresh = new TestPool(pool.config, 9).add("n2");
  pool.nodes.set("n2", fresh);
  pool.events.set("n2", []);
  pool.down.delete("n2");
  fresh.join([pool.addrOf("n1")]);
  pool.runUntil(() => pool.converged(), 600);
  t.true(fresh.incarnation > failedAt, `refuted its own death: ${fresh.incarnation} > ${failedAt}`);
  t.deepEqual(pool.memberEvents("n1", "member-join").filter((n) => n === "n2").length, 2);
});

test("force-leave: a failed member becomes left everywhere", (t) => {
  const pool = TestPool.formed(4);
  pool.down.add("n4");
  pool.runUntil(() => others(pool, ["n4"]).every((v) => pool.status(v, "n4") === "failed"), 600);
  t.true(pool.node("n1").forceLeave("n4"));
  pool.run(20);
  for (const v of others(pool, ["n4"])) t.is(pool.status(v, "n4"), "left");
  t.false(pool.node("n1").forceLeave("nobody"));
});

test("force-leave of a live member is refuted by it", (t) => {
  const pool = TestPool.formed(3);
  // Let the join intents spread first: a leave intent no newer than n3's own join is ignored (as in Serf).
  pool.run(20);
  pool.node("n1").forceLeave("n3");
  pool.run(30);
  for (const v of ["n1", "n2"]) t.is(pool.status(v, "n3"), "alive");
});

test("tag update: new tags reach everyone as a member-update", (t) => {
  const pool = TestPool.formed(4);
  pool.node("n2").setTags({ role: "consul", dc: "dc2" });
  pool.run(20);
  for (const v of ["n1", "n3", "n4"]) {
    t.deepEqual(pool.node(v).member("n2")?.tags, { role: "consul", dc: "dc2" });
    t.true(pool.memberEvents(v, "member-update").includes("n2"));
  }
});

test("join: the first address that answers wins; a dead one is skipped", (t) => {
  const pool = new TestPool();
  pool.add("n1");
  pool.add("n2");
  pool.node("n2").join(["10.9.9.9:7946", pool.addrOf("n1")]);
  pool.run(5);
  t.deepEqual(pool.eventsOf("n2", "join-complete"), [{ type: "join-complete", addr: pool.addrOf("n1") }]);
  pool.add("n3").join(["10.9.9.9:7946"]);
  pool.run(5);
  t.is(pool.eventsOf("n3", "join-failed").length, 1);
});

test("ping for another node name is dropped with a counter", (t) => {
  const pool = TestPool.formed(2);
  pool.node("n1").receive(pool.addrOf("n2"), { type: "ping", SeqNo: 99, Node: "someone-else" }, "udp");
  t.is(pool.node("n1").counters.pingWrongNode, 1);
  t.is(pool.node("n1").drain().packets.length, 0);
});

test("bootstrap members: a node starts knowing them alive, with no join events and nothing to gossip", (t) => {
  const pool = new TestPool();
  const meta = new Uint8Array(0);
  const alives = ["b1", "b2"].map((name, i) => ({
    type: "alive" as const, Incarnation: 3, Node: name, Addr: new Uint8Array([10, 2, 0, i + 1]), Port: 7946, Meta: meta, Vsn: [1, 5, 2, 2, 5, 5] as const,
  }));
  const node = new GossipNode(pool.config, { name: "n1", addr: new Uint8Array([10, 2, 0, 9]), port: 7946, tags: {} }, mulberry32(3), { bootstrapMembers: alives });
  t.deepEqual(node.members().map((m) => [m.name, m.status, m.incarnation]), [["n1", "alive", 1], ["b1", "alive", 3], ["b2", "alive", 3]]);
  const out = node.drain();
  t.deepEqual(out.events.map((e) => ("member" in e ? e.member.name : e.type)), ["n1"], "only our own join is reported");
  t.is(node.pendingBroadcasts, 0);
});
