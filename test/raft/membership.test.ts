import test from "ava";
import { Harness } from "./harness.ts";

const three = ["n1", "n2", "n3"];

test("membership: add a learner, it receives the log but does not vote; promote it", (t) => {
  const c = new Harness(three, { seed: 31 });
  const leader = c.electLeader();
  for (let i = 0; i < 3; i++) c.propose(`x${i}`);
  c.disks.set("n4", { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] });
  c.start("n4");
  const add = leader.proposeConfChange({ type: "addLearner", node: "n4" });
  t.true(add.ok);
  c.tick(5);
  t.deepEqual(c.node("n4").status().conf, { voters: three, learners: ["n4"] });
  t.deepEqual(c.applied.get("n4"), ["x0", "x1", "x2"]);
  t.is(Object.keys(leader.status().progress!).length, 4);
  // A quorum is still 2 of the 3 voters: with two voters gone nothing commits, whatever n4 has.
  const others = three.filter((id) => id !== leader.id);
  for (const id of others) c.isolate(id);
  const idx = leader.propose(new TextEncoder().encode("needs-voters"));
  c.settle();
  t.true(idx.ok && leader.status().commit < idx.index, "a learner does not count for quorum");
  c.heal();
  c.tick(3);
  t.true(leader.proposeConfChange({ type: "promote", node: "n4" }).ok);
  c.tick(3);
  t.deepEqual(leader.status().conf, { voters: ["n1", "n2", "n3", "n4"], learners: [] });
});

test("membership: the configuration takes effect when appended, before it commits", (t) => {
  const c = new Harness(three, { seed: 32 });
  const leader = c.electLeader();
  const follower = three.find((id) => id !== leader.id)!;
  const other = three.find((id) => id !== leader.id && id !== follower)!;
  c.cutLink(follower, leader.id, true); // the follower's acks are lost...
  c.isolate(other); // ...and the other follower is away: the change cannot commit
  const result = leader.proposeConfChange({ type: "addVoter", node: "n4" });
  t.true(result.ok);
  c.settle();
  t.deepEqual(leader.status().conf.voters, ["n1", "n2", "n3", "n4"], "leader: in force at once");
  t.deepEqual(c.node(follower).status().conf.voters, ["n1", "n2", "n3", "n4"], "follower: in force once appended");
  t.true(c.node(follower).status().commit < (result.ok ? result.index : 0), "though not committed");
  const second = leader.proposeConfChange({ type: "addVoter", node: "n5" });
  t.deepEqual(second, { ok: false, reason: "confChangePending", leader: leader.id });
});

test("membership: an uncommitted config entry is reverted when the new leader truncates it", (t) => {
  const five = ["n1", "n2", "n3", "n4", "n5"];
  const c = new Harness(five, { seed: 33 });
  const leader = c.electLeader();
  const [a, ...rest] = five.filter((id) => id !== leader.id) as [string, ...string[]];
  for (const id of rest) c.cutLink(leader.id, id);
  c.cutLink(a, leader.id, true);
  t.true(leader.proposeConfChange({ type: "addLearner", node: "n9" }).ok);
  c.settle();
  t.deepEqual(c.node(a).status().conf.learners, ["n9"], "appended, so in force on the follower");
  // The old leader vanishes and `a` is away while the others elect a leader without the entry.
  c.crash(leader.id);
  c.heal();
  c.isolate(a);
  c.tickUntil("a leader among the rest", () => rest.includes(c.leader()?.id ?? ""));
  c.tick(2);
  c.propose("new-term");
  c.heal();
  c.tick(5);
  t.deepEqual(c.node(a).status().conf.learners, [], "the truncated config entry took its configuration with it");
  t.true((c.node(a).marksHit().get("follower truncates conflicting tail") ?? 0) >= 1);
  t.is(c.applied.get(a)!.at(-1), "new-term");
});

test("membership: removing a follower shrinks the quorum; invalid changes are refused", (t) => {
  const c = new Harness(three, { seed: 34 });
  const leader = c.electLeader();
  const gone = three.find((id) => id !== leader.id)!;
  t.true(leader.proposeConfChange({ type: "remove", node: gone }).ok);
  c.tick(2);
  t.deepEqual(leader.status().conf.voters, three.filter((id) => id !== gone));
  t.false(gone in leader.status().progress!);
  const invalid = leader.proposeConfChange({ type: "promote", node: "n9" });
  t.is(invalid.ok ? "ok" : invalid.reason, "invalidConfChange");
  c.crash(gone);
  c.propose("two-voters");
  t.is(c.applied.get(leader.id)!.at(-1), "two-voters");
});

test("membership: a leader that removes itself leads until the removal commits, then steps down", (t) => {
  const c = new Harness(three, { seed: 35 });
  const leader = c.electLeader();
  t.true(leader.proposeConfChange({ type: "remove", node: leader.id }).ok);
  c.settle();
  t.not(leader.status().role, "leader");
  t.is(leader.marksHit().get("removed leader steps down"), 1);
  const next = c.electLeader();
  t.not(next.id, leader.id);
  t.false(next.status().conf.voters.includes(leader.id));
  c.tick(100);
  t.is(leader.status().role, "follower", "a removed node never campaigns");
});

test("membership: a voter added directly catches up from an empty log and votes", (t) => {
  const c = new Harness(three, { seed: 36 });
  const leader = c.electLeader();
  c.propose("before");
  c.disks.set("n4", { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] });
  c.start("n4");
  t.true(leader.proposeConfChange({ type: "addVoter", node: "n4" }).ok);
  c.tick(5);
  t.deepEqual(c.applied.get("n4"), ["before"]);
  c.crash(leader.id);
  const next = c.electLeader();
  t.is(next.status().conf.voters.length, 4);
  c.propose("after");
  t.is(c.applied.get("n4")!.at(-1), "after");
});
