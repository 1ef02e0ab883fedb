/** `praetor catalog datacenters|nodes|services`, in Consul's formats. */
import type { Command } from "../command.ts";
import { columnize } from "../columnize.ts";
import { flagBool, flagList, flagString, type ParsedFlags } from "../flags.ts";
import { ApiClient, ApiRequestError, clientFlags, clientOptions, serverFlags } from "../http-client.ts";
import { type CliIo, println } from "../io.ts";

interface CatalogNode {
  readonly ID: string;
  readonly Node: string;
  readonly Address: string;
  readonly Datacenter: string;
  readonly TaggedAddresses?: Record<string, string> | null;
  readonly Meta?: Record<string, string> | null;
}

async function call<T>(parsed: ParsedFlags, io: CliIo, prefix: string, body: (client: ApiClient) => Promise<T>): Promise<T | undefined> {
  try {
    return await body(new ApiClient(clientOptions(parsed, io.env)));
  } catch (e) {
    if (!(e instanceof ApiRequestError)) throw e;
    println(io.stderr, `${prefix}: ${e.message}`);
    return undefined;
  }
}

/** `-node-meta key=value` (repeatable) as Consul sends it: node-meta=key:value, once per pair. */
function nodeMetaQuery(parsed: ParsedFlags): Record<string, string[]> {
  const pairs = flagList(parsed, "node-meta").map((pair) => {
    const eq = pair.indexOf("=");
    return eq < 0 ? `${pair}:` : `${pair.slice(0, eq)}:${pair.slice(eq + 1)}`;
  });
  return pairs.length === 0 ? {} : { "node-meta": pairs };
}

const nodeMetaFlag = { name: "node-meta", kind: "list" as const, placeholder: "key=value", usage: "Metadata to filter nodes with the given `key=value` pairs. This flag may be specified multiple times to filter on multiple sources of metadata." };

export const catalogDatacentersCommand: Command = {
  help: `
Usage: praetor catalog datacenters [options]

  Retrieves the list of all known datacenters. This datacenters are sorted in
  ascending order based on the estimated median round trip time from the servers
  in this datacenter to the servers in the other datacenters.
`,
  flags: clientFlags,
  async run(parsed, io) {
    if (parsed.args.length > 0) {
      println(io.stderr, "The `catalog datacenters` command takes no arguments.");
      return 1;
    }
    const dcs = await call(parsed, io, "Error listing datacenters", (c) => c.json<string[]>("/v1/catalog/datacenters"));
    if (dcs === undefined) return 1;
    if (dcs.length === 0) {
      println(io.stderr, "No datacenters found");
      return 1;
    }
    for (const dc of dcs) println(io.stdout, dc);
    return 0;
  },
};

function sortedPairs(map: Record<string, string> | null | undefined): string {
  return Object.keys(map ?? {}).sort().map((k) => `${k}=${map![k]}`).join(", ");
}

export function formatNodes(nodes: readonly CatalogNode[], detailed: boolean): string {
  if (detailed) {
    return columnize([
      ["Node", "ID", "Address", "DC", "TaggedAddresses", "Meta"],
      ...nodes.map((n) => [n.Node, n.ID, n.Address, n.Datacenter, sortedPairs(n.TaggedAddresses), sortedPairs(n.Meta)]),
    ]);
  }
  return columnize([["Node", "ID", "Address", "DC"], ...nodes.map((n) => [n.Node, n.ID.slice(0, 8), n.Address, n.Datacenter])]);
}

export const catalogNodesCommand: Command = {
  help: `
Usage: praetor catalog nodes [options]

  Retrieves the list nodes registered in a given datacenter. By default, the
  datacenter of the local agent is queried.
`,
  flags: [
    { name: "detailed", kind: "bool", usage: "Output detailed information about the nodes including their addresses and metadata." },
    { name: "near", kind: "string", placeholder: "string", usage: "Node name to sort the node list in ascending order based on estimated round-trip time from that node. Passing \"_agent\" will use this agent's node for sorting." },
    nodeMetaFlag,
    { name: "service", kind: "string", placeholder: "id or name", usage: "Service id or name to filter nodes. Only nodes which are providing the given service will be returned." },
    { name: "filter", kind: "string", placeholder: "string", usage: "Filter to use with the request" },
    ...clientFlags,
    ...serverFlags,
  ],
  async run(parsed, io) {
    if (parsed.args.length > 0) {
      println(io.stderr, "The `catalog nodes` command takes no arguments.");
      return 1;
    }
    const service = flagString(parsed, "service");
    const query = { near: flagString(parsed, "near"), filter: flagString(parsed, "filter"), ...nodeMetaQuery(parsed) };
    const nodes = await call(parsed, io, "Error listing nodes", async (c) => {
      if (service === undefined) return c.json<CatalogNode[]>("/v1/catalog/nodes", { query });
      const entries = await c.json<{ ID: string; Node: string; Address: string; Datacenter: string; TaggedAddresses: Record<string, string> | null; NodeMeta: Record<string, string> | null }[]>(
        `/v1/catalog/service/${encodeURIComponent(service)}`, { query });
      const seen = new Set<string>();
      return entries.filter((e) => !seen.has(e.Node) && seen.add(e.Node)).map((e) => ({ ID: e.ID, Node: e.Node, Address: e.Address, Datacenter: e.Datacenter, TaggedAddresses: e.TaggedAddresses, Meta: e.NodeMeta }));
    });
    if (nodes === undefined) return 1;
    if (nodes.length === 0) {
      println(io.stderr, "No nodes match the given query - try expanding your search.");
      return 0;
    }
    println(io.stdout, formatNodes(nodes, flagBool(parsed, "detailed")));
    return 0;
  },
};

export const catalogServicesCommand: Command = {
  help: `
Usage: praetor catalog services [options]

  Retrieves the list services registered in a given datacenter. By default, the
  datacenter of the local agent is queried.
`,
  flags: [
    { name: "node", kind: "string", placeholder: "id or name", usage: "Node id or name for which to list services." },
    nodeMetaFlag,
    { name: "tags", kind: "bool", usage: "Display each service's tags as a comma-separated list beside each service entry." },
    ...clientFlags,
    ...serverFlags,
  ],
  async run(parsed, io) {
    if (parsed.args.length > 0) {
      println(io.stderr, "The `catalog services` command takes no arguments.");
      return 1;
    }
    const node = flagString(parsed, "node");
    const query = nodeMetaQuery(parsed);
    const services = await call(parsed, io, "Error listing services", async (c) => {
      if (node === undefined) return c.json<Record<string, string[] | null>>("/v1/catalog/services", { query });
      const info = await c.json<{ Services?: Record<string, { Service: string; Tags: string[] | null }> } | null>(`/v1/catalog/node/${encodeURIComponent(node)}`, { query });
      const out: Record<string, string[]> = {};
      for (const s of Object.values(info?.Services ?? {})) out[s.Service] = [...new Set([...(out[s.Service] ?? []), ...(s.Tags ?? [])])];
      return out;
    });
    if (services === undefined) return 1;
    const names = Object.keys(services).sort();
    if (names.length === 0) {
      println(io.stderr, "No services match the given query - try expanding your search.");
      return 0;
    }
    if (flagBool(parsed, "tags")) {
      const width = Math.max(...names.map((n) => n.length)) + 6;
      println(io.stdout, names.map((n) => `${n.padEnd(width)}${[...(services[n] ?? [])].sort().join(",")}`).join("\n").trim());
    } else for (const n of names) println(io.stdout, n);
    return 0;
  },
};
