/**
 * Snapshot and restore for Raft log compaction. The bytes are msgpack with sorted keys over
 * lists sorted by their natural keys, so every server that applied the same log produces the
 * same bytes whatever order its maps were filled in. Derived indexes (instances by name,
 * sessions by check/node/key) are rebuilt on restore rather than stored.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { assert } from "../util/assert.ts";
import { CatalogState, checkKey, type CatalogConfig, type SessionState } from "./state.ts";
import { kvFlagsWire, parseKvFlags, type KvFlags } from "./kv-flags.ts";
import type { CheckRecord, KvEntry, NodeRecord, PreparedQueryRecord, RaftIndex, ServiceRecord, SessionRecord } from "./types.ts";

const snapshotVersion = 1;

interface SnapshotData {
  v: number;
  appliedIndex: RaftIndex;
  clockMs: number;
  /** `queries` is absent while no prepared query was ever written (older snapshots: 0). */
  tableIndexes: { nodes: number; services: number; checks: number; sessions: number; kv: number; queries?: number };
  serviceIndex: [string, RaftIndex][];
  nodeIndex: [string, RaftIndex][];
  nodes: NodeRecord[];
  services: [string, ServiceRecord][];
  checks: CheckRecord[];
  kv: KvEntry[];
  tombstones: [string, RaftIndex][];
  /** Absent in snapshots written before it existed (read as 0). */
  kvReapedIndexMax?: RaftIndex;
  /** The index of the last operator restore: no query reports less (absent: 0). */
  indexFloor?: RaftIndex;
  sessions: SessionState[];
  lockDelays: [string, number][];
  /** Absent when there are none (and in snapshots written before they existed). */
  preparedQueries?: PreparedQueryRecord[];
}

