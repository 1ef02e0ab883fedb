/**
 * The write-ahead log's record format.
 *
 *   record := payloadLength:u32le  crc:u32le  type:u8  payload[payloadLength]
 *
 * `crc` is the CRC-32 of the type byte and the payload, so a torn record (short, or its length
 * field cut) and a corrupted one (any flipped bit) are both detected and never applied.
 * Payloads are MessagePack.
 *
 * Record types:
 * - `header`: first record of every segment file; names the format version and the segment's
 *   generation, so a segment file can never be mistaken for another.
 * - `batch`: one `save()`: optional hard state, optional snapshot, entries. One record per save
 *   makes a save atomic across a crash: a torn save is dropped whole, so a restarted node never
 *   sees new entries under an old term, or a commit index pointing past its stored entries.
 * - `base`: the compaction marker that opens a rewritten segment: hard state, snapshot and the
 *   entries after it, i.e. everything the segment's earlier generations held that still matters.
 * - `pointer`: the content of a meta slot: which segment generation is current.
 */
import { decode, encode } from "@msgpack/msgpack";
import type { ConfState, Entry, EntryType, HardState, Snapshot } from "../core/raft/types.ts";
import { crc32 } from "../core/util/crc32.ts";

export const walFormatVersion = 1;
export const recordHeaderBytes = 9;

export type WalRecord =
  | { readonly type: "header"; readonly version: number; readonly generation: number }
  | { readonly type: "batch"; readonly hardState?: HardState; readonly snapshot?: Snapshot; readonly entries: readonly Entry[] }
  | { readonly type: "base"; readonly hardState: HardState; readonly snapshot: Snapshot | null; readonly entries: readonly Entry[] }
  | { readonly type: "pointer"; readonly generation: number };

const typeCodes = { header: 1, batch: 2, base: 3, pointer: 4 } as const;
const entryTypeCodes: Record<EntryType, number> = { normal: 0, config: 1, noop: 2 };
const entryTypes: readonly EntryType[] = ["normal", "config", "noop"];

/** A record whose checksum is right but whose content is not: a bug or a foreign file, never a torn write. */
export class WalFormatError extends Error {
  override name = "WalFormatError";
}

export function encodeRecord(record: WalRecord): Uint8Array {
  const payload = encode(payloadOf(record));
  const out = new Uint8Array(recordHeaderBytes + payload.length);
  const view = new DataView(out.buffer);
  out[8] = typeCodes[record.type];
  out.set(payload, recordHeaderBytes);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(out, 8, out.length), true);
  return out;
}

/** The outcome of reading one record at an offset. */
export type ReadOutcome =
  | { readonly kind: "record"; readonly record: WalRecord; readonly sizeBytes: number }
  | { readonly kind: "end" }
  /** `sizeBytes` when the record is complete but fails its checksum (so where the next one would start is known). */
  | { readonly kind: "bad"; readonly reason: string; readonly sizeBytes?: number };

/**
 * Reads the record at `offset` of a file of `fileBytes` bytes, through `readAt`. A length that
 * runs past the end or above `recordBytesMax`, or a checksum mismatch, is `bad`: the caller
 * decides whether it is a torn tail (nothing valid after it) or corruption in the middle.
 */
export function readRecord(
  readAt: (offset: number, length: number) => Uint8Array,
  offset: number,
  fileBytes: number,
  recordBytesMax: number,
): ReadOutcome {
  if (offset === fileBytes) return { kind: "end" };
  if (fileBytes - offset < recordHeaderBytes) return { kind: "bad", reason: `${fileBytes - offset} bytes left, less than a record header` };
  const header = readAt(offset, recordHeaderBytes);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const payloadBytes = view.getUint32(0, true);
  if (payloadBytes > recordBytesMax) return { kind: "bad", reason: `length ${payloadBytes} above recordBytesMax ${recordBytesMax}` };
  if (offset + recordHeaderBytes + payloadBytes > fileBytes) {
    return { kind: "bad", reason: `length ${payloadBytes} runs past the end of the file (${fileBytes} bytes)` };
  }
  const body = readAt(offset + 8, 1 + payloadBytes);
  const expected = view.getUint32(4, true);
  const actual = crc32(body);
  if (actual !== expected) {
    return { kind: "bad", reason: `checksum ${actual.toString(16)} != recorded ${expected.toString(16)}`, sizeBytes: recordHeaderBytes + payloadBytes };
  }
  const record = recordOf(body[0]!, decode(body.subarray(1)), offset);
  return { kind: "record", record, sizeBytes: recordHeaderBytes + payloadBytes };
}

