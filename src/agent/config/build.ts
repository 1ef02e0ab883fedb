/**
 * Turns the merged fragment (defaults, dev overrides, files, flags) into the typed AgentConfig,
 * applying the defaults that depend on other values and Consul's cross-key checks. Pure: the host
 * name comes in from the caller.
 */
import { isIP } from "node:net";
import { formatDurationMs } from "./duration.ts";
import type { Fragment } from "./schema.ts";
import { RawObject } from "./schema.ts";
import type {
  AgentConfig, AgentPorts, AutopilotConfig, CheckDefinitionSource, DnsConfig, GossipPoolConfig, LogLevel, ServiceDefinition,
} from "./types.ts";
import { ConfigError } from "./types.ts";

/** Consul's defaults as a config fragment (durations in ms), merged first. */
export const defaultFragment: Fragment = {
  datacenter: "dc1",
  bind_addr: "0.0.0.0",
  client_addr: "127.0.0.1",
  domain: "consul.",
  log_level: "info",
  retry_interval: 30_000,
  retry_interval_wan: 30_000,
  retry_max: 0,
  retry_max_wan: 0,
  ports: { http: 8500, https: -1, dns: 8600, serf_lan: 8301, serf_wan: 8302, server: 8300, grpc: -1 },
  performance: { raft_multiplier: 5, leave_drain_time: 5_000, rpc_hold_timeout: 7_000 },
  session_ttl_min: 10_000,
  check_update_interval: 5 * 60_000,
  check_output_max_size: 4096,
  reconnect_timeout: 72 * 3_600_000,
  reconnect_timeout_wan: 72 * 3_600_000,
  default_query_time: 300_000,
  max_query_time: 600_000,
  raft_snapshot_threshold: 16384,
  raft_snapshot_interval: 30_000,
  raft_trailing_logs: 10240,
  encrypt_verify_incoming: true,
  encrypt_verify_outgoing: true,
  disable_remote_exec: true,
  limits: { http_max_conns_per_client: 200 },
  ui_config: { enabled: false, content_path: "/ui/" },
  autopilot: { cleanup_dead_servers: true, last_contact_threshold: 200, max_trailing_logs: 250, min_quorum: 0, server_stabilization_time: 10_000 },
  gossip_lan: { gossip_nodes: 3, gossip_interval: 200, probe_interval: 1_000, probe_timeout: 500, suspicion_mult: 4, retransmit_mult: 4 },
  gossip_wan: { gossip_nodes: 4, gossip_interval: 500, probe_interval: 5_000, probe_timeout: 3_000, suspicion_mult: 6, retransmit_mult: 4 },
  dns_config: {
    allow_stale: true,
    max_stale: 87_600 * 3_600_000,
    node_ttl: 0,
    service_ttl: {},
    udp_answer_limit: 3,
    a_record_limit: 0,
    enable_truncate: false,
    only_passing: false,
    use_cache: false,
    cache_max_age: 0,
    recursor_timeout: 2_000,
    recursor_strategy: "sequential",
    disable_compression: false,
    enable_additional_node_meta_txt: true,
    soa: { expire: 86_400, min_ttl: 0, refresh: 3_600, retry: 600 },
  },
};

/** What -dev sets (Consul's DevSource): a fast, in-memory, bootstrapped server on loopback. */
export const devFragment: Fragment = {
  server: true,
  bootstrap: true,
  bind_addr: "127.0.0.1",
  client_addr: "127.0.0.1",
  log_level: "debug",
  ui_config: { enabled: true },
  performance: { raft_multiplier: 1 },
  ports: { grpc: 8502 },
  // Consul's dev mode probes every 100 ms with a 100 ms timeout; Praetor's gossip core wants the
  // timeout strictly shorter than the interval, so dev probes every 200 ms with a 100 ms timeout.
  gossip_lan: { gossip_interval: 100, probe_interval: 200, probe_timeout: 100, suspicion_mult: 3, retransmit_mult: 2 },
  gossip_wan: { gossip_interval: 100, probe_interval: 200, probe_timeout: 100, suspicion_mult: 3, retransmit_mult: 2 },
};

