/**
 * Raft messages between servers over TCP (stream type 0x01) on loopback: three transports talk to
 * each other; a 5 MB snapshot crosses in 1 MiB frames; a peer that restarts is redialed and
 * delivery resumes; the queue for a peer that is down keeps only the newest messages; and every
 * kind of bad stream is closed with its reason logged while the transport keeps serving the rest.
 */
import net from "node:net";
import test from "ava";
import type { Message } from "../../src/core/raft/types.ts";
import { encodeHello, encodePayload, encodeSnapshotHead } from "../../src/transports/rpc/codec.ts";
import { FrameKind, StreamType, encodeFrame } from "../../src/transports/rpc/frame.ts";
import { RaftTcpTransport, type RaftTcpTransportOptions } from "../../src/transports/rpc/raft-transport.ts";
import { RpcServer } from "../../src/transports/rpc/server.ts";
import { concatBytes, deadPort, eventually, rawExchange, recordingLogger, type LogLine } from "./rpc-helpers.ts";

interface Endpoint {
  readonly transport: RaftTcpTransport;
  readonly server: RpcServer;
  readonly received: [string, Message][];
  readonly lines: LogLine[];
  readonly reasons: () => string[];
}

type Teardown = { teardown(fn: () => unknown): void };

async function endpoint(t: Teardown, port = 0, options: Partial<RaftTcpTransportOptions> = {}): Promise<Endpoint> {
  const log = recordingLogger();
  const server = await RpcServer.listen({ host: "127.0.0.1", port, logger: log.logger });
  const transport = new RaftTcpTransport({ server, localAddr: server.addr, closeServer: true, ...options });
  const received: [string, Message][] = [];
  transport.onMessage((from, message) => received.push([from, message]));
  t.teardown(() => transport.close());
  return { transport, server, received, lines: log.lines, reasons: log.reasons };
}

const heartbeat = (from: string, to: string, commit: number): Message => ({ type: "heartbeat", from, to, term: 1, commit });

// Serial: it counts dials, and a stall of this process's event loop by another test could time a dial out.
test.serial("three transports exchange Raft messages, each arriving from its sender's address", async (t) => {
  const nodes = await Promise.all([0, 1, 2].map(() => endpoint(t)));
  for (const a of nodes) {
    for (const b of nodes) {
      if (a !== b) for (let commit = 1; commit <= 50; commit++) a.transport.send(b.transport.localAddr, heartbeat(a.transport.localAddr, b.transport.localAddr, commit));
    }
  }
  for (const node of nodes) await eventually(() => node.received.length === 100, `${node.transport.localAddr} to receive 100 messages`);
  for (const node of nodes) {
    for (const peer of nodes.filter((p) => p !== node)) {
      const fromPeer = node.received.filter(([from]) => from === peer.transport.localAddr);
      t.deepEqual(fromPeer.map(([, m]) => m.commit), Array.from({ length: 50 }, (_, i) => i + 1), "in order, none lost, from the right sender");
    }
    t.is(node.transport.counters.sent, 100);
    t.is(node.transport.counters.dials, 2, "one outgoing connection per peer");
    t.deepEqual(node.transport.counters.dropped, {});
  }
});

