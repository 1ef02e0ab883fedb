/**
 * Consul's `dns_config` (and `-domain`, `-alt-domain`, `-recursor`), with Consul's defaults, validated
 * once into the form the handler reads. Durations are milliseconds here; the agent converts
 * Consul's "10s" strings before it builds this.
 */
import { isIP } from "node:net";

export interface SoaConfig {
  /** Seconds, as Consul's `dns_config.soa` carries them. */
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  /** The SOA minimum, which is also the SOA record's own TTL (negative answers are cached this long). */
  readonly min: number;
}

export interface DnsConfig {
  /** `-domain`: the zone Praetor answers for ("consul."). */
  readonly domain: string;
  /** `alt_domain`: a second zone answering the same names (answers use the zone the question asked in). */
  readonly altDomain?: string;
  /** `node_ttl`: TTL of node records and of the addresses in SRV additional sections. */
  readonly nodeTtlMs: number;
  /** `service_ttl`: per service name; a key ending in `*` is a prefix, `"*"` the default. */
  readonly serviceTtlMs: Readonly<Record<string, number>>;
  /** `allow_stale`: answer from this agent's view without a round trip to the leader. */
  readonly allowStale: boolean;
  /** `max_stale`: a stale view whose last leader contact is older is re-read from the leader. */
  readonly maxStaleMs: number;
  /** `udp_answer_limit`: answers in a UDP reply to a client without EDNS (capped at 8, as Consul). */
  readonly udpAnswerLimit: number;
  /** `enable_truncate`: set TC when a UDP answer was trimmed, so clients retry over TCP. */
  readonly enableTruncate: boolean;
  /** `only_passing`: drop instances with a warning check too (critical ones are always dropped). */
  readonly onlyPassing: boolean;
  /** `enable_additional_node_meta_txt`: node meta as TXT records in the additional section (default true). */
  readonly nodeMetaTxt?: boolean;
  /** `-recursor`: "ip", "ip:port" or "[ipv6]:port" (port 53 by default), tried in order. */
  readonly recursors: readonly string[];
  /** `recursor_timeout`: per recursor and transport. */
  readonly recursorTimeoutMs: number;
  readonly soa: SoaConfig;
  /**
   * `use_cache`: a client agent answers service questions from reads kept fresh by blocking
   * queries to the servers (Consul's agent cache) instead of asking a server each time, with the
   * consistency `allow_stale` asks for. Server agents cache their own catalog's answers (when
   * `allow_stale`) whatever this says.
   */
  readonly useCache?: boolean;
  /** `cache_max_age`: with use_cache, a cached read older than this is read again (0: no bound). */
  readonly cacheMaxAgeMs?: number;
}

/** Consul's defaults (agent/config/default.go). */
export function defaultDnsConfig(): DnsConfig {
  return {
    domain: "consul.",
    nodeTtlMs: 0, // Consul: answers reflect the catalog immediately; clients re-ask every time.
    serviceTtlMs: {},
    allowStale: true, // DNS never waits on Raft.
    maxStaleMs: 87_600 * 3_600_000, // Consul's 87600h: effectively unbounded.
    udpAnswerLimit: 3,
    enableTruncate: false, // Consul trims silently unless asked to set TC.
    onlyPassing: false,
    nodeMetaTxt: true,
    recursors: [],
    recursorTimeoutMs: 2_000,
    soa: { refresh: 3600, retry: 600, expire: 86400, min: 0 },
  };
}

export interface RecursorAddress {
  readonly host: string;
  readonly port: number;
  /** As configured, for log lines. */
  readonly text: string;
}

/** The validated config: domains lowercased and fully qualified, recursors parsed, TTLs in seconds. */
export interface ResolvedDnsConfig {
  readonly domain: string;
  readonly domainLabels: readonly string[];
  readonly altDomain: string | null;
  readonly altDomainLabels: readonly string[] | null;
  readonly nodeTtlSeconds: number;
  readonly serviceTtlExactSeconds: ReadonlyMap<string, number>;
  /** Prefix → seconds, longest prefix first ("" is the `*` default). */
  readonly serviceTtlPrefixSeconds: readonly (readonly [string, number])[];
  readonly allowStale: boolean;
  readonly maxStaleMs: number;
  readonly udpAnswerLimit: number;
  readonly enableTruncate: boolean;
  readonly onlyPassing: boolean;
  readonly nodeMetaTxt: boolean;
  readonly recursors: readonly RecursorAddress[];
  readonly recursorTimeoutMs: number;
  readonly soa: SoaConfig;
  readonly useCache: boolean;
  readonly cacheMaxAgeMs: number;
}

/** Consul caps the UDP answer limit: ~25 A records fit in 512 bytes, fewer with SRV glue. */
export const udpAnswerLimitMax = 8;

export class DnsConfigError extends Error {
  override name = "DnsConfigError";
}

function fail(message: string): never {
  throw new DnsConfigError(message);
}

function checkMs(value: number, field: string): number {
  if (!Number.isFinite(value) || value < 0) fail(`dns config: ${field} must be a duration >= 0 ms, got ${String(value)}`);
  return value;
}

