/**
 * A push/pull node state read straight from the stream's bytes: the fast path of StreamDecoder.
 *
 * A push/pull may carry a million node states, and the general path (decodeGoValue into a map, then
 * GoStructReader) spends most of its time building the map, its key strings and byte copies that
 * are thrown away at once, and most of the rest in the garbage collector. This reader walks the
 * struct's fields in place and builds only the PushNodeState.
 *
 * It covers what memberlist and Serf send (fixstr field names, raw strings, the integer forms) and
 * nothing else: on anything unusual (another key form, an unknown field, a float, a value out of
 * range, a malformed byte) it answers `slowPath`, and the caller decodes the same bytes with the
 * general path, which gives the answer or the WireError that go-msgpack's rules call for. So the two
 * paths can never disagree about what a stream means; this one is only faster where it answers.
 */
import type { PushNodeState, Vsn } from "../messages.ts";
import { NodeStateType } from "../messages.ts";

/** The node state could not be read on the fast path: decode it with the general one. */
export const slowPath = Symbol("slowPath");
/** A State memberlist does not know: the node is skipped, as memberlist's mergeState does. */
export const skippedNode = Symbol("skippedNode");

const utf8Decoder = new TextDecoder("utf-8", { fatal: false });
const emptyBytes: Uint8Array = new Uint8Array(0);

/**
 * Field names by length and first letters (go-msgpack writes them as fixstr). Each id's bit marks the
 * field as seen; a field seen twice goes to the general path (go-msgpack keeps the last, and so does it).
 */
const enum Field { none = 0, name = 1, addr = 2, port = 4, meta = 8, incarnation = 16, state = 32, vsn = 64 }

function fieldAt(b: Uint8Array, at: number, n: number): Field {
  const c = b[at];
  switch (n) {
    case 3: return c === 0x56 && b[at + 1] === 0x73 && b[at + 2] === 0x6e ? Field.vsn : Field.none; // Vsn
    case 4:
      if (c === 0x4e && b[at + 1] === 0x61 && b[at + 2] === 0x6d && b[at + 3] === 0x65) return Field.name; // Name
      if (c === 0x41 && b[at + 1] === 0x64 && b[at + 2] === 0x64 && b[at + 3] === 0x72) return Field.addr; // Addr
      if (c === 0x50 && b[at + 1] === 0x6f && b[at + 2] === 0x72 && b[at + 3] === 0x74) return Field.port; // Port
      if (c === 0x4d && b[at + 1] === 0x65 && b[at + 2] === 0x74 && b[at + 3] === 0x61) return Field.meta; // Meta
      return Field.none;
    case 5: // State
      return c === 0x53 && b[at + 1] === 0x74 && b[at + 2] === 0x61 && b[at + 3] === 0x74 && b[at + 4] === 0x65 ? Field.state : Field.none;
    case 11: // Incarnation
      return c === 0x49 && b[at + 1] === 0x6e && b[at + 2] === 0x63 && b[at + 3] === 0x61 && b[at + 4] === 0x72 && b[at + 5] === 0x6e &&
        b[at + 6] === 0x61 && b[at + 7] === 0x74 && b[at + 8] === 0x69 && b[at + 9] === 0x6f && b[at + 10] === 0x6e ? Field.incarnation : Field.none;
    default: return Field.none;
  }
}

/**
 * Version vectors repeat across a pool (every member of one build sends the same six bytes), and
 * Vsn is readonly, so equal ones share one frozen tuple instead of an array per node.
 */
const vsnCache = new Map<number, Vsn>();
const vsnCacheMax = 256;
const zeroVsn: Vsn = Object.freeze([0, 0, 0, 0, 0, 0] as const);

