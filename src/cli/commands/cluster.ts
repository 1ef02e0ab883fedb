/** `join`, `leave`, `force-leave`, `info`, `reload` and `monitor`: Consul's agent commands over the HTTP API. */
import type { Command } from "../command.ts";
import { flagBool, flagString, type ParsedFlags } from "../flags.ts";
import { ApiClient, ApiRequestError, type ApiResponse, clientFlags, clientOptions } from "../http-client.ts";
import { type CliIo, println } from "../io.ts";

/** A path segment as Consul's client sends it: escaped, but "host:port" keeps its colon. */
function pathSegment(text: string): string {
  return encodeURIComponent(text).replace(/%3A/gi, ":");
}

/** Runs `body` with a client; an API failure prints `${what}: ${message}` and exits 1. */
async function withClient(parsed: ParsedFlags, io: CliIo, what: string, body: (client: ApiClient) => Promise<number>): Promise<number> {
  let client: ApiClient;
  try {
    client = new ApiClient(clientOptions(parsed, io.env));
  } catch (e) {
    if (!(e instanceof ApiRequestError)) throw e;
    println(io.stderr, `Error connecting to Praetor agent: ${e.message}`);
    return 1;
  }
  try {
    return await body(client);
  } catch (e) {
    if (!(e instanceof ApiRequestError)) throw e;
    println(io.stderr, `${what}: ${e.message}`);
    return 1;
  }
}

export const joinCommand: Command = {
  help: `
Usage: praetor join [options] address ...

  Tells a running Praetor agent (with "praetor agent") to join the cluster
  by specifying at least one existing member.
`,
  flags: [{ name: "wan", kind: "bool", usage: "Joins a server to another server in the WAN pool." }, ...clientFlags],
  async run(parsed, io) {
    if (parsed.args.length === 0) {
      println(io.stderr, "At least one address to join must be specified.");
      return 1;
    }
    return withClient(parsed, io, "Error joining", async (client) => {
      let joins = 0;
      for (const addr of parsed.args) {
        try {
          await client.request(`/v1/agent/join/${pathSegment(addr)}`, { method: "PUT", query: flagBool(parsed, "wan") ? { wan: "1" } : {} });
          joins++;
        } catch (e) {
          if (!(e instanceof ApiRequestError)) throw e;
          println(io.stderr, `Error joining address '${addr}': ${e.message}`);
        }
      }
      if (joins === 0) {
        println(io.stderr, "Failed to join any nodes.");
        return 1;
      }
      println(io.stdout, `Successfully joined cluster by contacting ${joins} nodes.`);
      return 0;
    });
  },
};

export const leaveCommand: Command = {
  help: `
Usage: praetor leave [options]

  Causes the agent to gracefully leave the Praetor cluster and shutdown.
`,
  flags: clientFlags,
  async run(parsed, io) {
    if (parsed.args.length > 0) {
      println(io.stderr, `Error found unexpected args: [${parsed.args.join(" ")}]`);
      return 1;
    }
    return withClient(parsed, io, "Error leaving", async (client) => {
      await client.request("/v1/agent/leave", { method: "PUT" });
      println(io.stdout, "Graceful leave complete");
      return 0;
    });
  },
};

export const forceLeaveCommand: Command = {
  help: `
Usage: praetor force-leave [options] name

  Forces a member of a Praetor cluster to enter the "left" state. Note
  that if the member is still actually alive, it will eventually rejoin
  the cluster. This command is most useful for cleaning out "failed" nodes
  that are never coming back. If you do not force leave a failed node,
  Praetor will attempt to reconnect to those failed nodes for some period of
  time before eventually reaping them.
`,
  flags: [
    { name: "prune", kind: "bool", usage: "Remove agent completely from list of members" },
    { name: "wan", kind: "bool", usage: "Exclusively leave the agent from the WAN serf pool." },
    ...clientFlags,
  ],
  async run(parsed, io) {
    if (parsed.args.length !== 1) {
      println(io.stderr, "A single node name must be specified to force leave.");
      return 1;
    }
    return withClient(parsed, io, "Error force leaving", async (client) => {
      const query = { ...(flagBool(parsed, "prune") ? { prune: "1" } : {}), ...(flagBool(parsed, "wan") ? { wan: "1" } : {}) };
      await client.request(`/v1/agent/force-leave/${pathSegment(parsed.args[0]!)}`, { method: "PUT", query });
      return 0;
    });
  },
};

