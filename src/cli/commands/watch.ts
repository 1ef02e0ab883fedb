/**
 * `praetor watch -type key|keyprefix|services|nodes|service|checks|event [handler...]`: a blocking
 * query loop as Consul's watch plan runs it. Without a handler the first result is printed as
 * JSON and the command exits; with one, the handler runs with the JSON on its stdin (and
 * CONSUL_INDEX in its environment) at start and after every change, until interrupted.
 */
import type { Command } from "../command.ts";
import { flagBool, flagList, flagString, type ParsedFlags } from "../flags.ts";
import { ApiClient, ApiRequestError, clientFlags, clientOptions, serverFlags } from "../http-client.ts";
import { type CliIo, println } from "../io.ts";

/** What one watch type asks for, and how the answer becomes the handler's data. */
interface WatchQuery {
  readonly path: string;
  readonly query: Record<string, string | readonly string[] | undefined>;
  /** 404 means "nothing" (a missing key) rather than an error. */
  readonly notFoundIsEmpty?: boolean;
  readonly shape: (body: unknown) => unknown;
}

function kvPath(key: string): string {
  return `/v1/kv/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** Builds the query for -type from the flags, or returns the error Consul prints. */
export function watchQuery(parsed: ParsedFlags): WatchQuery | string {
  const type = flagString(parsed, "type") ?? "";
  const need = (flag: string): string | undefined => flagString(parsed, flag);
  switch (type) {
    case "key": {
      const key = need("key");
      if (key === undefined || key === "") return "Must specify a single key to watch";
      return { path: kvPath(key.replace(/^\//, "")), query: {}, notFoundIsEmpty: true, shape: (b) => (Array.isArray(b) ? (b[0] ?? null) : null) };
    }
    case "keyprefix": {
      const prefix = need("prefix");
      if (prefix === undefined) return "Must specify a single prefix to watch";
      return { path: kvPath(prefix.replace(/^\//, "")), query: { recurse: "" }, notFoundIsEmpty: true, shape: (b) => b ?? [] };
    }
    case "services":
      return { path: "/v1/catalog/services", query: {}, shape: (b) => b };
    case "nodes":
      return { path: "/v1/catalog/nodes", query: {}, shape: (b) => b };
    case "service": {
      const service = need("service");
      if (service === undefined || service === "") return "Must specify a single service to watch";
      return {
        path: `/v1/health/service/${encodeURIComponent(service)}`,
        query: { tag: flagList(parsed, "tag"), ...(flagBool(parsed, "passingonly") ? { passing: "" } : {}) },
        shape: (b) => b,
      };
    }
    case "checks": {
      const service = need("service");
      const state = need("state");
      if (service !== undefined && state !== undefined) return "Cannot specify service and state";
      if (service !== undefined) return { path: `/v1/health/checks/${encodeURIComponent(service)}`, query: {}, shape: (b) => b };
      return { path: `/v1/health/state/${encodeURIComponent(state ?? "any")}`, query: {}, shape: (b) => b };
    }
    case "event":
      return { path: "/v1/event/list", query: { name: need("name") }, shape: (b) => b };
    case "":
      return "Watch type must be specified";
    default:
      return `Unsupported watch type: ${type}`;
  }
}

function fail(io: CliIo, message: string): number {
  println(io.stderr, message);
  return 1;
}

function indexOf(headers: Readonly<Record<string, string | string[] | undefined>>): number {
  const raw = headers["x-consul-index"];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** One blocking fetch: the data and the index to block on next. */
async function fetchOnce(client: ApiClient, q: WatchQuery, index: number, signal: AbortSignal): Promise<{ index: number; data: unknown }> {
  try {
    const response = await client.request(q.path, { query: { ...q.query, ...(index > 0 ? { index: String(index), wait: "5m" } : {}) }, signal });
    const text = await response.text();
    return { index: indexOf(response.headers), data: q.shape(text === "" ? null : JSON.parse(text)) };
  } catch (e) {
    if (q.notFoundIsEmpty === true && e instanceof ApiRequestError && e.status === 404) return { index, data: q.shape(null) };
    throw e;
  }
}

/** Waits `ms`, or less if the signal aborts; leaves no listener behind either way. */
const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  if (signal.aborted) return resolve();
  const onAbort = () => {
    clearTimeout(timer);
    resolve();
  };
  const timer = setTimeout(() => {
    signal.removeEventListener("abort", onAbort);
    resolve();
  }, ms);
  signal.addEventListener("abort", onAbort, { once: true });
});

/** Runs the handler with the JSON on stdin; resolves with its exit code (or a spawn error). */
async function runHandler(args: readonly string[], shell: boolean, data: unknown, index: number, io: CliIo): Promise<{ code: number | null; error?: string }> {
  const { spawn } = await import("node:child_process");
  return new Promise((resolve) => {
    const child = shell
      ? spawn("/bin/sh", ["-c", args.join(" ")], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...io.env, CONSUL_INDEX: String(index) } })
      : spawn(args[0]!, args.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...io.env, CONSUL_INDEX: String(index) } });
    child.stdout.on("data", (c: Buffer) => io.stdout(c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => io.stderr(c.toString("utf8")));
    child.on("error", (e) => resolve({ code: null, error: e.message }));
    child.on("close", (code) => resolve({ code }));
    child.stdin.on("error", () => {});
    child.stdin.end(`${JSON.stringify(data)}\n`);
  });
}

export const watchCommand: Command = {
  help: `
Usage: praetor watch [options] [child...]

  Watches for changes in a given data view from Praetor. If a child process
  is specified, it will be invoked with the latest results on changes. Otherwise,
  the latest values are dumped to stdout and the watch terminates.

  Providing the watch type is required, and other parameters may be required
  or supported depending on the watch type.
`,
  flags: [
    { name: "type", kind: "string", placeholder: "string", usage: "Specifies the watch type. One of key, keyprefix, services, nodes, service, checks, or event." },
    { name: "key", kind: "string", placeholder: "string", usage: "Specifies the key to watch. Only for 'key' type." },
    { name: "prefix", kind: "string", placeholder: "string", usage: "Specifies the key prefix to watch. Only for 'keyprefix' type." },
    { name: "service", kind: "string", placeholder: "string", usage: "Specifies the service to watch. Required for 'service' type, optional for 'checks' type." },
    { name: "tag", kind: "list", placeholder: "string", usage: "Specifies the service tag(s) to filter on. Optional for 'service' type. May be specified multiple times." },
    { name: "passingonly", kind: "bool", usage: "Specifies if only hosts passing all checks are displayed. Optional for 'service' type, defaults to false." },
    { name: "state", kind: "string", placeholder: "string", usage: "Specifies the states to watch. Optional for 'checks' type." },
    { name: "name", kind: "string", placeholder: "string", usage: "Specifies an event name to watch. Only for 'event' type." },
    { name: "shell", kind: "bool", usage: "Use a shell to run the command (can set a custom shell via the SHELL environment variable). The default value is true." },
    ...clientFlags,
    ...serverFlags,
  ],
  async run(parsed, io) {
    const q = watchQuery(parsed);
    if (typeof q === "string") return fail(io, q);
    let client: ApiClient;
    try {
      client = new ApiClient(clientOptions(parsed, io.env));
      // As Consul's watch does: check the agent answers before blocking on anything.
      await client.request("/v1/agent/self");
    } catch (e) {
      if (!(e instanceof ApiRequestError)) throw e;
      return fail(io, `Error querying Praetor agent: ${e.message}`);
    }
    const shell = parsed.values.get("shell") !== false;
    const handler = parsed.args;
    const signal = handler.length === 0 ? new AbortController().signal : io.signal;
    let index = 0;
    let last: string | undefined;
    let backoffMs = 0;
    while (!signal.aborted) {
      let result: { index: number; data: unknown };
      try {
        result = await fetchOnce(client, q, index, signal);
        backoffMs = 0;
      } catch (e) {
        if (signal.aborted) break;
        if (handler.length === 0) return fail(io, `Error querying Praetor agent: ${(e as Error).message}`);
        backoffMs = Math.min(Math.max(backoffMs * 2, 1_000), 20_000);
        println(io.stderr, `Watch errored: ${(e as Error).message}, retry in ${backoffMs / 1000}s`);
        await sleep(backoffMs, signal);
        continue;
      }
      // An index that went backwards (a restore, a new leader's view) restarts the watch from zero.
      const nextIndex = result.index < index ? 0 : result.index;
      const json = JSON.stringify(result.data);
      if (json !== last) {
        last = json;
        if (handler.length === 0) {
          println(io.stdout, JSON.stringify(result.data, null, 4));
          return 0;
        }
        const { code, error } = await runHandler(handler, shell, result.data, result.index, io);
        if (error !== undefined) return fail(io, `Error starting handler: ${error}`);
        if (code !== 0) return fail(io, `Error executing handler: exit status ${code}`);
      }
      index = nextIndex;
      // No index from the agent means it cannot block: poll once a second instead of spinning.
      if (index === 0) await sleep(1_000, signal);
    }
    return 0;
  },
};
