/**
 * The agent's one typed configuration: every value the runtime reads, with Consul's defaults
 * (`defaults.ts`), built by `loadConfig` from config files and flags merged in Consul's order.
 * Field names are camelCase with their unit last; the JSON key each comes from is in its comment.
 */

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

/** A port: 1..65535, 0 for an ephemeral port picked at bind time, -1 (where allowed) for "off". */
export interface AgentPorts {
  /** ports.http (8500); -1 turns the HTTP API off. */
  readonly http: number;
  /** ports.https (-1: off; TLS is not implemented yet). */
  readonly https: number;
  /** ports.dns (8600); -1 turns DNS off. */
  readonly dns: number;
  /** ports.serf_lan (8301). */
  readonly serfLan: number;
  /** ports.serf_wan (8302); -1 turns the WAN pool off. */
  readonly serfWan: number;
  /** ports.server (8300): Raft and RPC between agents. */
  readonly server: number;
  /** ports.grpc (-1, dev 8502; no gRPC server yet). */
  readonly grpc: number;
}

/** Listen addresses for the client-facing servers, resolved: `addresses.*` if set, else `client_addr`. */
export interface AgentAddresses {
  readonly http: readonly string[];
  readonly dns: readonly string[];
}

export interface DnsSoaConfig {
  /** dns_config.soa.expire, seconds (86400). */
  readonly expireS: number;
  /** dns_config.soa.min_ttl, seconds (0). */
  readonly minTtlS: number;
  /** dns_config.soa.refresh, seconds (3600). */
  readonly refreshS: number;
  /** dns_config.soa.retry, seconds (600). */
  readonly retryS: number;
}

export interface DnsConfig {
  /** dns_config.allow_stale (true): DNS reads are served by any server. */
  readonly allowStale: boolean;
  /** dns_config.max_stale (87600h): how stale a stale read may be before it goes to the leader. */
  readonly maxStaleMs: number;
  /** dns_config.node_ttl (0s). */
  readonly nodeTtlMs: number;
  /** dns_config.service_ttl: per service name, with "*" as the wildcard; absent names get TTL 0. */
  readonly serviceTtlMs: Readonly<Record<string, number>>;
  /** dns_config.udp_answer_limit (3). */
  readonly udpAnswerLimit: number;
  /** dns_config.a_record_limit (0: no limit). */
  readonly aRecordLimit: number;
  /** dns_config.enable_truncate (false). */
  readonly enableTruncate: boolean;
  /** dns_config.only_passing (false): true drops warning instances too. */
  readonly onlyPassing: boolean;
  /** dns_config.use_cache (false). */
  readonly useCache: boolean;
  /** dns_config.cache_max_age (0s). */
  readonly cacheMaxAgeMs: number;
  /** dns_config.recursor_timeout (2s). */
  readonly recursorTimeoutMs: number;
  /** dns_config.recursor_strategy ("sequential" | "random"). */
  readonly recursorStrategy: "sequential" | "random";
  /** dns_config.disable_compression (false). */
  readonly disableCompression: boolean;
  /** dns_config.enable_additional_node_meta_txt (true). */
  readonly enableAdditionalNodeMetaTxt: boolean;
  readonly soa: DnsSoaConfig;
}

/** One gossip pool's tuning (gossip_lan / gossip_wan); dev mode makes the LAN pool fast. */
export interface GossipPoolConfig {
  readonly gossipNodes: number;
  readonly gossipIntervalMs: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly suspicionMult: number;
  readonly retransmitMult: number;
}

export interface AutopilotConfig {
  /** autopilot.cleanup_dead_servers (true). */
  readonly cleanupDeadServers: boolean;
  /** autopilot.last_contact_threshold (200ms). */
  readonly lastContactThresholdMs: number;
  /** autopilot.max_trailing_logs (250). */
  readonly maxTrailingLogs: number;
  /** autopilot.min_quorum (0: no minimum). */
  readonly minQuorum: number;
  /** autopilot.server_stabilization_time (10s): how long a new server must be healthy before it votes. */
  readonly serverStabilizationTimeMs: number;
}

/**
 * A service definition from a config file, in the agent API's shape (what
 * `PUT /v1/agent/service/register` takes). Checks stay raw: the health-check code parses them.
 */
export interface ServiceDefinition {
  readonly ID?: string;
  readonly Name: string;
  readonly Tags: readonly string[];
  readonly Address: string;
  readonly Port: number;
  readonly Meta: Readonly<Record<string, string>>;
  readonly EnableTagOverride: boolean;
  readonly Kind?: string;
  readonly Token?: string;
  readonly Weights?: { readonly Passing: number; readonly Warning: number };
  readonly TaggedAddresses?: Readonly<Record<string, { readonly Address: string; readonly Port: number }>>;
  /** `check` and `checks` of the definition, as written (keys untouched). */
  readonly Checks: readonly Readonly<Record<string, unknown>>[];
  /** The file it came from, for error messages ("command line" for flags). */
  readonly source: string;
}

/** A top-level check definition from a config file, raw, with the file it came from. */
export interface CheckDefinitionSource {
  readonly definition: Readonly<Record<string, unknown>>;
  readonly source: string;
}

