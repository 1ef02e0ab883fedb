/**
 * The gossip core on real sockets: four members on loopback join through one of them and converge;
 * one is killed (its sockets closed, no leave) and the others mark it failed; one leaves gracefully
 * and the others mark it left, never failed. Timings are a LAN configuration sped up 5x so the
 * test takes seconds; the protocol is unchanged.
 */
import test from "ava";
import { defaultLanConfig, type GossipConfig } from "../../src/core/gossip/config.ts";
import type { GossipEvent, MemberStatus } from "../../src/core/gossip/events.ts";
import type { GossipEndpoint } from "../../src/transports/gossip-endpoint.ts";
import { startGossipMember } from "../../src/transports/gossip-member.ts";
import { eventually } from "./serf-agent.ts";

const fastLan: GossipConfig = {
  ...defaultLanConfig(),
  tickMs: 10,
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  gossipIntervalMs: 40,
  suspicionMult: 3,
  pushPullIntervalMs: 5_000,
  tcpTimeoutMs: 2_000,
  broadcastTimeoutMs: 1_000,
};

const statusAt = (at: GossipEndpoint, name: string): MemberStatus | undefined => at.members().find((m) => m.name === name)?.status;
const allSee = (observers: GossipEndpoint[], name: string, status: MemberStatus): true | undefined =>
  observers.every((o) => statusAt(o, name) === status) ? true : undefined;

test("four members on loopback: join, a killed member is failed, a leaving member is left", async (t) => {
  const names = ["s1", "s2", "s3", "s4"];
  const members = await Promise.all(names.map((name, i) =>
    startGossipMember({ name, bind: "127.0.0.1:0", config: fastLan, seed: 100 + i, crc: i % 2 === 0, compress: i === 1 })));
  t.teardown(async () => {
    for (const m of members) await m.kill();
  });
  const [s1, s2, s3, s4] = members as [GossipEndpoint, GossipEndpoint, GossipEndpoint, GossipEndpoint];
  const events: GossipEvent[] = [];
  s1.onEvent((e) => events.push(e));

  await Promise.all([s2, s3, s4].map((m) => m.joinAndWait([s1.localAddr])));
  for (const name of names) await eventually(() => allSee(members, name, "alive"), `everyone to see ${name} alive`, 10_000);

  await s4.kill();
  await eventually(() => allSee([s1, s2, s3], "s4", "failed"), "s4 failed everywhere", 15_000);
  t.true(events.some((e) => e.type === "member-failed" && e.member.name === "s4"));

  await s3.leave();
  await eventually(() => allSee([s1, s2], "s3", "left"), "s3 left everywhere", 10_000);
  t.false(events.some((e) => e.type === "member-failed" && e.member.name === "s3"), "a graceful leave is never seen as a failure");
  t.true(events.some((e) => e.type === "member-leave" && e.member.name === "s3"));
  t.is(statusAt(s2, "s1"), "alive");
  t.is(Object.values(s1.counters.dropped).reduce((a, b) => a + (b ?? 0), 0), 0, "no malformed packets between Praetor members");
});
