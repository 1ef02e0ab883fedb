/**
 * Request/response over the server RPC port (stream type 0x02) on loopback: calls share one
 * connection and are answered in the order their handlers finish; timeouts, cancellations,
 * handler errors, unknown methods, a server that is down or goes away, and bad bytes each end the
 * way the caller was promised, and the server keeps serving everyone else.
 */
import net from "node:net";
import test from "ava";
import { RpcClient } from "../../src/transports/rpc/client.ts";
import { RpcBindError, RpcError } from "../../src/transports/rpc/errors.ts";
import { FrameKind, StreamType, encodeFrame } from "../../src/transports/rpc/frame.ts";
import { encodePayload } from "../../src/transports/rpc/codec.ts";
import { RpcServer, type RpcServerOptions } from "../../src/transports/rpc/server.ts";
import { concatBytes, deadPort, eventually, rawExchange, recordingLogger, sleep } from "./rpc-helpers.ts";

async function startServer(t: { teardown(fn: () => unknown): void }, options: RpcServerOptions = {}) {
  const log = recordingLogger();
  const server = await RpcServer.listen({ host: "127.0.0.1", port: 0, logger: log.logger, ...options });
  t.teardown(() => server.close());
  server.handle("echo", (body) => body);
  server.handle("sleep", async (body) => {
    const { ms, tag } = body as { ms: number; tag: string };
    await sleep(ms);
    return tag;
  });
  return { server, log };
}

function startClient(t: { teardown(fn: () => unknown): void }, options = {}) {
  const client = new RpcClient(options);
  t.teardown(() => client.close());
  return client;
}

const rpcError = (error: unknown) => {
  if (!(error instanceof RpcError)) throw new Error(`expected an RpcError, got ${String(error)}`);
  return { status: error.status, kind: error.kind, message: error.message };
};

test("100 concurrent calls on one connection each get their own answer", async (t) => {
  const { server } = await startServer(t);
  const client = startClient(t);
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => client.call(server.addr, "echo", { i, bytes: new Uint8Array([i]) })));
  t.deepEqual(answers, Array.from({ length: 100 }, (_, i) => ({ i, bytes: new Uint8Array([i]) })));
  t.is(server.counters.connections, 1, "one connection per server, reused");
  t.is(server.counters.requests, 100);
  t.deepEqual(client.connectedServers, [server.addr]);
});

test("answers come back as handlers finish: a slow call holds up no later call", async (t) => {
  const { server } = await startServer(t);
  const client = startClient(t);
  const order: string[] = [];
  await Promise.all([["slow", 400], ["fast", 10], ["middle", 150]].map(async ([tag, ms]) => {
    order.push(await client.call(server.addr, "sleep", { ms, tag }) as string);
  }));
  t.deepEqual(order, ["fast", "middle", "slow"]);
  t.is(server.counters.connections, 1);
});

test.serial("a call past its timeout rejects with 504 and the server's handler sees the cancellation", async (t) => {
  const { server } = await startServer(t);
  let aborted: unknown = null;
  let seenTimeoutMs: number | undefined;
  server.handle("block", (_body, meta) => new Promise((resolve) => {
    seenTimeoutMs = meta.timeoutMs;
    meta.signal.addEventListener("abort", () => {
      aborted = meta.signal.reason;
      resolve("too late");
    });
  }));
  const client = startClient(t);
  t.is(await client.call(server.addr, "echo", "warm"), "warm", "the connection is open before the clock starts");
  const started = Date.now();
  const error = await t.throwsAsync(client.call(server.addr, "block", null, { timeoutMs: 150 }));
  const elapsedMs = Date.now() - started;
  t.like(rpcError(error), { status: 504, kind: "timeout" });
  t.true(elapsedMs >= 140 && elapsedMs < 3_000, `rejected after ${elapsedMs} ms`);
  // On a loaded machine the request may reach the handler only after the caller gave up; the
  // cancel frame follows it on the same connection, so the handler still starts, then is aborted.
  await eventually(() => seenTimeoutMs !== undefined, "the handler to start");
  t.is(seenTimeoutMs, 150, "the handler is told how long the caller waits");
  await eventually(() => aborted !== null, "the handler's signal to abort");
  t.like(rpcError(aborted), { kind: "cancelled" });
  t.is(await client.call(server.addr, "echo", "still fine"), "still fine", "the connection survives a timeout");
});

test("a caller's AbortSignal cancels its call", async (t) => {
  const { server } = await startServer(t);
  const client = startClient(t);
  const controller = new AbortController();
  const call = client.call(server.addr, "sleep", { ms: 5_000, tag: "x" }, { signal: controller.signal });
  setTimeout(() => controller.abort(), 30);
  t.like(rpcError(await t.throwsAsync(call)), { kind: "cancelled" });
  t.like(rpcError(await t.throwsAsync(client.call(server.addr, "echo", 1, { signal: controller.signal }))), { kind: "cancelled" });
});

