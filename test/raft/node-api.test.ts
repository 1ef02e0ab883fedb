/**
 * The RaftNode caller API at the level of one node: how it refuses misuse (wrong argument types,
 * ready/advance out of order, compacting twice), what a fresh or restarted node hands out, what
 * status() shows a follower, which messages a campaign sends, the exact tick counts of the
 * leader's timers (check-quorum, stalled snapshot, stalled replication), and that invariants()
 * names the state a planted bug corrupted.
 */
import test from "ava";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { ConfState, Message, NodeId, PersistedState, RaftConfig, Ready, Term } from "../../src/core/raft/types.ts";
import { AssertionError } from "../../src/core/util/assert.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { Harness, bytes, drainMessages, driveToLeader, log, loneNode, persistedState } from "./harness.ts";

const conf3: ConfState = { voters: ["n1", "n2", "n3"], learners: [] };

const nodeWith = (overrides: Partial<PersistedState> = {}, config: Partial<RaftConfig> = {}): RaftNode =>
  loneNode({ ...overrides, config, seed: 11 });
const flush = drainMessages;

function tickUntilRole(node: RaftNode, role: string): void {
  for (let i = 0; i < 200 && node.status().role !== role; i++) node.tick();
  if (node.status().role !== role) throw new Error(`never became ${role}: ${node.status().role}`);
}

const emptyReady: Ready = { entries: [], messages: [], committedEntries: [], readStates: [] };

// ---------------------------------------------------------------- construction

test("node api: a freshly constructed node has nothing to hand out", (t) => {
  const node = nodeWith();
  t.false(node.hasReady(), "no role change, no entries, no messages");
  const rd = node.ready();
  t.is(rd.softState, undefined, "starting as a leaderless follower is not a soft-state change");
  t.is(rd.hardState, undefined);
  node.advance(rd);
  node.invariants();
});

test("node api: a restarted node's first Ready applies its committed entries and nothing else", (t) => {
  const node = nodeWith({ hardState: { term: 1, vote: "n1", commit: 2 }, entries: log("1 1 1") });
  t.true(node.hasReady(), "committed entries wait to be applied");
  const rd = node.ready();
  t.deepEqual(rd.committedEntries.map((e) => e.index), [1, 2]);
  t.is(rd.softState, undefined);
  t.is(rd.hardState, undefined, "the hard state was read from disk: nothing new to persist");
  t.deepEqual(rd.entries, [], "the log was read from disk");
  t.deepEqual(rd.messages, []);
  node.advance(rd);
  t.is(node.status().applied, 2);
  t.false(node.hasReady());
});

test("node api: a persisted commit beyond the persisted log is refused at construction", (t) => {
  t.throws(() => nodeWith({ hardState: { term: 1, vote: null, commit: 5 }, entries: log("1 1 1") }), {
    instanceOf: AssertionError, message: /n1: persisted commit 5 beyond lastIndex 3/,
  });
});

test("node api: a snapshot from a term later than the persisted hard state fails the invariants", (t) => {
  const snapshot = { meta: { index: 3, term: 5, conf: conf3 }, data: bytes("[]") };
  const node = nodeWith({ hardState: { term: 0, vote: null, commit: 0 }, snapshot });
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /lastTerm 5 > term/ });
});

test("node api: a configuration listing a voter as a learner too fails the invariants, naming it", (t) => {
  const node = nodeWith({ initialConf: { voters: ["n1", "n2"], learners: ["n2"] } });
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /voter also learner in .*"learners":\["n2"\]/ });
});

// ---------------------------------------------------------------- step

test("node api: a message from an older term is answered with the current term, never followed", (t) => {
  const node = nodeWith({ hardState: { term: 5, vote: null, commit: 0 } });
  node.step({ type: "heartbeat", from: "n2", to: "n1", term: 3, commit: 0 });
  t.is(node.status().leader, null, "a stale leader is not adopted");
  t.is(node.status().term, 5);
  node.step({ type: "preVote", from: "n3", to: "n1", term: 4, index: 9, logTerm: 4 });
  const rd = node.ready();
  t.deepEqual(rd.messages, [
    { type: "appendResp", from: "n1", to: "n2", term: 5, index: 0 },
    { type: "preVoteResp", from: "n1", to: "n3", term: 5, reject: true },
  ]);
  node.advance(rd);
});

