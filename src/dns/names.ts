/**
 * What a question asks for, read from its name the way Consul's DNS server reads it (agent/dns.go
 * `dispatch`): the zone is cut off, then the rightmost kind label (`service`, `node`, `addr`,
 * `query`, ...) splits the rest into the looked-up parts and the datacenter suffix. Also the
 * address helpers the records need: IP text to bytes and back, reverse names, `<hex>.addr.`.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { ResolvedDnsConfig } from "./config.ts";
import { QTYPE } from "./wire.ts";

export type Lookup =
  /** The zone apex itself (SOA, NS). */
  | { readonly kind: "apex" }
  | { readonly kind: "service"; readonly service: string; readonly tag: string | null; readonly dc: string | null }
  | { readonly kind: "node"; readonly node: string; readonly dc: string | null }
  | { readonly kind: "addr"; readonly ip: Uint8Array }
  /** `NAME.query[.DC].consul`: a prepared query by ID, name or template prefix (the name may hold dots). */
  | { readonly kind: "query"; readonly query: string; readonly dc: string | null }
  /** Inside the zone but naming nothing Praetor serves (bad shape, peers, connect). */
  | { readonly kind: "invalid"; readonly reason: string };

export interface ZoneMatch {
  /** The zone the question asked in, configured spelling ("consul."), for SOA records. */
  readonly zone: string;
  /** The zone as the question spelled it ("CONSUL."), for names built into answers (Consul's getResponseDomain). */
  readonly responseZone: string;
  /** Labels before the zone, as sent. */
  readonly labels: readonly string[];
  /** The same, lowercased. */
  readonly lower: readonly string[];
}

function endsWithZone(lower: readonly string[], zone: readonly string[]): boolean {
  if (lower.length < zone.length) return false;
  const offset = lower.length - zone.length;
  return zone.every((label, i) => lower[offset + i] === label);
}

/** Which of our zones the name is in (the longer one wins when both match, as Consul's trimDomain). */
export function matchZone(config: ResolvedDnsConfig, labels: readonly string[]): ZoneMatch | null {
  const lower = labels.map((label) => label.toLowerCase());
  const candidates: [string, readonly string[]][] = [[config.domain, config.domainLabels]];
  if (config.altDomain !== null && config.altDomainLabels !== null) candidates.push([config.altDomain, config.altDomainLabels]);
  candidates.sort((a, b) => b[1].length - a[1].length);
  for (const [zone, zoneLabelList] of candidates) {
    if (!endsWithZone(lower, zoneLabelList)) continue;
    const cut = labels.length - zoneLabelList.length;
    return {
      zone,
      responseZone: `${labels.slice(cut).join(".")}.`,
      labels: labels.slice(0, cut),
      lower: lower.slice(0, cut),
    };
  }
  return null;
}

const kindLabels = new Set(["service", "connect", "virtual", "ingress", "node", "query", "addr"]);

/**
 * The datacenter from the labels after the kind: none (the agent's), `dc1`, or `dc1.dc`.
 * Anything else (peers, partitions, namespaces) is not served: undefined.
 */
function datacenterOf(suffixes: readonly string[]): string | null | undefined {
  if (suffixes.length === 0) return null;
  if (suffixes.length === 1) return suffixes[0]!;
  if (suffixes.length === 2 && suffixes[1] === "dc") return suffixes[0]!;
  return undefined;
}

