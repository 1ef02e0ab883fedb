/**
 * One HTTP request as the handlers see it: its decoded path parameter, query parameters, token,
 * body readers with Consul's limits, and the ways to answer (JSON with `?pretty`, plain text,
 * raw bytes, the blocking-query headers).
 */
import type { Context } from "koa";
import { ApiError, type ReadMeta, type ReadOptions, type WriteOptions } from "../agent/api.ts";
import { badRequest, extractToken, Params, readOptions } from "./params.ts";

/** Consul's kv_max_value_size default. */
export const kvValueMaxBytes = 512 * 1024;
/** JSON bodies (registrations, sessions, txn, check updates). */
export const jsonBodyMaxBytes = 4 * 1024 * 1024;
/** Snapshot archives restored through PUT /v1/snapshot. */
export const snapshotMaxBytes = 1024 * 1024 * 1024;
/** How far past a limit a body is still read (and counted) before the connection is dropped. */
export const drainMaxBytes = 64 * 1024 * 1024;

export function tooLarge(sizeBytes: number, maxBytes: number): ApiError {
  return new ApiError(413, `Request body(${sizeBytes} bytes) too large, max size: ${maxBytes} bytes`);
}

export class Call {
  readonly params: Params;
  readonly token: string | undefined;
  readonly pretty: boolean;

  constructor(
    readonly ctx: Context,
    /** The rest of the path after the route's prefix, percent-decoded ("" for exact routes). */
    readonly arg: string,
    query: URLSearchParams,
  ) {
    this.params = new Params(query);
    this.token = extractToken(this.params, ctx.req.headers);
    this.pretty = this.params.has("pretty");
  }

  get method(): string {
    return this.ctx.method;
  }

  /** The path argument, or a 400 naming what is missing (`Missing service name`). */
  required(what: string): string {
    if (this.arg === "") throw badRequest(`Missing ${what}`);
    return this.arg;
  }

  /** The read options; a blocking read also gets a signal that aborts when the client goes away. */
  readOptions(withFilter = true): ReadOptions {
    const options = readOptions(this.params, this.token, withFilter);
    if (options.index === undefined || options.index === 0) return options;
    return { ...options, signal: this.clientGone() };
  }

  /** Aborts when the connection closes before the response finished (the client gave up). */
  clientGone(): AbortSignal {
    const controller = new AbortController();
    const res = this.ctx.res;
    res.once("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    return controller.signal;
  }

  writeOptions(): WriteOptions {
    const dc = this.params.dc();
    return { ...(dc === undefined ? {} : { dc }), ...(this.token === undefined ? {} : { token: this.token }) };
  }

  // --- Bodies ---

  /** The raw body, refused with Consul's 413 above `maxBytes` (by Content-Length when given). */
  async body(maxBytes: number): Promise<Uint8Array> {
    const declared = Number(this.ctx.req.headers["content-length"] ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      this.ctx.set("Connection", "close");
      throw tooLarge(declared, maxBytes);
    }
    const chunks: Buffer[] = [];
    let sizeBytes = 0;
    for await (const chunk of this.ctx.req as AsyncIterable<Buffer>) {
      sizeBytes += chunk.length;
      if (sizeBytes <= maxBytes) chunks.push(chunk);
      else if (sizeBytes > drainMaxBytes) break;
    }
    if (sizeBytes > maxBytes) {
      this.ctx.set("Connection", "close");
      throw tooLarge(sizeBytes, maxBytes);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, sizeBytes);
  }

  /** The body parsed as JSON; an empty body is `undefined`; malformed JSON is a 400 naming the problem. */
  async json(maxBytes = jsonBodyMaxBytes): Promise<unknown> {
    const bytes = await this.body(maxBytes);
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    if (text.trim() === "") return undefined;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw badRequest(`Request decode failed: ${(error as Error).message}`);
    }
  }

  /** The body as a JSON object (keys later read case-insensitively); an empty body is `{}`. */
  async jsonObject(what: string, maxBytes = jsonBodyMaxBytes): Promise<Record<string, unknown>> {
    const body = await this.json(maxBytes);
    if (body === undefined || body === null) return {};
    if (typeof body !== "object" || Array.isArray(body)) throw badRequest(`Request decode failed: ${what} must be a JSON object`);
    return body as Record<string, unknown>;
  }

