/**
 * The incremental stream decoder against its whole-buffer self: a stream message split at every
 * possible chunk boundary (and into random chunk sequences, and byte by byte) decodes to the same
 * message and length as the whole stream does. Covers labels, compression and encryption envelopes.
 */
import test from "ava";
import fc from "fast-check";
import type { MemberlistMessage } from "../src/core/gossip/messages.ts";
import { WireError } from "../src/core/gossip/wire/errors.ts";
import { type GoField, GoMsgpackWriter, decodeGoValue } from "../src/core/gossip/wire/gomsgpack.ts";
import { readPushNodeState, writePushNodeState } from "../src/core/gossip/wire/memberlist-codec.ts";
import { PushNodeReader, skippedNode, slowPath } from "../src/core/gossip/wire/push-node-reader.ts";
import { StreamDecoder, type DecodedStream, type StreamDecodeOptions } from "../src/core/gossip/wire/stream-decoder.ts";
import { encodeStream } from "../src/core/gossip/wire/stream.ts";
import { GossipKeyring, encryptedBytes } from "../src/transports/gossip-keyring.ts";
import { flavor, pushNodeState, streamMessage } from "./gossip-arbitraries.ts";

const keyring = new GossipKeyring([Uint8Array.from({ length: 16 }, (_, i) => i + 1)]);
const envelope = fc.record({ compress: fc.boolean(), label: fc.constantFrom("", "pool-a"), encrypt: fc.boolean() });

function encode(msg: MemberlistMessage, fl: "v0.5" | "v2", e: { compress: boolean; label: string; encrypt: boolean }): Uint8Array {
  return encodeStream(msg, {
    flavor: fl, compress: e.compress, label: e.label,
    ...(e.encrypt ? { encrypt: (p: Uint8Array, aad: Uint8Array) => keyring.encrypt(p, aad), encryptedBytes } : {}),
  });
}

function decoderOptions(e: { label: string; encrypt: boolean }): StreamDecodeOptions {
  return { label: e.label, ...(e.encrypt ? { decrypt: (p: Uint8Array, aad: Uint8Array) => keyring.decrypt(p, aad), requireEncryption: true } : {}) };
}

/** Feeds `chunks` in order; the message must appear exactly with the last chunk. */
function decodeChunks(chunks: readonly Uint8Array[], options: StreamDecodeOptions): DecodedStream | string {
  const d = new StreamDecoder(options);
  for (let i = 0; i < chunks.length; i++) {
    const found = d.push(chunks[i]!);
    if (found !== null) return i === chunks.length - 1 ? found : `message complete after chunk ${i} of ${chunks.length}`;
  }
  return "message never completed";
}

const expected = (msg: MemberlistMessage, bytes: Uint8Array): DecodedStream => ({ msg, byteLength: bytes.length, skippedNodes: 0 });

test("split at every possible chunk boundary, a stream decodes to the same message", (t) => {
  fc.assert(fc.property(streamMessage, flavor, envelope, (msg, fl, e) => {
    const bytes = encode(msg, fl, e);
    const options = decoderOptions(e);
    t.deepEqual(decodeChunks([bytes], options), expected(msg, bytes));
    for (let cut = 1; cut < bytes.length; cut++) {
      const got = decodeChunks([bytes.subarray(0, cut), bytes.subarray(cut)], options);
      if (typeof got === "string") return t.fail(`cut at ${cut} of ${bytes.length}: ${got}`);
      t.deepEqual(got, expected(msg, bytes), `cut at ${cut} of ${bytes.length}`);
    }
  }), { numRuns: 80 });
});

test("random chunk sequences and byte-by-byte feeding decode to the same message", (t) => {
  fc.assert(fc.property(streamMessage, flavor, envelope, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }), (msg, fl, e, sizes) => {
    const bytes = encode(msg, fl, e);
    const chunks: Uint8Array[] = [];
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const size = sizes[i % sizes.length]!;
      chunks.push(bytes.subarray(at, at + size));
      at += size;
    }
    t.deepEqual(decodeChunks(chunks, decoderOptions(e)), expected(msg, bytes));
    const oneByOne = Array.from(bytes, (b) => Uint8Array.of(b));
    t.deepEqual(decodeChunks(oneByOne, decoderOptions(e)), expected(msg, bytes));
  }), { numRuns: 300 });
});

test("bytes after a whole message are not part of it, and change nothing", (t) => {
  fc.assert(fc.property(streamMessage, flavor, fc.uint8Array({ minLength: 1, maxLength: 50 }), (msg, fl, tail) => {
    const bytes = encodeStream(msg, { flavor: fl });
    const d = new StreamDecoder();
    const withTail = new Uint8Array(bytes.length + tail.length);
    withTail.set(bytes);
    withTail.set(tail, bytes.length);
    t.deepEqual(d.push(withTail), expected(msg, bytes));
    t.is(d.push(tail), null, "a finished decoder ignores further chunks");
  }), { numRuns: 200 });
});

test("random and mangled streams, in random chunks, only ever raise WireError", (t) => {
  const mangled = fc.tuple(streamMessage, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 })).map(([msg, flips]) => {
    const b = Uint8Array.from(encodeStream(msg, { compress: flips.length % 2 === 0 }));
    for (const [at, v] of flips) b[at % b.length] = v;
    return b;
  });
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), mangled), fc.integer({ min: 1, max: 17 }), (bytes, chunkBytes) => {
    const d = new StreamDecoder();
    try {
      for (let at = 0; at < bytes.length && !d.isDone; at += chunkBytes) d.push(bytes.subarray(at, at + chunkBytes));
    } catch (e) {
      if (!(e instanceof WireError)) return t.fail(`threw ${String(e)}`);
    }
    t.pass();
  }), { numRuns: 1000 });
});

