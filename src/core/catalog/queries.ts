/**
 * Reads, each answering with Consul's JSON shapes and the index the HTTP layer sends as
 * X-Consul-Index (never 0). Instances are ordered by node then service ID in both the catalog
 * and the health answers, because Traefik pairs the two by position.
 */
import type { CatalogState } from "./state.ts";
import type {
  CatalogServiceEntry, CheckRecord, CheckStatus, HealthServiceEntry, KvEntry, NodeRecord, NodeServices,
  QueryResult, RaftIndex, ServiceRecord, SessionRecord,
} from "./types.ts";
import type { WatchScope } from "./watch.ts";

export interface ServiceFilter {
  /** Every tag must be present (case-insensitively), as repeated `?tag=` asks. */
  tags?: readonly string[];
  /** Every `key: value` must match the node's Meta, as repeated `?node-meta=k:v` asks. */
  nodeMeta?: Readonly<Record<string, string>>;
  /** `?passing`: drop instances with any non-passing check, node checks included. */
  passing?: boolean;
}

function answer<T>(index: RaftIndex, value: T): QueryResult<T> {
  return { index: Math.max(1, index), value };
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** Consul's memdb indexes node names, service and check IDs lowercased: that is its order. */
const byFolded = (a: string, b: string): number => byString(a.toLowerCase(), b.toLowerCase()) || byString(a, b);

/** Sorts in byFolded order, lowercasing each string once rather than on every comparison. */
function sortFolded(items: Iterable<string>): string[] {
  const decorated = [...items].map((item) => [item.toLowerCase(), item] as const);
  decorated.sort((a, b) => byString(a[0], b[0]) || byString(a[1], b[1]));
  return decorated.map(([, item]) => item);
}

function copyNode(node: NodeRecord): NodeRecord {
  return { ...node, TaggedAddresses: { ...node.TaggedAddresses }, Meta: { ...node.Meta } };
}

function copyService(service: ServiceRecord): ServiceRecord {
  return { ...service, Tags: [...service.Tags], Meta: { ...service.Meta }, Weights: { ...service.Weights } };
}

function copyCheck(check: CheckRecord): CheckRecord {
  return { ...check, ServiceTags: [...check.ServiceTags] };
}

function metaMatches(node: NodeRecord, nodeMeta: Readonly<Record<string, string>> | undefined): boolean {
  if (nodeMeta === undefined) return true;
  return Object.entries(nodeMeta).every(([key, value]) => Object.hasOwn(node.Meta, key) && node.Meta[key] === value);
}

function tagsMatch(service: ServiceRecord, tags: readonly string[] | undefined): boolean {
  if (tags === undefined || tags.length === 0) return true;
  const have = new Set(service.Tags.map((tag) => tag.toLowerCase()));
  return tags.every((tag) => have.has(tag.toLowerCase()));
}

/**
 * The scopes each blocking query watches. A query's index is by construction the highest index
 * over exactly these scopes (`indexOver`), so a client passing back the index it got waits until
 * one of them moves, and every write that wakes the query moves its index.
 */
export const queryScopes = {
  catalogNodes: (): WatchScope[] => [{ kind: "table", table: "nodes" }],
  /** With a node-meta filter the answer also depends on the nodes' Meta. */
  catalogServices: (nodeMeta?: Readonly<Record<string, string>>): WatchScope[] =>
    nodeMeta === undefined ? [{ kind: "table", table: "services" }] : [{ kind: "table", table: "services" }, { kind: "table", table: "nodes" }],
  catalogService: (name: string): WatchScope[] => [{ kind: "service", name }],
  catalogNode: (name: string): WatchScope[] => [{ kind: "node", name }],
  healthNode: (name: string): WatchScope[] => [{ kind: "node", name }],
  healthChecks: (service: string): WatchScope[] => [{ kind: "service", name: service }],
  healthService: (name: string): WatchScope[] => [{ kind: "service", name }],
  healthState: (nodeMeta?: Readonly<Record<string, string>>): WatchScope[] =>
    nodeMeta === undefined ? [{ kind: "table", table: "checks" }] : [{ kind: "table", table: "checks" }, { kind: "table", table: "nodes" }],
  kvGet: (key: string): WatchScope[] => [{ kind: "kvKey", key }],
  kvList: (prefix: string): WatchScope[] => [{ kind: "kvPrefix", prefix }],
  kvKeys: (prefix: string): WatchScope[] => [{ kind: "kvPrefix", prefix }],
  sessionInfo: (): WatchScope[] => [{ kind: "table", table: "sessions" }],
  sessionList: (): WatchScope[] => [{ kind: "table", table: "sessions" }],
  preparedQueries: (): WatchScope[] => [{ kind: "table", table: "queries" }],
  /** Execute reads a query and then any service's health: every table it may touch. */
  preparedQueryExecute: (): WatchScope[] => (["queries", "nodes", "services", "checks"] as const).map((table) => ({ kind: "table", table })),
} as const;

/** The highest index over `scopes`: what a query watching them reports (before the 0 -> 1 rule). */
export function indexOver(state: CatalogState, scopes: readonly WatchScope[]): RaftIndex {
  let highest = 0;
  for (const scope of scopes) highest = Math.max(highest, scopeIndex(state, scope));
  return highest;
}

/** The index of a scope, as its blocking query reports it. */
export function scopeIndex(state: CatalogState, scope: WatchScope): RaftIndex {
  return Math.max(state.indexFloor, scopeOwnIndex(state, scope));
}

function scopeOwnIndex(state: CatalogState, scope: WatchScope): RaftIndex {
  switch (scope.kind) {
    case "table": return state.tableIndex(scope.table);
    case "service": return serviceIndexOf(state, scope.name);
    case "node": return state.nodeIndex.get(scope.name) ?? catalogTablesIndex(state);
    case "kvKey": return state.kv.get(scope.key)?.ModifyIndex ?? state.kv.tableIndex;
    case "kvPrefix": return state.kv.prefixIndex(scope.prefix);
  }
}

function catalogTablesIndex(state: CatalogState): RaftIndex {
  return Math.max(state.tableIndex("nodes"), state.tableIndex("services"), state.tableIndex("checks"));
}

/** A service never seen answers with the catalog tables' index (Consul uses its extinction index). */
function serviceIndexOf(state: CatalogState, name: string): RaftIndex {
  return state.serviceIndex.get(name) ?? catalogTablesIndex(state);
}

export function catalogNodes(state: CatalogState, nodeMeta?: Record<string, string>): QueryResult<NodeRecord[]> {
  const nodes = [...state.nodes.values()].filter((node) => metaMatches(node, nodeMeta));
  return answer(indexOver(state, queryScopes.catalogNodes()), nodes.sort((a, b) => byFolded(a.Node, b.Node)).map(copyNode));
}

/** `/v1/catalog/services`: name -> distinct tags (sorted, for deterministic answers). */
export function catalogServices(state: CatalogState, nodeMeta?: Record<string, string>): QueryResult<Record<string, string[]>> {
  const tagsByName = new Map<string, Set<string>>();
  for (const [nodeName, onNode] of state.services) {
    if (!metaMatches(state.nodes.get(nodeName)!, nodeMeta)) continue;
    for (const service of onNode.values()) {
      let tags = tagsByName.get(service.Service);
      if (tags === undefined) tagsByName.set(service.Service, (tags = new Set()));
      for (const tag of service.Tags) tags.add(tag);
    }
  }
  const value: Record<string, string[]> = {};
  for (const name of [...tagsByName.keys()].sort(byString)) value[name] = [...tagsByName.get(name)!].sort(byString);
  return answer(indexOver(state, queryScopes.catalogServices(nodeMeta)), value);
}

/** Instances of a service, ordered by node then service ID, filtered by tags and node meta. */
function instances(state: CatalogState, name: string, filter: ServiceFilter): [NodeRecord, ServiceRecord][] {
  const byNode = state.instancesByName.get(name);
  if (byNode === undefined) return [];
  const out: [NodeRecord, ServiceRecord][] = [];
  for (const nodeName of sortFolded(byNode.keys())) {
    const node = state.nodes.get(nodeName)!;
    if (!metaMatches(node, filter.nodeMeta)) continue;
    for (const id of sortFolded(byNode.get(nodeName)!)) {
      const service = state.services.get(nodeName)!.get(id)!;
      if (tagsMatch(service, filter.tags)) out.push([node, service]);
    }
  }
  return out;
}

export function catalogService(state: CatalogState, name: string, filter: ServiceFilter = {}): QueryResult<CatalogServiceEntry[]> {
  const value = instances(state, name, filter).map(([node, service]): CatalogServiceEntry => ({
    ID: node.ID, Node: node.Node, Address: node.Address, Datacenter: node.Datacenter,
    TaggedAddresses: { ...node.TaggedAddresses }, NodeMeta: { ...node.Meta }, ServiceKind: service.Kind,
    ServiceID: service.ID, ServiceName: service.Service, ServiceTags: [...service.Tags],
    ServiceAddress: service.Address, ServiceWeights: { ...service.Weights }, ServiceMeta: { ...service.Meta },
    ServicePort: service.Port, ServiceEnableTagOverride: service.EnableTagOverride,
    CreateIndex: service.CreateIndex, ModifyIndex: service.ModifyIndex,
  }));
  return answer(indexOver(state, queryScopes.catalogService(name)), value);
}

export function catalogNode(state: CatalogState, name: string): QueryResult<NodeServices | null> {
  // The node's own scope: it moves on its record, its services and its checks.
  const index = indexOver(state, queryScopes.catalogNode(name));
  const node = state.nodes.get(name);
  if (node === undefined) return answer(index, null);
  const services: Record<string, ServiceRecord> = {};
  const onNode = state.services.get(name) ?? new Map<string, ServiceRecord>();
  for (const id of [...onNode.keys()].sort(byString)) services[id] = copyService(onNode.get(id)!);
  return answer(index, { Node: copyNode(node), Services: services });
}

/**
 * For the agent's anti-entropy diff: the node's record and every service and check on it, as
 * full records (copies), services by ID and checks by CheckID; null when the node is unknown.
 * Watches the node's scope, like `catalogNode`.
 */
export function nodeServicesAndChecks(state: CatalogState, name: string): QueryResult<NodeServicesAndChecks | null> {
  const index = indexOver(state, queryScopes.catalogNode(name));
  const node = state.nodes.get(name);
  if (node === undefined) return answer(index, null);
  const onNode = state.services.get(name) ?? new Map<string, ServiceRecord>();
  const services = [...onNode.keys()].sort(byString).map((id) => copyService(onNode.get(id)!));
  const checks = [...(state.checks.get(name)?.values() ?? [])].sort((a, b) => byString(a.CheckID, b.CheckID)).map(copyCheck);
  return answer(index, { Node: copyNode(node), Services: services, Checks: checks });
}

export interface NodeServicesAndChecks {
  Node: NodeRecord;
  Services: ServiceRecord[];
  Checks: CheckRecord[];
}

function nodeChecks(state: CatalogState, node: string): CheckRecord[] {
  const onNode = state.checks.get(node);
  if (onNode === undefined) return [];
  return sortFolded(onNode.keys()).map((id) => onNode.get(id)!);
}

export function healthNode(state: CatalogState, node: string): QueryResult<CheckRecord[]> {
  return answer(indexOver(state, queryScopes.healthNode(node)), nodeChecks(state, node).map(copyCheck));
}

export function healthChecks(state: CatalogState, service: string, filter: ServiceFilter = {}): QueryResult<CheckRecord[]> {
  const checks: CheckRecord[] = [];
  for (const [node, instance] of instances(state, service, { nodeMeta: filter.nodeMeta })) {
    for (const check of checksOf(state, node.Node, instance.ID, false)) checks.push(copyCheck(check));
  }
  return answer(indexOver(state, queryScopes.healthChecks(service)), checks);
}

const byCheckId = (a: CheckRecord, b: CheckRecord): number => byFolded(a.CheckID, b.CheckID);

/**
 * Checks of one instance in CheckID order, the node's own checks included when asked: Consul
 * walks the node's checks in ID order and keeps node-level ones and the instance's own.
 */
function checksOf(state: CatalogState, node: string, serviceId: string, withNodeChecks: boolean): CheckRecord[] {
  const onNode = state.checks.get(node);
  if (onNode === undefined) return [];
  const picked: CheckRecord[] = [];
  for (const check of onNode.values()) {
    if (check.ServiceID === serviceId || (withNodeChecks && check.ServiceID === "")) picked.push(check);
  }
  return picked.sort(byCheckId);
}

export function healthService(state: CatalogState, name: string, filter: ServiceFilter = {}): QueryResult<HealthServiceEntry[]> {
  const value: HealthServiceEntry[] = [];
  for (const [node, service] of instances(state, name, filter)) {
    const checks = checksOf(state, node.Node, service.ID, true);
    if (filter.passing === true && checks.some((check) => check.Status !== "passing")) continue;
    value.push({ Node: copyNode(node), Service: copyService(service), Checks: checks.map(copyCheck) });
  }
  return answer(indexOver(state, queryScopes.healthService(name)), value);
}

/** `/v1/health/state/:state`; "any" lists every check. */
export function healthState(state: CatalogState, status: CheckStatus | "any", nodeMeta?: Record<string, string>): QueryResult<CheckRecord[]> {
  const checks: CheckRecord[] = [];
  for (const node of sortFolded(state.checks.keys())) {
    if (!metaMatches(state.nodes.get(node)!, nodeMeta)) continue;
    for (const check of nodeChecks(state, node)) if (status === "any" || check.Status === status) checks.push(copyCheck(check));
  }
  return answer(indexOver(state, queryScopes.healthState(nodeMeta)), checks);
}

const statusRank: Record<CheckStatus, number> = { passing: 0, warning: 1, critical: 2, maintenance: 3 };
const statusByRank: readonly CheckStatus[] = ["passing", "warning", "critical", "maintenance"];

/** Consul's node and service maintenance checks (api.NodeMaint, api.ServiceMaintPrefix). */
export const nodeMaintenanceCheckId = "_node_maintenance";
export const serviceMaintenanceCheckPrefix = "_service_maintenance:";

/**
 * Consul's `HealthChecks.AggregatedStatus`: any maintenance check (by its ID,
 * `_node_maintenance` or `_service_maintenance:<id>`, whatever its status) makes it
 * `maintenance`; else critical beats warning beats passing; no checks is passing. A check whose
 * Status is itself `maintenance` counts as maintenance too (Consul answers "" for it).
 */
export function aggregatedStatus(checks: readonly (Pick<CheckRecord, "Status"> & { CheckID?: string })[]): CheckStatus {
  let worst = 0;
  for (const check of checks) {
    const id = check.CheckID ?? "";
    const maintenance = id === nodeMaintenanceCheckId || id.startsWith(serviceMaintenanceCheckPrefix);
    worst = Math.max(worst, maintenance ? statusRank.maintenance : statusRank[check.Status]);
  }
  return statusByRank[worst]!;
}

function copyEntry(entry: KvEntry): KvEntry {
  return { ...entry };
}

/** A single key answers with its own ModifyIndex; a missing one with the KV table's index. */
export function kvGet(state: CatalogState, key: string): QueryResult<KvEntry | null> {
  const entry = state.kv.get(key);
  return answer(indexOver(state, queryScopes.kvGet(key)), entry === undefined ? null : copyEntry(entry));
}

export function kvList(state: CatalogState, prefix: string): QueryResult<KvEntry[]> {
  return answer(indexOver(state, queryScopes.kvList(prefix)), [...state.kv.withPrefix(prefix)].map(copyEntry));
}

/** `?keys[&separator=/]`: keys under the prefix, each cut just after the first separator past it. */
export function kvKeys(state: CatalogState, prefix: string, separator = ""): QueryResult<string[]> {
  const keys: string[] = [];
  for (const entry of state.kv.withPrefix(prefix)) {
    let key = entry.Key;
    if (separator !== "") {
      const at = key.indexOf(separator, prefix.length);
      if (at >= 0) key = key.slice(0, at + separator.length);
    }
    if (keys[keys.length - 1] !== key) keys.push(key);
  }
  return answer(indexOver(state, queryScopes.kvKeys(prefix)), keys);
}

function copySession(record: SessionRecord): SessionRecord {
  return { ...record, Checks: [...record.Checks], NodeChecks: [...record.NodeChecks], ServiceChecks: record.ServiceChecks.map((r) => ({ ...r })) };
}

export function sessionInfo(state: CatalogState, id: string): QueryResult<SessionRecord[]> {
  const session = state.sessions.get(id);
  return answer(indexOver(state, queryScopes.sessionInfo()), session === undefined ? [] : [copySession(session.record)]);
}

export function sessionList(state: CatalogState, node?: string): QueryResult<SessionRecord[]> {
  const ids = node === undefined ? [...state.sessions.keys()] : [...(state.sessionsByNode.get(node) ?? [])];
  return answer(indexOver(state, queryScopes.sessionList()), ids.sort(byString).map((id) => copySession(state.sessions.get(id)!.record)));
}
