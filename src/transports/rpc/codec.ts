/**
 * The payloads carried in frames, encoded with MessagePack (Uint8Array fields stay binary).
 * Decoders check the shape of what they return and throw FrameError("bad-payload") otherwise;
 * the Raft message's own validation (`messageProblem`) is the transport's job, since it needs the
 * receiver's address.
 */
import { Decoder, Encoder, ExtensionCodec } from "@msgpack/msgpack";
import type { Entry, Message } from "../../core/raft/types.ts";
import { FrameError } from "./frame.ts";

/** Version of what the payloads mean, sent in the Raft hello (frames carry their own version byte). */
export const protocolVersion = 1;

/** An address in a hello is an "ip:port" string; anything longer than this is not one. */
const addrBytesMax = 256;

/** The extension type of a bigint in payloads (see bigints()). */
const bigintExtType = 1;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * One encoder and decoder for the process: making one per message allocates a 2 KiB buffer each
 * time, the largest cost of a small RPC. The library clones them when re-entered.
 */
let encoder = newEncoder();
const decoder = new Decoder({ extensionCodec: bigints() });
/** An encoder whose buffer grew past this (a snapshot went through it) is replaced, not kept. */
const encoderBufferBytesMax = 4 * 1024 * 1024;

/** Encodes `value`; the bytes returned are the caller's own. */
export function encodePayload(value: unknown): Uint8Array {
  const bytes = encoder.encode(value);
  if (bytes.length > encoderBufferBytesMax) encoder = newEncoder();
  return bytes;
}

function newEncoder(): Encoder {
  return new Encoder({ ignoreUndefined: true, extensionCodec: bigints() });
}

/**
 * KV flags above 2^53 - 1 are bigints (src/core/catalog/kv-flags.ts) and travel in forwarded
 * writes and reads: as an extension holding the decimal digits, since useBigInt64 would also turn
 * every uint64-coded number (timestamps) of a peer into a bigint.
 */
function bigints(): ExtensionCodec {
  const codec = new ExtensionCodec();
  codec.register({
    type: bigintExtType,
    encode: (value: unknown) => (typeof value === "bigint" ? textEncoder.encode(value.toString()) : null),
    decode: (data: Uint8Array) => {
      const text = textDecoder.decode(data);
      if (!/^-?\d{1,40}$/.test(text)) throw new Error(`bad bigint extension ${JSON.stringify(text.slice(0, 50))}`);
      return BigInt(text);
    },
  });
  return codec;
}

