/**
 * `praetor agent`'s flags, as `consul agent` names them. Each flag that sets a config key is turned
 * into the same JSON shape a config file would hold, so flags and files go through one decoder and
 * one merge (flags last, as in Consul).
 */
import type { FlagKind, FlagSpec, ParsedFlags } from "../../cli/flags.ts";

interface AgentFlag extends FlagSpec {
  /** The config key this flag sets (dotted for sections); absent for -dev, -config-file, -config-dir, -hcl. */
  readonly key?: string;
}

const f = (name: string, kind: FlagKind, key: string | undefined, usage: string, placeholder?: string): AgentFlag =>
  ({ name, kind, usage, ...(key === undefined ? {} : { key }), ...(placeholder === undefined ? {} : { placeholder }) });

export const agentFlags: readonly AgentFlag[] = [
  f("advertise", "string", "advertise_addr", "Sets the advertise address to use.", "addr"),
  f("advertise-wan", "string", "advertise_addr_wan", "Sets address to advertise on WAN instead of -advertise address.", "addr"),
  f("alt-domain", "string", "alt_domain", "Alternate domain to use for DNS interface.", "domain"),
  f("bind", "string", "bind_addr", "Sets the bind address for cluster communication.", "addr"),
  f("bootstrap", "bool", "bootstrap", "Sets server to bootstrap mode."),
  f("bootstrap-expect", "uint", "bootstrap_expect", "Sets server to expect bootstrap mode.", "n"),
  f("client", "string", "client_addr", "Sets the address to bind for client access. This includes RPC, DNS, HTTP, HTTPS and gRPC (if configured).", "addr"),
  f("config-dir", "list", undefined, "Path to a directory to read configuration files from. This will read every file ending in '.json' as configuration in this directory in alphabetical order. Can be specified multiple times.", "path"),
  f("config-file", "list", undefined, "Path to a file in JSON format to read configuration from. Can be specified multiple times.", "path"),
  f("config-format", "string", undefined, "Config files are in this format irrespective of their extension. Must be 'hcl' or 'json'.", "format"),
  f("data-dir", "string", "data_dir", "Path to a data directory to store agent state.", "path"),
  f("datacenter", "string", "datacenter", "Datacenter of the agent.", "dc"),
  f("default-query-time", "duration", "default_query_time", "The amount of time a blocking query will wait before Praetor will force a response. This value can be overridden by the 'wait' query parameter.", "duration"),
  f("dev", "bool", undefined, "Starts the agent in development mode."),
  f("dns-port", "int", "ports.dns", "DNS port to use.", "port"),
  f("domain", "string", "domain", "Domain to use for DNS interface.", "domain"),
  f("enable-local-script-checks", "bool", "enable_local_script_checks", "Enables health check scripts from configuration file."),
  f("enable-script-checks", "bool", "enable_script_checks", "Enables health check scripts."),
  f("encrypt", "string", "encrypt", "Provides the gossip encryption key.", "key"),
  f("grpc-port", "int", "ports.grpc", "Sets the gRPC API port to listen on (currently needed for Envoy xDS only).", "port"),
  f("hcl", "list", undefined, "hcl config fragment. Can be specified multiple times.", "string"),
  f("http-port", "int", "ports.http", "Sets the HTTP API port to listen on.", "port"),
  f("join", "list", "start_join", "Address of an agent to join at start time. Can be specified multiple times.", "addr"),
  f("join-wan", "list", "start_join_wan", "Address of an agent to join -wan at start time. Can be specified multiple times.", "addr"),
  f("log-file", "string", "log_file", "Path to the file the logs get written to", "path"),
  f("log-json", "bool", "log_json", "Output logs in JSON format."),
  f("log-level", "string", "log_level", "Log level of the agent.", "level"),
  f("max-query-time", "duration", "max_query_time", "the maximum amount of time a blocking query can wait before Praetor will force a response.", "duration"),
  f("node", "string", "node_name", "Name of this node. Must be unique in the cluster.", "name"),
  f("node-id", "string", "node_id", "A unique ID for this node across space and time. Defaults to a randomly-generated ID that persists in the data-dir.", "id"),
  f("node-meta", "list", "node_meta", "An arbitrary metadata key/value pair for this node, of the format `key:value`. Can be specified multiple times.", "key:value"),
  f("pid-file", "string", "pid_file", "Path to file to store agent PID.", "path"),
  f("recursor", "list", "recursors", "Address of an upstream DNS server. Can be specified multiple times.", "addr"),
  f("rejoin", "bool", "rejoin_after_leave", "Ignores a previous leave and attempts to rejoin the cluster."),
  f("retry-interval", "duration", "retry_interval", "Time to wait between join attempts.", "duration"),
  f("retry-interval-wan", "duration", "retry_interval_wan", "Time to wait between join -wan attempts.", "duration"),
  f("retry-join", "list", "retry_join", "Address of an agent to join at start time with retries enabled. Can be specified multiple times.", "addr"),
  f("retry-join-wan", "list", "retry_join_wan", "Address of an agent to join -wan at start time with retries enabled. Can be specified multiple times.", "addr"),
  f("retry-max", "uint", "retry_max", "Maximum number of join attempts. Defaults to 0, which will retry indefinitely.", "n"),
  f("retry-max-wan", "uint", "retry_max_wan", "Maximum number of join -wan attempts. Defaults to 0, which will retry indefinitely.", "n"),
  f("serf-lan-port", "int", "ports.serf_lan", "Sets the Serf LAN port to listen on.", "port"),
  f("serf-wan-port", "int", "ports.serf_wan", "Sets the Serf WAN port to listen on.", "port"),
  f("server", "bool", "server", "Switches agent to server mode."),
  f("server-port", "int", "ports.server", "Sets the server port to listen on.", "port"),
  f("ui", "bool", "ui_config.enabled", "Enables the built-in static web UI server."),
  f("ui-content-path", "string", "ui_config.content_path", "Sets the external UI path to a string. Defaults to: /ui/", "path"),
  f("ui-dir", "string", "ui_config.dir", "Path to directory containing the web UI resources.", "path"),
];

