/**
 * Issue 14, defect 1: the single-server membership bug Ongaro described on raft-dev (2015). A new
 * leader must not propose a configuration change before it has committed an entry of its own
 * term. This replays the reviewer's five-server reproduction step by step through the public API,
 * on the production node and on the planted mutant that reverts the fix.
 *
 * Pre-vote and check-quorum are off here: with them the same histories happen, only later (the
 * followers first wait out their loyalty to the old leader), and the test would be ticks of
 * waiting instead of the steps that matter.
 */
import test from "ava";
import type { RaftNode } from "../../src/core/raft/node.ts";
import type { NodeId } from "../../src/core/raft/types.ts";
import { raftMutants } from "../mutants/raft-mutants.ts";
import { Harness, bytes, type NodeFactory } from "./harness.ts";

const all = ["n1", "n2", "n3", "n4", "n5"];
const fourVoters = { voters: ["n1", "n2", "n3", "n4"], learners: [] };

function mutantNamed(name: string): NodeFactory {
  const found = raftMutants.find((m) => m.name === name);
  if (found === undefined) throw new Error(`no mutant ${name}`);
  return found.make as NodeFactory;
}

/** Deliver what is queued now, once (messages it causes stay queued). */
function deliverQueued(c: Harness): void {
  const batch = c.queue;
  c.queue = [];
  for (const m of batch) c.deliver(m);
}

function partition(c: Harness, a: readonly NodeId[], b: readonly NodeId[]): void {
  c.heal();
  for (const x of a) for (const y of b) c.cutLink(x, y);
}

/** Tick only `id` until it leads (others' clocks stand still, so nobody else campaigns). */
function campaignUntilLeader(c: Harness, id: NodeId, maxTicks = 200): RaftNode {
  const node = c.node(id);
  for (let i = 0; i < maxTicks && node.status().role !== "leader"; i++) c.tick(1, [id]);
  if (node.status().role !== "leader") throw new Error(`${id} did not win an election in ${maxTicks} ticks: ${JSON.stringify(node.status())}`);
  return node;
}

interface Outcome {
  /** What n4 was told when it proposed removing n3 right after winning term 2. */
  readonly removal: string;
  /** Each node's applied normal entries, in order. */
  readonly applied: Readonly<Record<NodeId, readonly string[]>>;
}

function reviewerScenario(make?: NodeFactory): Outcome {
  const disks = Object.fromEntries(all.map((id) => [id, { initialConf: fourVoters }]));
  const c = new Harness(all, { seed: 14, config: { preVote: false, checkQuorum: false }, disks, ...(make === undefined ? {} : { make }) });
  // n1 leads term 1; index 1 (its noop) and 2 ("base") are committed on every voter (n5 is none yet).
  const n1 = campaignUntilLeader(c, "n1");
  c.propose("base");
  c.tick(3, ["n1"]);
  for (const id of fourVoters.voters) {
    if (c.node(id).status().commit !== 2) throw new Error(`${id} commit ${c.node(id).status().commit}, expected 2`);
  }

  // {n1,n5} | {n2,n3,n4}: n1 adds n5, which only n5 hears of.
  partition(c, ["n1", "n5"], ["n2", "n3", "n4"]);
  const add = n1.proposeConfChange({ type: "addVoter", node: "n5" });
  if (!add.ok) throw new Error(`n1's addVoter n5 refused: ${add.reason}`);
  c.settle();

  // n4 wins term 2 with n2's and n3's votes, but none of its appends reach n3.
  const n4 = c.node("n4");
  while (n4.status().role !== "candidate") n4.tick();
  c.drain();
  deliverQueued(c); // the vote requests reach n2 and n3
  c.drain(); // their grants are queued
  c.cutLink("n4", "n3", true);
  deliverQueued(c);
  if (n4.status().role !== "leader" || n4.status().term !== 2) throw new Error(`n4 did not win term 2: ${JSON.stringify(n4.status())}`);
  const removal = n4.proposeConfChange({ type: "remove", node: "n3" });
  c.settle();
  n4.propose(bytes("old-side"));
  c.settle();
  c.tick(4, ["n4"]);

  // {n2,n4} | {n1,n3,n5}: n5 (a voter in its own, five-voter configuration) wins with n1 and n3.
  partition(c, ["n2", "n4"], ["n1", "n3", "n5"]);
  const n5 = campaignUntilLeader(c, "n5");
  c.tick(2, ["n5"]);
  const write = n5.propose(bytes("new-side"));
  if (!write.ok) throw new Error(`n5 refused the write: ${write.reason}`);
  c.settle();
  c.tick(4, ["n5"]);

  return {
    removal: removal.ok ? `accepted at index ${removal.index}` : `${removal.reason}: ${removal.detail ?? ""}`,
    applied: Object.fromEntries(all.map((id) => [id, [...c.applied.get(id)!]])),
  };
}

