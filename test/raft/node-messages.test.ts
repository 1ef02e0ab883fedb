/**
 * How a single Raft node answers individual messages as a follower, pre-candidate or candidate:
 * term handling (higher, lower), vote requests, appends, heartbeats, snapshots, timeoutNow and
 * forwarded reads. Each test builds one node from a hand-made disk and steps messages into it.
 */
import test from "ava";
import type { RaftNode } from "../../src/core/raft/node.ts";
import type { ConfState, Message, Snapshot } from "../../src/core/raft/types.ts";
import { bytes, drainMessages, drainReadies, log, loneNode, type LoneNodeSpec } from "./harness.ts";

const three: ConfState = { voters: ["n1", "n2", "n3"], learners: [] };

/** Node n1 started from the given disk (default: empty, term 0, voters n1..n3). */
const n1 = (spec: LoneNodeSpec = {}): RaftNode => loneNode({ seed: 17, ...spec });
const readies = drainReadies;
const messages = drainMessages;

/** A message to n1 (from n2 unless told). */
function to1(m: Omit<Message, "to" | "from"> & { from?: string }): Message {
  return { from: "n2", to: "n1", ...m };
}

function snapshotAt(index: number, term: number): Snapshot {
  return { meta: { index, term, conf: three }, data: bytes("[]") };
}

/** Tick until the node leaves the follower role (it starts a (pre-)campaign). */
function campaign(node: RaftNode): Message[] {
  for (let i = 0; i < 100 && node.status().role === "follower"; i++) node.tick();
  return messages(node);
}

// ---------------------------------------------------------------- higher terms

test("node: a pre-vote with a higher term is answered without adopting that term", (t) => {
  const node = n1({ config: { checkQuorum: false } });
  node.step(to1({ type: "preVote", term: 5, index: 0, logTerm: 0 }));
  t.is(node.status().term, 0, "a pre-vote's term is hypothetical");
  t.is(node.status().vote, null);
  t.deepEqual(messages(node), [{ type: "preVoteResp", from: "n1", to: "n2", term: 5 }]);
});

test("node: a rejected pre-vote carrying a higher term makes the pre-candidate adopt it", (t) => {
  const node = n1();
  campaign(node);
  t.is(node.status().role, "preCandidate");
  node.step(to1({ type: "preVoteResp", term: 4, reject: true }));
  t.is(node.status().role, "follower");
  t.is(node.status().term, 4, "it learned the term it was behind");
  t.is(node.status().leader, null);
});

test("node: a granted pre-vote (answered at the proposed term) counts towards the pre-election", (t) => {
  const node = n1();
  const asks = campaign(node);
  const ask = asks.find((m) => m.type === "preVote" && m.to === "n2")!;
  t.is(ask.term, 1);
  node.step(to1({ type: "preVoteResp", term: ask.term }));
  t.is(node.status().role, "candidate");
  t.is(node.status().term, 1);
  t.true(messages(node).some((m) => m.type === "vote" && m.to === "n3" && m.term === 1));
});

// ---------------------------------------------------------------- lower terms

const staleFromOldLeader: Message[] = [
  to1({ type: "append", term: 3, index: 0, logTerm: 0, entries: [], commit: 0 }),
  to1({ type: "heartbeat", term: 3, commit: 0 }),
  to1({ type: "snapshot", term: 3, snapshot: snapshotAt(1, 1) }),
];

test("node: a deposed leader's append, heartbeat or snapshot is answered with the newer term", (t) => {
  for (const m of staleFromOldLeader) {
    const node = n1({ hardState: { term: 5, vote: null, commit: 0 }, entries: log("1 4") });
    node.step(m);
    t.deepEqual(messages(node), [{ type: "appendResp", from: "n1", to: "n2", term: 5, index: 2 }], m.type);
    t.is(node.status().term, 5);
    t.is(node.status().leader, null, `${m.type}: the stale sender is not followed`);
  }
});

test("node: without check-quorum and pre-vote, a stale leader's messages are ignored", (t) => {
  for (const m of staleFromOldLeader) {
    const node = n1({ config: { checkQuorum: false, preVote: false }, hardState: { term: 5, vote: null, commit: 0 } });
    node.step(m);
    t.deepEqual(messages(node), [], m.type);
  }
});

test("node: a lower-term pre-vote is rejected at the current term; other stale messages get no answer", (t) => {
  const node = n1({ hardState: { term: 5, vote: null, commit: 0 }, entries: log("1 4") });
  node.step(to1({ type: "preVote", term: 3, index: 9, logTerm: 3 }));
  t.deepEqual(messages(node), [{ type: "preVoteResp", from: "n1", to: "n2", term: 5, reject: true }]);
  for (const m of [
    to1({ type: "vote", term: 3, index: 9, logTerm: 3 }),
    to1({ type: "voteResp", term: 4 }),
    to1({ type: "preVoteResp", term: 4 }),
    to1({ type: "appendResp", term: 4, index: 1 }),
    to1({ type: "timeoutNow", term: 4 }),
  ]) {
    node.step(m);
    t.deepEqual(messages(node), [], m.type);
  }
  t.is(node.status().term, 5);
  t.is(node.status().vote, null);
});

