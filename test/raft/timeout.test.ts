import test from "ava";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import { Timeout } from "../../src/core/raft/timeout.ts";
import type { RaftConfig } from "../../src/core/raft/types.ts";
import type { Rng } from "../../src/core/util/rng.ts";

/** A generator that always answers `value`: the draw's lowest (0) or highest (just below 1) end. */
const constant = (value: number): Rng & { draws: number } => {
  const rng = { draws: 0, next: () => { rng.draws += 1; return value; } };
  return rng;
};
const highest = 1 - 2 ** -40;

test("timeout: a timer that was never started is stopped, never fires and cannot be reset", (t) => {
  const timer = new Timeout("heartbeat", "n2");
  t.false(timer.isRunning);
  t.false(timer.fired());
  timer.tick();
  t.is(timer.elapsed, 0, "a stopped timer does not count");
  t.false(timer.fired());
  t.throws(() => timer.reset(), { message: /^n2: timer heartbeat reset while stopped$/ });
});

test("timeout: start refuses deadlines that are not a positive number of ticks", (t) => {
  const timer = new Timeout("election", "n1");
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    t.throws(() => timer.start(bad), { message: new RegExp(`^n1: timer election afterTicks ${bad} < 1$`) }, String(bad));
  }
  t.false(timer.isRunning, "a refused start leaves the timer stopped");
  timer.start(1);
  t.true(timer.isRunning);
  t.is(timer.deadlineTicks, 1);
  t.false(timer.fired());
  timer.tick();
  t.true(timer.fired(), "a one-tick timer fires after one tick");
});

test("timeout: elapsed counts ticks while running; stop and start restart the count", (t) => {
  const timer = new Timeout("transfer", "n1");
  timer.start(5);
  timer.tick();
  timer.tick();
  t.is(timer.elapsed, 2);
  timer.reset();
  t.is(timer.elapsed, 0);
  t.is(timer.deadlineTicks, 5, "reset keeps the deadline");
  timer.tick();
  timer.stop();
  t.false(timer.isRunning);
  t.is(timer.elapsed, 0);
  timer.tick();
  t.is(timer.elapsed, 0, "no counting while stopped");
  t.false(timer.fired());
  timer.start(2);
  timer.tick();
  t.is(timer.elapsed, 1);
  t.false(timer.fired());
});

test("timeout: a random deadline spans [min, max] inclusive and draws from the given generator", (t) => {
  const timer = new Timeout("election", "n1");
  const low = constant(0);
  timer.startRandom(low, 20, 39);
  t.is(timer.deadlineTicks, 20);
  t.is(low.draws, 1);
  const high = constant(highest);
  timer.startRandom(high, 20, 39);
  t.is(timer.deadlineTicks, 39);
  t.is(high.draws, 1);
  timer.startRandom(constant(0.5), 20, 39);
  t.is(timer.deadlineTicks, 30);
  timer.startRandom(constant(highest), 7, 7);
  t.is(timer.deadlineTicks, 7, "a one-value range");
  t.true(timer.isRunning);
  t.is(timer.elapsed, 0);
});

/**
 * Ticks a lone node (its peers never answer) and returns the ticks at which it asked for votes:
 * with preVote, each pre-election round; without, each real election (the term goes up).
 */
function campaignTicks(rng: Rng, overrides: Partial<RaftConfig>, ticks: number): number[] {
  const node = new RaftNode(defaultRaftConfig("n1", overrides), {
    hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [], initialConf: { voters: ["n1", "n2", "n3"], learners: [] },
  }, rng);
  const asked: number[] = [];
  for (let tick = 1; tick <= ticks; tick++) {
    node.tick();
    while (node.hasReady()) {
      const rd = node.ready();
      if (rd.messages.some((m) => m.type === "vote" || m.type === "preVote")) asked.push(tick);
      node.advance(rd);
    }
  }
  return asked;
}

// Heartbeat timeout 20 ticks, election timeout 10 ticks: a follower waits [20, 39] ticks for its
// leader, a (pre-)candidate waits [10, 19] ticks for votes before trying again.
const timing: Partial<RaftConfig> = { tickMs: 50, heartbeatTimeoutMs: 1000, electionTimeoutMs: 500 };

test("timeout: a follower campaigns after [heartbeat, 2*heartbeat) ticks, then retries every [election, 2*election)", (t) => {
  t.deepEqual(campaignTicks(constant(0), { ...timing, preVote: false }, 45), [20, 30, 40]);
  t.deepEqual(campaignTicks(constant(highest), { ...timing, preVote: false }, 100), [39, 58, 77, 96]);
});

test("timeout: pre-candidates use the election range for their retries too", (t) => {
  t.deepEqual(campaignTicks(constant(0), { ...timing, preVote: true }, 45), [20, 30, 40]);
  t.deepEqual(campaignTicks(constant(highest), { ...timing, preVote: true }, 100), [39, 58, 77, 96]);
});
