/**
 * The catalog's tables and indexes, shared by the apply handlers (register, sessions, KV) and
 * the queries. Every mutation goes through a handler that bumps the indexes of what it touched
 * and records the touched watch scopes, so blocking queries wake exactly when their answer may
 * have changed.
 */
import { assert } from "../util/assert.ts";
import { KvStore } from "./kv-store.ts";
import { Touch } from "./watch.ts";
import type { CheckRecord, NodeRecord, PreparedQueryRecord, RaftIndex, ServiceRecord, SessionRecord, Table } from "./types.ts";

/**
 * One typed config. Every server of a cluster must use the same values: they decide the outcome
 * of replicated commands.
 */
export interface CatalogConfig {
  /** Consul's SessionTTLMin default (Patroni reads it back from /v1/agent/self). */
  readonly sessionTtlMinMs: number;
  /** Consul's SessionTTLMax: 24 h. */
  readonly sessionTtlMaxMs: number;
  /** Consul's leader destroys a TTL session after TTL x this (structs.SessionTTLMultiplier). */
  readonly sessionTtlMultiplier: number;
  /** Used when a session create names no LockDelay (Consul's 15 s). */
  readonly lockDelayDefaultMs: number;
  /** structs.MaxLockDelay: a longer delay is clamped at invalidation. */
  readonly lockDelayMaxMs: number;
  /** Consul's kv_max_value_size default: 512 KiB. */
  readonly kvValueMaxBytes: number;
  /** Ops per txn: 64 in older Consul releases, 128 in current ones (COMPAT.md). */
  readonly txnOpsMax: number;
  /** Stamped on a registration that names no datacenter. */
  readonly datacenter: string;
}

export function defaultCatalogConfig(overrides: Partial<CatalogConfig> = {}): CatalogConfig {
  const config: CatalogConfig = {
    sessionTtlMinMs: 10_000,
    sessionTtlMaxMs: 86_400_000,
    sessionTtlMultiplier: 2,
    lockDelayDefaultMs: 15_000,
    lockDelayMaxMs: 60_000,
    kvValueMaxBytes: 512 * 1024,
    txnOpsMax: 128,
    datacenter: "dc1",
    ...overrides,
  };
  validateConfig(config);
  return config;
}

function validateConfig(config: CatalogConfig): void {
  assert(config.sessionTtlMinMs > 0, `sessionTtlMinMs ${config.sessionTtlMinMs} must be > 0`);
  assert(config.sessionTtlMaxMs >= config.sessionTtlMinMs, `sessionTtlMaxMs ${config.sessionTtlMaxMs} < sessionTtlMinMs ${config.sessionTtlMinMs}`);
  assert(config.sessionTtlMultiplier >= 1, `sessionTtlMultiplier ${config.sessionTtlMultiplier} must be >= 1`);
  assert(config.lockDelayDefaultMs >= 0, `lockDelayDefaultMs ${config.lockDelayDefaultMs} must be >= 0`);
  assert(config.lockDelayMaxMs >= 0, `lockDelayMaxMs ${config.lockDelayMaxMs} must be >= 0`);
  assert(config.kvValueMaxBytes > 0, `kvValueMaxBytes ${config.kvValueMaxBytes} must be > 0`);
  assert(config.txnOpsMax > 0, `txnOpsMax ${config.txnOpsMax} must be > 0`);
}

/** A session plus what the API does not show: its TTL clock and lock delay in ms. */
export interface SessionState {
  record: SessionRecord;
  /** 0 for a session without TTL. */
  ttlMs: number;
  /** Leader time (from the log) of creation or the last renew. */
  renewedAtMs: number;
  lockDelayMs: number;
}

export class CatalogState {
  readonly nodes = new Map<string, NodeRecord>();
  /** Node name -> service ID -> instance. */
  readonly services = new Map<string, Map<string, ServiceRecord>>();
  /** Service name -> node name -> service IDs of that name on the node. */
  readonly instancesByName = new Map<string, Map<string, Set<string>>>();
  /** Node name -> check ID -> check. */
  readonly checks = new Map<string, Map<string, CheckRecord>>();
  readonly kv = new KvStore();
  readonly sessions = new Map<string, SessionState>();
  /** `node\0checkID` -> sessions bound to that check. */
  readonly sessionsByCheck = new Map<string, Set<string>>();
  readonly sessionsByNode = new Map<string, Set<string>>();
  /** Key -> leader time before which an acquire is refused (set at invalidation). */
  readonly lockDelayUntilMs = new Map<string, number>();
  /** Prepared query ID -> query. Invariant: names unique (case-folded), every Session live. */
  readonly preparedQueries = new Map<string, PreparedQueryRecord>();
  readonly tableIndexes = { nodes: 0, services: 0, checks: 0, sessions: 0, queries: 0 };
  /** Highest index that touched each service name (instances, their checks, their nodes). */
  readonly serviceIndex = new Map<string, RaftIndex>();
  /** Highest index that touched each node (itself, its services, its checks). */
  readonly nodeIndex = new Map<string, RaftIndex>();
  /** The log's clock: the highest `nowMs` any command carried, so time never runs backwards. */
  clockMs = 0;
  /** The index of the last operator restore: no query reports an index below it. */
  indexFloor: RaftIndex = 0;
  appliedIndex: RaftIndex = 0;
  /** The index being applied and what it touched; reset per apply. */
  index: RaftIndex = 0;
  touch = new Touch();

  constructor(readonly config: CatalogConfig) {}

  /**
   * Takes over every table and index of `other` (a state decoded from this one's snapshot), for
   * a txn's rollback: the object stays the one the catalog and the apply handlers hold.
   */
  replaceWith(other: CatalogState): void {
    assert(other.config === this.config, "replaceWith: states of different configs");
    Object.assign(this, other);
  }

  tableIndex(table: Table): RaftIndex {
    return table === "kv" ? this.kv.tableIndex : this.tableIndexes[table];
  }

  bumpTable(table: Exclude<Table, "kv">): void {
    this.tableIndexes[table] = this.index;
    this.touch.table(table);
  }

  bumpService(name: string): void {
    this.serviceIndex.set(name, this.index);
    this.touch.service(name);
  }

  /** A node's own record or checks changed: its services' health answers change too. */
  bumpNode(name: string, includeServices: boolean): void {
    this.nodeIndex.set(name, this.index);
    this.touch.node(name);
    if (!includeServices) return;
    for (const service of this.services.get(name)?.values() ?? []) this.bumpService(service.Service);
  }

  /** A KV key changed; the KV table index itself is kept by the store. */
  touchKey(key: string): void {
    this.touch.kvKey(key);
    this.touch.table("kv");
  }

  /** The effective time of a command: its leader's clock, never before an earlier command's. */
  advanceClock(nowMs: number): number {
    if (Number.isFinite(nowMs) && nowMs > this.clockMs) this.clockMs = nowMs;
    return this.clockMs;
  }

  sessionIndexAdd(map: Map<string, Set<string>>, key: string, session: string): void {
    let set = map.get(key);
    if (set === undefined) map.set(key, (set = new Set()));
    set.add(session);
  }

  sessionIndexRemove(map: Map<string, Set<string>>, key: string, session: string): void {
    const set = map.get(key);
    assert(set !== undefined && set.has(session), () => `session index ${JSON.stringify(key)} lacks ${session}`);
    set.delete(session);
    if (set.size === 0) map.delete(key);
  }
}

export function checkKey(node: string, checkId: string): string {
  return `${node}\0${checkId}`;
}