test("handler errors travel back with their status; unknown methods are 404", async (t) => {
  const { server } = await startServer(t);
  server.handle("conflict", () => {
    throw new RpcError(409, "index changed");
  });
  server.handle("crash", async () => {
    throw new Error("disk on fire");
  });
  server.handle("weird", () => {
    throw Object.assign(new Error("status out of range"), { status: 200 });
  });
  const client = startClient(t);
  t.deepEqual(rpcError(await t.throwsAsync(client.call(server.addr, "conflict", {}))), { status: 409, kind: "remote", message: "index changed" });
  t.deepEqual(rpcError(await t.throwsAsync(client.call(server.addr, "crash", {}))), { status: 500, kind: "remote", message: "disk on fire" });
  t.like(rpcError(await t.throwsAsync(client.call(server.addr, "weird", {}))), { status: 500 });
  t.deepEqual(rpcError(await t.throwsAsync(client.call(server.addr, "nope", {}))), { status: 404, kind: "remote", message: 'unknown RPC method "nope"' });
  t.is(await client.call(server.addr, "echo", null), null);
});

test("a result that cannot be encoded is a 500, not a hang", async (t) => {
  const { server } = await startServer(t);
  // Bigints are encodable (KV flags above 2^53 - 1 travel as an extension): a symbol is not.
  server.handle("symbol", () => Symbol("unencodable"));
  const client = startClient(t);
  t.like(rpcError(await t.throwsAsync(client.call(server.addr, "symbol", {}, { timeoutMs: 10_000 }))), { status: 500, kind: "remote" });
  t.like(rpcError(await t.throwsAsync(client.call(server.addr, "echo", { n: Symbol("unencodable") }))), { kind: "encode" });
});

test.serial("a server that is down fails the call at once, as unreachable", async (t) => {
  const client = startClient(t);
  const port = await deadPort();
  const started = Date.now();
  const error = rpcError(await t.throwsAsync(client.call(`127.0.0.1:${port}`, "echo", 1, { timeoutMs: 10_000 })));
  t.like(error, { status: 503, kind: "unreachable" });
  t.regex(error.message, /ECONNREFUSED/);
  t.true(Date.now() - started < 3_000, `rejected after ${Date.now() - started} ms`);
  t.like(rpcError(await t.throwsAsync(client.call("not an address", "echo", 1))), { kind: "unreachable" });
});

test("a server going away fails its calls in flight as disconnected; the next call redials", async (t) => {
  const { server } = await startServer(t);
  const port = server.port;
  const client = startClient(t);
  let started = false;
  server.handle("hang", () => {
    started = true;
    return new Promise(() => {});
  });
  const inFlight = client.call(server.addr, "hang", null);
  await eventually(() => started, "the handler to start");
  await server.close();
  t.like(rpcError(await t.throwsAsync(inFlight)), { status: 503, kind: "disconnected" });
  const again = await RpcServer.listen({ host: "127.0.0.1", port });
  t.teardown(() => again.close());
  again.handle("echo", (body) => ({ body, from: "again" }));
  t.deepEqual(await client.call(`127.0.0.1:${port}`, "echo", 7), { body: 7, from: "again" });
});

test("closing the client fails its waiting calls", async (t) => {
  const { server } = await startServer(t);
  const client = new RpcClient();
  const waiting = client.call(server.addr, "sleep", { ms: 5_000, tag: "x" });
  await sleep(30);
  client.close();
  t.like(rpcError(await t.throwsAsync(waiting)), { kind: "closed" });
  t.like(rpcError(await t.throwsAsync(client.call(server.addr, "echo", 1))), { kind: "closed" });
});

