import test from "ava";
import { isolateLinks, majorityRingLinks, randomHalves, SimNetwork, splitLinks } from "../../sim/network.ts";
import { WorldRng } from "../../sim/world/rng.ts";
import { World } from "../../sim/world/world.ts";

const nodes = ["n1", "n2", "n3", "n4", "n5"];

/** A world and network of five endpoints that log what they receive as "from>to:payload". */
function setup(seed = 1, profile = { delayMinMs: 5, delayMaxMs: 5 }) {
  const world = new World(seed);
  const network = new SimNetwork<string>(world, new WorldRng(seed, "net"), profile, (m) => m);
  const received: string[] = [];
  const endpoints = new Map(nodes.map((n) => {
    const endpoint = network.open(n);
    endpoint.onMessage((from, message) => received.push(`${from}>${n}:${message}`));
    return [n, endpoint] as const;
  }));
  return { world, network, received, endpoints };
}

test("network: a message arrives after the link delay, not before", (t) => {
  const { world, endpoints, received } = setup();
  endpoints.get("n1")!.send("n2", "hello");
  world.runUntil(4);
  t.deepEqual(received, []);
  world.runUntil(5);
  t.deepEqual(received, ["n1>n2:hello"]);
});

test("network: partition 1-4 (isolate n1, symmetric) cuts both directions, heal restores", (t) => {
  const { world, network, endpoints, received } = setup();
  network.partition("p", isolateLinks("n1", nodes));
  endpoints.get("n1")!.send("n2", "out");
  endpoints.get("n3")!.send("n1", "in");
  endpoints.get("n3")!.send("n4", "others");
  world.runUntil(100);
  t.deepEqual(received, ["n3>n4:others"]);
  t.is(network.stats.droppedPartition, 2);
  network.heal("p");
  endpoints.get("n1")!.send("n2", "again");
  world.runUntil(200);
  t.deepEqual(received, ["n3>n4:others", "n1>n2:again"]);
});

test("network: a one-way link drops one direction only", (t) => {
  const { world, network, endpoints, received } = setup();
  network.partition("oneway", [["n1", "n2"]]);
  endpoints.get("n1")!.send("n2", "lost");
  endpoints.get("n2")!.send("n1", "kept");
  world.runUntil(100);
  t.deepEqual(received, ["n2>n1:kept"]);
});

test("network: a partition that starts while a message is in flight cuts it", (t) => {
  const { world, network, endpoints, received } = setup();
  endpoints.get("n1")!.send("n2", "in-flight");
  world.runUntil(2);
  network.partition("p", splitLinks(["n1"], ["n2"]));
  world.runUntil(100);
  t.deepEqual(received, []);
});

test("network: overlapping partitions block until the last one heals", (t) => {
  const { world, network, endpoints, received } = setup();
  network.partition("a", isolateLinks("n1", nodes));
  network.partition("b", splitLinks(["n1", "n2"], ["n3", "n4", "n5"]));
  network.heal("a");
  endpoints.get("n1")!.send("n3", "blocked by b");
  endpoints.get("n1")!.send("n2", "open");
  world.runUntil(100);
  t.deepEqual(received, ["n1>n2:open"]);
});

test("network: loss 1 drops everything, duplication 1 delivers twice", (t) => {
  const { world, network, endpoints, received } = setup();
  network.impair("loss", { lossRate: 1 });
  endpoints.get("n1")!.send("n2", "a");
  world.runUntil(100);
  t.deepEqual(received, []);
  network.restore("loss");
  network.impair("dup", { dupRate: 1 });
  endpoints.get("n1")!.send("n2", "b");
  world.runUntil(200);
  t.deepEqual(received, ["n1>n2:b", "n1>n2:b"]);
  t.is(network.stats.duplicated, 1);
});

test("network: without reordering a fixed delay keeps order; with it, messages overtake", (t) => {
  const { world, network, endpoints, received } = setup();
  for (let i = 0; i < 50; i++) endpoints.get("n1")!.send("n2", String(i));
  world.runUntil(1_000);
  t.deepEqual(received.map((r) => Number(r.split(":")[1])), Array.from({ length: 50 }, (_, i) => i));
  received.length = 0;
  network.impair("r", { reorderRate: 0.5, tailMeanMs: 50 });
  for (let i = 0; i < 50; i++) endpoints.get("n1")!.send("n2", String(i));
  world.runUntil(100_000);
  const order = received.map((r) => Number(r.split(":")[1]));
  t.is(order.length, 50);
  t.notDeepEqual(order, [...order].sort((a, b) => a - b));
});

