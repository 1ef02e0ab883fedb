import test from "ava";
import { defaultLanConfig, defaultWanConfig, validateConfig } from "../../src/core/gossip/config.ts";
import { GossipNode } from "../../src/core/gossip/node.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";

test("config: LAN defaults are memberlist's DefaultLANConfig", (t) => {
  const c = defaultLanConfig();
  t.deepEqual(
    [c.probeIntervalMs, c.probeTimeoutMs, c.suspicionMult, c.gossipIntervalMs, c.gossipNodes, c.pushPullIntervalMs, c.indirectChecks, c.retransmitMult],
    [1_000, 500, 4, 200, 3, 30_000, 3, 4],
  );
  validateConfig(c);
  t.pass();
});

test("config: WAN defaults are memberlist's DefaultWANConfig, the rest as LAN", (t) => {
  const c = defaultWanConfig();
  t.deepEqual(
    [c.probeIntervalMs, c.probeTimeoutMs, c.suspicionMult, c.gossipIntervalMs, c.gossipNodes, c.pushPullIntervalMs, c.tcpTimeoutMs, c.gossipToTheDeadMs],
    [5_000, 3_000, 6, 500, 4, 60_000, 30_000, 60_000],
  );
  t.is(c.indirectChecks, defaultLanConfig().indirectChecks);
  validateConfig(c);
  t.pass();
});

test("config: a bad value is refused once, at construction, with a plain message naming it", (t) => {
  const self = { name: "a", addr: new Uint8Array([127, 0, 0, 1]), port: 7946, tags: {} };
  const bad = { ...defaultLanConfig(), probeTimeoutMs: 2_000 };
  const error = t.throws(() => new GossipNode(bad, self, mulberry32(1)));
  t.regex(error!.message, /probeTimeoutMs 2000 must be < probeIntervalMs 1000/);
  t.throws(() => validateConfig({ ...defaultLanConfig(), tickMs: 0 }), { message: /tickMs must be a positive integer/ });
  t.throws(() => validateConfig({ ...defaultLanConfig(), gossipIntervalMs: 10 }), { message: /gossipIntervalMs 10 is shorter than one tick/ });
  t.throws(() => new GossipNode(defaultLanConfig(), { ...self, addr: new Uint8Array(3) }, mulberry32(1)), { message: /address of 3 bytes/ });
});
