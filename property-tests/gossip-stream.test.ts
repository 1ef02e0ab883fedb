/**
 * The incremental stream decoder against its whole-buffer self: a stream message split at every
 * possible chunk boundary (and into random chunk sequences, and byte by byte) decodes to the same
 * message and length as the whole stream does. Covers labels, compression and encryption envelopes.
 */
import test from "ava";
import fc from "fast-check";
import type { MemberlistMessage } from "../src/core/gossip/messages.ts";
import { WireError } from "../src/core/gossip/wire/errors.ts";
import { StreamDecoder, type DecodedStream, type StreamDecodeOptions } from "../src/core/gossip/wire/stream-decoder.ts";
import { encodeStream } from "../src/core/gossip/wire/stream.ts";
import { GossipKeyring, encryptedBytes } from "../src/transports/gossip-keyring.ts";
import { flavor, streamMessage } from "./gossip-arbitraries.ts";

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
