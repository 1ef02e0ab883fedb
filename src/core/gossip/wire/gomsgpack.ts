/**
 * msgpack as hashicorp/go-msgpack writes it with the zero `codec.MsgpackHandle{}` that memberlist and
 * Serf use (WriteExt=false, i.e. the old msgpack spec), and a lenient reader that accepts any form.
 *
 * Decoding is our own (decodeGoValue): old-spec raw strings carry binary data such as IP addresses
 * and Serf's 0xff tag prefix, so they come back as bytes, never UTF-8 decoded.
 *
 * Encoding is a thin writer of our own, because no option of @msgpack/msgpack (or msgpackr) makes
 * the bytes go-msgpack produces, and the byte-for-byte goal needs them:
 * - go-msgpack's legacy raw container has no 8-bit length form: strings of 32..255 bytes are
 *   written as raw16 (0xda), where the new spec (and every maintained JS library) writes str8 0xd9;
 * - `[]byte` is written as that same raw string, never as bin (0xc4..0xc6);
 * - the integer form depends on the Go type, not the value: unsigned fields use fixint/uint8/16/32/64,
 *   signed fields above 127 use int16/int32/int64 (go-msgpack's EncodeInt, PositiveIntUnsigned=false);
 * - float64 fields are always 0xcb, even when the value is integral.
 * Struct fields are written as a map keyed by the Go field name.
 *
 * Two generations of go-msgpack are in the field, and they differ in two ways (both decode either):
 * - "v0.5" (go-msgpack 0.5.5: Debian's serf 0.8, older Consul): struct fields sorted by name, and
 *   non-negative signed ints written in the unsigned forms;
 * - "v2" (go-msgpack v2, current memberlist and Serf): fields in Go declaration order, signed ints
 *   above 127 as int16/int32/int64.
 * The default is "v0.5", the agent the interoperability test runs against and whose captured bytes
 * are the golden fixtures.
 */
import { wireFail } from "./errors.ts";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: false });

export type GoMsgpackFlavor = "v0.5" | "v2";
export const goMsgpackFlavorDefault: GoMsgpackFlavor = "v0.5";

/** A struct field: its Go name and how to write its value. Fields are listed in Go declaration order. */
export type GoField = readonly [name: string, write: (w: GoMsgpackWriter) => void];

/**
 * Scratch buffers writers build in, handed back by finish(): a gossip member encodes a handful of
 * small messages a second, and allocating a fresh ArrayBuffer for each (with its DataView) cost more
 * than writing the bytes. Writers nest (a Serf message inside a memberlist one), so it is a pool.
 */
const scratchPool: Uint8Array[] = [];
const scratchKeptBytesMax = 64 * 1024;
const scratchPooledMax = 8;

/** Appends go-msgpack's encoding of Go values to a growing buffer. */
export class GoMsgpackWriter {
  private bytes = scratchPool.pop() ?? new Uint8Array(256);
  /** `bytes` is ours to hand back to the pool: false once finish() has returned it as the result. */
  private pooled = true;
  /** Only floats and 64-bit integers need one; made on first use, for the current buffer. */
  private dataView: DataView | null = null;
  private length = 0;

  constructor(readonly flavor: GoMsgpackFlavor = goMsgpackFlavorDefault) {}

  private get view(): DataView {
    this.dataView ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.dataView;
  }

  /** A Go struct, as a map from field name to value; omitempty fields are left out by the caller. */
  struct(fields: readonly GoField[]): this {
    const ordered = this.flavor === "v0.5" && !sortedByName(fields) ? fields.slice().sort(byName) : fields;
    this.mapHeader(ordered.length);
    for (const [name, write] of ordered) write(this.str(name));
    return this;
  }

  finish(): Uint8Array {
    const out = this.bytes.slice(0, this.length);
    if (this.pooled && this.bytes.length <= scratchKeptBytesMax && scratchPool.length < scratchPooledMax) scratchPool.push(this.bytes);
    // The writer stays usable: it goes on from the copy (growing out of it before any write, so
    // what was returned never changes), which is never pooled: a second finish() must not hand the
    // first one's result to another writer.
    this.bytes = out;
    this.pooled = false;
    this.dataView = null;
    return out;
  }

  byte(b: number): this {
    this.reserve(1);
    this.bytes[this.length++] = b & 0xff;
    return this;
  }

