import test from "ava";
import net from "node:net";
import { ApiError } from "../../src/agent/api.ts";
import { blockingGetFastCounters } from "../../src/http/blocking-fast.ts";
import { startApi, type Api } from "./harness.ts";

/** Sends raw request bytes and returns the raw response, its Date header blanked (it ticks). */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(request));
    let out = "";
    socket.on("data", (chunk: Buffer) => {
      out += chunk.toString("latin1");
      // Keep-alive: the connection stays open; one whole answer (headers + Content-Length bytes) ends the read.
      const end = out.indexOf("\r\n\r\n");
      const length = /\r\nContent-Length: (\d+)\r\n/i.exec(out);
      if (end >= 0 && length !== null && out.length >= end + 4 + Number(length[1])) socket.destroy();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(out.replace(/^Date: .*\r\n/gm, "Date: -\r\n")));
  });
}

/**
 * The lean path's answer to `GET path?query` and koa's to the same request with `&token=` added
 * (an empty token parameter means "none", so the request means the same).
 */
async function bothPaths(api: Api, path: string, query: string, headers = ""): Promise<{ lean: string; koa: string }> {
  const request = (target: string) => `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;
  const before = blockingGetFastCounters.taken;
  const lean = await raw(api.port, request(`${path}?${query}`));
  const taken = blockingGetFastCounters.taken - before;
  const koa = await raw(api.port, request(`${path}?${query}&token=`));
  if (taken !== 1 || blockingGetFastCounters.taken - before !== 1) throw new Error(`lean path taken ${taken} then ${blockingGetFastCounters.taken - before - taken} times, want 1 then 0`);
  return { lean, koa };
}

test.serial("blocking kv GET lean path: the same bytes as the koa route for a hit, a miss, and the keep-alive headers", async (t) => {
  const api = await startApi(t);
  t.is((await api.put("/v1/kv/app/%E2%9C%93", "héllo")).status, 200);
  const hit = await bothPaths(api, "/v1/kv/app/%E2%9C%93", "index=1&wait=1s", "X-Consul-Token: tok\r\n");
  t.is(hit.lean, hit.koa);
  t.regex(hit.lean, /^HTTP\/1\.1 200 OK\r\nX-Consul-Index: \d+\r\nX-Consul-KnownLeader: true\r\nX-Consul-LastContact: 0\r\nX-Consul-Effective-Consistency: leader\r\nContent-Type: application\/json; charset=utf-8\r\nContent-Length: \d+\r\nDate: -\r\nConnection: keep-alive\r\nKeep-Alive: timeout=65\r\n\r\n\[\{/);
  t.true(hit.lean.includes(`"Key":"app/✓"`.replace("✓", Buffer.from("✓").toString("latin1"))));
  const miss = await bothPaths(api, "/v1/kv/none", "wait=1s&index=1");
  t.is(miss.lean, miss.koa);
  t.regex(miss.lean, /^HTTP\/1\.1 404 Not Found\r\nX-Consul-Index: /);
  const query = api.backend.calls.filter((c) => c.method === "query").slice(-4);
  t.deepEqual(query[0]!.args[0], query[1]!.args[0]);
  t.like(query[0]!.args[1] as object, { token: "tok", index: 1, waitMs: 1000, consistency: "default" });
  t.like(query[1]!.args[1] as object, { token: "tok", index: 1, waitMs: 1000, consistency: "default" });
});

test.serial("blocking kv GET lean path: 64-bit flags (api.Lock's) are written digit for digit, as the koa route writes them", async (t) => {
  const api = await startApi(t);
  t.is((await api.put("/v1/kv/lock/.lock?flags=3304740253564472344", "held")).status, 200);
  const hit = await bothPaths(api, "/v1/kv/lock/.lock", "index=1&wait=1s");
  t.is(hit.lean, hit.koa);
  t.regex(hit.lean, /^HTTP\/1\.1 200 /);
  t.true(hit.lean.includes('"Flags":3304740253564472344'), hit.lean);
});

test.serial("blocking kv GET lean path: errors (agent's, unexpected, a malformed index) answer as the koa route does", async (t) => {
  const api = await startApi(t);
  for (const failure of [new ApiError(500, "No cluster leader"), new Error("boom")]) {
    api.backend.query = async () => { throw failure; };
    const { lean, koa } = await bothPaths(api, "/v1/kv/k", "index=3");
    t.is(lean, koa);
    t.regex(lean, /^HTTP\/1\.1 500 /);
  }
  const bad = await bothPaths(api, "/v1/kv/k", "index=abc");
  t.is(bad.lean, bad.koa);
  t.regex(bad.lean, /^HTTP\/1\.1 400 /);
});

test.serial("blocking kv GET lean path: watchers woken by one write share one encoding and get the new value", async (t) => {
  const api = await startApi(t);
  const index = (await api.put("/v1/kv/hot", "0")).status === 200 ? Number((await api.get("/v1/kv/hot")).headers.get("x-consul-index")) : 0;
  t.true(index > 0);
  // The agent hands every watcher one write wakes the same answer (query-share.ts, forwarded-queries.ts); the fake re-reads per call.
  const read = api.backend.query.bind(api.backend);
  const sharedAnswers = new Map<number, unknown>();
  api.backend.query = (async (query: Parameters<typeof read>[0], options: Parameters<typeof read>[1]) => {
    const result = await read(query, options);
    if (!sharedAnswers.has(result.meta.index)) sharedAnswers.set(result.meta.index, result);
    return sharedAnswers.get(result.meta.index);
  }) as typeof api.backend.query;
  const before = { ...blockingGetFastCounters };
  const watchers = Array.from({ length: 20 }, () => fetch(`${api.base}/v1/kv/hot?index=${index}&wait=10s`));
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is((await api.put("/v1/kv/hot", "1")).status, 200);
  const answers = await Promise.all(watchers.map(async (w) => { const res = await w; return { index: res.headers.get("x-consul-index"), body: await res.text() }; }));
  t.is(blockingGetFastCounters.taken - before.taken, 20);
  t.is(blockingGetFastCounters.encoded - before.encoded, 1, "one body and header list for the whole group");
  for (const answer of answers) {
    t.true(Number(answer.index) > index);
    t.is((JSON.parse(answer.body) as { Value: string }[])[0]!.Value, Buffer.from("1").toString("base64"));
  }
});

test.serial("blocking kv GET lean path: keep-alive and pipelined requests on one connection are answered in order", async (t) => {
  const api = await startApi(t);
  await api.put("/v1/kv/a", "A");
  await api.put("/v1/kv/b", "B");
  const out = await new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: api.port }, () => socket.write("GET /v1/kv/a?index=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/kv/b?index=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
  });
  const answers = out.split(/(?=HTTP\/1\.1 )/);
  t.is(answers.length, 2);
  t.regex(answers[0]!, /Connection: keep-alive\r\n[\s\S]*"Key":"a"/);
  t.regex(answers[1]!, /Connection: close\r\n[\s\S]*"Key":"b"/);
});

test.serial("blocking kv GET lean path: leaves other parameters, HEAD, plain GETs and an empty key to the koa routes", async (t) => {
  const api = await startApi(t);
  await api.put("/v1/kv/a", "A");
  const before = blockingGetFastCounters.taken;
  t.is((await api.get("/v1/kv/a?index=1&raw")).text, "A");
  t.is((await api.get("/v1/kv/a?index=1&keys")).status, 200);
  t.is((await api.get("/v1/kv/a?index=1&index=2")).status, 200);
  t.is((await api.get("/v1/kv/a")).status, 200);
  t.is((await api.get("/v1/kv/?index=1")).status, 400);
  t.is((await api.call("HEAD", "/v1/kv/a?index=1")).status, 200);
  t.is(blockingGetFastCounters.taken, before);
  t.is((await api.get("/v1/kv/a?index=1")).status, 200);
  t.is(blockingGetFastCounters.taken, before + 1);
});
