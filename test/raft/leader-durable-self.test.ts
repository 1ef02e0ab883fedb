/**
 * Raft thesis §10.2.1: a leader may send its new entries to followers before writing them to its
 * own disk, provided it counts itself toward the commit quorum only once they are durable. The
 * core learns "durable" from advance() of the Ready that carried the entries, so a host that
 * sends a Ready's appends early and advances only after its sync gets exactly that rule.
 */
import test from "ava";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { Message, Ready } from "../../src/core/raft/types.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { bytes, driveToLeader, persistedState } from "./harness.ts";

function leaderOfThree(): RaftNode {
  const node = new RaftNode(defaultRaftConfig("n1"), persistedState(), mulberry32(7));
  // Let n2 and n3 acknowledge the election noop, so the leader has committed in its term.
  for (const m of driveToLeader(node).filter((x) => x.type === "append")) ackAppend(node, m);
  while (node.hasReady()) node.advance(node.ready());
  if (node.status().commit !== 1) throw new Error(`noop not committed: ${node.status().commit}`);
  return node;
}

function ackAppend(node: RaftNode, m: Message): void {
  const last = m.entries?.[m.entries.length - 1]?.index ?? m.index!;
  node.step({ type: "appendResp", from: m.to, to: node.id, term: m.term, index: last });
}

function appendsIn(rd: Ready): Message[] {
  return rd.messages.filter((m) => m.type === "append" && (m.entries?.length ?? 0) > 0);
}

test("a lone voter commits its entry only after advance() says it is durable", (t) => {
  const node = new RaftNode(defaultRaftConfig("n1"), persistedState({ initialConf: { voters: ["n1"], learners: [] } }), mulberry32(3));
  for (let i = 0; i < 100 && node.status().role !== "leader"; i++) node.tick();
  t.is(node.status().role, "leader");
  let rd = node.ready();
  t.deepEqual(rd.entries.map((e) => e.type), ["noop"]);
  t.is(node.status().commit, 0, "the noop is not committed while it is only in memory");
  t.deepEqual(rd.committedEntries, []);
  node.advance(rd);
  t.is(node.status().commit, 1, "durable on the only voter: committed");
  rd = node.ready();
  node.advance(rd);
  const proposed = node.propose(bytes("x"));
  t.true(proposed.ok);
  rd = node.ready();
  t.is(rd.entries.length, 1);
  t.deepEqual(rd.committedEntries, [], "the proposal's own Ready cannot carry it as committed");
  t.is(node.status().commit, 1);
  node.advance(rd);
  t.is(node.status().commit, 2);
  node.invariants();
});

test("a leader whose sync is pending needs a quorum of followers; its own copy counts once advanced", (t) => {
  const node = leaderOfThree();
  const before = node.status().commit;
  t.true(node.propose(bytes("a")).ok);
  const rd = node.ready();
  const appends = appendsIn(rd);
  t.is(appends.length, 2, "the entry goes to both followers in the same Ready that hands it out for persisting");
  // The host sent the appends, the leader's sync is still running: n2 acknowledges.
  ackAppend(node, appends.find((m) => m.to === "n2")!);
  t.is(node.status().commit, before, "leader (not yet durable) + n2 is not counted as a quorum of 3");
  node.invariants();
  node.advance(rd);
  t.is(node.status().commit, before + 1, "once the leader's copy is durable, leader + n2 commit it");
  node.invariants();
});

test("two followers commit the entry while the leader's own sync is still pending", (t) => {
  const node = leaderOfThree();
  const before = node.status().commit;
  t.true(node.propose(bytes("b")).ok);
  const rd = node.ready();
  for (const m of appendsIn(rd)) ackAppend(node, m);
  t.is(node.status().commit, before + 1, "n2 and n3 are a quorum of 3 without the leader");
  node.advance(rd);
  t.is(node.status().commit, before + 1);
  node.invariants();
});