export interface BuildInput {
  readonly merged: Fragment;
  readonly dev: boolean;
  readonly hostname: string;
  readonly sources: readonly string[];
  /** Flags given on the command line: -bootstrap-expect with -dev is refused only when the operator asked for it. */
  readonly warnings: string[];
}

/** A view of the merged fragment with typed getters (values were checked by the decoder). */
class View {
  constructor(private readonly f: Fragment) {}
  private get(path: string): unknown {
    let cur: unknown = this.f;
    for (const part of path.split(".")) cur = (cur as Record<string, unknown> | undefined)?.[part];
    return cur;
  }
  has(path: string): boolean {
    return this.get(path) !== undefined;
  }
  str(path: string): string | undefined {
    return this.get(path) as string | undefined;
  }
  num(path: string): number {
    const v = this.get(path);
    if (typeof v !== "number") throw new ConfigError(`internal: ${path} has no default`);
    return v;
  }
  bool(path: string): boolean | undefined {
    return this.get(path) as boolean | undefined;
  }
  list(path: string): string[] {
    return (this.get(path) as string[] | undefined) ?? [];
  }
  map<T>(path: string): Record<string, T> {
    return { ...((this.get(path) as Record<string, T> | undefined) ?? {}) };
  }
  raw(path: string): RawObject[] {
    return ((this.get(path) as unknown[] | undefined) ?? []) as RawObject[];
  }
}

const logLevels: Readonly<Record<string, LogLevel>> = {
  trace: "trace", debug: "debug", info: "info", warn: "warn", warning: "warn", err: "error", error: "error",
};
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const datacenterPattern = /^[a-z0-9_-]+$/;
const dnsLabelPattern = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const metaKeyPattern = /^[a-zA-Z0-9_-]+$/;