// ---------------------------------------------------------------- propose / readIndex

test("node api: propose refuses data that is not bytes, on a follower and on a leader", (t) => {
  const follower = nodeWith();
  t.throws(() => follower.propose("text" as unknown as Uint8Array), { instanceOf: TypeError, message: "propose: data must be a Uint8Array" });
  const leader = nodeWith();
  driveToLeader(leader);
  t.throws(() => leader.propose([1, 2] as unknown as Uint8Array), { instanceOf: TypeError, message: "propose: data must be a Uint8Array" });
  t.is(leader.status().lastIndex, 1, "nothing was appended");
});

test("node api: a follower refuses proposals and names the leader it knows", (t) => {
  const node = nodeWith();
  t.deepEqual(node.propose(bytes("x")), { ok: false, reason: "notLeader", leader: null });
  node.step({ type: "heartbeat", from: "n2", to: "n1", term: 1, commit: 0 });
  t.deepEqual(node.propose(bytes("x")), { ok: false, reason: "notLeader", leader: "n2" });
  t.deepEqual(node.proposeConfChange({ type: "addLearner", node: "n4" }), { ok: false, reason: "notLeader", leader: "n2" });
  t.is(node.status().lastIndex, 0);
});

test("node api: readIndex refuses a ctx that is not a string and an unknown mode", (t) => {
  const node = nodeWith();
  t.throws(() => node.readIndex(7 as unknown as string, "readIndex"), { instanceOf: TypeError, message: "readIndex: ctx must be a string" });
  t.throws(() => node.readIndex("r", "stale" as unknown as "lease"), { instanceOf: TypeError, message: "readIndex: unknown mode stale" });
  const leader = nodeWith();
  driveToLeader(leader);
  t.throws(() => leader.readIndex("r", "default" as unknown as "lease"), { instanceOf: TypeError, message: "readIndex: unknown mode default" });
  t.throws(() => leader.readIndex(undefined as unknown as string, "lease"), { instanceOf: TypeError });
  t.false(leader.hasReady(), "no heartbeat round started for a refused read");
});

// ---------------------------------------------------------------- transferLeadership

test("node api: transferLeadership is ignored by a follower", (t) => {
  const node = nodeWith();
  t.notThrows(() => node.transferLeadership("n2"));
  t.false(node.hasReady());
  node.step({ type: "heartbeat", from: "n2", to: "n1", term: 1, commit: 0 });
  flush(node);
  t.notThrows(() => node.transferLeadership("n3"));
  t.false(node.hasReady());
  t.is(node.status().leadTransferee, undefined);
});

test("node api: a leader asked to transfer to itself ignores it and keeps accepting proposals", (t) => {
  const node = nodeWith();
  driveToLeader(node);
  node.transferLeadership("n1");
  t.false(node.hasReady(), "no timeoutNow to itself");
  t.is(node.status().leadTransferee, null);
  t.true(node.propose(bytes("x")).ok);
});

test("node api: asking again to transfer to the same target sends nothing new", (t) => {
  const node = nodeWith();
  driveToLeader(node);
  node.step({ type: "appendResp", from: "n2", to: "n1", term: 1, index: 1 });
  flush(node);
  node.transferLeadership("n2");
  t.deepEqual(flush(node).map((m) => `${m.type}->${m.to}`), ["timeoutNow->n2"]);
  t.is(node.status().leadTransferee, "n2");
  node.transferLeadership("n2");
  t.false(node.hasReady(), "the transfer is already under way");
  t.deepEqual(node.propose(bytes("x")), { ok: false, reason: "transferring", leader: "n1" });
  t.deepEqual(node.proposeConfChange({ type: "addLearner", node: "n4" }), { ok: false, reason: "transferring", leader: "n1" });
  t.is(node.status().lastIndex, 1);
});

// ---------------------------------------------------------------- compact

function singleVoterWithTwoEntries(): { c: Harness; node: RaftNode } {
  const c = new Harness(["n1"]);
  c.electLeader();
  c.propose("a");
  c.propose("b");
  return { c, node: c.node("n1") };
}

test("node api: compact refuses snapshot data that is not bytes", (t) => {
  const { node } = singleVoterWithTwoEntries();
  const applied = node.status().applied;
  t.throws(() => node.compact(applied, "[]" as unknown as Uint8Array), { instanceOf: TypeError, message: "compact: data must be a Uint8Array" });
  t.is(node.status().firstIndex, 1, "nothing was compacted");
});