function vsnAt(b: Uint8Array, at: number): Vsn {
  // Six bytes fit a double exactly (48 bits).
  const key = ((b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!) * 0x1000000 + ((b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!);
  let vsn = vsnCache.get(key);
  if (vsn === undefined) {
    vsn = Object.freeze([b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!] as const);
    if (vsnCache.size < vsnCacheMax) vsnCache.set(key, vsn);
  }
  return vsn;
}

const asciiStringBytesMax = 64;
/** Reused argument lists for String.fromCharCode, by length: a subarray per string would cost more than the string. */
const charCodes = Array.from({ length: asciiStringBytesMax + 1 }, (_, n) => new Array<number>(n).fill(0));

/** A string from its UTF-8 bytes; short ASCII ones (every node name in practice) without TextDecoder's per-call cost. */
function stringAt(b: Uint8Array, at: number, n: number): string {
  if (n > asciiStringBytesMax) return utf8Decoder.decode(b.subarray(at, at + n));
  const codes = charCodes[n]!;
  for (let i = 0; i < n; i++) {
    const c = b[at + i]!;
    if (c >= 0x80) return utf8Decoder.decode(b.subarray(at, at + n));
    codes[i] = c;
  }
  return String.fromCharCode.apply(null, codes);
}

/**
 * Copies of small byte strings (addresses, Serf tags), carved out of shared blocks: a typed array
 * of its own costs twice the memory and time of a view (about 216 against 103 bytes on V8), and a
 * push/pull may carry two per node for a million nodes. The blocks are written once, by this arena,
 * before any view of them is handed out, and never again, so a record still owns its bytes; the
 * price is that a view keeps its whole block (at most `blockBytes`) alive.
 */
class ByteArena {
  static readonly blockBytes = 4096;
  /** Larger values get a copy of their own: they would waste most of a block. */
  static readonly sharedBytesMax = 256;
  private block = new Uint8Array(0);
  private used = 0;

  copy(b: Uint8Array, at: number, n: number): Uint8Array {
    if (n > ByteArena.sharedBytesMax) return b.slice(at, at + n);
    if (this.used + n > this.block.length) {
      this.block = new Uint8Array(ByteArena.blockBytes);
      this.used = 0;
    }
    const start = this.used;
    // Byte by byte: set() would need a subarray of the source, an allocation as dear as the copy.
    const block = this.block;
    for (let i = 0; i < n; i++) block[start + i] = b[at + i]!;
    this.used += n;
    return this.block.subarray(start, start + n);
  }
}

/**
 * Reads node states for one push/pull. `read` takes the node state that starts at `start` and lies
 * within `b[start, limit)`; answers the node, `skippedNode` for a State memberlist does not know,
 * or `slowPath` for anything this reader does not cover, including a value that runs past `limit`
 * (its end is not known yet). After an answer other than `slowPath`, `end` is where the value ended.
 */
export class PushNodeReader {
  end = 0;
  private readonly arena = new ByteArena();

  read(b: Uint8Array, start: number, limit: number): PushNodeState | typeof skippedNode | typeof slowPath {
    const end = limit;
    const arena = this.arena;
    if (start >= end) return slowPath;
    let p = start;
    const head = b[p++]!;
    let count: number;
    if (head >= 0x80 && head <= 0x8f) count = head & 0x0f;
    else if (head === 0xde && p + 2 <= end) {
      count = (b[p]! << 8) | b[p + 1]!;
      p += 2;
    } else return slowPath;

    let seen = 0;
    let name = "";
    let addr = emptyBytes;
    let port = 0;
    let meta = emptyBytes;
    let incarnation = 0;
    let state = 0;
    let vsn = zeroVsn;
    for (let i = 0; i < count; i++) {
      if (p >= end) return slowPath;
      const k = b[p]!;
      if (k < 0xa0 || k > 0xbf) return slowPath;
      const keyBytes = k & 0x1f;
      if (p + 1 + keyBytes >= end) return slowPath;
      const field = fieldAt(b, p + 1, keyBytes);
      if (field === Field.none || (seen & field) !== 0) return slowPath;
      seen |= field;
      p += 1 + keyBytes;

      const v = b[p++]!;
      if (field === Field.name || field === Field.addr || field === Field.meta || field === Field.vsn) {
        // nil leaves the zero value; any raw form (fixstr, str8/16/32, bin8/16/32) is a byte string.
        if (v === 0xc0) continue;
        let n: number;
        if (v >= 0xa0 && v <= 0xbf) n = v & 0x1f;
        else if ((v === 0xd9 || v === 0xc4) && p + 1 <= end) n = b[p++]!;
        else if ((v === 0xda || v === 0xc5) && p + 2 <= end) {
          n = (b[p]! << 8) | b[p + 1]!;
          p += 2;
        } else return slowPath;
        if (p + n > end) return slowPath;
        if (field === Field.name) name = stringAt(b, p, n);
        else if (field === Field.vsn) {
          if (n !== 0 && n < 6) return slowPath;
          if (n !== 0) vsn = vsnAt(b, p);
        } else if (n > 0) {
          // A copy: a record must never alias the stream's buffer, which is reused.
          const bytes = arena.copy(b, p, n);
          if (field === Field.addr) addr = bytes;
          else meta = bytes;
        }
        p += n;
        continue;
      }
      // Integer fields.
      let x: number;
      if (v <= 0x7f) x = v;
      else if (v === 0xc0) x = 0;
      else if (v === 0xcc && p + 1 <= end) x = b[p++]!;
      else if (v === 0xcd && p + 2 <= end) {
        x = (b[p]! << 8) | b[p + 1]!;
        p += 2;
      } else if (v === 0xce && p + 4 <= end) {
        x = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
        p += 4;
      } else if (v === 0xd1 && p + 2 <= end) {
        x = ((b[p]! << 24) | (b[p + 1]! << 16)) >> 16;
        p += 2;
      } else if (v === 0xd2 && p + 4 <= end) {
        x = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
        p += 4;
      } else if (v === 0xd0 && p + 1 <= end) x = (b[p++]! << 24) >> 24;
      else if (v >= 0xe0) x = v - 0x100;
      else return slowPath;
      if (field === Field.state) state = x;
      else if (field === Field.port) {
        if (x < 0 || x > 0xffff) return slowPath;
        port = x;
      } else {
        if (x < 0 || x > 0xffffffff) return slowPath;
        incarnation = x;
      }
    }
    this.end = p;
    if (state < NodeStateType.alive || state > NodeStateType.left) return skippedNode;
    return { Name: name, Addr: addr, Port: port, Meta: meta, Incarnation: incarnation, State: state as NodeStateType, Vsn: vsn };
  }
}
