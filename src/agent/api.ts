/**
 * The seam between the agent and its front ends (HTTP in src/http, DNS in src/dns, the CLI through
 * HTTP). Front ends parse requests into these calls and format the answers; the agent decides where
 * each call runs: a read on the local catalog (servers), forwarded to a server (clients) or to the
 * leader (`consistent` reads and every write on a follower), and blocks on the server that runs it.
 *
 * Every method rejects with `ApiError` (Consul's HTTP status and plain-text message) and never with
 * anything else the front end would have to guess at.
 */
import type { CheckRecord, Command, TxnError } from "../core/catalog/index.ts";

/** Consul's consistency modes: default (leader, with its lease), `?consistent`, `?stale`. */
export type Consistency = "default" | "consistent" | "stale";

export type { CatalogQuery, QueryValues } from "../core/agent/query-types.ts";
import type { CatalogQuery, QueryValues } from "../core/agent/query-types.ts";

export interface ReadOptions {
  readonly consistency: Consistency;
  /** `?max_stale`: a stale read from a server whose last contact with the leader is older is retried on the leader. */
  readonly maxStaleMs?: number;
  /** `?index`: block until the query's index passes this one (absent or 0: answer at once). */
  readonly index?: number;
  /** `?wait`, already parsed, defaulted (5 min) and capped (10 min); jitter is the agent's. */
  readonly waitMs?: number;
  /** `?filter`: Consul's filter expression, applied where the query runs, before change detection. */
  readonly filter?: string;
  /** `?dc`: another datacenter (forwarded once WAN federation exists; unknown → 500 No path to datacenter). */
  readonly dc?: string;
  readonly token?: string;
  /**
   * `?near=`: sort a node list (catalog nodes, catalog service, health service) by the estimated
   * round trip from this node (`_agent`: the agent answering), nodes without a coordinate last.
   * Applied by the agent that received the request, with the coordinates its gossip pool holds.
   */
  readonly near?: string;
  /**
   * Set by the HTTP layer on blocking reads (`index` given): aborted when the client goes away
   * before the answer, so the agent can drop the waiter and its timer at once instead of holding
   * them for up to `waitMs`. (Added by the HTTP issue; additive.)
   */
  readonly signal?: AbortSignal;
}

/** The headers of a read: X-Consul-Index (never 0), KnownLeader, LastContact, Effective-Consistency. */
export interface ReadMeta {
  readonly index: number;
  readonly knownLeader: boolean;
  readonly lastContactMs: number;
  readonly consistency: Consistency;
}

export interface ReadResult<T> {
  readonly meta: ReadMeta;
  readonly value: T;
}

/** A catalog write as the HTTP layer parsed it; the agent adds the version, the leader's time and new session IDs. */
export type WriteRequest = Command extends infer C ? (C extends Command ? Omit<C, "v" | "nowMs"> & { nowMs?: number } : never) : never;

export interface WriteOptions {
  readonly dc?: string;
  readonly token?: string;
}

/** A failure with Consul's status and plain-text body. `errors` only for a rolled-back txn (409). */
/** One pool's answer to a keyring operation, in Consul's KeyringResponse shape. */
export interface KeyringPoolAnswer {
  readonly WAN: boolean;
  readonly Datacenter: string;
  readonly Segment: string;
  readonly Messages: Readonly<Record<string, string>>;
  readonly Keys: Readonly<Record<string, number>>;
  readonly PrimaryKeys: Readonly<Record<string, number>>;
  readonly NumNodes: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: readonly TxnError[],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** `/v1/agent/members` entries, with Serf's numeric status (0 none, 1 alive, 2 leaving, 3 left, 4 failed). */
export interface AgentMember {
  Name: string;
  Addr: string;
  Port: number;
  Tags: Record<string, string>;
  Status: number;
  ProtocolMin: number;
  ProtocolMax: number;
  ProtocolCur: number;
  DelegateMin: number;
  DelegateMax: number;
  DelegateCur: number;
}

/** `/v1/agent/services` values (Consul's AgentService). */
export interface AgentService {
  ID: string;
  Service: string;
  Tags: string[];
  Meta: Record<string, string>;
  Port: number;
  Address: string;
  TaggedAddresses?: Record<string, { Address: string; Port: number }>;
  Weights: { Passing: number; Warning: number };
  EnableTagOverride: boolean;
  Datacenter: string;
  Kind?: string;
}

/** `/v1/agent/checks` values (Consul's AgentCheck): the catalog's check record plus its run settings. */
export interface AgentCheck extends CheckRecord {
  Interval: string;
  Timeout: string;
  ExposedPort: number;
  Definition: Record<string, unknown>;
}

export interface UserEvent {
  ID: string;
  Name: string;
  Payload: string | null;
  NodeFilter: string;
  ServiceFilter: string;
  TagFilter: string;
  Version: number;
  LTime: number;
}

export interface RaftServer {
  ID: string;
  Node: string;
  Address: string;
  Leader: boolean;
  ProtocolVersion: string;
  Voter: boolean;
}

/**
 * Everything the HTTP API and DNS need from the agent. Reads that Consul blocks on take
 * `ReadOptions`; agent-local calls act on this agent only.
 */
export interface AgentBackend {
  readonly datacenter: string;
  readonly nodeName: string;

