/**
 * `PUT /v1/kv/<key>` with no query string, the write clients send in bulk, answered without koa:
 * koa's context objects, middleware promise chain, on-finished hooks and the body's async
 * iterator cost more CPU than the rest of the request on this node (profiled under
 * `npm run bench:cluster-vs-etcd`). Anything else (a query string, an empty key, a path that is
 * not valid percent-encoding) is left to the koa routes. The answer is byte for byte the one the
 * koa route gives (same status line, headers in the same order, body): the kv handler's `true` /
 * `false`, and errors through the same `errorAnswer`; test/http/kv-put-fast.test.ts compares them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AgentBackend, WriteOptions } from "../agent/api.ts";
import { drainMaxBytes, kvValueMaxBytes, tooLarge } from "./call.ts";
import { errorAnswer, jsonType, type HttpLogger } from "./errors.ts";
import { extractToken, Params } from "./params.ts";

const prefix = "/v1/kv/";
/** Requests the lean path took (tests check that a request they compare went this way). */
export const kvPutFastCounters = { taken: 0 };
const noQuery = new Params(new URLSearchParams());

/** Handles the request and returns true when it is a plain KV PUT; false leaves it untouched. */
export function kvPutFast(backend: AgentBackend, logger: HttpLogger | undefined, req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url;
  if (req.method !== "PUT" || url === undefined || !url.startsWith(prefix) || url.length === prefix.length || url.includes("?")) return false;
  let key: string;
  try {
    key = decodeURIComponent(url.slice(prefix.length));
  } catch {
    return false;
  }
  kvPutFastCounters.taken++;
  const token = extractToken(noQuery, req.headers);
  const options: WriteOptions = token === undefined ? {} : { token };
  const fail = (error: unknown, closeConnection: boolean): void => {
    const answer = errorAnswer(error, logger, { method: "PUT", path: url });
    if (closeConnection) res.setHeader("Connection", "close");
    respond(res, answer.status, answer.type, answer.body);
  };
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > kvValueMaxBytes) {
    fail(tooLarge(declared, kvValueMaxBytes), true);
    return true;
  }
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  req.on("data", (chunk: Buffer) => {
    sizeBytes += chunk.length;
    if (sizeBytes <= kvValueMaxBytes) chunks.push(chunk);
    else if (sizeBytes > drainMaxBytes) req.destroy();
  });
  req.on("error", () => req.destroy());
  req.on("end", () => {
    if (sizeBytes > kvValueMaxBytes) return fail(tooLarge(sizeBytes, kvValueMaxBytes), true);
    const value = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, sizeBytes);
    backend.write({ op: "kv", Verb: "set", Key: key, Value: value, Flags: 0 }, options).then(
      (answer) => respond(res, 200, jsonType, answer === true ? "true" : "false"),
      (error: unknown) => fail(error, false),
    );
  });
  return true;
}

/** What koa's respond() writes for a string body: status, Content-Type, Content-Length, in that order. */
function respond(res: ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = status;
  res.setHeader("Content-Type", type);
  res.setHeader("Content-Length", String(Buffer.byteLength(body)));
  res.end(body);
}
