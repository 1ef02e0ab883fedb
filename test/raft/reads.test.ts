import test from "ava";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { PersistedState } from "../../src/core/raft/types.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { Harness, driveToLeader, log } from "./harness.ts";

const three = ["n1", "n2", "n3"];

test("reads: ReadIndex on the leader waits for a quorum heartbeat round, then reads at commit", (t) => {
  const c = new Harness(three, { seed: 51 });
  const leader = c.electLeader();
  c.propose("w1");
  t.deepEqual(leader.readIndex("r1", "readIndex"), { ok: true });
  c.drain();
  t.deepEqual(c.reads.get(leader.id), [], "not served before the followers answered");
  t.true(c.queue.some((m) => m.type === "heartbeat"), "a heartbeat round confirms leadership");
  c.settle();
  t.deepEqual(c.reads.get(leader.id), [{ index: leader.status().commit, ctx: "r1" }]);
});

test("reads: a lease read is served at once while the lease holds", (t) => {
  const c = new Harness(three, { seed: 52 });
  const leader = c.electLeader();
  c.tick(2);
  t.true(leader.status().leaseValid);
  leader.readIndex("lease-1", "lease");
  c.drain();
  t.deepEqual(c.reads.get(leader.id), [{ index: leader.status().commit, ctx: "lease-1" }]);
  t.false(c.queue.some((m) => m.type === "heartbeat"), "no round trip needed");
  t.is(leader.marksHit().get("lease read"), 1);
});

test("reads: a follower forwards its read to the leader and gets a ReadState back", (t) => {
  const c = new Harness(three, { seed: 53 });
  const leader = c.electLeader();
  c.propose("w1");
  const follower = c.node(three.find((id) => id !== leader.id)!);
  t.deepEqual(follower.readIndex("f1", "readIndex"), { ok: true });
  c.settle();
  t.deepEqual(c.reads.get(follower.id), [{ index: leader.status().commit, ctx: "f1" }]);
  follower.readIndex("f2", "lease");
  c.settle();
  t.is(c.reads.get(follower.id)!.at(-1)?.ctx, "f2");
});

test("reads: no leader means the read is refused", (t) => {
  const c = new Harness(three, { seed: 54 });
  t.deepEqual(c.node("n1").readIndex("r", "readIndex"), { ok: false, reason: "noLeader", leader: null });
});

test("reads: a deposed leader cut off from the quorum never answers, and its lease expires", (t) => {
  const c = new Harness(three, { seed: 55 });
  const old = c.electLeader();
  c.tick(2);
  c.isolate(old.id);
  c.tick(10); // the lease (10 ticks) runs out; check-quorum needs 20
  t.is(old.status().role, "leader", "still believes it leads");
  t.false(old.status().leaseValid);
  old.readIndex("stale-lease", "lease");
  old.readIndex("stale-index", "readIndex");
  const others = three.filter((id) => id !== old.id);
  c.tickUntil("a new leader", () => others.includes(c.leader()?.id ?? ""));
  c.propose("newer-write");
  c.tick(30);
  t.deepEqual(c.reads.get(old.id), [], "neither read was answered");
  t.not(old.status().role, "leader");
});

test("reads: a new leader delays reads until it commits an entry of its own term", (t) => {
  const c = new Harness(["n1"], { seed: 56 });
  const n1 = c.node("n1");
  c.tickUntil("n1 campaigns", () => n1.status().role === "leader", 100);
  // Single node: the noop commits immediately, so the read is served right away.
  n1.readIndex("solo", "readIndex");
  c.drain();
  t.deepEqual(c.reads.get("n1"), [{ index: 1, ctx: "solo" }]);
});

test("reads: the read waits for the first commit of the term on a multi-node leader", (t) => {
  const persisted: PersistedState = { hardState: { term: 2, vote: null, commit: 1 }, snapshot: null, entries: log("1 2"), initialConf: { voters: three, learners: [] } };
  const n1 = new RaftNode(defaultRaftConfig("n1"), persisted, mulberry32(7));
  driveToLeader(n1);
  t.deepEqual(n1.readIndex("early", "readIndex"), { ok: true });
  t.is(n1.marksHit().get("read waits for first commit of term"), 1);
  const first = n1.ready();
  t.false(first.messages.some((m) => m.type === "heartbeat"), "not even a confirmation round yet");
  n1.advance(first);
  n1.step({ type: "appendResp", from: "n2", to: "n1", term: 3, index: 3 });
  t.is(n1.status().commit, 3);
  const round = n1.ready();
  n1.advance(round);
  const heartbeat = round.messages.find((m) => m.type === "heartbeat" && m.to === "n2");
  t.truthy(heartbeat, "the first commit released the read into a confirmation round");
  n1.step({ type: "heartbeatResp", from: "n2", to: "n1", term: 3, ctx: heartbeat!.ctx! });
  t.deepEqual(n1.ready().readStates, [{ index: 3, ctx: "early" }]);
});
