import test from "ava";
import net from "node:net";
import { ApiError } from "../../src/agent/api.ts";
import { kvPutFastCounters } from "../../src/http/kv-put-fast.ts";
import { startApi, type Api } from "./harness.ts";

/** Sends raw request bytes and returns the raw response, its Date header blanked (it ticks). */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.end(request));
    let out = "";
    socket.on("data", (chunk: Buffer) => (out += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve(out.replace(/^Date: .*\r\n/m, "Date: -\r\n")));
  });
}

/** The lean path's answer to `PUT path` and koa's to the same request with `?flags=0`, which means the same. */
async function bothPaths(api: Api, path: string, headers: string, body: string): Promise<{ lean: string; koa: string }> {
  const request = (target: string) => `PUT ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const before = kvPutFastCounters.taken;
  const lean = await raw(api.port, request(path));
  const taken = kvPutFastCounters.taken - before;
  const koa = await raw(api.port, request(`${path}?flags=0`));
  if (taken !== 1 || kvPutFastCounters.taken - before !== 1) throw new Error(`lean path taken ${taken} then ${kvPutFastCounters.taken - before - taken} times, want 1 then 0`);
  return { lean, koa };
}

test.serial("kv PUT lean path: the same bytes as the koa route, and the same write reaches the agent", async (t) => {
  const api = await startApi(t);
  api.backend.recordCalls = true;
  const { lean, koa } = await bothPaths(api, "/v1/kv/app/%E2%9C%93%20x", "X-Consul-Token: tok\r\n", "héllo");
  t.is(lean, koa);
  t.regex(lean, /^HTTP\/1\.1 200 OK\r\nContent-Type: application\/json; charset=utf-8\r\nContent-Length: 4\r\n/);
  t.true(lean.endsWith("\r\n\r\ntrue"));
  const writes = api.backend.calls.filter((c) => c.method === "write");
  t.is(writes.length, 2);
  t.deepEqual(writes[0]!.args, writes[1]!.args);
  t.like(writes[0]!.args[0] as object, { op: "kv", Verb: "set", Key: "app/✓ x", Flags: 0 });
  t.is(Buffer.from((writes[0]!.args[0] as { Value: Uint8Array }).Value).toString(), "héllo");
  t.deepEqual(writes[0]!.args[1], { token: "tok" });
});

test.serial("kv PUT lean path: errors (agent's, unexpected, txn-style, too large) answer as the koa route does", async (t) => {
  const api = await startApi(t);
  const failures: unknown[] = [
    new ApiError(500, "No cluster leader"),
    new ApiError(409, "conflict", [{ OpIndex: 0, What: "no" }]),
    new Error("boom"),
    new Error(""),
  ];
  for (const failure of failures) {
    api.backend.write = async () => { throw failure; };
    const { lean, koa } = await bothPaths(api, "/v1/kv/k", "", "v");
    t.is(lean, koa);
  }
  t.is(api.logged.filter((l) => l.level === "error").length, 4, "each unexpected error logged once per path");
  const tooLarge = await bothPaths(api, "/v1/kv/k", "", "x".repeat(512 * 1024 + 1));
  t.is(tooLarge.lean, tooLarge.koa);
  t.regex(tooLarge.lean, /^HTTP\/1\.1 413 Payload Too Large\r\n/);
});

test.serial("kv PUT lean path: leaves query strings, an empty key and bad percent-encoding to the koa routes", async (t) => {
  const api = await startApi(t);
  const before = kvPutFastCounters.taken;
  t.is((await api.put("/v1/kv/a?cas=0", "1")).text, "true");
  t.is((await api.put("/v1/kv/", "1")).status, 400);
  t.is((await api.put("/v1/kv/%E2%9C", "1")).status, 400);
  t.is((await api.call("POST", "/v1/kv/a", "1")).status, 405);
  t.is(kvPutFastCounters.taken, before);
  t.is((await api.put("/v1/kv/a", "1")).text, "true");
  t.is(kvPutFastCounters.taken, before + 1);
});
