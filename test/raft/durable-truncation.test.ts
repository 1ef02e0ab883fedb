/**
 * A node's durable prefix shrinks when a leader's append replaces part of its log: the replacing
 * entries are in memory only until the Ready that carries them is advanced. If that node is then
 * elected before persisting them, its own copy must not count toward the commit quorum (Raft
 * thesis §10.2.1), or a single follower's acknowledgement would commit an entry that exists on
 * one disk only.
 */
import test from "ava";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { log, persistedState } from "./harness.ts";

test("durable prefix: entries a leader's append replaced count for a newly elected node only once advanced", (t) => {
  // n1 starts with 1@1 2@1 3@1 on disk (durable), commit 1.
  const node = new RaftNode(defaultRaftConfig("n1"),
    persistedState({ hardState: { term: 1, vote: null, commit: 1 }, entries: log("1 1 1") }), mulberry32(11));
  // n3, leader of term 2, replaces entries 2-3 by 2@2; n1 has not persisted it yet (no ready()).
  node.step({ type: "append", from: "n3", to: "n1", term: 2, index: 1, logTerm: 1, entries: log("2", 2), commit: 1 });
  t.like(node.status(), { lastIndex: 2, commit: 1, term: 2 });

  // n1 wins term 3 on n2's votes before anything is handed out: 2@2 and the noop 3@3 are in memory only.
  for (let i = 0; i < 100 && node.status().role === "follower"; i++) node.tick();
  t.is(node.status().role, "preCandidate");
  node.step({ type: "preVoteResp", from: "n2", to: "n1", term: 3 });
  node.step({ type: "voteResp", from: "n2", to: "n1", term: 3 });
  t.like(node.status(), { role: "leader", term: 3, lastIndex: 3, commit: 1 });
  node.invariants();
  const rd = node.ready();
  t.deepEqual(rd.entries.map((e) => `${e.index}@${e.term}`), ["2@2", "3@3"], "both are handed out for persisting together");

  node.step({ type: "appendResp", from: "n2", to: "n1", term: 3, index: 3 });
  t.is(node.status().commit, 1, "n2 alone holds 3@3 durably: no quorum of 3 yet");
  node.advance(rd);
  t.is(node.status().commit, 3, "with n1's own copy durable, n1 and n2 commit through the noop");
  node.invariants();
});
