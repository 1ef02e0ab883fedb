/**
 * memberlist's TCP stream layout (net.go sendLocalState/readRemoteState, sendUserMsg/readUserMsg,
 * readStream, sendPingAndWaitForAck):
 *
 *   [244 label header]? then one of
 *   push/pull: 6, {Nodes, UserStateLen, Join}, Nodes × pushNodeState, UserStateLen raw bytes (Serf's state)
 *   user:      8, {UserMsgLen}, UserMsgLen raw bytes (one Serf message)
 *   ping/ack/err: type byte, struct
 *   compress:  9, {Algo, Buf} whose inflated bytes are one of the above
 *
 * A stream carries one message each way, and the connection stays open for the reply, so the reader
 * must find where a message ends: `decodeStream` returns null until the bytes so far hold a whole one.
 */
import type { MemberlistMessage, PushPull, SerfMessage } from "../messages.ts";
import { MemberlistMsgType } from "../messages.ts";
import { wireFail } from "./errors.ts";
import { type GoMsgpackFlavor, GoMsgpackWriter, GoStructReader, decodeGoValue, msgpackItemLength } from "./gomsgpack.ts";
import { decodeMessage, encodeMessage, readPushNodeState, writePushNodeState } from "./memberlist-codec.ts";
import { compressMessage, decompressStruct, stripLabel } from "./packet.ts";
import { decodeSerfMessage, encodeSerfMessage } from "./serf-codec.ts";

/** memberlist's caps (maxPushStateNodes, maxPushStateBytes, maxUserMsgBytes, maxDecompressedBytes). */
export const pushStateNodesMax = 1024 * 1024;
export const pushStateBytesMax = 20 * 1024 * 1024;
export const userMsgBytesMax = 20 * 1024 * 1024;
export const decompressedStreamBytesMax = 2 * pushStateBytesMax;

export interface StreamOptions {
  readonly compress?: boolean;
  readonly label?: string;
  readonly flavor?: GoMsgpackFlavor;
}

export function encodeStream(m: MemberlistMessage, options: StreamOptions = {}): Uint8Array {
  let body: Uint8Array;
  if (m.type === "pushPull") body = encodePushPull(m, options.flavor);
  else if (m.type === "user") body = encodeUserStream(m.Msg, options.flavor);
  else body = encodeMessage(m, options.flavor);
  if (options.compress) body = compressMessage(body, options.flavor);
  const w = new GoMsgpackWriter();
  if (options.label) {
    const label = new TextEncoder().encode(options.label);
    if (label.length > 255) wireFail("bad-label", `label of ${label.length} bytes`);
    w.byte(MemberlistMsgType.hasLabel).byte(label.length).raw(label);
  }
  return w.raw(body).finish();
}

function encodePushPull(m: PushPull, flavor: GoMsgpackFlavor | undefined): Uint8Array {
  const userState = m.UserState === null ? new Uint8Array(0) : encodeSerfMessage(m.UserState, flavor);
  const w = new GoMsgpackWriter(flavor).byte(MemberlistMsgType.pushPull).struct([
    ["Nodes", (x) => x.int(m.Nodes.length)], ["UserStateLen", (x) => x.int(userState.length)], ["Join", (x) => x.bool(m.Join)],
  ]);
  for (const n of m.Nodes) writePushNodeState(w, n);
  return w.raw(userState).finish();
}

function encodeUserStream(msg: SerfMessage, flavor: GoMsgpackFlavor | undefined): Uint8Array {
  const payload = encodeSerfMessage(msg, flavor);
  return new GoMsgpackWriter(flavor).byte(MemberlistMsgType.user).struct([["UserMsgLen", (x) => x.int(payload.length)]])
    .raw(payload).finish();
}

/**
 * The first whole message in `buf` and its length in bytes, or null while more bytes are needed.
 * Throws WireError on anything malformed, or on a label other than `options.label`.
 */
