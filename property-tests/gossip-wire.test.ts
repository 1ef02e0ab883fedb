/**
 * The wire codec against random input: every message type survives encode → decode unchanged
 * (in both go-msgpack flavors, with and without CRC and compression), and random or mangled bytes
 * never make the decoder throw anything but a WireError.
 */
import test from "ava";
import fc from "fast-check";
import type { MemberlistMessage, PushNodeState, SerfMessage, Vsn } from "../src/core/gossip/messages.ts";
import { WireError } from "../src/core/gossip/wire/errors.ts";
import { lzwCompress, lzwDecompress } from "../src/core/gossip/wire/lzw.ts";
import type { PacketMessage } from "../src/core/gossip/wire/memberlist-codec.ts";
import { decodePacket, encodePackets } from "../src/core/gossip/wire/packet.ts";
import { decodePingPayload, decodeTags, encodePingPayload, encodeTags } from "../src/core/gossip/wire/serf-codec.ts";
import { decodeStream, encodeStream } from "../src/core/gossip/wire/stream.ts";

const runs = { numRuns: 300 };
const u32 = fc.nat({ max: 0xffffffff });
const u16 = fc.nat({ max: 0xffff });
const ltime = fc.maxSafeNat();
const name = fc.string({ maxLength: 40 });
const blob = (maxLength: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength });
const addr = fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }));
const vsn: fc.Arbitrary<Vsn> = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const source = fc.record({ SourceAddr: addr, SourcePort: fc.integer({ min: 1, max: 0xffff }), SourceNode: fc.string({ minLength: 1, maxLength: 20 }) }, { requiredKeys: [] });

const serfMessage: fc.Arbitrary<SerfMessage> = fc.oneof(
  fc.record({ type: fc.constant("join" as const), LTime: ltime, Node: name }),
  fc.record({ type: fc.constant("leave" as const), LTime: ltime, Node: name, Prune: fc.boolean() }),
  fc.record({ type: fc.constant("userEvent" as const), LTime: ltime, Name: name, Payload: blob(300), CC: fc.boolean() }),
  fc.record({
    type: fc.constant("pushPull" as const), LTime: ltime,
    StatusLTimes: fc.dictionary(fc.string({ maxLength: 12 }).filter((k) => k !== "__proto__"), ltime, { maxKeys: 5 }),
    LeftMembers: fc.array(name, { maxLength: 4 }), EventLTime: ltime,
    Events: fc.array(fc.option(fc.record({ LTime: ltime, Events: fc.array(fc.record({ Name: name, Payload: blob(20) }), { maxLength: 3 }) }), { nil: null }), { maxLength: 5 }),
    QueryLTime: ltime,
  }),
  fc.record({
    type: fc.constant("query" as const), LTime: ltime, ID: u32, Addr: addr, Port: u16, SourceNode: name,
    Filters: fc.array(blob(20), { maxLength: 3 }), Flags: u32, RelayFactor: fc.nat(255),
    Timeout: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), Name: name, Payload: blob(100),
  }),
  fc.record({ type: fc.constant("queryResponse" as const), LTime: ltime, ID: u32, From: name, Flags: u32, Payload: blob(100) }),
);

const packetMessage: fc.Arbitrary<PacketMessage> = fc.oneof(
  fc.tuple(fc.record({ type: fc.constant("ping" as const), SeqNo: u32, Node: name }), source).map(([p, s]) => ({ ...p, ...s })),
  fc.tuple(fc.record({ type: fc.constant("indirectPing" as const), SeqNo: u32, Target: addr, Port: u16, Node: name, Nack: fc.boolean() }), source)
    .map(([p, s]) => ({ ...p, ...s })),
  fc.record({ type: fc.constant("ackResp" as const), SeqNo: u32, Payload: blob(120) }),
  fc.record({ type: fc.constant("nackResp" as const), SeqNo: u32 }),
  fc.record({ type: fc.constant("err" as const), Error: name }),
  fc.record({ type: fc.constant("suspect" as const), Incarnation: u32, Node: name, From: name }),
  fc.record({ type: fc.constant("dead" as const), Incarnation: u32, Node: name, From: name }),
  fc.record({ type: fc.constant("alive" as const), Incarnation: u32, Node: name, Addr: addr, Port: u16, Meta: blob(200), Vsn: vsn }),
  fc.record({ type: fc.constant("user" as const), Msg: serfMessage }),
);

