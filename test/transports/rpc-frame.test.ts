/**
 * The RPC port's framing, byte by byte: a frame's header, messages split into parts, any split of
 * the byte stream, and each way bad input is refused (with its reason) and poisons the decoder.
 */
import test from "ava";
import {
  FrameDecoder, FrameError, FrameKind, encodeFrame, encodeMessageFrames, frameHeaderBytes, type DecodedMessage,
} from "../../src/transports/rpc/frame.ts";
import { backoffDelayMs } from "../../src/transports/rpc/backoff.ts";
import { decodeHello, decodePayload, decodeRaftMessage, decodeRequest, decodeResponse, encodeHello, encodePayload, encodeRaftMessage } from "../../src/transports/rpc/codec.ts";
import type { Message } from "../../src/core/raft/types.ts";

const limits = { framePayloadBytesMax: 16, messageBytesMax: 64 };
const bytes = (...values: number[]) => new Uint8Array(values);
const concat = (parts: readonly Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

test("a frame is a 4-byte big-endian length, version 1, the kind, then the payload", (t) => {
  t.deepEqual(encodeFrame(0x11, bytes(0xaa, 0xbb)), bytes(0, 0, 0, 2, 1, 0x11, 0xaa, 0xbb));
  t.deepEqual(encodeFrame(0x20, bytes()), bytes(0, 0, 0, 0, 1, 0x20));
  t.throws(() => encodeFrame(0, bytes()), { instanceOf: RangeError });
  t.throws(() => encodeFrame(256, bytes()), { instanceOf: RangeError });
});

test("a message longer than a frame goes out as parts, the last piece under its own kind", (t) => {
  const frames = encodeMessageFrames(0x11, seq(40), 16);
  t.deepEqual(frames.map((f) => [f[5], f.length - frameHeaderBytes]), [[FrameKind.part, 16], [FrameKind.part, 16], [0x11, 8]]);
  t.deepEqual(encodeMessageFrames(0x11, seq(16), 16).map((f) => f[5]), [0x11], "exactly one frame's worth is not split");
  t.throws(() => encodeMessageFrames(FrameKind.part, seq(1), 16), { instanceOf: RangeError });
});

test("the decoder gives back whole messages whatever the split of the stream", (t) => {
  const stream = concat([
    ...encodeMessageFrames(0x11, seq(40), 16),
    encodeFrame(0x20, bytes()),
    ...encodeMessageFrames(0x21, seq(3), 16),
  ]);
  for (const chunkBytes of [1, 2, 5, 6, 7, 22, stream.length]) {
    const decoder = new FrameDecoder(limits);
    const out: DecodedMessage[] = [];
    for (let at = 0; at < stream.length; at += chunkBytes) out.push(...decoder.push(stream.subarray(at, at + chunkBytes)));
    t.deepEqual(out.map((m) => [m.kind, [...m.payload]]), [[0x11, [...seq(40)]], [0x20, []], [0x21, [...seq(3)]]], `chunks of ${chunkBytes}`);
    t.is(decoder.pendingBytes, 0);
    t.notThrows(() => decoder.end());
  }
});

test("payloads are copies: reusing the read buffer does not change a delivered message", (t) => {
  const decoder = new FrameDecoder(limits);
  const buffer = encodeFrame(0x11, bytes(7, 8, 9));
  const [message] = decoder.push(buffer);
  buffer.fill(0);
  t.deepEqual([...message!.payload], [7, 8, 9]);
});

const refusals: [string, Uint8Array, FrameError["reason"]][] = [
  ["version 2", bytes(0, 0, 0, 0, 2, 0x11), "bad-version"],
  ["version 0 (a zeroed buffer)", bytes(0, 0, 0, 0, 0, 0), "bad-version"],
  ["kind 0", bytes(0, 0, 0, 0, 1, 0), "bad-kind"],
  ["a 17-byte frame over a 16-byte limit", bytes(0, 0, 0, 17, 1, 0x11), "oversized-frame"],
  ["a 4 GiB frame header", bytes(0xff, 0xff, 0xff, 0xff, 1, 0x11), "oversized-frame"],
  ["parts adding up past the message limit", concat(encodeMessageFrames(0x11, seq(80), 16)), "oversized-message"],
];
for (const [name, input, reason] of refusals) {
  test(`refused: ${name} (${reason}), and the decoder stays refused`, (t) => {
    const decoder = new FrameDecoder(limits);
    const error = t.throws(() => decoder.push(input), { instanceOf: FrameError });
    t.is(error?.reason, reason);
    t.throws(() => decoder.push(encodeFrame(0x11, bytes(1))), { instanceOf: FrameError }, "a poisoned stream stays refused");
  });
}

test("a stream ending inside a header, a payload or a multi-part message is truncated", (t) => {
  const whole = concat(encodeMessageFrames(0x11, seq(40), 16));
  for (const cut of [3, frameHeaderBytes + 5, 22 + 6, whole.length - 1]) {
    const decoder = new FrameDecoder(limits);
    t.deepEqual(decoder.push(whole.subarray(0, cut)), []);
    t.true(decoder.pendingBytes > 0);
    const error = t.throws(() => decoder.end(), { instanceOf: FrameError });
    t.is(error?.reason, "truncated", `cut at ${cut}`);
  }
});

test("limits are checked when the decoder is made", (t) => {
  t.throws(() => new FrameDecoder({ framePayloadBytesMax: 0, messageBytesMax: 10 }), { instanceOf: RangeError });
  t.throws(() => new FrameDecoder({ framePayloadBytesMax: 10, messageBytesMax: 5 }), { instanceOf: RangeError });
});

test("codec: Raft messages round-trip with binary entry data; malformed payloads are FrameErrors", (t) => {
  const message: Message = {
    type: "append", from: "127.0.0.1:1", to: "127.0.0.1:2", term: 3, index: 4, logTerm: 2, commit: 4,
    entries: [{ term: 3, index: 5, type: "normal", data: bytes(1, 2, 3) }, { term: 3, index: 6, type: "noop", data: bytes() }],
  };
  const decoded = decodeRaftMessage(encodeRaftMessage(message));
  t.deepEqual(decoded, message);
  t.true(decoded.entries![0]!.data instanceof Uint8Array);
  t.false("reject" in decoded, "undefined fields are left out, not sent as nil");
  t.deepEqual(decodeHello(encodeHello("10.0.0.1:8300")), { proto: 1, addr: "10.0.0.1:8300" });
  for (const [name, decodeIt] of [
    ["hello of another protocol", () => decodeHello(encodePayload({ proto: 9, addr: "a:1" }))],
    ["hello without address", () => decodeHello(encodePayload({ proto: 1 }))],
    ["not MessagePack", () => decodeRaftMessage(bytes(0xc1))],
    ["truncated MessagePack", () => decodeRaftMessage(bytes(0x92, 1))],
    ["raft message that is an array", () => decodeRaftMessage(encodePayload([1, 2]))],
    ["request without method", () => decodeRequest(encodePayload({ seq: 1 }))],
    ["request with negative seq", () => decodeRequest(encodePayload({ seq: -1, method: "m" }))],
    ["response with malformed error", () => decodeResponse(encodePayload({ seq: 1, error: "boom" }))],
  ] as const) {
    const error = t.throws(decodeIt, { instanceOf: FrameError }, name);
    t.is(error?.reason, "bad-payload", name);
  }
});

test("backoff doubles from the base to the cap, jittered within [d/2, d]", (t) => {
  const config = { baseMs: 20, capMs: 1000 };
  t.deepEqual([1, 2, 3, 6, 7, 100].map((n) => backoffDelayMs(n, config, () => 0.999999)).map(Math.round), [20, 40, 80, 640, 1000, 1000]);
  t.deepEqual([1, 2, 7].map((n) => backoffDelayMs(n, config, () => 0)), [10, 20, 500]);
  t.throws(() => backoffDelayMs(0, config, () => 0), { instanceOf: RangeError });
  t.throws(() => backoffDelayMs(1, { baseMs: 0, capMs: 10 }, () => 0), { instanceOf: RangeError });
});

test("payloads carry bigints (KV flags above 2^53 - 1 in forwarded writes and reads) exactly, and numbers stay numbers", (t) => {
  const value = { Flags: 0x2ddccbc058a50c18n, Max: 18446744073709551615n, nowMs: 1_764_000_000_000, list: [1n, 2] };
  t.deepEqual(decodePayload(encodePayload(value), "test"), value);
});
