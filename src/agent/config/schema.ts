/**
 * The config file keys Praetor reads, as Consul's configuration reference names them, and the
 * decoder that checks one source (a file, or the flags) against them. A decoded source is a
 * `Fragment`: the same nested keys, every value checked and converted (durations to milliseconds,
 * `service`/`check` folded into `services`/`checks`), ready to merge with the others.
 */
import { parseDurationMs } from "./duration.ts";
import { ConfigError } from "./types.ts";

export type Fragment = { [key: string]: FragmentValue };
export type FragmentValue = string | number | boolean | FragmentValue[] | Fragment | RawObject;

/** A value kept as written (service checks, check definitions): merged as a unit, never recursed into. */
export class RawObject {
  constructor(
    readonly value: Readonly<Record<string, unknown>>,
    readonly source: string,
  ) {}
}

type Scalar = "string" | "bool" | "int" | "uint" | "port" | "duration" | "float";
type Spec =
  | Scalar
  | "stringList"
  | "stringMap"
  | "durationMap"
  | "services"
  | "checks"
  | "ignored"
  | { readonly struct: Schema; readonly partlyIgnored?: boolean };
type Schema = Readonly<Record<string, Spec>>;

const gossipPool: Schema = {
  gossip_nodes: "uint",
  gossip_interval: "duration",
  probe_interval: "duration",
  probe_timeout: "duration",
  suspicion_mult: "uint",
  retransmit_mult: "uint",
};

/** Every top-level key Praetor uses. Keys Consul knows but Praetor does not use are in `ignoredKeys`. */
export const agentSchema: Schema = {
  addresses: { struct: { dns: "string", http: "string", https: "ignored", grpc: "ignored", grpc_tls: "ignored" } },
  advertise_addr: "string",
  advertise_addr_wan: "string",
  alt_domain: "string",
  autopilot: {
    struct: {
      cleanup_dead_servers: "bool",
      last_contact_threshold: "duration",
      max_trailing_logs: "uint",
      min_quorum: "uint",
      server_stabilization_time: "duration",
      disable_upgrade_migration: "ignored",
      redundancy_zone_tag: "ignored",
      upgrade_version_tag: "ignored",
    },
  },
  bind_addr: "string",
  bootstrap: "bool",
  bootstrap_expect: "uint",
  check: "checks",
  checks: "checks",
  check_output_max_size: "uint",
  check_update_interval: "duration",
  client_addr: "string",
  data_dir: "string",
  datacenter: "string",
  default_query_time: "duration",
  disable_remote_exec: "bool",
  dns_config: {
    struct: {
      allow_stale: "bool",
      max_stale: "duration",
      node_ttl: "duration",
      service_ttl: "durationMap",
      udp_answer_limit: "uint",
      a_record_limit: "uint",
      enable_truncate: "bool",
      only_passing: "bool",
      use_cache: "bool",
      cache_max_age: "duration",
      recursor_timeout: "duration",
      recursor_strategy: "string",
      disable_compression: "bool",
      enable_additional_node_meta_txt: "bool",
      soa: { struct: { expire: "uint", min_ttl: "uint", refresh: "uint", retry: "uint" } },
      prefer_namespace: "ignored",
    },
  },
  domain: "string",
  enable_local_script_checks: "bool",
  enable_script_checks: "bool",
  encrypt: "string",
  encrypt_verify_incoming: "bool",
  encrypt_verify_outgoing: "bool",
  gossip_lan: { struct: gossipPool },
  gossip_wan: { struct: gossipPool },
  http_config: {
    struct: {
      response_headers: "stringMap",
      allow_write_http_from: "ignored",
      block_endpoints: "ignored",
      use_cache: "ignored",
    },
  },
  leave_on_terminate: "bool",
  limits: {
    struct: {
      http_max_conns_per_client: "uint",
      https_handshake_timeout: "ignored",
      rpc_handshake_timeout: "ignored",
      rpc_client_timeout: "ignored",
      rpc_max_burst: "ignored",
      rpc_max_conns_per_client: "ignored",
      rpc_rate: "ignored",
      kv_max_value_size: "ignored",
      txn_max_req_len: "ignored",
      request_limits: "ignored",
    },
  },
  log_file: "string",
  log_json: "bool",
  log_level: "string",
  max_query_time: "duration",
  node_id: "string",
  node_meta: "stringMap",
  node_name: "string",
  performance: { struct: { leave_drain_time: "duration", raft_multiplier: "uint", rpc_hold_timeout: "duration", grpc_keepalive_interval: "ignored", grpc_keepalive_timeout: "ignored" } },
  pid_file: "string",
  ports: {
    struct: {
      dns: "port",
      http: "port",
      https: "port",
      grpc: "port",
      serf_lan: "port",
      serf_wan: "port",
      server: "port",
      grpc_tls: "ignored",
      sidecar_min_port: "ignored",
      sidecar_max_port: "ignored",
      expose_min_port: "ignored",
      expose_max_port: "ignored",
    },
  },
  primary_datacenter: "string",
  raft_snapshot_interval: "duration",
  raft_snapshot_threshold: "uint",
  raft_trailing_logs: "uint",
  reconnect_timeout: "duration",
  reconnect_timeout_wan: "duration",
  recursors: "stringList",
  rejoin_after_leave: "bool",
  retry_interval: "duration",
  retry_interval_wan: "duration",
  retry_join: "stringList",
  retry_join_wan: "stringList",
  retry_max: "uint",
  retry_max_wan: "uint",
  server: "bool",
  service: "services",
  services: "services",
  session_ttl_min: "duration",
  skip_leave_on_interrupt: "bool",
  start_join: "stringList",
  start_join_wan: "stringList",
  ui: "bool",
  ui_config: { struct: { enabled: "bool", content_path: "string", dir: "string", metrics_provider: "ignored", metrics_provider_files: "ignored", metrics_provider_options_json: "ignored", metrics_proxy: "ignored", dashboard_url_templates: "ignored" } },
  ui_content_path: "string",
  ui_dir: "string",
};

