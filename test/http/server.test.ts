import test from "ava";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { ApiError } from "../../src/agent/api.ts";
import { createHttpApi, notFoundMessage, startHttpServer } from "../../src/http/server.ts";
import { Router } from "../../src/http/routes.ts";
import { FakeBackend } from "./fake-backend.ts";
import { matrix, startApi } from "./harness.ts";

/** Tests that speak only HTTP run over the fake backend and against a real dev agent (127.0.5.x). */
const both = matrix(5);

both("routing: an unknown /v1 path is Consul's 404; a known path with another method is 405 with Allow", async (t, api) => {
  const unknown = await api.get("/v1/nothing/here");
  t.is(unknown.status, 404);
  t.is(unknown.text, notFoundMessage);
  t.is((await api.get("/v1/kv")).status, 404);
  t.is((await api.get("/elsewhere")).text, notFoundMessage);
  const wrong = await api.call("POST", "/v1/kv/a", "x");
  t.is(wrong.status, 405);
  t.is(wrong.text, "method POST not allowed");
  t.is(wrong.headers.get("allow"), "OPTIONS,GET,PUT,DELETE");
  const options = await api.call("OPTIONS", "/v1/kv/a");
  t.is(options.status, 200);
  t.is(options.headers.get("allow"), "OPTIONS,GET,PUT,DELETE");
  t.is((await api.call("HEAD", "/v1/kv/a")).status, 404);
  t.is((await api.call("DELETE", "/v1/agent/service/register")).status, 405);
});

test("routing: exact paths win over prefixes, and every route is listed once", (t) => {
  const router = new Router();
  const match = router.match("PUT", "/v1/agent/service/register");
  t.is(match.kind, "found");
  t.is(match.kind === "found" ? match.arg : "?", "");
  const service = router.match("GET", "/v1/agent/service/web/1");
  t.is(service.kind === "found" ? service.arg : "?", "web/1");
  const routes = router.list();
  t.is(new Set(routes).size, routes.length);
  t.true(routes.includes("GET /v1/kv/*"));
  t.is(routes.length, 75, "every endpoint of the issue, plus GET twins for python-consul 0.7, plus /v1/operator/keyring's four methods, plus /v1/query's five");
  const execute = router.match("GET", "/v1/query/geo-web/execute");
  t.is(execute.kind === "found" ? execute.arg : "?", "geo-web/execute");
  t.throws(() => new Router([["GET", "/x", async () => {}], ["GET", "/x", async () => {}]]), { message: "route GET /x registered twice" });
});

test("params: ?stale with ?consistent is a 400; each mode reaches the agent and its header", async (t) => {
  const api = await startApi(t);
  const both = await api.get("/v1/kv/a?stale&consistent");
  t.is(both.status, 400);
  t.is(both.text, "Cannot specify ?stale with ?consistent, conflicting semantics.");
  t.is((await api.get("/v1/kv/a?consistent&max_stale=5s")).status, 400);
  const seen = async (query: string) => {
    const res = await api.get(`/v1/catalog/nodes${query}`);
    const last = api.backend.calls.filter((c) => c.method === "query").at(-1)!.args[1] as { consistency: string; maxStaleMs?: number };
    return [last.consistency, last.maxStaleMs, res.headers.get("x-consul-effective-consistency")];
  };
  t.deepEqual(await seen(""), ["default", undefined, "leader"]);
  t.deepEqual(await seen("?stale"), ["stale", undefined, "stale"]);
  t.deepEqual(await seen("?stale="), ["stale", undefined, "stale"]);
  t.deepEqual(await seen("?consistent"), ["consistent", undefined, "consistent"]);
  t.deepEqual(await seen("?max_stale=2s"), ["stale", 2000, "stale"]);
  t.is((await api.get("/v1/catalog/nodes?max_stale=soon")).text, 'Invalid max_stale value "soon"');
});

