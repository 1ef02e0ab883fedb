/**
 * One node's reads and lease in detail (which heartbeat rounds confirm a ReadIndex, which
 * acknowledgements extend the lease, which echoed rounds are refused), what its Ready reports
 * as hard and soft state, the persisted state it refuses to start from, and that invariants()
 * names a leader whose replication bookkeeping a planted bug corrupted.
 */
import test from "ava";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { ConfState, Entry, Message, NodeId, PersistedState, RaftConfig } from "../../src/core/raft/types.ts";
import { AssertionError } from "../../src/core/util/assert.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { Harness, bytes, drainMessages, driveToLeader, log, loneNode, persistedState } from "./harness.ts";

const conf3: ConfState = { voters: ["n1", "n2", "n3"], learners: [] };

const nodeWith = (overrides: Partial<PersistedState> = {}, config: Partial<RaftConfig> = {}): RaftNode =>
  loneNode({ ...overrides, config, seed: 41 });
const flush = drainMessages;

/** n1 leads n1..n3 in term 1 and has committed its noop (n2 acknowledged it): reads are allowed. */
function committedLeader(config: Partial<RaftConfig> = {}): RaftNode {
  const n1 = nodeWith({}, config);
  driveToLeader(n1);
  n1.step({ type: "appendResp", from: "n2", to: "n1", term: 1, index: 1 });
  flush(n1);
  if (n1.status().commit !== 1) throw new Error("noop not committed");
  return n1;
}

const heartbeatResp = (from: NodeId, ctx: string | undefined): Message =>
  ({ type: "heartbeatResp", from, to: "n1", term: 1, ...(ctx === undefined ? {} : { ctx }) });

// ---------------------------------------------------------------- lease

test("node reads: reads arriving while a round is in flight join the next round, which goes out once it is confirmed", (t) => {
  const n1 = committedLeader();
  t.false(n1.status().leaseValid, "no heartbeat acknowledged yet");
  for (let i = 1; i <= 65; i++) n1.readIndex(`r${i}`, "readIndex");
  t.deepEqual(flush(n1).filter((m) => m.type === "heartbeat" && m.to === "n2").map((m) => m.ctx), ["1"], "one round for the first read only");
  n1.step(heartbeatResp("n2", "1"));
  const rd = n1.ready();
  t.deepEqual(rd.readStates, [{ index: 1, ctx: "r1" }], "round 1 confirms the read that waited for it");
  t.deepEqual(rd.messages.filter((m) => m.type === "heartbeat").map((m) => `${m.to}:${m.ctx}`), ["n2:2", "n3:2"], "the other 64 go out together");
  n1.advance(rd);
  t.true(n1.status().leaseValid, "round 1's acknowledgement holds the lease");
  n1.step(heartbeatResp("n3", "2"));
  const after = n1.ready();
  t.deepEqual(after.messages.filter((m) => m.type === "heartbeat"), [], "no further round");
  const served = after.readStates;
  t.is(served.length, 64);
  t.deepEqual(served.map((r) => r.ctx), Array.from({ length: 64 }, (_, i) => `r${i + 2}`));
  t.is(n1.marksHit().get("batched read round"), 1);
  t.is(n1.status().droppedMessages, 0);
});

test("node reads: without check-quorum a leader never holds a lease, so lease reads take a round trip", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 61, config: { checkQuorum: false } });
  const leader = c.electLeader();
  c.tick(3);
  t.false(leader.status().leaseValid, "heartbeats were acknowledged, yet followers do not promise stickiness");
  leader.readIndex("lease", "lease");
  c.drain();
  t.deepEqual(c.reads.get(leader.id), [], "not served from a lease");
  t.true(c.queue.some((m) => m.type === "heartbeat" && m.ctx !== undefined), "a confirmation round went out");
  c.settle();
  t.deepEqual(c.reads.get(leader.id), [{ index: leader.status().commit, ctx: "lease" }]);
  t.is(leader.marksHit().get("lease read"), undefined);
});

test("node reads: with check-quorum the same acknowledgements do give a lease", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 61 });
  const leader = c.electLeader();
  c.tick(3);
  t.true(leader.status().leaseValid);
});

// ---------------------------------------------------------------- ReadIndex confirmation

test("node reads: a lone voter serves ReadIndex at once, without a heartbeat round to its learner", (t) => {
  const conf: ConfState = { voters: ["n1"], learners: ["n2"] };
  const c = new Harness(["n1", "n2"], { seed: 62, disks: { n1: { initialConf: conf }, n2: { initialConf: conf } } });
  const leader = c.electLeader();
  t.is(leader.id, "n1");
  c.tick(5);
  const before = leader.status();
  leader.readIndex("solo", "readIndex");
  const rd = leader.ready();
  t.deepEqual(rd.readStates, [{ index: before.commit, ctx: "solo" }]);
  t.deepEqual(rd.messages, [], "the learner is not asked: it has no say in the quorum");
  leader.advance(rd);
});

