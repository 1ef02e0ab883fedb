/**
 * Snapshot and restore for Raft log compaction. The bytes are msgpack with sorted keys over
 * lists sorted by their natural keys, so every server that applied the same log produces the
 * same bytes whatever order its maps were filled in. Derived indexes (instances by name,
 * sessions by check/node/key) are rebuilt on restore rather than stored.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { assert } from "../util/assert.ts";
import { CatalogState, checkKey, type CatalogConfig, type SessionState } from "./state.ts";
import type { CheckRecord, KvEntry, NodeRecord, RaftIndex, ServiceRecord, SessionRecord } from "./types.ts";

const snapshotVersion = 1;

interface SnapshotData {
  v: number;
  appliedIndex: RaftIndex;
  clockMs: number;
  tableIndexes: { nodes: number; services: number; checks: number; sessions: number; kv: number };
  serviceIndex: [string, RaftIndex][];
  nodeIndex: [string, RaftIndex][];
  nodes: NodeRecord[];
  services: [string, ServiceRecord][];
  checks: CheckRecord[];
  kv: KvEntry[];
  tombstones: [string, RaftIndex][];
  /** Absent in snapshots written before it existed (read as 0). */
  kvReapedIndexMax?: RaftIndex;
  sessions: SessionState[];
  lockDelays: [string, number][];
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
    tableIndexes: { ...state.tableIndexes, kv: state.kv.tableIndex },
    serviceIndex: sortedEntries(state.serviceIndex),
    nodeIndex: sortedEntries(state.nodeIndex),
    nodes: sortedEntries(state.nodes).map(([, node]) => node),
    services,
    checks,
    kv: state.kv.allEntries(),
    tombstones: state.kv.allTombstones(),
    kvReapedIndexMax: state.kv.reapedIndexMax,
    sessions: sortedEntries(state.sessions).map(([, session]) => session),
    lockDelays: sortedEntries(state.lockDelayUntilMs),
  };
  // A fresh codec per snapshot: a shared one would keep the largest buffer it ever used.
  return new Encoder({ sortKeys: true, ignoreUndefined: true }).encode(data);
}

/** Builds a fresh state from snapshot bytes; throws on bytes that are not a catalog snapshot. */
export function decodeSnapshot(bytes: Uint8Array, config: CatalogConfig): CatalogState {
  const data = new Decoder().decode(bytes) as SnapshotData;
  assert(typeof data === "object" && data !== null, "catalog snapshot: not a map");
  assert(data.v === snapshotVersion, () => `catalog snapshot: unsupported version ${String(data.v)}`);
  const state = new CatalogState(config);
  state.appliedIndex = data.appliedIndex;
  state.clockMs = data.clockMs;
  Object.assign(state.tableIndexes, {
    nodes: data.tableIndexes.nodes, services: data.tableIndexes.services,
    checks: data.tableIndexes.checks, sessions: data.tableIndexes.sessions,
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
  for (const session of data.sessions) restoreSession(state, session);
  for (const [key, untilMs] of data.lockDelays) state.lockDelayUntilMs.set(key, untilMs);
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
    LockIndex: r.LockIndex, Key: r.Key, Flags: r.Flags, Value: r.Value === null ? null : r.Value.slice(),
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
