/**
 * What one woken blocking GET's answer costs the agent, layer by layer: N keep-alive connections
 * each hold one GET (as N watchers of one key do), then all N are answered the way each variant
 * answers, `batch` per event-loop turn (as the agent wakes them). Prints the answering process's
 * CPU per answer (its own clock, all of it: promise chains, header building, the write syscall,
 * Node's 'finish' and keep-alive bookkeeping) and when the watchers' process saw the first, median
 * and last answer.
 *
 *   node --import tsx bench/blocking-answer.ts [--count 10000] [--batch 256] [--variants koa,node,writeHead,fast,raw]
 *
 * Variants, from the agent's old path down to the floor:
 *   koa        koa middleware awaiting the wake-up, setting the index headers, ctx.body = text (the old path's shape)
 *   node       plain http server: res.setHeader x6, res.end(text) (koa's layers gone)
 *   writeHead  res.writeHead(status, flat header array) + res.end(text)
 *   fast       src/http/blocking-fast.ts's writer: the group's header block and body encoded once, one string per answer
 *   raw        a net server writing one prebuilt Buffer per socket: no HTTP layer at all (the floor: syscall + TCP loopback)
 *
 * The watchers are raw net sockets in a child process that only timestamp the first byte, so
 * their own cost per answer is as small as Node allows (its share of the 2 cores is still there).
 */
import { fork } from "node:child_process";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import Koa from "koa";
import { EncodedAnswers } from "../src/http/blocking-fast.ts";

const host = "127.0.0.94";
const args = process.argv.slice(2);

function option(name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
}

function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

// ------------------------------------------------------------------ watcher process

