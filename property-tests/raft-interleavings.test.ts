/**
 * Whatever the schedule of ticks, deliveries, drops, duplicates, proposals, reads, compactions and
 * crash-restarts, Raft's safety properties hold (checked after every action by raft-schedules.ts).
 */
import test from "ava";
import fc from "fast-check";
import { action, run } from "./raft-schedules.ts";

test("interleavings: election safety, log matching and state machine safety under any schedule", (t) => {
  let sawProgress = 0;
  fc.assert(fc.property(fc.array(action, { minLength: 50, maxLength: 400 }), fc.nat({ max: 1_000_000 }), (actions, seed) => {
    const { commits } = run(actions, seed);
    if (commits > 2) sawProgress += 1;
  }), { numRuns: 150, seed: 42 });
  t.log(`schedules that committed entries: ${sawProgress} of 150`);
  t.true(sawProgress > 10, `schedules that committed entries: ${sawProgress} of 150 (the generator must exercise replication)`);
});
