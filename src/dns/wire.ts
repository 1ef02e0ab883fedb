/**
 * DNS messages on the wire: a bounds-checked parser for queries (header, the one question kept as
 * raw bytes, EDNS0 OPT), and the header flags and OPT record of responses (encode.ts writes them).
 * The question goes back byte for byte as it came: the client sees its own name exactly, case and
 * odd bytes included.
 */
import dnsPacket, { type Answer } from "dns-packet";

export const QTYPE = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255,
} as const;

export const RCODE = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16,
} as const;

const flagQr = 1 << 15;
const flagAa = 1 << 10;
const flagTc = 1 << 9;
const flagRd = 1 << 8;
const flagRa = 1 << 7;
const flagCd = 1 << 4;

export const headerBytes = 12;
/** Larger than any real query (a name is at most 255 bytes); bigger ones are refused unread. */
export const queryBytesMax = 4096;
/** Without EDNS0, a UDP answer must fit 512 bytes (RFC 1035 4.2.1). */
export const udpBytesDefault = 512;
/** Consul's cap on a client's EDNS0 size: 65535 less the largest IP header and the UDP header. */
export const udpBytesMax = 65535 - 68;
export const tcpBytesMax = 65535;

export interface Edns {
  readonly udpSize: number;
  readonly version: number;
  readonly dnssecOk: boolean;
  /** The client-subnet option's data, echoed back with a global scope (as Consul does). */
  readonly clientSubnet: Buffer | null;
}

export interface Query {
  readonly id: number;
  readonly opcode: number;
  readonly recursionDesired: boolean;
  readonly checkingDisabled: boolean;
  /** The question as it arrived: name, type and class. */
  readonly questionBytes: Buffer;
  /** Labels as sent (latin1 for odd bytes); the root name has none. */
  readonly labels: readonly string[];
  /** Every label is printable ASCII without dots, so dns-packet re-encodes `name` to the same bytes. */
  readonly plainName: boolean;
  /** Labels joined with dots, no trailing dot; "." for the root. */
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  readonly edns: Edns | null;
}

export type ParseResult =
  | { readonly kind: "query"; readonly query: Query }
  /** The header parsed, the rest did not: answer FORMERR (or NOTIMP for an opcode we do not serve). */
  | { readonly kind: "reject"; readonly id: number; readonly opcode: number; readonly flags: number; readonly rcode: number; readonly reason: string }
  /** Not worth an answer: shorter than a header, or a response (answering would loop). */
  | { readonly kind: "drop"; readonly reason: string };

class Malformed extends Error {}

function need(buf: Buffer, offset: number, bytes: number, what: string): void {
  if (offset + bytes > buf.length) throw new Malformed(`${what} runs past the end (offset ${offset}, ${bytes} bytes, message ${buf.length})`);
}

/** Skips a possibly compressed name in a record; returns the offset after it. */
function skipName(buf: Buffer, start: number): number {
  let offset = start;
  for (let labels = 0; labels < 128; labels++) {
    need(buf, offset, 1, "name");
    const len = buf[offset]!;
    if (len === 0) return offset + 1;
    if ((len & 0xc0) === 0xc0) {
      need(buf, offset, 2, "name pointer");
      return offset + 2;
    }
    if ((len & 0xc0) !== 0) throw new Malformed(`label type 0x${len.toString(16)} at offset ${offset}`);
    offset += 1 + len;
  }
  throw new Malformed(`name at offset ${start} has more than 127 labels`);
}

function isPlainLabel(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    if (byte < 0x21 || byte > 0x7e || byte === 0x2e) return false;
  }
  return true;
}

function parseQuestion(buf: Buffer): { end: number; labels: string[]; plain: boolean; qtype: number; qclass: number } {
  let offset = headerBytes;
  const labels: string[] = [];
  let plain = true;
  let nameBytes = 1;
  for (;;) {
    need(buf, offset, 1, "question name");
    const len = buf[offset]!;
    if (len === 0) break;
    // A pointer in the only question can only point back into the header: refuse it.
    if ((len & 0xc0) !== 0) throw new Malformed(`question name has a compression pointer or bad label type at offset ${offset}`);
    need(buf, offset + 1, len, "question label");
    nameBytes += len + 1;
    if (nameBytes > 255) throw new Malformed("question name longer than 255 bytes");
    if (!isPlainLabel(buf, offset + 1, offset + 1 + len)) plain = false;
    labels.push(buf.toString("latin1", offset + 1, offset + 1 + len));
    offset += 1 + len;
  }
  offset += 1;
  need(buf, offset, 4, "question type and class");
  return { end: offset + 4, labels, plain, qtype: buf.readUInt16BE(offset), qclass: buf.readUInt16BE(offset + 2) };
}

function parseOptions(buf: Buffer, start: number, end: number): Buffer | null {
  let clientSubnet: Buffer | null = null;
  let offset = start;
  while (offset < end) {
    if (offset + 4 > end) throw new Malformed("EDNS option header runs past the OPT record");
    const code = buf.readUInt16BE(offset);
    const len = buf.readUInt16BE(offset + 2);
    if (offset + 4 + len > end) throw new Malformed(`EDNS option ${code} runs past the OPT record`);
    if (code === 8 && len >= 4) clientSubnet = Buffer.from(buf.subarray(offset + 4, offset + 4 + len));
    offset += 4 + len;
  }
  return clientSubnet;
}

