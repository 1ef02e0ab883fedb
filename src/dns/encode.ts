/**
 * The response encoder: dns-packet's record shapes in, wire bytes out, with RFC 1035 4.1.4 name
 * compression for owner names and the names inside CNAME, NS, PTR and SOA data (never SRV targets,
 * RFC 2782). Compression is what lets Consul fit three SRV answers and their glue in 512 bytes, and
 * writing into one buffer is several times cheaper than dns-packet's encoder, which compresses
 * nothing and measures every name twice.
 *
 * The question is copied from the query byte for byte; its name (when plain) seeds the
 * compression table, so answers owned by it cost two bytes of name.
 */
import type { Answer } from "dns-packet";
import { ipToBytes } from "./names.ts";
import { headerBytes, headerFlags, responseOpt, type Query, type ResponseParts } from "./wire.ts";

const typeCodes: Readonly<Record<string, number>> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, OPT: 41 };

export class EncodeError extends Error {
  override name = "EncodeError";
  constructor(message: string, readonly tooLarge = false) {
    super(message);
  }
}

const messageBytesMax = 65535;
const pointerOffsetMax = 0x3fff;

// Encoding is synchronous, so one scratch buffer serves every response; each result is copied out.
const scratch = Buffer.allocUnsafe(messageBytesMax);

class Writer {
  readonly buf = scratch;
  offset = 0;
  /** Lowercased name suffix ("service.consul") → offset where it was written. */
  private readonly names = new Map<string, number>();

  room(bytes: number): void {
    if (this.offset + bytes > messageBytesMax) throw new EncodeError(`response exceeds ${messageBytesMax} bytes`, true);
  }

  u8(value: number): void {
    this.room(1);
    this.buf[this.offset++] = value;
  }

  u16(value: number): void {
    this.room(2);
    this.buf.writeUInt16BE(value & 0xffff, this.offset);
    this.offset += 2;
  }

  u32(value: number): void {
    this.room(4);
    this.buf.writeUInt32BE(value >>> 0, this.offset);
    this.offset += 4;
  }

  bytes(data: Uint8Array): void {
    this.room(data.length);
    this.buf.set(data, this.offset);
    this.offset += data.length;
  }

  /** Remembers the labels of a name already in the message (the question) for compression. */
  learn(labels: readonly string[], offsets: readonly number[]): void {
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).join(".").toLowerCase();
      if (!this.names.has(key) && offsets[i]! <= pointerOffsetMax) this.names.set(key, offsets[i]!);
    }
  }

  name(name: string, compress: boolean): void {
    const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
    if (trimmed === "") return this.u8(0);
    // A name that must not be compressed (an SRV target) may still be pointed at by later names.
    const lower = trimmed.toLowerCase();
    let start = 0;
    while (start <= trimmed.length) {
      // The suffix from this label on ("service.consul"), as a compression key.
      const key = lower.slice(start);
      const known = compress ? this.names.get(key) : undefined;
      if (known !== undefined) return this.u16(0xc000 | known);
      let end = trimmed.indexOf(".", start);
      if (end < 0) end = trimmed.length;
      const length = end - start;
      if (length < 1 || length > 63) throw new EncodeError(`a label of ${JSON.stringify(name)} is not 1-63 bytes`);
      if (this.offset <= pointerOffsetMax && !this.names.has(key)) this.names.set(key, this.offset);
      this.room(1 + length);
      this.buf[this.offset] = length;
      this.buf.write(trimmed.slice(start, end), this.offset + 1, "latin1");
      this.offset += 1 + length;
      start = end + 1;
    }
    this.u8(0);
  }
}

function txtStrings(data: unknown): Uint8Array[] {
  const list = Array.isArray(data) ? data : [data];
  return list.map((item) => (typeof item === "string" ? Buffer.from(item, "utf8") : item as Uint8Array));
}

