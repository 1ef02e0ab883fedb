import type { Scenario, ScenarioOptions, SeedResult } from "./scenarios/types.ts";

export interface ShrinkResult {
  /** The smallest failing schedule found (fault ids of the seed's full schedule). */
  readonly scheduleIds: readonly number[];
  readonly result: SeedResult;
  readonly reruns: number;
}

/**
 * Remove faults one by one while the failure persists (same outcome kind), re-running the seed
 * with a schedule override each time; what is left is a schedule where every remaining fault is
 * needed for this failure (1-minimal with respect to single removals).
 */
export function shrinkSchedule(scenario: Scenario, options: ScenarioOptions, failing: SeedResult, rerunsMax = 200): ShrinkResult {
  let ids = [...failing.scheduleIds];
  let best = failing;
  let reruns = 0;
  let progress = true;
  while (progress && reruns < rerunsMax) {
    progress = false;
    for (let i = ids.length - 1; i >= 0 && reruns < rerunsMax; i--) {
      const candidate = ids.filter((_, j) => j !== i);
      reruns++;
      const result = scenario.runSeed({ ...options, trace: false, scheduleIds: candidate });
      if (result.outcome !== failing.outcome) continue;
      ids = candidate;
      best = result;
      progress = true;
    }
  }
  return { scheduleIds: ids, result: best, reruns };
}
