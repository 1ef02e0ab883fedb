import test from "ava";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { Entry, Message, PersistedState } from "../../src/core/raft/types.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { Harness, bytes, driveToLeader, log } from "./harness.ts";

const voters = { voters: ["n1", "n2", "n3"], learners: [] };

function terms(entries: readonly Entry[]): string {
  return entries.map((e) => e.term).join(" ");
}

test("replication: batches of proposals reach every follower and apply in order", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 11 });
  c.electLeader();
  const leader = c.leader()!;
  for (let i = 0; i < 100; i++) t.true(leader.propose(bytes(`v${i}`)).ok);
  c.settle();
  c.tick(3);
  const expected = Array.from({ length: 100 }, (_, i) => `v${i}`);
  for (const id of c.nodes.keys()) t.deepEqual(c.applied.get(id), expected, id);
  const maxBatch = Math.max(...c.delivered.filter((l) => / append /.test(l)).map((l) => (l.match(/entries=\[([^\]]*)\]/)?.[1] ?? "").split(",").filter(Boolean).length));
  t.true(maxBatch <= 64, `batches respect maxEntriesPerMsg (largest ${maxBatch})`);
});

test("replication: a follower's conflicting tail is replaced by the leader's log", (t) => {
  // n2 led term 2 briefly and appended entries nobody else has; n1 and n3 moved on in term 3.
  const c = new Harness(["n1", "n2", "n3"], {
    seed: 2,
    disks: {
      n1: { hardState: { term: 3, vote: "n1", commit: 1 }, entries: log("1 3 3") },
      n2: { hardState: { term: 2, vote: "n2", commit: 1 }, entries: log("1 2 2 2 2") },
      n3: { hardState: { term: 3, vote: "n1", commit: 1 }, entries: log("1 3 3") },
    },
  });
  const leader = c.electLeader();
  t.not(leader.id, "n2", "n2's log is not up to date, so it cannot win");
  c.tick(3);
  const n2 = c.disks.get("n2")!.entries;
  t.deepEqual(terms(n2), terms(c.disks.get(leader.id)!.entries));
  t.true((c.node("n2").marksHit().get("follower truncates conflicting tail") ?? 0) >= 1);
  t.deepEqual(c.applied.get("n2"), c.applied.get(leader.id));
});

test("replication: fast backtracking skips a long conflicting term in a few round trips", (t) => {
  const longTail = "2 ".repeat(60).trim();
  const c = new Harness(["n1", "n2", "n3"], {
    seed: 4,
    disks: {
      n1: { hardState: { term: 3, vote: "n1", commit: 1 }, entries: log(`1 ${"3 ".repeat(60)}`) },
      n2: { hardState: { term: 2, vote: "n2", commit: 1 }, entries: log(`1 ${longTail}`) },
      n3: { hardState: { term: 3, vote: "n1", commit: 1 }, entries: log(`1 ${"3 ".repeat(60)}`) },
    },
  });
  const leader = c.electLeader();
  c.tick(3);
  const rejections = c.delivered.filter((l) => l.startsWith(`n2->${leader.id} appendResp`) && l.includes("reject"));
  t.true(rejections.length >= 1 && rejections.length <= 3, `rejections: ${rejections.join(" | ")}`);
  t.deepEqual(terms(c.disks.get("n2")!.entries), terms(c.disks.get(leader.id)!.entries));
});

test("replication: Figure 8 — a replica count of an old-term entry does not commit it", (t) => {
  const persisted: PersistedState = { hardState: { term: 2, vote: null, commit: 1 }, snapshot: null, entries: log("1 2"), initialConf: voters };
  const n1 = new RaftNode(defaultRaftConfig("n1"), persisted, mulberry32(1));
  driveToLeader(n1);
  t.is(n1.status().term, 3);
  t.is(n1.status().lastIndex, 3, "the noop of term 3 sits at index 3");
  n1.step({ type: "appendResp", from: "n2", to: "n1", term: 3, index: 2 });
  t.is(n1.status().commit, 1, "index 2 (term 2) is on a majority, but only a term-3 entry may be counted");
  n1.step({ type: "appendResp", from: "n2", to: "n1", term: 3, index: 3 });
  t.is(n1.status().commit, 3, "the noop commits, and index 2 with it");
});

test("replication: a follower that lost appends is probed again and catches up", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 8 });
  const leader = c.electLeader();
  const follower = [...c.nodes.keys()].find((id) => id !== leader.id)!;
  c.cutLink(leader.id, follower, true);
  for (let i = 0; i < 5; i++) leader.propose(bytes(`lost${i}`));
  c.settle();
  c.heal();
  c.tick(30);
  t.deepEqual(c.applied.get(follower), ["lost0", "lost1", "lost2", "lost3", "lost4"]);
});

test("replication: committed entries are handed out only after they were handed out for persistence", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 12 });
  const leader = c.electLeader();
  leader.propose(bytes("x"));
  const seen = new Set<number>();
  for (let round = 0; round < 20; round++) {
    for (const node of c.nodes.values()) {
      while (node.hasReady()) {
        const rd = node.ready();
        for (const e of rd.entries) seen.add(e.index * 1000 + node.id.charCodeAt(1));
        for (const e of rd.committedEntries) t.true(seen.has(e.index * 1000 + node.id.charCodeAt(1)) || e.index <= 1, `${node.id} applies ${e.index} before persisting it`);
        c.queue.push(...rd.messages);
        node.advance(rd);
      }
    }
    const batch = c.queue;
    c.queue = [];
    for (const m of batch) c.deliver(m);
  }
  t.is(leader.status().commit, 2);
});

test("replication: malformed messages are dropped and counted, never thrown", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 1 });
  const n1 = c.node("n1");
  const bad: unknown[] = [
    null, { type: "bogus", from: "n2", to: "n1", term: 1 },
    { type: "append", from: "n2", to: "n1", term: 1 },
    { type: "append", from: "n2", to: "n1", term: 1, index: 0, logTerm: 0, commit: 0, entries: [{ term: 1, index: 5, type: "normal", data: bytes("x") }] },
    { type: "append", from: "n2", to: "n1", term: 1, index: 0, logTerm: 0, commit: 0, entries: [{ term: 1, index: 1, type: "config", data: bytes("{nope") }] },
    { type: "vote", from: "n2", to: "n1", term: -1, index: 0, logTerm: 0 },
    { type: "snapshot", from: "n2", to: "n1", term: 1, snapshot: { meta: { index: 0 } } },
    { type: "heartbeat", from: "n2", to: "n9", term: 1, commit: 0 },
  ];
  for (const m of bad) t.notThrows(() => n1.step(m as Message));
  t.is(n1.status().droppedMessages, bad.length);
  n1.invariants();
});
