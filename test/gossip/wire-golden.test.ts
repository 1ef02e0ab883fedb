/**
 * Golden bytes: packets a real serf agent (Debian's serf 0.8.2) sent to a fake member, captured by
 * fixtures/capture-serf.ts. Each one decodes to the record Serf meant, and re-encoding that record
 * (with the same framing: CRC, compound, LZW compression) gives back the very same bytes.
 */
import test from "ava";
import { readFileSync } from "node:fs";
import type { Alive, MemberlistMessage } from "../../src/core/gossip/messages.ts";
import { type PacketMessage, decodeMessage, encodeMessage } from "../../src/core/gossip/wire/memberlist-codec.ts";
import { compound, compressMessage, decodePacket, decompressBody, encodePackets } from "../../src/core/gossip/wire/packet.ts";
import { decodePingPayload, decodeTags } from "../../src/core/gossip/wire/serf-codec.ts";
import { decodeStream, encodeStream } from "../../src/core/gossip/wire/stream.ts";

const fixtures = JSON.parse(readFileSync(new URL("./fixtures/serf-0.8.2.json", import.meta.url), "utf8")) as {
  packets: Record<string, { via: "udp" | "tcp"; hex: string }>;
};
const packet = (name: string): Uint8Array => Uint8Array.from(Buffer.from(fixtures.packets[name]!.hex, "hex"));
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const localhost = bytes(127, 0, 0, 1);
const s1Alive: Alive = {
  type: "alive", Incarnation: 1, Node: "s1", Addr: localhost, Port: 17946,
  Meta: Uint8Array.from(Buffer.from("ff82a4726f6c65a3776562a26463a3646339", "hex")), Vsn: [1, 5, 2, 2, 5, 5],
};
const capAlive: Alive = {
  type: "alive", Incarnation: 1, Node: "cap", Addr: localhost, Port: 17999,
  Meta: Uint8Array.from(Buffer.from("ff81a4726f6c65a3636170", "hex")), Vsn: [1, 5, 2, 2, 5, 4],
};
const pingFromS1 = (seqNo: number): PacketMessage => ({
  type: "ping", SeqNo: seqNo, Node: "cap", SourceAddr: localhost, SourcePort: 17946, SourceNode: "s1",
});

const udpGolden: [name: string, expected: PacketMessage[]][] = [
  ["alive-crc", [capAlive]],
  ["alive-compound-crc", [capAlive, s1Alive]],
  ["ping", [pingFromS1(2)]],
  ["user-event-crc", [{ type: "user", Msg: { type: "userEvent", LTime: 1, Name: "deploy", Payload: text("v42"), CC: true } }]],
  ["ping-and-user-event-compound", [
    pingFromS1(1), { type: "user", Msg: { type: "userEvent", LTime: 1, Name: "deploy", Payload: text("v42"), CC: true } },
  ]],
  ["serf-leave-crc", [{ type: "user", Msg: { type: "leave", LTime: 2, Node: "s1", Prune: false } }]],
  ["dead-leave-crc", [{ type: "dead", Incarnation: 1, Node: "s1", From: "s1" }]],
  ["ping-and-suspect-compound-crc", [pingFromS1(4), { type: "suspect", Incarnation: 1, Node: "cap", From: "s1" }]],
];

for (const [name, expected] of udpGolden) {
  test(`golden ${name}: decodes to Serf's record and re-encodes to the same bytes`, (t) => {
    const decoded = decodePacket(packet(name));
    t.deepEqual(decoded.partErrors, []);
    t.deepEqual(decoded.msgs, expected);
    const [again, ...more] = encodePackets(expected, { crc: name.endsWith("-crc") });
    t.is(more.length, 0);
    t.is(Buffer.from(again!).toString("hex"), fixtures.packets[name]!.hex);
  });
}

test("golden ack: a compressed compound of ack (with Serf's coordinate) and alive, LZW byte for byte", (t) => {
  const raw = packet("ack-with-coordinate-and-alive-compressed");
  const decoded = decodePacket(raw);
  t.is(decoded.msgs.length, 2);
  const [ack, alive] = decoded.msgs;
  t.is(ack!.type, "ackResp");
  t.deepEqual(alive, s1Alive);
  if (ack!.type !== "ackResp") return;
  t.is(ack.SeqNo, 7);
  t.deepEqual(decodePingPayload(ack.Payload), { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 });
  const inner = compound(decoded.msgs.map((m) => encodeMessage(m)));
  t.deepEqual(decompressBody(raw.subarray(1), 1 << 20), inner);
  t.deepEqual(compressMessage(inner), raw);
  t.deepEqual(encodePackets(decoded.msgs, { compress: true }), [raw]);
});

test("golden push/pull: serf's compressed TCP reply holds its node state, tags and Serf state", (t) => {
  const raw = packet("pushpull-join-reply-compressed-tcp");
  const found = decodeStream(raw);
  if (found === null) return t.fail("stream incomplete");
  t.is(found.byteLength, raw.length);
  const msg = found.msg;
  if (msg?.type !== "pushPull") return t.fail(`got ${msg?.type}`);
  t.true(msg.Join);
  t.deepEqual(msg.Nodes, [{ Name: "s1", Addr: localhost, Port: 17946, Meta: s1Alive.Meta, Incarnation: 1, State: 0, Vsn: [1, 5, 2, 2, 5, 5] }]);
  t.deepEqual(decodeTags(msg.Nodes[0]!.Meta), { role: "web", dc: "dc9" });
  const state = msg.UserState;
  if (state?.type !== "pushPull") return t.fail("no Serf push/pull state");
  t.deepEqual(state.StatusLTimes, { s1: 0 });
  t.is(state.Events.length, 512);
  t.true(state.Events.every((e) => e === null));
  t.deepEqual(encodeStream(msg, { compress: true }), raw);
  t.is(decodeStream(raw.subarray(0, raw.length - 1)), null);
});

test("golden bytes of v2 differ from v0.5 only in field order and int forms, and both decode alike", (t) => {
  const m: MemberlistMessage = { type: "ping", SeqNo: 300, Node: "n", SourcePort: 17946 };
  const legacy = encodeMessage(m, "v0.5");
  const current = encodeMessage(m, "v2");
  t.notDeepEqual(legacy, current);
  t.deepEqual(decodeMessage(legacy), m);
  t.deepEqual(decodeMessage(current), m);
  t.is(Buffer.from(current).toString("hex"), "0083a55365714e6fcd012ca44e6f6465a16eaa536f75726365506f7274cd461a");
});