/** Keys Consul accepts that Praetor does not act on: a warning says so instead of "invalid key". */
export const ignoredKeys: ReadonlySet<string> = new Set([
  "acl", "acl_agent_master_token", "acl_agent_token", "acl_datacenter", "acl_default_policy", "acl_down_policy",
  "acl_enable_key_list_policy", "acl_master_token", "acl_replication_token", "acl_token", "acl_ttl",
  "advertise_addr_ipv4", "advertise_addr_ipv6", "advertise_addr_wan_ipv4", "advertise_addr_wan_ipv6",
  "advertise_addrs", "audit", "auto_config", "auto_encrypt", "auto_reload_config", "cache", "ca_file", "ca_path",
  "cert_file", "cloud", "config_entries", "connect", "disable_anonymous_signature", "disable_coordinates",
  "disable_host_node_id", "disable_http_unprintable_char_filter", "disable_keyring_file", "disable_update_check",
  "discard_check_output", "discovery_max_stale", "enable_acl_replication", "enable_agent_tls_for_checks",
  "enable_central_service_config", "enable_debug", "enable_syslog", "experiments", "key_file", "license_path",
  "locality", "log_rotate_bytes", "log_rotate_duration", "log_rotate_max_files", "non_voting_server", "peering",
  "primary_gateways", "primary_gateways_interval", "protocol", "raft_boltdb", "raft_logstore", "raft_protocol",
  "read_replica", "reporting", "rpc", "segment", "segments", "serf_lan", "serf_lan_allowed_cidrs", "serf_wan",
  "serf_wan_allowed_cidrs", "server_name", "snapshot_agent", "syslog_facility", "tagged_addresses", "telemetry",
  "tls", "tls_cipher_suites", "tls_min_version", "tls_prefer_server_cipher_suites", "translate_wan_addrs",
  "unix_sockets", "verify_incoming", "verify_incoming_https", "verify_incoming_rpc", "verify_outgoing",
  "verify_server_hostname", "watches", "license_auto_reporting",
]);