// ---------------------------------------------------------------- vote requests

test("node: a repeated vote request from the candidate already voted for is granted again", (t) => {
  const node = n1({ hardState: { term: 1, vote: null, commit: 0 } });
  const ask = to1({ type: "vote", term: 1, index: 0, logTerm: 0 });
  node.step(ask);
  t.deepEqual(messages(node), [{ type: "voteResp", from: "n1", to: "n2", term: 1 }]);
  node.step(ask);
  t.deepEqual(messages(node), [{ type: "voteResp", from: "n1", to: "n2", term: 1 }], "a retransmitted request");
  node.step(to1({ from: "n3", type: "vote", term: 1, index: 0, logTerm: 0 }));
  t.deepEqual(messages(node), [{ type: "voteResp", from: "n1", to: "n3", term: 1, reject: true }], "one vote per term");
  t.is(node.status().vote, "n2");
});

test("node: a follower that knows this term's leader refuses votes and same-term pre-votes", (t) => {
  const node = n1({ hardState: { term: 2, vote: null, commit: 0 } });
  node.step(to1({ type: "heartbeat", term: 2, commit: 0 }));
  t.is(node.status().leader, "n2");
  readies(node);
  node.step(to1({ from: "n3", type: "vote", term: 2, index: 10, logTerm: 2 }));
  t.deepEqual(messages(node), [{ type: "voteResp", from: "n1", to: "n3", term: 2, reject: true }]);
  node.step(to1({ from: "n3", type: "preVote", term: 2, index: 10, logTerm: 2 }));
  t.deepEqual(messages(node), [{ type: "preVoteResp", from: "n1", to: "n3", term: 2, reject: true }]);
  t.is(node.status().vote, null);
  t.is(node.status().leader, "n2");
});

test("node: a candidate that collects a majority of rejections gives up at once", (t) => {
  const pre = n1();
  campaign(pre);
  t.is(pre.status().role, "preCandidate");
  pre.step(to1({ type: "preVoteResp", term: 0, reject: true }));
  t.is(pre.status().role, "preCandidate", "one rejection of three is not a loss");
  pre.step(to1({ from: "n3", type: "preVoteResp", term: 0, reject: true }));
  t.is(pre.status().role, "follower");
  t.is(pre.status().term, 0);

  const cand = n1({ config: { preVote: false, checkQuorum: false } });
  campaign(cand);
  t.is(cand.status().role, "candidate");
  cand.step(to1({ type: "voteResp", term: 1, reject: true }));
  cand.step(to1({ from: "n3", type: "voteResp", term: 1, reject: true }));
  t.is(cand.status().role, "follower");
  t.is(cand.status().term, 1);
  t.is(cand.status().vote, "n1", "its own vote in term 1 stands");
});

// ---------------------------------------------------------------- timeoutNow and forwarded reads

test("node: timeoutNow starts a campaign only when it comes from the leader and this node may vote", (t) => {
  const node = n1({ hardState: { term: 2, vote: null, commit: 0 } });
  node.step(to1({ type: "heartbeat", term: 2, commit: 0 }));
  readies(node);
  node.step(to1({ from: "n3", type: "timeoutNow", term: 2 }));
  t.is(node.status().role, "follower", "n3 is not the leader");
  t.is(node.status().term, 2);
  t.deepEqual(messages(node), []);
  node.step(to1({ type: "timeoutNow", term: 2 }));
  t.is(node.status().role, "candidate");
  t.is(node.status().term, 3);

  const learner = n1({ hardState: { term: 2, vote: null, commit: 0 }, initialConf: { voters: ["n2", "n3"], learners: ["n1"] } });
  learner.step(to1({ type: "heartbeat", term: 2, commit: 0 }));
  readies(learner);
  learner.step(to1({ type: "timeoutNow", term: 2 }));
  t.is(learner.status().role, "follower", "a learner never campaigns");
  t.is(learner.status().term, 2);
  t.deepEqual(messages(learner), []);
});

test("node: a read answer is taken only from the current leader", (t) => {
  const node = n1({ hardState: { term: 2, vote: null, commit: 0 } });
  node.step(to1({ type: "heartbeat", term: 2, commit: 0 }));
  readies(node);
  node.step(to1({ from: "n3", type: "readIndexResp", term: 2, index: 7, ctx: "r" }));
  t.false(node.hasReady(), "nobody else may answer a read");
  node.step(to1({ type: "readIndexResp", term: 2, index: 0, ctx: "r" }));
  t.deepEqual(readies(node).flatMap((rd) => rd.readStates), [{ index: 0, ctx: "r" }]);
});

// ---------------------------------------------------------------- appends

test("node: an append older than the commit index is answered with the commit index", (t) => {
  const node = n1({ hardState: { term: 1, vote: null, commit: 5 }, entries: log("1 1 1 1 1") });
  readies(node);
  node.step(to1({ type: "append", term: 1, index: 2, logTerm: 1, entries: [], commit: 5 }));
  t.deepEqual(messages(node), [{ type: "appendResp", from: "n1", to: "n2", term: 1, index: 5 }]);
});

