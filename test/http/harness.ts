/**
 * Starts the HTTP API on a loopback port over the fake backend and gives tests one-line calls:
 *
 *   const api = await startApi(t);            // closed when the test ends
 *   const res = await api.put("/v1/kv/a", "1");
 *   t.is(res.status, 200); t.is(res.text, "true");
 */
import test, { type ExecutionContext } from "ava";
import type { Agent } from "../../src/agent/agent.ts";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent } from "../../src/agent/run.ts";
import { createHttpApi, startHttpServer, type HttpLogger } from "../../src/http/server.ts";
import { FakeBackend } from "./fake-backend.ts";

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  bytes: Uint8Array;
  json<T = any>(): T;
}

export interface Api {
  base: string;
  port: number;
  backend: FakeBackend;
  logged: { level: string; fields: object; message: string }[];
  call(method: string, path: string, body?: string | Uint8Array | object, headers?: Record<string, string>): Promise<Reply>;
  get(path: string, headers?: Record<string, string>): Promise<Reply>;
  put(path: string, body?: string | Uint8Array | object, headers?: Record<string, string>): Promise<Reply>;
  del(path: string): Promise<Reply>;
}

export async function startApi(t: ExecutionContext, options: { uiDir?: string; enableDebug?: boolean } = {}): Promise<Api> {
  const backend = new FakeBackend();
  const logged: Api["logged"] = [];
  const logger: HttpLogger = {
    error: (fields, message) => logged.push({ level: "error", fields, message }),
    warn: (fields, message) => logged.push({ level: "warn", fields, message }),
    debug: (fields, message) => logged.push({ level: "debug", fields, message }),
  };
  const app = createHttpApi(backend, { logger, ...options });
  const server = await startHttpServer({ host: "127.0.0.1", port: 0, app });
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;
  return { ...client(base), port: server.port, backend, logged };
}

/** The calls of `Api` against an agent that is already listening at `base`. */
export function client(base: string): Pick<Api, "base" | "call" | "get" | "put" | "del"> {
  const call: Api["call"] = async (method, path, body, headers = {}) => {
    // fetch refuses a body on GET and HEAD.
    const bodyless = method === "GET" || method === "HEAD";
    const payload = bodyless || body === undefined || typeof body === "string" || body instanceof Uint8Array ? (bodyless ? undefined : body) : JSON.stringify(body);
    const res = await fetch(base + path, { method, body: payload as BodyInit | undefined, headers });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const text = Buffer.from(bytes).toString("utf8");
    return {
      status: res.status, headers: res.headers, text, bytes,
      json: () => {
        try {
          return JSON.parse(text);
        } catch {
          throw new Error(`${method} ${path}: body is not JSON (status ${res.status}): ${text.slice(0, 200)}`);
        }
      },
    };
  };
  return {
    base, call,
    get: (path, headers) => call("GET", path, undefined, headers),
    put: (path, body, headers) => call("PUT", path, body, headers),
    del: (path) => call("DELETE", path),
  };
}

export interface AgentApi extends Pick<Api, "base" | "call" | "get" | "put" | "del"> {
  readonly agent: Agent;
  readonly host: string;
  readonly port: number;
}

/**
 * A real `-dev` agent in this process (Raft, catalog, gossip, the HTTP API on real sockets)
 * bound to `host` (a loopback address no other test uses), serving once it is the leader and
 * has registered itself. Stopped when the test ends.
 */
export async function startDevAgent(t: { teardown(fn: () => unknown): void }, host: string, extraArgs: string[] = []): Promise<AgentApi> {
  const { config } = loadConfig(["-dev", "-bind", host, "-client", host, "-dns-port", "-1", "-http-port", "0", ...extraArgs]);
  const running = await startAgent(config, createLogger({ level: "warn", write: () => {} }));
  t.teardown(() => running.stop());
  const base = `http://${host}:${running.httpPorts[0]!}`;
  const api = client(base);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const leader = (await api.get("/v1/status/leader")).text;
    const self = leader.length > 2 ? await api.get(`/v1/catalog/node/${running.agent.nodeName}`) : null;
    if (self !== null && self.status === 200 && self.text !== "null") break;
    if (Date.now() > deadline) throw new Error(`dev agent on ${host}: no leader or no self-registration within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { ...api, agent: running.agent, host, port: running.httpPorts[0]! };
}

export type AnyApi = Pick<Api, "base" | "call" | "get" | "put" | "del">;

/**
 * Registers a test twice: over the fake backend, and (serially) against a fresh real `-dev`
 * agent named `node-a` as the fake's node is, on `127.0.<block>.<n>` (each test file takes its
 * own block, since ava runs files in parallel). The body may use only HTTP, so what it asserts
 * holds for the real agent.
 */
export function matrix(block: number): (title: string, body: (t: ExecutionContext, api: AnyApi) => Promise<void>) => void {
  let next = 1;
  return (title, body) => {
    test(`${title} [fake]`, async (t) => body(t, await startApi(t)));
    const host = `127.0.${block}.${next++}`;
    test.serial(`${title} [agent]`, async (t) => {
      t.timeout(120_000);
      await body(t, await startDevAgent(t, host, ["-node", "node-a"]));
    });
  };
}
