/**
 * Catalog register and deregister with Consul's upsert and cascade rules (catalog.go):
 * a registration ensures the node, then the service, then the checks, and a write that changes
 * nothing leaves ModifyIndex (and every blocking query) alone. Deregistering a node removes its
 * services, checks and sessions; a service takes its checks with it.
 */
import { assert } from "../util/assert.ts";
import type { CheckInput, Command, ServiceInput } from "./commands.ts";
import { invalidateSessionsOfCheck, invalidateSessionsOfNode } from "./sessions.ts";
import type { CatalogState } from "./state.ts";
import { checkStatuses, type ApplyResult, type CheckRecord, type CheckStatus, type NodeRecord, type ServiceRecord } from "./types.ts";

type RegisterCommand = Extract<Command, { op: "catalog.register" }>;
type DeregisterCommand = Extract<Command, { op: "catalog.deregister" }>;

function fail(status: 400 | 500, message: string): ApplyResult {
  return { ok: false, error: { status, message } };
}

export function register(state: CatalogState, cmd: RegisterCommand, nowMs: number): ApplyResult {
  const checks = [...(cmd.Check === undefined ? [] : [cmd.Check]), ...(cmd.Checks ?? [])];
  const invalid = validateRegistration(state, cmd, checks);
  if (invalid !== null) return invalid;
  ensureNode(state, cmd);
  if (cmd.Service !== undefined) ensureService(state, cmd.Node, cmd.Service);
  for (const check of checks) ensureCheck(state, cmd.Node, check, nowMs);
  return { ok: true, value: true };
}

/** Everything is checked before anything is written, so a refused registration writes nothing. */
function validateRegistration(state: CatalogState, cmd: RegisterCommand, checks: CheckInput[]): ApplyResult | null {
  // As Consul's RegisterRequest.ChangesNode: with SkipNodeUpdate a missing node is still created
  // (address empty until its own registration), so registrations may arrive in any order.
  if (cmd.Address === "" && cmd.SkipNodeUpdate !== true) {
    return fail(500, "Must provide address if SkipNodeUpdate is not set");
  }
  const serviceIds = new Set(state.services.get(cmd.Node)?.keys() ?? []);
  if (cmd.Service !== undefined) serviceIds.add(cmd.Service.ID || cmd.Service.Service);
  for (const check of checks) {
    if (check.Node !== undefined && check.Node !== "" && check.Node !== cmd.Node) {
      return fail(500, `Node '${check.Node}' for check does not match register request node '${cmd.Node}'`);
    }
    if ((check.CheckID ?? check.Name ?? "") === "") return fail(500, "Must provide a CheckID or Name for each check");
    if (check.Status !== undefined && check.Status !== "" && !(checkStatuses as readonly string[]).includes(check.Status)) {
      return fail(400, `Invalid check status: "${check.Status}"`);
    }
    if (check.ServiceID !== undefined && check.ServiceID !== "" && !serviceIds.has(check.ServiceID)) {
      return fail(500, "Missing service registration");
    }
  }
  return null;
}

/** Maps are stored with sorted keys: a snapshot restore sorts them, and answers must not differ. */
function sortedMap(map: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(map ?? {}).sort()) out[key] = map![key]!;
  return out;
}