test("node api: compacting at or below the current snapshot is refused", (t) => {
  const { c, node } = singleVoterWithTwoEntries();
  const snapshot = c.compact("n1");
  t.is(node.status().firstIndex, snapshot.meta.index + 1);
  t.throws(() => node.compact(snapshot.meta.index, bytes("again")), {
    instanceOf: RangeError, message: `compact: index ${snapshot.meta.index} is not after the current snapshot ${snapshot.meta.index}`,
  });
  t.throws(() => node.compact(0, bytes("zero")), { instanceOf: RangeError, message: /is not after the current snapshot/ });
  t.is(node.status().firstIndex, snapshot.meta.index + 1);
});

// ---------------------------------------------------------------- hasReady / ready / advance

test("node api: hasReady is false while a Ready is in flight, whatever happened since", (t) => {
  const node = nodeWith();
  driveToLeader(node);
  node.propose(bytes("a"));
  t.true(node.hasReady());
  const rd = node.ready();
  node.propose(bytes("b"));
  t.false(node.hasReady(), "the caller must advance first");
  node.advance(rd);
  t.true(node.hasReady());
  t.deepEqual(node.ready().entries.map((e) => e.index), [3]);
});

test("node api: new entries alone make a Ready, even when no message can go out", (t) => {
  const node = nodeWith();
  driveToLeader(node); // both followers are probed and paused until they answer
  const result = node.propose(bytes("a"));
  t.true(node.hasReady());
  const rd = node.ready();
  t.deepEqual(rd.entries.map((e) => e.index), [result.ok ? result.index : -1]);
  t.deepEqual(rd.messages, []);
  t.is(rd.hardState, undefined);
  node.advance(rd);
});

test("node api: ready() twice without advance() is refused", (t) => {
  const node = nodeWith();
  node.ready();
  t.throws(() => node.ready(), { instanceOf: AssertionError, message: /node n1 term 0 .*: ready\(\) called again before advance\(\)/ });
});

test("node api: advance() needs the Ready that ready() returned", (t) => {
  const node = nodeWith();
  t.throws(() => node.advance(emptyReady), { instanceOf: AssertionError, message: /advance\(\) without the matching ready\(\)/ });
  const rd = node.ready();
  t.throws(() => node.advance({ ...rd }), { instanceOf: AssertionError, message: /advance\(\) without the matching ready\(\)/ });
  t.notThrows(() => node.advance(rd));
  t.throws(() => node.advance(rd), { instanceOf: AssertionError, message: /advance\(\) without the matching ready\(\)/ });
});

test("node api: a role change is reported once as soft state", (t) => {
  const node = nodeWith();
  tickUntilRole(node, "preCandidate");
  const rd = node.ready();
  t.deepEqual(rd.softState, { leader: null, role: "preCandidate" });
  node.advance(rd);
  t.false(node.hasReady(), "reported once");
  t.is(node.ready().softState, undefined);
});

// ---------------------------------------------------------------- status

test("node api: a follower's status carries no leader-only fields", (t) => {
  const node = nodeWith();
  node.step({ type: "heartbeat", from: "n2", to: "n1", term: 1, commit: 0 });
  const s = node.status();
  t.is(s.role, "follower");
  t.is(s.leader, "n2");
  t.false("progress" in s);
  t.false("leaseValid" in s);
  t.false("leadTransferee" in s);
  const leader = nodeWith();
  driveToLeader(leader);
  t.deepEqual(Object.keys(leader.status().progress ?? {}).sort(), ["n1", "n2", "n3"]);
});

// ---------------------------------------------------------------- campaigns

