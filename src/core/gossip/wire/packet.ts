/**
 * UDP packet framing as memberlist does it (net.go ingestPacket/handleCommand/rawSendMsgPacket,
 * util.go compound and compression helpers, label.go):
 *
 *   [244 label header: 244, len, label]? [encrypted: version, nonce, ciphertext, tag of the rest]?
 *   [hasCrc: 12, CRC32-IEEE of the rest, 4 bytes big-endian]?
 *   message | compound: 7, count u8, count × u16 BE lengths, bodies | compress: 9, {Algo, Buf}
 *
 * Compound parts and compressed payloads are themselves messages, handled recursively. Encryption
 * (AES-GCM, memberlist security.go) wraps everything after the label header, with the label as
 * authenticated data; a packet carries no type byte for it. The cipher is a function the transport
 * passes in, so the core stays free of node:crypto.
 */
import { MemberlistMsgType } from "../messages.ts";
import { crc32 } from "../../util/crc32.ts";
import { WireError, wireFail } from "./errors.ts";
import { type GoMsgpackFlavor, GoMsgpackWriter, GoStructReader, decodeGoValuePrefix } from "./gomsgpack.ts";
import { lzwCompress, lzwDecompress } from "./lzw.ts";
import { type PacketMessage, decodeMessage, encodeMessage } from "./memberlist-codec.ts";

/** memberlist's UDPBufferSize default: the largest packet it sends. */
export const udpPacketBytesDefault = 1400;
/** The largest datagram we accept (memberlist reads into a 64 KiB buffer). */
export const udpReceiveBytesMax = 65536;
/**
 * A compressed datagram may not inflate beyond this. memberlist shares its 40 MiB stream limit with
 * packets; we do not, on purpose: no memberlist sends a datagram that inflates past UDPBufferSize
 * (1,400 bytes), while a 64 KiB LZW bomb inflated to 40 MiB would hold our single event loop for
 * a good part of a second (Go decodes each packet on its own goroutine), long enough to miss acks.
 */
export const decompressedPacketBytesMax = 1024 * 1024;
const compoundPartsMax = 255;
const compoundPartBytesMax = 0xffff;
/**
 * memberlist recurses without a limit. What it sends nests at most compress → compound → part, so
 * 4 levels refuse nothing real, and bound what one datagram can make us inflate (4 × 1 MiB).
 */
const nestingMax = 4;
const labelBytesMax = 255;
const lzwAlgo = 0;
const utf8Encoder = new TextEncoder();
const emptyLabel = new Uint8Array(0);

export interface PacketDecodeOptions {
  /** The pool's label; a packet with another label is refused (memberlist config.Label). */
  readonly label?: string;
  readonly packetBytesMax?: number;
  /**
   * With a keyring: opens the bytes after the label (`aad` = the label's bytes); throws WireError
   * "key-mismatch" when no key fits. memberlist (GossipVerifyIncoming) then drops the packet.
   */
  readonly decrypt?: (payload: Uint8Array, aad: Uint8Array) => Uint8Array;
}

export interface DecodedPacket {
  readonly msgs: PacketMessage[];
  /** Parts of a compound that could not be decoded; the rest of the packet is still delivered. */
  readonly partErrors: WireError[];
}

/** Decodes one UDP datagram; throws WireError when nothing in it is usable. */
export function decodePacket(packet: Uint8Array, options: PacketDecodeOptions = {}): DecodedPacket {
  const bytesMax = options.packetBytesMax ?? udpReceiveBytesMax;
  if (packet.length > bytesMax) wireFail("oversized", `packet of ${packet.length} bytes, limit ${bytesMax}`);
  const { label, rest } = stripLabel(packet);
  if (label === null) wireFail("truncated", "label header runs past the packet");
  if (label !== (options.label ?? "")) wireFail("bad-label", `packet label ${JSON.stringify(label)} is not ours`);
  const out: DecodedPacket = { msgs: [], partErrors: [] };
  const plain = options.decrypt ? options.decrypt(rest, new TextEncoder().encode(label)) : rest;
  handleCommand(checkCrc(plain), 0, out);
  return out;
}