function sameStrings(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function ensureNode(state: CatalogState, cmd: RegisterCommand): void {
  const existing = state.nodes.get(cmd.Node);
  if (existing !== undefined && cmd.SkipNodeUpdate === true) return;
  const next: NodeRecord = {
    ID: cmd.ID ?? "", Node: cmd.Node, Address: cmd.Address,
    Datacenter: cmd.Datacenter || state.config.datacenter,
    TaggedAddresses: sortedMap(cmd.TaggedAddresses), Meta: sortedMap(cmd.NodeMeta),
    CreateIndex: existing?.CreateIndex ?? state.index, ModifyIndex: state.index,
  };
  if (existing !== undefined && existing.ID === next.ID && existing.Address === next.Address &&
    existing.Datacenter === next.Datacenter && sameStrings(existing.TaggedAddresses, next.TaggedAddresses) &&
    sameStrings(existing.Meta, next.Meta)) return;
  state.nodes.set(cmd.Node, next);
  state.bumpTable("nodes");
  state.bumpNode(cmd.Node, true);
}

function ensureService(state: CatalogState, node: string, input: ServiceInput): void {
  const id = input.ID || input.Service;
  let onNode = state.services.get(node);
  if (onNode === undefined) state.services.set(node, (onNode = new Map()));
  const existing = onNode.get(id);
  const next: ServiceRecord = {
    Kind: input.Kind ?? "", ID: id, Service: input.Service, Tags: [...(input.Tags ?? [])],
    Address: input.Address ?? "", Meta: sortedMap(input.Meta), Port: input.Port ?? 0,
    Weights: { ...(input.Weights ?? { Passing: 1, Warning: 1 }) }, EnableTagOverride: input.EnableTagOverride ?? false,
    CreateIndex: existing?.CreateIndex ?? state.index, ModifyIndex: state.index,
  };
  if (existing !== undefined && sameService(existing, next)) return;
  if (existing !== undefined && existing.Service !== next.Service) unlinkInstance(state, existing.Service, node, id);
  onNode.set(id, next);
  linkInstance(state, next.Service, node, id);
  state.bumpTable("services");
  state.bumpService(next.Service);
  state.bumpNode(node, false);
}

function sameService(a: ServiceRecord, b: ServiceRecord): boolean {
  return a.Kind === b.Kind && a.Service === b.Service && sameList(a.Tags, b.Tags) && a.Address === b.Address &&
    sameStrings(a.Meta, b.Meta) && a.Port === b.Port && a.Weights.Passing === b.Weights.Passing &&
    a.Weights.Warning === b.Weights.Warning && a.EnableTagOverride === b.EnableTagOverride;
}

function linkInstance(state: CatalogState, name: string, node: string, id: string): void {
  let byNode = state.instancesByName.get(name);
  if (byNode === undefined) state.instancesByName.set(name, (byNode = new Map()));
  let ids = byNode.get(node);
  if (ids === undefined) byNode.set(node, (ids = new Set()));
  ids.add(id);
}

function unlinkInstance(state: CatalogState, name: string, node: string, id: string): void {
  const byNode = state.instancesByName.get(name);
  const ids = byNode?.get(node);
  assert(ids !== undefined && ids.has(id), () => `instance index lacks ${name} ${node}/${id}`);
  ids.delete(id);
  if (ids.size === 0) byNode!.delete(node);
  if (byNode!.size === 0) state.instancesByName.delete(name);
  state.bumpService(name);
}

function ensureCheck(state: CatalogState, node: string, input: CheckInput, nowMs: number): void {
  const checkId = input.CheckID || input.Name!;
  let onNode = state.checks.get(node);
  if (onNode === undefined) state.checks.set(node, (onNode = new Map()));
  const existing = onNode.get(checkId);
  const serviceId = input.ServiceID ?? "";
  const service = serviceId === "" ? undefined : state.services.get(node)?.get(serviceId);
  assert(serviceId === "" || service !== undefined, () => `check ${checkId}: service ${serviceId} vanished after validation`);
  const next: CheckRecord = {
    Node: node, CheckID: checkId, Name: input.Name ?? "",
    // Consul's default for a check registered without a status.
    Status: (input.Status || "critical") as CheckStatus, Notes: input.Notes ?? "", Output: input.Output ?? "",
    ServiceID: serviceId, ServiceName: service?.Service ?? "", ServiceTags: [...(service?.Tags ?? [])],
    Type: input.Type ?? "", CreateIndex: existing?.CreateIndex ?? state.index, ModifyIndex: state.index,
  };
  if (existing === undefined || !sameCheck(existing, next)) {
    onNode.set(checkId, next);
    touchCheck(state, next);
  }
  if (next.Status === "critical") invalidateSessionsOfCheck(state, node, checkId, nowMs);
}

function sameCheck(a: CheckRecord, b: CheckRecord): boolean {
  return a.Name === b.Name && a.Status === b.Status && a.Notes === b.Notes && a.Output === b.Output &&
    a.ServiceID === b.ServiceID && a.ServiceName === b.ServiceName && sameList(a.ServiceTags, b.ServiceTags) && a.Type === b.Type;
}

/**
 * A service check touches its service; a node check touches every service on the node. The
 * service's current name is used, not the check's copy, which goes stale when the service is
 * re-registered under another name.
 */
function touchCheck(state: CatalogState, check: CheckRecord): void {
  state.bumpTable("checks");
  if (check.ServiceID !== "") {
    state.bumpService(state.services.get(check.Node)?.get(check.ServiceID)?.Service ?? check.ServiceName);
    state.bumpNode(check.Node, false);
  } else {
    state.bumpNode(check.Node, true);
  }
}

/** Consul's precedence: a ServiceID deletes the service, else a CheckID the check, else the node. */
export function deregister(state: CatalogState, cmd: DeregisterCommand, nowMs: number): ApplyResult {
  if (cmd.ServiceID !== undefined && cmd.ServiceID !== "") deleteService(state, cmd.Node, cmd.ServiceID, nowMs);
  else if (cmd.CheckID !== undefined && cmd.CheckID !== "") deleteCheck(state, cmd.Node, cmd.CheckID, nowMs);
  else deleteNode(state, cmd.Node, nowMs);
  return { ok: true, value: true };
}

function deleteNode(state: CatalogState, node: string, nowMs: number): void {
  if (!state.nodes.has(node)) return;
  for (const id of [...(state.services.get(node)?.keys() ?? [])].sort()) deleteService(state, node, id, nowMs);
  for (const id of [...(state.checks.get(node)?.keys() ?? [])].sort()) deleteCheck(state, node, id, nowMs);
  invalidateSessionsOfNode(state, node, nowMs);
  state.nodes.delete(node);
  state.services.delete(node);
  state.checks.delete(node);
  state.bumpTable("nodes");
  state.bumpNode(node, false);
}

function deleteService(state: CatalogState, node: string, id: string, nowMs: number): void {
  const onNode = state.services.get(node);
  const service = onNode?.get(id);
  if (service === undefined) return;
  const serviceChecks = [...(state.checks.get(node)?.values() ?? [])].filter((check) => check.ServiceID === id);
  for (const check of serviceChecks.map((c) => c.CheckID).sort()) deleteCheck(state, node, check, nowMs);
  onNode!.delete(id);
  if (onNode!.size === 0) state.services.delete(node);
  unlinkInstance(state, service.Service, node, id);
  state.bumpTable("services");
  state.bumpNode(node, false);
}

function deleteCheck(state: CatalogState, node: string, checkId: string, nowMs: number): void {
  const onNode = state.checks.get(node);
  const check = onNode?.get(checkId);
  if (check === undefined) return;
  onNode!.delete(checkId);
  if (onNode!.size === 0) state.checks.delete(node);
  touchCheck(state, check);
  invalidateSessionsOfCheck(state, node, checkId, nowMs);
}