  // --- The catalog (replicated) ---
  query<K extends CatalogQuery["kind"]>(
    query: Extract<CatalogQuery, { kind: K }>,
    options: ReadOptions,
  ): Promise<ReadResult<QueryValues[K]>>;
  /** Resolves with the command's answer (`true`/`false` for KV, the session ID, txn results ...). */
  write(request: WriteRequest, options: WriteOptions): Promise<unknown>;
  datacenters(): Promise<string[]>;

  // --- Status and operator ---
  /** `"ip:port"` of the leader's RPC address, or "" when there is none. */
  statusLeader(options: WriteOptions): Promise<string>;
  statusPeers(options: WriteOptions): Promise<string[]>;
  raftConfiguration(options: ReadOptions): Promise<{ Servers: RaftServer[]; Index: number }>;
  removeRaftPeer(by: { id?: string; address?: string }): Promise<void>;
  transferLeader(id?: string): Promise<void>;
  autopilotHealth(): Promise<unknown>;
  snapshotSave(options: ReadOptions): Promise<{ meta: ReadMeta; data: Uint8Array }>;
  snapshotRestore(data: Uint8Array): Promise<void>;

  // --- This agent ---
  self(): Promise<Record<string, unknown>>;
  members(options: { wan: boolean; segment?: string }): AgentMember[];
  join(addr: string, options: { wan: boolean }): Promise<number>;
  /** Graceful leave of both pools, then shutdown (after the HTTP answer went out). */
  leave(): Promise<void>;
  forceLeave(node: string, options: { prune: boolean; wan: boolean }): Promise<void>;
  reload(): Promise<void>;
  localServices(): Record<string, AgentService>;
  localChecks(): Record<string, AgentCheck>;
  /** Parses Consul's service definition (API body, keys case-insensitive); ApiError 400 on bad input. */
  registerService(body: unknown, options: { replaceExistingChecks: boolean; token?: string }): Promise<void>;
  deregisterService(id: string): Promise<void>;
  registerCheck(body: unknown, options: { token?: string }): Promise<void>;
  deregisterCheck(id: string): Promise<void>;
  /** check/pass|warn|fail|update of a TTL check; unknown ID → ApiError 404/500 as Consul answers. */
  updateTtlCheck(id: string, status: "passing" | "warning" | "critical", output: string): Promise<void>;
  nodeMaintenance(enable: boolean, reason: string): Promise<void>;
  serviceMaintenance(id: string, enable: boolean, reason: string): Promise<void>;
  fireEvent(name: string, payload: Uint8Array, filters: { node?: string; service?: string; tag?: string }): Promise<UserEvent>;
  /**
   * Consul's /v1/operator/keyring: Serf's keyring queries on the LAN pool (and the WAN pool on a
   * server), one answer per pool; a pool whose members reported failure is an ApiError 500.
   */
  keyringOperation?(op: "list" | "install" | "use" | "remove", key: string, options: { relayFactor: number }): Promise<KeyringPoolAnswer[]>;
  /**
   * The agent's recent user events (Consul keeps 256), blocking on `index` (a hash of the last
   * event ID); `node`/`service`/`tag` are regular expressions the events' filters must match.
   */
  events(options: { name?: string; node?: string; service?: string; tag?: string; index?: number; waitMs?: number }): Promise<{ index: number; events: UserEvent[] }>;
  coordinateNodes(options: ReadOptions): Promise<ReadResult<unknown[]>>;
  coordinateDatacenters(): Promise<unknown[]>;
  /** prom-client registry text (`?format=prometheus`) or Consul's JSON metrics. */
  metrics(format: "json" | "prometheus"): Promise<string | Record<string, unknown>>;
  /** Log lines at `level` and above (Consul's JSON lines with `json`) until the returned function is called. */
  monitor(level: string, onLine: (line: string) => void, json?: boolean): () => void;
  host(): Promise<Record<string, unknown>>;
}
