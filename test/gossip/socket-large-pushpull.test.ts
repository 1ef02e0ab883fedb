/**
 * A large push/pull over a real socket: member a receives a 10 MB push/pull (100,000 dead-member
 * states, the shape of issue 15's stall) while member b keeps probing it. Decoding is incremental,
 * so a keeps answering pings: b never suspects it. Then the limits: a push/pull declaring more
 * nodes than allowed is refused, and the 129th concurrent push/pull is closed unread.
 */
import test from "ava";
import net from "node:net";
import { defaultLanConfig, type GossipConfig } from "../../src/core/gossip/config.ts";
import type { PushNodeState } from "../../src/core/gossip/messages.ts";
import type { GossipNode } from "../../src/core/gossip/node.ts";
import { encodeTags } from "../../src/core/gossip/wire/serf-codec.ts";
import { encodeStream } from "../../src/core/gossip/wire/stream.ts";
import { StreamDecoder } from "../../src/core/gossip/wire/stream-decoder.ts";
import type { GossipEndpoint } from "../../src/transports/gossip-endpoint.ts";
import { startGossipMember } from "../../src/transports/gossip-member.ts";
import { splitHostPort } from "../../src/transports/gossip-sockets.ts";
import { eventually } from "./serf-agent.ts";

const config: GossipConfig = { ...defaultLanConfig(), probeIntervalMs: 500, probeTimeoutMs: 250, gossipIntervalMs: 100, pushPullIntervalMs: 60_000 };

function deadNode(i: number): PushNodeState {
  return {
    Name: `gone-${i.toString().padStart(6, "0")}`, Addr: Uint8Array.of(10, 9, (i >> 8) & 255, i & 255), Port: 8301,
    Meta: encodeTags({ role: "node", dc: "dc1", id: `00000000-0000-0000-0000-${i.toString().padStart(12, "0")}` }),
    Incarnation: 3, State: 2, Vsn: [1, 5, 2, 2, 5, 4],
  };
}

/** Writes `bytes` on a new stream to `addr` and resolves with everything the peer sends back. */
function exchange(addr: string, bytes: Uint8Array): Promise<Uint8Array> {
  const { host, port } = splitHostPort(addr);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port }, () => socket.write(bytes));
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("close", () => resolve(Uint8Array.from(Buffer.concat(chunks))));
    socket.on("error", reject);
  });
}

async function pair(t: { teardown(fn: () => Promise<void>): void }): Promise<[GossipEndpoint, GossipEndpoint]> {
  const a = await startGossipMember({ name: "a", bind: "127.0.0.1:0", config, seed: 1 });
  const b = await startGossipMember({ name: "b", bind: "127.0.0.1:0", config, seed: 2 });
  t.teardown(async () => {
    await a.kill();
    await b.kill();
  });
  await b.joinAndWait([a.localAddr]);
  await eventually(() => (a.members().length === 2 && b.members().length === 2 ? true : undefined), "a and b to know each other", 10_000);
  return [a, b];
}

test.serial("a member receiving a 10 MB push/pull keeps answering pings: its peer never suspects it", async (t) => {
  const [a, b] = await pair(t);
  const big = encodeStream({ type: "pushPull", Join: false, Nodes: Array.from({ length: 100_000 }, (_, i) => deadNode(i)), UserState: null });
  t.true(big.length > 10_000_000, `push/pull of ${big.length} bytes`);

  const bCore = b.core as GossipNode;
  const statesOfA = new Set<string>();
  const watch = setInterval(() => statesOfA.add(bCore.memberState("a")?.state ?? "unknown"), 20);
  const probesBefore = bCore.counters.tcpFallbackSaves;
  const startedMs = performance.now();
  const reply = await exchange(a.localAddr, big);
  const exchangeMs = performance.now() - startedMs;
  // Keep watching for three more probe periods: a suspicion raised late would show here.
  await new Promise((r) => setTimeout(r, 3 * config.probeIntervalMs));
  clearInterval(watch);

  const answer = new StreamDecoder().push(reply);
  t.is(answer?.msg?.type, "pushPull", "a answered the push/pull with its own state");
  t.deepEqual([...statesOfA], ["alive"], `b saw a as ${[...statesOfA].join(", ")} during a ${exchangeMs.toFixed(0)} ms exchange`);
  t.is(bCore.counters.tcpFallbackSaves, probesBefore, "no probe of a needed the TCP fallback");
  t.is(a.members().length, 2, "dead members a never knew are not added");
  t.log(`10 MB push/pull answered in ${exchangeMs.toFixed(0)} ms; b saw a alive throughout`);
});

test.serial("a push/pull declaring more nodes than the limit is refused at its header, and counted", async (t) => {
  const a = await startGossipMember({ name: "a", bind: "127.0.0.1:0", config, seed: 3, streamLimits: { nodesMax: 10 } });
  t.teardown(() => a.kill());
  const bytes = encodeStream({ type: "pushPull", Join: false, Nodes: Array.from({ length: 11 }, (_, i) => deadNode(i)), UserState: null });
  const reply = await exchange(a.localAddr, bytes);
  t.is(reply.length, 0, "closed without an answer");
  t.is(a.counters.dropped.oversized, 1);
});

test.serial("push/pulls beyond the concurrency cap are closed unread; the ones within it are answered", async (t) => {
  const cap = 4;
  const a = await startGossipMember({ name: "a", bind: "127.0.0.1:0", config, seed: 4, pushPullConcurrencyMax: cap });
  t.teardown(() => a.kill());
  // Streams that send only the push/pull's first bytes hold their slot until they finish or time out.
  const whole = encodeStream({ type: "pushPull", Join: false, Nodes: [deadNode(1)], UserState: null });
  const { host, port } = splitHostPort(a.localAddr);
  const held = Array.from({ length: cap }, () => net.connect({ host, port }, function (this: net.Socket) {
    this.write(whole.subarray(0, 8));
  }));
  t.teardown(() => held.forEach((s) => s.destroy()));
  await eventually(() => (a.counters.streamsIn === cap ? true : undefined), `${cap} streams accepted`, 30_000);
  await new Promise((r) => setTimeout(r, 100));
  const refused = await exchange(a.localAddr, whole);
  t.is(refused.length, 0, "the push/pull over the cap gets no answer");
  t.is(a.counters.pushPullsRefused, 1);
  held[0]!.write(whole.subarray(8));
  const answered = await new Promise<number>((resolve) => {
    let bytes = 0;
    held[0]!.on("data", (d: Buffer) => { bytes += d.length; });
    held[0]!.on("close", () => resolve(bytes));
  });
  t.true(answered > 0, "a push/pull within the cap is answered");
  const again = await exchange(a.localAddr, whole);
  t.true(again.length > 0, "a slot freed by a finished push/pull is used again");
});