export function buildConfig(input: BuildInput): AgentConfig {
  const v = new View(input.merged);
  const warn = (message: string) => input.warnings.push(message);
  const server = v.bool("server") ?? false;
  const dev = input.dev;
  let bootstrap = v.bool("bootstrap") ?? false;
  const bootstrapExpect = checkBootstrap(v, server, dev, bootstrap, warn);
  if (bootstrapExpect === 1) bootstrap = true;
  const ports = buildPorts(v, warn);
  const clientAddr = v.str("client_addr")!;
  const clientAddrs = splitAddrs(clientAddr, "client_addr");
  const bindAddr = checkBindAddr(v.str("bind_addr")!);
  const advertiseAddr = checkAdvertise(v.str("advertise_addr"), "advertise_addr");
  const advertiseAddrWan = checkAdvertise(v.str("advertise_addr_wan"), "advertise_addr_wan");
  const datacenter = checkDatacenter(v.str("datacenter")!, "datacenter");
  const nodeName = v.str("node_name") ?? input.hostname;
  if (nodeName === "") throw new ConfigError("node_name cannot be empty (set -node or node_name)");
  if (!dnsLabelPattern.test(nodeName)) warn(`Node name ${JSON.stringify(nodeName)} will not be discoverable via DNS due to invalid characters. Valid characters include all alpha-numerics and dashes.`);
  const dataDir = v.str("data_dir");
  if (!dev && (dataDir === undefined || dataDir === "")) throw new ConfigError("data_dir cannot be empty (set -data-dir or data_dir, or use -dev for an in-memory agent)");
  const raftMultiplier = v.num("performance.raft_multiplier");
  if (raftMultiplier < 1 || raftMultiplier > 10) throw new ConfigError(`performance.raft_multiplier cannot be ${raftMultiplier}. Must be between 1 and 10`);
  const reconnectTimeoutMs = checkMinDuration(v.num("reconnect_timeout"), 8 * 3_600_000, "reconnect_timeout");
  const reconnectTimeoutWanMs = checkMinDuration(v.num("reconnect_timeout_wan"), 8 * 3_600_000, "reconnect_timeout_wan");
  const uiEnabled = v.bool("ui_config.enabled") === true || v.bool("ui") === true;
  const nodeId = checkNodeId(v.str("node_id"));
  const primaryDatacenter = v.has("primary_datacenter") ? checkDatacenter(v.str("primary_datacenter")!, "primary_datacenter") : datacenter;
  return {
    server,
    bootstrap,
    bootstrapExpect,
    dev,
    inMemory: dev,
    nodeName,
    ...(nodeId === undefined ? {} : { nodeId }),
    datacenter,
    primaryDatacenter,
    ...(dataDir === undefined || dataDir === "" ? {} : { dataDir }),
    bindAddr,
    ...(advertiseAddr === undefined ? {} : { advertiseAddr }),
    ...(advertiseAddrWan === undefined ? {} : { advertiseAddrWan }),
    clientAddr,
    clientAddrs,
    ports,
    addresses: {
      http: v.has("addresses.http") ? splitAddrs(v.str("addresses.http")!, "addresses.http") : clientAddrs,
      dns: v.has("addresses.dns") ? splitAddrs(v.str("addresses.dns")!, "addresses.dns") : clientAddrs,
    },
    startJoin: v.list("start_join"),
    retryJoin: v.list("retry_join"),
    retryIntervalMs: v.num("retry_interval"),
    retryMax: v.num("retry_max"),
    startJoinWan: v.list("start_join_wan"),
    retryJoinWan: v.list("retry_join_wan"),
    retryIntervalWanMs: v.num("retry_interval_wan"),
    retryMaxWan: v.num("retry_max_wan"),
    rejoinAfterLeave: v.bool("rejoin_after_leave") ?? false,
    ui: uiEnabled,
    uiConfig: {
      enabled: uiEnabled,
      contentPath: v.str("ui_content_path") ?? v.str("ui_config.content_path")!,
      ...(v.has("ui_config.dir") || v.has("ui_dir") ? { dir: v.str("ui_config.dir") ?? v.str("ui_dir")! } : {}),
    },
    logLevel: checkLogLevel(v.str("log_level")!),
    logJson: v.bool("log_json") ?? false,
    ...(v.has("log_file") ? { logFile: v.str("log_file")! } : {}),
    ...(v.has("pid_file") ? { pidFile: v.str("pid_file")! } : {}),
    enableScriptChecks: v.bool("enable_script_checks") ?? false,
    enableLocalScriptChecks: v.bool("enable_local_script_checks") ?? false,
    domain: checkDomain(v.str("domain")!, "domain"),
    ...(v.has("alt_domain") && v.str("alt_domain") !== "" ? { altDomain: checkDomain(v.str("alt_domain")!, "alt_domain") } : {}),
    recursors: v.list("recursors").map(checkRecursor),
    dnsConfig: buildDns(v),
    ...(v.has("encrypt") && v.str("encrypt") !== "" ? { encrypt: checkEncrypt(v.str("encrypt")!) } : {}),
    encryptVerifyIncoming: v.bool("encrypt_verify_incoming")!,
    encryptVerifyOutgoing: v.bool("encrypt_verify_outgoing")!,
    raftMultiplier,
    leaveDrainTimeMs: v.num("performance.leave_drain_time"),
    rpcHoldTimeoutMs: v.num("performance.rpc_hold_timeout"),
    raftSnapshotThreshold: v.num("raft_snapshot_threshold"),
    raftSnapshotIntervalMs: v.num("raft_snapshot_interval"),
    raftTrailingLogs: v.num("raft_trailing_logs"),
    autopilot: buildAutopilot(v),
    gossipLan: buildGossip(v, "gossip_lan"),
    gossipWan: buildGossip(v, "gossip_wan"),
    services: buildServices(v),
    checks: v.raw("checks").map((c): CheckDefinitionSource => ({ definition: c.value, source: c.source })),
    sessionTtlMinMs: v.num("session_ttl_min"),
    checkUpdateIntervalMs: v.num("check_update_interval"),
    checkOutputMaxSizeBytes: checkPositive(v.num("check_output_max_size"), "check_output_max_size"),
    leaveOnTerminate: v.bool("leave_on_terminate") ?? !server,
    skipLeaveOnInterrupt: v.bool("skip_leave_on_interrupt") ?? server,
    reconnectTimeoutMs,
    reconnectTimeoutWanMs,
    nodeMeta: checkNodeMeta(v.map<string>("node_meta")),
    defaultQueryTimeMs: checkPositive(v.num("default_query_time"), "default_query_time"),
    maxQueryTimeMs: checkPositive(v.num("max_query_time"), "max_query_time"),
    httpResponseHeaders: v.map<string>("http_config.response_headers"),
    httpMaxConnsPerClient: v.num("limits.http_max_conns_per_client"),
    disableRemoteExec: v.bool("disable_remote_exec")!,
    sources: input.sources,
  };
}

