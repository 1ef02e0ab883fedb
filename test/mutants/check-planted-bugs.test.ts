import test from "ava";
import { FAULT_KINDS } from "../../sim/faults.ts";
import { runAgentSeed } from "../../sim/scenarios/agent.ts";
import { checkMutants } from "./check-mutants.ts";

/**
 * Proof that the agent scenario's health checkers (sim/checkers/health-checker.ts) find defects in
 * what decides a check's fate: each planted bug must fail some seed among seeds 1..N of the
 * default agent campaign (all fault kinds, 60 simulated seconds of faults, as
 * `node --import tsx sim/cli.ts --scenario agent` runs it). `measuredFirst` is the first failing
 * seed when the budget was set (seeds 1-6: the first three were caught on 6 of 6, promptness
 * and ?passing on 3 of 6); the budget leaves a margin, so a change that blunts a checker or the
 * workload fails here.
 */
const durationMs = 60_000;
interface Budget {
  readonly seeds: number;
  readonly measuredFirst: number;
  readonly checker: RegExp;
  /** Promptness is a liveness property: the instance leaves ?passing, only too late. */
  readonly outcome?: "liveness";
}
const seedsToCatch: Readonly<Record<string, Budget>> = {
  "check-thresholds-ignored": { seeds: 4, measuredFirst: 1, checker: /^check thresholds: \S+ wrote \S+ \w+ ".*" at \d+ ms, a state the thresholds never implied/ },
  "check-deregister-at-once": { seeds: 4, measuredFirst: 1, checker: /^deregister critical: \S+ deregistered \w+ at \d+ ms, only \d+ ms after/ },
  "check-output-not-batched": { seeds: 4, measuredFirst: 1, checker: /^check_update_interval: \S+ wrote an output-only change of \S+ at \d+ ms, \d+ ms after/ },
  "check-change-waits-for-periodic-sync": { seeds: 8, measuredFirst: 2, outcome: "liveness", checker: /^check promptness: \S+ reported \S+ (warning|critical) at \d+ ms, but health \?passing still lists/ },
  "check-passing-ignores-node-checks": { seeds: 10, measuredFirst: 2, checker: /^health \?passing: \w+ lists \S+, whose agent reports a check (critical|warning)/ },
};

test("check planted bugs: every mutant in the catalogue has a stated seed budget", (t) => {
  t.is(checkMutants.length, 5);
  for (const mutant of checkMutants) t.truthy(seedsToCatch[mutant.name], `no seed budget stated for ${mutant.name}`);
});

for (const mutant of checkMutants) {
  const budget = seedsToCatch[mutant.name];
  const seeds = budget?.seeds ?? 0;
  test(`check planted bug "${mutant.name}" (${mutant.description}) is caught within ${seeds} seeds`, (t) => {
    t.truthy(budget, `no seed budget stated for ${mutant.name}`);
    for (let seed = 1; seed <= seeds; seed++) {
      const result = runAgentSeed({ seed, durationMs, faults: [...FAULT_KINDS], ...mutant.options });
      if (result.outcome === "ok") continue;
      t.is(result.outcome, budget!.outcome ?? "safety", result.message ?? "");
      t.regex(result.message ?? "", budget!.checker, "caught by the checker meant for it");
      t.log(`caught at seed ${seed} (measured ${budget!.measuredFirst}): ${(result.message ?? "").slice(0, 200)}`);
      return;
    }
    t.fail(`${mutant.name} survived ${seeds} seeds`);
  });
}
