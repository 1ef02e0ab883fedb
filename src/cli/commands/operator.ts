/** `operator raft list-peers | remove-peer | transfer-leader`, over /v1/operator/raft/*. */
import type { Command } from "../command.ts";
import { columnize } from "../columnize.ts";
import { flagString, type ParsedFlags } from "../flags.ts";
import { ApiClient, ApiRequestError, clientFlags, clientOptions, serverFlags } from "../http-client.ts";
import { type CliIo, println } from "../io.ts";

/** `/v1/operator/raft/configuration`'s answer, in Consul's shape. */
export interface RaftConfiguration {
  readonly Servers: readonly {
    readonly ID: string;
    readonly Node: string;
    readonly Address: string;
    readonly Leader: boolean;
    readonly ProtocolVersion: string;
    readonly Voter: boolean;
  }[];
  readonly Index: number;
}

async function run(parsed: ParsedFlags, io: CliIo, what: string, body: (client: ApiClient) => Promise<number>): Promise<number> {
  try {
    return await body(new ApiClient(clientOptions(parsed, io.env)));
  } catch (e) {
    if (!(e instanceof ApiRequestError)) throw e;
    println(io.stderr, `${what}: ${e.message}`);
    return 1;
  }
}

export function formatPeers(config: RaftConfiguration): string {
  const rows = [["Node", "ID", "Address", "State", "Voter", "RaftProtocol"]];
  for (const s of config.Servers) {
    rows.push([s.Node, s.ID, s.Address, s.Leader ? "leader" : "follower", String(s.Voter), s.ProtocolVersion === "" ? "<=1" : s.ProtocolVersion]);
  }
  return columnize(rows);
}

export const listPeersCommand: Command = {
  help: `
Usage: praetor operator raft list-peers [options]

  Displays the current Raft peer configuration.
`,
  flags: [...clientFlags, ...serverFlags],
  async run(parsed, io) {
    return run(parsed, io, "Error getting peers", async (client) => {
      let config: RaftConfiguration;
      try {
        config = await client.json<RaftConfiguration>("/v1/operator/raft/configuration");
      } catch (e) {
        if (e instanceof ApiRequestError) throw new ApiRequestError(`Failed to retrieve raft configuration: ${e.message}`);
        throw e;
      }
      const validServer = (x: unknown) => typeof x === "object" && x !== null && ["ID", "Node", "Address"].every((k) => typeof (x as Record<string, unknown>)[k] === "string");
      if (!Array.isArray(config?.Servers) || !config.Servers.every(validServer)) throw new ApiRequestError(`Failed to retrieve raft configuration: no Servers list in ${JSON.stringify(config).slice(0, 200)}`);
      println(io.stdout, formatPeers(config));
      return 0;
    });
  },
};

export const removePeerCommand: Command = {
  help: `
Usage: praetor operator raft remove-peer [options]

  Remove the Praetor server with given -address from the Raft configuration.

  There are rare cases where a peer may be left behind in the Raft quorum even
  though the server is no longer present and known to the cluster. This command
  can be used to remove the failed server so that it is no longer affects the Raft
  quorum. If the server still shows in the output of the "praetor members" command,
  it is preferable to clean up by simply running "praetor force-leave" instead of
  this command.
`,
  flags: [
    { name: "address", kind: "string", placeholder: "value", usage: "The address to remove from the Raft configuration." },
    { name: "id", kind: "string", placeholder: "value", usage: "The ID to remove from the Raft configuration." },
    ...clientFlags,
    ...serverFlags,
  ],
  async run(parsed, io) {
    const address = flagString(parsed, "address") ?? "";
    const id = flagString(parsed, "id") ?? "";
    if (address === "" && id === "") {
      println(io.stderr, "Error removing peer: an address or id is required for the peer to remove");
      return 1;
    }
    if (address !== "" && id !== "") {
      println(io.stderr, "Error removing peer: cannot give both an address and id");
      return 1;
    }
    return run(parsed, io, "Error removing peer", async (client) => {
      await client.request("/v1/operator/raft/peer", { method: "DELETE", query: address !== "" ? { address } : { id } });
      println(io.stdout, address !== "" ? `Removed peer with address ${JSON.stringify(address)}` : `Removed peer with id ${JSON.stringify(id)}`);
      return 0;
    });
  },
};

export const transferLeaderCommand: Command = {
  help: `
Usage: praetor operator raft transfer-leader [options]

  Transfer raft leadership to another node.
`,
  flags: [
    { name: "id", kind: "string", placeholder: "value", usage: "The ID of the node to transfer leadership to." },
    ...clientFlags,
    ...serverFlags,
  ],
  async run(parsed, io) {
    return run(parsed, io, "Error transferring leadership", async (client) => {
      const id = flagString(parsed, "id");
      let reply: { Success?: boolean };
      try {
        reply = await client.json<{ Success?: boolean }>("/v1/operator/raft/transfer-leader", { method: "POST", query: id === undefined || id === "" ? {} : { id } });
      } catch (e) {
        if (e instanceof ApiRequestError) throw new ApiRequestError(`Failed to transfer leadership ${e.message}`);
        throw e;
      }
      if (reply?.Success !== true) throw new ApiRequestError("Failed to transfer leadership");
      println(io.stdout, "Success");
      return 0;
    });
  },
};
