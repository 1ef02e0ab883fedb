import test from "ava";
import { BroadcastQueue } from "../../src/core/gossip/broadcast-queue.ts";

test("broadcast queue: least-sent first, newest first among equals, each sent transmitLimit times", (t) => {
  const q = new BroadcastQueue<string>();
  q.queue(null, "a", 10);
  q.queue(null, "b", 10);
  t.deepEqual(q.take(2, 12, 3), ["b"], "room for one: the newest");
  t.deepEqual(q.take(2, 12, 3), ["a"], "then the one sent fewer times");
  // Among equals sent as often, the one that reached that count last goes first.
  t.deepEqual(q.take(2, 100, 3), ["a", "b"]);
  t.deepEqual(q.take(2, 100, 3), ["b", "a"]);
  t.deepEqual(q.take(2, 100, 3), [], "three transmits each, then gone");
  t.is(q.length, 0);
  q.invariants();
});

test("broadcast queue: a named broadcast replaces the older one with that name and reports it done", (t) => {
  const q = new BroadcastQueue<string>();
  let done = 0;
  q.queue("n1", "alive n1 inc 1", 10, () => done++);
  q.queue("n2", "alive n2", 10);
  q.queue("n1", "suspect n1 inc 1", 10);
  t.is(done, 1);
  t.is(q.length, 2);
  t.deepEqual(q.take(2, 100, 5), ["suspect n1 inc 1", "alive n2"]);
  q.invariants();
});

test("broadcast queue: skips what does not fit and takes smaller ones behind it", (t) => {
  const q = new BroadcastQueue<string>();
  q.queue(null, "small", 5);
  q.queue(null, "big", 50);
  t.deepEqual(q.take(2, 20, 4), ["small"]);
  t.is(q.lastTakeBytes, 7);
});

test("broadcast queue: prune keeps the freshest, dropping the most-sent, oldest first", (t) => {
  const q = new BroadcastQueue<string>();
  for (const m of ["a", "b", "c"]) q.queue(null, m, 10);
  q.take(2, 12, 10);
  q.queue(null, "d", 10);
  q.prune(2);
  t.is(q.length, 2);
  t.deepEqual(q.take(2, 100, 10), ["d", "b"], "c (sent once) and a (oldest) were dropped");
  q.invariants();
});

test("broadcast queue: thousands of broadcasts stay consistent through many takes", (t) => {
  const q = new BroadcastQueue<number>();
  for (let i = 0; i < 3_000; i++) {
    q.queue(i % 7 === 0 ? `name${i % 50}` : null, i, 20 + (i % 40));
    if (i % 10 === 0) q.take(2, 1_400, 12);
  }
  q.invariants();
  let sent = 0;
  while (q.length > 0) sent += q.take(2, 1_400, 12).length;
  t.true(sent > 0);
  q.invariants();
});
