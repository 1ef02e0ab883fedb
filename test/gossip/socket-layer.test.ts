/**
 * The socket layer alone, on loopback: UDP packets and TCP streams carry decoded messages between
 * two endpoints, a stream's reply goes back on the same connection, and malformed input is counted
 * and dropped without disturbing anything else.
 */
import test from "ava";
import dgram from "node:dgram";
import net from "node:net";
import type { MemberlistMessage } from "../../src/core/gossip/messages.ts";
import { BoundGossipSockets } from "../../src/transports/gossip-bind.ts";
import { ipBytes } from "../../src/transports/gossip-member.ts";
import { GossipSockets, type GossipVia } from "../../src/transports/gossip-sockets.ts";

type Received = { from: string; msg: MemberlistMessage; via: GossipVia };

async function pair(t: { teardown(fn: () => Promise<void>): void }): Promise<[GossipSockets, GossipSockets, Received[], Received[]]> {
  const a = await GossipSockets.open({ bindHost: "127.0.0.1", bindPort: 0, crc: true, compress: true });
  const b = await GossipSockets.open({ bindHost: "127.0.0.1", bindPort: 0 });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const atA: Received[] = [];
  const atB: Received[] = [];
  a.onMessage((from, msg, via) => atA.push({ from, msg, via }));
  b.onMessage((from, msg, via) => atB.push({ from, msg, via }));
  return [a, b, atA, atB];
}

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("udp: a ping from a (CRC, compressed) arrives at b with a's address; b's ack comes back", async (t) => {
  const [a, b, atA, atB] = await pair(t);
  a.send(b.localAddr, [{ type: "ping", SeqNo: 1, Node: "b" }, { type: "suspect", Incarnation: 2, Node: "c", From: "a" }], "udp");
  await until(() => atB.length === 2, "ping and suspect at b");
  t.deepEqual(atB.map((r) => [r.from, r.msg.type, r.via]), [[a.localAddr, "ping", "udp"], [a.localAddr, "suspect", "udp"]]);
  b.send(atB[0]!.from, [{ type: "ackResp", SeqNo: 1, Payload: Uint8Array.of(1, 2) }], "udp");
  await until(() => atA.length === 1, "ack at a");
  t.deepEqual(atA[0]!.msg, { type: "ackResp", SeqNo: 1, Payload: Uint8Array.of(1, 2) });
});

test("tcp: a push/pull is answered on the same stream and arrives as tcp-reply from the dialled address", async (t) => {
  const [a, b, atA, atB] = await pair(t);
  const state = (join: boolean): MemberlistMessage => ({ type: "pushPull", Join: join, Nodes: [], UserState: null });
  a.send(b.localAddr, [state(true)], "tcp");
  await until(() => atB.length === 1, "push/pull at b");
  t.is(atB[0]!.via, "tcp");
  b.send(atB[0]!.from, [state(false)], "tcp-reply");
  await until(() => atA.length === 1, "reply at a");
  t.deepEqual(atA[0], { from: b.localAddr, msg: state(false), via: "tcp-reply" });
  t.is(a.counters.streamsOut, 1);
  t.is(b.counters.streamsIn, 1);
});

test("tcp: a reply to a stream that is gone, and a message to nobody, are counted as send failures", async (t) => {
  const [a] = await pair(t);
  a.send("127.0.0.1:9", [{ type: "ping", SeqNo: 1, Node: "x" }], "tcp-reply");
  t.is(a.counters.sendFailures, 1);
  a.send("not-an-address", [{ type: "ping", SeqNo: 1, Node: "x" }], "udp");
  t.is(a.counters.sendFailures, 2);
});

test("malformed udp packets and tcp streams are counted by reason and dropped; good ones still flow", async (t) => {
  const [a, b, , atB] = await pair(t);
  const raw = dgram.createSocket("udp4");
  t.teardown(() => raw.close());
  const port = Number(b.localAddr.split(":")[1]);
  for (const junk of [Uint8Array.of(99), Uint8Array.of(12, 0, 0, 0, 0, 1), Uint8Array.of(7, 2, 0)]) raw.send(junk, port, "127.0.0.1");
  const conn = net.connect(port, "127.0.0.1", () => conn.end(Uint8Array.of(0, 0xc1)));
  await until(() => Object.values(b.counters.dropped).reduce((x, y) => x + (y ?? 0), 0) === 4, "four drops");
  t.deepEqual(b.counters.dropped, { "unknown-type": 1, "bad-crc": 1, truncated: 1, "bad-msgpack": 1 });
  a.send(b.localAddr, [{ type: "nackResp", SeqNo: 5 }], "udp");
  await until(() => atB.length === 1, "a good packet after the junk");
  t.deepEqual(atB[0]!.msg, { type: "nackResp", SeqNo: 5 });
});

test("bound early: a packet and a stream that arrive before the hand-over are delivered after it", async (t) => {
  const bound = await BoundGossipSockets.bind("127.0.0.1", 0);
  const sender = await GossipSockets.open({ bindHost: "127.0.0.1", bindPort: 0 });
  const target = `127.0.0.1:${bound.port}`;
  sender.send(target, [{ type: "ping", SeqNo: 3, Node: "late" }], "udp");
  sender.send(target, [{ type: "pushPull", Join: true, Nodes: [], UserState: null }], "tcp");
  await new Promise((r) => setTimeout(r, 200));
  const late = await GossipSockets.open({ bindHost: "ignored", bindPort: 0, bound });
  t.teardown(async () => {
    await sender.close();
    await late.close();
  });
  const got: Received[] = [];
  late.onMessage((from, msg, via) => got.push({ from, msg, via }));
  await until(() => got.length === 2, "both held messages");
  t.deepEqual(got.map((r) => [r.msg.type, r.via]).sort(), [["ping", "udp"], ["pushPull", "tcp"]]);
  t.is(late.localAddr, target);
});

test("ipBytes: the raw address bytes memberlist carries, for IPv4 and IPv6", (t) => {
  t.deepEqual(ipBytes("127.0.0.2"), Uint8Array.of(127, 0, 0, 2));
  t.deepEqual(ipBytes("::1"), Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
  t.deepEqual(ipBytes("fe80::1:2"), Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2));
  t.deepEqual(ipBytes("::ffff:10.0.0.1"), Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1));
  t.throws(() => ipBytes("localhost"), { message: /not an IP address/ });
});
