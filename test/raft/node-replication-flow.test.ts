/**
 * How a leader paces appends to one follower: one probe at a time until the follower's match is
 * found, then a pipeline of up to maxInflightMsgs batches of maxEntriesPerMsg entries; and that an
 * ordinary entry in flight does not count as a pending configuration change.
 */
import test from "ava";
import type { RaftNode } from "../../src/core/raft/node.ts";
import type { ConfState, Message, PersistedState, RaftConfig } from "../../src/core/raft/types.ts";
import { Harness, bytes, drainMessages, driveToLeader, log, loneNode } from "./harness.ts";

const conf3: ConfState = { voters: ["n1", "n2", "n3"], learners: [] };

const nodeWith = (overrides: Partial<PersistedState> = {}, config: Partial<RaftConfig> = {}): RaftNode =>
  loneNode({ ...overrides, config, seed: 21 });
const flush = drainMessages;

const appendsTo = (messages: readonly Message[], to: string): string[] =>
  messages.filter((m) => m.type === "append" && m.to === to).map((m) => `${m.index}:[${m.entries!.map((e) => e.index).join(",")}]`);

test("replication flow: a proposal waits while each follower's probe is unanswered", (t) => {
  const n1 = nodeWith();
  const first = driveToLeader(n1);
  t.deepEqual(appendsTo(first, "n2"), ["0:[1]"], "the election noop probes n2");
  const result = n1.propose(bytes("w"));
  t.like(result, { ok: true, index: 2 });
  const out = flush(n1);
  t.deepEqual(out.filter((m) => m.type === "append"), [], "no second append while the probe is outstanding");
  t.like(n1.status().progress!["n2"], { state: "probe", match: 0, next: 1 });
  n1.step({ type: "appendResp", from: "n2", to: "n1", term: 1, index: 1 });
  t.deepEqual(appendsTo(flush(n1), "n2"), ["1:[2]"], "the answer releases the proposal");
});

test("replication flow: once the match is found the leader pipelines a full window of batches", (t) => {
  const n1 = nodeWith({ hardState: { term: 1, vote: null, commit: 0 }, entries: log("1 1 1 1 1 1 1 1 1 1") },
    { maxEntriesPerMsg: 2, maxInflightMsgs: 4 });
  const first = driveToLeader(n1);
  t.deepEqual(appendsTo(first, "n2"), ["10:[11]"]);
  // n2 has nothing: it rejects with a hint that sends the leader back to the start of the log.
  n1.step({ type: "appendResp", from: "n2", to: "n1", term: 2, index: 10, reject: true, rejectHint: 0, rejectHintTerm: 0 });
  t.deepEqual(appendsTo(flush(n1), "n2"), ["0:[1,2]"], "one probe of at most maxEntriesPerMsg entries");
  n1.step({ type: "appendResp", from: "n2", to: "n1", term: 2, index: 2 });
  t.deepEqual(appendsTo(flush(n1), "n2"), ["2:[3,4]", "4:[5,6]", "6:[7,8]", "8:[9,10]"],
    "replicating: four batches in flight, the fifth waits for the window");
  t.like(n1.status().progress!["n2"], { state: "replicate", match: 2, next: 11, inflight: 4 });
  n1.step({ type: "appendResp", from: "n2", to: "n1", term: 2, index: 4 });
  t.deepEqual(appendsTo(flush(n1), "n2"), ["10:[11]"], "an acknowledgement frees room for the rest");
});

test("replication flow: an uncommitted ordinary entry does not hold back a configuration change", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 31 });
  const leader = c.electLeader();
  c.propose("committed");
  const write = leader.propose(bytes("in flight"));
  t.true(write.ok);
  t.true(leader.status().commit < leader.status().lastIndex, "the write is not committed yet");
  const change = leader.proposeConfChange({ type: "addLearner", node: "n4" });
  t.like(change, { ok: true });
  t.like(leader.proposeConfChange({ type: "addLearner", node: "n5" }), { ok: false, reason: "confChangePending" },
    "only the configuration entry itself blocks the next change");
  c.settle();
  t.deepEqual(leader.status().conf.learners, ["n4"]);
});
