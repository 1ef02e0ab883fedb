import test from "ava";
import type net from "node:net";
import { FramedSocket, silentLogger } from "../../src/transports/rpc/conn.ts";
import { FrameKind } from "../../src/transports/rpc/frame.ts";

/** Records the order of cork, write and uncork calls; the kernel sees one write per uncork. */
function fakeSocket(): { socket: net.Socket; calls: string[] } {
  const calls: string[] = [];
  let corked = 0;
  const socket = {
    cork: () => { corked++; calls.push("cork"); },
    uncork: () => { corked--; calls.push("uncork"); },
    write: () => { calls.push(corked > 0 ? "write(corked)" : "write"); return true; },
    on: () => socket,
    destroy: () => {},
    writableLength: 0,
  };
  return { socket: socket as unknown as net.Socket, calls };
}

const options = { limits: { framePayloadBytesMax: 1024, messageBytesMax: 4096 }, framePayloadBytes: 1024, logger: silentLogger, stream: "test", remote: "peer" };
const afterTick = () => new Promise<void>((resolve) => process.nextTick(resolve));
const afterTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test("FramedSocket: by default the writes of one callback leave together at its end", async (t) => {
  const { socket, calls } = fakeSocket();
  const conn = new FramedSocket(socket, options);
  conn.send(FrameKind.request, new Uint8Array([1]));
  conn.send(FrameKind.request, new Uint8Array([2]));
  await afterTick();
  conn.send(FrameKind.request, new Uint8Array([3]));
  await afterTurn();
  t.deepEqual(calls, ["cork", "write(corked)", "write(corked)", "uncork", "cork", "write(corked)", "uncork"]);
});

test("FramedSocket: coalesce 'turn' keeps writes from later callbacks of the same turn in the same write", async (t) => {
  const { socket, calls } = fakeSocket();
  const conn = new FramedSocket(socket, { ...options, coalesce: "turn" });
  conn.send(FrameKind.request, new Uint8Array([1]));
  await afterTick();
  conn.send(FrameKind.request, new Uint8Array([2]));
  t.deepEqual(calls, ["cork", "write(corked)", "write(corked)"], "nothing leaves before the turn ends");
  await afterTurn();
  t.deepEqual(calls, ["cork", "write(corked)", "write(corked)", "uncork"]);
  conn.send(FrameKind.request, new Uint8Array([3]));
  await afterTurn();
  t.deepEqual(calls.slice(4), ["cork", "write(corked)", "uncork"], "the next turn corks afresh");
});
