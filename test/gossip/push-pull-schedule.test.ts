import test from "ava";
import { TestPool } from "./pool.ts";

/**
 * memberlist's pushPullTrigger waits a random stagger in [0, interval) and then a whole (scaled)
 * interval before its first periodic push/pull. A member that pushes/pulls right after the stagger
 * adds one push/pull to every member's first interval, and on a pool started together that is
 * TCP traffic serf does not send.
 */
test("periodic push/pull: the first comes a whole interval after the stagger, the rest an interval apart", (t) => {
  const pool = new TestPool();
  const intervalTicks = pool.config.pushPullIntervalMs / pool.config.tickMs;
  const sentAt = new Map<string, number[]>();
  let tick = 0;
  pool.drop = (f) => {
    for (const m of f.packet.msgs) {
      if (f.packet.via !== "tcp" || m.type !== "pushPull" || m.Join) continue;
      sentAt.set(f.from, [...(sentAt.get(f.from) ?? []), tick]);
    }
    return false;
  };
  for (let i = 1; i <= 8; i++) pool.add(`n${i}`);
  for (let i = 2; i <= 8; i++) pool.node(`n${i}`).join([pool.addrOf("n1")]);
  pool.flush();
  for (tick = 1; tick <= 4 * intervalTicks; tick++) pool.tick();
  t.true(pool.converged());
  t.is(sentAt.size, 8, "every member pushes/pulls");
  for (const [from, ticks] of sentAt) {
    t.true(ticks[0]! > intervalTicks && ticks[0]! <= 2 * intervalTicks, `${from}: first periodic push/pull at tick ${ticks[0]}`);
    for (let i = 1; i < ticks.length; i++) t.is(ticks[i]! - ticks[i - 1]!, intervalTicks, `${from}: push/pulls at ${ticks.join(", ")}`);
    t.true(ticks.length >= 2 && ticks.length <= 3, `${from}: push/pulls at ${ticks.join(", ")}`);
  }
});