/** Reads the labels inside the zone (`lower` for matching, `labels` to keep the node's spelling). */
export function parseLookup(match: ZoneMatch, qtype: number): Lookup {
  const { lower, labels } = match;
  if (lower.length === 0) return { kind: "apex" };
  let kindAt = -1;
  let kind = "";
  for (let i = lower.length - 1; i >= 0; i--) {
    if (kindLabels.has(lower[i]!)) {
      kindAt = i;
      kind = lower[i]!;
      break;
    }
    // RFC 2782 lets an SRV question leave out "service": _web._tcp.consul.
    if (qtype === QTYPE.SRV && lower[i]!.startsWith("_")) {
      return serviceLookup(lower.slice(0, i + 1), lower.slice(i + 1));
    }
  }
  if (kindAt < 0) return { kind: "invalid", reason: "no service, node or addr label" };
  const parts = lower.slice(0, kindAt);
  const suffixes = lower.slice(kindAt + 1);
  switch (kind) {
    case "service": return serviceLookup(parts, suffixes);
    case "node": {
      const dc = datacenterOf(suffixes);
      if (parts.length === 0 || dc === undefined) return { kind: "invalid", reason: "node name or datacenter missing or malformed" };
      // A node name may hold dots; keep the question's spelling for an exact catalog match first.
      return { kind: "node", node: labels.slice(0, kindAt).join("."), dc };
    }
    case "addr": {
      const ip = parts.length === 1 && datacenterOf(suffixes) !== undefined ? ipFromHex(parts[0]!) : null;
      return ip === null ? { kind: "invalid", reason: "addr name is not <8 or 32 hex digits>.addr[.dc]" } : { kind: "addr", ip };
    }
    case "query": {
      const dc = datacenterOf(suffixes);
      if (parts.length === 0 || dc === undefined) return { kind: "invalid", reason: "query name or datacenter missing or malformed" };
      return { kind: "query", query: parts.join("."), dc };
    }
    default:
      return { kind: "invalid", reason: `${kind} lookups are not served` };
  }
}

function serviceLookup(parts: readonly string[], suffixes: readonly string[]): Lookup {
  const dc = datacenterOf(suffixes);
  const n = parts.length;
  if (n === 0 || dc === undefined) return { kind: "invalid", reason: "service name or datacenter missing or malformed" };
  // RFC 2782: _name._tag.service.consul, where _tcp means any tag.
  if (n === 2 && parts[0]!.startsWith("_") && parts[1]!.startsWith("_")) {
    const tag = parts[1]!.slice(1);
    const service = parts[0]!.slice(1);
    if (service === "") return { kind: "invalid", reason: "empty RFC 2782 service name" };
    return { kind: "service", service, tag: tag === "tcp" || tag === "" ? null : tag, dc };
  }
  // Consul 0.3 form: [tag.]name.service, where a tag may itself hold dots.
  return { kind: "service", service: parts[n - 1]!, tag: n >= 2 ? parts.slice(0, n - 1).join(".") : null, dc };
}

// --- Addresses -------------------------------------------------------------------------------

// Catalog addresses repeat on every question: parse each once. The arrays are shared, never mutated.
const parsedIps = new Map<string, Uint8Array | null>();
const ipTexts = new WeakMap<Uint8Array, string>();
const parsedIpsMax = 65_536;

/** IP text to 4 or 16 bytes (IPv4-mapped IPv6 becomes 4, as Go's To4), or null. Do not mutate the result. */
export function ipToBytes(text: string): Uint8Array | null {
  const known = parsedIps.get(text);
  if (known !== undefined) return known;
  if (parsedIps.size >= parsedIpsMax) parsedIps.clear();
  const bytes = parseIp(text);
  parsedIps.set(text, bytes);
  return bytes;
}

function parseIp(text: string): Uint8Array | null {
  if (isIPv4(text)) return Uint8Array.from(text.split(".").map(Number));
  if (!isIPv6(text)) return null;
  let body = text.replace(/%.*$/, "");
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (v4 !== null) {
    tail = v4[1]!.split(".").map(Number);
    body = body.slice(0, -v4[1]!.length) + "0:0";
  }
  const halves = body.split("::");
  const head = halves[0] === "" ? [] : halves[0]!.split(":");
  const rest = halves.length > 1 && halves[1] !== "" ? halves[1]!.split(":") : [];
  const groups = [...head, ...Array<string>(8 - head.length - rest.length).fill("0"), ...rest].map((g) => parseInt(g, 16));
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  if (tail.length === 4) bytes.set(tail, 12);
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

/** 4 or 16 bytes as the text dns-packet encodes. */
export function bytesToIp(bytes: Uint8Array): string {
  let text = ipTexts.get(bytes);
  if (text === undefined) ipTexts.set(bytes, (text = formatIp(bytes)));
  return text;
}

function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(":");
}