export type ConfigLocation = { readonly kind: "file" | "dir"; readonly path: string };

export interface AgentFlagValues {
  readonly dev: boolean;
  /** -config-file and -config-dir, interleaved in command-line order. */
  readonly locations: readonly ConfigLocation[];
  readonly configFormat?: string;
  /** -hcl fragments, in order. */
  readonly hcl: readonly string[];
  /** Every config-setting flag as the JSON a config file would hold. */
  readonly raw: Record<string, unknown>;
}

/** Splits parsed flags into the config locations, -dev, and the config fragment they set. */
export function agentFlagValues(parsed: ParsedFlags): AgentFlagValues {
  const byName = new Map(agentFlags.map((spec) => [spec.name, spec]));
  const raw: Record<string, unknown> = {};
  const locations: ConfigLocation[] = [];
  const hcl: string[] = [];
  for (const { name, value } of parsed.occurrences) {
    if (name === "config-file" || name === "config-dir") locations.push({ kind: name === "config-file" ? "file" : "dir", path: String(value) });
    if (name === "hcl") hcl.push(String(value));
    const key = byName.get(name)?.key;
    if (key === undefined) continue;
    if (name === "node-meta") setPath(raw, key, { ...(getPath(raw, key) as object | undefined), ...metaPair(String(value)) });
    else if (byName.get(name)!.kind === "list") setPath(raw, key, [...((getPath(raw, key) as string[] | undefined) ?? []), value]);
    else setPath(raw, key, value);
  }
  const configFormat = parsed.values.get("config-format");
  return {
    dev: parsed.values.get("dev") === true,
    locations,
    hcl,
    raw,
    ...(typeof configFormat === "string" ? { configFormat } : {}),
  };
}

/** `-node-meta key:value` (a value may itself contain colons; a missing one is empty). */
function metaPair(text: string): Record<string, string> {
  const colon = text.indexOf(":");
  return colon < 0 ? { [text]: "" } : { [text.slice(0, colon)]: text.slice(colon + 1) };
}

function getPath(obj: Record<string, unknown>, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split(".")) cur = (cur as Record<string, unknown> | undefined)?.[part];
  return cur;
}

function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split(".");
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    cur[part] ??= {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts.at(-1)!] = value;
}