  raw(data: Uint8Array): this {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
    return this;
  }

  nil(): this {
    return this.byte(0xc0);
  }

  bool(b: boolean): this {
    return this.byte(b ? 0xc3 : 0xc2);
  }

  /** A Go unsigned integer (uint8/16/32/64, LamportTime). */
  uint(n: number): this {
    if (!Number.isInteger(n) || n < 0) wireFail("bad-field", `uint ${n} is not a non-negative integer`);
    if (n <= 0x7f) return this.byte(n);
    if (n <= 0xff) return this.byte(0xcc).byte(n);
    if (n <= 0xffff) return this.byte(0xcd).u16(n);
    if (n <= 0xffffffff) return this.byte(0xce).u32(n);
    return this.byte(0xcf).u64(BigInt(n));
  }

  /** A Go signed integer (int, int64, time.Duration). */
  int(n: number): this {
    if (!Number.isInteger(n)) wireFail("bad-field", `int ${n} is not an integer`);
    if (n >= 0 && this.flavor === "v0.5") return this.uint(n);
    if (n >= -32 && n <= 0x7f) return this.byte(n & 0xff);
    if (n >= -128 && n < 0) return this.byte(0xd0).byte(n & 0xff);
    if (n >= -32768 && n <= 32767) return this.byte(0xd1).u16(n & 0xffff);
    if (n >= -2147483648 && n <= 2147483647) return this.byte(0xd2).u32(n >>> 0);
    return this.byte(0xd3).u64(BigInt.asUintN(64, BigInt(n)));
  }

  f64(x: number): this {
    this.reserve(9);
    this.bytes[this.length] = 0xcb;
    this.view.setFloat64(this.length + 1, x);
    this.length += 9;
    return this;
  }

  str(s: string): this {
    // Field names and member names are short ASCII: written in place, without TextEncoder's
    // per-call cost and the copy it returns (most of what encoding a struct cost).
    const n = s.length;
    if (n < 32) {
      this.reserve(1 + n);
      const bytes = this.bytes;
      const at = this.length + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        bytes[at + i] = c;
      }
      if (i === n) {
        bytes[at - 1] = 0xa0 | n;
        this.length = at + n;
        return this;
      }
    }
    const data = utf8Encoder.encode(s);
    return this.rawHeader(data.length).raw(data);
  }

  /** A Go []byte: a legacy raw string; nil for a nil slice. */
  bytesOrNil(data: Uint8Array | null): this {
    if (data === null) return this.nil();
    return this.rawHeader(data.length).raw(data);
  }

  mapHeader(count: number): this {
    return this.containerHeader(count, 0x80, 0xde, 0xdf);
  }

  arrayHeader(count: number): this {
    return this.containerHeader(count, 0x90, 0xdc, 0xdd);
  }

  private rawHeader(byteLength: number): this {
    if (byteLength < 32) return this.byte(0xa0 | byteLength);
    if (byteLength < 65536) return this.byte(0xda).u16(byteLength);
    return this.byte(0xdb).u32(byteLength);
  }

  private containerHeader(count: number, fixMin: number, b16: number, b32: number): this {
    if (count < 16) return this.byte(fixMin | count);
    if (count < 65536) return this.byte(b16).u16(count);
    return this.byte(b32).u32(count);
  }

  private u16(n: number): this {
    this.reserve(2);
    const bytes = this.bytes;
    bytes[this.length] = n >>> 8;
    bytes[this.length + 1] = n;
    this.length += 2;
    return this;
  }

  private u32(n: number): this {
    this.reserve(4);
    const bytes = this.bytes;
    bytes[this.length] = n >>> 24;
    bytes[this.length + 1] = n >>> 16;
    bytes[this.length + 2] = n >>> 8;
    bytes[this.length + 3] = n;
    this.length += 4;
    return this;
  }

  private u64(n: bigint): this {
    this.reserve(8);
    this.view.setBigUint64(this.length, n);
    this.length += 8;
    return this;
  }

  private reserve(extraBytes: number): void {
    if (this.length + extraBytes <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + extraBytes));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.pooled = true;
    this.dataView = null;
  }
}

function byName(a: GoField, b: GoField): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function sortedByName(fields: readonly GoField[]): boolean {
  for (let i = 1; i < fields.length; i++) if (fields[i - 1]![0] > fields[i]![0]) return false;
  return true;
}

