/**
 * A tiny fake of the agent's HTTP API for CLI tests: each route answers from a table, and every
 * request is recorded (method, path with query, token header) so tests can assert what was sent.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { CliIo } from "../../src/cli/io.ts";

export interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly token: string | undefined;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface FakeAgent {
  readonly addr: string;
  readonly requests: Recorded[];
  close(): Promise<void>;
}

/** Routes are "METHOD /path" (query ignored) → a JSON value, a status/body pair, or a handler. */
export async function fakeAgent(routes: Readonly<Record<string, unknown>>): Promise<FakeAgent> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method!, url: req.url!, token: req.headers["x-consul-token"] as string | undefined });
    const key = `${req.method} ${req.url!.split("?")[0]}`;
    const route = routes[key];
    if (route === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`no route ${key}`);
    } else if (typeof route === "function") (route as Handler)(req, res);
    else if (route instanceof Reply) res.writeHead(route.status, { "content-type": "text/plain" }).end(route.body);
    else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(route));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    addr: `127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A plain-text answer with a status, as Consul's errors are. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {}
}

/** An in-process CliIo that records stdout and stderr. */
export function captureIo(env: Record<string, string | undefined> = {}, signal: AbortSignal = new AbortController().signal) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (s) => out.push(s), stderr: (s) => err.push(s), env, signal };
  return { io, stdout: () => out.join(""), stderr: () => err.join("") };
}