/** Any decoding failure of the library (DecodeError, RangeError on truncation...) becomes a FrameError. */
export function decodePayload(bytes: Uint8Array, what: string): unknown {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new FrameError("bad-payload", `${what} is not MessagePack: ${(e as Error).message}`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isSeq = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

export interface Hello {
  readonly proto: number;
  /** The sender's advertised RPC address, which is its Raft NodeId. */
  readonly addr: string;
}

export function encodeHello(addr: string): Uint8Array {
  return encodePayload({ proto: protocolVersion, addr });
}

export function decodeHello(bytes: Uint8Array): Hello {
  const v = decodePayload(bytes, "hello");
  if (!isRecord(v)) throw new FrameError("bad-payload", "hello is not a map");
  if (v.proto !== protocolVersion) throw new FrameError("bad-payload", `hello protocol ${String(v.proto)}, this server speaks ${protocolVersion}`);
  if (typeof v.addr !== "string" || v.addr.length === 0 || v.addr.length > addrBytesMax) {
    throw new FrameError("bad-payload", "hello without a sender address");
  }
  return { proto: v.proto, addr: v.addr };
}

export function encodeRaftMessage(m: Message): Uint8Array {
  return encodePayload(m);
}

/**
 * Decodes a Raft message; its fields are checked by the caller with `messageProblem`. Entry data
 * is copied out of the frame so a stored entry does not keep the whole frame alive.
 */
export function decodeRaftMessage(bytes: Uint8Array): Message {
  const v = decodePayload(bytes, "raft message");
  if (!isRecord(v)) throw new FrameError("bad-payload", "raft message is not a map");
  if (Array.isArray(v.entries)) {
    v.entries = v.entries.map((e: unknown) => isRecord(e) && e.data instanceof Uint8Array ? { ...e, data: e.data.slice() } as Entry : e);
  }
  return v as unknown as Message;
}

export interface SnapshotHead {
  /** The snapshot message with empty `snapshot.data`; the data follows in chunks. */
  readonly message: Message;
  readonly dataBytes: number;
}

/** A snapshot message's head: everything but the data, which is streamed raw after it. */
export function encodeSnapshotHead(m: Message): Uint8Array {
  const snapshot = m.snapshot!;
  return encodePayload({ message: { ...m, snapshot: { meta: snapshot.meta, data: new Uint8Array() } }, dataBytes: snapshot.data.length });
}

export function decodeSnapshotHead(bytes: Uint8Array, dataBytesMax: number): SnapshotHead {
  const v = decodePayload(bytes, "snapshot head");
  if (!isRecord(v) || !isRecord(v.message)) throw new FrameError("bad-payload", "snapshot head without a message");
  const dataBytes = v.dataBytes;
  if (!isSeq(dataBytes) || dataBytes > dataBytesMax) {
    throw new FrameError("oversized-message", `snapshot of ${String(dataBytes)} bytes, the limit is ${dataBytesMax}`);
  }
  if (!isRecord(v.message.snapshot)) throw new FrameError("bad-payload", "snapshot head whose message has no snapshot");
  return { message: v.message as unknown as Message, dataBytes };
}

export interface RpcRequest {
  readonly seq: number;
  readonly method: string;
  readonly body: unknown;
  /** How long the caller waits; a blocking handler should answer before it. */
  readonly timeoutMs?: number;
}

export interface RpcFailure {
  readonly status: number;
  readonly message: string;
}

export type RpcResponse =
  | { readonly seq: number; readonly result: unknown; readonly error?: undefined }
  | { readonly seq: number; readonly error: RpcFailure };

export function decodeRequest(bytes: Uint8Array): RpcRequest {
  const v = decodePayload(bytes, "request");
  if (!isRecord(v)) throw new FrameError("bad-payload", "request is not a map");
  if (!isSeq(v.seq)) throw new FrameError("bad-payload", `request seq ${String(v.seq)} is not a non-negative integer`);
  if (typeof v.method !== "string" || v.method.length === 0) throw new FrameError("bad-payload", `request ${v.seq} without a method`);
  if (v.timeoutMs !== undefined && !(typeof v.timeoutMs === "number" && v.timeoutMs >= 0)) {
    throw new FrameError("bad-payload", `request ${v.seq} timeoutMs ${String(v.timeoutMs)}`);
  }
  return { seq: v.seq, method: v.method, body: v.body ?? null, timeoutMs: v.timeoutMs as number | undefined };
}

export function decodeResponse(bytes: Uint8Array): RpcResponse {
  const v = decodePayload(bytes, "response");
  if (!isRecord(v)) throw new FrameError("bad-payload", "response is not a map");
  if (!isSeq(v.seq)) throw new FrameError("bad-payload", `response seq ${String(v.seq)} is not a non-negative integer`);
  if (v.error === undefined || v.error === null) return { seq: v.seq, result: v.result ?? null };
  const error = v.error;
  if (!isRecord(error) || typeof error.status !== "number" || typeof error.message !== "string") {
    throw new FrameError("bad-payload", `response ${v.seq} has a malformed error`);
  }
  return { seq: v.seq, error: { status: error.status, message: error.message } };
}

export function decodeCancel(bytes: Uint8Array): number {
  const v = decodePayload(bytes, "cancel");
  if (!isRecord(v) || !isSeq(v.seq)) throw new FrameError("bad-payload", "cancel without a seq");
  return v.seq;
}