  // --- Answers ---

  /** The blocking-query headers; X-Consul-Index is never 0 (clients busy-loop on 0). */
  meta(meta: ReadMeta): void {
    const res = this.ctx.res;
    res.setHeader("X-Consul-Index", String(Math.max(1, Math.floor(meta.index))));
    res.setHeader("X-Consul-KnownLeader", meta.knownLeader ? "true" : "false");
    res.setHeader("X-Consul-LastContact", String(Math.max(0, Math.round(meta.lastContactMs))));
    res.setHeader("X-Consul-Effective-Consistency", meta.consistency === "default" ? "leader" : meta.consistency);
  }

  /** A JSON answer; `?pretty` indents by four spaces as Go's MarshalIndent does. */
  send(value: unknown, status = 200, binary = false): void {
    const text = stringify(value, binary, this.pretty);
    this.ctx.status = status;
    this.ctx.type = "application/json";
    this.ctx.body = text;
  }

  /**
   * A read's JSON answer, `render`ed from the agent's value. Identical blocking queries woken by
   * one write receive the same value object (src/core/agent/query-share.ts), so the body is
   * rendered and serialised once per value and render function, not once per watcher.
   */
  sendShared<T>(value: T, render: (value: T) => unknown): void {
    if (this.pretty || typeof value !== "object" || value === null) return this.send(render(value));
    let bodies = sharedBodies.get(value);
    if (bodies === undefined) sharedBodies.set(value, (bodies = new Map()));
    let text = bodies.get(render as (value: unknown) => unknown);
    if (text === undefined) bodies.set(render as (value: unknown) => unknown, (text = stringify(render(value), false, false)));
    this.ctx.status = 200;
    this.ctx.type = "application/json";
    this.ctx.body = text;
  }

  text(body: string, status = 200, type = "text/plain; charset=utf-8"): void {
    this.ctx.status = status;
    this.ctx.type = type;
    this.ctx.body = body;
  }

  bytes(body: Uint8Array, type: string): void {
    this.ctx.status = 200;
    this.ctx.type = type;
    this.ctx.body = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }

  /** A status with an empty body (a KV miss is a 404 with no body but with the index headers). */
  empty(status: number): void {
    this.ctx.status = status;
    this.ctx.body = "";
  }
}

/** Serialised bodies per shared value and render function; entries go when the value does. */
const sharedBodies = new WeakMap<object, Map<(value: unknown) => unknown, string>>();

/**
 * JSON text for an answer. KV flags above 2^53 - 1 are bigints, which JSON.stringify refuses and
 * Node 20 has no JSON.rawJSON for; only then (so other answers keep the plain, replacer-free
 * stringify) each is written as a string holding a lone surrogate, which JSON.stringify escapes
 * to the ASCII text \udead, and the quoted marker is replaced by the digits. No other string
 * produces that text: decoded UTF-8 never holds a lone surrogate, and a backslash is escaped.
 */
export function stringify(value: unknown, binary: boolean, pretty: boolean): string {
  const plain = (replacer: ((key: string, item: unknown) => unknown) | undefined) =>
    pretty ? JSON.stringify(value ?? null, replacer, 4) + "\n" : JSON.stringify(value ?? null, replacer);
  try {
    return plain(binary ? bytesAsBase64 : undefined);
  } catch (error) {
    if (!(error instanceof TypeError) || !error.message.includes("BigInt")) throw error;
  }
  const text = plain((key, item) => {
    if (typeof item === "bigint") return bigintMarker + item.toString();
    return binary ? bytesAsBase64(key, item) : item;
  });
  return text.replace(/"\\udead(\d+)"/g, "$1");
}

const bigintMarker = "\udead";

/** JSON.stringify replacer: bytes (KV values in txn answers, event payloads) as base64. */
function bytesAsBase64(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
  return value;
}

export function base64(bytes: Uint8Array | null): string | null {
  if (bytes === null) return null;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