/** Pairs of nodes whose applied sequences diverge (neither is a prefix of the other). */
function divergent(applied: Outcome["applied"]): string[] {
  const out: string[] = [];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const a = applied[all[i]!]!;
      const b = applied[all[j]!]!;
      const common = Math.min(a.length, b.length);
      for (let k = 0; k < common; k++) {
        if (a[k] !== b[k]) {
          out.push(`${all[i]}:${a[k]} vs ${all[j]}:${b[k]} (applied #${k + 1})`);
          break;
        }
      }
    }
  }
  return out;
}

test("membership safety: a new leader refuses a change until it committed an entry of its own term (reviewer's 5-server scenario)", (t) => {
  const outcome = reviewerScenario();
  t.regex(outcome.removal, /^confChangePending: leader n4 has not yet committed an entry of its term 2 \(commit 2 is from term 1\)/,
    `n4's removal of n3: ${outcome.removal}`);
  t.deepEqual(divergent(outcome.applied), [], `applied: ${JSON.stringify(outcome.applied)}`);
  t.deepEqual(outcome.applied["n5"], ["base", "new-side"], "the majority side committed its write");
  t.deepEqual(outcome.applied["n4"], ["base"], "the minority side committed nothing of term 2");
});

test("membership safety: the mutant that reverts the fix applies two different entries at the same index", (t) => {
  const outcome = reviewerScenario(mutantNamed("conf-change-before-term-commit"));
  t.regex(outcome.removal, /^accepted at index 4$/);
  t.deepEqual(outcome.applied["n4"], ["base", "old-side"]);
  t.deepEqual(outcome.applied["n5"], ["base", "new-side"]);
  t.true(divergent(outcome.applied).some((d) => d.includes("old-side") && d.includes("new-side")), JSON.stringify(outcome.applied));
});

test("membership safety: once its noop commits, the new leader's change is accepted", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 15 });
  const leader = c.electLeader();
  t.true(leader.status().commit >= 1);
  const change = leader.proposeConfChange({ type: "addLearner", node: "n4" });
  t.true(change.ok, JSON.stringify(change));
});

test("membership safety: a leader whose noop is cut off keeps refusing, and accepts once it commits", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 16 });
  const first = c.electLeader();
  const others = ["n1", "n2", "n3"].filter((id) => id !== first.id);
  // A new leader elected while its appends go nowhere: its noop cannot commit.
  first.transferLeadership(others[0]!);
  c.drain();
  deliverQueued(c); // timeoutNow
  c.drain();
  deliverQueued(c); // vote requests
  c.drain();
  const next = c.node(others[0]!);
  // From here nothing gets through to or from it, except the grants handed over directly.
  c.isolate(next.id);
  const grants = c.queue.filter((m) => m.type === "voteResp" && m.to === next.id);
  c.queue = c.queue.filter((m) => !grants.includes(m));
  for (const m of grants) next.step(m);
  t.is(next.status().role, "leader");
  c.settle();
  const refused = next.proposeConfChange({ type: "addLearner", node: "n9" });
  t.like(refused, { ok: false, reason: "confChangePending" });
  t.true(!refused.ok && refused.detail!.includes("has not yet committed an entry of its term"), JSON.stringify(refused));
  c.heal();
  c.tick(3);
  t.is(next.status().role, "leader");
  t.like(next.proposeConfChange({ type: "addLearner", node: "n9" }), { ok: true });
});
