/**
 * How a Raft leader answers individual messages: append responses (backtracking, pipelining,
 * stale and impossible acknowledgements), heartbeat responses (read rounds), forwarded reads,
 * leadership transfer and a leader removing itself. Most tests drive one node by hand.
 */
import test from "ava";
import type { RaftNode } from "../../src/core/raft/node.ts";
import type { ConfState, Message } from "../../src/core/raft/types.ts";
import { Harness, bytes, drainMessages, drainReadies, log, loneNode, type LoneNodeSpec } from "./harness.ts";

const three: ConfState = { voters: ["n1", "n2", "n3"], learners: [] };
const five: ConfState = { voters: ["n1", "n2", "n3", "n4", "n5"], learners: [] };

const n1 = (spec: LoneNodeSpec = {}): RaftNode => loneNode({ seed: 23, ...spec });
const readies = drainReadies;
const messages = drainMessages;

/** Campaign n1 and grant its (pre)votes from `grants`: it leads. Returns the leader's first messages. */
function lead(node: RaftNode, grants: readonly string[] = ["n2"]): Message[] {
  for (let i = 0; i < 100 && node.status().role === "follower"; i++) node.tick();
  let out = messages(node);
  for (const kind of ["preVote", "vote"] as const) {
    const ask = out.find((m) => m.type === kind);
    if (ask === undefined) continue;
    for (const from of grants) node.step({ type: kind === "preVote" ? "preVoteResp" : "voteResp", from, to: "n1", term: ask.term });
    out = messages(node);
  }
  if (node.status().role !== "leader") throw new Error(`not leader: ${node.status().role}`);
  return out;
}

/** A message from `from` to n1 at the leader's term. */
function from(node: RaftNode, sender: string, m: Omit<Message, "to" | "from" | "term">): Message {
  return { ...m, from: sender, to: "n1", term: node.status().term } as Message;
}

function ack(node: RaftNode, sender: string, index: number): void {
  node.step(from(node, sender, { type: "appendResp", index }));
}

function appendsTo(msgs: readonly Message[], to: string): string[] {
  return msgs.filter((m) => m.type === "append" && m.to === to)
    .map((m) => `${m.logTerm}/${m.index} [${m.entries!.map((e) => e.index).join(",")}] c${m.commit}`);
}

// ---------------------------------------------------------------- stickiness

test("leader: however long it has led, it ignores a higher-term (pre)vote while it holds its quorum", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 71 });
  const leader = c.electLeader();
  c.tick(30); // longer than a heartbeat timeout: the leader heard no other leader in that time
  const term = leader.status().term;
  const other = ["n1", "n2", "n3"].find((id) => id !== leader.id)!;
  leader.step({ type: "preVote", from: other, to: leader.id, term: term + 1, index: 100, logTerm: term });
  leader.step({ type: "vote", from: other, to: leader.id, term: term + 1, index: 100, logTerm: term });
  t.is(leader.status().role, "leader");
  t.is(leader.status().term, term);
  t.false(leader.hasReady(), "neither request is answered");
});

// ---------------------------------------------------------------- append responses

/** Leader of term 3 over log 1 1 1 1 2 (noop at 6); n2 was just sent append 2/5 [6] and rejects it. */
function leaderAfterRejection(rejectHint: number, rejectHintTerm: number | undefined): string[] {
  const node = n1({ hardState: { term: 2, vote: null, commit: 0 }, entries: log("1 1 1 1 2") });
  const first = lead(node);
  if (appendsTo(first, "n2").join() !== "2/5 [6] c0") throw new Error(`unexpected first append ${appendsTo(first, "n2").join()}`);
  node.step(from(node, "n2", { type: "appendResp", index: 5, reject: true, rejectHint, ...(rejectHintTerm === undefined ? {} : { rejectHintTerm }) }));
  return appendsTo(messages(node), "n2");
}