function ipData(data: unknown, family: 4 | 16, type: string): Uint8Array {
  const bytes = typeof data === "string" ? ipToBytes(data) : null;
  if (bytes === null || bytes.length !== family) throw new EncodeError(`${type} record data ${String(data)} is not an IPv${family === 4 ? 4 : 6} address`);
  return bytes;
}

function rdata(w: Writer, record: Answer): void {
  const data = (record as { data?: unknown }).data;
  switch (record.type) {
    case "A": return w.bytes(ipData(data, 4, "A"));
    case "AAAA": return w.bytes(ipData(data, 16, "AAAA"));
    case "CNAME": case "NS": case "PTR": return w.name(String(data), true);
    case "SRV": {
      const srv = data as { priority: number; weight: number; port: number; target: string };
      w.u16(srv.priority);
      w.u16(srv.weight);
      w.u16(srv.port);
      return w.name(srv.target, false);
    }
    case "TXT":
      for (const text of txtStrings(data)) {
        if (text.length > 255) throw new EncodeError(`TXT string of ${text.length} bytes exceeds 255`);
        w.u8(text.length);
        w.bytes(text);
      }
      return;
    case "SOA": {
      const soa = data as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
      w.name(soa.mname, true);
      w.name(soa.rname, true);
      for (const value of [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum]) w.u32(value);
      return;
    }
    default:
      throw new EncodeError(`cannot encode ${record.type} records`);
  }
}

function opt(w: Writer, record: Answer): void {
  const o = record as unknown as { udpPayloadSize?: number; extendedRcode?: number; ednsVersion?: number; flags?: number; options?: { code: number; data: Uint8Array }[] };
  w.u8(0);
  w.u16(typeCodes["OPT"]!);
  w.u16(o.udpPayloadSize ?? 4096);
  w.u8(o.extendedRcode ?? 0);
  w.u8(o.ednsVersion ?? 0);
  w.u16(o.flags ?? 0);
  const options = o.options ?? [];
  w.u16(options.reduce((sum, option) => sum + 4 + option.data.length, 0));
  for (const option of options) {
    w.u16(option.code);
    w.u16(option.data.length);
    w.bytes(option.data);
  }
}

function record(w: Writer, rr: Answer): void {
  if (rr.type === "OPT") return opt(w, rr);
  const type = typeCodes[rr.type];
  if (type === undefined) throw new EncodeError(`cannot encode ${rr.type} records`);
  w.name(rr.name, true);
  w.u16(type);
  w.u16(1); // IN
  w.u32((rr as { ttl?: number }).ttl ?? 0);
  const lengthAt = w.offset;
  w.u16(0);
  rdata(w, rr);
  const length = w.offset - lengthAt - 2;
  w.buf.writeUInt16BE(length, lengthAt);
}

/** Offsets of each label of the (plain) question name, for the compression table. */
function questionLabelOffsets(query: Query): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (let i = 0; i < query.labels.length; i++) {
    offsets.push(headerBytes + at);
    at += 1 + query.questionBytes[at]!;
  }
  return offsets;
}

/** Encodes a response to `query`, with its question copied and an OPT record if the query had one. */
export function encodeResponse(query: Query, parts: ResponseParts): Buffer {
  const additionals = query.edns === null ? parts.additionals : [...parts.additionals, responseOpt(query.edns, parts.rcode)];
  const w = new Writer();
  w.u16(query.id);
  w.u16(headerFlags(query, parts));
  w.u16(1);
  w.u16(parts.answers.length);
  w.u16(parts.authorities.length);
  w.u16(additionals.length);
  w.bytes(query.questionBytes);
  if (query.plainName) w.learn(query.labels, questionLabelOffsets(query));
  for (const rr of parts.answers) record(w, rr);
  for (const rr of parts.authorities) record(w, rr);
  for (const rr of additionals) record(w, rr);
  return Buffer.from(w.buf.subarray(0, w.offset));
}
