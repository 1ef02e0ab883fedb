import test from "ava";
import type { RaftNodeLike } from "../../src/agent/raft-host.ts";
import { RaftNode } from "../../src/core/raft/node.ts";
import type { Ready } from "../../src/core/raft/types.ts";
import type { NodeFactory } from "../../sim/raft-cluster.ts";
import { kvScenario } from "../../sim/scenarios/kv.ts";
import { shrinkSchedule } from "../../sim/shrink.ts";
import { FAULT_KINDS } from "../../sim/faults.ts";
import { encodeCommand } from "../../sim/scenarios/kv-state-machine.ts";

const faults = [...FAULT_KINDS];

/** A delegating wrapper: tests override one method to plant a fault the run must classify. */
class Wrapped implements RaftNodeLike {
  constructor(readonly inner: RaftNode) {}
  tick() { this.inner.tick(); }
  step(m: Parameters<RaftNode["step"]>[0]) { this.inner.step(m); }
  propose(data: Uint8Array) { return this.inner.propose(data); }
  proposeConfChange(cc: Parameters<RaftNode["proposeConfChange"]>[0]) { return this.inner.proposeConfChange(cc); }
  readIndex(ctx: string, mode: "readIndex" | "lease") { return this.inner.readIndex(ctx, mode); }
  hasReady() { return this.inner.hasReady(); }
  ready(): Ready { return this.inner.ready(); }
  advance(rd: Ready) { this.inner.advance(rd); }
  compact(index: number, data: Uint8Array) { return this.inner.compact(index, data); }
  transferLeadership(to: string) { this.inner.transferLeadership(to); }
  invariants() { this.inner.invariants(); }
  status() { return this.inner.status(); }
}

test("outcome: a cluster whose nodes never time out fails liveness, naming what is pending", (t) => {
  class Frozen extends Wrapped { override tick() {} }
  const nodeFactory: NodeFactory = (c, p, r) => new Frozen(new RaftNode(c, p, r));
  const result = kvScenario.runSeed({ seed: 1, durationMs: 2_000, faults: [], nodeFactory });
  t.is(result.outcome, "liveness");
  t.regex(result.message!, /not converged 20000 ms after the last fault healed .*: no leader/);
});

test("outcome: an exception inside a node is a crash, with its stack", (t) => {
  class Throwing extends Wrapped {
    override step(): void { throw new Error("planted"); }
  }
  const nodeFactory: NodeFactory = (c, p, r) => new Throwing(new RaftNode(c, p, r));
  const result = kvScenario.runSeed({ seed: 1, durationMs: 2_000, faults: [], nodeFactory });
  t.is(result.outcome, "crash");
  t.regex(result.message!, /Error: planted\n\s+at /);
});

test("outcome: one node applying a different command is a safety violation", (t) => {
  /** n2 flips a byte of every command it applies, without telling its core. */
  class Corrupting extends Wrapped {
    private readonly originals = new Map<Ready, Ready>();
    override ready(): Ready {
      const rd = this.inner.ready();
      if (this.inner.status().id !== "n2") return rd;
      const committedEntries = rd.committedEntries.map((e) => e.type !== "normal" ? e : { ...e, data: encodeCommand({ kind: "put", key: "k0", value: "forged" }) });
      const copy = { ...rd, committedEntries };
      this.originals.set(copy, rd);
      return copy;
    }
    override advance(rd: Ready) {
      this.inner.advance(this.originals.get(rd) ?? rd);
      this.originals.delete(rd);
    }
  }
  const nodeFactory: NodeFactory = (c, p, r) => new Corrupting(new RaftNode(c, p, r));
  const result = kvScenario.runSeed({ seed: 1, durationMs: 5_000, faults: [], nodeFactory });
  t.is(result.outcome, "safety");
  t.regex(result.message!, /state machine safety: .* at index \d+/);
});

test("shrinking: a failure that needs any restart shrinks to a single crash fault", (t) => {
  /** A core that refuses to come back from a restart with a non-empty disk. */
  const nodeFactory: NodeFactory = (c, p, r) => {
    if (p.hardState.term > 0) throw new Error("cannot restart");
    return new RaftNode(c, p, r);
  };
  // Membership changes restart removed servers too, and they are not in the shrinkable schedule.
  const options = { seed: 3, durationMs: 30_000, faults: faults.filter((k) => k !== "membership"), nodeFactory };
  const failing = kvScenario.runSeed(options);
  t.is(failing.outcome, "crash");
  t.true(failing.scheduleIds.length > 3, `only ${failing.scheduleIds.length} faults to shrink`);
  const shrunk = shrinkSchedule(kvScenario, options, failing);
  t.is(shrunk.scheduleIds.length, 1);
  t.true(["crash", "crash-leader", "torn"].includes(failing.schedule[shrunk.scheduleIds[0]!]!.kind));
  t.is(kvScenario.runSeed({ ...options, scheduleIds: shrunk.scheduleIds }).outcome, "crash");
});

