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
 * must find where a message ends: `decodeStream` returns null until the bytes so far hold a whole one,
 * and StreamDecoder (./stream-decoder.ts) does the same chunk by chunk, in linear time.
 */
import type { MemberlistMessage, PushPull, SerfMessage } from "../messages.ts";
import { MemberlistMsgType } from "../messages.ts";
import { wireFail } from "./errors.ts";
import { type GoMsgpackFlavor, GoMsgpackWriter } from "./gomsgpack.ts";
import { encodeMessage, writePushNodeState } from "./memberlist-codec.ts";
import { compressMessage } from "./packet.ts";
import { encodeSerfMessage } from "./serf-codec.ts";
import { StreamDecoder, type StreamLimits } from "./stream-decoder.ts";

/** memberlist's caps (maxPushStateNodes, maxPushStateBytes, maxUserMsgBytes, maxDecompressedBytes). */
export const pushStateNodesMax = 1024 * 1024;
export const pushStateBytesMax = 20 * 1024 * 1024;
export const userMsgBytesMax = 20 * 1024 * 1024;
export const decompressedStreamBytesMax = 2 * pushStateBytesMax;

export interface StreamOptions {
  readonly compress?: boolean;
  readonly label?: string;
  readonly flavor?: GoMsgpackFlavor;
  /** With a keyring: seals the (compressed) message; see memberlist encryptLocalState. */
  readonly encrypt?: (plain: Uint8Array, aad: Uint8Array) => Uint8Array;
  /** Ciphertext length for a plaintext of `plainBytes` (memberlist encryptedLength): it is authenticated. */
  readonly encryptedBytes?: (plainBytes: number) => number;
}

export function encodeStream(m: MemberlistMessage, options: StreamOptions = {}): Uint8Array {
  let body: Uint8Array;
  if (m.type === "pushPull") body = encodePushPull(m, options.flavor);
  else if (m.type === "user") body = encodeUserStream(m.Msg, options.flavor);
  else body = encodeMessage(m, options.flavor);
  if (options.compress) body = compressMessage(body, options.flavor);
  const label = new TextEncoder().encode(options.label ?? "");
  if (label.length > 255) wireFail("bad-label", `label of ${label.length} bytes`);
  if (options.encrypt) body = encryptStreamBody(body, label, options.encrypt, options.encryptedBytes ?? ((n) => n + 29));
  const w = new GoMsgpackWriter();
  if (label.length > 0) w.byte(MemberlistMsgType.hasLabel).byte(label.length).raw(label);
  return w.raw(body).finish();
}

/** [10][length u32 BE][sealed body]; the type byte, the length and the label are the authenticated data. */
function encryptStreamBody(
  body: Uint8Array, label: Uint8Array, encrypt: NonNullable<StreamOptions["encrypt"]>, encryptedBytes: (n: number) => number,
): Uint8Array {
  const header = new Uint8Array(5);
  header[0] = MemberlistMsgType.encrypt;
  new DataView(header.buffer).setUint32(1, encryptedBytes(body.length));
  const aad = new Uint8Array(5 + label.length);
  aad.set(header, 0);
  aad.set(label, 5);
  const sealed = encrypt(body, aad);
  if (sealed.length !== encryptedBytes(body.length)) wireFail("bad-field", `sealed ${sealed.length} bytes, declared ${encryptedBytes(body.length)}`);
  return new GoMsgpackWriter().raw(header).raw(sealed).finish();
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
 * The first whole message in `buf` and its length in bytes, or null while more bytes are needed;
 * `msg` is null for a user message of length 0 (memberlist accepts it, Serf ignores it). Throws
 * WireError on anything malformed, or on a label other than `options.label`. Bytes after the
 * message are not looked at. A transport reading chunk by chunk uses StreamDecoder itself.
 */
export function decodeStream(
  buf: Uint8Array, options: StreamOptions & { limits?: Partial<StreamLimits> } = {},
): { msg: MemberlistMessage | null; byteLength: number } | null {
  const found = new StreamDecoder({ label: options.label ?? "", ...(options.limits ? { limits: options.limits } : {}) }).push(buf);
  return found === null ? null : { msg: found.msg, byteLength: found.byteLength };
}
