/**
 * How an error thrown by a handler or the agent becomes Consul's answer, in one place for the koa
 * routes (server.ts) and the lean KV PUT path (kv-put-fast.ts): an `ApiError` its status with a
 * plain-text body (409 with `{Results, Errors}` for a rolled-back txn); a `FilterError` a 400;
 * anything else a 500 with its message, logged.
 */
import { ApiError } from "../agent/api.ts";
import { FilterError } from "../core/filter/index.ts";

/** The subset of a pino logger the HTTP layer uses. */
export interface HttpLogger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export const plainType = "text/plain; charset=utf-8";
export const jsonType = "application/json; charset=utf-8";

export interface ErrorAnswer {
  readonly status: number;
  /** The Content-Type header koa sends for it (koa's `ctx.type` of the plain or JSON answer). */
  readonly type: string;
  readonly body: string;
}

export function errorAnswer(error: unknown, logger: HttpLogger | undefined, request: { method: string; path: string }): ErrorAnswer {
  if (error instanceof ApiError) {
    if (error.errors !== undefined && error.errors.length > 0) {
      return { status: error.status, type: jsonType, body: JSON.stringify({ Results: null, Errors: error.errors }) };
    }
    if (error.status >= 500) logger?.debug({ status: error.status, path: request.path }, error.message);
    return { status: error.status, type: plainType, body: error.message };
  }
  if (error instanceof FilterError) return { status: 400, type: plainType, body: `Failed to create boolean expression evaluator: ${error.message}` };
  const message = error instanceof Error ? error.message : String(error);
  logger?.error({ err: error, method: request.method, path: request.path }, "http: request failed");
  return { status: 500, type: plainType, body: message === "" ? "Internal error" : message };
}
