import test from "ava";
import { EventQueue } from "../../sim/world/event-queue.ts";
import { WorldRng } from "../../sim/world/rng.ts";
import { World } from "../../sim/world/world.ts";

test("event queue: pops by time, and by insertion order at the same instant", (t) => {
  const queue = new EventQueue();
  const order: string[] = [];
  for (const [atMs, name] of [[5, "a"], [1, "b"], [5, "c"], [3, "d"], [1, "e"], [5, "f"]] as const) {
    queue.push(atMs, () => order.push(name));
  }
  for (let e = queue.pop(); e !== null; e = queue.pop()) e.run();
  t.deepEqual(order, ["b", "e", "d", "a", "c", "f"]);
});

test("event queue: a thousand random events come out sorted", (t) => {
  const queue = new EventQueue();
  const rng = new WorldRng(1, "q");
  for (let i = 0; i < 1000; i++) queue.push(rng.int(0, 100), () => {});
  let previous = { atMs: -1, seq: -1 };
  for (let e = queue.pop(); e !== null; e = queue.pop()) {
    t.true(e.atMs > previous.atMs || (e.atMs === previous.atMs && e.seq > previous.seq));
    previous = e;
  }
});

test("world: runUntil advances the clock and stops when asked", (t) => {
  const world = new World(1);
  const seen: number[] = [];
  for (const ms of [10, 20, 30]) world.at(ms, () => seen.push(world.nowMs));
  world.runUntil(25);
  t.deepEqual(seen, [10, 20]);
  t.is(world.nowMs, 25);
  world.runUntil(100, () => true);
  t.is(world.nowMs, 30);
  t.throws(() => world.at(5, () => {}), { message: /before now/ });
});

test("world rng: derived streams are independent of each other's use", (t) => {
  const a = new WorldRng(9, "root");
  const first = a.derive("x").next();
  a.derive("y").next();
  a.next();
  t.is(a.derive("x").next(), first);
  t.not(new WorldRng(9, "root").derive("y").next(), first);
  t.not(new WorldRng(10, "root").derive("x").next(), first);
});