/** Walks answer, authority and additional records; returns the EDNS0 OPT if there is exactly one. */
function parseRecords(buf: Buffer, start: number, count: number): Edns | null {
  let offset = start;
  let edns: Edns | null = null;
  for (let i = 0; i < count; i++) {
    const nameStart = offset;
    offset = skipName(buf, offset);
    need(buf, offset, 10, "record header");
    const type = buf.readUInt16BE(offset);
    const rdlength = buf.readUInt16BE(offset + 8);
    need(buf, offset + 10, rdlength, "record data");
    if (type === QTYPE.OPT) {
      if (edns !== null) throw new Malformed("more than one OPT record (RFC 6891 6.1.1)");
      if (offset !== nameStart + 1 || buf[nameStart] !== 0) throw new Malformed("OPT record owner is not the root");
      const ttl = buf.readUInt32BE(offset + 4);
      edns = {
        udpSize: buf.readUInt16BE(offset + 2),
        version: (ttl >>> 16) & 0xff,
        dnssecOk: (ttl & 0x8000) !== 0,
        clientSubnet: parseOptions(buf, offset + 10, offset + 10 + rdlength),
      };
    }
    offset += 10 + rdlength;
  }
  return edns;
}

/** Parses a query without throwing. */
export function parseQuery(buf: Buffer): ParseResult {
  if (buf.length < headerBytes) return { kind: "drop", reason: `message of ${buf.length} bytes is shorter than a DNS header` };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const opcode = (flags >> 11) & 0xf;
  if ((flags & flagQr) !== 0) return { kind: "drop", reason: "message is a response, not a query" };
  const reject = (rcode: number, reason: string): ParseResult => ({ kind: "reject", id, opcode, flags, rcode, reason });
  if (buf.length > queryBytesMax) return reject(RCODE.FORMERR, `query of ${buf.length} bytes exceeds ${queryBytesMax}`);
  if (opcode !== 0) return reject(RCODE.NOTIMP, `opcode ${opcode} is not served`);
  const qdcount = buf.readUInt16BE(4);
  if (qdcount !== 1) return reject(RCODE.FORMERR, `query has ${qdcount} questions, not 1`);
  const otherRecords = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  try {
    const question = parseQuestion(buf);
    const edns = parseRecords(buf, question.end, otherRecords);
    return {
      kind: "query",
      query: {
        id, opcode,
        recursionDesired: (flags & flagRd) !== 0,
        checkingDisabled: (flags & flagCd) !== 0,
        questionBytes: Buffer.from(buf.subarray(headerBytes, question.end)),
        labels: question.labels,
        plainName: question.plain,
        name: question.labels.length === 0 ? "." : question.labels.join("."),
        qtype: question.qtype,
        qclass: question.qclass,
        edns,
      },
    };
  } catch (error) {
    if (error instanceof Malformed) return reject(RCODE.FORMERR, error.message);
    throw error;
  }
}

/** A header-only answer: FORMERR/NOTIMP for a query whose body we could not (or would not) read. */
export function encodeReject(id: number, opcode: number, queryFlags: number, rcode: number): Buffer {
  const buf = Buffer.alloc(headerBytes);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE(flagQr | (opcode << 11) | (queryFlags & flagRd) | (queryFlags & flagCd) | (rcode & 0xf), 2);
  return buf;
}

export interface ResponseParts {
  readonly rcode: number;
  readonly authoritative: boolean;
  readonly recursionAvailable: boolean;
  readonly truncated: boolean;
  readonly answers: readonly Answer[];
  readonly authorities: readonly Answer[];
  readonly additionals: readonly Answer[];
}

/** The OPT record answering a query that carried one (Consul echoes the client's UDP size). */
export function responseOpt(edns: Edns, rcode: number): Answer {
  const options = edns.clientSubnet === null ? [] : [{ code: 8, data: globalScope(edns.clientSubnet) }];
  return {
    type: "OPT", name: ".", udpPayloadSize: Math.max(udpBytesDefault, edns.udpSize),
    extendedRcode: rcode >> 4, ednsVersion: 0, flags: edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
    options,
  } as unknown as Answer;
}

function globalScope(subnet: Buffer): Buffer {
  const copy = Buffer.from(subnet);
  copy[3] = 0; // SCOPE PREFIX-LENGTH 0: the answer does not depend on the client's subnet.
  return copy;
}

export function headerFlags(query: Query, parts: ResponseParts): number {
  let flags = flagQr | (query.opcode << 11) | (parts.rcode & 0xf);
  if (parts.authoritative) flags |= flagAa;
  if (parts.truncated) flags |= flagTc;
  if (query.recursionDesired) flags |= flagRd;
  if (parts.recursionAvailable) flags |= flagRa;
  if (query.checkingDisabled) flags |= flagCd;
  return flags;
}

/** The largest UDP reply this client accepts: 512, or its EDNS0 size (capped as Consul caps it). */
export function udpLimitBytes(query: Query): number {
  if (query.edns === null) return udpBytesDefault;
  return Math.min(udpBytesMax, Math.max(udpBytesDefault, query.edns.udpSize));
}
