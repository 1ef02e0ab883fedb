/**
 * Anti-entropy (Consul's agent/local state sync): an agent owns its node, services and checks, and
 * brings the catalog's copy in line with them — register what is missing, fix what differs,
 * deregister what it no longer owns. It returns writes only for real differences, so the
 * periodic full sync of a steady agent proposes nothing.
 *
 * `serfHealth` belongs to the leader (reconcile.ts) and is never touched here. A check whose only
 * difference is its output may be deferred (Consul's check_update_interval), so a check that
 * prints a timestamp does not write on every run; a status change is never deferred.
 */
import type { Command } from "../catalog/commands.ts";
import type { CheckRecord, CheckStatus, NodeServices, ServiceRecord } from "../catalog/types.ts";
import { consulServiceId, serfCheckId } from "./reconcile.ts";

export interface LocalNode {
  readonly name: string;
  readonly id: string;
  readonly address: string;
  readonly datacenter: string;
  readonly taggedAddresses: Readonly<Record<string, string>>;
  readonly meta: Readonly<Record<string, string>>;
}

export interface LocalService {
  readonly ID: string;
  readonly Service: string;
  readonly Tags: readonly string[];
  readonly Address: string;
  readonly Port: number;
  readonly Meta: Readonly<Record<string, string>>;
  readonly Weights: { readonly Passing: number; readonly Warning: number };
  readonly EnableTagOverride: boolean;
  readonly Kind: string;
}

export interface LocalCheck {
  readonly CheckID: string;
  readonly Name: string;
  readonly Status: CheckStatus;
  readonly Output: string;
  readonly Notes: string;
  readonly ServiceID: string;
  readonly Type: string;
}

export type SyncWrite =
  | Omit<Extract<Command, { op: "catalog.register" }>, "v" | "nowMs">
  | Omit<Extract<Command, { op: "catalog.deregister" }>, "v" | "nowMs">;

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const sameMap = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
};

function sameService(local: LocalService, remote: ServiceRecord): boolean {
  return local.Service === remote.Service && sameList(local.Tags, remote.Tags) && local.Address === remote.Address &&
    local.Port === remote.Port && sameMap(local.Meta, remote.Meta) && local.Weights.Passing === remote.Weights.Passing &&
    local.Weights.Warning === remote.Weights.Warning && local.EnableTagOverride === remote.EnableTagOverride &&
    local.Kind === remote.Kind;
}

type CheckDiff = "same" | "output-only" | "differs";

function compareCheck(local: LocalCheck, remote: CheckRecord): CheckDiff {
  if (local.Name !== remote.Name || local.Status !== remote.Status || local.Notes !== remote.Notes ||
    local.ServiceID !== remote.ServiceID || local.Type !== remote.Type) return "differs";
  return local.Output === remote.Output ? "same" : "output-only";
}

export interface SyncInput {
  readonly node: LocalNode;
  readonly services: ReadonlyMap<string, LocalService>;
  readonly checks: ReadonlyMap<string, LocalCheck>;
  /** The catalog's view of this node (null: not registered), and its checks. */
  readonly catalogNode: NodeServices | null;
  readonly catalogChecks: readonly CheckRecord[];
  /** True for a check whose output-only change must wait (check_update_interval not yet passed). */
  readonly deferOutput: (checkId: string) => boolean;
}

export function syncWrites(input: SyncInput): SyncWrite[] {
  const { node } = input;
  const writes: SyncWrite[] = [];
  const base = { Node: node.name, ID: node.id, Address: node.address, Datacenter: node.datacenter, TaggedAddresses: { ...node.taggedAddresses }, NodeMeta: { ...node.meta } };
  const remoteNode = input.catalogNode?.Node;
  const nodeDiffers = remoteNode === undefined || remoteNode.Address !== node.address || remoteNode.ID !== node.id ||
    !sameMap(remoteNode.TaggedAddresses, node.taggedAddresses) || !sameMap(remoteNode.Meta, node.meta);
  if (nodeDiffers) writes.push({ op: "catalog.register", ...base });
  const remoteServices = input.catalogNode?.Services ?? {};
  for (const [id, service] of input.services) {
    const remote = remoteServices[id];
    if (remote !== undefined && sameService(service, remote)) continue;
    writes.push({
      op: "catalog.register", ...base, SkipNodeUpdate: true,
      Service: {
        ID: service.ID, Service: service.Service, Tags: [...service.Tags], Address: service.Address, Port: service.Port,
        Meta: { ...service.Meta }, Weights: { ...service.Weights }, EnableTagOverride: service.EnableTagOverride, Kind: service.Kind,
      },
    });
  }
  for (const id of Object.keys(remoteServices).sort()) {
    // The leader keeps a server's `consul` service (reconcile.ts), as Consul's local state skips it.
    if (id === consulServiceId && !input.services.has(id)) continue;
    if (!input.services.has(id)) writes.push({ op: "catalog.deregister", Node: node.name, ServiceID: id });
  }
  const remoteChecks = new Map(input.catalogChecks.map((c) => [c.CheckID, c]));
  for (const [id, check] of input.checks) {
    const remote = remoteChecks.get(id);
    const diff = remote === undefined ? "differs" : compareCheck(check, remote);
    if (diff === "same" || (diff === "output-only" && input.deferOutput(id))) continue;
    // A service check whose service is not in the catalog yet goes in with the service's write above.
    writes.push({
      op: "catalog.register", ...base, SkipNodeUpdate: true,
      Check: { CheckID: check.CheckID, Name: check.Name, Status: check.Status, Output: check.Output, Notes: check.Notes, ServiceID: check.ServiceID, Type: check.Type },
    });
  }
  for (const id of [...remoteChecks.keys()].sort()) {
    if (id === serfCheckId || input.checks.has(id)) continue;
    const remote = remoteChecks.get(id)!;
    // A check of a service being deregistered goes with it.
    if (remote.ServiceID !== "" && !input.services.has(remote.ServiceID)) continue;
    writes.push({ op: "catalog.deregister", Node: node.name, CheckID: id });
  }
  return writes;
}