test("network: a closed endpoint receives nothing; its replacement does", (t) => {
  const { world, network, endpoints, received } = setup();
  endpoints.get("n2")!.close();
  endpoints.get("n1")!.send("n2", "to the dead");
  world.runUntil(100);
  t.deepEqual(received, []);
  t.is(network.stats.droppedDown, 1);
  const reborn = network.open("n2");
  reborn.onMessage((from, m) => received.push(`${from}>n2':${m}`));
  endpoints.get("n1")!.send("n2", "to the living");
  world.runUntil(200);
  t.deepEqual(received, ["n1>n2':to the living"]);
});

test("network: random halves are two non-empty groups covering every node", (t) => {
  const rng = new WorldRng(7, "halves");
  for (let i = 0; i < 100; i++) {
    const [a, b] = randomHalves(rng, nodes);
    t.true(a.length > 0 && b.length > 0);
    t.deepEqual([...a, ...b].sort(), nodes);
  }
});

test("network: a majority ring gives every node a majority, but not the same majority", (t) => {
  for (const size of [3, 4, 5]) {
    const group = nodes.slice(0, size);
    const blocked = new Set(majorityRingLinks(new WorldRng(size, "ring"), group).map(([f, to]) => `${f}>${to}`));
    const views = group.map((n) => group.filter((m) => m === n || !blocked.has(`${n}>${m}`)).sort().join(","));
    for (const view of views) t.true(view.split(",").length > size / 2, `size ${size}: view ${view} is not a majority`);
    t.true(new Set(views).size > 1, `size ${size}: every node sees the same majority`);
  }
});

test("network: the same seed makes the same delivery decisions", (t) => {
  const run = (seed: number): string[] => {
    const { world, network, endpoints, received } = setup(seed, { delayMinMs: 1, delayMaxMs: 30 });
    network.impair("mix", { lossRate: 0.3, dupRate: 0.2, reorderRate: 0.3, tailMeanMs: 40 });
    for (let i = 0; i < 100; i++) endpoints.get(nodes[i % 5]!)!.send(nodes[(i + 1) % 5]!, String(i));
    world.runUntil(100_000);
    return received;
  };
  t.deepEqual(run(3), run(3));
  t.notDeepEqual(run(3), run(4));
});

test("network: a delivery tap that restarts the receiver hands the message to its new endpoint; one that leaves it down drops it", (t) => {
  const { world, network, endpoints, received } = setup();
  network.deliveryTap = (_from, to, message) => {
    endpoints.get(to)!.close();
    if (message === "down") return;
    const fresh = network.open(to);
    fresh.onMessage((from, m) => received.push(`${from}>${to}(restarted):${m}`));
  };
  endpoints.get("n1")!.send("n2", "vote");
  world.runUntil(10);
  t.deepEqual(received, ["n1>n2(restarted):vote"]);
  endpoints.get("n1")!.send("n3", "down");
  world.runUntil(20);
  t.deepEqual(received, ["n1>n2(restarted):vote"]);
  t.is(network.stats.droppedDown, 1);
});

test("network: the delivery tap sees only messages that will land (not those cut in flight)", (t) => {
  const { world, network, endpoints } = setup();
  const tapped: string[] = [];
  network.deliveryTap = (from, to, message) => tapped.push(`${from}>${to}:${message}`);
  endpoints.get("n1")!.send("n2", "cut");
  endpoints.get("n1")!.send("n3", "kept");
  world.runUntil(2);
  network.partition("p", splitLinks(["n1"], ["n2"]));
  world.runUntil(100);
  t.deepEqual(tapped, ["n1>n3:kept"]);
});

test("network: a latency cap shortens the base delay while it is on, and lifting it restores the drawn delays", (t) => {
  const { world, network, endpoints, received } = setup(1, { delayMinMs: 40, delayMaxMs: 40 });
  network.capLatency("race", 1);
  endpoints.get("n1")!.send("n2", "fast");
  world.runUntil(1);
  t.deepEqual(received, ["n1>n2:fast"]);
  network.uncapLatency("race");
  endpoints.get("n1")!.send("n2", "slow");
  world.runUntil(40);
  t.deepEqual(received, ["n1>n2:fast"]);
  world.runUntil(41);
  t.deepEqual(received, ["n1>n2:fast", "n1>n2:slow"]);
  t.throws(() => network.uncapLatency("race"), { message: /latency cap race is not active/ });
});

test("network: calm between nodes means no cut link among them and no added delay", (t) => {
  const { network } = setup();
  t.true(network.calmBetween(nodes));
  network.partition("p", isolateLinks("n5", nodes));
  t.false(network.calmBetween(nodes));
  t.true(network.calmBetween(["n1", "n2", "n3"]));
  network.impair("d", { extraDelayMs: 100 });
  t.false(network.calmBetween(["n1", "n2", "n3"]));
  network.restore("d");
  network.impair("l", { lossRate: 0.2 });
  t.true(network.calmBetween(["n1", "n2", "n3"]));
});