/** Limits that keep a hostile packet from allocating much: memberlist's own caps are in the MBs. */
const rawBytesMax = 20 * 1024 * 1024;
const containerItemsMax = 1024 * 1024;
const decodeDepthMax = 64;

/**
 * Decodes exactly one msgpack value filling `bytes`, the way the Go side reads it: raw strings and
 * bin as Uint8Array (copies: old-spec strings carry binary data, and `bytes` may be a reused
 * buffer), map keys as strings, integers as numbers. Anything malformed is a WireError.
 * Hand-written because a push/pull carries up to a million values and a general decoder's per-call
 * set-up dominated decoding (about 10x slower on a 10 MB push/pull).
 */
export function decodeGoValue(bytes: Uint8Array, what: string): unknown {
  const r = sharedReader.reset(bytes, what);
  const value = r.value(0);
  if (r.pos !== bytes.length) wireFail("bad-msgpack", `${what}: ${bytes.length - r.pos} extra bytes after the value`);
  return value;
}

/** Short printable map keys seen so far, by hash (struct field names: a few dozen in all). */
const keyCache = new Map<number, string>();
const keyCacheMax = 512;

function sameAscii(s: string, bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== bytes[at + i]) return false;
  return true;
}

/** One reader, reset per value: decoding never calls out, so it is never re-entered. */
class ValueReader {
  pos = 0;
  private bytes: Uint8Array = new Uint8Array(0);
  private what = "";
  private dataView: DataView | null = null;

  reset(bytes: Uint8Array, what: string): this {
    this.bytes = bytes;
    this.what = what;
    this.pos = 0;
    this.dataView = null;
    return this;
  }

  /** Only floats and 64-bit integers need a DataView; most values never build one. */
  private get view(): DataView {
    this.dataView ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.dataView;
  }