test("params: ?index and ?wait parse as Consul does (Go durations, default 5 min, cap 10 min)", async (t) => {
  const api = await startApi(t);
  const options = async (query: string) => {
    await api.get(`/v1/catalog/nodes${query}`);
    const o = api.backend.calls.filter((c) => c.method === "query").at(-1)!.args[1] as { index?: number; waitMs?: number };
    return [o.index, o.waitMs];
  };
  await api.put("/v1/catalog/register", { Node: "n1", Address: "10.0.0.1" });
  const now = Number((await api.get("/v1/catalog/nodes")).headers.get("x-consul-index"));
  t.true(now > 1);
  t.deepEqual(await options(`?index=${now - 1}`), [now - 1, 300_000]);
  t.deepEqual(await options(`?index=${now - 1}&wait=120000ms`), [now - 1, 120_000]);
  t.deepEqual(await options(`?index=${now - 1}&wait=1h`), [now - 1, 600_000]);
  t.deepEqual(await options(`?index=${now - 1}&wait=1m30s`), [now - 1, 90_000]);
  t.deepEqual(await options(`?index=${now - 1}&wait=0s`), [now - 1, 300_000]);
  t.deepEqual(await options("?index=0&wait=5s"), [0, undefined]);
  t.deepEqual(await options("?wait=5s"), [undefined, undefined]);
  for (const [query, message] of [["?index=abc", /^Invalid index: /], ["?index=-1", /^Invalid index/], ["?index=99999999999999999999", /larger than/], ["?index=1&wait=5", /^Invalid wait time$/], ["?index=1&wait=-5s", /^Invalid wait time$/], ["?index=1&wait=5x", /^Invalid wait time$/]] as const) {
    const res = await api.get(`/v1/catalog/nodes${query}`);
    t.is(res.status, 400, query);
    t.regex(res.text, message, query);
  }
});

test("params: a bad ?filter is a 400 naming the problem, before the agent is asked", async (t) => {
  const api = await startApi(t);
  const before = api.backend.calls.length;
  const res = await api.get(`/v1/health/service/web?filter=${encodeURIComponent("Service.Meta.env = prod")}`);
  t.is(res.status, 400);
  t.is(res.text, 'Failed to create boolean expression evaluator: unexpected "=", expected "==" or "!=" (at character 18)');
  t.is(api.backend.calls.length, before);
});

test("errors: ApiError keeps its status and text; anything else is a 500 with its message, logged", async (t) => {
  const api = await startApi(t);
  api.backend.datacenters = async () => {
    throw new ApiError(503, "No cluster leader");
  };
  const leaderless = await api.get("/v1/catalog/datacenters");
  t.is(leaderless.status, 503);
  t.is(leaderless.text, "No cluster leader");
  t.regex(leaderless.headers.get("content-type") ?? "", /^text\/plain/);
  api.backend.datacenters = async () => {
    throw new TypeError("boom");
  };
  const crash = await api.get("/v1/catalog/datacenters");
  t.is(crash.status, 500);
  t.is(crash.text, "boom");
  t.is(api.logged.filter((l) => l.level === "error").length, 1);
  t.is((await api.get("/v1/status/leader")).status, 200, "the server still answers");
});

test("bodies: a JSON body over 4 MiB is 413; a declared Content-Length over the KV limit is refused unread", async (t) => {
  const api = await startApi(t);
  const big = await api.put("/v1/catalog/register", "[" + " ".repeat(4 * 1024 * 1024) + "]");
  t.is(big.status, 413);
  t.regex(big.text, /^Request body\(4194306 bytes\) too large, max size: 4194304 bytes$/);
  // Only the headers are sent: the answer must come without the 9,999,999 declared bytes.
  const declared = await new Promise<string>((resolve, reject) => {
    const conn = connect(api.port, "127.0.0.1", () => {
      conn.write("PUT /v1/kv/x HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n");
    });
    let text = "";
    conn.on("data", (d) => {
      text += d.toString();
      if (text.includes("max size")) {
        conn.destroy();
        resolve(text);
      }
    });
    conn.on("error", reject);
  });
  t.regex(declared, /^HTTP\/1\.1 413/);
  t.regex(declared, /Request body\(9999999 bytes\) too large, max size: 524288 bytes/);
});

