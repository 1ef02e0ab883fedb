/**
 * Consul's HTTP API on koa. Everything generic happens here, once: routing (routes.ts), path
 * decoding, query and token parsing (params.ts, call.ts), body limits, error mapping, and the
 * UI. Handlers are thin calls into the `AgentBackend`.
 *
 *   const app = createHttpApi(agent, { logger });
 *   const server = await startHttpServer({ host: "127.0.0.1", port: 8500, app });
 *   ...
 *   await server.close();
 *
 * Errors: an `ApiError` becomes its status with a plain-text body (409 with `{Results, Errors}`
 * for a rolled-back txn); a `FilterError` a 400; anything else a 500 with its message, logged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import type { AgentBackend } from "../agent/api.ts";
import { Call } from "./call.ts";
import { errorAnswer, type HttpLogger } from "./errors.ts";
import { EncodedAnswers, kvBlockingGetFast } from "./blocking-fast.ts";
import { kvPutFast } from "./kv-put-fast.ts";
import { Router } from "./routes.ts";
import { serveUi } from "./ui.ts";

export type { HttpLogger } from "./errors.ts";

export interface HttpApiOptions {
  readonly logger?: HttpLogger;
  /** Consul's `enable_debug`: serves `/debug/pprof/*` (here: the Node process's memory and CPU use). */
  readonly enableDebug?: boolean;
  /** A built web UI to serve under /ui; a placeholder page is served when absent. */
  readonly uiDir?: string;
}

export const notFoundMessage = "Invalid URL path: not a recognized HTTP API endpoint";

/** Requests an app answers ahead of koa (kv-put-fast.ts, blocking-fast.ts): true when taken. startHttpServer applies it. */
const leanPaths = new WeakMap<Koa, (req: IncomingMessage, res: ServerResponse) => boolean>();

export function createHttpApi(backend: AgentBackend, options: HttpApiOptions = {}): Koa {
  const app = new Koa();
  const router = new Router();
  const logger = options.logger;
  app.silent = true;
  app.on("error", (error: Error) => logger?.warn({ err: error }, "http: response stream error"));
  const answers = new EncodedAnswers();
  leanPaths.set(app, (req, res) => kvPutFast(backend, logger, req, res) || kvBlockingGetFast(backend, logger, answers, req, res));
  app.use(async (ctx) => {
    const url = ctx.req.url ?? "/";
    const queryAt = url.indexOf("?");
    const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
    const query = new URLSearchParams(queryAt < 0 ? "" : url.slice(queryAt + 1));
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return plain(ctx, 400, `Invalid URL path: malformed percent-encoding in ${JSON.stringify(rawPath)}`);
    }
    if (!path.startsWith("/v1/")) return serveOther(ctx, path, options);
    const match = router.match(ctx.method, path);
    if (match.kind === "none") return plain(ctx, 404, notFoundMessage);
    if (match.kind === "method") {
      const allowed = ["OPTIONS", ...match.route.methods.keys()].join(",");
      ctx.set("Allow", allowed);
      if (ctx.method === "OPTIONS") return plain(ctx, 200, "");
      return plain(ctx, 405, `method ${ctx.method} not allowed`);
    }
    try {
      const call = new Call(ctx, match.arg, query);
      await match.handler(call, backend);
    } catch (error) {
      answerError(ctx, error, logger);
    }
  });
  return app;
}

function plain(ctx: Koa.Context, status: number, message: string): void {
  ctx.status = status;
  ctx.type = "text/plain; charset=utf-8";
  ctx.body = message;
}

function answerError(ctx: Koa.Context, error: unknown, logger: HttpLogger | undefined): void {
  if (ctx.res.headersSent) {
    logger?.warn({ err: error, path: ctx.path }, "http: error after the response started");
    return;
  }
  // Headers a handler set before failing (the read meta, a content type) do not belong to the error.
  ctx.remove("Content-Disposition");
  const answer = errorAnswer(error, logger, ctx);
  ctx.status = answer.status;
  ctx.type = answer.type;
  ctx.body = answer.body;
}

async function serveOther(ctx: Koa.Context, path: string, options: HttpApiOptions): Promise<void> {
  if (path === "/" && (ctx.method === "GET" || ctx.method === "HEAD")) {
    ctx.status = 301;
    ctx.redirect("/ui/");
    return;
  }
  if (path === "/ui" || path.startsWith("/ui/")) {
    if (ctx.method !== "GET" && ctx.method !== "HEAD") {
      ctx.set("Allow", "GET,HEAD");
      return plain(ctx, 405, `method ${ctx.method} not allowed`);
    }
    return serveUi(ctx, path, options.uiDir);
  }
  if (options.enableDebug === true && path.startsWith("/debug/pprof")) {
    ctx.type = "application/json";
    ctx.body = JSON.stringify({ memory: process.memoryUsage(), cpu: process.cpuUsage(), uptimeS: process.uptime() });
    return;
  }
  plain(ctx, 404, notFoundMessage);
}

/** Pending connections the kernel may queue for us (capped by net.core.somaxconn). */
const acceptBacklog = 4096;

export interface RunningHttpServer {
  readonly port: number;
  readonly server: Server;
  /** Stops listening and ends every open connection (blocking queries and monitors included). */
  close(): Promise<void>;
}

/** Listens on `host:port` (port 0: any free port). A port in use rejects with an error naming it. */
export function startHttpServer(options: { host: string; port: number; app: Koa }): Promise<RunningHttpServer> {
  const handle = options.app.callback();
  const lean = leanPaths.get(options.app);
  const server = createServer(lean === undefined ? handle : (req, res) => {
    if (!lean(req, res)) void handle(req, res);
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.code === "EADDRINUSE") {
        reject(new Error(`HTTP port ${options.port} on ${options.host} is already in use: stop the other process or choose another port with -http-port`));
      } else if (error.code === "EADDRNOTAVAIL" || error.code === "EACCES") {
        reject(new Error(`cannot listen for HTTP on ${options.host}:${options.port} (${error.code}): check -http-port and the client address`));
      } else {
        reject(error);
      }
    };
    server.once("error", onError);
    // A deep accept queue: thousands of watchers may connect at once after a restart.
    server.listen({ port: options.port, host: options.host, backlog: acceptBacklog }, () => {
      server.off("error", onError);
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