const byFirst = <T>(a: [string, T], b: [string, T]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function sortedEntries<T>(map: Map<string, T>): [string, T][] {
  return [...map].sort(byFirst);
}

export function encodeSnapshot(state: CatalogState): Uint8Array {
  const services: [string, ServiceRecord][] = [];
  const checks: CheckRecord[] = [];
  for (const [node, onNode] of sortedEntries(state.services)) {
    for (const [, service] of sortedEntries(onNode)) services.push([node, service]);
  }
  for (const [, onNode] of sortedEntries(state.checks)) for (const [, check] of sortedEntries(onNode)) checks.push(check);
  const data: SnapshotData = {
    v: snapshotVersion,
    appliedIndex: state.appliedIndex,
    clockMs: state.clockMs,
    tableIndexes: tableIndexesOf(state),
    serviceIndex: sortedEntries(state.serviceIndex),
    nodeIndex: sortedEntries(state.nodeIndex),
    nodes: sortedEntries(state.nodes).map(([, node]) => node),
    services,
    checks,
    kv: state.kv.allEntries().map((e) => (typeof e.Flags === "bigint" ? { ...e, Flags: kvFlagsWire(e.Flags) as unknown as KvFlags } : e)),
    tombstones: state.kv.allTombstones(),
    kvReapedIndexMax: state.kv.reapedIndexMax,
    ...(state.indexFloor > 0 ? { indexFloor: state.indexFloor } : {}),
    sessions: sortedEntries(state.sessions).map(([, session]) => session),
    lockDelays: sortedEntries(state.lockDelayUntilMs),
    ...(state.preparedQueries.size > 0 ? { preparedQueries: sortedEntries(state.preparedQueries).map(([, query]) => query) } : {}),
  };
  // A fresh codec per snapshot: a shared one would keep the largest buffer it ever used.
  return new Encoder({ sortKeys: true, ignoreUndefined: true }).encode(data);
}

/** A catalog that never held a prepared query writes the same bytes as before they existed. */
function tableIndexesOf(state: CatalogState): SnapshotData["tableIndexes"] {
  const { queries, ...rest } = state.tableIndexes;
  return { ...rest, kv: state.kv.tableIndex, ...(queries > 0 ? { queries } : {}) };
}

/** Builds a fresh state from snapshot bytes; throws on bytes that are not a catalog snapshot. */
export function decodeSnapshot(bytes: Uint8Array, config: CatalogConfig): CatalogState {
  const data = new Decoder().decode(bytes) as SnapshotData;
  assert(typeof data === "object" && data !== null, "catalog snapshot: not a map");
  assert(data.v === snapshotVersion, () => `catalog snapshot: unsupported version ${String(data.v)}`);
  return stateFrom(data, config);
}

function stateFrom(data: SnapshotData, config: CatalogConfig): CatalogState {
  const state = new CatalogState(config);
  state.appliedIndex = data.appliedIndex;
  state.clockMs = data.clockMs;
  Object.assign(state.tableIndexes, {
    nodes: data.tableIndexes.nodes, services: data.tableIndexes.services,
    checks: data.tableIndexes.checks, sessions: data.tableIndexes.sessions, queries: data.tableIndexes.queries ?? 0,
  });
  for (const [name, index] of data.serviceIndex) state.serviceIndex.set(name, index);
  for (const [name, index] of data.nodeIndex) state.nodeIndex.set(name, index);
  for (const node of data.nodes) state.nodes.set(node.Node, canonicalNode(node));
  restoreServicesAndChecks(state, data);
  // Copy values out so the restored state does not pin the whole snapshot buffer.
  for (const entry of data.kv) state.kv.restoreEntry(canonicalEntry(entry));
  for (const [key, index] of data.tombstones) state.kv.restoreTombstone(key, index);
  state.kv.tableIndex = data.tableIndexes.kv;
  state.kv.reapedIndexMax = data.kvReapedIndexMax ?? 0;
  state.indexFloor = data.indexFloor ?? 0;
  for (const session of data.sessions) restoreSession(state, session);
  for (const [key, untilMs] of data.lockDelays) state.lockDelayUntilMs.set(key, untilMs);
  for (const query of data.preparedQueries ?? []) {
    assert(query.Session === "" || state.sessions.has(query.Session), () => `prepared query ${query.ID} bound to missing session ${query.Session}`);
    state.preparedQueries.set(query.ID, canonicalQuery(query));
  }
  return state;
}

function restoreServicesAndChecks(state: CatalogState, data: SnapshotData): void {
  for (const [node, service] of data.services) {
    let onNode = state.services.get(node);
    if (onNode === undefined) state.services.set(node, (onNode = new Map()));
    onNode.set(service.ID, canonicalService(service));
    let byNode = state.instancesByName.get(service.Service);
    if (byNode === undefined) state.instancesByName.set(service.Service, (byNode = new Map()));
    let ids = byNode.get(node);
    if (ids === undefined) byNode.set(node, (ids = new Set()));
    ids.add(service.ID);
  }
  for (const check of data.checks) {
    let onNode = state.checks.get(check.Node);
    if (onNode === undefined) state.checks.set(check.Node, (onNode = new Map()));
    onNode.set(check.CheckID, canonicalCheck(check));
  }
}

function restoreSession(state: CatalogState, restored: SessionState): void {
  const session = { ...restored, record: canonicalSession(restored.record) };
  const { record } = session;
  state.sessions.set(record.ID, session);
  state.sessionIndexAdd(state.sessionsByNode, record.Node, record.ID);
  for (const id of record.Checks) state.sessionIndexAdd(state.sessionsByCheck, checkKey(record.Node, id), record.ID);
}

/*
 * Msgpack hands records back with their keys sorted; these rebuild them in the order a live
 * server creates them (Consul's field order), so a restored server's JSON answers are the same
 * bytes as everyone else's.
 */
function canonicalNode(r: NodeRecord): NodeRecord {
  return {
    ID: r.ID, Node: r.Node, Address: r.Address, Datacenter: r.Datacenter, TaggedAddresses: r.TaggedAddresses,
    Meta: r.Meta, CreateIndex: r.CreateIndex, ModifyIndex: r.ModifyIndex,
  };
}

function canonicalService(r: ServiceRecord): ServiceRecord {
  return {
    Kind: r.Kind, ID: r.ID, Service: r.Service, Tags: r.Tags, Address: r.Address, Meta: r.Meta, Port: r.Port,
    Weights: { Passing: r.Weights.Passing, Warning: r.Weights.Warning }, EnableTagOverride: r.EnableTagOverride,
    CreateIndex: r.CreateIndex, ModifyIndex: r.ModifyIndex,
  };
}

function canonicalCheck(r: CheckRecord): CheckRecord {
  return {
    Node: r.Node, CheckID: r.CheckID, Name: r.Name, Status: r.Status, Notes: r.Notes, Output: r.Output,
    ServiceID: r.ServiceID, ServiceName: r.ServiceName, ServiceTags: r.ServiceTags, Type: r.Type,
    CreateIndex: r.CreateIndex, ModifyIndex: r.ModifyIndex,
  };
}

/** Values are copied out so the restored state does not pin the whole snapshot buffer. */
function canonicalEntry(r: KvEntry): KvEntry {
  return {
    LockIndex: r.LockIndex, Key: r.Key, Flags: parseKvFlags(r.Flags)!, Value: r.Value === null ? null : r.Value.slice(),
    ...(r.Session === undefined ? {} : { Session: r.Session }), CreateIndex: r.CreateIndex, ModifyIndex: r.ModifyIndex,
  };
}

function canonicalSession(r: SessionRecord): SessionRecord {
  return {
    ID: r.ID, Name: r.Name, Node: r.Node, Checks: r.Checks, NodeChecks: r.NodeChecks,
    ServiceChecks: r.ServiceChecks.map((ref) => ({ ID: ref.ID, Namespace: ref.Namespace })), LockDelay: r.LockDelay,
    Behavior: r.Behavior, TTL: r.TTL, CreateIndex: r.CreateIndex, ModifyIndex: r.ModifyIndex,
  };
}

function canonicalQuery(r: PreparedQueryRecord): PreparedQueryRecord {
  const s = r.Service;
  return {
    ID: r.ID, Name: r.Name, Session: r.Session, Token: r.Token,
    Template: { Type: r.Template.Type, Regexp: r.Template.Regexp, RemoveEmptyTags: r.Template.RemoveEmptyTags },
    Service: {
      Service: s.Service, Failover: { NearestN: s.Failover.NearestN, Datacenters: s.Failover.Datacenters },
      IgnoreCheckIDs: s.IgnoreCheckIDs, OnlyPassing: s.OnlyPassing, Near: s.Near, Tags: s.Tags, NodeMeta: s.NodeMeta,
      ServiceMeta: s.ServiceMeta, Connect: s.Connect,
    },
    DNS: { TTL: r.DNS.TTL }, CreateIndex: r.CreateIndex, ModifyIndex: r.ModifyIndex,
  };
}

const isIndex = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isStr = (v: unknown): v is string => typeof v === "string";
const isStrMap = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && Object.values(v).every(isStr);
const isStrList = (v: unknown): boolean => Array.isArray(v) && v.every(isStr);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** Names the first field of an untrusted snapshot that is not what a Praetor snapshot holds. */
function snapshotShapeProblem(data: unknown): string | null {
  if (!isRecord(data)) return "not a map";
  if (data.v !== snapshotVersion) return `unsupported version ${JSON.stringify(data.v ?? null)}`;
  for (const f of ["appliedIndex", "clockMs"] as const) if (!isIndex(data[f])) return `${f} is not a non-negative integer`;
  const t = data.tableIndexes;
  if (!isRecord(t) || !["nodes", "services", "checks", "sessions", "kv"].every((k) => isIndex(t[k]))) return "tableIndexes is malformed";
  if (t.queries !== undefined && !isIndex(t.queries)) return "tableIndexes is malformed";
  for (const f of ["serviceIndex", "nodeIndex", "tombstones", "lockDelays"] as const) {
    const list = data[f];
    if (!Array.isArray(list) || !list.every((e) => Array.isArray(e) && e.length === 2 && isStr(e[0]) && isIndex(e[1]))) return `${f} is malformed`;
  }
  for (const f of ["kvReapedIndexMax", "indexFloor"] as const) if (data[f] !== undefined && !isIndex(data[f])) return `${f} is not a non-negative integer`;
  const indexed = (r: Record<string, unknown>) => isIndex(r.CreateIndex) && isIndex(r.ModifyIndex);
  if (!Array.isArray(data.nodes) || !data.nodes.every((n) => isRecord(n) && isStr(n.ID) && isStr(n.Node) && isStr(n.Address) && isStr(n.Datacenter) &&
    isStrMap(n.TaggedAddresses) && isStrMap(n.Meta) && indexed(n))) return "nodes are malformed";
  if (!Array.isArray(data.services) || !data.services.every((e) => Array.isArray(e) && e.length === 2 && isStr(e[0]) && isRecord(e[1]) &&
    isStr(e[1].Kind) && isStr(e[1].ID) && isStr(e[1].Service) && isStrList(e[1].Tags) && isStr(e[1].Address) && isStrMap(e[1].Meta) &&
    typeof e[1].Port === "number" && isRecord(e[1].Weights) && typeof e[1].Weights.Passing === "number" && typeof e[1].Weights.Warning === "number" &&
    typeof e[1].EnableTagOverride === "boolean" && indexed(e[1]))) return "services are malformed";
  if (!Array.isArray(data.checks) || !data.checks.every((c) => isRecord(c) && ["Node", "CheckID", "Name", "Status", "Notes", "Output", "ServiceID", "ServiceName", "Type"].every((k) => isStr(c[k])) &&
    isStrList(c.ServiceTags) && ["passing", "warning", "critical", "maintenance"].includes(c.Status as string) && indexed(c))) return "checks are malformed";
  if (!Array.isArray(data.kv) || !data.kv.every((e) => isRecord(e) && isStr(e.Key) && isIndex(e.LockIndex) && parseKvFlags(e.Flags) !== undefined &&
    (e.Value === null || e.Value instanceof Uint8Array) && (e.Session === undefined || isStr(e.Session)) && indexed(e))) return "kv entries are malformed";
  if (!Array.isArray(data.sessions) || !data.sessions.every((x) => isRecord(x) && isIndex(x.ttlMs) && isIndex(x.renewedAtMs) && isIndex(x.lockDelayMs) &&
    isRecord(x.record) && ["ID", "Name", "Node", "Behavior", "TTL"].every((k) => isStr((x.record as Record<string, unknown>)[k])) &&
    isStrList(x.record.Checks) && isStrList(x.record.NodeChecks) && Array.isArray(x.record.ServiceChecks) &&
    x.record.ServiceChecks.every((r) => isRecord(r) && isStr(r.ID) && (r.Namespace === undefined || isStr(r.Namespace))) &&
    typeof x.record.LockDelay === "number" && indexed(x.record))) return "sessions are malformed";
  if (data.preparedQueries !== undefined && !(Array.isArray(data.preparedQueries) && data.preparedQueries.every(isQuery))) return "prepared queries are malformed";
  return null;
}

function isQuery(q: unknown): boolean {
  if (!isRecord(q) || !["ID", "Name", "Session", "Token"].every((k) => isStr(q[k])) || !isIndex(q.CreateIndex) || !isIndex(q.ModifyIndex)) return false;
  const t = q.Template, s = q.Service, d = q.DNS;
  if (!isRecord(t) || !isStr(t.Type) || !isStr(t.Regexp) || typeof t.RemoveEmptyTags !== "boolean") return false;
  if (!isRecord(d) || !isStr(d.TTL) || !isRecord(s)) return false;
  const f = s.Failover;
  return isStr(s.Service) && isStr(s.Near) && typeof s.OnlyPassing === "boolean" && typeof s.Connect === "boolean" &&
    isStrList(s.IgnoreCheckIDs) && isStrList(s.Tags) && isStrMap(s.NodeMeta) && isStrMap(s.ServiceMeta) &&
    isRecord(f) && isIndex(f.NearestN) && isStrList(f.Datacenters);
}

/** Bytes from outside (an operator's archive) as snapshot data, or an error naming what is wrong. */
function decodeUntrusted(bytes: Uint8Array): SnapshotData | string {
  let data: unknown;
  try {
    data = new Decoder().decode(bytes);
  } catch (error) {
    return `not a snapshot archive: ${(error as Error).message}`;
  }
  const problem = snapshotShapeProblem(data);
  return problem === null ? (data as SnapshotData) : `not a Praetor snapshot archive: ${problem}`;
}

/** Every index in the snapshot, capped at `cap`: a restored state never claims indexes above the log's. */
function capIndexes(data: SnapshotData, cap: RaftIndex): void {
  const c = (v: number) => Math.min(v, cap);
  const capRecord = (r: { CreateIndex: number; ModifyIndex: number }) => { r.CreateIndex = c(r.CreateIndex); r.ModifyIndex = c(r.ModifyIndex); };
  data.nodes.forEach(capRecord);
  data.services.forEach(([, r]) => capRecord(r));
  data.checks.forEach(capRecord);
  data.kv.forEach(capRecord);
  data.sessions.forEach((x) => capRecord(x.record));
  data.preparedQueries?.forEach(capRecord);
  data.serviceIndex = data.serviceIndex.map(([k, v]) => [k, c(v)]);
  data.nodeIndex = data.nodeIndex.map(([k, v]) => [k, c(v)]);
  data.tombstones = data.tombstones.map(([k, v]) => [k, c(v)]);
  data.kvReapedIndexMax = c(data.kvReapedIndexMax ?? 0);
}

/**
 * An operator's restore (PUT /v1/snapshot), applied as a log entry at `index`: the snapshot's data
 * replaces the state, every index in it is capped at `index` (a snapshot from another cluster may
 * carry higher ones), and every table index and the query floor move to `index`, so no query ever
 * reports an index lower than one it reported before the restore. Sessions get a fresh TTL from
 * `nowMs`; the log's clock never runs backwards. Untrusted bytes: a malformed snapshot is an error
 * naming the first bad field, and nothing changes.
 */
export function decodeRestore(bytes: Uint8Array, config: CatalogConfig, index: RaftIndex, nowMs: number, clockMs: number): CatalogState | string {
  const snapshot = decodeUntrusted(bytes);
  if (typeof snapshot === "string") return snapshot;
  capIndexes(snapshot, index);
  let state: CatalogState;
  try {
    state = stateFrom(snapshot, config);
  } catch (error) {
    return `snapshot archive is inconsistent: ${(error as Error).message}`;
  }
  state.appliedIndex = index;
  state.index = index;
  state.clockMs = Math.max(clockMs, state.clockMs);
  for (const table of ["nodes", "services", "checks", "sessions", "queries"] as const) state.tableIndexes[table] = index;
  state.kv.tableIndex = index;
  state.indexFloor = index;
  for (const session of state.sessions.values()) session.renewedAtMs = Math.max(session.renewedAtMs, nowMs);
  return state;
}

export interface SnapshotSummary {
  readonly version: number;
  readonly index: RaftIndex;
  readonly sizeBytes: number;
  /** Per record type, as `consul snapshot inspect` lists them: count and encoded bytes. */
  readonly types: readonly { readonly type: string; readonly count: number; readonly sizeBytes: number }[];
}

/** What a snapshot archive holds (`praetor snapshot inspect`); an error naming the problem for anything else. */
export function inspectSnapshot(bytes: Uint8Array): SnapshotSummary | string {
  const d = decodeUntrusted(bytes);
  if (typeof d === "string") return d;
  const size = (value: unknown) => new Encoder().encode(value).length;
  const types = [
    { type: "Register", count: d.nodes.length + d.services.length + d.checks.length, sizeBytes: size(d.nodes) + size(d.services) + size(d.checks) },
    { type: "KVS", count: d.kv.length, sizeBytes: size(d.kv) },
    { type: "Tombstone", count: d.tombstones.length, sizeBytes: size(d.tombstones) },
    { type: "Session", count: d.sessions.length, sizeBytes: size(d.sessions) },
    { type: "PreparedQuery", count: d.preparedQueries?.length ?? 0, sizeBytes: size(d.preparedQueries ?? []) },
    { type: "Index", count: 5 + d.serviceIndex.length + d.nodeIndex.length, sizeBytes: size(d.tableIndexes) + size(d.serviceIndex) + size(d.nodeIndex) },
  ].filter((t) => t.count > 0).sort((a, b) => b.sizeBytes - a.sizeBytes);
  return { version: d.v, index: d.appliedIndex, sizeBytes: bytes.length, types };
}
