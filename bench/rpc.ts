/**
 * The server RPC port over loopback, with the peer in a second process (as another server would
 * be): Raft messages per second (appends answered by appendResp on the peer's own connection,
 * pipelined up to a window as the leader's in-flight limit allows), entries per second in full
 * 64-entry appends, a large snapshot message's MB/s, and RPC calls per second at several
 * concurrencies on one connection. Prints figures; asserts nothing.
 *
 *   node --import tsx bench/rpc.ts [--seconds 3]
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Entry, Message } from "../src/core/raft/types.ts";
import { RpcClient } from "../src/transports/rpc/client.ts";
import { RaftTcpTransport } from "../src/transports/rpc/raft-transport.ts";
import { RpcServer } from "../src/transports/rpc/server.ts";

const secondsArg = process.argv.indexOf("--seconds");
const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 3;

/** The peer: answers every append with an appendResp, and serves an "echo" RPC. */
async function peer(): Promise<void> {
  const server = await RpcServer.listen({ host: "127.0.0.1", port: 0 });
  server.handle("echo", (body) => body);
  const transport = new RaftTcpTransport({ server, localAddr: server.addr, closeServer: true });
  transport.onMessage((from, m) => {
    const lastIndex = m.type === "snapshot" ? m.snapshot!.meta.index : m.index! + (m.entries?.length ?? 0);
    transport.send(from, { type: "appendResp", from: transport.localAddr, to: from, term: m.term, index: lastIndex });
  });
  process.send!({ addr: server.addr });
  process.on("message", () => void transport.close().then(() => process.exit(0)));
}

/**
 * Each run sends in a term of its own and counts only answers in that term, so late answers to
 * the previous run's appends still in flight are not counted (or mistaken for a snapshot's).
 */
let runTerm = 0;

function append(from: string, to: string, index: number, entries: number, entryBytes: number): Message {
  const data = new Uint8Array(entryBytes).fill(7);
  const list: Entry[] = Array.from({ length: entries }, (_, i) => ({ term: runTerm, index: index + 1 + i, type: "normal", data }));
  return { type: "append", from, to, term: runTerm, index, logTerm: runTerm, commit: index, entries: list };
}

/** Keeps `window` appends in flight for `seconds`; returns messages (round trips) and entries per second. */
async function raftRun(transport: RaftTcpTransport, to: string, window: number, entriesPerMsg: number): Promise<{ msgsPerSec: number; entriesPerSec: number }> {
  runTerm++;
  let index = 0;
  let answered = 0;
  let done = false;
  const started = performance.now();
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const sendOne = () => {
    transport.send(to, append(transport.localAddr, to, index, entriesPerMsg, 128));
    index += entriesPerMsg;
  };
  transport.onMessage((_from, m) => {
    if (m.term !== runTerm) return;
    answered++;
    if (done) return;
    if (performance.now() - started >= seconds * 1000) {
      done = true;
      finish();
      return;
    }
    sendOne();
  });
  for (let i = 0; i < window; i++) sendOne();
  await finished;
  const elapsedS = (performance.now() - started) / 1000;
  return { msgsPerSec: answered / elapsedS, entriesPerSec: (answered * entriesPerMsg) / elapsedS };
}

async function snapshotRun(transport: RaftTcpTransport, to: string, megabytes: number): Promise<number> {
  const data = new Uint8Array(megabytes * 1024 * 1024).fill(3);
  const term = ++runTerm;
  const answered = new Promise<void>((resolve) => transport.onMessage((_from, m) => m.term === term && resolve()));
  const started = performance.now();
  transport.send(to, { type: "snapshot", from: transport.localAddr, to, term, snapshot: { meta: { index: 10, term, conf: { voters: [transport.localAddr, to], learners: [] } }, data } });
  await answered;
  return megabytes / ((performance.now() - started) / 1000);
}

async function rpcRun(client: RpcClient, addr: string, concurrency: number): Promise<number> {
  let calls = 0;
  const started = performance.now();
  const body = { key: "service/web/config", index: 42, stale: false };
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() - started < seconds * 1000) {
      await client.call(addr, "echo", body);
      calls++;
    }
  }));
  return calls / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ["--peer"], { execArgv: ["--import", "tsx"] });
  const peerAddr = await new Promise<string>((resolve) => child.once("message", (m) => resolve((m as { addr: string }).addr)));
  const server = await RpcServer.listen({ host: "127.0.0.1", port: 0 });
  const transport = new RaftTcpTransport({ server, localAddr: server.addr, closeServer: true });
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(`server RPC port over loopback, peer in another process, ${seconds} s per figure (node ${process.version})`);

  // Warm up the connections both ways and the JIT.
  await raftRun(transport, peerAddr, 16, 1);
  for (const window of [1, 64, 256]) {
    const r = await raftRun(transport, peerAddr, window, 1);
    console.log(`raft: 1-entry appends (128 B), ${window} in flight: ${fmt(r.msgsPerSec)} appends/s answered`);
  }
  const full = await raftRun(transport, peerAddr, 64, 64);
  console.log(`raft: 64-entry appends (128 B entries), 64 in flight: ${fmt(full.msgsPerSec)} appends/s, ${fmt(full.entriesPerSec)} entries/s`);
  console.log(`raft: one 64 MiB snapshot message in 1 MiB frames: ${fmt(await snapshotRun(transport, peerAddr, 64))} MiB/s`);

  const client = new RpcClient();
  await rpcRun(client, peerAddr, 8);
  for (const concurrency of [1, 16, 256]) {
    console.log(`rpc: echo calls on one connection, ${concurrency} in flight: ${fmt(await rpcRun(client, peerAddr, concurrency))} calls/s`);
  }
  client.close();
  await transport.close();
  child.send("stop");
}

if (process.argv.includes("--peer")) await peer();
else await main();