test("leader: a rejection's hint (index and term) decides where the next probe starts", (t) => {
  t.deepEqual(leaderAfterRejection(3, 1), ["1/3 [4,5,6] c0"], "the follower has term 1 at 3: resume after it");
  t.deepEqual(leaderAfterRejection(5, 1), ["1/4 [5,6] c0"], "the follower's term 1 at 5: the leader's last term-1 entry is 4");
  t.deepEqual(leaderAfterRejection(3, 0), ["1/3 [4,5,6] c0"], "term unknown (compacted on the follower): trust the index");
  t.deepEqual(leaderAfterRejection(3, undefined), ["1/3 [4,5,6] c0"], "no hint term: trust the index");
});

test("leader: an acknowledgement beyond its log is dropped, not thrown on", (t) => {
  const node = n1();
  lead(node);
  t.notThrows(() => ack(node, "n2", 100));
  t.is(node.status().droppedMessages, 1);
  t.is(node.status().progress!.n2!.match, 0);
  t.is(node.status().commit, 0);
  t.deepEqual(messages(node), []);
  node.invariants();
});

test("leader: pipelined appends stay in flight when an earlier one is acknowledged", (t) => {
  const node = n1();
  lead(node);
  ack(node, "n2", 1);
  t.is(node.status().commit, 1);
  messages(node);
  for (const v of ["a", "b", "c"]) t.true(node.propose(bytes(v)).ok);
  t.deepEqual(appendsTo(messages(node), "n2"), ["1/1 [2] c1", "1/2 [3] c1", "1/3 [4] c1"]);
  t.like(node.status().progress!.n2, { state: "replicate", match: 1, next: 5, inflight: 3 });

  ack(node, "n2", 2);
  t.is(node.status().commit, 2);
  t.like(node.status().progress!.n2, { state: "replicate", match: 2, next: 5, inflight: 2 });
  t.deepEqual(appendsTo(messages(node), "n2"), ["1/4 [] c2"], "only the new commit index; 3 and 4 are not resent");

  ack(node, "n3", 1); // n3 was probing: now it replicates and gets the rest
  t.deepEqual(appendsTo(messages(node), "n3"), ["1/1 [2,3,4] c2"]);
  ack(node, "n3", 4);
  t.is(node.status().commit, 4);
  messages(node);
  ack(node, "n2", 4); // commit does not move and n2 has everything: nothing to say
  t.like(node.status().progress!.n2, { match: 4, inflight: 0 });
  t.deepEqual(messages(node), []);
});

test("leader: an acknowledgement of an earlier term's entry neither commits nor sends anything", (t) => {
  const node = n1({ hardState: { term: 2, vote: null, commit: 1 }, entries: log("1 2") });
  lead(node);
  ack(node, "n2", 1);
  t.deepEqual(appendsTo(messages(node), "n2"), ["1/1 [2,3] c1"]);
  ack(node, "n2", 2);
  t.is(node.status().commit, 1, "Figure 8: index 2 is from term 2");
  t.deepEqual(messages(node), []);
  ack(node, "n2", 3);
  t.is(node.status().commit, 3);
});

test("leader: a probed follower that answers gets the whole backlog, window by window", (t) => {
  const node = n1({ config: { maxEntriesPerMsg: 2 } });
  lead(node);
  for (let i = 0; i < 6; i++) t.true(node.propose(bytes(`v${i}`)).ok);
  t.deepEqual(appendsTo(messages(node), "n2"), [], "n2 is being probed: one append at a time");
  ack(node, "n2", 1);
  t.deepEqual(appendsTo(messages(node), "n2"), ["1/1 [2,3] c1", "1/3 [4,5] c1", "1/5 [6,7] c1"]);
});

test("leader: a stale acknowledgement while a snapshot is in flight does not resend the snapshot", (t) => {
  const node = n1({ hardState: { term: 1, vote: null, commit: 5 }, entries: log("1 1 1 1 1") });
  lead(node);
  t.is(node.status().applied, 5);
  node.compact(5, bytes("[]"));
  node.step(from(node, "n2", { type: "appendResp", index: 5, reject: true, rejectHint: 0, rejectHintTerm: 0 }));
  const sent = messages(node);
  t.is(sent.filter((m) => m.type === "snapshot" && m.to === "n2").length, 1);
  t.like(node.status().progress!.n2, { state: "snapshot" });
  ack(node, "n2", 3); // an older append's answer, overtaken by the snapshot
  t.deepEqual(messages(node).filter((m) => m.type === "snapshot"), [], "the snapshot is still awaited");
  t.like(node.status().progress!.n2, { state: "snapshot", match: 3 });
  ack(node, "n2", 5);
  t.like(node.status().progress!.n2, { state: "replicate", match: 5 });
});

