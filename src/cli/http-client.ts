/**
 * The cluster commands' HTTP client: Consul's client flags and environment (-http-addr,
 * CONSUL_HTTP_ADDR and PRAETOR_HTTP_ADDR, -token, CONSUL_HTTP_TOKEN, ...), and errors worded as
 * Consul's Go API client words them, so scripts that grep for them keep working.
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import type { FlagSpec, ParsedFlags } from "./flags.ts";
import { flagBool, flagString } from "./flags.ts";

export const clientFlags: readonly FlagSpec[] = [
  { name: "http-addr", kind: "string", placeholder: "address", usage: "The `address` and port of the Praetor HTTP agent. The value can be an IP address or DNS address, but it must also include the port. This can also be specified via the CONSUL_HTTP_ADDR (or PRAETOR_HTTP_ADDR) environment variable. The default value is http://127.0.0.1:8500. The scheme can also be set to HTTPS by setting the environment variable CONSUL_HTTP_SSL=true." },
  { name: "token", kind: "string", placeholder: "value", usage: "ACL token to use in the request. This can also be specified via the CONSUL_HTTP_TOKEN environment variable. If unspecified, the query will default to the token of the Praetor agent at the HTTP address." },
  { name: "token-file", kind: "string", placeholder: "value", usage: "File containing the ACL token to use in the request instead of one specified via the -token argument or CONSUL_HTTP_TOKEN environment variable. This can also be specified via the CONSUL_HTTP_TOKEN_FILE environment variable." },
];

export const serverFlags: readonly FlagSpec[] = [
  { name: "datacenter", kind: "string", placeholder: "dc", usage: "Name of the datacenter to query. If unspecified, this will default to the datacenter of the queried agent." },
  { name: "stale", kind: "bool", usage: "Permit any Praetor server (non-leader) to respond to this request. This allows for lower latency and higher throughput, but can result in stale data. This option has no effect on non-read operations. The default value is false." },
];

/** A failed request: the message is what Consul's CLI prints after "Error ...: ". */
export class ApiRequestError extends Error {
  override name = "ApiRequestError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly token?: string;
  readonly datacenter?: string;
  readonly stale: boolean;
}

/** Resolves the agent's address and token from flags, then PRAETOR_*, then CONSUL_*. */
export function clientOptions(parsed: ParsedFlags, env: Readonly<Record<string, string | undefined>>): ApiClientOptions {
  const addr = flagString(parsed, "http-addr") ?? nonEmpty(env.PRAETOR_HTTP_ADDR) ?? nonEmpty(env.CONSUL_HTTP_ADDR) ?? "127.0.0.1:8500";
  const ssl = /^(1|t|true)$/i.test(env.PRAETOR_HTTP_SSL ?? env.CONSUL_HTTP_SSL ?? "");
  const token = flagString(parsed, "token") ?? tokenFromFile(flagString(parsed, "token-file"))
    ?? nonEmpty(env.PRAETOR_HTTP_TOKEN) ?? nonEmpty(env.CONSUL_HTTP_TOKEN)
    ?? tokenFromFile(nonEmpty(env.PRAETOR_HTTP_TOKEN_FILE) ?? nonEmpty(env.CONSUL_HTTP_TOKEN_FILE));
  const datacenter = flagString(parsed, "datacenter");
  return {
    baseUrl: baseUrl(addr, ssl),
    stale: flagBool(parsed, "stale"),
    ...(token === undefined || token === "" ? {} : { token }),
    ...(datacenter === undefined ? {} : { datacenter }),
  };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

function tokenFromFile(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, "utf8").trim();
  } catch (e) {
    throw new ApiRequestError(`Error loading token file: open ${file}: ${(e as { code?: string }).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
}

/** "127.0.0.1:8500", "http://host:8500", "https://host:8501" → the base URL; unix sockets are refused plainly. */
export function baseUrl(addr: string, ssl: boolean): string {
  if (addr.startsWith("unix://")) throw new ApiRequestError(`unix socket addresses (${addr}) are not supported; give host:port`);
  const withScheme = /^https?:\/\//.test(addr) ? addr : `${ssl ? "https" : "http"}://${addr}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ApiRequestError(`invalid HTTP address ${JSON.stringify(addr)}: want host:port or http://host:port`);
  }
  return `${url.protocol}//${url.host}`;
}

