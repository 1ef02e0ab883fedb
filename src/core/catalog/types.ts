/**
 * The catalog's records, in Consul's JSON field names so that the HTTP layer can send them as
 * they are (KV `Value` stays bytes here; HTTP encodes it as base64). Lists are never null.
 */

import type { KvFlags } from "./kv-flags.ts";

/** A Raft log index; CreateIndex/ModifyIndex and X-Consul-Index are all of this kind. */
export type RaftIndex = number;

export type CheckStatus = "passing" | "warning" | "critical" | "maintenance";
export const checkStatuses: readonly CheckStatus[] = ["passing", "warning", "critical", "maintenance"];

export type Table = "nodes" | "services" | "checks" | "kv" | "sessions" | "queries";
export const tables: readonly Table[] = ["nodes", "services", "checks", "kv", "sessions", "queries"];

export interface NodeRecord {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  Meta: Record<string, string>;
  CreateIndex: RaftIndex;
  ModifyIndex: RaftIndex;
}

export interface ServiceWeights {
  Passing: number;
  Warning: number;
}

/** A service instance as `/v1/health/service` shows it under `Service`. */
export interface ServiceRecord {
  Kind: string;
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Meta: Record<string, string>;
  Port: number;
  Weights: ServiceWeights;
  EnableTagOverride: boolean;
  CreateIndex: RaftIndex;
  ModifyIndex: RaftIndex;
}

export interface CheckRecord {
  Node: string;
  CheckID: string;
  Name: string;
  Status: CheckStatus;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  Type: string;
  CreateIndex: RaftIndex;
  ModifyIndex: RaftIndex;
}

export interface KvEntry {
  LockIndex: number;
  Key: string;
  Flags: KvFlags;
  /** Null for a key stored without a value (Consul answers `"Value": null`). */
  Value: Uint8Array | null;
  /** Present only while a session holds the key, as in Consul's answers. */
  Session?: string;
  CreateIndex: RaftIndex;
  ModifyIndex: RaftIndex;
}

export type SessionBehavior = "release" | "delete";

export interface ServiceCheckRef {
  ID: string;
  Namespace: string;
}

export interface SessionRecord {
  ID: string;
  Name: string;
  Node: string;
  /** Every bound check ID (node and service), for clients that read the pre-1.7 field. */
  Checks: string[];
  NodeChecks: string[];
  ServiceChecks: ServiceCheckRef[];
  /** Nanoseconds, as Consul's JSON carries a Go time.Duration. */
  LockDelay: number;
  Behavior: SessionBehavior;
  /** As given at creation ("15s", "15.0s"), or "" for no TTL. */
  TTL: string;
  CreateIndex: RaftIndex;
  ModifyIndex: RaftIndex;
}

/** A stored prepared query, in Consul's JSON shape and field order (GET /v1/query). */
export interface PreparedQueryRecord {
  ID: string;
  Name: string;
  Session: string;
  /** Stored and shown, never used: ACLs are not enforced yet. */
  Token: string;
  Template: { Type: string; Regexp: string; RemoveEmptyTags: boolean };
  Service: {
    Service: string;
    /** Stored as given; a single datacenter has nowhere to fail over to. */
    Failover: { NearestN: number; Datacenters: string[] };
    IgnoreCheckIDs: string[];
    OnlyPassing: boolean;
    Near: string;
    /** "!tag" excludes instances carrying the tag. */
    Tags: string[];
    NodeMeta: Record<string, string>;
    ServiceMeta: Record<string, string>;
    Connect: boolean;
  };
  DNS: { TTL: string };
  CreateIndex: RaftIndex;
  ModifyIndex: RaftIndex;
}

/** `/v1/catalog/service/:name` entries. */
export interface CatalogServiceEntry {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  NodeMeta: Record<string, string>;
  ServiceKind: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  ServiceAddress: string;
  ServiceWeights: ServiceWeights;
  ServiceMeta: Record<string, string>;
  ServicePort: number;
  ServiceEnableTagOverride: boolean;
  CreateIndex: RaftIndex;
  ModifyIndex: RaftIndex;
}

/** `/v1/health/service/:name` entries. */
export interface HealthServiceEntry {
  Node: NodeRecord;
  Service: ServiceRecord;
  Checks: CheckRecord[];
}

/** `/v1/catalog/node/:node`. */
export interface NodeServices {
  Node: NodeRecord;
  Services: Record<string, ServiceRecord>;
}

/** Every read answers with the index the HTTP layer puts in X-Consul-Index (never 0). */
export interface QueryResult<T> {
  index: RaftIndex;
  value: T;
}

export interface TxnError {
  OpIndex: number;
  What: string;
}

/** One txn result, in Consul's shape: the kind of record names the field. */
export type TxnResult = { KV: KvEntry } | { Node: NodeRecord } | { Service: ServiceRecord } | { Check: CheckRecord };

/**
 * A failed command. `status` is the HTTP status Consul answers with (400 bad input, 404 unknown
 * session on renew, 409 rolled-back txn, 413 too large, 500 everything Consul reports as an RPC
 * error, such as `invalid session "…"` or `Missing node registration`).
 */
export interface CommandError {
  status: 400 | 404 | 409 | 413 | 500;
  message: string;
  /** Rolled-back txn only: one entry per failing op, in op order. */
  errors?: TxnError[];
}

export type ApplyResult =
  | { ok: true; value: unknown }
  | { ok: false; error: CommandError };
