import test from "ava";
import type { ScheduledFault } from "../../sim/faults.ts";
import { kvScenario } from "../../sim/scenarios/kv.ts";
import type { SeedResult } from "../../sim/scenarios/types.ts";
import { raftMutants } from "../mutants/raft-mutants.ts";

/**
 * The split-vote shape the schedule draws (sim/faults.ts appendSplitVotes), written out: links
 * slowed to round trips near a second, the leader bounced, and a standing beforeSecondVote crash
 * point. Three servers, pre-vote on (the production default, drawn so for most seeds).
 */
const shape: ScheduledFault[] = [
  { id: 0, kind: "delay", atMs: 3_000, durationMs: 4_000, delayMs: 400 },
  { id: 1, kind: "crash-leader", atMs: 3_000, durationMs: 100 },
  { id: 2, kind: "crash", atMs: 3_000, durationMs: 0, trigger: "beforeSecondVote" },
];
const seeds = Array.from({ length: 12 }, (_, i) => i + 1);
const forgetful = raftMutants.find((m) => m.name === "reply-before-persisting-vote")!;

function run(seed: number, nodeFactory?: typeof forgetful.make): SeedResult {
  return kvScenario.runSeed({
    seed, nodes: 3, durationMs: 10_000, faults: ["delay", "crash-leader", "crash"], faultSchedule: shape, trace: true,
    ...(nodeFactory === undefined ? {} : { nodeFactory }),
  });
}

const voteCrashes = (result: SeedResult) => result.trace!.filter((line) => line.includes(`"e":"voteCrash"`)).length;

test("split vote: voters that granted one candidate are crashed as the rival's request lands, and the real core keeps their votes", (t) => {
  let crashed = 0;
  for (const seed of seeds) {
    const result = run(seed);
    t.is(result.outcome, "ok", `seed ${seed}: ${result.message ?? ""}`);
    crashed += voteCrashes(result) > 0 ? 1 : 0;
  }
  // The shape makes the split likely, not certain: the followers' timers may still fire far apart.
  t.true(crashed >= seeds.length / 4, `a voter was crashed before a second vote in only ${crashed} of ${seeds.length} seeds`);
});

test("split vote: a core that answers before persisting its vote elects two leaders of one term", (t) => {
  const failures = seeds.map((seed) => run(seed, forgetful.make)).filter((r) => r.outcome !== "ok");
  t.true(failures.length > 0, "the vote-forgetting core survived every seed");
  for (const failure of failures) t.regex(failure.message!, /election safety: \S+ and \S+ are both leaders of term \d+/);
});