test("node reads: a leader whose pending removal left one other voter confirms reads with that voter", (t) => {
  const c = new Harness(["n1", "n2"], { seed: 63 });
  const leader = c.electLeader();
  const other = leader.id === "n1" ? "n2" : "n1";
  c.propose("w");
  t.like(leader.proposeConfChange({ type: "remove", node: leader.id }), { ok: true });
  t.deepEqual(leader.status().conf.voters, [other]);
  t.is(leader.status().role, "leader", "leads until the removal commits");
  leader.readIndex("r", "readIndex");
  const rd = leader.ready();
  t.deepEqual(rd.readStates, [], "the leader is not the lone voter: it needs the other to confirm");
  t.true(rd.messages.some((m) => m.type === "heartbeat" && m.to === other));
  leader.advance(rd);
});

test("node reads: heartbeat responses echoing a malformed or future round are dropped and confirm nothing", (t) => {
  const n1 = committedLeader();
  n1.readIndex("r", "readIndex");
  const round = flush(n1).find((m) => m.type === "heartbeat" && m.to === "n2")?.ctx;
  t.is(round, "1");
  const bad = [undefined, "", "abc", "x1", "1x", " 1", "-1", "1.0", "1e0", "1234567890123456", "2"];
  for (const [i, ctx] of bad.entries()) {
    n1.step(heartbeatResp("n2", ctx));
    t.is(n1.status().droppedMessages, i + 1, `ctx ${String(ctx)} is dropped`);
    const rd = n1.ready();
    t.deepEqual(rd.readStates, [], `ctx ${String(ctx)} confirms no read`);
    n1.advance(rd);
  }
  n1.step(heartbeatResp("n2", "1"));
  t.is(n1.status().droppedMessages, bad.length);
  t.deepEqual(n1.ready().readStates, [{ index: 1, ctx: "r" }]);
});

// ---------------------------------------------------------------- hard and soft state in the Ready

test("node reads: learning a leader without changing role is a soft-state change", (t) => {
  const n1 = nodeWith();
  n1.step({ type: "heartbeat", from: "n2", to: "n1", term: 1, commit: 0 });
  const rd = n1.ready();
  t.deepEqual(rd.softState, { leader: "n2", role: "follower" });
  n1.advance(rd);
  n1.step({ type: "heartbeat", from: "n2", to: "n1", term: 1, commit: 0 });
  t.is(n1.ready().softState, undefined, "the same leader again is no change");
});

test("node reads: changing role without changing leader is a soft-state change", (t) => {
  const n1 = nodeWith();
  for (let i = 0; i < 200 && n1.status().role === "follower"; i++) n1.tick();
  const rd = n1.ready();
  t.deepEqual(rd.softState, { leader: null, role: "preCandidate" });
  n1.advance(rd);
});

test("node reads: a new leader's Ready reports its role and itself as leader", (t) => {
  const n1 = nodeWith();
  for (let i = 0; i < 200 && n1.status().role === "follower"; i++) n1.tick();
  n1.advance(n1.ready());
  n1.step({ type: "preVoteResp", from: "n2", to: "n1", term: 1 });
  n1.advance(n1.ready());
  n1.step({ type: "voteResp", from: "n2", to: "n1", term: 1 });
  t.deepEqual(n1.ready().softState, { leader: "n1", role: "leader" });
});

test("node reads: a vote cast in an already persisted term is handed out as hard state", (t) => {
  const n1 = nodeWith();
  n1.step({ type: "appendResp", from: "n2", to: "n1", term: 2, index: 0 }); // a stale answer from a later term
  let rd = n1.ready();
  t.deepEqual(rd.hardState, { term: 2, vote: null, commit: 0 });
  n1.advance(rd);
  n1.step({ type: "vote", from: "n3", to: "n1", term: 2, index: 0, logTerm: 0 });
  rd = n1.ready();
  t.deepEqual(rd.hardState, { term: 2, vote: "n3", commit: 0 }, "same term, new vote: must be persisted");
  t.like(rd.messages[0], { type: "voteResp", to: "n3", term: 2 });
  t.is(rd.messages[0]!.reject, undefined);
  n1.advance(rd);
});

test("node reads: a commit learned from a heartbeat alone is handed out as hard state", (t) => {
  const n1 = nodeWith();
  const entries: Entry[] = log("1 1");
  n1.step({ type: "append", from: "n2", to: "n1", term: 1, index: 0, logTerm: 0, entries, commit: 0 });
  let rd = n1.ready();
  t.deepEqual(rd.hardState, { term: 1, vote: null, commit: 0 });
  n1.advance(rd);
  n1.step({ type: "heartbeat", from: "n2", to: "n1", term: 1, commit: 2 });
  rd = n1.ready();
  t.deepEqual(rd.hardState, { term: 1, vote: null, commit: 2 });
  t.deepEqual(rd.committedEntries.map((e) => e.index), [1, 2]);
  n1.advance(rd);
});

// ---------------------------------------------------------------- persisted state refused at start

