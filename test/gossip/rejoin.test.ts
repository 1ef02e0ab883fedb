import test from "ava";
import { GossipNode } from "../../src/core/gossip/node.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { TestPool } from "./pool.ts";

/** A crashed member's process starts again: a fresh node (incarnation 1) at the same address. */
function restart(pool: TestPool, name: string, seed: number): GossipNode {
  const [ip] = pool.addrOf(name).split(":");
  const fresh = new GossipNode(pool.config, { name, addr: new Uint8Array(ip!.split(".").map(Number)), port: 7946, tags: {} }, mulberry32(seed));
  pool.nodes.set(name, fresh);
  pool.events.set(name, []);
  pool.down.delete(name);
  return fresh;
}

// Simulator seed 928 of the agent campaign: two servers crashed, the others began to suspect
// them, and both restarted at the same moment. Each joined through the first address that
// answered (the other restarted one), so the two formed a pool of their own; the refutation of
// the old suspicion never reached the members that held it, and they declared a live member
// failed. memberlist's Join pushes and pulls with every address it is given.
test("join: two members restarted together, each joining through every address, are seen alive and never failed", (t) => {
  const pool = TestPool.formed(4);
  pool.down.add("n1");
  pool.down.add("n2");
  pool.runUntil(() => pool.node("n3").memberState("n1")?.state === "suspect", 100);
  const n1 = restart(pool, "n1", 91);
  const n2 = restart(pool, "n2", 92);
  const before = { n3: pool.memberEvents("n3", "member-failed").length, n4: pool.memberEvents("n4", "member-failed").length };
  n1.join(["n2", "n3", "n4"].map((n) => pool.addrOf(n)));
  n2.join(["n1", "n3", "n4"].map((n) => pool.addrOf(n)));
  pool.flush();
  for (const restarted of ["n1", "n2"]) {
    t.is(pool.eventsOf(restarted, "join-complete").length, 1);
    for (const other of ["n1", "n2", "n3", "n4"]) t.not(pool.status(restarted, other), null, `${restarted} learned ${other} from its join`);
  }
  // Longer than the longest suspicion (Lifeguard's maximum for 4 members is about 14 s).
  pool.run(300);
  t.true(pool.converged(), "every member sees every other alive");
  t.deepEqual(pool.memberEvents("n3", "member-failed").slice(before.n3), []);
  t.deepEqual(pool.memberEvents("n4", "member-failed").slice(before.n4), []);
  t.true(n1.incarnation > 1, `n1 refuted the suspicion it inherited (incarnation ${n1.incarnation})`);
});

test("join: every address is contacted; one answer completes the join, a dead address does not fail it", (t) => {
  const pool = TestPool.formed(3);
  const fresh = pool.add("n4");
  fresh.join([pool.addrOf("n1"), "10.9.9.9:7946", pool.addrOf("n3")]);
  pool.flush();
  t.deepEqual(pool.eventsOf("n4", "join-complete"), [{ type: "join-complete", addr: pool.addrOf("n1") }]);
  t.deepEqual(pool.eventsOf("n4", "join-failed"), []);
  pool.run(30);
  t.deepEqual(pool.eventsOf("n4", "join-failed"), [], "the dead address timing out later does not fail a completed join");
  t.true(pool.converged());
});

test("join: when no address answers, one join-failed names them all", (t) => {
  const pool = new TestPool();
  pool.add("n1");
  const addrs = ["10.9.9.8:7946", "10.9.9.9:7946"];
  pool.node("n1").join(addrs);
  pool.flush();
  t.deepEqual(pool.eventsOf("n1", "join-failed"), [{ type: "join-failed", addrs }]);
  pool.run(200);
  t.is(pool.eventsOf("n1", "join-failed").length, 1);
  t.is(pool.eventsOf("n1", "join-complete").length, 0);
});

// Agent campaign seeds 1017 and 1499: a client left while a server was cut off, and every
// server that heard the leave restarted. A restarted member learns of the leaver from two
// sides: as left (memberlist's "left" state and Serf's LeftMembers) from one that heard the
// leave, and as alive from one that missed it. Whichever comes first, it must end up left: a
// leave intent about a member not yet known is kept (Serf's recent intents) and applied when
// memberlist announces the member.
for (const order of [["n2", "n1"], ["n1", "n2"]] as const) {
  test(`join: a member restarted after a leave learns the leaver as left, hearing ${order[0]} first (${order[0] === "n1" ? "alive" : "left"} first)`, (t) => {
    const pool = TestPool.formed(4);
    pool.run(20);
    pool.down.add("n1");
    pool.node("n4").leave();
    pool.runUntil(() => pool.node("n4").hasLeft, 200);
    pool.down.add("n4");
    pool.down.delete("n1");
    t.is(pool.status("n1", "n4"), "alive", "n1 missed the leave");
    t.is(pool.status("n2", "n4"), "left");
    const n3 = restart(pool, "n3", 93);
    n3.join([pool.addrOf(order[0])]);
    pool.flush();
    n3.join([pool.addrOf(order[1])]);
    pool.flush();
    t.not(n3.member("n4"), null, "n3 knows n4");
    t.not(n3.member("n4")?.status, "alive");
    t.not(n3.member("n4")?.status, "failed");
    // n1 hears of the leave by push/pull alone, and memberlist's first periodic one comes a stagger
    // plus a whole interval (300 ticks) after start: this runs past every member's.
    pool.run(1_000);
    for (const v of ["n1", "n2", "n3"]) t.is(pool.status(v, "n4"), "left", `${v} sees n4 left`);
    t.deepEqual(pool.memberEvents("n3", "member-failed"), []);
  });
}
