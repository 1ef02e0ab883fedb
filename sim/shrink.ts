import type { FaultKind } from "./faults.ts";
import type { Scenario, ScenarioOptions, SeedResult } from "./scenarios/types.ts";
import { sameViolation } from "./violation.ts";

export interface ShrinkResult {
  /** The smallest failing schedule found (fault ids of the seed's full schedule). */
  readonly scheduleIds: readonly number[];
  /** The fault kinds still enabled: untimed kinds (membership changes, drift) are dropped when the violation survives without them. */
  readonly faults: readonly FaultKind[];
  /** Membership changes left out (ScenarioOptions.membershipSkips): those the violation did not need. */
  readonly membershipSkips: readonly number[];
  readonly result: SeedResult;
  readonly reruns: number;
}

/** Kinds that are not timed faults of the schedule, tried for removal as a whole after the timed ones. */
const UNTIMED_KINDS: readonly FaultKind[] = ["membership", "drift"];

/**
 * Remove faults one by one while the same violation persists (same outcome and same checker,
 * see violation.ts: a schedule that turns a linearizability failure into a liveness one, or a
 * state machine safety failure into an election safety one, is not kept), re-running the seed
 * with a schedule override each time; what is left is a schedule where every remaining fault is
 * needed for this failure (1-minimal with respect to single removals). Then the membership
 * changes the driver drew are left out one by one, newest first, each kept out if the violation
 * stays; then membership changes and clock drift are switched off as a whole, likewise.
 */
export function shrinkSchedule(scenario: Scenario, options: ScenarioOptions, failing: SeedResult, rerunsMax = 200): ShrinkResult {
  let ids = [...failing.scheduleIds];
  let faults = [...options.faults];
  let best = failing;
  let reruns = 0;
  let progress = true;
  while (progress && reruns < rerunsMax) {
    progress = false;
    for (let i = ids.length - 1; i >= 0 && reruns < rerunsMax; i--) {
      const candidate = ids.filter((_, j) => j !== i);
      reruns++;
      const result = scenario.runSeed({ ...options, faults, trace: false, scheduleIds: candidate });
      if (!sameViolation(result, failing)) continue;
      ids = candidate;
      best = result;
      progress = true;
    }
  }
  let skips = [...(options.membershipSkips ?? [])];
  const drawn = Number(best.facts["conf.drawn"] ?? 0);
  for (let change = drawn - 1; change >= 0 && reruns < rerunsMax; change--) {
    if (skips.includes(change)) continue;
    const candidate = [...skips, change].sort((a, b) => a - b);
    reruns++;
    const result = scenario.runSeed({ ...options, faults, trace: false, scheduleIds: ids, membershipSkips: candidate });
    if (!sameViolation(result, failing)) continue;
    skips = candidate;
    best = result;
  }
  for (const kind of UNTIMED_KINDS) {
    if (!faults.includes(kind) || reruns >= rerunsMax) continue;
    const candidate = faults.filter((k) => k !== kind);
    reruns++;
    const result = scenario.runSeed({ ...options, faults: candidate, trace: false, scheduleIds: ids, membershipSkips: skips, faultSchedule: failing.schedule });
    if (!sameViolation(result, failing)) continue;
    faults = candidate;
    best = result;
  }
  return { scheduleIds: ids, faults, membershipSkips: faults.includes("membership") ? skips : [], result: best, reruns };
}
