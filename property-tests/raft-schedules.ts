/**
 * Random schedules over three nodes for property tests: ticks, deliveries in any order, drops,
 * duplicates, proposals, reads, compactions and crash-restarts (the harness persists each Ready
 * before its messages leave), with Raft's safety properties checked after every action.
 */
import fc from "fast-check";
import type { Entry, NodeId } from "../src/core/raft/types.ts";
import { mulberry32, shuffle } from "../src/core/util/rng.ts";
import { Harness, bytes, text, type NodeFactory } from "../test/raft/harness.ts";

const ids = ["n1", "n2", "n3"] as const;
/**
 * Short timeouts (4 ticks) so random schedules see many elections, and one entry per append so
 * followers acknowledge old-term entries one by one while catching up (what Figure 8 needs).
 */
const fastConfig = {
  tickMs: 50, heartbeatTimeoutMs: 200, electionTimeoutMs: 200, leaderLeaseTimeoutMs: 100, heartbeatIntervalMs: 50,
  maxEntriesPerMsg: 1, maxInflightMsgs: 4,
};

export type Action =
  | { kind: "step"; tickMask: number; shuffleSeed: number; lossPct: number; delayPct: number }
  | { kind: "deliver"; pick: number }
  | { kind: "duplicate"; pick: number }
  | { kind: "partition"; shape: number; node: number; other: number }
  | { kind: "propose"; node: number }
  | { kind: "read"; node: number }
  | { kind: "restart"; node: number }
  | { kind: "compact"; node: number };

const node = fc.nat({ max: 2 });
const pick = fc.nat({ max: 1000 });
export const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant("step" as const), tickMask: fc.integer({ min: 1, max: 7 }), shuffleSeed: fc.nat(),
      lossPct: fc.constantFrom(0, 0, 5, 20), delayPct: fc.constantFrom(0, 10, 30),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("deliver" as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("duplicate" as const), pick }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("partition" as const), shape: fc.nat({ max: 4 }), node, other: node }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("propose" as const), node }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("read" as const), node }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("restart" as const), node }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("compact" as const), node }) },
);

class SafetyChecks {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly committed = new Map<number, string>();
  /** Per read ctx: the highest commit index any node knew when the read was issued. */
  readonly readFloor = new Map<string, number>();
  private readsChecked = new Map<NodeId, number>();

  /** A read must observe every write that was committed (anywhere) before it began. */
  private reads(c: Harness): void {
    for (const [id, states] of c.reads) {
      for (const state of states.slice(this.readsChecked.get(id) ?? 0)) {
        const floor = this.readFloor.get(state.ctx) ?? 0;
        if (state.index < floor) throw new Error(`stale read ${state.ctx} on ${id}: index ${state.index} < ${floor} committed before it began`);
      }
      this.readsChecked.set(id, states.length);
    }
  }

  resetReads(id: NodeId): void {
    this.readsChecked.set(id, 0);
  }

  check(c: Harness): void {
    for (const n of c.nodes.values()) {
      const s = n.status();
      if (s.role === "leader") {
        const previous = this.leaderOfTerm.get(s.term);
        if (previous !== undefined && previous !== s.id) throw new Error(`election safety: ${previous} and ${s.id} both led term ${s.term}`);
        this.leaderOfTerm.set(s.term, s.id);
      }
      for (const e of c.disks.get(s.id)!.entries) {
        if (e.index > s.commit) break;
        this.checkCommitted(s.id, e);
      }
    }
    this.logMatching(c);
    this.stateMachines(c);
    this.reads(c);
  }

  private checkCommitted(id: NodeId, e: Entry): void {
    const key = `${e.term}/${text(e.data)}`;
    const known = this.committed.get(e.index);
    if (known !== undefined && known !== key) throw new Error(`committed entry ${e.index} changed: ${known} vs ${key} on ${id}`);
    this.committed.set(e.index, key);
  }

