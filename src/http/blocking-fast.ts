/**
 * A blocking `GET /v1/kv/<key>?index=N[&wait=W]` (the request watchers hold by the thousand)
 * answered without koa, and encoded once per woken group instead of once per watcher.
 *
 * Why: one write to a watched key wakes every watcher of it, and each answer went through koa's
 * context, middleware promise chain and respond(), then Node's setHeader map and header
 * validation: about 180 µs of CPU per answer here, against about 40 µs for a bare socket write
 * of prebuilt bytes (`node --import tsx bench/blocking-answer.ts`). Watchers woken by one write
 * receive the same value object (src/core/agent/query-share.ts on a server, forwarded-queries.ts
 * on a client agent), so the body and the header list are built once for that value and meta;
 * each watcher then costs one `writeHead(status, flat list)` + `end(body)`: Node's own
 * ServerResponse still writes it, so keep-alive, HTTP/1.0, pipelining, the Date header and the
 * close-after-N bookkeeping stay Node's, byte for byte what the koa route writes
 * (test/http/blocking-fast.test.ts compares the raw bytes of both).
 *
 * Anything else (another query parameter, HEAD, an empty key, bad percent-encoding) is left to
 * the koa routes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AgentBackend, ReadMeta, ReadOptions } from "../agent/api.ts";
import type { KvEntry } from "../core/catalog/index.ts";
import { errorAnswer, jsonType, plainType, type HttpLogger } from "./errors.ts";
import { stringify } from "./call.ts";
import { kvJson } from "./handlers/kv.ts";
import { extractToken, Params, readOptions } from "./params.ts";

const prefix = "/v1/kv/";
/** Requests the lean path took (tests check that a request they compare went this way). */
export const blockingGetFastCounters = { taken: 0, encoded: 0 };

/** Handles the request and returns true when it is a plain blocking KV GET; false leaves it untouched. */
export function kvBlockingGetFast(backend: AgentBackend, logger: HttpLogger | undefined, answers: EncodedAnswers, req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url;
  if (req.method !== "GET" || url === undefined || !url.startsWith(prefix)) return false;
  const queryAt = url.indexOf("?");
  if (queryAt <= prefix.length) return false;
  const query = new URLSearchParams(url.slice(queryAt + 1));
  if (!onlyIndexAndWait(query)) return false;
  let key: string;
  try {
    key = decodeURIComponent(url.slice(prefix.length, queryAt));
  } catch {
    return false;
  }
  blockingGetFastCounters.taken++;
  const path = url.slice(0, queryAt);
  const fail = (error: unknown): void => {
    if (res.headersSent || res.destroyed) return;
    const answer = errorAnswer(error, logger, { method: "GET", path });
    res.writeHead(answer.status, ["Content-Type", answer.type, "Content-Length", String(Buffer.byteLength(answer.body))]);
    res.end(answer.body);
  };
  let options: ReadOptions;
  try {
    const params = new Params(query);
    options = readOptions(params, extractToken(params, req.headers), false);
  } catch (error) {
    fail(error);
    return true;
  }
  if (options.index !== undefined && options.index !== 0) options = { ...options, signal: clientGone(res) };
  // `fail` also catches a throw while answering: a request must never be left without an answer.
  backend.query({ kind: "kvGet", key }, options)
    .then((result) => answers.write(res, result.meta, result.value))
    .catch(fail);
  return true;
}

/** `index` once and `wait` at most once, nothing else: what every watcher library sends for a key. */
function onlyIndexAndWait(query: URLSearchParams): boolean {
  let index = 0;
  let wait = 0;
  for (const name of query.keys()) {
    if (name === "index") index++;
    else if (name === "wait") wait++;
    else return false;
  }
  return index === 1 && wait <= 1;
}

/** Aborts when the connection closes before the answer finished (the watcher gave up), as Call.clientGone. */
function clientGone(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

interface Encoded {
  readonly meta: ReadMeta;
  readonly headers: readonly string[];
  readonly body: string;
}

/**
 * A KV GET's answer, its header list and body built once per entry object and meta: every
 * watcher a write wakes shares them. Entries go when their value does.
 */
export class EncodedAnswers {
  private readonly byValue = new WeakMap<KvEntry, Encoded>();

  write(res: ServerResponse, meta: ReadMeta, entry: KvEntry | null): void {
    if (res.headersSent || res.destroyed) return;
    if (entry === null) {
      // A miss: the index headers and an empty text body, as koa answers `ctx.body = ""`.
      res.writeHead(404, [...metaHeaders(meta), "Content-Type", plainType, "Content-Length", "0"]);
      res.end("");
      return;
    }
    let encoded = this.byValue.get(entry);
    if (encoded === undefined || !sameMeta(encoded.meta, meta)) {
      blockingGetFastCounters.encoded++;
      // The route's own encoder: flags above 2^53 (api.Lock's) are bigints, written digit for digit.
      const body = stringify([kvJson(entry)], false, false);
      encoded = { meta, body, headers: [...metaHeaders(meta), "Content-Type", jsonType, "Content-Length", String(Buffer.byteLength(body))] };
      this.byValue.set(entry, encoded);
    }
    res.writeHead(200, encoded.headers as string[]);
    res.end(encoded.body);
  }
}

function sameMeta(a: ReadMeta, b: ReadMeta): boolean {
  return a === b || (a.index === b.index && a.knownLeader === b.knownLeader && a.lastContactMs === b.lastContactMs && a.consistency === b.consistency);
}

/** Call.meta's headers, in its order. */
function metaHeaders(meta: ReadMeta): string[] {
  return [
    "X-Consul-Index", String(Math.max(1, Math.floor(meta.index))),
    "X-Consul-KnownLeader", meta.knownLeader ? "true" : "false",
    "X-Consul-LastContact", String(Math.max(0, Math.round(meta.lastContactMs))),
    "X-Consul-Effective-Consistency", meta.consistency === "default" ? "leader" : meta.consistency,
  ];
}