test("node: a rejected append hints at the follower's entry at the leader's previous index", (t) => {
  const node = n1({ hardState: { term: 1, vote: null, commit: 0 }, entries: log("1 1 1 1") });
  readies(node);
  node.step(to1({ type: "append", term: 3, index: 2, logTerm: 2, entries: [], commit: 0 }));
  t.is(node.status().leader, "n2");
  t.deepEqual(messages(node), [
    { type: "appendResp", from: "n1", to: "n2", term: 3, index: 2, reject: true, rejectHint: 2, rejectHintTerm: 1 },
  ]);
  t.is(node.status().lastIndex, 4, "nothing is truncated on a mismatch");
});

test("node: appending after the end is not reported as truncating a conflicting tail", (t) => {
  const node = n1({ hardState: { term: 2, vote: null, commit: 0 }, entries: log("1 1 2") });
  readies(node);
  node.step(to1({ type: "append", term: 2, index: 3, logTerm: 2, entries: log("2 2", 4), commit: 0 }));
  t.is(node.status().lastIndex, 5);
  t.is(node.marksHit().get("follower truncates conflicting tail"), undefined);
  node.step(to1({ type: "append", term: 3, index: 1, logTerm: 1, entries: log("3", 2), commit: 0 }));
  t.is(node.status().lastIndex, 2);
  t.is(node.marksHit().get("follower truncates conflicting tail"), 1);
});

// ---------------------------------------------------------------- heartbeats

test("node: a heartbeat whose commit is beyond the log is dropped, not thrown on", (t) => {
  const node = n1({ hardState: { term: 1, vote: null, commit: 0 }, entries: log("1") });
  readies(node);
  t.notThrows(() => node.step(to1({ type: "heartbeat", term: 1, commit: 5, ctx: "1" })));
  t.is(node.status().droppedMessages, 1);
  t.is(node.status().commit, 0);
  t.deepEqual(messages(node), [], "no answer: the leader will probe instead");
  node.invariants();
});

test("node: a heartbeat response echoes the context only when there was one", (t) => {
  const node = n1({ hardState: { term: 1, vote: null, commit: 0 }, entries: log("1") });
  node.step(to1({ type: "heartbeat", term: 1, commit: 1 }));
  const [plain] = messages(node);
  t.deepEqual(plain, { type: "heartbeatResp", from: "n1", to: "n2", term: 1 });
  t.false("ctx" in plain!, "no ctx field at all");
  t.is(node.status().commit, 1);
  node.step(to1({ type: "heartbeat", term: 1, commit: 1, ctx: "7" }));
  t.deepEqual(messages(node), [{ type: "heartbeatResp", from: "n1", to: "n2", term: 1, ctx: "7" }]);
});

// ---------------------------------------------------------------- snapshots

test("node: a snapshot at or below the commit index is answered with the commit index", (t) => {
  const node = n1({ hardState: { term: 1, vote: null, commit: 5 }, entries: log("1 1 1 1 1") });
  readies(node);
  node.step(to1({ type: "snapshot", term: 1, snapshot: snapshotAt(3, 1) }));
  const rds = readies(node);
  t.deepEqual(rds.flatMap((rd) => rd.messages), [{ type: "appendResp", from: "n1", to: "n2", term: 1, index: 5 }]);
  t.false(rds.some((rd) => rd.snapshot !== undefined), "nothing to install");
  t.is(node.status().lastIndex, 5);
});

test("node: a snapshot exactly at the commit index never replaces committed entries", (t) => {
  const node = n1({ hardState: { term: 2, vote: null, commit: 3 }, entries: log("1 1 1") });
  readies(node);
  t.notThrows(() => node.step(to1({ type: "snapshot", term: 2, snapshot: snapshotAt(3, 2) })));
  const rds = readies(node);
  t.deepEqual(rds.flatMap((rd) => rd.messages), [{ type: "appendResp", from: "n1", to: "n2", term: 2, index: 3 }]);
  t.false(rds.some((rd) => rd.snapshot !== undefined));
  t.is(node.status().firstIndex, 1, "the log is untouched");
});

test("node: a snapshot whose last entry the follower already holds only advances the commit", (t) => {
  const node = n1({ hardState: { term: 1, vote: null, commit: 2 }, entries: log("1 1 1 1 1") });
  readies(node);
  node.step(to1({ type: "snapshot", term: 1, snapshot: snapshotAt(4, 1) }));
  const rds = readies(node);
  t.deepEqual(rds.flatMap((rd) => rd.messages), [{ type: "appendResp", from: "n1", to: "n2", term: 1, index: 4 }]);
  t.false(rds.some((rd) => rd.snapshot !== undefined), "not installed");
  t.is(node.status().commit, 4);
  t.is(node.status().lastIndex, 5, "the entry after the snapshot is kept");
  t.is(node.status().firstIndex, 1);
  t.is(node.marksHit().get("snapshot restored"), undefined);
});
