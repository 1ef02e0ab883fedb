import test from "ava";
import { Awareness } from "../../src/core/gossip/awareness.ts";
import { pushPullScaleMs, retransmitLimit, suspicionTimeoutMs } from "../../src/core/gossip/config.ts";
import { Suspicion, remainingSuspicionTimeMs } from "../../src/core/gossip/suspicion.ts";

// Rows from memberlist suspicion_test.go TestSuspicion_remainingSuspicionTime (min 2 s, max 30 s).
const remainingRows: [n: number, k: number, elapsedMs: number, minMs: number, maxMs: number, expectedMs: number][] = [
  [0, 3, 0, 2_000, 30_000, 30_000],
  [1, 3, 2_000, 2_000, 30_000, 14_000],
  [2, 3, 3_000, 2_000, 30_000, 4_810],
  [3, 3, 4_000, 2_000, 30_000, -2_000],
  [4, 3, 5_000, 2_000, 30_000, -3_000],
  [5, 3, 10_000, 2_000, 30_000, -8_000],
];

for (const [n, k, elapsedMs, minMs, maxMs, expectedMs] of remainingRows) {
  test(`lifeguard: remaining suspicion n=${n} k=${k} after ${elapsedMs} ms is ${expectedMs} ms`, (t) => {
    t.is(remainingSuspicionTimeMs(n, k, elapsedMs, minMs, maxMs), expectedMs);
  });
}

test("config: suspicion timeout scales with log10(n), never below one", (t) => {
  t.is(suspicionTimeoutMs(4, 1, 1_000), 4_000);
  t.is(suspicionTimeoutMs(4, 10, 1_000), 4_000);
  t.is(suspicionTimeoutMs(4, 100, 1_000), 8_000);
  t.is(suspicionTimeoutMs(4, 1_000, 1_000), 12_000);
  t.is(suspicionTimeoutMs(6, 100, 5_000), 60_000);
});

test("config: retransmit limit is mult * ceil(log10(n + 1))", (t) => {
  t.deepEqual([1, 9, 10, 99, 100, 999, 1_000, 10_000].map((n) => retransmitLimit(4, n)), [4, 4, 8, 8, 12, 12, 16, 20]);
});

test("config: push/pull interval is flat up to 32 members, then grows with log2(n)", (t) => {
  t.deepEqual([1, 32, 33, 64, 65, 1_000, 10_000].map((n) => pushPullScaleMs(30_000, n)), [30_000, 30_000, 60_000, 60_000, 90_000, 180_000, 300_000]);
});

test("lifeguard: awareness scales timeouts by score + 1 and stays in [0, max)", (t) => {
  const a = new Awareness(8);
  t.is(a.scale(1_000), 1_000);
  a.applyDelta(3);
  t.is(a.scale(1_000), 4_000);
  a.applyDelta(100);
  t.is(a.score, 7);
  t.is(a.scale(1_000), 8_000);
  a.applyDelta(-100);
  t.is(a.score, 0);
  a.invariants();
});

test("lifeguard: a suspicion starts at max and each new confirmer pulls the deadline in", (t) => {
  // tick = 100 ms, min 2 s, max 30 s, k = 3
  const s = new Suspicion("accuser", 3, 0, 100, 2_000, 30_000);
  t.is(s.deadlineTick, 300);
  t.false(s.confirm("accuser", 10), "the first accuser does not confirm itself");
  t.true(s.confirm("b", 20));
  t.is(s.deadlineTick, 20 + 140, "n=1 after 2 s: 14 s left");
  t.false(s.confirm("b", 25), "a confirmer counts once");
  t.true(s.confirm("c", 30));
  t.is(s.deadlineTick, 30 + Math.ceil(4_810 / 100), "n=2 after 3 s: 4.81 s left");
  t.true(s.confirm("d", 40));
  t.is(s.deadlineTick, 40, "n=k: the minimum has passed, due now");
  t.false(s.confirm("e", 41), "no confirmations beyond k");
});

test("lifeguard: with k = 0 the suspicion lasts exactly the minimum", (t) => {
  const s = new Suspicion("accuser", 0, 5, 100, 4_000, 24_000);
  t.is(s.deadlineTick, 45);
  t.false(s.confirm("b", 6));
  t.is(s.deadlineTick, 45);
});