test("leader: timeoutNow goes to the transfer target only once it has the whole log", (t) => {
  const node = n1();
  lead(node);
  ack(node, "n2", 1);
  node.propose(bytes("a"));
  node.propose(bytes("b"));
  messages(node);
  node.transferLeadership("n3");
  t.deepEqual(messages(node), [], "n3 is still being probed");
  ack(node, "n3", 1);
  const catchUp = messages(node);
  t.deepEqual(appendsTo(catchUp, "n3"), ["1/1 [2,3] c1"]);
  t.false(catchUp.some((m) => m.type === "timeoutNow"), "n3 lacks 2 and 3");
  ack(node, "n3", 3);
  t.true(messages(node).some((m) => m.type === "timeoutNow" && m.to === "n3"));
});

// ---------------------------------------------------------------- messages a leader does not expect

test("leader: an append, heartbeat or snapshot from another leader of the same term is dropped", (t) => {
  const node = n1({ hardState: { term: 1, vote: null, commit: 1 }, entries: log("1") });
  lead(node);
  const term = node.status().term;
  node.step({ type: "append", from: "n2", to: "n1", term, index: 0, logTerm: 0, entries: [], commit: 0 });
  node.step({ type: "heartbeat", from: "n2", to: "n1", term, commit: 0 });
  node.step({ type: "snapshot", from: "n2", to: "n1", term, snapshot: { meta: { index: 1, term: 1, conf: three }, data: bytes("[]") } });
  t.is(node.status().droppedMessages, 3);
  t.is(node.status().role, "leader");
  t.deepEqual(messages(node), []);
});

// ---------------------------------------------------------------- reads and heartbeat rounds

test("leader: a read forwarded by a non-member is ignored", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 72 });
  const leader = c.electLeader();
  c.tick(2);
  for (const readMode of ["readIndex", "lease"] as const) {
    leader.step({ type: "readIndex", from: "n9", to: leader.id, term: leader.status().term, ctx: "x", readMode });
    t.false(leader.hasReady(), `${readMode}: no confirmation round and no answer`);
  }
});

test("leader: a read forwarded in lease mode is answered from the lease, without a heartbeat round", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 73 });
  const leader = c.electLeader();
  c.tick(2);
  t.true(leader.status().leaseValid);
  const follower = ["n1", "n2", "n3"].find((id) => id !== leader.id)!;
  leader.step({ type: "readIndex", from: follower, to: leader.id, term: leader.status().term, ctx: "l", readMode: "lease" });
  const out = messages(leader);
  t.deepEqual(out, [{ type: "readIndexResp", from: leader.id, to: follower, term: leader.status().term, index: leader.status().commit, ctx: "l" }]);
  leader.step({ type: "readIndex", from: follower, to: leader.id, term: leader.status().term, ctx: "i" });
  const round = messages(leader);
  t.true(round.some((m) => m.type === "heartbeat"), "without a mode the read is confirmed by a round");
  t.false(round.some((m) => m.type === "readIndexResp"));
});

test("leader: a heartbeat response from a future round, or without one, confirms nothing", (t) => {
  const node = n1();
  lead(node);
  ack(node, "n2", 1);
  messages(node);
  t.deepEqual(node.readIndex("r", "readIndex"), { ok: true });
  const round = messages(node).find((m) => m.type === "heartbeat" && m.to === "n2")!;
  t.is(round.ctx, "1");
  node.step(from(node, "n2", { type: "heartbeatResp", ctx: "2" }));
  t.is(node.status().droppedMessages, 1);
  node.step(from(node, "n2", { type: "heartbeatResp" }));
  t.is(node.status().droppedMessages, 2);
  t.deepEqual(readies(node).flatMap((rd) => rd.readStates), [], "the read is not confirmed");
  node.step(from(node, "n2", { type: "heartbeatResp", ctx: "1" }));
  t.deepEqual(readies(node).flatMap((rd) => rd.readStates), [{ index: 1, ctx: "r" }]);
});

