/**
 * The wire codec's rules, one per test: go-msgpack's old-spec encoding, memberlist's framing, and
 * every kind of bad input refused with a WireError naming the reason.
 */
import test from "ava";
import type { PacketMessage } from "../../src/core/gossip/wire/memberlist-codec.ts";
import { WireError } from "../../src/core/gossip/wire/errors.ts";
import { GoMsgpackWriter, msgpackItemLength } from "../../src/core/gossip/wire/gomsgpack.ts";
import { compound, decodePacket, encodePackets } from "../../src/core/gossip/wire/packet.ts";
import { decodePingPayload, decodeTags, encodePingPayload, encodeTags } from "../../src/core/gossip/wire/serf-codec.ts";
import { decodeStream, encodeStream } from "../../src/core/gossip/wire/stream.ts";
import { encodeMessage } from "../../src/core/gossip/wire/memberlist-codec.ts";
import { crc32 } from "../../src/core/util/crc32.ts";
import { throughWire } from "../../src/core/gossip/wire/index.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));
const reasonOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof WireError) return e.reason;
    throw e;
  }
  return "no error";
};
const ping: PacketMessage = { type: "ping", SeqNo: 1, Node: "a" };

test("go-msgpack raw strings: fixraw below 32 bytes, then raw16 (0xda) — never str8 (0xd9) or bin", (t) => {
  t.is(hex(new GoMsgpackWriter().str("x".repeat(31)).finish()).slice(0, 2), "bf");
  t.is(hex(new GoMsgpackWriter().str("x".repeat(32)).finish()).slice(0, 6), "da0020");
  t.is(hex(new GoMsgpackWriter().bytesOrNil(new Uint8Array(200)).finish()).slice(0, 6), "da00c8");
  t.is(hex(new GoMsgpackWriter().bytesOrNil(null).finish()), "c0");
});

test("go-msgpack ints: unsigned forms for uint fields; signed fields differ between v0.5 and v2", (t) => {
  t.is(hex(new GoMsgpackWriter().uint(127).uint(128).uint(256).uint(70000).finish()), "7fcc80cd0100ce00011170");
  t.is(hex(new GoMsgpackWriter("v2").int(128).int(-1).int(-33).int(40000).finish()), "d10080ffd0dfd200009c40");
  t.is(hex(new GoMsgpackWriter("v0.5").int(128).int(-1).finish()), "cc80ff");
  t.is(hex(new GoMsgpackWriter().f64(1).finish()), "cb3ff0000000000000");
});

test("struct field order: sorted by name in v0.5, declaration order in v2", (t) => {
  const fields = [["SeqNo", (w: GoMsgpackWriter) => w.uint(1)], ["Node", (w: GoMsgpackWriter) => w.str("a")]] as const;
  t.is(hex(new GoMsgpackWriter("v0.5").struct(fields).finish()), "82a44e6f6465a161a55365714e6f01");
  t.is(hex(new GoMsgpackWriter("v2").struct(fields).finish()), "82a55365714e6f01a44e6f6465a161");
});

test("msgpackItemLength finds where a value ends, and null when it is cut short", (t) => {
  const value = new GoMsgpackWriter().struct([["A", (w) => w.arrayHeader(2).str("xy").f64(2)], ["B", (w) => w.nil()]]).finish();
  t.is(msgpackItemLength(Uint8Array.from([...value, 0x01, 0x02]), 0), value.length);
  for (let cut = 0; cut < value.length; cut++) t.is(msgpackItemLength(value.subarray(0, cut), 0), null);
  t.is(reasonOf(() => msgpackItemLength(Uint8Array.of(0xc1), 0)), "bad-msgpack");
});

test("tags: magic byte 255 then a map; metadata without it is the legacy role tag", (t) => {
  t.is(hex(encodeTags({ role: "node" })), "ff81a4726f6c65a46e6f6465");
  t.deepEqual(decodeTags(new TextEncoder().encode("consul")), { role: "consul" });
  t.deepEqual(decodeTags(new Uint8Array(0)), { role: "" });
  t.is(reasonOf(() => encodeTags({ big: "x".repeat(600) })), "oversized");
  t.is(reasonOf(() => decodeTags(Uint8Array.of(255, 0x92, 1, 2))), "bad-field");
});

test("ping payload: version 1 then the coordinate; other versions and garbage give null", (t) => {
  const c = { Vec: [0.001, -0.002], Error: 0.5, Adjustment: 0, Height: 1e-5 };
  const p = encodePingPayload(c);
  t.is(p[0], 1);
  t.deepEqual(decodePingPayload(p), c);
  t.is(decodePingPayload(Uint8Array.of(2, ...p.subarray(1))), null);
  t.is(decodePingPayload(new Uint8Array(0)), null);
  t.is(decodePingPayload(p.subarray(0, 10)), null);
});