test("bodies and results larger than a frame are sent in parts", async (t) => {
  const { server } = await startServer(t, { framePayloadBytesMax: 64 * 1024 });
  const client = startClient(t, { framePayloadBytesMax: 64 * 1024 });
  const big = new Uint8Array(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const echoed = await client.call(server.addr, "echo", { big }) as { big: Uint8Array };
  t.is(echoed.big.length, big.length);
  t.is(Buffer.compare(echoed.big, big), 0, "the same bytes came back");
});

test("more requests in flight than allowed on one connection are answered 429", async (t) => {
  const { server } = await startServer(t, { inflightPerConnectionMax: 2 });
  const client = startClient(t);
  const calls = [1, 2, 3].map((i) => client.call(server.addr, "sleep", { ms: 100, tag: String(i) }).catch((e: unknown) => rpcError(e).status));
  t.deepEqual(await Promise.all(calls), ["1", "2", 429]);
});

test("binding a port in use names the port and EADDRINUSE", async (t) => {
  const { server } = await startServer(t);
  const error = await t.throwsAsync(RpcServer.listen({ host: "127.0.0.1", port: server.port }), { instanceOf: RpcBindError });
  t.is(error?.code, "EADDRINUSE");
  t.is(error?.port, server.port);
  t.regex(error!.message, new RegExp(`server RPC port ${server.port} on 127.0.0.1 is already in use \\(EADDRINUSE\\)`));
  t.throws(() => new RpcServer({ port: 70_000 }), { instanceOf: RangeError });
});

const rpcFrame = (kind: number, value: unknown) => encodeFrame(kind, encodePayload(value));
const badStreams: [string, Uint8Array, boolean, RegExp][] = [
  ["an unknown stream type byte", new Uint8Array([0x47, 0x45, 0x54, 0x20]), false, /unknown stream type byte 0x47/],
  ["garbage after the RPC type byte", concatBytes([new Uint8Array([StreamType.rpc]), new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")]), false, /bad-version/],
  ["an oversized frame", concatBytes([new Uint8Array([StreamType.rpc, 0x7f, 0, 0, 0, 1, FrameKind.request])]), false, /oversized-frame/],
  ["a truncated frame", concatBytes([new Uint8Array([StreamType.rpc]), rpcFrame(FrameKind.request, { seq: 1, method: "echo", body: 1 }).subarray(0, 9)]), true, /truncated/],
  ["a request that is not MessagePack", concatBytes([new Uint8Array([StreamType.rpc]), encodeFrame(FrameKind.request, new Uint8Array([0xc1]))]), false, /bad-payload/],
  ["a request without a method", concatBytes([new Uint8Array([StreamType.rpc]), rpcFrame(FrameKind.request, { seq: 1 })]), false, /without a method/],
  ["a response frame sent to the server", concatBytes([new Uint8Array([StreamType.rpc]), rpcFrame(FrameKind.response, { seq: 1 })]), false, /unexpected-frame/],
  ["a Raft stream on a server with no Raft transport", new Uint8Array([StreamType.raft, 0, 0]), false, /no Raft transport/],
];
for (const [name, bytes, end, reason] of badStreams) {
  test(`bad input closes that connection with a logged reason, and the server serves others: ${name}`, async (t) => {
    const { server, log } = await startServer(t);
    const client = startClient(t);
    t.is(await client.call(server.addr, "echo", "before"), "before");
    t.is(await rawExchange(server.port, bytes, { end }), "closed");
    await eventually(() => log.reasons().some((r) => reason.test(r)), `a warning matching ${reason}`);
    t.is(server.counters.rejected, 1);
    t.is(await client.call(server.addr, "echo", "after"), "after", "the server still serves the other connection");
    t.is(await startClient(t).call(server.addr, "echo", "new"), "new", "and accepts new connections");
  });
}

test("a connection that never names its stream type is closed after the handshake timeout", async (t) => {
  const { server, log } = await startServer(t, { handshakeTimeoutMs: 100 });
  t.is(await rawExchange(server.port, new Uint8Array(), { timeoutMs: 2_000 }), "closed");
  t.true(log.reasons().some((r) => /no stream type byte within 100 ms/.test(r)));
});

test("a server that goes silent without closing is pinged after a timeout, and the connection dropped", async (t) => {
  // A black hole: it accepts the connection and reads, but never answers (a frozen or partitioned server).
  const silent = net.createServer((socket) => socket.on("data", () => {}));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => silent.close(() => resolve())));
  let accepted = 0;
  silent.on("connection", (socket) => {
    accepted++;
    t.teardown(() => socket.destroy());
  });
  const addr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  const client = startClient(t, { probeTimeoutMs: 200 });
  const longCall = client.call(addr, "watch", null, { timeoutMs: 60_000 });
  await eventually(() => accepted === 1, "the connection to be accepted");
  await sleep(50);
  t.like(rpcError(await t.throwsAsync(client.call(addr, "echo", 1, { timeoutMs: 100 }))), { kind: "timeout" });
  const started = Date.now();
  const longError = rpcError(await t.throwsAsync(longCall));
  t.like(longError, { kind: "disconnected", status: 503 });
  t.regex(longError.message, /did not answer a ping within 200 ms/);
  t.true(Date.now() - started < 5_000, "the long call failed when the ping did, not after its own 60 s");
  t.deepEqual(client.connectedServers, []);
  void client.call(addr, "echo", 1, { timeoutMs: 50 }).catch(() => {});
  await eventually(() => accepted === 2, "the next call to dial a new connection");
  t.pass();
});

test("a connection full of calls in flight: the next call opens another to the same server instead of being refused", async (t) => {
  const { server } = await startServer(t, { inflightPerConnectionMax: 3 });
  const client = startClient(t, { callsPerConnectionMax: 3 });
  const calls = Array.from({ length: 8 }, (_, i) => client.call(server.addr, "sleep", { ms: 150, tag: String(i) }).catch((e: unknown) => rpcError(e).status));
  t.is(client.connectionCount(server.addr), 3, "8 calls at 3 a connection");
  t.deepEqual(await Promise.all(calls), ["0", "1", "2", "3", "4", "5", "6", "7"], "none answered 429");
  t.is(server.counters.connections, 3);
  t.deepEqual(client.connectedServers, [server.addr]);
  t.is(await client.call(server.addr, "echo", "later"), "later", "later calls reuse the first connection");
  t.is(server.counters.connections, 3);
  t.throws(() => new RpcClient({ callsPerConnectionMax: 0 }), { instanceOf: RangeError });
});
