/**
 * The hot path: a service question answered from records encoded once per catalog change.
 *
 * When the full handler answers an A/AAAA/ANY/SRV question about a service from a cached read
 * (cache.ts), it also leaves here a template: each instance's answer record already encoded (owner
 * = a pointer to the question, SRV targets written out in full), each target's glue encoded with
 * a two-byte hole for the pointer to that target. The next question with the same name, spelled
 * the same (SRV targets carry the question's zone as spelled), and type is then parsed by hand,
 * its instances shuffled as indices with the same draws the full handler would make, and the
 * answer copied together: byte for byte what the full handler sends for the same random draws
 * (property-tests/dns-handler.test.ts holds it to that).
 *
 * Anything unusual falls back to the full handler before a random number is drawn: a query with
 * more than the one question and an EDNS0 OPT, a client-subnet option, an EDNS version above 0,
 * a name with odd bytes, a template whose source read moved on, or an answer that might not fit.
 */
import type { Answer } from "dns-packet";
import type { CachedRead } from "./cache.ts";
import type { AnswerSlot, BuiltAnswers } from "./records.ts";
import { ipToBytes } from "./names.ts";
import { QTYPE, queryBytesMax, tcpBytesMax, udpBytesDefault, udpBytesMax } from "./wire.ts";

/** A parsed query the fast path can take. `end` is the offset after the question. */
export interface FastQuery {
  readonly nameKey: string;
  readonly qtype: number;
  readonly end: number;
  readonly flags: number;
  readonly edns: { readonly udpSize: number; readonly dnssecOk: boolean } | null;
}

interface Item {
  /** The answer record, encoded. */
  readonly rr: Buffer;
  /** Items with one id are one record: the first in shuffled order is kept (as the full handler dedupes). */
  readonly dedupe: number;
  /** Glue id, or -1. */
  readonly glue: number;
}

export interface Template {
  readonly source: CachedRead;
  /** One per catalog entry the full handler shuffles, null where that entry gives no record. */
  readonly items: readonly (Item | null)[];
  readonly distinct: number;
  /** Per glue id: records whose first two bytes are overwritten with the pointer to the SRV target. */
  readonly glue: readonly Buffer[];
  /** Upper bounds of the answer, answers and glue only: all records, or the largest `udpAnswerLimit`. */
  readonly boundAllBytes: number;
  readonly boundLimitedBytes: number;
}

const pointerOffsetMax = 0x3fff;
/** Offset of an SRV record's target from the record's start: owner pointer, type, class, TTL, length, priority, weight, port. */
const srvTargetOffset = 18;
const optBytes = 11;

function plainLabelByte(byte: number): boolean {
  return byte >= 0x21 && byte <= 0x7e && byte !== 0x2e;
}

/** Header, one plain question, and at most an OPT record without client subnet; else null. */
export function parseFastQuery(raw: Buffer): FastQuery | null {
  const length = raw.length;
  if (length < 17 || length > queryBytesMax) return null;
  const flags = (raw[2]! << 8) | raw[3]!;
  // QR clear, opcode 0; one question, no answers or authorities.
  if ((flags & 0xf800) !== 0 || raw[4] !== 0 || raw[5] !== 1 || raw[6] !== 0 || raw[7] !== 0 || raw[8] !== 0 || raw[9] !== 0 || raw[10] !== 0) return null;
  const additionals = raw[11]!;
  if (additionals > 1) return null;
  let offset = 12;
  for (;;) {
    if (offset >= length) return null;
    const len = raw[offset]!;
    if (len === 0) break;
    if (len > 63 || offset + 1 + len > length) return null;
    for (let i = offset + 1; i <= offset + len; i++) if (!plainLabelByte(raw[i]!)) return null;
    offset += 1 + len;
  }
  if (offset - 12 + 1 > 255) return null;
  const nameEnd = offset + 1;
  const end = nameEnd + 4;
  if (end > length) return null;
  const nameKey = raw.toString("latin1", 12, nameEnd);
  const qtype = (raw[nameEnd]! << 8) | raw[nameEnd + 1]!;
  if (additionals === 0) return end === length ? { nameKey, qtype, end, flags, edns: null } : null;
  // The OPT record: root owner, type 41, then the payload size, extended rcode, version, flags.
  if (end + 11 > length || raw[end] !== 0 || raw[end + 1] !== 0 || raw[end + 2] !== 41) return null;
  const udpSize = (raw[end + 3]! << 8) | raw[end + 4]!;
  if (raw[end + 6] !== 0) return null; // EDNS version above 0: BADVERS, the full handler's case
  const dnssecOk = (raw[end + 7]! & 0x80) !== 0;
  const rdlength = (raw[end + 9]! << 8) | raw[end + 10]!;
  const optionsEnd = end + 11 + rdlength;
  if (optionsEnd !== length) return null;
  for (let at = end + 11; at < optionsEnd;) {
    if (at + 4 > optionsEnd) return null;
    const code = (raw[at]! << 8) | raw[at + 1]!;
    if (code === 8) return null; // client subnet: echoed with its scope by the full handler
    at += 4 + ((raw[at + 2]! << 8) | raw[at + 3]!);
    if (at > optionsEnd) return null;
  }
  return { nameKey, qtype, end, flags, edns: { udpSize, dnssecOk } };
}

