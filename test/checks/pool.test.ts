import test from "ava";
import { BoundedPool } from "../../src/agent/checks/index.ts";

test("pool: slots are granted in arrival order; an aborted waiter leaves the queue without a slot", async (t) => {
  const pool = new BoundedPool(1);
  const never = new AbortController().signal;
  const first = await pool.acquire(never);
  t.truthy(first);
  const order: string[] = [];
  const second = pool.acquire(never).then((release) => { order.push("second"); return release; });
  const giveUp = new AbortController();
  const third = pool.acquire(giveUp.signal).then((release) => { order.push(release === null ? "third gave up" : "third"); return release; });
  const fourth = pool.acquire(never).then((release) => { order.push("fourth"); return release; });
  t.deepEqual([pool.active, pool.queued], [1, 3]);
  giveUp.abort();
  t.is(await third, null);
  t.is(pool.queued, 2);
  first!();
  first!(); // a second release of the same slot is a no-op
  const releaseSecond = await second;
  t.deepEqual([pool.active, pool.queued], [1, 1]);
  releaseSecond!();
  (await fourth)!();
  t.deepEqual(order, ["third gave up", "second", "fourth"]);
  t.deepEqual([pool.active, pool.queued, pool.peakActive], [0, 0, 1]);
  const aborted = new AbortController();
  aborted.abort();
  t.is(await pool.acquire(aborted.signal), null, "an already aborted signal gets nothing");
});

test("pool: a size below 1 is refused with the value", (t) => {
  t.throws(() => new BoundedPool(0), { message: "check pool size 0 must be a whole number >= 1" });
  t.throws(() => new BoundedPool(1.5), { message: /1\.5/ });
});
