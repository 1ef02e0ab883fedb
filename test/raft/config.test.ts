import test from "ava";
import { defaultRaftConfig, validateRaftConfig } from "../../src/core/raft/node.ts";
import { raftTicks } from "../../src/core/raft/config.ts";
import { Timeout } from "../../src/core/raft/timeout.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";

test("config: defaults are hashicorp/raft's LAN timing, in 50 ms ticks", (t) => {
  const c = defaultRaftConfig("n1");
  t.like(c, { heartbeatTimeoutMs: 1000, electionTimeoutMs: 1000, leaderLeaseTimeoutMs: 500, preVote: true, checkQuorum: true });
  t.deepEqual(raftTicks(c), { heartbeatTimeoutTicks: 20, electionTimeoutTicks: 20, leaderLeaseTicks: 10, heartbeatIntervalTicks: 2, replicationStallTicks: 10 });
  t.notThrows(() => validateRaftConfig(c));
  t.is(defaultRaftConfig("n1", { tickMs: 10 }).tickMs, 10);
});

test("config: invalid values are refused with a message naming the field", (t) => {
  const bad: [Partial<ReturnType<typeof defaultRaftConfig>>, RegExp][] = [
    [{ tickMs: 0 }, /tickMs/],
    [{ heartbeatIntervalMs: 1000 }, /heartbeatIntervalMs 1000 must be below heartbeatTimeoutMs/],
    [{ leaderLeaseTimeoutMs: 2000 }, /leaderLeaseTimeoutMs 2000 \(2000 ms in ticks\) must be shorter than the followers' election timeout/],
    [{ maxInflightMsgs: 0 }, /maxInflightMsgs/],
    [{ electionTimeoutMs: 20 }, /electionTimeoutMs 20 is shorter than tickMs/],
    [{ id: "" }, /id must be/],
  ];
  for (const [override, message] of bad) {
    t.throws(() => validateRaftConfig({ ...defaultRaftConfig("n1"), ...override }), { message });
  }
});

test("timeout: fires once at its deadline and throws if nobody resets it", (t) => {
  const timer = new Timeout("election", "n1");
  timer.start(3);
  timer.tick();
  timer.tick();
  t.false(timer.fired());
  timer.tick();
  t.true(timer.fired());
  timer.tick();
  t.throws(() => timer.fired(), { message: /n1: timer election kept firing/ });
  timer.reset();
  t.false(timer.fired());
});

test("timeout: randomized deadlines come from the injected generator only", (t) => {
  const draw = (seed: number) => {
    const timer = new Timeout("election", "n1");
    const rng = mulberry32(seed);
    return Array.from({ length: 20 }, () => { timer.startRandom(rng, 20, 39); return timer.deadlineTicks; });
  };
  t.deepEqual(draw(5), draw(5));
  t.true(draw(5).every((d) => d >= 20 && d <= 39));
  t.notDeepEqual(draw(5), draw(6));
});
