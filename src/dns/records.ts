/**
 * Resource records from catalog entries, as Consul's DNS server builds them: A/AAAA by address
 * family (the node's `lan_ipv4`/`lan_ipv6` tagged addresses when the question asks for one family),
 * SRV with priority 1, the weight of the instance's health and the node (or `<hex>.addr.`) target
 * whose address goes in the additional section, CNAME for addresses that are hostnames, and node
 * meta as RFC 1464 TXT records.
 */
import type { Answer } from "dns-packet";
import { aggregatedStatus, type HealthServiceEntry, type NodeRecord } from "../core/catalog/index.ts";
import {
  bytesToIp, ipToBytes, ipToHex, isEncodableName, nodeCanonicalName, nodeMetaTxt, txtStrings,
} from "./names.ts";
import { QTYPE } from "./wire.ts";

/** An answer and the key of its glue (the additional records naming its target), trimmed together. */
export interface AnswerSlot {
  readonly record: Answer;
  readonly glueKey: string | null;
}

export interface BuiltAnswers {
  readonly answers: AnswerSlot[];
  /** Lowercased target name → its address (and node meta TXT) records. */
  readonly glue: Map<string, Answer[]>;
}

interface Accept {
  readonly v4: boolean;
  readonly v6: boolean;
  readonly any: boolean;
}

/** Which address families a question takes (Consul's TranslateAddressAccept*; "any" takes both). */
function acceptFor(qtype: number): Accept {
  if (qtype === QTYPE.A) return { v4: true, v6: false, any: false };
  if (qtype === QTYPE.AAAA) return { v4: false, v6: true, any: false };
  return { v4: true, v6: true, any: true };
}

/**
 * Consul's translateAddressAccept: the `lan_ipv6` tagged address if that family is taken, then
 * `lan_ipv4`, then the address itself if it fits (SRV and ANY therefore prefer a tagged IPv6).
 */
export function translateAddress(address: string, tagged: Readonly<Record<string, string>>, accept: Accept): string {
  const v4 = tagged["lan_ipv4"] ?? "";
  const v6 = tagged["lan_ipv6"] ?? "";
  if (accept.v6 && v6 !== "") return v6;
  if (accept.v4 && v4 !== "") return v4;
  if (accept.any) return address;
  const bytes = ipToBytes(address);
  if (bytes === null) return address; // a hostname: answered with a CNAME whatever the family
  if (bytes.length === 4 && accept.v4) return address;
  if (bytes.length === 16 && accept.v6) return address;
  return "";
}

/** A or AAAA for `ip` if the question type takes that family (SRV and ANY take both). */
export function addressRecord(qtype: number, ipBytes: Uint8Array, name: string, ttl: number): Answer | null {
  const both = qtype === QTYPE.SRV || qtype === QTYPE.ANY || qtype === QTYPE.NS || qtype === QTYPE.SOA;
  if (ipBytes.length === 4 && (both || qtype === QTYPE.A)) return { type: "A", name, ttl, class: "IN", data: bytesToIp(ipBytes) };
  if (ipBytes.length === 16 && (both || qtype === QTYPE.AAAA)) return { type: "AAAA", name, ttl, class: "IN", data: bytesToIp(ipBytes) };
  return null;
}

function fqdn(host: string): string {
  return host.endsWith(".") ? host : `${host}.`;
}

function cnameRecord(name: string, target: string, ttl: number): Answer | null {
  return isEncodableName(target) ? { type: "CNAME", name, ttl, class: "IN", data: fqdn(target) } : null;
}

/** A node's own records for a node question, NS glue or PTR: its address, or a CNAME to its hostname. */
export function nodeAddressRecords(node: NodeRecord, qtype: number, name: string, ttl: number): Answer[] {
  const address = translateAddress(node.Address, node.TaggedAddresses, acceptFor(qtype));
  if (address === "") return [];
  const bytes = ipToBytes(address);
  if (bytes === null) {
    const cname = cnameRecord(name, address, ttl);
    return cname === null ? [] : [cname];
  }
  const record = addressRecord(qtype, bytes, name, ttl);
  return record === null ? [] : [record];
}

/** Node meta as TXT records, keys in sorted order so answers are deterministic. */
export function nodeMetaRecords(node: NodeRecord, name: string, ttl: number): Answer[] {
  return Object.keys(node.Meta).sort().map((key): Answer => ({
    type: "TXT", name, ttl, class: "IN", data: txtStrings(nodeMetaTxt(key, node.Meta[key]!)),
  }));
}

/** Consul's findWeight: the service's Weights for its aggregated health. */
function srvWeight(entry: HealthServiceEntry): number {
  const status = aggregatedStatus(entry.Checks);
  const weights = entry.Service.Weights;
  const weight = status === "warning" ? weights.Warning : weights.Passing;
  return Number.isInteger(weight) && weight >= 0 && weight <= 0xffff ? weight : 1;
}