function checkBootstrap(v: View, server: boolean, dev: boolean, bootstrap: boolean, warn: (m: string) => void): number {
  const expect = v.has("bootstrap_expect") ? v.num("bootstrap_expect") : 0;
  if (bootstrap && !server) throw new ConfigError("'bootstrap = true' not allowed in client mode (add -server)");
  if (expect > 0 && !server) throw new ConfigError("'bootstrap_expect > 0' not allowed in client mode (add -server)");
  if (expect > 0 && dev) throw new ConfigError("'bootstrap_expect > 0' not allowed in dev mode");
  if (expect > 0 && bootstrap && !dev) throw new ConfigError("'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive");
  if (expect === 1) warn("bootstrap_expect = 1: this is the same as bootstrap mode.");
  else if (expect === 2) warn("bootstrap_expect = 2: a cluster with 2 servers will provide no failure tolerance.");
  else if (expect > 2 && expect % 2 === 0) warn(`bootstrap_expect = ${expect}: a cluster with an even number of servers does not achieve optimum fault tolerance.`);
  if (bootstrap && !dev) warn("bootstrap = true: do not enable unless necessary; a second bootstrapped server splits the cluster.");
  return expect;
}

function buildPorts(v: View, warn: (m: string) => void): AgentPorts {
  const ports: AgentPorts = {
    http: v.num("ports.http"), https: v.num("ports.https"), dns: v.num("ports.dns"), serfLan: v.num("ports.serf_lan"),
    serfWan: v.num("ports.serf_wan"), server: v.num("ports.server"), grpc: v.num("ports.grpc"),
  };
  if (ports.serfLan < 0) throw new ConfigError(`ports.serf_lan: expected a port number (1-65535, or 0 for any free port), got ${ports.serfLan}`);
  if (ports.server < 0) throw new ConfigError(`ports.server: expected a port number (1-65535, or 0 for any free port), got ${ports.server}`);
  // Consul binds an HTTPS port that has no certificate (every handshake fails), and tools such as Consul's own
  // sdk/testutil always set one, so their configs must load: the port is left unbound, said once.
  if (ports.https > 0) warn(`ports.https: HTTPS is not supported by Praetor yet; port ${ports.https} is not served`);
  return ports;
}

function splitAddrs(text: string, key: string): string[] {
  if (text.includes("{{")) throw new ConfigError(`${key}: go-sockaddr templates like ${JSON.stringify(text)} are not supported; give an IP address`);
  const addrs = text.split(/\s+/).filter((a) => a !== "");
  if (addrs.length === 0) throw new ConfigError(`${key} cannot be empty`);
  for (const addr of addrs) {
    if (addr.startsWith("unix://")) throw new ConfigError(`${key}: unix sockets (${addr}) are not supported; give an IP address`);
    if (isIP(addr) === 0) throw new ConfigError(`${key}: expected an IP address, got ${JSON.stringify(addr)}`);
  }
  return addrs;
}