  value(depth: number): unknown {
    const b = this.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b >= 0xa0 && b <= 0xbf) return this.raw(b & 0x1f);
    if (b >= 0x80 && b <= 0x8f) return this.map(b & 0x0f, depth);
    if (b >= 0x90 && b <= 0x9f) return this.array(b & 0x0f, depth);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xcc: return this.u8();
      case 0xcd: return readLength(this.bytes, this.skip(2), 2);
      case 0xce: return readLength(this.bytes, this.skip(4), 4);
      case 0xcf: return Number(this.view.getBigUint64(this.skip(8)));
      case 0xd0: return this.view.getInt8(this.skip(1));
      case 0xd1: return this.view.getInt16(this.skip(2));
      case 0xd2: return this.view.getInt32(this.skip(4));
      case 0xd3: return Number(this.view.getBigInt64(this.skip(8)));
      case 0xca: return this.view.getFloat32(this.skip(4));
      case 0xcb: return this.view.getFloat64(this.skip(8));
      case 0xc4: case 0xd9: return this.raw(this.u8());
      case 0xc5: case 0xda: return this.raw(readLength(this.bytes, this.skip(2), 2));
      case 0xc6: case 0xdb: return this.raw(readLength(this.bytes, this.skip(4), 4));
      case 0xdc: return this.array(readLength(this.bytes, this.skip(2), 2), depth);
      case 0xdd: return this.array(readLength(this.bytes, this.skip(4), 4), depth);
      case 0xde: return this.map(readLength(this.bytes, this.skip(2), 2), depth);
      case 0xdf: return this.map(readLength(this.bytes, this.skip(4), 4), depth);
      default: return wireFail("bad-msgpack", `${this.what}: type byte 0x${b.toString(16)} (reserved or an extension) at ${this.pos - 1}`);
    }
  }

  private u8(): number {
    if (this.pos >= this.bytes.length) wireFail("truncated", `${this.what}: value runs past ${this.bytes.length} bytes`);
    return this.bytes[this.pos++]!;
  }

  /** Moves past `n` bytes and returns where they start. */
  private skip(n: number): number {
    if (this.pos + n > this.bytes.length) wireFail("truncated", `${this.what}: value runs past ${this.bytes.length} bytes`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private raw(n: number): Uint8Array {
    if (n > rawBytesMax) wireFail("bad-msgpack", `${this.what}: string of ${n} bytes, limit ${rawBytesMax}`);
    if (this.pos + n > this.bytes.length) wireFail("truncated", `${this.what}: string of ${n} bytes runs past the end`);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private array(n: number, depth: number): unknown[] {
    this.checkContainer(n, depth);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
    return out;
  }

  private map(n: number, depth: number): Record<string, unknown> {
    this.checkContainer(n, depth);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const name = this.key(depth + 1);
      const value = this.value(depth + 1);
      // An own data property even for "__proto__", so no key reaches Object.prototype.
      if (name === "__proto__") Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
      else out[name] = value;
    }
    return out;
  }

  /** A map key as a string. Struct field names repeat in every value, so short ones come from a cache. */
  private key(depth: number): string {
    const b = this.bytes[this.pos];
    if (b !== undefined && b >= 0xa1 && b <= 0xb0 && this.pos + 1 + (b & 0x1f) <= this.bytes.length) {
      const n = b & 0x1f;
      let hash = n;
      for (let i = 1; i <= n; i++) hash = (Math.imul(hash, 31) + this.bytes[this.pos + i]!) | 0;
      const cached = keyCache.get(hash);
      if (cached !== undefined && cached.length === n && sameAscii(cached, this.bytes, this.pos + 1)) {
        this.pos += 1 + n;
        return cached;
      }
    }
    const key = this.value(depth);
    if (typeof key === "number") return String(key);
    if (!(key instanceof Uint8Array)) return wireFail("bad-msgpack", `${this.what}: map key of type ${key === null ? "nil" : typeof key}`);
    const name = bytesToString(key);
    if (key.length >= 1 && key.length <= 16 && keyCache.size < keyCacheMax && /^[\x20-\x7e]*$/.test(name)) {
      let hash = key.length;
      for (const c of key) hash = (Math.imul(hash, 31) + c) | 0;
      if (!keyCache.has(hash)) keyCache.set(hash, name);
    }
    return name;
  }

  private checkContainer(n: number, depth: number): void {
    if (n > containerItemsMax) wireFail("bad-msgpack", `${this.what}: container of ${n} items, limit ${containerItemsMax}`);
    if (depth >= decodeDepthMax) wireFail("bad-msgpack", `${this.what}: nesting deeper than ${decodeDepthMax}`);
    // Each item takes at least one byte: a header declaring more than remain is a lie, refused before allocating.
    if (n > this.bytes.length - this.pos) wireFail("truncated", `${this.what}: container of ${n} items in ${this.bytes.length - this.pos} bytes`);
  }
}

const sharedReader = new ValueReader();

/**
 * Decodes the msgpack value at the start of `bytes` and says how many bytes it used; trailing bytes
 * are left for the caller (go-msgpack reads one value from a stream and ignores what follows).
 */
export function decodeGoValuePrefix(bytes: Uint8Array, what: string): { value: unknown; byteLength: number } {
  // One pass: the reader stops where the value ends, and refuses a value cut short as truncated.
  const r = sharedReader.reset(bytes, what);
  const value = r.value(0);
  return { value, byteLength: r.pos };
}

const depthMax = 64;

/**
 * The byte length of the msgpack value starting at `offset`, or null when `bytes` ends first.
 * Stream framing needs it (push/pull is a sequence of values, then raw user state) and the decoder
 * library does not report where a value ends. Throws WireError on a reserved type byte or deep nesting.
 */
export function msgpackItemLength(bytes: Uint8Array, offset: number): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = itemEnd(bytes, view, offset, 0);
  return end === null ? null : end - offset;
}

function itemEnd(bytes: Uint8Array, view: DataView, pos: number, depth: number): number | null {
  if (pos >= bytes.length) return null;
  const head = headerOf(bytes, view, pos);
  if (head === null) return null;
  let end: number | null = pos + head.headerBytes + head.payloadBytes;
  if (head.children > 0 && depth >= depthMax) wireFail("bad-msgpack", `nesting deeper than ${depthMax}`);
  for (let i = 0; i < head.children && end !== null; i++) end = itemEnd(bytes, view, end, depth + 1);
  return end !== null && end <= bytes.length ? end : null;
}

/**
 * Finds where one msgpack value ends in bytes that arrive piece by piece, resuming where the last
 * call stopped: a count of values still to skip replaces recursion, so a value cut short by a chunk
 * boundary is never scanned twice, and nesting depth costs nothing.
 */