/**
 * The key a template is kept under: the question's name bytes as sent. Not lowercased: SRV
 * targets carry the zone as the question spelled it.
 */
export function templateKeyOf(questionBytes: Buffer): string {
  return questionBytes.toString("latin1", 0, questionBytes.length - 4);
}

const typeCodes: Readonly<Record<string, number>> = { A: QTYPE.A, AAAA: QTYPE.AAAA, SRV: QTYPE.SRV, TXT: QTYPE.TXT };

/** Encodes one record with a two-byte owner (pointer) and rdata as encode.ts writes it; null if it cannot. */
function encodeRecord(record: Answer, owner: number): Buffer | null {
  const type = typeCodes[record.type];
  if (type === undefined) return null;
  const data = (record as { data?: unknown }).data;
  let rdata: Buffer;
  switch (record.type) {
    case "A": case "AAAA": {
      const family = record.type === "A" ? 4 : 16;
      const bytes = typeof data === "string" ? ipToBytes(data) : null;
      if (bytes === null || bytes.length !== family) return null;
      rdata = Buffer.from(bytes);
      break;
    }
    case "SRV": {
      const srv = data as { priority: number; weight: number; port: number; target: string };
      const trimmed = srv.target.endsWith(".") ? srv.target.slice(0, -1) : srv.target;
      const labels = trimmed === "" ? [] : trimmed.split(".");
      const parts: Buffer[] = [Buffer.from([srv.priority >> 8, srv.priority & 0xff, srv.weight >> 8, srv.weight & 0xff, (srv.port >> 8) & 0xff, srv.port & 0xff])];
      for (const label of labels) {
        if (label.length < 1 || label.length > 63) return null;
        parts.push(Buffer.from([label.length]), Buffer.from(label, "latin1"));
      }
      parts.push(Buffer.from([0]));
      rdata = Buffer.concat(parts);
      break;
    }
    case "TXT": {
      const list = Array.isArray(data) ? data : [data];
      const parts: Buffer[] = [];
      for (const item of list) {
        const text = typeof item === "string" ? Buffer.from(item, "utf8") : Buffer.from(item as Uint8Array);
        if (text.length > 255) return null;
        parts.push(Buffer.from([text.length]), text);
      }
      rdata = Buffer.concat(parts);
      break;
    }
    default:
      return null;
  }
  const out = Buffer.alloc(12 + rdata.length);
  out.writeUInt16BE(owner, 0);
  out.writeUInt16BE(type, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(((record as { ttl?: number }).ttl ?? 0) >>> 0, 6);
  out.writeUInt16BE(rdata.length, 10);
  rdata.copy(out, 12);
  return out;
}

export interface TemplateInput {
  readonly source: CachedRead;
  readonly qtype: number;
  /** The question's name, lowercased, without a trailing dot. */
  readonly qnameLower: string;
  /** The records the full handler builds for each entry alone, in the entries' order. */
  readonly perEntry: readonly BuiltAnswers[];
  readonly udpAnswerLimit: number;
}

function sumLargest(sizes: number[], count: number): number {
  return sizes.sort((a, b) => b - a).slice(0, count).reduce((sum, size) => sum + size, 0);
}

/** A template for the answers, or null where the answer depends on more than shuffled records (CNAMEs, foreign glue owners). */
export function buildTemplate(input: TemplateInput): Template | null {
  const dedupeIds = new Map<string, number>();
  const glueIds = new Map<string, number>();
  const glue: Buffer[] = [];
  const items: (Item | null)[] = [];
  for (const built of input.perEntry) {
    if (built.answers.length === 0) {
      items.push(null);
      continue;
    }
    if (built.answers.length !== 1) return null;
    const slot: AnswerSlot = built.answers[0]!;
    const record = slot.record;
    if (record.type !== "A" && record.type !== "AAAA" && record.type !== "SRV") return null;
    if (record.name.toLowerCase() !== input.qnameLower) return null;
    const rr = encodeRecord(record, 0xc000 | 12);
    if (rr === null) return null;
    let dedupeKey: string;
    if (record.type === "SRV") {
      const srv = record.data as { target: string; port: number };
      dedupeKey = `${srv.target.toLowerCase()}:${srv.port}`;
    } else {
      dedupeKey = `${record.type} ${String(record.data)}`;
    }
    let dedupe = dedupeIds.get(dedupeKey);
    if (dedupe === undefined) dedupeIds.set(dedupeKey, (dedupe = dedupeIds.size));
    let glueId = -1;
    const glueKey = slot.glueKey;
    const glueRecords = glueKey === null ? undefined : built.glue.get(glueKey);
    if (glueKey !== null && glueRecords !== undefined && glueRecords.length > 0) {
      const owner = glueKey.endsWith(".") ? glueKey.slice(0, -1) : glueKey;
      // The glue's owner must be the target, written in full only in the SRV record.
      if (input.qnameLower === owner || input.qnameLower.endsWith(`.${owner}`)) return null;
      const encoded: Buffer[] = [];
      for (const glueRecord of glueRecords) {
        if (glueRecord.name.toLowerCase() !== glueKey) return null;
        const bytes = encodeRecord(glueRecord, 0);
        if (bytes === null) return null;
        encoded.push(bytes);
      }
      const bytes = Buffer.concat(encoded);
      const known = glueIds.get(glueKey);
      if (known === undefined) {
        glueIds.set(glueKey, (glueId = glue.length));
        glue.push(bytes);
      } else {
        // Two targets spelled differently but equal in case: the full handler keeps the first's glue.
        if (!glue[known]!.equals(bytes)) return null;
        glueId = known;
      }
    }
    items.push({ rr, dedupe, glue: glueId });
  }
  if (dedupeIds.size === 0) return null;
  const rrSizes = items.filter((item): item is Item => item !== null).map((item) => item.rr.length);
  const glueSizes = glue.map((bytes) => bytes.length);
  return {
    source: input.source, items, distinct: dedupeIds.size, glue,
    boundAllBytes: rrSizes.reduce((a, b) => a + b, 0) + glueSizes.reduce((a, b) => a + b, 0),
    boundLimitedBytes: sumLargest([...rrSizes], input.udpAnswerLimit) + sumLargest([...glueSizes], input.udpAnswerLimit),
  };
}

export interface AssembleOptions {
  readonly transport: "udp" | "tcp";
  readonly udpAnswerLimit: number;
  readonly enableTruncate: boolean;
  readonly recursionAvailable: boolean;
  readonly random: () => number;
}

export interface Assembled {
  readonly bytes: Buffer;
  readonly droppedAnswers: number;
}

// One scratch per process: assembling is synchronous.
let order = new Int32Array(64);
let kept = new Int32Array(64);
let seen = new Uint8Array(64);
/** Per glue id: offset of its SRV target in the answer being built, or -1 while not yet written. */
let glueAt = new Int32Array(64);

function ensure(n: number): void {
  if (order.length >= n) return;
  order = new Int32Array(n * 2);
  kept = new Int32Array(n * 2);
  seen = new Uint8Array(n * 2);
  glueAt = new Int32Array(n * 2);
}

/** The answer to `raw`, or null when it must go to the full handler (decided before any random draw). */
export function assemble(template: Template, raw: Buffer, query: FastQuery, options: AssembleOptions): Assembled | null {
  const questionBytes = query.end - 12;
  const limitBytes = options.transport === "tcp"
    ? tcpBytesMax
    : query.edns === null ? udpBytesDefault : Math.min(udpBytesMax, Math.max(udpBytesDefault, query.edns.udpSize));
  const limited = options.transport === "udp" && limitBytes === udpBytesDefault && template.distinct > options.udpAnswerLimit;
  const fixedBytes = 12 + questionBytes + (query.edns === null ? 0 : optBytes);
  const bound = fixedBytes + (limited ? template.boundLimitedBytes : template.boundAllBytes);
  // Compression pointers reach 16 KiB: past it the full encoder's output differs.
  if (bound > limitBytes || bound > pointerOffsetMax) return null;

  const items = template.items;
  const n = items.length;
  // Ids (dedupe and glue) are fewer than the items.
  ensure(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // The full handler's shuffle, draw for draw.
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(options.random() * (i + 1));
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  seen.fill(0, 0, template.distinct);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const item = items[order[i]!];
    if (item === null || item === undefined || seen[item.dedupe] === 1) continue;
    seen[item.dedupe] = 1;
    kept[count++] = order[i]!;
  }
  const keep = limited ? Math.min(count, options.udpAnswerLimit) : count;
  const droppedAnswers = count - keep;

  let size = fixedBytes;
  glueAt.fill(-1, 0, template.glue.length);
  for (let k = 0; k < keep; k++) {
    const item = items[kept[k]!]!;
    size += item.rr.length;
    if (item.glue >= 0 && glueAt[item.glue] === -1) {
      glueAt[item.glue] = 0;
      size += template.glue[item.glue]!.length;
    }
  }
  const out = Buffer.allocUnsafe(size);
  const truncated = options.transport === "udp" && options.enableTruncate && droppedAnswers > 0;
  let flags = 0x8000 | 0x0400 | (query.flags & 0x0100) | (query.flags & 0x0010);
  if (truncated) flags |= 0x0200;
  if (options.recursionAvailable) flags |= 0x0080;
  out[0] = raw[0]!;
  out[1] = raw[1]!;
  out.writeUInt16BE(flags, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(keep, 6);
  out.writeUInt16BE(0, 8);
  raw.copy(out, 12, 12, query.end);
  let offset = 12 + questionBytes;
  glueAt.fill(-1, 0, template.glue.length);
  for (let k = 0; k < keep; k++) {
    const item = items[kept[k]!]!;
    if (item.glue >= 0 && glueAt[item.glue] === -1) glueAt[item.glue] = offset + srvTargetOffset;
    offset += item.rr.copy(out, offset);
  }
  let additionalCount = 0;
  // Glue in the order of the answers, once per target (trim.ts's glueFor); seen now marks glue sent.
  seen.fill(0, 0, template.glue.length);
  for (let k = 0; k < keep; k++) {
    const item = items[kept[k]!]!;
    if (item.glue < 0 || seen[item.glue] === 1) continue;
    seen[item.glue] = 1;
    const start = offset;
    offset += template.glue[item.glue]!.copy(out, offset);
    // Each glue record starts with its owner: point it at the target in the SRV answer.
    const pointer = 0xc000 | glueAt[item.glue]!;
    for (let at = start; at < offset; at += 12 + out.readUInt16BE(at + 10)) {
      out.writeUInt16BE(pointer, at);
      additionalCount++;
    }
  }
  if (query.edns !== null) {
    out[offset] = 0;
    out.writeUInt16BE(41, offset + 1);
    out.writeUInt16BE(Math.max(udpBytesDefault, query.edns.udpSize), offset + 3);
    out[offset + 5] = 0;
    out[offset + 6] = 0;
    out.writeUInt16BE(query.edns.dnssecOk ? 0x8000 : 0, offset + 7);
    out.writeUInt16BE(0, offset + 9);
    offset += optBytes;
    additionalCount++;
  }
  out.writeUInt16BE(additionalCount, 10);
  return { bytes: out, droppedAnswers };
}