export function ipFamily(text: string): 4 | 6 | null {
  const bytes = ipToBytes(text);
  return bytes === null ? null : bytes.length === 4 ? 4 : 6;
}

function ipFromHex(label: string): Uint8Array | null {
  if (!/^[0-9a-f]+$/.test(label) || (label.length !== 8 && label.length !== 32)) return null;
  return Uint8Array.from(Buffer.from(label, "hex"));
}

/** `<hex>` of Consul's `<hex>.addr.<dc>.<zone>` names. */
export function ipToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** The address a reverse name asks about: full `d.c.b.a.in-addr.arpa` or 32-nibble `ip6.arpa`; else null. */
export function ipFromReverse(lower: readonly string[]): Uint8Array | null {
  const n = lower.length;
  if (n === 6 && lower[4] === "in-addr" && lower[5] === "arpa") {
    const octets = lower.slice(0, 4).reverse();
    if (!octets.every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255)) return null;
    return Uint8Array.from(octets.map(Number));
  }
  if (n === 34 && lower[32] === "ip6" && lower[33] === "arpa") {
    const nibbles = lower.slice(0, 32).reverse();
    if (!nibbles.every((x) => /^[0-9a-f]$/.test(x))) return null;
    return Uint8Array.from(Buffer.from(nibbles.join(""), "hex"));
  }
  return null;
}

export function isReverseName(lower: readonly string[]): boolean {
  return lower.length > 0 && lower[lower.length - 1] === "arpa";
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

// --- Names in answers ------------------------------------------------------------------------

/** Consul's `<node>.node.<dc>.<zone>`. */
export function nodeCanonicalName(node: string, dc: string, responseZone: string): string {
  return `${node}.node.${dc}.${responseZone}`;
}

const encodable = new Map<string, boolean>();

/** True if the name encodes losslessly: printable ASCII labels of 1-63 bytes, 255 bytes in all. */
export function isEncodableName(name: string): boolean {
  let known = encodable.get(name);
  if (known === undefined) {
    if (encodable.size >= parsedIpsMax) encodable.clear();
    encodable.set(name, (known = checkEncodable(name)));
  }
  return known;
}

function checkEncodable(name: string): boolean {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  if (trimmed === "") return true;
  if (trimmed.length > 253) return false;
  return trimmed.split(".").every((label) => label.length >= 1 && label.length <= 63 && /^[\x21-\x2d\x2f-\x7e]+$/.test(label));
}

/** Consul skips servers whose names are not hostnames when it lists name servers. */
export function isHostnameLabel(name: string): boolean {
  return /^[A-Za-z0-9-]+$/.test(name);
}

/** RFC 1464 `key=value` with Consul's escaping; `rfc1035-` keys carry the value alone. */
export function nodeMetaTxt(key: string, value: string): string {
  if (key.toLowerCase().startsWith("rfc1035-")) return value;
  let escaped = key.replaceAll("`", "``").replaceAll("=", "`=");
  escaped = escaped.replace(/^ +/, (spaces) => "` ".repeat(spaces.length)).replace(/ +$/, (spaces) => "` ".repeat(spaces.length));
  return `${escaped}=${value.replaceAll("`", "``")}`;
}

/** TXT strings are at most 255 bytes each: long text becomes several strings of one record. */
export function txtStrings(text: string): Buffer[] {
  const bytes = Buffer.from(text, "utf8");
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += 255) chunks.push(bytes.subarray(offset, offset + 255));
  return chunks.length === 0 ? [Buffer.alloc(0)] : chunks;
}
