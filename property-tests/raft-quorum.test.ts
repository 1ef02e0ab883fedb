import test from "ava";
import fc from "fast-check";
import { quorumSize, quorumValue, voteResult } from "../src/core/raft/quorum.ts";

/** The obvious definition: the largest value v such that a majority of voters have at least v. */
function naiveQuorumValue(values: readonly number[]): number {
  let best = Number.NEGATIVE_INFINITY;
  for (const candidate of values) {
    const atLeast = values.filter((v) => v >= candidate).length;
    if (atLeast * 2 > values.length && candidate > best) best = candidate;
  }
  return best;
}

const matchIndexes = fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 9 });

test("quorum: the commit index from sorted match indexes equals the naive majority definition", (t) => {
  fc.assert(fc.property(matchIndexes, (values) => {
    const voters = values.map((_, i) => `n${i}`);
    const fast = quorumValue(voters, (id) => values[Number(id.slice(1))]!);
    return fast === naiveQuorumValue(values);
  }), { numRuns: 5000, seed: 1 });
  t.pass();
});

test("quorum: the anchors — 3 voters need 2, 4 need 3, 5 need 3", (t) => {
  t.deepEqual([1, 2, 3, 4, 5].map(quorumSize), [1, 2, 2, 3, 3]);
  t.is(quorumValue(["a", "b", "c"], (id) => ({ a: 5, b: 3, c: 1 })[id]!), 3);
  t.is(quorumValue(["a", "b", "c", "d"], (id) => ({ a: 9, b: 9, c: 2, d: 1 })[id]!), 2);
});

test("quorum: a vote is won iff a majority granted, lost iff a majority cannot grant any more", (t) => {
  const answers = fc.array(fc.constantFrom<boolean | undefined>(true, false, undefined), { minLength: 1, maxLength: 9 });
  fc.assert(fc.property(answers, (given) => {
    const voters = given.map((_, i) => `n${i}`);
    const votes = new Map<string, boolean>();
    given.forEach((v, i) => { if (v !== undefined) votes.set(`n${i}`, v); });
    const granted = given.filter((v) => v === true).length;
    const open = given.filter((v) => v === undefined).length;
    const majority = Math.floor(given.length / 2) + 1;
    const expected = granted >= majority ? "won" : granted + open < majority ? "lost" : "pending";
    return voteResult(voters, votes) === expected;
  }), { numRuns: 5000, seed: 2 });
  t.pass();
});
