/**
 * The leader's reconciliation of the LAN gossip pool into the catalog (Consul's leader.go
 * `reconcileMember`/`reconcileReaped`): each live member is a registered node with a passing
 * `serfHealth` check, a failed one keeps its node with `serfHealth` critical, a member that left
 * (or was reaped) is deregistered with everything on it. It proposes a write only where the
 * catalog differs from that, so a steady cluster reconciles with zero Raft writes.
 */
import type { Command } from "../catalog/commands.ts";
import type { CheckRecord, NodeRecord, ServiceRecord } from "../catalog/types.ts";

export const serfCheckId = "serfHealth";
export const serfCheckName = "Serf Health Status";
export const serfAliveOutput = "Agent alive and reachable";
export const serfFailedOutput = "Agent not live or unreachable";

export type PoolStatus = "alive" | "leaving" | "left" | "failed";

/** A LAN member as the leader sees it, with Consul's tags already read. */
export interface PoolMember {
  readonly name: string;
  readonly addr: string;
  readonly status: PoolStatus;
  /** Consul's `id` tag: the node ID. */
  readonly nodeId: string;
  readonly meta?: Readonly<Record<string, string>>;
  /** Serf tags (`role`, `port`, `dc`, `raft_vsn`, `build`, `nonvoter`): a server gets the `consul` service. */
  readonly tags?: Readonly<Record<string, string>>;
}

/** What the catalog holds for one node, as far as reconciliation cares. */
export interface CatalogNodeView {
  readonly node: NodeRecord;
  readonly serfHealth: Pick<CheckRecord, "Status" | "Output"> | null;
  /** The node's `consul` service (servers only), null when absent. */
  readonly consulService?: Pick<ServiceRecord, "Port" | "Meta"> | null;
}

/** Consul's `structs.ConsulServiceID`: every server of the datacenter is an instance of it. */
export const consulServiceId = "consul";

type ServiceSpec = NonNullable<Extract<Command, { op: "catalog.register" }>["Service"]>;

/**
 * The `consul` service a live server of this datacenter carries (Consul's leader.go
 * handleAliveMember): its RPC port and metadata read from its tags, so `consul.service.consul`
 * resolves to the servers. Null for clients and for servers of other datacenters.
 */
export function consulServiceFor(member: PoolMember, datacenter: string): ServiceSpec | null {
  const tags = member.tags;
  if (tags === undefined || tags.role !== "consul" || (tags.dc ?? datacenter) !== datacenter) return null;
  const port = Number(tags.port ?? "8300");
  return {
    ID: consulServiceId, Service: consulServiceId, Tags: [], Address: "", Port: Number.isInteger(port) && port > 0 && port < 65536 ? port : 8300,
    Weights: { Passing: 1, Warning: 1 },
    Meta: {
      non_voter: String(tags.nonvoter === "1"),
      raft_version: tags.raft_vsn ?? "3",
      read_replica: String(tags.read_replica === "1"),
      // memberlist's protocol range, as Consul reports it from the member.
      serf_protocol_current: "2",
      serf_protocol_max: "5",
      serf_protocol_min: "1",
      version: (tags.build ?? "").split(":")[0] ?? "",
    },
  };
}

function sameMeta(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

type CatalogWrite = Omit<Extract<Command, { op: "catalog.register" }>, "v" | "nowMs"> | Omit<Extract<Command, { op: "catalog.deregister" }>, "v" | "nowMs">;

export function serfHealthCheck(status: "passing" | "critical"): NonNullable<Extract<Command, { op: "catalog.register" }>["Check"]> {
  return {
    CheckID: serfCheckId, Name: serfCheckName, Status: status,
    Output: status === "passing" ? serfAliveOutput : serfFailedOutput, Notes: "", Type: "",
  };
}

/**
 * The writes that bring one member's catalog entry in line with its gossip status; none when it
 * already is. `existing` is null when the catalog has no such node.
 */
export function reconcileMember(member: PoolMember, existing: CatalogNodeView | null, datacenter: string): CatalogWrite[] {
  switch (member.status) {
    case "alive": {
      const service = consulServiceFor(member, datacenter);
      const serviceUpToDate = service === null || (existing?.consulService != null &&
        existing.consulService.Port === service.Port && sameMeta(existing.consulService.Meta, service.Meta ?? {}));
      const upToDate = existing !== null &&
        existing.node.Address === member.addr &&
        (member.nodeId === "" || existing.node.ID === member.nodeId) &&
        existing.serfHealth?.Status === "passing" && serviceUpToDate;
      if (upToDate) return [];
      return [{
        op: "catalog.register", Node: member.name, ID: member.nodeId || undefined, Address: member.addr, Datacenter: datacenter,
        ...(existing === null && member.meta !== undefined ? { NodeMeta: { ...member.meta } } : {}),
        ...(existing !== null ? { NodeMeta: { ...existing.node.Meta }, TaggedAddresses: { ...existing.node.TaggedAddresses } } : {}),
        ...(service !== null ? { Service: service } : {}),
        Check: serfHealthCheck("passing"),
      }];
    }
    case "failed": {
      if (existing !== null && existing.serfHealth?.Status === "critical") return [];
      return [{
        op: "catalog.register", Node: member.name, ID: member.nodeId || undefined,
        Address: existing?.node.Address ?? member.addr, Datacenter: datacenter,
        ...(existing !== null ? { NodeMeta: { ...existing.node.Meta }, TaggedAddresses: { ...existing.node.TaggedAddresses } } : {}),
        Check: serfHealthCheck("critical"),
      }];
    }
    case "left":
      return existing === null ? [] : [{ op: "catalog.deregister", Node: member.name }];
    case "leaving":
      // Still alive until its leave completes; nothing to change yet.
      return [];
  }
}

/** The node meta key every agent's anti-entropy sets on its own node (Consul's agents set it too). */
export const agentNodeMetaKey = "consul-network-segment";

/**
 * A node an agent put in the catalog: it has the leader's serfHealth check, or the meta key that
 * agents' anti-entropy writes (a registration that raced the agent's departure lands without
 * serfHealth, and must not outlive it). Nodes from /v1/catalog/register carry neither.
 */
function agentOwned(view: CatalogNodeView): boolean {
  return view.serfHealth !== null || Object.hasOwn(view.node.Meta, agentNodeMetaKey);
}

/**
 * The whole pool at once (on winning an election, and periodically): every member reconciled,
 * and every agent's catalog node that is no longer a member (reaped while no leader was watching)
 * deregistered. Nodes registered through /v1/catalog/register (external services) are left alone.
 */
export function reconcileAll(
  members: readonly PoolMember[],
  catalogNodes: ReadonlyMap<string, CatalogNodeView>,
  datacenter: string,
): CatalogWrite[] {
  const writes: CatalogWrite[] = [];
  const known = new Set<string>();
  for (const member of members) {
    known.add(member.name);
    writes.push(...reconcileMember(member, catalogNodes.get(member.name) ?? null, datacenter));
  }
  for (const [name, view] of catalogNodes) {
    if (known.has(name) || !agentOwned(view)) continue;
    writes.push({ op: "catalog.deregister", Node: name });
  }
  return writes;
}