test("node reads: persisted entries with a gap are refused at construction", (t) => {
  t.throws(() => nodeWith({ hardState: { term: 1, vote: null, commit: 0 }, entries: [...log("1"), ...log("1", 3)] }), {
    instanceOf: AssertionError, message: "n1: persisted entry 3 does not follow 1",
  });
  const snapshot = { meta: { index: 5, term: 1, conf: conf3 }, data: bytes("[]") };
  t.throws(() => nodeWith({ hardState: { term: 1, vote: null, commit: 5 }, snapshot, entries: log("1", 7) }), {
    instanceOf: AssertionError, message: "n1: persisted entry 7 does not follow 5",
  });
});

test("node reads: persisted entries whose term falls are refused at construction", (t) => {
  t.throws(() => nodeWith({ hardState: { term: 2, vote: null, commit: 0 }, entries: log("2 1") }), {
    instanceOf: AssertionError, message: "n1: persisted entry 2 term 1 below 2",
  });
  const snapshot = { meta: { index: 5, term: 3, conf: conf3 }, data: bytes("[]") };
  t.throws(() => nodeWith({ hardState: { term: 3, vote: null, commit: 5 }, snapshot, entries: log("2", 6) }), {
    instanceOf: AssertionError, message: "n1: persisted entry 6 term 2 below 3",
  });
});

test("node reads: persisted entries from a term after the persisted hard state are refused at construction", (t) => {
  t.throws(() => nodeWith({ hardState: { term: 1, vote: null, commit: 0 }, entries: log("1 3") }), {
    instanceOf: AssertionError, message: "n1: persisted entry 2 term 3 above hard state term 1",
  });
});

test("node reads: a well-formed persisted log after a snapshot is accepted", (t) => {
  const snapshot = { meta: { index: 5, term: 2, conf: conf3 }, data: bytes("[]") };
  const node = nodeWith({ hardState: { term: 3, vote: null, commit: 6 }, snapshot, entries: log("2 3 3", 6) });
  t.like(node.status(), { firstIndex: 6, lastIndex: 8, commit: 6, term: 3 });
  node.invariants();
});

// ---------------------------------------------------------------- leader invariants

/** A leader with a planted corruption of its replication bookkeeping, as a buggy override could leave it. */
class CorruptLeader extends RaftNode {
  setProgress(id: NodeId, match: number, next: number): void {
    const pr = this.progress.get(id)!;
    pr.match = match;
    pr.next = next;
  }

  forgetOwnProgress(): void {
    this.progress.delete(this.id);
  }

  voteFor(id: NodeId): void {
    this.vote = id;
  }
}

function corruptLeader(): CorruptLeader {
  const node = new CorruptLeader(defaultRaftConfig("n1"), persistedState(), mulberry32(43));
  driveToLeader(node);
  node.invariants();
  return node;
}

test("node reads: invariants() names a leader whose own match is not its durable index", (t) => {
  const node = corruptLeader();
  node.setProgress("n1", 0, 2);
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /^node n1 term 1 role leader lastIndex 1 commit \d+: leader's own match 0 != durable index 1$/ });
});

test("node reads: invariants() names a leader without progress for itself", (t) => {
  const node = corruptLeader();
  node.forgetOwnProgress();
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: leader's own match undefined != durable index \d+$/ });
});

test("node reads: invariants() names a leader that voted for another node", (t) => {
  const node = corruptLeader();
  node.voteFor("n3");
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: leader voted for n3$/ });
});

test("node reads: invariants() names a follower progress whose match reached next", (t) => {
  const node = corruptLeader();
  node.setProgress("n2", 1, 1);
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: progress n2 match 1 >= next 1$/ });
});

test("node reads: invariants() names a follower progress matching beyond the log", (t) => {
  const node = corruptLeader();
  node.setProgress("n3", 5, 6);
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: progress n3 match 5 > lastIndex 1$/ });
});

test("node reads: invariants() names a follower progress whose next is past the log", (t) => {
  const node = corruptLeader();
  node.setProgress("n2", 0, 3);
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: progress n2 next 3 > lastIndex \+ 1$/ });
  node.setProgress("n2", 0, 2);
  t.notThrows(() => node.invariants(), "next = lastIndex + 1 is the normal case");
});

test("node reads: takeReadStates hands over a lease read at once, even with a Ready in flight, and only once", (t) => {
  const n1 = committedLeader();
  n1.readIndex("round", "readIndex");
  flush(n1);
  n1.step(heartbeatResp("n2", "1"));
  n1.advance(n1.ready());
  t.true(n1.status().leaseValid);
  n1.propose(bytes("w"));
  const inFlight = n1.ready();
  n1.readIndex("lease-read", "lease");
  t.deepEqual(n1.takeReadStates(), [{ index: 1, ctx: "lease-read" }], "served at the commit index, without the unsynced write");
  t.deepEqual(n1.takeReadStates(), []);
  n1.advance(inFlight);
  t.deepEqual(n1.ready().readStates, [], "not handed out again in the next Ready");
  n1.readIndex("confirmed-read", "readIndex");
  t.deepEqual(n1.takeReadStates(), [], "a ReadIndex read waits for its heartbeat round");
});