function checkBindAddr(addr: string): string {
  const addrs = splitAddrs(addr, "bind_addr");
  if (addrs.length > 1) throw new ConfigError(`bind_addr: multiple addresses found (${addrs.join(", ")}); give one`);
  return addrs[0]!;
}

function checkAdvertise(addr: string | undefined, key: string): string | undefined {
  if (addr === undefined || addr === "") return undefined;
  const [one] = splitAddrs(addr, key);
  if (one === "0.0.0.0" || one === "::") throw new ConfigError(`${key} cannot be ${one}: advertise an address other agents can reach`);
  return one;
}

function checkDatacenter(raw: string, key: string): string {
  const dc = raw.toLowerCase();
  if (!datacenterPattern.test(dc)) throw new ConfigError(`${key}: ${JSON.stringify(raw)} is not a valid datacenter name: only alphanumerics, hyphens and underscores`);
  return dc;
}

function checkNodeId(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  const id = raw.toLowerCase();
  if (!uuidPattern.test(id)) throw new ConfigError(`node_id: ${JSON.stringify(raw)} is not a valid UUID (like 41958888-acfb-fe9e-13ae-a3b8f8534b2a)`);
  return id;
}

function checkLogLevel(raw: string): LogLevel {
  const level = logLevels[raw.toLowerCase()];
  if (level === undefined) throw new ConfigError(`log_level: ${JSON.stringify(raw)} is not a log level: expected trace, debug, info, warn or error`);
  return level;
}

function checkDomain(raw: string, key: string): string {
  const domain = raw.endsWith(".") ? raw : `${raw}.`;
  if (domain === "." || !domain.slice(0, -1).split(".").every((l) => dnsLabelPattern.test(l) || /^[a-zA-Z0-9_-]+$/.test(l))) {
    throw new ConfigError(`${key}: ${JSON.stringify(raw)} is not a valid DNS domain`);
  }
  return domain.toLowerCase();
}

function checkRecursor(addr: string): string {
  const host = /^\[(.*)\](?::\d+)?$/.exec(addr)?.[1] ?? (isIP(addr) !== 0 ? addr : addr.replace(/:\d+$/, ""));
  const port = /:(\d+)$/.exec(addr)?.[1];
  if (isIP(host) === 0 || (port !== undefined && isIP(addr) === 0 && (Number(port) < 1 || Number(port) > 65535))) {
    throw new ConfigError(`recursors: expected an IP address or IP:port, got ${JSON.stringify(addr)}`);
  }
  return addr;
}

function checkEncrypt(key: string): string {
  const bytes = /^[A-Za-z0-9+/]*={0,2}$/.test(key) && key.length % 4 === 0 ? Buffer.from(key, "base64") : null;
  if (bytes === null || ![16, 24, 32].includes(bytes.length)) {
    throw new ConfigError("encrypt has invalid key: expected the base64 of 16, 24 or 32 bytes (make one with `praetor keygen`)");
  }
  return key;
}

function checkMinDuration(ms: number, minMs: number, key: string): number {
  if (ms < minMs) throw new ConfigError(`${key} must be >= ${formatDurationMs(minMs)}, got ${formatDurationMs(ms)}`);
  return ms;
}

function checkPositive(n: number, key: string): number {
  if (n <= 0) throw new ConfigError(`${key} must be positive, got ${n}`);
  return n;
}

function checkNodeMeta(meta: Record<string, string>): Record<string, string> {
  const keys = Object.keys(meta);
  if (keys.length > 64) throw new ConfigError(`node_meta: at most 64 keys, got ${keys.length}`);
  for (const key of keys) {
    if (!metaKeyPattern.test(key) || key.length > 128) throw new ConfigError(`node_meta: key ${JSON.stringify(key)} must be 1-128 letters, digits, '-' or '_'`);
    if (key.startsWith("consul-")) throw new ConfigError(`node_meta: key ${JSON.stringify(key)} uses the reserved prefix "consul-"`);
    if (meta[key]!.length > 512) throw new ConfigError(`node_meta: the value of ${JSON.stringify(key)} is longer than 512 characters`);
  }
  return meta;
}