export interface ServiceRecordContext {
  readonly qtype: number;
  /** The question's name, as sent: the owner of every answer. */
  readonly qname: string;
  /** The datacenter the question asked about (the agent's when it named none). */
  readonly dc: string;
  readonly responseZone: string;
  /** The service's TTL, also given to the glue (as Consul does). */
  readonly ttl: number;
  readonly nodeMetaTxt: boolean;
}

/** Where an instance is reached: the node (its name as target) or its own address (`<hex>.addr.` target). */
type Endpoint =
  | { readonly kind: "node"; readonly ip: Uint8Array }
  | { readonly kind: "ip"; readonly ip: Uint8Array }
  | { readonly kind: "host"; readonly host: string };

function endpointOf(entry: HealthServiceEntry, qtype: number): Endpoint | null {
  const accept = acceptFor(qtype);
  const serviceAddress = entry.Service.Address === "" ? "" : translateAddress(entry.Service.Address, {}, accept);
  const nodeAddress = translateAddress(entry.Node.Address, entry.Node.TaggedAddresses, accept);
  const nodeIp = nodeAddress === "" ? null : ipToBytes(nodeAddress);
  if (entry.Service.Address === "" || serviceAddress === nodeAddress) {
    if (nodeIp !== null) return { kind: "node", ip: nodeIp };
    return nodeAddress === "" ? null : { kind: "host", host: nodeAddress };
  }
  if (serviceAddress === "") return null; // the service's own address is of the other family
  const serviceIp = ipToBytes(serviceAddress);
  if (serviceIp !== null) return { kind: "ip", ip: serviceIp };
  return { kind: "host", host: serviceAddress };
}

/** A/AAAA (or CNAME) answers for a service question, one per distinct record. */
export function serviceAddressAnswers(entries: readonly HealthServiceEntry[], ctx: ServiceRecordContext): BuiltAnswers {
  const answers: AnswerSlot[] = [];
  const cnames: AnswerSlot[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const endpoint = endpointOf(entry, ctx.qtype);
    if (endpoint === null) continue;
    if (endpoint.kind === "host") {
      const cname = cnameRecord(ctx.qname, endpoint.host, ctx.ttl);
      if (cname !== null && cnames.length === 0) cnames.push({ record: cname, glueKey: null });
      continue;
    }
    const record = addressRecord(ctx.qtype, endpoint.ip, ctx.qname, ctx.ttl);
    if (record === null) continue;
    const key = `${record.type} ${bytesToIp(endpoint.ip)}`;
    if (seen.has(key)) continue; // the same address twice (several instances on one node)
    seen.add(key);
    answers.push({ record, glueKey: null });
  }
  // As Consul: a CNAME only when no instance has an address of its own.
  return { answers: answers.length > 0 ? answers : cnames, glue: new Map() };
}

/** SRV answers with their targets' addresses (and node meta) as glue. */
export function serviceSrvAnswers(entries: readonly HealthServiceEntry[], ctx: ServiceRecordContext): BuiltAnswers {
  const answers: AnswerSlot[] = [];
  const glue = new Map<string, Answer[]>();
  const seen = new Set<string>();
  for (const entry of entries) {
    const endpoint = endpointOf(entry, QTYPE.SRV);
    if (endpoint === null) continue;
    const nodeName = nodeCanonicalName(entry.Node.Node, ctx.dc, ctx.responseZone);
    let target: string;
    if (endpoint.kind === "host") target = fqdn(endpoint.host);
    else if (endpoint.kind === "node" && isEncodableName(nodeName)) target = nodeName;
    else target = `${ipToHex(endpoint.ip)}.addr.${ctx.dc}.${ctx.responseZone}`;
    if (!isEncodableName(target)) continue;
    const tuple = `${target.toLowerCase()}:${entry.Service.Port}`;
    if (seen.has(tuple)) continue; // the same node, address and port twice
    seen.add(tuple);
    const glueKey = target.toLowerCase();
    answers.push({
      record: {
        type: "SRV", name: ctx.qname, ttl: ctx.ttl, class: "IN",
        data: { priority: 1, weight: srvWeight(entry), port: entry.Service.Port & 0xffff, target },
      },
      glueKey,
    });
    if (glue.has(glueKey) || endpoint.kind === "host") continue;
    const records: Answer[] = [];
    const address = addressRecord(QTYPE.SRV, endpoint.ip, target, ctx.ttl);
    if (address !== null) records.push(address);
    if (ctx.nodeMetaTxt && isEncodableName(nodeName)) records.push(...nodeMetaRecords(entry.Node, nodeName, ctx.ttl));
    glue.set(glueKey, records);
  }
  return { answers, glue };
}