export class MsgpackSkipper {
  /** Values still to skip: a container's header adds its children. */
  private remaining = 1;

  /** `pos` is where the next header starts; once past the buffered bytes, a lower bound on the value's end. */
  constructor(public pos: number) {}

  /** The offset just past the value, once `bytes[0, end)` holds all of it; null while it needs more. */
  advance(bytes: Uint8Array, end: number): number | null {
    while (this.remaining > 0) {
      const pos = this.pos;
      if (pos >= end) return null;
      const b = bytes[pos]!;
      if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
        this.pos = pos + 1;
        this.remaining--;
      } else if (b >= 0xa0 && b <= 0xbf) {
        this.pos = pos + 1 + (b & 0x1f);
        this.remaining--;
      } else if (b >= 0x80 && b <= 0x9f) {
        this.pos = pos + 1;
        this.remaining += (b <= 0x8f ? 2 * (b & 0x0f) : b & 0x0f) - 1;
      } else if (fixedPayloadBytes[b]! > 0) {
        this.pos = pos + 1 + fixedPayloadBytes[b]!;
        this.remaining--;
      } else {
        const lengthBytes = lengthFieldBytes[b]!;
        if (lengthBytes === 0) wireFail("bad-msgpack", `reserved type byte 0x${b.toString(16)}`);
        if (pos + 1 + lengthBytes > end) return null;
        const n = readLength(bytes, pos + 1, lengthBytes);
        if (b === 0xdc || b === 0xdd) this.remaining += n - 1;
        else if (b === 0xde || b === 0xdf) this.remaining += 2 * n - 1;
        else this.remaining--;
        const payloadBytes = b === 0xdc || b === 0xdd || b === 0xde || b === 0xdf ? 0 : n;
        const extTypeBytes = b >= 0xc7 && b <= 0xc9 ? 1 : 0;
        this.pos = pos + 1 + lengthBytes + extTypeBytes + payloadBytes;
      }
    }
    return this.pos <= end ? this.pos : null;
  }

  /** Starts on a new value at `pos` (one skipper serves a stream's values one after another). */
  reset(pos: number): void {
    this.pos = pos;
    this.remaining = 1;
  }

  /** The buffer's bytes moved by `delta`. */
  shift(delta: number): void {
    this.pos += delta;
  }
}