function ttlSeconds(ms: number, field: string): number {
  const seconds = Math.floor(checkMs(ms, field) / 1000);
  if (seconds > 0x7fffffff) fail(`dns config: ${field} ${ms} ms exceeds the largest DNS TTL (2^31-1 s)`);
  return seconds;
}

/** Splits "a.b.c." into lowercase labels; the root is []. */
function zoneLabels(zone: string, field: string): string[] {
  const trimmed = zone.trim().toLowerCase().replace(/\.$/, "");
  if (trimmed === "") fail(`dns config: ${field} must name a zone, got ${JSON.stringify(zone)}`);
  const labels = trimmed.split(".");
  for (const label of labels) {
    if (!/^[a-z0-9_-]{1,63}$/.test(label)) fail(`dns config: ${field} ${JSON.stringify(zone)} has an invalid label ${JSON.stringify(label)}`);
  }
  if (trimmed.length > 253) fail(`dns config: ${field} ${JSON.stringify(zone)} is longer than 253 characters`);
  return labels;
}

/** Parses "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" (port 53 when omitted), as Consul's recursorAddr. */
export function parseRecursor(text: string): RecursorAddress {
  const trimmed = text.trim();
  let host = trimmed;
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed !== null) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(trimmed) === 0) {
    const colon = trimmed.lastIndexOf(":");
    if (colon > 0) {
      host = trimmed.slice(0, colon);
      port = Number(trimmed.slice(colon + 1));
    }
  }
  if (isIP(host) === 0) fail(`dns config: invalid recursor address ${JSON.stringify(text)}: not an IP address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`dns config: invalid recursor address ${JSON.stringify(text)}: port must be 1-65535`);
  return { host, port, text: trimmed };
}

export function resolveDnsConfig(config: DnsConfig): ResolvedDnsConfig {
  const domainLabels = zoneLabels(config.domain, "domain");
  const altDomainLabels = config.altDomain === undefined || config.altDomain.trim() === "" ? null : zoneLabels(config.altDomain, "alt_domain");
  if (altDomainLabels !== null && altDomainLabels.join(".") === domainLabels.join(".")) {
    fail(`dns config: alt_domain ${JSON.stringify(config.altDomain)} is the same zone as domain`);
  }
  if (!Number.isInteger(config.udpAnswerLimit) || config.udpAnswerLimit < 1) {
    fail(`dns config: udp_answer_limit must be an integer >= 1, got ${String(config.udpAnswerLimit)}`);
  }
  const exact = new Map<string, number>();
  const prefixes: [string, number][] = [];
  for (const [key, ms] of Object.entries(config.serviceTtlMs)) {
    const seconds = ttlSeconds(ms, `service_ttl[${JSON.stringify(key)}]`);
    // Service names are looked up lowercased (DNS is case-insensitive), so keys are too.
    if (key.endsWith("*")) prefixes.push([key.slice(0, -1).toLowerCase(), seconds]);
    else exact.set(key.toLowerCase(), seconds);
  }
  prefixes.sort((a, b) => b[0].length - a[0].length);
  const soa = config.soa;
  for (const field of ["refresh", "retry", "expire", "min"] as const) {
    const value = soa[field];
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) fail(`dns config: soa.${field} must be an integer 0..2^32-1 seconds, got ${String(value)}`);
  }
  return {
    domain: `${domainLabels.join(".")}.`,
    domainLabels,
    altDomain: altDomainLabels === null ? null : `${altDomainLabels.join(".")}.`,
    altDomainLabels,
    nodeTtlSeconds: ttlSeconds(config.nodeTtlMs, "node_ttl"),
    serviceTtlExactSeconds: exact,
    serviceTtlPrefixSeconds: prefixes,
    allowStale: config.allowStale,
    maxStaleMs: checkMs(config.maxStaleMs, "max_stale"),
    udpAnswerLimit: Math.min(udpAnswerLimitMax, config.udpAnswerLimit),
    enableTruncate: config.enableTruncate,
    onlyPassing: config.onlyPassing,
    nodeMetaTxt: config.nodeMetaTxt ?? true,
    recursors: config.recursors.map(parseRecursor),
    recursorTimeoutMs: checkMs(config.recursorTimeoutMs, "recursor_timeout") || defaultDnsConfig().recursorTimeoutMs,
    soa: { ...soa },
    useCache: config.useCache ?? false,
    cacheMaxAgeMs: checkMs(config.cacheMaxAgeMs ?? 0, "cache_max_age"),
  };
}

/** The TTL of a service's records: an exact key wins, then the longest `prefix*`, else 0 (Consul). */
export function serviceTtlSeconds(config: ResolvedDnsConfig, service: string): number {
  const name = service.toLowerCase();
  const exact = config.serviceTtlExactSeconds.get(name);
  if (exact !== undefined) return exact;
  for (const [prefix, seconds] of config.serviceTtlPrefixSeconds) if (name.startsWith(prefix)) return seconds;
  return 0;
}
