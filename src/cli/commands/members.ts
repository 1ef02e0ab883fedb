/**
 * `praetor members [-detailed] [-status REGEX] [-wan] [-segment S]`: the agent's view of its gossip
 * pool, with Consul's columns, sort order (servers first) and exit codes (2 when nothing matches).
 */
import type { Command } from "../command.ts";
import { columnize } from "../columnize.ts";
import { flagBool, flagString } from "../flags.ts";
import { ApiClient, ApiRequestError, clientFlags, clientOptions } from "../http-client.ts";
import { println } from "../io.ts";

/** One entry of `/v1/agent/members` (Serf's member with its numeric status). */
export interface MemberEntry {
  readonly Name: string;
  readonly Addr: string;
  readonly Port: number;
  readonly Tags: Readonly<Record<string, string>> | null;
  readonly Status: number;
}

function isMemberEntry(m: unknown): m is MemberEntry {
  const e = m as Partial<MemberEntry> | null;
  return typeof e === "object" && e !== null && typeof e.Name === "string" && typeof e.Addr === "string"
    && typeof e.Port === "number" && typeof e.Status === "number"
    && (e.Tags === null || e.Tags === undefined || (typeof e.Tags === "object" && Object.values(e.Tags).every((v) => typeof v === "string")));
}

const serfStatus = ["none", "alive", "leaving", "left", "failed"];

export function memberStatus(status: number): string {
  return serfStatus[status] ?? "unknown";
}

/** Go's net.TCPAddr String: IPv6 in brackets; an address that is not an IP prints as ":port". */
export function hostPort(addr: string, port: number): string {
  if (addr.includes(":")) return `[${addr}]:${port}`;
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(addr)) return `:${port}`;
  return `${addr}:${port}`;
}

interface Row {
  readonly member: MemberEntry;
  readonly tags: Record<string, string>;
}

/** Consul's defaults for the partition and segment columns, then its sort: servers, default partition, segment, partition, name. */
function decorate(members: readonly MemberEntry[], segmentFlag: string): Row[] {
  return members.map((member) => {
    const tags = { ...(member.Tags ?? {}) };
    if ((tags.ap ?? "") === "") tags.ap = "default";
    if (tags.ap === "default") {
      if (segmentFlag === "_all" && tags.role === "consul") tags.segment = "<all>";
      else if ((tags.segment ?? "") === "") tags.segment = "<default>";
    } else tags.segment = "";
    return { member, tags };
  });
}

function compareRows(a: Row, b: Row): number {
  const server = (r: Row) => (r.tags.role === "consul" ? 0 : 1);
  const defaultPartition = (r: Row) => (r.tags.ap === "default" ? 0 : 1);
  return server(a) - server(b)
    || defaultPartition(a) - defaultPartition(b)
    || cmp(a.tags.segment ?? "", b.tags.segment ?? "")
    || cmp(a.tags.ap ?? "", b.tags.ap ?? "")
    || cmp(a.member.Name, b.member.Name);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function standardOutput(rows: readonly Row[]): string {
  const table = [["Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition", "Segment"]];
  for (const { member, tags } of rows) {
    const addr = hostPort(member.Addr, member.Port);
    const status = memberStatus(member.Status);
    const build = (tags.build ?? "") === "" ? "< 0.3" : tags.build!.split(":")[0]!;
    const type = tags.role === "consul" ? "server" : tags.role === "node" ? "client" : undefined;
    if (type === undefined) table.push([member.Name, addr, status, "unknown", "", "", "", "", ""]);
    else table.push([member.Name, addr, status, type, build, tags.vsn ?? "", tags.dc ?? "", tags.ap ?? "", tags.segment ?? ""]);
  }
  return columnize(table);
}

export function detailedOutput(rows: readonly Row[]): string {
  const table = [["Node", "Address", "Status", "Tags"]];
  for (const { member, tags } of rows) {
    const pairs = Object.keys(tags).sort().map((k) => `${k}=${tags[k]}`).join(",");
    table.push([member.Name, hostPort(member.Addr, member.Port), memberStatus(member.Status), pairs]);
  }
  return columnize(table);
}

export const membersCommand: Command = {
  help: `
Usage: praetor members [options]

  Outputs the members of a running Praetor agent.
`,
  flags: [
    { name: "detailed", kind: "bool", usage: "Provides detailed information about nodes." },
    { name: "wan", kind: "bool", usage: "If the agent is in server mode, this can be used to return the other peers in the WAN pool." },
    { name: "status", kind: "string", placeholder: "string", usage: "If provided, output is filtered to only nodes matching the regular expression for status." },
    { name: "segment", kind: "string", placeholder: "string", usage: "(Enterprise-only) If provided, output is filtered to only nodes in the given segment." },
    { name: "filter", kind: "string", placeholder: "string", usage: "Filter to use with the request" },
    ...clientFlags,
  ],
  async run(parsed, io) {
    let statusRe: RegExp;
    try {
      statusRe = new RegExp(flagString(parsed, "status") ?? ".*");
    } catch (e) {
      println(io.stderr, `Failed to compile status regexp: ${(e as Error).message}`);
      return 1;
    }
    const segment = flagString(parsed, "segment") ?? "_all";
    let members: MemberEntry[];
    try {
      const client = new ApiClient(clientOptions(parsed, io.env));
      members = await client.json<MemberEntry[]>("/v1/agent/members", {
        query: { segment, ...(flagBool(parsed, "wan") ? { wan: "1" } : {}), filter: flagString(parsed, "filter") },
      });
    } catch (e) {
      if (!(e instanceof ApiRequestError)) throw e;
      println(io.stderr, `Error retrieving members: ${e.message}`);
      return 1;
    }
    const malformed = !Array.isArray(members) ? members : members.find((m) => !isMemberEntry(m));
    if (malformed !== undefined) {
      println(io.stderr, `Error retrieving members: unexpected answer from the agent: ${JSON.stringify(malformed).slice(0, 200)}`);
      return 1;
    }
    const rows = decorate(members, segment).filter((r) => statusRe.test(memberStatus(r.member.Status)));
    if (rows.length === 0) return 2;
    rows.sort(compareRows);
    println(io.stdout, flagBool(parsed, "detailed") ? detailedOutput(rows) : standardOutput(rows));
    return 0;
  },
};