  private logMatching(c: Harness): void {
    const logs = [...c.disks.entries()].map(([id, d]) => ({ id, byIndex: new Map(d.entries.map((e) => [e.index, e])) }));
    for (const a of logs) {
      for (const b of logs) {
        if (a.id >= b.id) continue;
        let agreedBelow = false;
        const indexes = [...a.byIndex.keys()].filter((i) => b.byIndex.has(i)).sort((x, y) => y - x);
        for (const i of indexes) {
          const ea = a.byIndex.get(i)!;
          const eb = b.byIndex.get(i)!;
          const same = ea.term === eb.term && text(ea.data) === text(eb.data);
          if (agreedBelow && !same) throw new Error(`log matching: ${a.id} and ${b.id} agree above ${i} but differ at it`);
          if (ea.term === eb.term && !same) throw new Error(`log matching: same term ${ea.term} at ${i}, different data`);
          if (same) agreedBelow = true;
        }
      }
    }
  }

  private stateMachines(c: Harness): void {
    const states = [...c.applied.values()];
    for (const a of states) {
      for (const b of states) {
        const n = Math.min(a.length, b.length);
        for (let i = 0; i < n; i++) {
          if (a[i] !== b[i]) throw new Error(`state machine safety: position ${i} is ${a[i]} and ${b[i]}`);
        }
      }
    }
  }
}

export function run(actions: readonly Action[], seed: number, make?: NodeFactory): { leaders: number; commits: number } {
  const c = new Harness(ids, { seed, config: fastConfig, ...(make === undefined ? {} : { make }) });
  const checks = new SafetyChecks();
  let proposals = 0;
  let leaders = 0;
  for (const a of actions) {
    if (a.kind === "read") checks.readFloor.set(`p${seed}-${proposals}`, Math.max(...[...c.nodes.values()].map((n) => n.status().commit)));
    if (a.kind === "restart") checks.resetReads(ids[a.node]!);
    perform(c, a, () => `p${seed}-${proposals++}`);
    c.drain();
    for (const n of c.nodes.values()) n.invariants();
    checks.check(c);
    if (c.leader() !== null) leaders += 1;
  }
  const commits = Math.max(...[...c.nodes.values()].map((n) => n.status().commit));
  return { leaders, commits };
}

function perform(c: Harness, a: Action, nextValue: () => string): void {
  const id = "node" in a ? ids[a.node]! : "n1";
  const target = c.nodes.get(id);
  switch (a.kind) {
    case "step":
      return step(c, a);
    case "deliver":
    case "duplicate": {
      if (c.queue.length === 0) return;
      const i = a.pick % c.queue.length;
      const m = c.queue[i]!;
      if (a.kind === "deliver") c.queue.splice(i, 1);
      c.deliver(m);
      return;
    }
    case "partition":
      return partition(c, a);
    case "propose":
      (c.leader() ?? target)?.propose(bytes(nextValue()));
      return;
    case "read":
      target?.readIndex(nextValue(), a.node === 0 ? "lease" : "readIndex");
      return;
    case "restart":
      c.crash(id);
      c.start(id);
      return;
    case "compact":
      if (target !== undefined && target.status().applied > target.status().firstIndex) c.compact(id);
      return;
  }
}

/** Tick some nodes, then deliver the queue in a shuffled order, losing and delaying some messages. */
function step(c: Harness, a: Extract<Action, { kind: "step" }>): void {
  ids.forEach((id, i) => { if ((a.tickMask >> i) & 1) c.nodes.get(id)?.tick(); });
  c.drain();
  const rng = mulberry32(a.shuffleSeed);
  const batch = shuffle(rng, c.queue);
  c.queue = [];
  for (const m of batch) {
    const roll = rng.next() * 100;
    if (roll < a.lossPct) continue;
    if (roll < a.lossPct + a.delayPct) c.queue.push(m);
    else c.deliver(m);
  }
}

function partition(c: Harness, a: Extract<Action, { kind: "partition" }>): void {
  const [x, y] = [ids[a.node]!, ids[a.other]!];
  c.heal();
  if (a.shape === 1) c.isolate(x);
  if (a.shape === 2 && x !== y) c.cutLink(x, y, true);
  if (a.shape === 3 && x !== y) c.cutLink(x, y);
  const leader = c.leader();
  if (a.shape === 4 && leader !== null) c.isolate(leader.id);
}
