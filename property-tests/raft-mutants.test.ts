/**
 * The random schedules of raft-schedules.ts must be able to find planted bugs: for these test-only
 * mutants the search reports a safety violation (or a broken core invariant) within `runsMax`
 * schedules. A property test that finds nothing in a buggy core proves nothing.
 *
 * Not listed: commit-previous-term, leader-ignores-higher-term and read-index-without-confirmation.
 * With the election noop, pre-vote and check-quorum they need long, specific histories (a
 * lagging follower acknowledging old-term entries while a rival holds a higher last term; a
 * deposed leader whose clock runs slow enough to outlive check-quorum) that blind random schedules
 * over three nodes rarely build. test/raft/mutants.test.ts shows each of them misbehaving in a
 * scripted scenario, and the simulator is where they must be caught.
 */
import test from "ava";
import fc from "fast-check";
import { raftMutants } from "../test/mutants/raft-mutants.ts";
import { action, run } from "./raft-schedules.ts";

const runsMax = 1500;
const searched = ["vote-without-log-check", "reply-before-persisting-vote", "truncate-committed-on-stale-append"];

for (const name of searched) {
  test(`schedules catch mutant ${name}`, (t) => {
    const mutant = raftMutants.find((m) => m.name === name);
    if (mutant === undefined) throw new Error(`no mutant ${name} in the catalogue`);
    const result = fc.check(fc.property(fc.array(action, { minLength: 50, maxLength: 400 }), fc.nat({ max: 1_000_000 }), (actions, seed) => {
      run(actions, seed, mutant.make);
    }), { numRuns: runsMax, seed: 7, endOnFailure: true });
    t.log(result.failed ? `caught after ${result.numRuns} schedules: ${String((result.errorInstance as Error | undefined)?.message ?? "").slice(0, 120)}` : "not caught");
    t.true(result.failed, `${name} survived ${runsMax} schedules`);
  });
}