async function watchers(port: number, count: number): Promise<void> {
  const got: number[] = [];
  const request = Buffer.from(`GET /v1/kv/bench/hot?index=5&wait=300s HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  const sockets: Socket[] = [];
  // The bench went away (or failed): nobody reads the figures any more.
  process.on("disconnect", () => process.exit(0));
  for (let i = 0; i < count; i++) {
    const socket = connect({ host, port, localAddress: `127.0.1.${(i % 200) + 1}` });
    socket.once("data", () => got.push(epochMs()));
    socket.on("error", (error) => process.send!({ error: error.message }));
    socket.write(request);
    sockets.push(socket);
    if (i % 500 === 499) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  process.send!({ opened: count });
  const done = setInterval(() => {
    if (got.length < count) return;
    clearInterval(done);
    got.sort((a, b) => a - b);
    process.send!({ first: got[0], median: got[Math.floor(count / 2)], last: got[count - 1] });
    for (const s of sockets) s.destroy();
  }, 5);
}

// ------------------------------------------------------------------ the answering side

type Answerer = { pending: (() => void)[]; close: () => void; port: number };

const text = JSON.stringify([{ LockIndex: 0, Key: "bench/hot", Flags: 0, Value: "djEwMDAw", CreateIndex: 5, ModifyIndex: 9 }]);
const meta: Record<string, string> = { "X-Consul-Index": "9", "X-Consul-KnownLeader": "true", "X-Consul-LastContact": "0", "X-Consul-Effective-Consistency": "leader" };

async function listenHttp(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ port: number; close: () => void }> {
  const server = createHttpServer(handler);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen({ host, port: 0, backlog: 4096 }, resolve));
  return { port: (server.address() as AddressInfo).port, close: () => { server.close(); server.closeAllConnections(); } };
}

async function variant(name: string): Promise<Answerer> {
  const pending: (() => void)[] = [];
  if (name === "koa") {
    const app = new Koa();
    app.use(async (ctx) => {
      await new Promise<void>((resolve) => pending.push(resolve));
      for (const [k, v] of Object.entries(meta)) ctx.res.setHeader(k, v);
      ctx.status = 200;
      ctx.type = "application/json";
      ctx.body = text;
    });
    const s = await listenHttp(app.callback());
    return { pending, ...s };
  }
  if (name === "node") {
    const s = await listenHttp((_req, res) => pending.push(() => {
      for (const [k, v] of Object.entries(meta)) res.setHeader(k, v);
      res.setHeader("Content-Type", "application/json");
      res.setHeader("Content-Length", String(Buffer.byteLength(text)));
      res.end(text);
    }));
    return { pending, ...s };
  }
  if (name === "writeHead") {
    const flat = [...Object.entries(meta).flat(), "Content-Type", "application/json", "Content-Length", String(Buffer.byteLength(text))];
    const s = await listenHttp((_req, res) => pending.push(() => {
      res.writeHead(200, flat);
      res.end(text);
    }));
    return { pending, ...s };
  }
  if (name === "fast") {
    const answers = new EncodedAnswers();
    const readMeta = { index: 9, knownLeader: true, lastContactMs: 0, consistency: "default" as const };
    const entry = { LockIndex: 0, Key: "bench/hot", Flags: 0, Value: Buffer.from("v10000"), CreateIndex: 5, ModifyIndex: 9 };
    const s = await listenHttp((_req, res) => pending.push(() => answers.write(res, readMeta, entry)));
    return { pending, ...s };
  }
  if (name === "raw") {
    const body = Buffer.from(`HTTP/1.1 200 OK\r\n${Object.entries(meta).map(([k, v]) => `${k}: ${v}\r\n`).join("")}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nDate: ${new Date().toUTCString()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=65\r\n\r\n${text}`);
    const server = createNetServer((socket) => socket.once("data", () => pending.push(() => socket.write(body))));
    await new Promise<void>((resolve) => server.listen({ host, port: 0, backlog: 4096 }, resolve));
    const sockets = new Set<Socket>();
    server.on("connection", (s) => sockets.add(s));
    return { pending, port: (server.address() as AddressInfo).port, close: () => { server.close(); for (const s of sockets) s.destroy(); } };
  }
  throw new Error(`unknown variant ${name}`);
}

async function main(): Promise<void> {
  const count = Number(option("count", "10000"));
  const batch = Number(option("batch", "256"));
  const variants = option("variants", "koa,node,writeHead,fast,raw").split(",");
  console.log(`bench/blocking-answer: node ${process.version}, ${count} watchers, ${batch} answers per turn, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  for (const name of variants) {
    const answerer = await variant(name);
    const child = fork(fileURLToPath(import.meta.url), ["--watchers", String(answerer.port), String(count)], { execArgv: ["--import", "tsx"] });
    const messages: Record<string, number | string>[] = [];
    child.on("message", (m: Record<string, number | string>) => messages.push(m));
    const until = async (check: () => boolean): Promise<void> => {
      while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await until(() => answerer.pending.length >= count || messages.some((m) => m.error !== undefined));
    if (answerer.pending.length < count) throw new Error(`watchers failed: ${JSON.stringify(messages.find((m) => m.error !== undefined))}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cpuFrom = process.cpuUsage();
    const sentAt = epochMs();
    const wake = (from: number): void => {
      const end = Math.min(count, from + batch);
      for (let i = from; i < end; i++) answerer.pending[i]!();
      if (end < count) setImmediate(() => wake(end));
    };
    wake(0);
    await until(() => messages.some((m) => m.last !== undefined));
    const cpu = process.cpuUsage(cpuFrom);
    const seen = messages.find((m) => m.last !== undefined)!;
    const cpuUs = cpu.user + cpu.system;
    const errors = messages.filter((m) => m.error !== undefined);
    console.log(`${name.padEnd(9)}: ${(cpuUs / count).toFixed(1)} µs CPU per answer (user ${(cpu.user / count).toFixed(1)}, system ${(cpu.system / count).toFixed(1)}); first ${(Number(seen.first) - sentAt).toFixed(1)} ms, median ${(Number(seen.median) - sentAt).toFixed(1)} ms, last ${(Number(seen.last) - sentAt).toFixed(1)} ms${errors.length > 0 ? `; ${errors.length} errors: ${String(errors[0]!.error)}` : ""}; load ${loadavg()[0]!.toFixed(2)}`);
    child.kill();
    answerer.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  process.exit(0);
}

// After every module-level constant above is initialised.
if (args[0] === "--watchers") await watchers(Number(args[1]), Number(args[2]));
else await main();
