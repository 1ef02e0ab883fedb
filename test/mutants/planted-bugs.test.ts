import test from "ava";
import { FAULT_KINDS } from "../../sim/faults.ts";
import { runCampaign } from "../../sim/run.ts";
import { raftMutants } from "./raft-mutants.ts";

/**
 * Proof that the simulator finds bugs: each planted Raft bug must fail some seed among seeds
 * 1..N of the default KV campaign (all fault kinds, 20 simulated seconds of faults per seed).
 * N is stated per mutant from measurement: the first failing seed found, rounded up with margin,
 * so that a change that blunts the simulator (fewer faults, weaker checkers) fails this test.
 */
const durationMs = 20_000;
const seedsToCatch: Readonly<Record<string, { seeds: number; measuredFirst: number }>> = {
  "vote-without-log-check": { seeds: 40, measuredFirst: 0 },
  "commit-previous-term": { seeds: 200, measuredFirst: 0 },
  "reply-before-persisting-vote": { seeds: 200, measuredFirst: 0 },
  "leader-ignores-higher-term": { seeds: 40, measuredFirst: 0 },
  "truncate-committed-on-stale-append": { seeds: 20, measuredFirst: 0 },
  "read-index-without-confirmation": { seeds: 200, measuredFirst: 0 },
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
      seeds: Array.from({ length: seeds }, (_, i) => i + 1), durationMs, faults: [...FAULT_KINDS],
      nodeFactory: mutant.make, stopAfterFailures: 1,
    });
    t.true(summary.failed.length > 0, `${mutant.name} survived ${summary.seeds} seeds`);
    const first = summary.failures[0]!;
    t.log(`caught at seed ${first.seed} (${first.outcome}): ${first.message.slice(0, 160)}`);
  });
}
