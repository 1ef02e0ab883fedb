/**
 * The whole RPC port against hostile streams on real sockets: random stream types, hellos,
 * Raft messages with random fields (entries of every type with random bytes, snapshots, config
 * entries that do not decode), RPC requests, snapshot heads and chunks, then bytes flipped or cut.
 * Whatever arrives, the server logs nothing at error level (which would mean an exception other
 * than a FrameError escaped a handler), the process does not crash, and afterwards a good peer's
 * message and a good call still go through.
 */
import test from "ava";
import fc from "fast-check";
import net from "node:net";
import type { Message } from "../src/core/raft/types.ts";
import { RpcClient } from "../src/transports/rpc/client.ts";
import { encodeHello, encodePayload } from "../src/transports/rpc/codec.ts";
import type { LogLevel } from "../src/transports/rpc/conn.ts";
import { FrameKind, encodeFrame, encodeMessageFrames } from "../src/transports/rpc/frame.ts";
import { RaftTcpTransport } from "../src/transports/rpc/raft-transport.ts";
import { RpcServer } from "../src/transports/rpc/server.ts";

const mallory = "127.0.0.9:9999";

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Sends `bytes` on a fresh connection, half-closes, and waits for the server to hang up (or 500 ms). */
function exchange(port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => socket.destroy(), 500);
    socket.on("connect", () => socket.end(bytes));
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const term = fc.oneof(fc.nat(10), fc.constant(-1), fc.double());
const entry = fc.record({
  term: fc.nat(5), index: fc.nat(20), type: fc.constantFrom("normal", "config", "noop", "bogus"),
  data: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string(), fc.constant(null)),
}, { requiredKeys: [] });
const raftMessage = (self: string) => fc.record({
  type: fc.constantFrom("preVote", "vote", "append", "appendResp", "snapshot", "heartbeat", "readIndex", "readIndexResp", "timeoutNow", "nope"),
  from: fc.constantFrom(mallory, self, "x"),
  to: fc.constantFrom(self, mallory, ""),
  term, index: term, logTerm: term, commit: term, ctx: fc.oneof(fc.string(), fc.nat()),
  entries: fc.oneof(fc.array(entry, { maxLength: 4 }), fc.constant("not an array")),
  snapshot: fc.record({ meta: fc.record({ index: term, term, conf: fc.record({ voters: fc.array(fc.string(), { maxLength: 3 }), learners: fc.constant([]) }) }), data: fc.uint8Array({ maxLength: 20 }) }, { requiredKeys: [] }),
}, { requiredKeys: ["type", "from", "to"] });

const frameOf = (self: string): fc.Arbitrary<Uint8Array> => fc.oneof(
  raftMessage(self).map((m) => encodeFrame(FrameKind.raftMessage, encodePayload(m))),
  raftMessage(self).map((m) => encodeFrame(FrameKind.snapshotHead, encodePayload({ message: m, dataBytes: 16 }))),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => encodeFrame(FrameKind.snapshotChunk, bytes)),
  fc.record({ seq: fc.oneof(fc.nat(3), fc.constant(-1)), method: fc.constantFrom("echo", "Status.Ping", "nope", ""), body: fc.jsonValue({ maxDepth: 2 }) })
    .map((r) => concat(encodeMessageFrames(FrameKind.request, encodePayload(r), 16))),
  fc.nat(3).map((seq) => encodeFrame(FrameKind.cancel, encodePayload({ seq }))),
  fc.tuple(fc.integer({ min: 1, max: 255 }), fc.uint8Array({ maxLength: 30 })).map(([kind, bytes]) => encodeFrame(kind, bytes)),
);

const stream = (self: string) => fc.record({
  // Mostly well-formed openings, so that most streams reach the message handlers.
  type: fc.oneof({ arbitrary: fc.constantFrom(0x01, 0x02), weight: 8 }, { arbitrary: fc.nat(255), weight: 1 }),
  hello: fc.oneof(
    { arbitrary: fc.constant(encodeFrame(FrameKind.hello, encodeHello(mallory))), weight: 8 },
    { arbitrary: fc.constant(new Uint8Array()), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 10 }), weight: 1 },
  ),
  frames: fc.array(frameOf(self), { maxLength: 5 }),
  flip: fc.option(fc.tuple(fc.nat(), fc.nat(255)), { nil: undefined, freq: 2 }),
  cut: fc.option(fc.nat(), { nil: undefined, freq: 2 }),
}).map(({ type, hello, frames, flip, cut }) => {
  let bytes = concat([new Uint8Array([type]), hello, ...frames]);
  if (flip !== undefined) {
    bytes = bytes.slice();
    bytes[flip[0] % bytes.length] = flip[1];
  }
  if (cut !== undefined) bytes = bytes.subarray(0, cut % (bytes.length + 1));
  return bytes;
});

test("hostile streams never escape as anything but a closed connection, and the port keeps serving", async (t) => {
  const errors: string[] = [];
  const logger = (level: LogLevel, msg: string) => {
    if (level === "error") errors.push(msg);
  };
  const server = await RpcServer.listen({ host: "127.0.0.1", port: 0, logger, handshakeTimeoutMs: 300 });
  server.handle("echo", (body) => body);
  const transport = new RaftTcpTransport({ server, localAddr: server.addr, closeServer: true });
  const received: Message[] = [];
  transport.onMessage((_from, message) => received.push(message));
  t.teardown(() => transport.close());

  await fc.assert(fc.asyncProperty(stream(server.addr), async (bytes) => {
    await exchange(server.port, bytes);
    if (errors.length > 0) throw new Error(`error logged: ${errors.join("; ")}`);
  }), { numRuns: 300 });
  t.deepEqual(errors, []);
  t.true(server.counters.rejected + transport.counters.rejectedStreams > 0, "hostile streams were refused");

  const good = await RpcServer.listen({ host: "127.0.0.1", port: 0 });
  const peer = new RaftTcpTransport({ server: good, localAddr: good.addr, closeServer: true });
  t.teardown(() => peer.close());
  const before = received.length;
  peer.send(server.addr, { type: "heartbeat", from: good.addr, to: server.addr, term: 1, commit: 0 });
  const client = new RpcClient();
  t.teardown(() => client.close());
  t.is(await client.call(server.addr, "echo", "still here"), "still here");
  for (let waited = 0; received.length === before && waited < 5_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(received.length, before + 1, "a good peer's heartbeat is delivered");
});