test("node api: only a campaign started by timeoutNow marks its vote requests as a transfer", (t) => {
  const plain = nodeWith({}, { preVote: false });
  tickUntilRole(plain, "candidate");
  const votes = flush(plain).filter((m) => m.type === "vote");
  t.deepEqual(votes.map((m) => m.to), ["n2", "n3"]);
  for (const m of votes) t.false("transfer" in m, "an ordinary election respects leader stickiness");

  const pre = nodeWith();
  tickUntilRole(pre, "preCandidate");
  const preVotes = flush(pre).filter((m) => m.type === "preVote");
  t.is(preVotes.length, 2);
  for (const m of preVotes) t.false("transfer" in m);

  const target = nodeWith();
  target.step({ type: "heartbeat", from: "n2", to: "n1", term: 1, commit: 0 });
  flush(target);
  target.step({ type: "timeoutNow", from: "n2", to: "n1", term: 1 });
  t.is(target.status().role, "candidate");
  const transferVotes = flush(target).filter((m) => m.type === "vote");
  t.deepEqual(transferVotes.map((m) => [m.to, m.term, m.transfer]), [["n2", 2, true], ["n3", 2, true]]);
});

// ---------------------------------------------------------------- leader timers

test("node api: check-quorum deposes a leader exactly one election timeout after it last heard a quorum", (t) => {
  const node = nodeWith(); // electionTimeoutMs 1000 / tickMs 50: 20 ticks
  driveToLeader(node);
  for (let i = 1; i < 20; i++) {
    node.tick();
    flush(node);
  }
  t.is(node.status().role, "leader", "19 ticks without a quorum: still leading");
  t.is(node.marksHit().get("checkQuorum: step down"), undefined);
  node.tick();
  t.is(node.status().role, "follower", "the 20th tick deposes it");
  t.is(node.marksHit().get("checkQuorum: step down"), 1);
});

/**
 * A leader (n1 of n1..n3, check-quorum off so nobody needs to answer) whose log prefix 1..3 is
 * compacted, with n3 sent the snapshot because it rejected the leader's probe.
 */
function leaderWithSnapshotInFlight(): RaftNode {
  const node = nodeWith({ hardState: { term: 1, vote: null, commit: 3 }, entries: log("1 1 1") }, { checkQuorum: false });
  driveToLeader(node);
  checkLeaderAtIndex4(node);
  node.compact(3, bytes("[]"));
  node.step({ type: "appendResp", from: "n3", to: "n1", term: 2, index: 3, reject: true, rejectHint: 2 });
  const sent = flush(node);
  if (!sent.some((m) => m.type === "snapshot" && m.to === "n3")) throw new Error("no snapshot sent to n3");
  return node;
}

function checkLeaderAtIndex4(node: RaftNode): void {
  const s = node.status();
  if (s.role !== "leader" || s.applied !== 3 || s.lastIndex !== 4) throw new Error(`unexpected leader state ${JSON.stringify(s)}`);
}

const toward = (messages: readonly Message[], to: NodeId): string[] =>
  messages.filter((m) => m.to === to && m.type !== "heartbeat").map((m) => m.type);

test("node api: a lost snapshot is retried exactly one heartbeat timeout after it was sent", (t) => {
  const node = leaderWithSnapshotInFlight(); // heartbeatTimeoutMs 1000 / tickMs 50: 20 ticks
  t.is(node.status().progress!["n3"]!.state, "snapshot");
  for (let i = 1; i < 20; i++) {
    node.tick();
    t.deepEqual(toward(flush(node), "n3"), [], `tick ${i}: still waiting for the snapshot's answer`);
  }
  t.is(node.marksHit().get("snapshot stalled: probe"), undefined);
  node.tick();
  t.is(node.marksHit().get("snapshot stalled: probe"), 1);
  t.deepEqual(toward(flush(node), "n3"), ["append"], "the leader probes n3 again after the snapshot");
  t.is(node.status().progress!["n3"]!.state, "probe");
  t.is(node.marksHit().get("replication stalled: probe"), undefined, "a probing follower is not a stalled replication");
});

test("node api: a replicating follower whose match stops short is re-probed after exactly replicationStallTicks", (t) => {
  const node = nodeWith({}, { checkQuorum: false }); // replicationStallTicks: max(2, 20 >> 1) = 10
  driveToLeader(node);
  node.step({ type: "appendResp", from: "n2", to: "n1", term: 1, index: 1 });
  t.is(node.status().progress!["n2"]!.state, "replicate");
  node.propose(bytes("lost"));
  t.deepEqual(toward(flush(node), "n2"), ["append", "append"], "the commit notice, then the entry (which is lost)");
  for (let i = 1; i < 10; i++) {
    node.tick();
    t.deepEqual(toward(flush(node), "n2"), [], `tick ${i}`);
  }
  t.is(node.marksHit().get("replication stalled: probe"), undefined);
  node.tick();
  t.is(node.marksHit().get("replication stalled: probe"), 1, "only n2 stalled; n3 is still being probed");
  const out = flush(node);
  t.deepEqual(toward(out, "n2"), ["append"]);
  t.deepEqual(toward(out, "n3"), [], "a probing follower waits for an answer or a heartbeat response");
  t.is(node.status().progress!["n2"]!.state, "probe");
});