export interface RequestOptions {
  readonly method?: "GET" | "PUT" | "POST" | "DELETE";
  /** A list value repeats the parameter (node-meta=a:1&node-meta=b:2). */
  readonly query?: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body?: string | Uint8Array;
  readonly signal?: AbortSignal;
}

/** A 2xx answer: its status and its body as a stream of chunks (monitor) or as text. */
export interface ApiResponse {
  readonly status: number;
  /** Lower-cased header names (x-consul-index, ...). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
}

/**
 * Requests go through node:http rather than fetch: fetch refuses the "bad ports" of the Fetch
 * standard (1, 6000, 6665-6669, 10080, ...), and an agent may listen on any of them.
 */
export class ApiClient {
  constructor(readonly options: ApiClientOptions) {}

  url(path: string, query: Readonly<Record<string, string | readonly string[] | undefined>> = {}): string {
    const params = new URLSearchParams();
    if (this.options.datacenter !== undefined) params.set("dc", this.options.datacenter);
    if (this.options.stale) params.set("stale", "");
    for (const [k, v] of Object.entries(query)) {
      if (typeof v === "string") params.set(k, v);
      else if (v !== undefined) for (const item of v) params.append(k, item);
    }
    const qs = params.toString().replace(/=(&|$)/g, "$1");
    return `${this.options.baseUrl}${path}${qs === "" ? "" : `?${qs}`}`;
  }

  /** Sends the request; a non-2xx answer throws Consul's "Unexpected response code: 500 (body)". */
  async request(path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
    const method = opts.method ?? "GET";
    const url = this.url(path, opts.query);
    const headers: Record<string, string> = {};
    if (this.options.token !== undefined) headers["X-Consul-Token"] = this.options.token;
    let response: IncomingMessage;
    try {
      response = await send(url, method, headers, opts);
    } catch (e) {
      if (opts.signal?.aborted === true) throw e;
      throw new ApiRequestError(`${titleCase(method)} "${url}": ${describeError(e, url)}`);
    }
    const status = response.statusCode ?? 0;
    const text = () => readAll(response);
    if (status < 200 || status >= 300) {
      const body = (await text().catch(() => "")).trim();
      throw new ApiRequestError(`Unexpected response code: ${status} (${body})`, status);
    }
    return { status, headers: response.headers, body: response, text };
  }

  async json<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const response = await this.request(path, opts);
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiRequestError(`invalid JSON from ${path}: ${JSON.stringify(text.slice(0, 200))}`);
    }
  }
}

async function send(url: string, method: string, headers: Record<string, string>, opts: RequestOptions): Promise<IncomingMessage> {
  const { request } = url.startsWith("https:") ? await import("node:https") : await import("node:http");
  return new Promise((resolve, reject) => {
    // Node sends a DELETE body with neither a length nor chunking (the server then reads it as a new request): say its length.
    const sized = opts.body === undefined ? headers : { ...headers, "Content-Length": String(Buffer.byteLength(opts.body)) };
    const req = request(url, { method, headers: sized, ...(opts.signal === undefined ? {} : { signal: opts.signal }) }, resolve);
    req.on("error", reject);
    req.end(opts.body);
  });
}

async function readAll(stream: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function titleCase(method: string): string {
  return method[0] + method.slice(1).toLowerCase();
}

/** Go's dial errors for the common cases ("dial tcp 127.0.0.1:8500: connect: connection refused"). */
function describeError(e: unknown, url: string): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code;
  const { host, hostname } = new URL(url);
  switch (code) {
    case "ECONNREFUSED":
      return `dial tcp ${host}: connect: connection refused`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `dial tcp: lookup ${hostname}: no such host`;
    case "ECONNRESET":
      return "read: connection reset by peer";
    case "ETIMEDOUT":
      return `dial tcp ${host}: i/o timeout`;
    default:
      return err.message ?? String(e);
  }
}
