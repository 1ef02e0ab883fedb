import test from "ava";
import { FAULT_KINDS } from "../../sim/faults.ts";
import { runCampaign } from "../../sim/run.ts";
import { raftMutants } from "./raft-mutants.ts";

/**
 * Proof that the simulator finds bugs: each planted Raft bug must fail some seed among seeds 1..N
 * of the DEFAULT campaign (`npm run sim -- --seeds 1000 --workers 2`: the kv scenario, all fault
 * kinds, 60 simulated seconds of faults per seed, cluster size drawn by the seed). `perThousand` is
 * the catch rate last measured (failing seeds per 1,000 over seeds 1-100:
 * `npm run -s sim -- --seeds 100 --workers 2 --json --no-shrink --mutant NAME`), `measuredFirst`
 * the first failing seed then; the budget leaves a margin up to about the second or third failing
 * seed, so a change that blunts the simulator (fewer faults, weaker checkers) fails here.
 *
 * Before issue 14's simulator work, three of these were caught by no seed of the first 50
 * (reply-before-persisting-vote 2 of 200, lease-without-margin 0 of 100, conf-change-before-term-commit
 * 0 of 50); each now has a budget like the rest.
 */
const durationMs = 60_000;
interface Budget {
  readonly seeds: number;
  readonly measuredFirst: number;
  readonly perThousand: number;
}
const seedsToCatch: Readonly<Record<string, Budget>> = {
  "vote-without-log-check": { seeds: 10, measuredFirst: 1, perThousand: 920 },
  "leader-ignores-higher-term": { seeds: 30, measuredFirst: 17, perThousand: 160 },
  "truncate-committed-on-stale-append": { seeds: 10, measuredFirst: 1, perThousand: 320 },
  // Read freshness catches the deposed leader's unconfirmed reads in lease races (lease reads fall back to ReadIndex).
  "read-index-without-confirmation": { seeds: 20, measuredFirst: 5, perThousand: 220 },
  "probe-after-idle": { seeds: 10, measuredFirst: 1, perThousand: 940 },
  // Leader-churn bursts (sim/faults.ts appendLeaderChurn) build Figure 8's history.
  "commit-previous-term": { seeds: 20, measuredFirst: 4, perThousand: 200 },
  // Read-heavy seeds on slow links, with the read load kept on the healed cluster.
  "read-round-per-request": { seeds: 30, measuredFirst: 9, perThousand: 170 },
  // Membership changes brought forward to elections (sim/membership-driver.ts), judged by the
  // thesis' rule (sim/checkers/conf-change-term.ts).
  "conf-change-before-term-commit": { seeds: 10, measuredFirst: 2, perThousand: 610 },
  // Split-vote shapes (sim/faults.ts appendSplitVotes: slow links, a leader bounce) and beforeSecondVote
  // crash points judged as the rival's request lands.
  "reply-before-persisting-vote": { seeds: 15, measuredFirst: 5, perThousand: 330 },
  // Lease races (sim/faults.ts appendLeaseRaces) judged by read freshness.
  "lease-without-margin": { seeds: 20, measuredFirst: 2, perThousand: 140 },
};

const module = new URL("./raft-mutants.ts", import.meta.url).href;

test("planted bugs: every mutant in the catalogue has a stated seed budget in the default campaign", (t) => {
  t.true(raftMutants.length >= 10, `only ${raftMutants.length} mutants`);
  for (const mutant of raftMutants) t.truthy(seedsToCatch[mutant.name], `no seed budget stated for ${mutant.name}`);
});

for (const mutant of raftMutants) {
  const budget = seedsToCatch[mutant.name];
  if (budget === undefined) continue;
  test(`planted bug "${mutant.name}" (${mutant.description}) is caught by the default campaign within ${budget.seeds} seeds`, async (t) => {
    const summary = await runCampaign({
      seeds: Array.from({ length: budget.seeds }, (_, i) => i + 1), durationMs, faults: [...FAULT_KINDS], workers: 2,
      nodeFactoryRef: { module, exportName: "raftMutants", name: mutant.name }, stopAfterFailures: 1, seedWallLimitMs: 240_000,
    });
    t.true(summary.failed.length > 0, `${mutant.name} survived ${summary.seeds} seeds`);
    const first = summary.failures[0]!;
    t.log(`caught at seed ${first.seed} (measured ${budget.measuredFirst}), ${first.outcome}: ${first.message.slice(0, 160)}`);
  });
}