// ---------------------------------------------------------------- invariants and guards against planted bugs

/** A node with a planted corruption: each method breaks exactly one piece of state, as a buggy override would. */
class Planted extends RaftNode {
  appliedBeyondCommit(): void {
    this.applied = this.log.commit + 1;
  }

  commitBelowSnapshot(): void {
    this.applied = 0;
    this.log.commit = this.log.snapshotIndex - 1;
  }

  handedOutBeyondLog(): void {
    this.log.handedOutIndex = this.log.lastIndex() + 1;
  }

  termBelowPersisted(): void {
    this.term = this.prevHardState.term - 1;
  }

  leaderWithoutRole(): void {
    this.leader = this.id;
  }

  voteFor(id: NodeId): void {
    this.vote = id;
  }

  moveTerm(term: Term): void {
    this.setTerm(term);
  }

  castVote(id: NodeId): void {
    this.setVote(id);
  }
}

function planted(overrides: Partial<PersistedState> = {}, config: Partial<RaftConfig> = {}): Planted {
  return new Planted(defaultRaftConfig("n1", config), persistedState(overrides), mulberry32(11));
}

test("node api: invariants() names applied beyond commit", (t) => {
  const node = planted({ hardState: { term: 1, vote: null, commit: 2 }, entries: log("1 1 1") });
  node.invariants();
  node.appliedBeyondCommit();
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /node n1 term 1 .*: applied 3 > commit 2$/ });
});

test("node api: invariants() names a commit below the snapshot", (t) => {
  const snapshot = { meta: { index: 3, term: 1, conf: conf3 }, data: bytes("[]") };
  const node = planted({ hardState: { term: 1, vote: null, commit: 3 }, snapshot });
  node.invariants();
  node.commitBelowSnapshot();
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: snapshot 3 > commit 2$/ });
});

test("node api: invariants() names entries handed out beyond the log", (t) => {
  const node = planted({ hardState: { term: 1, vote: null, commit: 0 }, entries: log("1 1") });
  node.handedOutBeyondLog();
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: handedOut 3 > lastIndex 2$/ });
});

test("node api: invariants() names a term below the persisted one", (t) => {
  const node = planted({ hardState: { term: 4, vote: null, commit: 0 } });
  node.termBelowPersisted();
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: term fell below persisted 4$/ });
});

test("node api: invariants() names a follower that believes it leads", (t) => {
  const node = planted();
  node.leaderWithoutRole();
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: role follower with leader n1$/ });
});

test("node api: invariants() names a candidate that voted for someone else", (t) => {
  const node = planted({}, { preVote: false });
  tickUntilRole(node, "candidate");
  node.invariants();
  node.voteFor("n2");
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: candidate voted for n2$/ });
});

test("node api: invariants() checks a leader's own bookkeeping", (t) => {
  const node = planted();
  driveToLeader(node);
  node.invariants();
  node.voteFor("n2");
  t.throws(() => node.invariants(), { instanceOf: AssertionError, message: /: leader voted for n2$/ });
});

test("node api: a planted bug cannot lower the term", (t) => {
  const node = planted({ hardState: { term: 3, vote: null, commit: 0 } });
  t.notThrows(() => node.moveTerm(3), "setting the current term again is harmless");
  t.throws(() => node.moveTerm(2), { instanceOf: AssertionError, message: /: term would fall from 3 to 2$/ });
  t.is(node.status().term, 3);
});

test("node api: a planted bug cannot vote twice in one term", (t) => {
  const node = planted({ hardState: { term: 3, vote: "n2", commit: 0 } });
  t.notThrows(() => node.castVote("n2"), "repeating the same vote is harmless");
  t.throws(() => node.castVote("n3"), { instanceOf: AssertionError, message: /: second vote in term: n2 then n3$/ });
  t.is(node.status().vote, "n2");
});