const pushNodeState: fc.Arbitrary<PushNodeState> = fc.record({
  Name: name, Addr: addr, Port: u16, Meta: blob(100), Incarnation: u32, State: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>, Vsn: vsn,
});
const streamMessage: fc.Arbitrary<MemberlistMessage> = fc.oneof(
  packetMessage,
  fc.record({ type: fc.constant("pushPull" as const), Join: fc.boolean(), Nodes: fc.array(pushNodeState, { maxLength: 6 }), UserState: fc.option(serfMessage, { nil: null }) }),
);
const flavor = fc.constantFrom("v0.5" as const, "v2" as const);

/** A message a Go decoder would read back: an empty ack payload is nil, which decodes to empty. */
test("every packet message round-trips through encodePackets/decodePacket", (t) => {
  fc.assert(fc.property(fc.array(packetMessage, { minLength: 1, maxLength: 6 }), flavor, fc.boolean(), fc.boolean(), (msgs, fl, crc, compress) => {
    const packets = encodePackets(msgs, { flavor: fl, crc, compress, packetBytesMax: 1400 });
    for (const p of packets) t.true(p.length <= 1400, `packet of ${p.length} bytes`);
    const back = packets.flatMap((p) => {
      const d = decodePacket(p);
      t.deepEqual(d.partErrors, []);
      return d.msgs;
    });
    t.deepEqual(back, msgs);
  }), runs);
});

test("every stream message round-trips, and every strict prefix of it is reported incomplete", (t) => {
  fc.assert(fc.property(streamMessage, flavor, fc.boolean(), fc.nat(), (msg, fl, compress, cut) => {
    const bytes = encodeStream(msg, { flavor: fl, compress });
    t.deepEqual(decodeStream(bytes), { msg, byteLength: bytes.length });
    t.is(decodeStream(bytes.subarray(0, cut % bytes.length)), null);
  }), runs);
});

test("tags and ping payloads round-trip", (t) => {
  const tags = fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => k !== "__proto__"), fc.string({ maxLength: 20 }), { maxKeys: 8 });
  fc.assert(fc.property(tags, (tg) => t.deepEqual(decodeTags(encodeTags(tg)), tg)), runs);
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
  fc.assert(fc.property(fc.array(finite, { maxLength: 8 }), finite, finite, finite, (Vec, Error, Adjustment, Height) => {
    const c = { Vec, Error, Adjustment, Height };
    t.deepEqual(decodePingPayload(encodePingPayload(c)), c);
  }), runs);
});

test("LZW round-trips any bytes, including long repetitive ones that reset the code table", (t) => {
  const input = fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.constantFrom(0, 1, 2), { maxLength: 40000 }).map((a) => Uint8Array.from(a)));
  fc.assert(fc.property(input, (b) => t.deepEqual(lzwDecompress(lzwCompress(b), 1 << 20), b)), { numRuns: 100 });
});

function onlyWireErrors(decode: () => unknown): boolean {
  try {
    decode();
    return true;
  } catch (e) {
    if (e instanceof WireError) return true;
    throw e;
  }
}

test("random bytes never throw anything but WireError, as a packet or as a stream", (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
    t.true(onlyWireErrors(() => decodePacket(b)));
    t.true(onlyWireErrors(() => decodeStream(b)));
  }), { numRuns: 2000 });
});

test("valid packets with bytes flipped, cut or appended never throw anything but WireError", (t) => {
  const mutation = fc.record({ at: fc.nat(), value: fc.nat(255), cut: fc.boolean(), extra: blob(8) });
  fc.assert(fc.property(fc.array(packetMessage, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 3 }), (msgs, compress, mutations) => {
    for (const original of encodePackets(msgs, { crc: false, compress })) {
      let b = original.slice();
      for (const m of mutations) {
        b[m.at % b.length] = m.value;
        if (m.cut) b = b.subarray(0, m.at % (b.length + 1));
        else b = Uint8Array.from([...b, ...m.extra]);
        if (b.length === 0) break;
      }
      t.true(onlyWireErrors(() => decodePacket(b)));
      t.true(onlyWireErrors(() => decodeStream(b)));
    }
  }), { numRuns: 1000 });
});