function buildDns(v: View): DnsConfig {
  const strategy = v.str("dns_config.recursor_strategy")!;
  if (strategy !== "sequential" && strategy !== "random") {
    throw new ConfigError(`dns_config.recursor_strategy: expected "sequential" or "random", got ${JSON.stringify(strategy)}`);
  }
  return {
    allowStale: v.bool("dns_config.allow_stale")!,
    maxStaleMs: v.num("dns_config.max_stale"),
    nodeTtlMs: v.num("dns_config.node_ttl"),
    serviceTtlMs: v.map<number>("dns_config.service_ttl"),
    udpAnswerLimit: checkPositive(v.num("dns_config.udp_answer_limit"), "dns_config.udp_answer_limit"),
    aRecordLimit: v.num("dns_config.a_record_limit"),
    enableTruncate: v.bool("dns_config.enable_truncate")!,
    onlyPassing: v.bool("dns_config.only_passing")!,
    useCache: v.bool("dns_config.use_cache")!,
    cacheMaxAgeMs: v.num("dns_config.cache_max_age"),
    recursorTimeoutMs: v.num("dns_config.recursor_timeout"),
    recursorStrategy: strategy,
    disableCompression: v.bool("dns_config.disable_compression")!,
    enableAdditionalNodeMetaTxt: v.bool("dns_config.enable_additional_node_meta_txt")!,
    soa: {
      expireS: v.num("dns_config.soa.expire"),
      minTtlS: v.num("dns_config.soa.min_ttl"),
      refreshS: v.num("dns_config.soa.refresh"),
      retryS: v.num("dns_config.soa.retry"),
    },
  };
}

function buildAutopilot(v: View): AutopilotConfig {
  return {
    cleanupDeadServers: v.bool("autopilot.cleanup_dead_servers")!,
    lastContactThresholdMs: v.num("autopilot.last_contact_threshold"),
    maxTrailingLogs: v.num("autopilot.max_trailing_logs"),
    minQuorum: v.num("autopilot.min_quorum"),
    serverStabilizationTimeMs: v.num("autopilot.server_stabilization_time"),
  };
}

function buildGossip(v: View, pool: "gossip_lan" | "gossip_wan"): GossipPoolConfig {
  const config: GossipPoolConfig = {
    gossipNodes: v.num(`${pool}.gossip_nodes`),
    gossipIntervalMs: v.num(`${pool}.gossip_interval`),
    probeIntervalMs: v.num(`${pool}.probe_interval`),
    probeTimeoutMs: v.num(`${pool}.probe_timeout`),
    suspicionMult: v.num(`${pool}.suspicion_mult`),
    retransmitMult: v.num(`${pool}.retransmit_mult`),
  };
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    throw new ConfigError(`${pool}.probe_timeout (${formatDurationMs(config.probeTimeoutMs)}) must be shorter than ${pool}.probe_interval (${formatDurationMs(config.probeIntervalMs)})`);
  }
  for (const [key, value] of [["gossip_interval", config.gossipIntervalMs], ["probe_timeout", config.probeTimeoutMs], ["suspicion_mult", config.suspicionMult]] as const) {
    if (value <= 0) throw new ConfigError(`${pool}.${key} must be positive, got ${value}`);
  }
  return config;
}

function buildServices(v: View): ServiceDefinition[] {
  const services = v.raw("services").map((s) => s.value as unknown as ServiceDefinition);
  const seen = new Map<string, string>();
  for (const s of services) {
    const id = s.ID ?? s.Name;
    const earlier = seen.get(id);
    if (earlier !== undefined) throw new ConfigError(`${s.source}: service ID ${JSON.stringify(id)} is defined twice (also in ${earlier}); give each an "id"`);
    seen.set(id, s.source);
  }
  return services;
}
