/** `praetor keyring -list | -install KEY | -use KEY | -remove KEY`, over /v1/operator/keyring. */
import type { Command } from "../command.ts";
import { flagBool, flagString } from "../flags.ts";
import { ApiClient, ApiRequestError, clientFlags, clientOptions } from "../http-client.ts";
import { println } from "../io.ts";

interface PoolAnswer {
  readonly WAN: boolean;
  readonly Datacenter: string;
  readonly Segment?: string;
  readonly Messages?: Readonly<Record<string, string>>;
  readonly Keys?: Readonly<Record<string, number>>;
  readonly NumNodes: number;
}

/** Consul's listing: one block per pool, its members' messages, then each key with how many hold it. */
export function formatKeyring(answers: readonly PoolAnswer[]): string {
  const lines: string[] = [];
  for (const a of answers) {
    const pool = a.WAN ? "WAN" : a.Segment ? `${a.Datacenter} (LAN) [${a.Segment}]` : `${a.Datacenter} (LAN)`;
    lines.push("", `${pool}:`);
    for (const [node, message] of Object.entries(a.Messages ?? {}).sort()) lines.push(`  ===> ${node}: ${message}`);
    for (const key of Object.keys(a.Keys ?? {}).sort()) lines.push(`  ${key} [${a.Keys![key]}/${a.NumNodes}]`);
  }
  return lines.join("\n");
}

const operations = [
  { flag: "install", method: "POST", banner: "Installing new gossip encryption key..." },
  { flag: "use", method: "PUT", banner: "Changing primary gossip encryption key..." },
  { flag: "remove", method: "DELETE", banner: "Removing gossip encryption key..." },
] as const;

export const keyringCommand: Command = {
  help: `
Usage: praetor keyring [options]

  Manages encryption keys used for gossip messages. Gossip encryption is
  optional. When enabled, this command may be used to examine active encryption
  keys in the cluster, add new keys, and remove old ones. When combined, this
  functionality provides the ability to perform key rotation cluster-wide,
  without disrupting the cluster.

  All operations performed by this command can only be run against server nodes,
  and affect both the LAN and WAN keyrings in lock-step.
`,
  flags: [
    { name: "install", kind: "string", placeholder: "<key>", usage: "Install a new encryption key. This will broadcast the new key to all members in the cluster." },
    { name: "list", kind: "bool", usage: "List all keys currently in use within the cluster." },
    { name: "remove", kind: "string", placeholder: "<key>", usage: "Remove the given key from the cluster. This operation may only be performed on keys which are not currently the primary key." },
    { name: "use", kind: "string", placeholder: "<key>", usage: "Change the primary encryption key, which is used to encrypt messages. The key must already be installed before this operation can succeed." },
    { name: "relay-factor", kind: "uint", placeholder: "<int>", usage: "Setting this to a non-zero value will cause nodes to relay their response to the operation through this many randomly-chosen other nodes in the cluster. The maximum allowed value is 5." },
    ...clientFlags,
  ],
  async run(parsed, io) {
    const chosen = operations.filter((o) => (flagString(parsed, o.flag) ?? "") !== "");
    const list = flagBool(parsed, "list");
    if (chosen.length + (list ? 1 : 0) !== 1) {
      println(io.stderr, "Only a single action is allowed");
      return 1;
    }
    const relay = Number(parsed.values.get("relay-factor") ?? 0);
    if (relay > 5) {
      println(io.stderr, "Relay factor must be in range: [0, 5]");
      return 1;
    }
    const client = new ApiClient(clientOptions(parsed, io.env));
    const query = relay > 0 ? { "relay-factor": String(relay) } : {};
    try {
      if (list) {
        println(io.stdout, "==> Gathering installed encryption keys...");
        println(io.stdout, formatKeyring(await client.json<PoolAnswer[]>("/v1/operator/keyring", { query })));
        return 0;
      }
      const op = chosen[0]!;
      println(io.stdout, `==> ${op.banner}`);
      await client.request("/v1/operator/keyring", { method: op.method, query, body: JSON.stringify({ Key: flagString(parsed, op.flag) }) });
      return 0;
    } catch (e) {
      if (!(e instanceof ApiRequestError)) throw e;
      println(io.stderr, `error: ${e.message}`);
      return 1;
    }
  },
};
