/**
 * The wire codec against random input: every message type survives encode → decode unchanged
 * (in both go-msgpack flavors, with and without CRC and compression), and random or mangled bytes
 * never make the decoder throw anything but a WireError.
 */
import test from "ava";
import fc from "fast-check";
import { WireError } from "../src/core/gossip/wire/errors.ts";
import { lzwCompress, lzwDecompress } from "../src/core/gossip/wire/lzw.ts";
import { decodePacket, encodePackets } from "../src/core/gossip/wire/packet.ts";
import { decodePingPayload, decodeTags, encodePingPayload, encodeTags } from "../src/core/gossip/wire/serf-codec.ts";
import { decodeStream, encodeStream } from "../src/core/gossip/wire/stream.ts";
import { blob, flavor, packetMessage, streamMessage } from "./gossip-arbitraries.ts";

const runs = { numRuns: 300 };

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
