import test from "ava";
import { FAULT_KINDS, type FaultKind } from "../../sim/faults.ts";
import { runCampaign } from "../../sim/run.ts";
import { raftMutants } from "./raft-mutants.ts";

/**
 * Proof that the simulator finds bugs: each planted Raft bug must fail some seed among seeds
 * 1..N of a KV campaign with 20 simulated seconds of faults per seed. By default that is the
 * ordinary campaign (all fault kinds, cluster size drawn by the seed); the Figure 8 bug needs a
 * leader to fall at two precise moments, so its campaign is the 3-node leader-churn mix.
 * `measuredFirst` is the first failing seed found when the budget was set; the budget leaves a
 * margin above it, so a change that blunts the simulator (fewer faults, weaker checkers) fails here.
 */
const durationMs = 20_000;
interface Budget {
  readonly seeds: number;
  readonly measuredFirst: number;
  readonly nodes?: number;
  readonly faults?: readonly FaultKind[];
}
const seedsToCatch: Readonly<Record<string, Budget>> = {
  "vote-without-log-check": { seeds: 10, measuredFirst: 1 },
  "commit-previous-term": { seeds: 150, measuredFirst: 95, nodes: 3, faults: ["crash-leader", "loss", "isolate-leader"] },
  "reply-before-persisting-vote": { seeds: 150, measuredFirst: 109 },
  "leader-ignores-higher-term": { seeds: 30, measuredFirst: 9 },
  "truncate-committed-on-stale-append": { seeds: 10, measuredFirst: 1 },
  "read-index-without-confirmation": { seeds: 100, measuredFirst: 58 },
};

test("planted bugs: every mutant in the catalogue has a stated seed budget", (t) => {
  t.true(raftMutants.length >= 6, `only ${raftMutants.length} mutants`);
  for (const mutant of raftMutants) t.truthy(seedsToCatch[mutant.name], `no seed budget stated for ${mutant.name}`);
});

for (const mutant of raftMutants) {
  const budget = seedsToCatch[mutant.name];
  const seeds = budget?.seeds ?? 0;
  test(`planted bug "${mutant.name}" (${mutant.description}) is caught within ${seeds} seeds`, async (t) => {
    t.truthy(budget, `no seed budget stated for ${mutant.name}`);
    const summary = await runCampaign({
      seeds: Array.from({ length: seeds }, (_, i) => i + 1), durationMs, nodes: budget!.nodes,
      faults: budget!.faults ?? [...FAULT_KINDS], nodeFactory: mutant.make, stopAfterFailures: 1,
    });
    t.true(summary.failed.length > 0, `${mutant.name} survived ${summary.seeds} seeds`);
    const first = summary.failures[0]!;
    t.log(`caught at seed ${first.seed} (measured ${budget!.measuredFirst}), ${first.outcome}: ${first.message.slice(0, 160)}`);
  });
}