export function decodeStream(buf: Uint8Array, options: StreamOptions = {}): { msg: MemberlistMessage; byteLength: number } | null {
  if (buf.length === 0) return null;
  const { label, rest } = stripLabel(buf);
  if (label === null) return null;
  if (label !== (options.label ?? "")) wireFail("bad-label", `stream label ${JSON.stringify(label)} is not ours`);
  const labelBytes = buf.length - rest.length;
  if (rest.length === 0) return null;
  if (rest[0] === MemberlistMsgType.encrypt) wireFail("unsupported", "encrypted stream, and no keyring");
  if (rest[0] !== MemberlistMsgType.compress) {
    const found = decodeStreamBody(rest);
    return found === null ? null : { msg: found.msg, byteLength: labelBytes + found.byteLength };
  }
  const structBytes = msgpackItemLength(rest, 1);
  if (structBytes === null) return null;
  const inflated = decompressStruct(decodeGoValue(rest.subarray(1, 1 + structBytes), "compress"), decompressedStreamBytesMax);
  const inner = decodeStreamBody(inflated);
  if (inner === null) wireFail("truncated", "compressed stream message is incomplete");
  return { msg: inner.msg, byteLength: labelBytes + 1 + structBytes };
}

function decodeStreamBody(buf: Uint8Array): { msg: MemberlistMessage; byteLength: number } | null {
  const t = buf[0]!;
  if (t === MemberlistMsgType.pushPull) return decodePushPull(buf);
  if (t === MemberlistMsgType.user) return decodeUserStream(buf);
  if (t === MemberlistMsgType.compound || t === MemberlistMsgType.hasCrc) wireFail("unsupported", `message type ${t} on a stream`);
  const bodyBytes = msgpackItemLength(buf, 1);
  if (bodyBytes === null) return null;
  return { msg: decodeMessage(buf.subarray(0, 1 + bodyBytes)), byteLength: 1 + bodyBytes };
}

function decodePushPull(buf: Uint8Array): { msg: PushPull; byteLength: number } | null {
  const headerBytes = msgpackItemLength(buf, 1);
  if (headerBytes === null) return null;
  const header = new GoStructReader(decodeGoValue(buf.subarray(1, 1 + headerBytes), "push/pull header"), "push/pull header");
  const nodeCount = header.int("Nodes");
  const userStateBytes = header.int("UserStateLen");
  if (nodeCount < 0 || nodeCount > pushStateNodesMax) wireFail("bad-field", `push/pull of ${nodeCount} nodes`);
  if (userStateBytes < 0 || userStateBytes > pushStateBytesMax) wireFail("bad-field", `push/pull user state of ${userStateBytes} bytes`);
  let offset = 1 + headerBytes;
  const nodes = [];
  for (let i = 0; i < nodeCount; i++) {
    const nodeBytes = msgpackItemLength(buf, offset);
    if (nodeBytes === null) return null;
    nodes.push(readPushNodeState(decodeGoValue(buf.subarray(offset, offset + nodeBytes), `push/pull node ${i}`), i));
    offset += nodeBytes;
  }
  if (buf.length < offset + userStateBytes) return null;
  const userState = userStateBytes > 0 ? decodeSerfMessage(buf.subarray(offset, offset + userStateBytes)) : null;
  const msg: PushPull = { type: "pushPull", Join: header.bool("Join"), Nodes: nodes, UserState: userState };
  return { msg, byteLength: offset + userStateBytes };
}

function decodeUserStream(buf: Uint8Array): { msg: MemberlistMessage; byteLength: number } | null {
  const headerBytes = msgpackItemLength(buf, 1);
  if (headerBytes === null) return null;
  const header = new GoStructReader(decodeGoValue(buf.subarray(1, 1 + headerBytes), "user header"), "user header");
  const msgBytes = header.int("UserMsgLen");
  if (msgBytes <= 0 || msgBytes > userMsgBytesMax) wireFail("bad-field", `user message of ${msgBytes} bytes`);
  const start = 1 + headerBytes;
  if (buf.length < start + msgBytes) return null;
  return { msg: { type: "user", Msg: decodeSerfMessage(buf.subarray(start, start + msgBytes)) }, byteLength: start + msgBytes };
}