// ---------------------------------------------------------------------------------------------
// Payloads: compact arrays, decoded with checks so a wrong shape is a clear error.

type Wire = unknown[];

function payloadOf(record: WalRecord): Wire {
  switch (record.type) {
    case "header":
      return [record.version, record.generation];
    case "pointer":
      return [record.generation];
    case "batch":
      return [hardStateWire(record.hardState ?? null), snapshotWire(record.snapshot ?? null), record.entries.map(entryWire)];
    case "base":
      return [hardStateWire(record.hardState), snapshotWire(record.snapshot), record.entries.map(entryWire)];
  }
}

function hardStateWire(h: HardState | null): Wire | null {
  return h === null ? null : [h.term, h.vote, h.commit];
}

function snapshotWire(s: Snapshot | null): Wire | null {
  return s === null ? null : [s.meta.index, s.meta.term, [...s.meta.conf.voters], [...s.meta.conf.learners], s.data];
}

function entryWire(e: Entry): Wire {
  return [e.term, e.index, entryTypeCodes[e.type], e.data];
}

function recordOf(code: number, wire: unknown, offset: number): WalRecord {
  const where = `record at offset ${offset}`;
  const fields = expectArray(wire, where);
  switch (code) {
    case typeCodes.header:
      return { type: "header", version: expectNumber(fields[0], where), generation: expectNumber(fields[1], where) };
    case typeCodes.pointer:
      return { type: "pointer", generation: expectNumber(fields[0], where) };
    case typeCodes.batch: {
      const hardState = fields[0] === null ? undefined : hardStateOf(fields[0], where);
      const snapshot = fields[1] === null ? undefined : snapshotOf(fields[1], where);
      return { type: "batch", hardState, snapshot, entries: expectArray(fields[2], where).map((e) => entryOf(e, where)) };
    }
    case typeCodes.base: {
      const hardState = hardStateOf(fields[0], where);
      const snapshot = fields[1] === null ? null : snapshotOf(fields[1], where);
      return { type: "base", hardState, snapshot, entries: expectArray(fields[2], where).map((e) => entryOf(e, where)) };
    }
    default:
      throw new WalFormatError(`${where}: unknown record type ${code}`);
  }
}

function hardStateOf(wire: unknown, where: string): HardState {
  const [term, vote, commit] = expectArray(wire, where);
  if (vote !== null && typeof vote !== "string") throw new WalFormatError(`${where}: vote ${String(vote)} is not a node id`);
  return { term: expectNumber(term, where), vote, commit: expectNumber(commit, where) };
}

function snapshotOf(wire: unknown, where: string): Snapshot {
  const [index, term, voters, learners, data] = expectArray(wire, where);
  const conf: ConfState = { voters: expectStrings(voters, where), learners: expectStrings(learners, where) };
  return { meta: { index: expectNumber(index, where), term: expectNumber(term, where), conf }, data: expectBytes(data, where) };
}

function entryOf(wire: unknown, where: string): Entry {
  const [term, index, typeCode, data] = expectArray(wire, where);
  const type = entryTypes[expectNumber(typeCode, where)];
  if (type === undefined) throw new WalFormatError(`${where}: unknown entry type ${String(typeCode)}`);
  return { term: expectNumber(term, where), index: expectNumber(index, where), type, data: expectBytes(data, where) };
}

function expectArray(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new WalFormatError(`${where}: expected an array, got ${typeof v}`);
  return v;
}

function expectNumber(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new WalFormatError(`${where}: expected an integer, got ${String(v)}`);
  return v;
}

function expectStrings(v: unknown, where: string): string[] {
  const list = expectArray(v, where);
  for (const s of list) if (typeof s !== "string") throw new WalFormatError(`${where}: expected node ids, got ${String(s)}`);
  return list as string[];
}

function expectBytes(v: unknown, where: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new WalFormatError(`${where}: expected bytes`);
  return v;
}
