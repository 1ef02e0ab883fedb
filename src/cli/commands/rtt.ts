/** `praetor rtt [-wan] node1 [node2]`: the round trip time estimated from two nodes' Vivaldi coordinates. */
import type { Command } from "../command.ts";
import { flagBool } from "../flags.ts";
import { ApiClient, ApiRequestError, clientFlags, clientOptions } from "../http-client.ts";
import { type CliIo, println } from "../io.ts";

export interface Coordinate {
  readonly Vec: readonly number[];
  readonly Error: number;
  readonly Adjustment: number;
  readonly Height: number;
}

/** Serf's DistanceTo: Euclidean distance plus both heights, then the adjustments if that stays positive. Seconds. */
export function distanceSeconds(a: Coordinate, b: Coordinate): number {
  if (a.Vec.length !== b.Vec.length) throw new Error(`coordinate dimensions differ (${a.Vec.length} and ${b.Vec.length})`);
  const raw = Math.sqrt(a.Vec.reduce((sum, x, i) => sum + (x - b.Vec[i]!) ** 2, 0)) + a.Height + b.Height;
  const adjusted = raw + a.Adjustment + b.Adjustment;
  return adjusted > 0 ? adjusted : raw;
}

function fail(io: CliIo, message: string): number {
  println(io.stderr, message);
  return 1;
}

export const rttCommand: Command = {
  help: `
Usage: praetor rtt [options] node1 [node2]

  Estimates the round trip time between two nodes using Praetor's network
  coordinate model of the cluster.

  At least one node name is required. If the second node name isn't given, it
  is set to the agent's node name. These are node names as known to Praetor as
  the "praetor members" command would show, not IP addresses.

  By default, the two nodes are assumed to be nodes in the local datacenter
  and the LAN coordinates are used. If the -wan option is given, then the WAN
  coordinates are used, and the node names must be suffixed by a period and
  the datacenter (eg. "myserver.dc1").
`,
  flags: [{ name: "wan", kind: "bool", usage: "Use WAN coordinates instead of LAN coordinates." }, ...clientFlags],
  async run(parsed, io) {
    if (parsed.args.length < 1 || parsed.args.length > 2) return fail(io, "One or two node names must be specified");
    const wan = flagBool(parsed, "wan");
    try {
      const client = new ApiClient(clientOptions(parsed, io.env));
      const node1 = parsed.args[0]!;
      let node2 = parsed.args[1];
      if (node2 === undefined) {
        const self = await client.json<{ Config?: { NodeName?: string; Datacenter?: string } }>("/v1/agent/self");
        node2 = wan ? `${self.Config?.NodeName ?? ""}.${self.Config?.Datacenter ?? ""}` : (self.Config?.NodeName ?? "");
      }
      const coords = new Map<string, Coordinate>();
      if (wan) {
        const dcs = await client.json<{ Coordinates?: { Node: string; Coord: Coordinate }[] }[]>("/v1/coordinate/datacenters");
        for (const dc of dcs ?? []) for (const c of dc.Coordinates ?? []) coords.set(c.Node, c.Coord);
      } else {
        for (const c of (await client.json<{ Node: string; Coord: Coordinate }[]>("/v1/coordinate/nodes")) ?? []) coords.set(c.Node, c.Coord);
      }
      const a = coords.get(node1);
      if (a === undefined) return fail(io, `Error: Could not find a coordinate for node ${JSON.stringify(node1)}`);
      const b = coords.get(node2);
      if (b === undefined) return fail(io, `Error: Could not find a coordinate for node ${JSON.stringify(node2)}`);
      const ms = distanceSeconds(a, b) * 1000;
      println(io.stdout, `Estimated ${node1} <-> ${node2} rtt: ${ms.toFixed(3)} ms (using ${wan ? "WAN" : "LAN"} coordinates)`);
      return 0;
    } catch (e) {
      if (e instanceof ApiRequestError) return fail(io, `Error getting coordinates: ${e.message}`);
      if (e instanceof Error && e.message.startsWith("coordinate dimensions differ")) return fail(io, `Error: ${e.message}`);
      throw e;
    }
  },
};
