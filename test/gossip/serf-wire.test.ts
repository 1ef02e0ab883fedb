/**
 * The codec against a live serf agent, with no gossip core in between: a hand-driven fake member
 * pings serf and decodes its ack (with serf's coordinate), joins it with a TCP push/pull and reads
 * serf's state back, then answers serf's probes so that `serf members` shows it alive with its tags.
 */
import test from "ava";
import type { MemberlistMessage } from "../../src/core/gossip/messages.ts";
import { decodePingPayload, decodeTags, encodePingPayload, encodeTags } from "../../src/core/gossip/wire/serf-codec.ts";
import { GossipSockets } from "../../src/transports/gossip-sockets.ts";
import { SerfAgent, eventually, serfInstalled, serfMissingMessage } from "./serf-agent.ts";

const serfBind = "127.0.0.1:17846";
const serfRpc = "127.0.0.1:17843";
const fakeName = "wire-fake";

test("a hand-driven member speaks memberlist/Serf with a real serf agent", async (t) => {
  if (!serfInstalled()) return t.fail(serfMissingMessage);
  const serf = await SerfAgent.start({ node: "serf-w", bind: serfBind, rpc: serfRpc, tags: { role: "web", dc: "dc9" } });
  const sockets = await GossipSockets.open({ bindHost: "127.0.0.1", bindPort: 0, crc: true });
  t.teardown(async () => {
    serf.kill();
    await sockets.close();
  });
  const port = Number(sockets.localAddr.split(":")[1]);
  const received: MemberlistMessage[] = [];
  const coordinate = { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 };
  sockets.onMessage((from, msg, via) => {
    received.push(msg);
    if (msg.type === "ping") sockets.send(from, [{ type: "ackResp", SeqNo: msg.SeqNo, Payload: encodePingPayload(coordinate) }], via === "udp" ? "udp" : "tcp-reply");
  });

  sockets.send(serfBind, [{ type: "ping", SeqNo: 41, Node: "serf-w" }], "udp");
  const ack = await eventually(() => received.find((m) => m.type === "ackResp"), "serf's ack", 5000);
  t.is(ack.SeqNo, 41);
  const serfCoordinate = decodePingPayload(ack.Payload);
  t.is(serfCoordinate?.Vec.length, 8);

  sockets.send(serfBind, [{
    type: "pushPull", Join: true,
    Nodes: [{ Name: fakeName, Addr: Uint8Array.of(127, 0, 0, 1), Port: port, Meta: encodeTags({ role: "fake", dc: "dc9" }), Incarnation: 1, State: 0, Vsn: [1, 5, 2, 2, 5, 4] }],
    UserState: { type: "pushPull", LTime: 1, StatusLTimes: { [fakeName]: 1 }, LeftMembers: [], EventLTime: 1, Events: [], QueryLTime: 1 },
  }], "tcp");
  const reply = await eventually(() => received.find((m) => m.type === "pushPull"), "serf's push/pull reply", 5000);
  const serfNode = reply.Nodes.find((n) => n.Name === "serf-w");
  t.deepEqual(serfNode && decodeTags(serfNode.Meta), { role: "web", dc: "dc9" });
  t.is(reply.UserState?.type, "pushPull");

  const seen = await eventually(async () => (await serf.members()).find((m) => m.name === fakeName && m.status === "alive"), "serf to list the fake member alive", 5000);
  t.deepEqual(seen.tags, { role: "fake", dc: "dc9" });
  await eventually(() => received.find((m) => m.type === "ping" && m.Node === fakeName), "serf to probe the fake member", 5000);
  const rtt = await serf.run("rtt", "serf-w", fakeName);
  t.regex(rtt, /[0-9.]+ ms/);
});