both("ui: / redirects to /ui/, a placeholder page without uiDir, files and SPA fallback with one", async (t, api) => {
  const root = await fetch(`${api.base}/`, { redirect: "manual" });
  t.is(root.status, 301);
  t.is(root.headers.get("location"), "/ui/");
  const placeholder = await api.get("/ui/");
  t.is(placeholder.status, 200);
  t.regex(placeholder.text, /web UI is not installed/);
  const dir = mkdtempSync(join(tmpdir(), "praetor-ui-"));
  writeFileSync(join(dir, "index.html"), "<p>index</p>");
  writeFileSync(join(dir, "app.js"), "console.log(1)");
  const withUi = await startApi(t, { uiDir: dir });
  t.is((await withUi.get("/ui/")).text, "<p>index</p>");
  const js = await withUi.get("/ui/app.js");
  t.is(js.text, "console.log(1)");
  t.regex(js.headers.get("content-type") ?? "", /javascript/);
  t.is((await withUi.get("/ui/services/web")).text, "<p>index</p>");
  t.is((await withUi.get("/ui/..%2F..%2F..%2Fetc%2Fpasswd")).text, "<p>index</p>");
  t.is((await withUi.call("PUT", "/ui/")).status, 405);
});

test("debug: /debug/pprof only with enableDebug", async (t) => {
  const off = await startApi(t);
  t.is((await off.get("/debug/pprof/heap")).status, 404);
  const on = await startApi(t, { enableDebug: true });
  t.true((await on.get("/debug/pprof/heap")).json().memory.rss > 0);
});

test("startHttpServer: a port in use is an error naming the port and -http-port; close ends open requests", async (t) => {
  const first = await startHttpServer({ host: "127.0.0.1", port: 0, app: createHttpApi(new FakeBackend()) });
  const error = await t.throwsAsync(startHttpServer({ host: "127.0.0.1", port: first.port, app: createHttpApi(new FakeBackend()) }));
  t.regex(error!.message, new RegExp(`HTTP port ${first.port} .*-http-port`));
  const index = Number((await fetch(`http://127.0.0.1:${first.port}/v1/kv/a`)).headers.get("x-consul-index"));
  const blocked = fetch(`http://127.0.0.1:${first.port}/v1/kv/a?index=${index}&wait=10m`).then(() => "answered", () => "closed");
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  await first.close();
  t.is(await blocked, "closed");
  t.true(Date.now() - started < 15_000, "close does not wait for the 10 min blocking query");
});

both("headers: every blocking read answers X-Consul-Index (>= 1), KnownLeader, LastContact and Effective-Consistency", async (t, api) => {
  await api.put("/v1/kv/k", "v");
  const { ID } = (await api.put("/v1/session/create", {})).json();
  const reads = [
    "/v1/kv/k", "/v1/kv/missing", "/v1/kv/?recurse", "/v1/kv/?keys", "/v1/catalog/nodes", "/v1/catalog/services", "/v1/catalog/service/web",
    "/v1/catalog/node/node-a", "/v1/catalog/node-services/node-a", "/v1/health/node/node-a", "/v1/health/checks/web", "/v1/health/service/web",
    "/v1/health/state/any", `/v1/session/info/${ID}`, "/v1/session/node/node-a", "/v1/session/list", "/v1/coordinate/nodes",
  ];
  for (const path of reads) {
    for (const mode of ["", "?stale", "?consistent"]) {
      const url = path + (path.includes("?") && mode !== "" ? "&" + mode.slice(1) : mode);
      const res = await api.get(url);
      t.true(Number(res.headers.get("x-consul-index")) >= 1, `${url}: X-Consul-Index ${res.headers.get("x-consul-index")}`);
      t.is(res.headers.get("x-consul-knownleader"), "true", url);
      t.regex(res.headers.get("x-consul-lastcontact") ?? "", /^\d+$/, url);
      t.is(res.headers.get("x-consul-effective-consistency"), mode === "" ? "leader" : mode.slice(1), url);
    }
  }
});

both("lists: empty answers are [] or {} and never null", async (t, api) => {
  for (const path of ["/v1/catalog/service/none", "/v1/health/service/none", "/v1/health/checks/none", "/v1/health/node/none", "/v1/health/state/warning", "/v1/session/list", "/v1/session/node/none", "/v1/event/list"]) {
    t.is((await api.get(path)).text, "[]", path);
  }
  t.is((await api.get("/v1/agent/services")).text, "{}");
  t.is((await api.get("/v1/agent/checks")).text, "{}");
});