/** Collects warnings while decoding; errors throw at once. */
export interface DecodeContext {
  readonly source: string;
  readonly warnings: string[];
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function fail(ctx: DecodeContext, path: string, expected: string, value: unknown): never {
  throw new ConfigError(`${ctx.source}: ${path}: expected ${expected}, got ${typeName(value)}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Decodes one source's top-level object against the agent schema. */
export function decodeSource(raw: unknown, ctx: DecodeContext): Fragment {
  if (!isPlainObject(raw)) throw new ConfigError(`${ctx.source}: expected an object at the top level, got ${typeName(raw)}`);
  return decodeStruct(raw, agentSchema, "", ctx, true);
}

/** Finds the schema key for a written key: exact, else case-insensitive (as Consul's decoder matches). */
function schemaKey(schema: Schema, written: string): string | undefined {
  if (Object.hasOwn(schema, written)) return written;
  const lower = written.toLowerCase();
  return Object.hasOwn(schema, lower) ? lower : undefined;
}

function decodeStruct(raw: Record<string, unknown>, schema: Schema, prefix: string, ctx: DecodeContext, topLevel: boolean): Fragment {
  const out: Fragment = {};
  for (const [written, value] of Object.entries(raw)) {
    const path = prefix + written;
    const key = schemaKey(schema, written);
    if (key === undefined) {
      if (topLevel && ignoredKeys.has(written.toLowerCase())) ctx.warnings.push(`${ctx.source}: ${path} is not supported by Praetor and is ignored`);
      else ctx.warnings.push(`${ctx.source}: invalid config key ${path} (ignored)`);
      continue;
    }
    const spec = schema[key]!;
    if (spec === "ignored") {
      ctx.warnings.push(`${ctx.source}: ${path} is not supported by Praetor and is ignored`);
      continue;
    }
    const decoded = decodeValue(value, spec, prefix + key, ctx);
    if (decoded === undefined) continue;
    // `service` and `check` fold into the lists, so two files' single definitions both survive the merge.
    const target = key === "service" ? "services" : key === "check" ? "checks" : key;
    const previous = out[target];
    out[target] = Array.isArray(previous) && Array.isArray(decoded) ? [...previous, ...decoded] : decoded;
  }
  return out;
}

function decodeValue(value: unknown, spec: Spec, path: string, ctx: DecodeContext): FragmentValue | undefined {
  if (typeof spec === "object") {
    if (!isPlainObject(value)) fail(ctx, path, "an object", value);
    return decodeStruct(value, spec.struct, `${path}.`, ctx, false);
  }
  switch (spec) {
    case "stringList":
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) fail(ctx, path, "a list of strings", value);
      return value as string[];
    case "stringMap":
      return decodeMap(value, path, ctx, (v, p) => (typeof v === "string" ? v : fail(ctx, p, "a string", v)));
    case "durationMap":
      return decodeMap(value, path, ctx, (v, p) => decodeScalar(v, "duration", p, ctx) as number);
    case "services":
      return decodeList(value, path, ctx).map((s, i) => decodeService(s, itemPath(value, path, i), ctx));
    case "checks":
      return decodeList(value, path, ctx).map((c, i) => {
        if (!isPlainObject(c)) fail(ctx, itemPath(value, path, i), "a check definition object", c);
        return new RawObject(c, ctx.source);
      });
    case "ignored":
      return undefined;
    default:
      return decodeScalar(value, spec, path, ctx);
  }
}

/** "services[1]" for an item of a list, plain "service" for a lone object. */
function itemPath(value: unknown, path: string, i: number): string {
  return Array.isArray(value) ? `${path}[${i}]` : path;
}

/** `service` is one object, `services` a list; both accept either (HCL blocks decode as lists). */
function decodeList(value: unknown, path: string, ctx: DecodeContext): unknown[] {
  if (Array.isArray(value)) return value;
  if (isPlainObject(value)) return [value];
  return fail(ctx, path, "an object or a list of objects", value);
}

function decodeMap(value: unknown, path: string, ctx: DecodeContext, each: (v: unknown, path: string) => string | number): Fragment {
  if (!isPlainObject(value)) fail(ctx, path, "an object of key/value pairs", value);
  const out: Fragment = {};
  for (const [k, v] of Object.entries(value)) out[k] = each(v, `${path}.${k}`);
  return out;
}

export function decodeScalar(value: unknown, spec: Scalar, path: string, ctx: DecodeContext): string | number | boolean {
  switch (spec) {
    case "string":
      return typeof value === "string" ? value : fail(ctx, path, "a string", value);
    case "bool":
      return typeof value === "boolean" ? value : fail(ctx, path, "true or false", value);
    case "float":
      return typeof value === "number" && Number.isFinite(value) ? value : fail(ctx, path, "a number", value);
    case "int":
      return Number.isSafeInteger(value) ? (value as number) : fail(ctx, path, "an integer", value);
    case "uint":
      return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : fail(ctx, path, "a non-negative integer", value);
    case "port":
      return Number.isSafeInteger(value) && (value as number) >= -1 && (value as number) <= 65535
        ? (value as number)
        : fail(ctx, path, "a port number (1-65535, 0 for any free port, -1 to disable)", value);
    case "duration": {
      const ms = typeof value === "string" ? parseDurationMs(value) : null;
      if (ms === null || ms < 0) return fail(ctx, path, 'a duration such as "30s", "5m" or "72h"', value);
      return ms;
    }
  }
}

const serviceKeys: Readonly<Record<string, string>> = {
  id: "ID", name: "Name", tags: "Tags", address: "Address", port: "Port", meta: "Meta", kind: "Kind", token: "Token",
  enabletagoverride: "EnableTagOverride", weights: "Weights", taggedaddresses: "TaggedAddresses", check: "check", checks: "checks",
};
const ignoredServiceKeys = new Set(["proxy", "connect", "namespace", "partition", "socketpath", "locality", "enterprisemeta"]);

function normalizeKey(key: string): string {
  return key.toLowerCase().replaceAll("_", "").replaceAll("-", "");
}

/**
 * A service definition in the agent API's shape. Keys match as Consul's decoder does: snake_case
 * or CamelCase, any case. Its checks stay raw for the health-check code to parse.
 */
function decodeService(raw: unknown, path: string, ctx: DecodeContext): RawObject {
  if (!isPlainObject(raw)) fail(ctx, path, "a service definition object", raw);
  const out: Record<string, unknown> = { Tags: [], Address: "", Port: 0, Meta: {}, EnableTagOverride: false, Checks: [], source: ctx.source };
  for (const [written, value] of Object.entries(raw)) {
    const key = serviceKeys[normalizeKey(written)];
    const at = `${path}.${written}`;
    if (key === undefined) {
      if (ignoredServiceKeys.has(normalizeKey(written))) ctx.warnings.push(`${ctx.source}: ${at} is not supported by Praetor and is ignored`);
      else ctx.warnings.push(`${ctx.source}: invalid config key ${at} (ignored)`);
      continue;
    }
    decodeServiceField(out, key, value, at, ctx);
  }
  if (typeof out.Name !== "string" || out.Name === "") {
    throw new ConfigError(`${ctx.source}: ${path}: a service definition needs a name ("name": "web")`);
  }
  return new RawObject(out, ctx.source);
}

function decodeServiceField(out: Record<string, unknown>, key: string, value: unknown, at: string, ctx: DecodeContext): void {
  switch (key) {
    case "ID": case "Name": case "Address": case "Kind": case "Token":
      out[key] = decodeScalar(value, "string", at, ctx);
      return;
    case "Port":
      if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > 65535) fail(ctx, at, "a port number (0-65535)", value);
      out.Port = value;
      return;
    case "EnableTagOverride":
      out.EnableTagOverride = decodeScalar(value, "bool", at, ctx);
      return;
    case "Tags":
      out.Tags = decodeValue(value, "stringList", at, ctx);
      return;
    case "Meta":
      out.Meta = decodeValue(value, "stringMap", at, ctx);
      return;
    case "Weights":
      out.Weights = decodeWeights(value, at, ctx);
      return;
    case "TaggedAddresses":
      out.TaggedAddresses = decodeTaggedAddresses(value, at, ctx);
      return;
    case "check": case "checks":
      for (const [i, c] of decodeList(value, at, ctx).entries()) {
        if (!isPlainObject(c)) fail(ctx, itemPath(value, at, i), "a check definition object", c);
        (out.Checks as unknown[]).push(c);
      }
      return;
  }
}

function decodeWeights(value: unknown, at: string, ctx: DecodeContext): { Passing: number; Warning: number } {
  if (!isPlainObject(value)) fail(ctx, at, 'an object like {"passing": 10, "warning": 1}', value);
  const weights = { Passing: 1, Warning: 1 };
  for (const [k, v] of Object.entries(value)) {
    const n = normalizeKey(k);
    if (n === "passing") weights.Passing = decodeScalar(v, "uint", `${at}.${k}`, ctx) as number;
    else if (n === "warning") weights.Warning = decodeScalar(v, "uint", `${at}.${k}`, ctx) as number;
    else ctx.warnings.push(`${ctx.source}: invalid config key ${at}.${k} (ignored)`);
  }
  return weights;
}

function decodeTaggedAddresses(value: unknown, at: string, ctx: DecodeContext): Record<string, { Address: string; Port: number }> {
  if (!isPlainObject(value)) fail(ctx, at, 'an object like {"lan": {"address": "10.0.0.1", "port": 80}}', value);
  const out: Record<string, { Address: string; Port: number }> = {};
  for (const [name, addr] of Object.entries(value)) {
    if (!isPlainObject(addr)) fail(ctx, `${at}.${name}`, 'an object like {"address": "10.0.0.1", "port": 80}', addr);
    const entry = { Address: "", Port: 0 };
    for (const [k, v] of Object.entries(addr)) {
      const n = normalizeKey(k);
      if (n === "address") entry.Address = decodeScalar(v, "string", `${at}.${name}.${k}`, ctx) as string;
      else if (n === "port") entry.Port = decodeScalar(v, "port", `${at}.${name}.${k}`, ctx) as number;
      else ctx.warnings.push(`${ctx.source}: invalid config key ${at}.${name}.${k} (ignored)`);
    }
    out[name] = entry;
  }
  return out;
}

/**
 * Consul's merge: a later scalar wins, lists append, objects (maps and sections) merge key by key.
 * Raw objects (service and check definitions) are values, never merged into each other.
 */
export function mergeFragments(base: Fragment, over: Fragment): Fragment {
  const out: Fragment = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    if (Array.isArray(prev) && Array.isArray(value)) out[key] = [...prev, ...value];
    else if (isFragment(prev) && isFragment(value)) out[key] = mergeFragments(prev, value);
    else out[key] = value;
  }
  return out;
}

function isFragment(value: FragmentValue | undefined): value is Fragment {
  return isPlainObject(value) && !(value instanceof RawObject);
}
