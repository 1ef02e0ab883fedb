/**
 * The RPC port's frame decoder against random input: any sequence of messages survives encoding
 * into frames and decoding from any split of the byte stream; random bytes, and valid streams
 * with bytes flipped, cut or spliced, never make the decoder (or the payload decoders behind it)
 * throw anything but a FrameError; and it never holds more than its limits allow.
 */
import test from "ava";
import fc from "fast-check";
import {
  decodeCancel, decodeHello, decodeRaftMessage, decodeRequest, decodeResponse, decodeSnapshotHead, encodePayload,
} from "../src/transports/rpc/codec.ts";
import { FrameDecoder, FrameError, FrameKind, encodeMessageFrames, frameHeaderBytes, type DecodedMessage } from "../src/transports/rpc/frame.ts";

const runs = { numRuns: 400 };
const limits = { framePayloadBytesMax: 64, messageBytesMax: 512 };
const kind = fc.integer({ min: 2, max: 255 });
const message = fc.record({ kind, payload: fc.uint8Array({ maxLength: 300 }) });

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Cut points that split `length` bytes into chunks. */
const splits = (length: number) => fc.uniqueArray(fc.integer({ min: 0, max: length }), { maxLength: 12 }).map((cuts) => [0, ...cuts.sort((a, b) => a - b), length]);

function feed(decoder: FrameDecoder, bytes: Uint8Array, cuts: readonly number[]): DecodedMessage[] {
  const out: DecodedMessage[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    out.push(...decoder.push(bytes.subarray(cuts[i]!, cuts[i + 1]!)));
    // The decoder's invariant: it holds at most one frame plus the message parts so far.
    if (decoder.pendingBytes > frameHeaderBytes + limits.framePayloadBytesMax + limits.messageBytesMax) {
      throw new Error(`decoder holds ${decoder.pendingBytes} bytes, beyond its limits`);
    }
  }
  return out;
}

/** Runs `fn`; anything thrown other than a FrameError fails the property. */
function onlyFrameErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof FrameError)) throw e;
  }
}

/** Every payload decoder, as the server and transport apply them to a decoded message. */
const payloadDecoders = [decodeHello, decodeRaftMessage, decodeRequest, decodeResponse, decodeCancel, (bytes: Uint8Array) => decodeSnapshotHead(bytes, 1024)];

test("messages survive encoding into frames and decoding from any split of the stream", (t) => {
  fc.assert(fc.property(
    fc.array(message, { maxLength: 6 }).chain((messages) => {
      const bytes = concat(messages.flatMap((m) => encodeMessageFrames(m.kind, m.payload, limits.framePayloadBytesMax)));
      return fc.tuple(fc.constant(messages), fc.constant(bytes), splits(bytes.length));
    }),
    ([messages, bytes, cuts]) => {
      const decoder = new FrameDecoder(limits);
      const out = feed(decoder, bytes, cuts);
      decoder.end();
      return JSON.stringify(out.map((m) => [m.kind, [...m.payload]])) === JSON.stringify(messages.map((m) => [m.kind, [...m.payload]]));
    },
  ), runs);
  t.pass();
});

test("random bytes never throw anything but a FrameError", (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, end) => {
    onlyFrameErrors(() => {
      const decoder = new FrameDecoder(limits);
      for (const m of decoder.push(bytes)) for (const decode of payloadDecoders) onlyFrameErrors(() => decode(m.payload));
      if (end) decoder.end();
    });
  }), runs);
  t.pass();
});

/** A valid stream of protocol messages (real MessagePack payloads), then mangled. */
const protocolPayload = fc.oneof(
  fc.record({ proto: fc.constant(1), addr: fc.string({ maxLength: 30 }) }),
  fc.record({ seq: fc.nat(), method: fc.string({ maxLength: 10 }), body: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ seq: fc.nat(), error: fc.record({ status: fc.integer({ min: 400, max: 599 }), message: fc.string() }) }),
  fc.record({ type: fc.constant("heartbeat"), from: fc.string(), to: fc.string(), term: fc.nat(), commit: fc.nat() }),
  fc.record({ message: fc.record({ type: fc.constant("snapshot"), snapshot: fc.record({ meta: fc.record({ index: fc.nat(), term: fc.nat() }), data: fc.constant(new Uint8Array()) }) }), dataBytes: fc.nat(2048) }),
).map((value) => encodePayload(value));
const protocolStream = fc.array(fc.tuple(fc.constantFrom(FrameKind.hello, FrameKind.raftMessage, FrameKind.snapshotHead, FrameKind.snapshotChunk, FrameKind.request, FrameKind.response, FrameKind.cancel), protocolPayload), { minLength: 1, maxLength: 5 })
  .map((messages) => concat(messages.flatMap(([k, p]) => encodeMessageFrames(k, p, limits.framePayloadBytesMax))));

const mutation = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ op: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("splice" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out = bytes;
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.op === "flip") {
      out = out.slice();
      if (out.length > 0) out[at] = m.value;
    } else if (m.op === "cut") out = out.subarray(0, at);
    else if (m.op === "splice") out = concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else out = concat([out.subarray(0, at), out.subarray(at + m.count)]);
  }
  return out;
}

test("valid streams with bytes flipped, cut, spliced or deleted never throw anything but a FrameError", (t) => {
  fc.assert(fc.property(
    protocolStream.chain((bytes) => fc.tuple(fc.constant(bytes), fc.array(mutation, { minLength: 1, maxLength: 4 }))).chain(([bytes, mutations]) => {
      const mutated = mutate(bytes, mutations);
      return fc.tuple(fc.constant(mutated), splits(mutated.length));
    }),
    ([bytes, cuts]) => {
      onlyFrameErrors(() => {
        const decoder = new FrameDecoder(limits);
        for (const m of feed(decoder, bytes, cuts)) for (const decode of payloadDecoders) onlyFrameErrors(() => decode(m.payload));
        decoder.end();
      });
    },
  ), runs);
  t.pass();
});

test("once the decoder has refused a stream, every later push is refused too", (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.uint8Array({ maxLength: 50 }), (bad, more) => {
    const decoder = new FrameDecoder(limits);
    let refused = false;
    try {
      decoder.push(bad);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      refused = true;
    }
    if (!refused) return true;
    try {
      decoder.push(more);
      return false;
    } catch (e) {
      return e instanceof FrameError;
    }
  }), runs);
  t.pass();
});