test("a 5 MB snapshot message crosses in 1 MiB frames and is reassembled byte for byte", async (t) => {
  const [a, b] = await Promise.all([endpoint(t), endpoint(t)]);
  const data = new Uint8Array(5 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
  const snapshot: Message = {
    type: "snapshot", from: a!.transport.localAddr, to: b!.transport.localAddr, term: 4,
    snapshot: { meta: { index: 900, term: 4, conf: { voters: [a!.transport.localAddr, b!.transport.localAddr], learners: [] } }, data },
  };
  t.is(b!.server.framePayloadBytes, 1024 * 1024, "no frame may exceed 1 MiB, so the 5 MB can only arrive in chunks");
  a!.transport.send(b!.transport.localAddr, snapshot);
  a!.transport.send(b!.transport.localAddr, heartbeat(a!.transport.localAddr, b!.transport.localAddr, 900));
  await eventually(() => b!.received.length === 2, "the snapshot and the heartbeat after it", 30_000);
  const [[, got], [, after]] = b!.received as [[string, Message], [string, Message]];
  t.deepEqual(got.snapshot!.meta, snapshot.snapshot!.meta);
  t.is(Buffer.compare(got.snapshot!.data, data), 0, "the same 5 MB");
  t.is(after.type, "heartbeat", "messages after a snapshot follow it in order");
  t.is(b!.transport.counters.rejectedStreams, 0);
});

test("a snapshot with no data is delivered at its head", async (t) => {
  const [a, b] = await Promise.all([endpoint(t), endpoint(t)]);
  const empty = snapshotOf(a!.transport.localAddr, b!.transport.localAddr, 0);
  a!.transport.send(b!.transport.localAddr, empty);
  await eventually(() => b!.received.length === 1, "the empty snapshot");
  t.deepEqual(b!.received[0]![1], empty);
});

test("a peer that restarts is redialed with backoff, and delivery resumes", async (t) => {
  const a = await endpoint(t, 0, { backoff: { baseMs: 10, capMs: 200 } });
  let b = await endpoint(t);
  const bAddr = b.transport.localAddr;
  const bPort = b.server.port;
  a.transport.send(bAddr, heartbeat(a.transport.localAddr, bAddr, 1));
  await eventually(() => b.received.length === 1, "the first message");
  await b.transport.close();
  await eventually(() => a.transport.peerStates()[bAddr] !== "open", "a to see the connection drop");
  // While b is down, a keeps sending (as a leader's heartbeats would); its dials fail and back off.
  const sender = setInterval(() => a.transport.send(bAddr, heartbeat(a.transport.localAddr, bAddr, 2)), 20);
  t.teardown(() => clearInterval(sender));
  await eventually(() => a.transport.counters.dialFailures >= 3, "a few failed dials");
  b = await endpoint(t, bPort);
  await eventually(() => b.received.length > 0, "delivery to the restarted peer");
  clearInterval(sender);
  t.is(b.received[0]![0], a.transport.localAddr);
  t.is(a.transport.peerStates()[bAddr], "open");
  t.true(a.transport.counters.dials >= 3, `dials ${a.transport.counters.dials}`);
});

test("messages wait for a dial in a bounded queue that keeps the newest; a failed dial drops them", async (t) => {
  const port = await deadPort();
  const a = await endpoint(t, 0, { queueMessagesMax: 100, backoff: { baseMs: 10, capMs: 50 } });
  const bAddr = `127.0.0.1:${port}`;
  const burst = (first: number) => {
    for (let commit = first; commit < first + 2_000; commit++) a.transport.send(bAddr, heartbeat(a.transport.localAddr, bAddr, commit));
  };
  burst(1);
  t.is(a.transport.counters.dropped["queue-full"], 1_900);
  await eventually(() => a.transport.counters.dialFailures === 1, "the dial to fail");
  t.is(a.transport.counters.dropped.unreachable, 100, "what waited for the failed dial is dropped");
  await eventually(() => a.transport.peerStates()[bAddr] === "idle", "the backoff to pass");
  t.is(a.transport.counters.dials, 1, "no redial while nothing is waiting (a removed server is left alone)");
  const b = await endpoint(t, port);
  burst(10_001);
  await eventually(() => b.received.length >= 100, "the newest 100 to be delivered");
  t.deepEqual(b.received.map(([, m]) => m.commit), Array.from({ length: 100 }, (_, i) => 11_901 + i));
  t.is(a.transport.counters.dropped["queue-full"], 3_800);
});

test("sends that cannot go anywhere are counted, never thrown", async (t) => {
  const a = await endpoint(t);
  t.notThrows(() => a.transport.send("no port here", heartbeat(a.transport.localAddr, "no port here", 1)));
  t.notThrows(() => a.transport.send(a.transport.localAddr, heartbeat(a.transport.localAddr, a.transport.localAddr, 1)));
  await a.transport.close();
  t.notThrows(() => a.transport.send("127.0.0.1:1", heartbeat(a.transport.localAddr, "127.0.0.1:1", 1)));
  t.deepEqual(a.transport.counters.dropped, { "bad-address": 1, "to-self": 1, closed: 1 });
  t.is(a.lines.filter((l) => /not ip:port/.test(l.msg)).length, 1, "a bad address is logged once");
});

/** A Raft stream's opening: the type byte and a hello from `addr`. */
const opening = (addr: string) => concatBytes([new Uint8Array([StreamType.raft]), encodeFrame(FrameKind.hello, encodeHello(addr))]);
const raftFrame = (value: unknown) => encodeFrame(FrameKind.raftMessage, encodePayload(value));
const mallory = "127.0.0.9:9999";
const snapshotOf = (from: string, to: string, dataBytes: number): Message => ({
  type: "snapshot", from, to, term: 2, snapshot: { meta: { index: 5, term: 2, conf: { voters: [from, to], learners: [] } }, data: new Uint8Array(dataBytes) },
});

const badStreams: [string, (self: string) => Uint8Array, boolean, RegExp][] = [
  ["garbage bytes", () => concatBytes([new Uint8Array([StreamType.raft]), new TextEncoder().encode("\x00\x00garbage garbage")]), false, /bad-version/],
  ["a wrong stream type byte", () => new Uint8Array([0x99, 1, 2, 3]), false, /unknown stream type byte 0x99/],
  ["an oversized frame", () => concatBytes([opening(mallory), new Uint8Array([0x40, 0, 0, 0, 1, FrameKind.raftMessage])]), false, /oversized-frame/],
  ["a truncated frame", (self) => concatBytes([opening(mallory), raftFrame(heartbeat(mallory, self, 1)).subarray(0, 12)]), true, /truncated/],
  ["a message before the hello", (self) => concatBytes([new Uint8Array([StreamType.raft]), raftFrame(heartbeat(mallory, self, 1))]), false, /want a hello/],
  ["a hello of another protocol version", () => concatBytes([new Uint8Array([StreamType.raft]), encodeFrame(FrameKind.hello, encodePayload({ proto: 2, addr: mallory }))]), false, /hello protocol 2/],
  ["an invalid Raft message (negative term)", (self) => concatBytes([opening(mallory), raftFrame({ ...heartbeat(mallory, self, 1), term: -1 })]), false, /invalid Raft message .*bad term -1/],
  ["an append whose entries skip an index", (self) => concatBytes([opening(mallory), raftFrame({
    type: "append", from: mallory, to: self, term: 2, index: 1, logTerm: 1, commit: 1,
    entries: [{ term: 2, index: 3, type: "normal", data: new Uint8Array() }],
  })]), false, /entry 0 index 3 not consecutive/],
  ["a message addressed to another server", () => concatBytes([opening(mallory), raftFrame(heartbeat(mallory, "127.0.0.1:1", 1))]), false, /addressed to 127.0.0.1:1/],
  ["a snapshot chunk without a head", () => concatBytes([opening(mallory), encodeFrame(FrameKind.snapshotChunk, new Uint8Array(10))]), false, /without a snapshot head/],
  ["snapshot chunks beyond the size announced", (self) => concatBytes([opening(mallory), encodeFrame(FrameKind.snapshotHead, encodeSnapshotHead(snapshotOf(mallory, self, 8))),
    encodeFrame(FrameKind.snapshotChunk, new Uint8Array(6)), encodeFrame(FrameKind.snapshotChunk, new Uint8Array(6))]), false, /exceed the 8 bytes announced/],
  ["a message in the middle of a snapshot", (self) => concatBytes([opening(mallory), encodeFrame(FrameKind.snapshotHead, encodeSnapshotHead(snapshotOf(mallory, self, 8))),
    encodeFrame(FrameKind.snapshotChunk, new Uint8Array(4)), raftFrame(heartbeat(mallory, self, 1))]), false, /in the middle of a snapshot/],
  ["a snapshot head announcing more than the limit", (self) => concatBytes([opening(mallory),
    encodeFrame(FrameKind.snapshotHead, encodePayload({ message: snapshotOf(mallory, self, 0), dataBytes: 2 ** 40 }))]), false, /oversized-message: snapshot of 1099511627776 bytes/],
  ["a snapshot head addressed to another server", () => concatBytes([opening(mallory),
    encodeFrame(FrameKind.snapshotHead, encodeSnapshotHead(snapshotOf(mallory, "127.0.0.1:1", 100)))]), false, /addressed to 127.0.0.1:1/],
  ["a message whose sender is not the hello's", (self) => concatBytes([opening(mallory), raftFrame(heartbeat("127.0.0.8:1", self, 1))]), false, /on the stream of 127.0.0.9:9999/],
];
for (const [name, bytesFor, end, reason] of badStreams) {
  test(`bad Raft stream closed with a logged reason, others still served: ${name}`, async (t) => {
    const [a, b] = await Promise.all([endpoint(t), endpoint(t)]);
    const self = b!.transport.localAddr;
    t.is(await rawExchange(b!.server.port, bytesFor(self), { end }), "closed");
    await eventually(() => b!.reasons().some((r) => reason.test(r)), `a warning matching ${reason}`);
    t.deepEqual(b!.received, [], "nothing from the bad stream was delivered");
    a!.transport.send(self, heartbeat(a!.transport.localAddr, self, 7));
    await eventually(() => b!.received.length === 1, "a good peer's message");
    t.is(b!.received[0]![0], a!.transport.localAddr);
  });
}

test("data sent back on an outgoing Raft stream closes it, and the next message redials", async (t) => {
  const a = await endpoint(t, 0, { backoff: { baseMs: 5, capMs: 20 } });
  const log = recordingLogger();
  // A fake peer that answers on our own stream, which no Praetor server does.
  const fake = await RpcServer.listen({ host: "127.0.0.1", port: 0, logger: log.logger });
  t.teardown(() => fake.close());
  fake.acceptRaft((conn, leading) => {
    conn.start({ onMessage: () => conn.send(FrameKind.raftMessage, new Uint8Array([0xc0])), onClose: () => {} }, leading);
  });
  a.transport.send(fake.addr, heartbeat(a.transport.localAddr, fake.addr, 1));
  await eventually(() => a.lines.some((l) => /data on an outgoing Raft stream/.test(String(l.fields.reason))), "the outgoing stream to be closed");
  await eventually(() => {
    a.transport.send(fake.addr, heartbeat(a.transport.localAddr, fake.addr, 2));
    return a.transport.counters.dials >= 2;
  }, "a redial");
  t.pass();
});

test("a peer that stops reading gets new messages dropped once its backlog passes the limit", async (t) => {
  // A peer that accepts and never reads: the kernel's buffers fill, then our socket's backlog.
  const stuck = net.createServer((socket) => socket.pause());
  await new Promise<void>((resolve) => stuck.listen(0, "127.0.0.1", resolve));
  const sockets: net.Socket[] = [];
  stuck.on("connection", (socket) => sockets.push(socket));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => stuck.close(() => resolve()));
  });
  const to = `127.0.0.1:${(stuck.address() as net.AddressInfo).port}`;
  const a = await endpoint(t, 0, { writeBufferBytesMax: 1024 * 1024 });
  await eventually(() => {
    a.transport.send(to, heartbeat(a.transport.localAddr, to, 0));
    return a.transport.peerStates()[to] === "open";
  }, "the connection to open");
  const entry = { term: 1, index: 1, type: "normal" as const, data: new Uint8Array(256 * 1024) };
  for (let i = 0; i < 400; i++) {
    a.transport.send(to, { type: "append", from: a.transport.localAddr, to, term: 1, index: 0, logTerm: 0, commit: 0, entries: [entry] });
    await new Promise((resolve) => setImmediate(resolve));
  }
  const dropped = a.transport.counters.dropped.backpressure ?? 0;
  t.true(dropped > 0, `dropped ${dropped} of 400 appends of 256 KiB`);
  t.true(dropped < 400, "the first ones were written");
});