/** What the general path makes of one node state's bytes: the node, null (skipped) or the WireError. */
function generalRead(bytes: Uint8Array): unknown {
  try {
    return readPushNodeState(decodeGoValue(bytes, "push/pull node"));
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
}

/** A value of any msgpack form a peer might put in a node state's field. */
const anyValue: fc.Arbitrary<(w: GoMsgpackWriter) => void> = fc.oneof(
  fc.nat({ max: 2 ** 40 }).map((n) => (w: GoMsgpackWriter) => void w.uint(n)),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((n) => (w: GoMsgpackWriter) => void w.int(n)),
  fc.constantFrom(0, 127, 128, 255, 256, 0xffff, 0x10000, 0xffffffff, 0x100000000, -1, -32, -33, -129, -32769)
    .map((n) => (w: GoMsgpackWriter) => void w.int(n)),
  fc.constant((w: GoMsgpackWriter) => void w.nil()),
  fc.boolean().map((b) => (w: GoMsgpackWriter) => void w.bool(b)),
  fc.double().map((x) => (w: GoMsgpackWriter) => void w.f64(x)),
  fc.uint8Array({ maxLength: 300 }).map((b) => (w: GoMsgpackWriter) => void w.bytesOrNil(b)),
  fc.string({ maxLength: 70, unit: "binary" }).map((s) => (w: GoMsgpackWriter) => void w.str(s)),
  fc.array(fc.nat(255), { maxLength: 3 }).map((a) => (w: GoMsgpackWriter) => void a.reduce((x, n) => x.uint(n), w.arrayHeader(a.length))),
);
const boundaryInt = fc.constantFrom(0, 1, 3, 4, 127, 128, 255, 256, 0xffff, 0x10000, 0xffffffff, 0x100000000, -1, -32, -33, -129, -32769);
/** A field's value: usually of the kind memberlist writes there, sometimes anything. */
function valueFor(field: string): fc.Arbitrary<(w: GoMsgpackWriter) => void> {
  const own = field === "Port" || field === "Incarnation" || field === "State"
    ? fc.oneof(boundaryInt, fc.integer({ min: -(2 ** 33), max: 2 ** 33 })).chain((n) =>
      fc.constantFrom((w: GoMsgpackWriter) => void w.int(n), ...(n >= 0 ? [(w: GoMsgpackWriter) => void w.uint(n)] : [])))
    : fc.oneof(fc.uint8Array({ maxLength: 10 }), fc.uint8Array({ maxLength: 300 })).map((b) => (w: GoMsgpackWriter) => void w.bytesOrNil(b));
  return fc.oneof({ arbitrary: own, weight: 4 }, { arbitrary: anyValue, weight: 1 });
}
const knownField = fc.constantFrom("Name", "Addr", "Port", "Meta", "Incarnation", "State", "Vsn");
const fieldName = fc.oneof(knownField, fc.constantFrom("Other", "name", "Nam", "__proto__", ""));

/** Node states as memberlist writes them, odd ones (any field, any form, twice, unknown), and mangled bytes of both. */
const nodeStateBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(pushNodeState, flavor).map(([n, fl]) => {
    const w = new GoMsgpackWriter(fl);
    writePushNodeState(w, n);
    return w.finish();
  }),
  // Each known field once, mostly of its own kind with values at and past its bounds: what the
  // fast reader must judge field by field.
  fc.tuple(fc.uniqueArray(knownField, { maxLength: 7 }), flavor)
    .chain(([names, fl]) => fc.tuple(...names.map((k) => valueFor(k).map((v): GoField => [k, v]))).map((fields) => ({ fields, fl })))
    .map(({ fields, fl }) => new GoMsgpackWriter(fl).struct(fields).finish()),
  fc.tuple(fc.array(fc.tuple(fieldName, anyValue), { maxLength: 9 }), flavor)
    .map(([fields, fl]) => new GoMsgpackWriter(fl).struct(fields.map(([k, v]): GoField => [k, v])).finish()),
).chain((bytes) => fc.oneof(
  fc.constant(bytes),
  fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }).map((flips) => {
    const b = Uint8Array.from(bytes);
    for (const [at, v] of flips) b[at % b.length] = v;
    return b;
  }),
  fc.nat().map((cut) => bytes.subarray(0, cut % (bytes.length + 1))),
));

test("the fast node-state reader answers as the general decoder does, or leaves the bytes to it", (t) => {
  let fast = 0;
  fc.assert(fc.property(nodeStateBytes, fc.nat(7), (bytes, offset) => {
    // At an offset inside a larger buffer, as the stream decoder calls it.
    const buffer = new Uint8Array(offset + bytes.length + 3).fill(0xc1);
    buffer.set(bytes, offset);
    const reader = new PushNodeReader();
    const got = reader.read(buffer, offset, offset + bytes.length);
    // The stream decoder takes a fast answer only for a value that fills what the skipper measured.
    if (got === slowPath || reader.end !== offset + bytes.length) return;
    fast++;
    const general = generalRead(bytes);
    if (general instanceof WireError) return t.fail(`fast path answered ${JSON.stringify(got)} where the general one throws ${general.message}`);
    t.deepEqual(got === skippedNode ? null : got, general);
  }), { numRuns: 5000 });
  t.true(fast > 500, `the fast path answered only ${fast} of 5000`);
});