/** A big-endian length of 1, 2 or 4 bytes at `at`. */
function readLength(bytes: Uint8Array, at: number, lengthBytes: number): number {
  if (lengthBytes === 1) return bytes[at]!;
  if (lengthBytes === 2) return (bytes[at]! << 8) | bytes[at + 1]!;
  return bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

interface ItemHeader {
  readonly headerBytes: number;
  readonly payloadBytes: number;
  readonly children: number;
}

/** Payload bytes of the fixed-size types (ints, floats, fixext), by type byte; 0 for the others. */
const fixedPayloadBytes = new Uint8Array(256);
for (const [b, n] of [[0xcc, 1], [0xcd, 2], [0xce, 4], [0xcf, 8], [0xd0, 1], [0xd1, 2], [0xd2, 4], [0xd3, 8], [0xca, 4], [0xcb, 8],
  [0xd4, 2], [0xd5, 3], [0xd6, 5], [0xd7, 9], [0xd8, 17]] as const) fixedPayloadBytes[b] = n;
/** Bytes of the length field of the variable-size types (raw, bin, ext, array, map), by type byte; 0 for the others. */
const lengthFieldBytes = new Uint8Array(256);
for (const [b, n] of [[0xc4, 1], [0xc5, 2], [0xc6, 4], [0xd9, 1], [0xda, 2], [0xdb, 4], [0xc7, 1], [0xc8, 2], [0xc9, 4],
  [0xdc, 2], [0xdd, 4], [0xde, 2], [0xdf, 4]] as const) lengthFieldBytes[b] = n;

function headerOf(bytes: Uint8Array, view: DataView, pos: number): ItemHeader | null {
  const b = bytes[pos]!;
  if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return { headerBytes: 1, payloadBytes: 0, children: 0 };
  if (b >= 0xa0 && b <= 0xbf) return { headerBytes: 1, payloadBytes: b & 0x1f, children: 0 };
  if (b >= 0x80 && b <= 0x8f) return { headerBytes: 1, payloadBytes: 0, children: (b & 0x0f) * 2 };
  if (b >= 0x90 && b <= 0x9f) return { headerBytes: 1, payloadBytes: 0, children: b & 0x0f };
  const sizeBytes = fixedPayloadBytes[b]!;
  if (sizeBytes > 0) return { headerBytes: 1, payloadBytes: sizeBytes, children: 0 };
  const lengthBytes = lengthFieldBytes[b]!;
  if (lengthBytes === 0) wireFail("bad-msgpack", `reserved type byte 0x${b.toString(16)}`);
  if (pos + 1 + lengthBytes > bytes.length) return null;
  const n = lengthBytes === 1 ? view.getUint8(pos + 1) : lengthBytes === 2 ? view.getUint16(pos + 1) : view.getUint32(pos + 1);
  if (b >= 0xdc && b <= 0xdd) return { headerBytes: 1 + lengthBytes, payloadBytes: 0, children: n };
  if (b >= 0xde) return { headerBytes: 1 + lengthBytes, payloadBytes: 0, children: n * 2 };
  const extTypeBytes = b >= 0xc7 && b <= 0xc9 ? 1 : 0;
  return { headerBytes: 1 + lengthBytes + extTypeBytes, payloadBytes: n, children: 0 };
}

/**
 * Reads Go struct fields out of a decoded map, the way go-msgpack fills a struct: missing keys and
 * nil leave the zero value, unknown keys are ignored, a value of the wrong kind is an error.
 */
export class GoStructReader {
  private readonly fields: Record<string, unknown>;

  constructor(value: unknown, private readonly what: string) {
    if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
      wireFail("bad-field", `${what}: expected a map, got ${describe(value)}`);
    }
    this.fields = value as Record<string, unknown>;
  }

  uint(name: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.get(name);
    if (v === undefined || v === null) return 0;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) this.bad(name, "an unsigned integer", v);
    return v;
  }

  int(name: string): number {
    const v = this.get(name);
    if (v === undefined || v === null) return 0;
    if (typeof v !== "number" || !Number.isInteger(v)) this.bad(name, "an integer", v);
    return v;
  }

  f64(name: string): number {
    const v = this.get(name);
    if (v === undefined || v === null) return 0;
    if (typeof v !== "number") this.bad(name, "a number", v);
    return v;
  }

  bool(name: string): boolean {
    const v = this.get(name);
    if (v === undefined || v === null) return false;
    if (typeof v !== "boolean") this.bad(name, "a bool", v);
    return v;
  }

  str(name: string): string {
    return bytesToString(this.bytes(name));
  }

  bytes(name: string): Uint8Array {
    return asBytes(this.get(name), `${this.what}.${name}`);
  }

  array(name: string): readonly unknown[] {
    const v = this.get(name);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.bad(name, "an array", v);
    return v;
  }

  map(name: string): Readonly<Record<string, unknown>> {
    const v = this.get(name);
    if (v === undefined || v === null) return {};
    if (typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) this.bad(name, "a map", v);
    return v as Record<string, unknown>;
  }

  private get(name: string): unknown {
    return Object.prototype.hasOwnProperty.call(this.fields, name) ? this.fields[name] : undefined;
  }

  private bad(name: string, expected: string, got: unknown): never {
    wireFail("bad-field", `${this.what}.${name}: expected ${expected}, got ${describe(got)}`);
  }
}

export function asBytes(v: unknown, what: string): Uint8Array {
  if (v === undefined || v === null) return new Uint8Array(0);
  if (!(v instanceof Uint8Array)) wireFail("bad-field", `${what}: expected a string or bytes, got ${describe(v)}`);
  // Values reach here from decodeGoValue, which hands out fresh copies of the plain type. A subclass
  // (a Node Buffer, perhaps a view of a pooled one) is copied, so a record never aliases bytes it
  // does not own. (Reading `.buffer` to check would force V8 to move small arrays off-heap: slow.)
  return v.constructor === Uint8Array ? v : new Uint8Array(v);
}

export function bytesToString(b: Uint8Array): string {
  // Names and field keys are short ASCII: building them directly is several times faster than TextDecoder.
  if (b.length <= 32) {
    let s = "";
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c >= 0x80) return utf8Decoder.decode(b);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8Decoder.decode(b);
}

export function stringToBytes(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  return v === null ? "nil" : typeof v;
}
