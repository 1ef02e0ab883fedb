import test from "ava";
import { Harness } from "./harness.ts";

const three = ["n1", "n2", "n3"];

test("election: a fresh 3-node cluster elects one leader, which commits a noop everywhere", (t) => {
  const c = new Harness(three);
  const leader = c.electLeader();
  const term = leader.status().term;
  const leaders = [...c.nodes.values()].filter((n) => n.status().role === "leader");
  t.is(leaders.length, 1);
  for (const node of c.nodes.values()) {
    const s = node.status();
    t.is(s.term, term, `${s.id} term`);
    t.is(s.leader, leader.id, `${s.id} follows`);
  }
  c.tick(2);
  for (const node of c.nodes.values()) t.is(node.status().commit, 1, "the leader's noop is committed");
});

test("election: the same seed elects the same leader in the same term", (t) => {
  const runs = [1, 2].map(() => {
    const c = new Harness(three, { seed: 42 });
    const leader = c.electLeader();
    return `${leader.id}@${leader.status().term} ${c.delivered.length}`;
  });
  t.is(runs[0], runs[1]);
});

test("election: a single voter elects itself and commits alone", (t) => {
  const c = new Harness(["n1"]);
  const leader = c.electLeader();
  t.is(leader.id, "n1");
  c.propose("x");
  t.deepEqual(c.applied.get("n1"), ["x"]);
});

test("election: a sole voter campaigns on its first tick instead of waiting out the election timeout", (t) => {
  const c = new Harness(["n1"]);
  c.tick(1);
  c.settle();
  t.is(c.node("n1").status().role, "leader");
  t.is(c.node("n1").status().term, 1);
});

test("election: a voter with peers still waits for its election timeout", (t) => {
  const c = new Harness(three);
  c.tick(1);
  c.settle();
  for (const node of c.nodes.values()) t.is(node.status().role, "follower", `${node.id} waits`);
});

test("election: five nodes, losing two followers keeps the leader; losing three deposes it", (t) => {
  const c = new Harness(["n1", "n2", "n3", "n4", "n5"], { seed: 3 });
  const leader = c.electLeader();
  const followers = [...c.nodes.keys()].filter((id) => id !== leader.id);
  c.isolate(followers[0]!);
  c.isolate(followers[1]!);
  c.tick(60);
  t.is(leader.status().role, "leader");
  t.is(c.propose("still-leader") > 0, true);
  c.isolate(followers[2]!);
  c.tick(60);
  t.not(leader.status().role, "leader", "check-quorum: no quorum for an election timeout");
  t.true((leader.marksHit().get("checkQuorum: step down") ?? 0) >= 1);
});

test("election: pre-vote keeps an isolated follower from inflating terms", (t) => {
  const c = new Harness(three, { seed: 5 });
  const leader = c.electLeader();
  const term = leader.status().term;
  const loner = [...c.nodes.keys()].find((id) => id !== leader.id)!;
  c.isolate(loner);
  c.tick(200);
  t.is(c.node(loner).status().term, term, "pre-votes never won, so the term never moved");
  t.is(c.node(loner).status().role, "preCandidate");
  c.heal();
  c.tick(10);
  t.is(c.leader()?.id, leader.id, "the rejoining node did not depose the leader");
  t.is(leader.status().term, term);
  t.is(c.node(loner).status().leader, leader.id);
});

test("election: without pre-vote the isolated follower's term runs away and disrupts the leader", (t) => {
  const c = new Harness(three, { seed: 5, config: { preVote: false } });
  const leader = c.electLeader();
  const term = leader.status().term;
  const loner = [...c.nodes.keys()].find((id) => id !== leader.id)!;
  c.isolate(loner);
  c.tick(200);
  t.true(c.node(loner).status().term > term + 2);
  c.heal();
  c.electLeader();
  t.true(c.leader()!.status().term > term, "the old term was abandoned");
});

test("election: leader stickiness — a follower that hears the leader ignores a higher-term pre-vote", (t) => {
  const c = new Harness(three, { seed: 9 });
  const leader = c.electLeader();
  const [a, b] = [...c.nodes.keys()].filter((id) => id !== leader.id) as [string, string];
  const before = c.node(b).status().term;
  c.node(b).step({ type: "preVote", from: a, to: b, term: before + 1, index: 100, logTerm: before });
  c.node(b).step({ type: "vote", from: a, to: b, term: before + 1, index: 100, logTerm: before });
  t.is(c.node(b).status().term, before, "the vote's higher term was ignored");
  t.is(c.node(b).ready().messages.length, 0, "and nothing was answered");
  t.true((c.node(b).marksHit().get("vote ignored: leader is alive") ?? 0) >= 2);
});

test("election: an illegal role transition throws with both roles in the message", (t) => {
  const c = new Harness(three);
  const n1 = c.node("n1") as unknown as { becomeLeader(): void };
  t.throws(() => n1.becomeLeader(), { message: /invalid transition \[follower -> leader\]/ });
});
