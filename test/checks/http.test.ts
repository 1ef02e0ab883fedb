import test from "ava";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runHttp } from "../../src/agent/checks/http.ts";
import type { CheckProbe } from "../../src/agent/checks/index.ts";
import { def, signalNever, testRunner, waitFor } from "./helpers.ts";

type HttpProbe = Extract<CheckProbe, { kind: "http" }>;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback server; `answer` decides each response. Closed at teardown. */
async function serve(t: { teardown(fn: () => unknown): void }, answer: (req: Seen, res: http.ServerResponse) => void): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const s = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function probe(url: string, extra: Partial<HttpProbe> = {}): HttpProbe {
  return { kind: "http", url, method: "GET", header: {}, body: "", tlsSkipVerify: false, tlsServerName: "", disableRedirects: false, ...extra };
}

// Generous: the machine running the tests may be loaded; tests about the timeout set their own.
const opts = { timeoutMs: 10_000, outputMaxBytes: 4096, signal: signalNever };

test("runner: a server answering 200, then 503, then 429 turns the check passing, critical, warning", async (t) => {
  let calls = 0;
  const replies: Array<[number, string]> = [[200, "ok"], [503, "down"], [429, "slow down"]];
  const { base } = await serve(t, (_req, res) => {
    const [code, body] = replies[Math.min(calls++, replies.length - 1)]!;
    res.writeHead(code).end(body);
  });
  const { runner, changes } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ http: `${base}/health`, interval: "30ms" }, "web"), { origin: "remote" });
  const url = `${base}/health`;
  await waitFor(changes, (c) => c.status === "warning", "the 429");
  t.deepEqual(changes.map((c) => [c.id, c.status, c.output]), [
    ["service:web", "passing", `HTTP GET ${url}: 200 OK Output: ok`],
    ["service:web", "critical", `HTTP GET ${url}: 503 Service Unavailable Output: down`],
    ["service:web", "warning", `HTTP GET ${url}: 429 Too Many Requests Output: slow down`],
  ]);
});

test("method, headers and body are sent; Consul's User-Agent and Accept unless the check sets them; Host sets the host", async (t) => {
  const { base, seen } = await serve(t, (_req, res) => res.writeHead(201).end());
  const result = await runHttp(probe(`${base}/x`, { method: "PUT", header: { "X-Token": ["a", "b"], Host: ["api.example"] }, body: '{"ping":1}' }), opts);
  t.is(result.status, "passing");
  t.is(result.output, `HTTP PUT ${base}/x: 201 Created Output: `);
  const req = seen[0]!;
  t.is(req.method, "PUT");
  t.is(req.body, '{"ping":1}');
  t.is(req.headers["x-token"], "a, b");
  t.is(req.headers.host, "api.example");
  t.is(req.headers["user-agent"], "Consul Health Check");
  t.is(req.headers.accept, "text/plain, text/*, */*");
  await runHttp(probe(`${base}/y`, { header: { "User-Agent": ["mine"], Accept: ["application/json"] } }), opts);
  t.is(seen[1]!.headers["user-agent"], "mine");
  t.is(seen[1]!.headers.accept, "application/json");
});

test("redirects: up to 10 are followed, the 11th is refused in Go's words; 303 turns POST into GET", async (t) => {
  const { base, seen } = await serve(t, (req, res) => {
    const m = /^\/r\/(\d+)$/.exec(req.url);
    if (m !== null && Number(m[1]) > 0) res.writeHead(302, { Location: `/r/${Number(m[1]) - 1}` }).end();
    else if (req.url === "/see-other") res.writeHead(303, { Location: "/r/0" }).end();
    else res.writeHead(200).end(`landed with ${req.method}`);
  });
  t.deepEqual(await runHttp(probe(`${base}/r/10`), opts), { status: "passing", output: `HTTP GET ${base}/r/10: 200 OK Output: landed with GET` });
  t.deepEqual(await runHttp(probe(`${base}/r/11`), opts), { status: "critical", output: `Get "${base}/r/0": stopped after 10 redirects` });
  const posted = await runHttp(probe(`${base}/see-other`, { method: "POST", body: "x" }), opts);
  t.is(posted.output, `HTTP POST ${base}/see-other: 200 OK Output: landed with GET`);
  t.is(seen.at(-1)!.body, "", "the body is dropped with the method");
});

test("disable_redirects reports the redirect itself, which is not 2xx", async (t) => {
  const { base } = await serve(t, (_req, res) => res.writeHead(302, { Location: "/elsewhere" }).end("moved"));
  t.deepEqual(await runHttp(probe(`${base}/`, { disableRedirects: true }), opts), { status: "critical", output: `HTTP GET ${base}/: 302 Found Output: moved` });
});

test("the body kept is its last 4 KiB (Consul's ring buffer, no marker for HTTP)", async (t) => {
  const { base } = await serve(t, (_req, res) => res.writeHead(200).end(`${"a".repeat(5000)}END`));
  const result = await runHttp(probe(`${base}/`), opts);
  t.is(result.output, `HTTP GET ${base}/: 200 OK Output: ${"a".repeat(4093)}END`);
});

test("no answer within the timeout is critical with Go's client timeout text", async (t) => {
  const { base } = await serve(t, () => {
    // Never answers.
  });
  const started = Date.now();
  const result = await runHttp(probe(`${base}/hang`), { ...opts, timeoutMs: 200 });
  t.deepEqual(result, { status: "critical", output: `Get "${base}/hang": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
  t.true(Date.now() - started < 5000);
});

test("a refused connection, a bad scheme and a bad URL are critical with Go's errors", async (t) => {
  // Port 1 (tcpmux) is closed on loopback: nothing listens there in the test environment.
  const refused = await runHttp(probe("http://127.0.0.1:1/health"), opts);
  t.deepEqual(refused, { status: "critical", output: 'Get "http://127.0.0.1:1/health": dial tcp 127.0.0.1:1: connect: connection refused' });
  t.deepEqual(await runHttp(probe("ftp://127.0.0.1/"), opts), { status: "critical", output: 'Get "ftp://127.0.0.1/": unsupported protocol scheme "ftp"' });
  t.deepEqual(await runHttp(probe("localhost-health"), opts), { status: "critical", output: 'parse "localhost-health": invalid URL' });
});

test("https: a self-signed certificate is critical unless tls_skip_verify", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "praetor-tls-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  const server = https.createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (_req, res) => res.end("secure"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const strict = await runHttp(probe(url), opts);
  t.is(strict.status, "critical");
  t.regex(strict.output, /^Get "https:\/\/127\.0\.0\.1:\d+\/": tls: failed to verify certificate: x509: certificate signed by unknown authority/);
  t.deepEqual(await runHttp(probe(url, { tlsSkipVerify: true }), opts), { status: "passing", output: `HTTP GET ${url}: 200 OK Output: secure` });
});

test("a header or method Node cannot send is critical with the reason, never a crash", async (t) => {
  const badHeader = await runHttp(probe("http://127.0.0.1:1/", { header: { "Bad Header\n": ["x"] } }), opts);
  t.is(badHeader.status, "critical");
  t.regex(badHeader.output, /^Get "http:\/\/127\.0\.0\.1:1\/": .*Header name must be a valid HTTP token/);
  const badMethod = await runHttp(probe("http://127.0.0.1:1/", { method: "GET IT" }), opts);
  t.is(badMethod.status, "critical");
  t.regex(badMethod.output, /Method must be a valid HTTP token/);
});
