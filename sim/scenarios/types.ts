import type { FaultKind, ScheduledFault } from "../faults.ts";
import type { HostClass, NodeFactory } from "../raft-cluster.ts";

/** How a seed ended; each failing kind has its own exit code in the CLI. */
export type Outcome = "ok" | "crash" | "liveness" | "safety";

export interface ScenarioOptions {
  readonly seed: number;
  /** Cluster size; when absent the seed draws it (3 to 5). */
  readonly nodes?: number;
  /** Length of the safety phase (faults active), in simulated milliseconds. */
  readonly durationMs: number;
  readonly faults: readonly FaultKind[];
  readonly trace?: boolean;
  /** Run only these faults of the seed's schedule (shrinking, or `--schedule`). */
  readonly scheduleIds?: readonly number[];
  /**
   * Membership changes left out, by their number in the order the membership driver draws them
   * (0, 1, ...): the driver draws them as usual and proposes none of these (shrinking, or
   * `--skip-changes`). Each run with the same list is the same run.
   */
  readonly membershipSkips?: readonly number[];
  /** A hand-written schedule replacing the seed's drawn one (directed scenario tests). */
  readonly faultSchedule?: readonly ScheduledFault[];
  /**
   * Background reads asked of the leader per tick (50 ms) during the safety phase, half lease and
   * half ReadIndex. When absent the seed decides: a quarter of kv seeds run 10 to 60.
   */
  readonly readsPerTick?: number;
  /** The Raft core to run (a planted-bug mutant in tests). */
  readonly nodeFactory?: NodeFactory;
  /** kv scenario: syncs take this long and hosts save asynchronously (see RaftClusterOptions.syncDelayMs). */
  readonly syncDelayMs?: { readonly min: number; readonly max: number };
  /** kv scenario: the host class to run (a planted-bug subclass in tests). */
  readonly hostClass?: HostClass;
}

export interface SeedResult {
  readonly seed: number;
  readonly scenario: string;
  readonly outcome: Outcome;
  /** What failed (null when ok). */
  readonly message: string | null;
  readonly events: number;
  readonly simulatedMs: number;
  /** The seed's full fault schedule, and the ids of the faults this run actually used. */
  readonly schedule: readonly ScheduledFault[];
  readonly scheduleIds: readonly number[];
  /** Trace lines (JSON), when tracing. */
  readonly trace: readonly string[] | null;
  /** Small deterministic facts about the run (counts), for summaries. */
  readonly facts: Readonly<Record<string, number | string>>;
}

/** A scenario runs one seed from start to verdict. Registered in `sim/scenarios/index.ts`. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  runSeed(options: ScenarioOptions): SeedResult;
}