test("torn writes: nodes that die mid-write recover from their write-ahead log and the seed passes", (t) => {
  const faultSchedule = [1_000, 3_000, 5_000, 7_000].map((atMs, id) => ({ id, kind: "torn" as const, atMs, durationMs: 500 }));
  const result = kvScenario.runSeed({ seed: 5, durationMs: 10_000, faults: ["torn"], faultSchedule });
  t.is(result.outcome, "ok", result.message ?? "");
  t.true(Number(result.facts["diskCrashes"]) >= 3, `only ${result.facts["diskCrashes"]} disk crashes`);
  t.true(Number(result.facts["completed"]) > 5);
});

test("shrinking: membership changes are left out one by one, keeping only those the violation needs", (t) => {
  // A scenario that fails whenever its third drawn membership change (number 2) is proposed.
  const runs: (readonly number[])[] = [];
  const scenario = {
    name: "fake", description: "fails while membership change 2 runs",
    runSeed(options: Parameters<typeof kvScenario.runSeed>[0]) {
      const skips = options.membershipSkips ?? [];
      runs.push(skips);
      const failing = options.faults.includes("membership") && !skips.includes(2);
      return {
        seed: options.seed, scenario: "fake", outcome: failing ? "safety" as const : "ok" as const,
        message: failing ? "SafetyViolation: configuration safety: change 2 broke it" : null, events: 1, simulatedMs: 1,
        schedule: [], scheduleIds: [], trace: null, facts: { "conf.drawn": 5 },
      };
    },
  };
  const options = { seed: 1, durationMs: 1_000, faults: ["membership", "drift"] as typeof faults };
  const shrunk = shrinkSchedule(scenario, options, scenario.runSeed(options));
  t.deepEqual(shrunk.membershipSkips, [0, 1, 3, 4]);
  t.deepEqual(shrunk.faults, ["membership"], "drift was not needed; membership was");
  t.is(shrunk.result.outcome, "safety");
});

test("shrinking: a real kv seed whose failure needs one kind of membership change keeps reproducing with the changes left out", (t) => {
  // Planted: proposing any promotion crashes the node. Leaving out other changes moves the later ones.
  class PromotionCrashes extends Wrapped {
    override proposeConfChange(cc: Parameters<RaftNode["proposeConfChange"]>[0]) {
      if (cc.type === "promote") throw new Error("planted: promotion crashes the leader");
      return this.inner.proposeConfChange(cc);
    }
  }
  const nodeFactory: NodeFactory = (c, p, r) => new PromotionCrashes(new RaftNode(c, p, r));
  let seed = 0;
  let failing: ReturnType<typeof kvScenario.runSeed> | null = null;
  let options = { seed, durationMs: 20_000, faults: ["membership"] as typeof faults, nodeFactory };
  while (failing === null && seed < 30) {
    options = { ...options, seed: ++seed };
    const result = kvScenario.runSeed(options);
    if (result.outcome === "crash" && Number(result.facts["conf.drawn"]) > 2) failing = result;
  }
  t.truthy(failing, "no seed in 1-30 drew a promotion after two other changes");
  const shrunk = shrinkSchedule(kvScenario, options, failing!);
  t.true(shrunk.membershipSkips.length > 0, `nothing left out of ${failing!.facts["conf.drawn"]} changes`);
  const replay = kvScenario.runSeed({ ...options, faults: shrunk.faults, scheduleIds: shrunk.scheduleIds, membershipSkips: shrunk.membershipSkips });
  t.is(replay.outcome, "crash");
  t.regex(replay.message ?? "", /planted: promotion crashes the leader/);
  t.true(Number(replay.facts["conf.proposed"]) < Number(failing!.facts["conf.proposed"]),
    `the left-out changes were still proposed (${replay.facts["conf.proposed"]} proposals, ${failing!.facts["conf.proposed"]} unshrunk)`);
});