test("CRC framing: 12, CRC32-IEEE big-endian, body; a flipped bit is refused as bad-crc", (t) => {
  t.is(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const [p] = encodePackets([ping], { crc: true });
  t.is(p![0], 12);
  t.deepEqual(decodePacket(p!).msgs, [ping]);
  const bad = p!.slice();
  bad[bad.length - 1] ^= 1;
  t.is(reasonOf(() => decodePacket(bad)), "bad-crc");
});

test("label header: stripped and checked against our label", (t) => {
  const [p] = encodePackets([ping], { label: "dc1" });
  t.is(hex(p!.subarray(0, 5)), "f403646331");
  t.deepEqual(decodePacket(p!, { label: "dc1" }).msgs, [ping]);
  t.is(reasonOf(() => decodePacket(p!)), "bad-label");
  t.is(reasonOf(() => decodePacket(Uint8Array.of(244, 5, 1))), "truncated");
  t.is(reasonOf(() => decodePacket(Uint8Array.of(244, 0, 0))), "bad-label");
});

test("compound: a truncated part is reported, the parts before it still delivered", (t) => {
  const parts = [encodeMessage(ping), encodeMessage({ type: "nackResp", SeqNo: 9 })];
  const whole = compound(parts);
  const cut = whole.subarray(0, whole.length - 1);
  const d = decodePacket(cut);
  t.deepEqual(d.msgs, [ping]);
  t.is(d.partErrors.length, 1);
  t.is(d.partErrors[0]!.reason, "truncated");
  t.is(reasonOf(() => decodePacket(Uint8Array.of(7, 3, 0))), "truncated");
});

test("packing: many messages become several compounds, none above the packet limit", (t) => {
  const msgs: PacketMessage[] = Array.from({ length: 60 }, (_, i) => ({ type: "suspect", Incarnation: i, Node: `node-${i}`, From: "someone-else" }));
  const packets = encodePackets(msgs, { packetBytesMax: 1400 });
  t.true(packets.length > 1);
  for (const p of packets) t.true(p.length <= 1400);
  t.deepEqual(packets.flatMap((p) => decodePacket(p).msgs), msgs);
  const huge: PacketMessage = { type: "ackResp", SeqNo: 1, Payload: new Uint8Array(2000) };
  t.is(reasonOf(() => encodePackets([huge])), "oversized");
  t.is(reasonOf(() => decodePacket(new Uint8Array(70000))), "oversized");
});

test("refused outright: empty, unknown types, encryption without a keyring, push/pull over UDP", (t) => {
  t.is(reasonOf(() => decodePacket(new Uint8Array(0))), "empty");
  t.is(reasonOf(() => decodePacket(Uint8Array.of(99))), "unknown-type");
  t.is(reasonOf(() => decodePacket(Uint8Array.of(10, 1, 2, 3))), "unsupported");
  t.is(reasonOf(() => decodePacket(Uint8Array.of(6, 0x80))), "unsupported");
  t.is(reasonOf(() => decodePacket(Uint8Array.of(0, 0x81, 0xa5, ...new TextEncoder().encode("SeqNo"), 0xa1, 0x61))), "bad-field");
  t.is(reasonOf(() => decodePacket(fromHex("09" + "82a4416c676f01a3427566a0"))), "bad-compression");
});

test("streams: user messages carry a length header; bytes after the message are left for later", (t) => {
  const user: PacketMessage = { type: "user", Msg: { type: "userEvent", LTime: 3, Name: "deploy", Payload: new TextEncoder().encode("v1"), CC: false } };
  const bytes = encodeStream(user);
  t.is(bytes[0], 8);
  const found = decodeStream(Uint8Array.from([...bytes, 0, 1, 2]));
  t.deepEqual(found, { msg: user, byteLength: bytes.length });
  t.is(reasonOf(() => decodeStream(Uint8Array.of(6, 0x81, 0xa5, ...new TextEncoder().encode("Nodes"), 0xd2, 0xff, 0xff, 0xff, 0xff))), "bad-field");
});

test("throughWire: what the simulator's --wire mode delivers is what was sent", (t) => {
  const msgs: PacketMessage[] = [ping, { type: "dead", Incarnation: 3, Node: "b", From: "b" }];
  t.deepEqual(throughWire(msgs, "udp"), msgs);
  t.deepEqual(throughWire([{ type: "pushPull", Join: false, Nodes: [], UserState: null }], "tcp"), [{ type: "pushPull", Join: false, Nodes: [], UserState: null }]);
  t.is(reasonOf(() => throughWire([{ type: "pushPull", Join: false, Nodes: [], UserState: null }], "udp")), "unsupported");
});