export interface AgentConfig {
  /** server (false). */
  readonly server: boolean;
  /** bootstrap (false): elect this lone server at once. Set by bootstrap_expect=1 and by -dev. */
  readonly bootstrap: boolean;
  /** bootstrap_expect (0): bootstrap Raft once this many servers are known. */
  readonly bootstrapExpect: number;
  /** -dev: one in-memory server. */
  readonly dev: boolean;
  /** True in dev mode: nothing is written under dataDir. */
  readonly inMemory: boolean;
  /** node_name (the host name). */
  readonly nodeName: string;
  /** node_id (a lowercase UUID) when configured; otherwise the agent persists one it makes. */
  readonly nodeId?: string;
  /** datacenter ("dc1"), lowercased. */
  readonly datacenter: string;
  /** primary_datacenter (the datacenter). */
  readonly primaryDatacenter: string;
  /** data_dir; required unless dev. */
  readonly dataDir?: string;
  /** bind_addr ("0.0.0.0", dev "127.0.0.1"), as given: on 0.0.0.0 the agent picks a private IP to advertise. */
  readonly bindAddr: string;
  /** advertise_addr, when configured (otherwise bindAddr, or the private IP the agent picks). */
  readonly advertiseAddr?: string;
  /** advertise_addr_wan, when configured (otherwise the LAN advertise address). */
  readonly advertiseAddrWan?: string;
  /** client_addr ("127.0.0.1"), as given: one IP or several separated by spaces. */
  readonly clientAddr: string;
  /** client_addr split into its addresses. */
  readonly clientAddrs: readonly string[];
  readonly ports: AgentPorts;
  readonly addresses: AgentAddresses;
  /** start_join / -join. */
  readonly startJoin: readonly string[];
  /** retry_join / -retry-join. */
  readonly retryJoin: readonly string[];
  /** retry_interval (30s). */
  readonly retryIntervalMs: number;
  /** retry_max (0: retry forever). */
  readonly retryMax: number;
  readonly startJoinWan: readonly string[];
  readonly retryJoinWan: readonly string[];
  /** retry_interval_wan (30s). */
  readonly retryIntervalWanMs: number;
  /** retry_max_wan (0). */
  readonly retryMaxWan: number;
  /** rejoin_after_leave / -rejoin (false). */
  readonly rejoinAfterLeave: boolean;
  /** ui_config.enabled (or the older `ui`), false; dev true. */
  readonly ui: boolean;
  readonly uiConfig: { readonly enabled: boolean; readonly contentPath: string; readonly dir?: string };
  /** log_level ("info"; dev "debug", as Consul's dev mode). */
  readonly logLevel: LogLevel;
  /** log_json (false). */
  readonly logJson: boolean;
  /** log_file: a file, or a directory when it ends in "/". */
  readonly logFile?: string;
  /** pid_file. */
  readonly pidFile?: string;
  /** enable_script_checks (false): script checks from anywhere, including the HTTP API. */
  readonly enableScriptChecks: boolean;
  /** enable_local_script_checks (false): script checks from config files only. */
  readonly enableLocalScriptChecks: boolean;
  /** domain ("consul."), always ending in a dot. */
  readonly domain: string;
  /** alt_domain, ending in a dot, when configured. */
  readonly altDomain?: string;
  /** recursors, each "IP" or "IP:port". */
  readonly recursors: readonly string[];
  readonly dnsConfig: DnsConfig;
  /** encrypt: the gossip key (base64 of 16, 24 or 32 bytes), when configured. */
  readonly encrypt?: string;
  /** encrypt_verify_incoming (true). */
  readonly encryptVerifyIncoming: boolean;
  /** encrypt_verify_outgoing (true). */
  readonly encryptVerifyOutgoing: boolean;
  /** performance.raft_multiplier (5; dev 1): scales Raft's timing, 1..10. */
  readonly raftMultiplier: number;
  /** performance.leave_drain_time (5s). */
  readonly leaveDrainTimeMs: number;
  /** performance.rpc_hold_timeout (7s). */
  readonly rpcHoldTimeoutMs: number;
  /** raft_snapshot_threshold (16384 entries). */
  readonly raftSnapshotThreshold: number;
  /** raft_snapshot_interval (30s). */
  readonly raftSnapshotIntervalMs: number;
  /** raft_trailing_logs (10240). */
  readonly raftTrailingLogs: number;
  readonly autopilot: AutopilotConfig;
  readonly gossipLan: GossipPoolConfig;
  readonly gossipWan: GossipPoolConfig;
  /** service / services from every source, in order. */
  readonly services: readonly ServiceDefinition[];
  /** check / checks from every source, raw, in order. */
  readonly checks: readonly CheckDefinitionSource[];
  /** session_ttl_min (10s). */
  readonly sessionTtlMinMs: number;
  /** check_update_interval (5m): how often an unchanged check output is written anyway. */
  readonly checkUpdateIntervalMs: number;
  /** check_output_max_size (4096 bytes). */
  readonly checkOutputMaxSizeBytes: number;
  /** leave_on_terminate (true for clients, false for servers): SIGTERM leaves gracefully. */
  readonly leaveOnTerminate: boolean;
  /** skip_leave_on_interrupt (true for servers): SIGINT does not leave. */
  readonly skipLeaveOnInterrupt: boolean;
  /** reconnect_timeout (72h, at least 8h): how long a failed LAN member is kept before it is reaped. */
  readonly reconnectTimeoutMs: number;
  /** reconnect_timeout_wan (72h). */
  readonly reconnectTimeoutWanMs: number;
  /** node_meta. */
  readonly nodeMeta: Readonly<Record<string, string>>;
  /** default_query_time (300s): a blocking query's wait when none is given. */
  readonly defaultQueryTimeMs: number;
  /** max_query_time (600s): the cap on a blocking query's wait. */
  readonly maxQueryTimeMs: number;
  /** http_config.response_headers. */
  readonly httpResponseHeaders: Readonly<Record<string, string>>;
  /** limits.http_max_conns_per_client (200). */
  readonly httpMaxConnsPerClient: number;
  /** disable_remote_exec (true). */
  readonly disableRemoteExec: boolean;
  /** Every config file read, in merge order. */
  readonly sources: readonly string[];
}

/** A configuration that cannot start an agent: the message names the file, the key and what was expected. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
