import test from "ava";
import { quorumSize, quorumValue, voteResult } from "../../src/core/raft/quorum.ts";

const values = (record: Record<string, number>) => (id: string): number => record[id]!;

test("quorum: a majority of odd and even voter counts", (t) => {
  t.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map(quorumSize), [1, 2, 2, 3, 3, 4, 4, 5]);
  for (const bad of [0, -1, 2.5, Number.NaN]) {
    t.throws(() => quorumSize(bad), { message: new RegExp(`^quorumSize: voterCount ${bad} < 1$`) }, String(bad));
  }
});

test("quorum: the value a majority reached, for one, two, even and odd voter sets", (t) => {
  t.is(quorumValue(["a"], values({ a: 7 })), 7);
  t.is(quorumValue(["a", "b"], values({ a: 7, b: 4 })), 4, "two voters: both must have it");
  t.is(quorumValue(["a", "b", "c"], values({ a: 1, b: 9, c: 5 })), 5, "order of voters does not matter");
  t.is(quorumValue(["a", "b", "c", "d"], values({ a: 8, b: 6, c: 4, d: 2 })), 4, "four voters need three");
  t.is(quorumValue(["a", "b", "c", "d", "e", "f"], values({ a: 6, b: 5, c: 4, d: 3, e: 2, f: 1 })), 3, "six need four");
  t.is(quorumValue(["a", "b", "c"], values({ a: 10, b: 2, c: 9 })), 9, "numeric, not lexicographic, order");
  t.throws(() => quorumValue([], values({})), { message: /^quorumValue: no voters$/ });
});

test("quorum: vote tallies for even voter counts need more than half; ties stay pending", (t) => {
  const four = ["a", "b", "c", "d"];
  const tally = (votes: Record<string, boolean>) => voteResult(four, new Map(Object.entries(votes)));
  t.is(tally({ a: true, b: true }), "pending", "half is not a majority");
  t.is(tally({ a: true, b: true, c: true }), "won");
  t.is(tally({ a: true, b: true, c: false, d: false }), "lost", "a tie loses once everyone answered");
  t.is(tally({ a: true, c: false }), "pending", "one refusal of four leaves a majority possible");
  t.is(tally({ c: false, d: false }), "lost", "two refusals of four leave no majority");
  t.is(tally({ a: true, x: true, y: true, z: true }), "pending", "only voters' answers count");
  t.is(tally({ a: true, b: true, x: false, y: false, z: false }), "pending", "refusals of non-voters do not count");
});

test("quorum: vote tallies for a single voter and for three voters", (t) => {
  t.is(voteResult(["a"], new Map([["a", true]])), "won");
  t.is(voteResult(["a"], new Map([["a", false]])), "lost");
  t.is(voteResult(["a"], new Map()), "pending");
  const three = ["a", "b", "c"];
  t.is(voteResult(three, new Map([["a", true], ["b", false]])), "pending");
  t.is(voteResult(three, new Map([["a", true], ["b", true]])), "won");
  t.is(voteResult(three, new Map([["b", false], ["c", false]])), "lost");
});
