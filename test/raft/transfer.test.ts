import test from "ava";
import { Harness, bytes } from "./harness.ts";

const three = ["n1", "n2", "n3"];

test("transfer: leadership moves to the named follower in the next term", (t) => {
  const c = new Harness(three, { seed: 41 });
  const leader = c.electLeader();
  const target = three.find((id) => id !== leader.id)!;
  const term = leader.status().term;
  leader.transferLeadership(target);
  c.settle();
  t.is(c.leader()?.id, target);
  t.is(c.node(target).status().term, term + 1);
  t.true(c.delivered.some((l) => l.startsWith(`${leader.id}->${target} timeoutNow`)));
  t.true(c.delivered.some((l) => l.includes(" vote ") && l.endsWith("transfer")), "votes carry the transfer flag past stickiness");
});

test("transfer: a lagging target is caught up first; proposals are refused meanwhile", (t) => {
  const c = new Harness(three, { seed: 42 });
  const leader = c.electLeader();
  const target = three.find((id) => id !== leader.id)!;
  c.isolate(target);
  for (let i = 0; i < 10; i++) c.propose(`p${i}`);
  leader.transferLeadership(target);
  const refused = leader.propose(bytes("during"));
  t.deepEqual(refused, { ok: false, reason: "transferring", leader: leader.id });
  t.false(c.delivered.some((l) => l.includes("timeoutNow")), "no timeoutNow before the target has the log");
  c.heal();
  c.tick(3);
  t.is(c.leader()?.id, target);
  t.deepEqual(c.applied.get(target)!.slice(0, 10), Array.from({ length: 10 }, (_, i) => `p${i}`));
});

test("transfer: aborted after an election timeout when the target never answers", (t) => {
  const c = new Harness(three, { seed: 43 });
  const leader = c.electLeader();
  const target = three.find((id) => id !== leader.id)!;
  c.isolate(target);
  c.propose("x");
  leader.transferLeadership(target);
  t.is(leader.status().leadTransferee, target);
  c.tick(21);
  t.is(leader.status().leadTransferee, null);
  t.is(leader.marksHit().get("transfer aborted"), 1);
  t.true(leader.propose(bytes("accepted again")).ok);
});