test("leader: a reordered, older heartbeat response does not undo a newer one", (t) => {
  const node = n1({ initialConf: five });
  lead(node, ["n2", "n3"]);
  ack(node, "n2", 1);
  ack(node, "n3", 1);
  t.is(node.status().commit, 1);
  messages(node);
  node.readIndex("a", "readIndex"); // round 1
  node.step(from(node, "n2", { type: "heartbeatResp", ctx: "1" }));
  node.step(from(node, "n3", { type: "heartbeatResp", ctx: "1" }));
  t.deepEqual(readies(node).flatMap((rd) => rd.readStates), [{ index: 1, ctx: "a" }]);
  node.readIndex("b", "readIndex"); // round 2
  messages(node);
  node.step(from(node, "n2", { type: "heartbeatResp", ctx: "2" }));
  node.step(from(node, "n2", { type: "heartbeatResp", ctx: "1" })); // overtaken on the way
  t.deepEqual(readies(node).flatMap((rd) => rd.readStates), [], "only two of five so far");
  node.step(from(node, "n3", { type: "heartbeatResp", ctx: "2" }));
  t.deepEqual(readies(node).flatMap((rd) => rd.readStates), [{ index: 1, ctx: "b" }]);
});

test("leader: a late answer to a long-forgotten heartbeat round leaves the lease intact", (t) => {
  const node = n1();
  lead(node);
  ack(node, "n2", 1);
  ack(node, "n3", 1);
  messages(node);
  // n3 answers every round; n2 stays silent for more than 64 rounds.
  for (let i = 0; i < 150; i++) {
    node.tick();
    for (const m of messages(node)) {
      if (m.type === "heartbeat" && m.to === "n3") node.step(from(node, "n3", { type: "heartbeatResp", ctx: m.ctx! }));
    }
  }
  t.is(node.status().role, "leader");
  t.true(node.status().leaseValid);
  node.step(from(node, "n2", { type: "heartbeatResp", ctx: "1" }));
  t.true(node.status().leaseValid, "the quorum's last contact is still n3's");
  for (let i = 0; i < 30 && node.status().role === "leader"; i++) {
    node.tick();
    messages(node);
  }
  t.is(node.status().role, "follower", "check-quorum still notices when n3 falls silent too");
});

test("leader: a read released by the term's first commit is served once, and later commits start no rounds", (t) => {
  const node = n1({ hardState: { term: 2, vote: null, commit: 1 }, entries: log("1 2") });
  lead(node);
  node.readIndex("early", "readIndex");
  ack(node, "n2", 3);
  const round = messages(node).find((m) => m.type === "heartbeat" && m.to === "n2")!;
  node.step(from(node, "n2", { type: "heartbeatResp", ctx: round.ctx! }));
  t.deepEqual(readies(node).flatMap((rd) => rd.readStates), [{ index: 3, ctx: "early" }]);
  for (let i = 4; i <= 5; i++) {
    node.propose(bytes(`w${i}`));
    messages(node);
    ack(node, "n2", i);
    t.is(node.status().commit, i);
    const after = messages(node);
    t.deepEqual(after.filter((m) => m.type !== "append"), [], `commit ${i}: appends only`);
  }
});

// ---------------------------------------------------------------- removal

test("leader: a leader that removes itself keeps leading until the removal commits", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 74 });
  const leader = c.electLeader();
  const result = leader.proposeConfChange({ type: "remove", node: leader.id });
  t.true(result.ok);
  t.is(leader.status().role, "leader", "still leading: the removal is not committed");
  t.is(leader.marksHit().get("removed leader steps down"), undefined);
  c.settle();
  t.is(leader.status().role, "follower");
  t.is(leader.marksHit().get("removed leader steps down"), 1);
  t.false(leader.status().conf.voters.includes(leader.id));
});