/** Splits a label header off (label.go); label null means the header is truncated. */
export function stripLabel(buf: Uint8Array): { label: string | null; rest: Uint8Array } {
  if (buf.length === 0 || buf[0] !== MemberlistMsgType.hasLabel) return { label: "", rest: buf };
  if (buf.length < 2) return { label: null, rest: buf };
  const size = buf[1]!;
  if (size < 1) wireFail("bad-label", "label header present but empty");
  if (buf.length < 2 + size) return { label: null, rest: buf };
  return { label: new TextDecoder().decode(buf.subarray(2, 2 + size)), rest: buf.subarray(2 + size) };
}

function checkCrc(buf: Uint8Array): Uint8Array {
  if (buf.length === 0) wireFail("empty", "empty packet");
  if (buf[0] !== MemberlistMsgType.hasCrc) return buf;
  if (buf.length < 5) wireFail("truncated", `crc header needs 5 bytes, packet has ${buf.length}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const expected = view.getUint32(1);
  const actual = crc32(buf.subarray(5));
  if (actual !== expected) wireFail("bad-crc", `crc ${hex(actual)} != header ${hex(expected)}`);
  return buf.subarray(5);
}

function handleCommand(buf: Uint8Array, depth: number, out: DecodedPacket): void {
  if (depth > nestingMax) wireFail("bad-field", `compound/compress nesting deeper than ${nestingMax}`);
  if (buf.length === 0) wireFail("empty", "empty message");
  switch (buf[0]) {
    case MemberlistMsgType.compound: return handleCompound(buf.subarray(1), depth, out);
    case MemberlistMsgType.compress: return handleCommand(decompressBody(buf.subarray(1), decompressedPacketBytesMax), depth + 1, out);
    case MemberlistMsgType.encrypt: return wireFail("unsupported", "encrypted packet, and no keyring");
    default: out.msgs.push(decodeMessage(buf));
  }
}

function handleCompound(buf: Uint8Array, depth: number, out: DecodedPacket): void {
  if (buf.length < 1) wireFail("truncated", "compound without a part count");
  const count = buf[0]!;
  if (buf.length < 1 + count * 2) wireFail("truncated", `compound of ${count} parts has a truncated length table`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let offset = 1 + count * 2;
  for (let i = 0; i < count; i++) {
    const partBytes = view.getUint16(1 + i * 2);
    if (offset + partBytes > buf.length) {
      out.partErrors.push(new WireError("truncated", `compound parts ${i}..${count - 1} of ${count} truncated`));
      return;
    }
    try {
      handleCommand(buf.subarray(offset, offset + partBytes), depth + 1, out);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      out.partErrors.push(e);
    }
    offset += partBytes;
  }
}

/** The body of a compress message ({Algo, Buf}), inflated; also used by the stream decoder. */
export function decompressBody(body: Uint8Array, outputBytesMax: number): Uint8Array {
  return decompressStruct(decodeGoValuePrefix(body, "compress").value, outputBytesMax);
}

export function decompressStruct(value: unknown, outputBytesMax: number): Uint8Array {
  const r = new GoStructReader(value, "compress");
  const algo = r.uint("Algo");
  if (algo !== lzwAlgo) wireFail("bad-compression", `unknown compression algorithm ${algo}`);
  const inflated = lzwDecompress(r.bytes("Buf"), outputBytesMax);
  if (inflated.length === 0) wireFail("bad-compression", "compressed message is empty");
  return inflated;
}

/** memberlist's compressPayload: the compress message wrapping `payload`. */
export function compressMessage(payload: Uint8Array, flavor?: GoMsgpackFlavor): Uint8Array {
  const buf = lzwCompress(payload);
  return new GoMsgpackWriter(flavor).byte(MemberlistMsgType.compress)
    .struct([["Algo", (w) => w.uint(lzwAlgo)], ["Buf", (w) => w.bytesOrNil(buf)]]).finish();
}

export interface PacketEncodeOptions {
  /** Largest packet to send (memberlist UDPBufferSize). */
  readonly packetBytesMax?: number;
  /** Prefix a CRC32 (memberlist does when the peer's protocol max is >= 5). */
  readonly crc?: boolean;
  /** LZW-compress each packet when that makes it smaller (memberlist EnableCompression). */
  readonly compress?: boolean;
  readonly label?: string;
  readonly flavor?: GoMsgpackFlavor;
  /** With a keyring: seals the framed packet (`aad` = the label's bytes); adds `encryptOverheadBytes`. */
  readonly encrypt?: (plain: Uint8Array, aad: Uint8Array) => Uint8Array;
  /** Bytes encryption adds (memberlist encryptOverhead: 29 for version 1). */
  readonly encryptOverheadBytes?: number;
}

/**
 * Encodes messages for one peer into as few packets as fit: one message alone, several as a
 * compound. A single message larger than a packet is an error of the caller (the core bounds them).
 */
export function encodePackets(msgs: readonly PacketMessage[], options: PacketEncodeOptions = {}): Uint8Array[] {
  const bytesMax = options.packetBytesMax ?? udpPacketBytesDefault;
  const overheadBytes = labelOverhead(options.label) + (options.crc ? 5 : 0) + (options.encrypt ? options.encryptOverheadBytes ?? 29 : 0);
  const budgetBytes = bytesMax - overheadBytes;
  const groups: Uint8Array[][] = [];
  let group: Uint8Array[] = [];
  let groupBytes = 2;
  for (const m of msgs) {
    const body = encodeMessage(m, options.flavor);
    if (body.length > budgetBytes || body.length > compoundPartBytesMax) {
      wireFail("oversized", `${m.type} encodes to ${body.length} bytes, packet budget ${budgetBytes}`);
    }
    if (group.length > 0 && (groupBytes + 2 + body.length > budgetBytes || group.length === compoundPartsMax)) {
      groups.push(group);
      group = [];
      groupBytes = 2;
    }
    group.push(body);
    groupBytes += 2 + body.length;
  }
  if (group.length > 0) groups.push(group);
  return groups.map((g) => frame(g.length === 1 ? g[0]! : compound(g), options));
}

export function compound(parts: readonly Uint8Array[]): Uint8Array {
  const w = new GoMsgpackWriter().byte(MemberlistMsgType.compound).byte(parts.length);
  for (const p of parts) w.byte(p.length >>> 8).byte(p.length & 0xff);
  for (const p of parts) w.raw(p);
  return w.finish();
}

/** memberlist's rawSendMsgPacket: compress if smaller, CRC, encrypt, then the label in front. */
function frame(msg: Uint8Array, options: PacketEncodeOptions): Uint8Array {
  let out = msg;
  if (options.compress) {
    const compressed = compressMessage(msg, options.flavor);
    if (compressed.length < msg.length) out = compressed;
  }
  if (options.crc) {
    const sum = crc32(out);
    out = new GoMsgpackWriter().byte(MemberlistMsgType.hasCrc).byte(sum >>> 24).byte(sum >>> 16).byte(sum >>> 8).byte(sum).raw(out).finish();
  }
  const label = options.label ? utf8Encoder.encode(options.label) : emptyLabel;
  if (label.length > labelBytesMax) wireFail("bad-label", `label of ${label.length} bytes`);
  if (options.encrypt) out = options.encrypt(out, label);
  if (label.length === 0) return out;
  return new GoMsgpackWriter().byte(MemberlistMsgType.hasLabel).byte(label.length).raw(label).raw(out).finish();
}

function labelOverhead(label: string | undefined): number {
  return label ? 2 + new TextEncoder().encode(label).length : 0;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}