export const infoCommand: Command = {
  help: `
Usage: praetor info [options]

  Provides debugging information for operators
`,
  flags: clientFlags,
  async run(parsed, io) {
    return withClient(parsed, io, "Error querying agent", async (client) => {
      const self = await client.json<Record<string, unknown>>("/v1/agent/self");
      const stats = self?.Stats;
      if (typeof stats !== "object" || stats === null) {
        println(io.stderr, `Agent response did not contain 'Stats' key: ${JSON.stringify(self).slice(0, 200)}`);
        return 1;
      }
      const lines: string[] = [];
      for (const key of Object.keys(stats).sort()) {
        const sub = (stats as Record<string, unknown>)[key];
        if (typeof sub !== "object" || sub === null) {
          println(io.stderr, `Got invalid subkey in stats: ${JSON.stringify(sub)}`);
          return 1;
        }
        lines.push(`${key}:`);
        for (const k of Object.keys(sub).sort()) lines.push(`\t${k} = ${String((sub as Record<string, unknown>)[k])}`);
      }
      println(io.stdout, lines.join("\n"));
      return 0;
    });
  },
};

export const reloadCommand: Command = {
  help: `
Usage: praetor reload

  Causes the agent to reload configurations. This can be used instead
  of sending the SIGHUP signal to the agent.
`,
  flags: clientFlags,
  async run(parsed, io) {
    return withClient(parsed, io, "Error reloading", async (client) => {
      await client.request("/v1/agent/reload", { method: "PUT" });
      println(io.stdout, "Configuration reload triggered");
      return 0;
    });
  },
};

export const monitorCommand: Command = {
  help: `
Usage: praetor monitor [options]

  Shows recent log messages of a Praetor agent, and attaches to the agent,
  outputting log messages as they occur in real time. The monitor lets you
  listen for log levels that may be filtered out of the Praetor agent. For
  example your agent may only be logging at INFO level, but with the monitor
  you can see the DEBUG level logs.
`,
  flags: [
    { name: "log-level", kind: "string", placeholder: "string", usage: "Log level of the agent." },
    { name: "log-json", kind: "bool", usage: "Output logs in JSON format." },
    ...clientFlags,
  ],
  async run(parsed, io) {
    return withClient(parsed, io, "Error starting monitor", async (client) => {
      const query = { loglevel: (flagString(parsed, "log-level") ?? "INFO").toLowerCase(), ...(flagBool(parsed, "log-json") ? { logjson: "true" } : {}) };
      const signal = io.signal;
      let response: ApiResponse;
      try {
        response = await client.request("/v1/agent/monitor", { query, signal });
      } catch (e) {
        if (signal.aborted) return 0;
        throw e;
      }
      return streamLines(response, io, signal);
    });
  },
};

/** Copies the monitor stream to stdout line by line until the agent closes it (exit 1) or we are interrupted (exit 0). */
async function streamLines(response: ApiResponse, io: CliIo, signal: AbortSignal): Promise<number> {
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for await (const chunk of response.body) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) println(io.stdout, line);
    }
  } catch (e) {
    if (signal.aborted) return 0;
    println(io.stderr, `Error reading monitor stream: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (signal.aborted) return 0;
  if (pending !== "") println(io.stdout, pending);
  println(io.stdout, "");
  println(io.stdout, "Remote side ended the monitor! This usually means that the\nremote side has exited or crashed.");
  return 1;
}

