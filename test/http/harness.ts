/**
 * Starts the HTTP API on a loopback port over the fake backend and gives tests one-line calls:
 *
 *   const api = await startApi(t);            // closed when the test ends
 *   const res = await api.put("/v1/kv/a", "1");
 *   t.is(res.status, 200); t.is(res.text, "true");
 */
import type { ExecutionContext } from "ava";
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
    base, port: server.port, backend, logged, call,
    get: (path, headers) => call("GET", path, undefined, headers),
    put: (path, body, headers) => call("PUT", path, body, headers),
    del: (path) => call("DELETE", path),
  };
}
