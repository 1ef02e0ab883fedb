import test from "ava";
import { defaultVivaldiConfig, distanceSeconds, VivaldiClient } from "../../src/core/gossip/vivaldi.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";

test("vivaldi: coordinates converge on a synthetic RTT matrix (points on a plane plus access links)", (t) => {
  const rng = mulberry32(42);
  const n = 12;
  // Ground truth: members scattered over a 100 ms x 100 ms plane, each with a 1-5 ms access link.
  const pos = Array.from({ length: n }, () => [rng.next() * 0.1, rng.next() * 0.1] as const);
  const access = Array.from({ length: n }, () => 0.001 + rng.next() * 0.004);
  const rttSeconds = (i: number, j: number): number => Math.hypot(pos[i]![0] - pos[j]![0], pos[i]![1] - pos[j]![1]) + access[i]! + access[j]!;
  const clients = Array.from({ length: n }, (_, i) => new VivaldiClient(defaultVivaldiConfig(), mulberry32(100 + i)));
  for (let round = 0; round < 2_000; round++) {
    const i = Math.floor(rng.next() * n);
    let j = Math.floor(rng.next() * n);
    if (j === i) j = (j + 1) % n;
    t.true(clients[i]!.update(`m${j}`, clients[j]!.coordinate, rttSeconds(i, j) * 1000));
  }
  let errorSum = 0;
  let pairs = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      errorSum += Math.abs(distanceSeconds(clients[i]!.coordinate, clients[j]!.coordinate) - rttSeconds(i, j)) / rttSeconds(i, j);
      pairs++;
    }
  }
  const meanRelativeError = errorSum / pairs;
  t.true(meanRelativeError < 0.15, `mean relative error ${meanRelativeError.toFixed(3)}`);
  for (const c of clients) t.true(c.coordinate.Error < 0.5, `error estimate ${c.coordinate.Error} fell from 1.5`);
});

test("vivaldi: bad samples are refused, not applied", (t) => {
  const c = new VivaldiClient(defaultVivaldiConfig(), mulberry32(1));
  const good = c.coordinate;
  t.false(c.update("x", { ...good, Vec: [1, 2] }, 10), "wrong dimensionality");
  t.false(c.update("x", { ...good, Error: Number.NaN }, 10), "not finite");
  t.false(c.update("x", good, -1), "negative RTT");
  t.false(c.update("x", good, 20_000), "RTT above 10 s");
  t.deepEqual(c.coordinate, good);
});

test("vivaldi: two members on top of each other are pushed apart in a direction from the injected generator", (t) => {
  const a = new VivaldiClient(defaultVivaldiConfig(), mulberry32(7));
  const b = new VivaldiClient(defaultVivaldiConfig(), mulberry32(7));
  a.update("b", b.coordinate, 20);
  const moved = Math.hypot(...a.coordinate.Vec);
  t.true(moved > 0, "moved off the origin");
  const again = new VivaldiClient(defaultVivaldiConfig(), mulberry32(7));
  again.update("b", b.coordinate, 20);
  t.deepEqual(again.coordinate, a.coordinate, "same seed, same coordinate");
});
