/**
 * The framing of Praetor's server RPC port (8300). A connection opens with one byte naming its
 * stream type, as Consul's RPC port does (0x00 RPC, 0x01 Raft, 0x02 multiplex, 0x03 TLS in
 * Consul; ours below), so TLS and multiplexing can be added later as new types. After it, both
 * directions carry frames:
 *
 *   u32 big-endian payload length | u8 version (1) | u8 kind | payload
 *
 * A message longer than one frame is sent as `part` frames followed by one frame of the message's
 * own kind carrying the last piece; the receiver concatenates them (bounded by `messageBytesMax`).
 * Nothing here touches a socket or a clock, so the decoder can be fed random bytes in tests: on
 * bad input it throws `FrameError` and only that.
 */

/** The first byte of a connection. */
export const StreamType = {
  raft: 0x01,
  rpc: 0x02,
} as const;
export type StreamTypeByte = (typeof StreamType)[keyof typeof StreamType];

export const frameVersion = 1;
export const frameHeaderBytes = 6;

/** Frame kinds. 0x00 is never valid, so a zeroed buffer is refused at once. */
export const FrameKind = {
  /** A non-final piece of a message: the final piece carries the message's kind. */
  part: 0x01,
  /** Raft stream, first frame: who is calling (msgpack `{addr}`). */
  hello: 0x10,
  /** Raft stream: one Raft message (msgpack). */
  raftMessage: 0x11,
  /** Raft stream: a snapshot message without its data (msgpack `{message, dataBytes}`); chunks follow. */
  snapshotHead: 0x12,
  /** Raft stream: the next raw bytes of the snapshot announced by the last head. */
  snapshotChunk: 0x13,
  /** RPC stream: client to server, msgpack `{seq, method, body, timeoutMs?}`. */
  request: 0x20,
  /** RPC stream: server to client, msgpack `{seq, result}` or `{seq, error: {status, message}}`. */
  response: 0x21,
  /** RPC stream: client to server, msgpack `{seq}`: the caller gave up, abort the handler. */
  cancel: 0x22,
} as const;

/** One frame's payload: 1 MiB, so a snapshot streams in 1 MiB pieces and no read buffers more. */
export const framePayloadBytesDefault = 1024 * 1024;

export type FrameErrorReason =
  | "bad-version"
  | "bad-kind"
  | "oversized-frame"
  | "oversized-message"
  | "truncated"
  | "bad-payload"
  | "unexpected-frame";

/** Bad bytes from a peer: the connection that sent them is closed with this reason logged. */
export class FrameError extends Error {
  override name = "FrameError";
  constructor(readonly reason: FrameErrorReason, detail: string) {
    super(`${reason}: ${detail}`);
  }
}

export interface DecodedMessage {
  readonly kind: number;
  /** The message's bytes, owned by the caller (never a view of a read buffer). */
  readonly payload: Uint8Array;
}

export interface FrameLimits {
  /** Largest payload of one frame; a header announcing more closes the connection. */
  readonly framePayloadBytesMax: number;
  /** Largest message reassembled from `part` frames. */
  readonly messageBytesMax: number;
}

/** Encodes one frame. */
export function encodeFrame(kind: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(frameHeaderBytes + payload.length);
  frame.set(encodeFrameHeader(kind, payload.length));
  frame.set(payload, frameHeaderBytes);
  return frame;
}

/** A frame's 6-byte header alone, for writing a large payload after it without copying it. */
export function encodeFrameHeader(kind: number, payloadBytes: number): Uint8Array {
  if (!Number.isInteger(kind) || kind < 1 || kind > 0xff) throw new RangeError(`frame kind ${kind} not in 1..255`);
  const header = new Uint8Array(frameHeaderBytes);
  new DataView(header.buffer).setUint32(0, payloadBytes);
  header[4] = frameVersion;
  header[5] = kind;
  return header;
}

/**
 * Encodes one message as frames of at most `framePayloadBytes` each: `part` frames, then the last
 * piece under the message's own kind. An empty message is one empty frame.
 */
export function encodeMessageFrames(kind: number, payload: Uint8Array, framePayloadBytes = framePayloadBytesDefault): Uint8Array[] {
  return messagePieces(kind, payload, framePayloadBytes).map(([k, piece]) => encodeFrame(k, piece));
}

/**
 * The frames of one message as [kind, piece] pairs, the pieces views of `payload` (no copy):
 * `part` pieces of `framePayloadBytes`, then the rest under the message's own kind.
 */
export function messagePieces(kind: number, payload: Uint8Array, framePayloadBytes: number): [number, Uint8Array][] {
  if (kind === FrameKind.part) throw new RangeError("a message cannot have kind part");
  if (!(framePayloadBytes >= 1)) throw new RangeError(`framePayloadBytes ${framePayloadBytes} < 1`);
  const pieces: [number, Uint8Array][] = [];
  let offset = 0;
  while (payload.length - offset > framePayloadBytes) {
    pieces.push([FrameKind.part, payload.subarray(offset, offset + framePayloadBytes)]);
    offset += framePayloadBytes;
  }
  pieces.push([kind, payload.subarray(offset)]);
  return pieces;
}

/**
 * Turns a byte stream into whole messages. Feed it whatever the socket delivers (any split);
 * `push` returns the messages completed by those bytes. After a FrameError the decoder is
 * poisoned (every later call throws again): the stream is out of sync and must be closed.
 *
 * Invariant: buffered bytes <= frameHeaderBytes + framePayloadBytesMax, and the reassembled
 * message so far <= messageBytesMax.
 */
export class FrameDecoder {
  private readonly header = new Uint8Array(frameHeaderBytes);
  private headerFilled = 0;
  private payload: Uint8Array | null = null;
  private payloadFilled = 0;
  private kind = 0;
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  private failure: FrameError | null = null;

  constructor(private readonly limits: FrameLimits) {
    if (!(limits.framePayloadBytesMax >= 1)) throw new RangeError(`framePayloadBytesMax ${limits.framePayloadBytesMax} < 1`);
    if (!(limits.messageBytesMax >= limits.framePayloadBytesMax)) {
      throw new RangeError(`messageBytesMax ${limits.messageBytesMax} < framePayloadBytesMax ${limits.framePayloadBytesMax}`);
    }
  }

  /** Bytes held toward an incomplete frame or message (0 between messages). */
  get pendingBytes(): number {
    return this.headerFilled + this.payloadFilled + this.partsBytes;
  }

  push(bytes: Uint8Array): DecodedMessage[] {
    if (this.failure !== null) throw this.failure;
    const out: DecodedMessage[] = [];
    try {
      let offset = 0;
      while (offset < bytes.length) offset = this.consume(bytes, offset, out);
    } catch (e) {
      if (e instanceof FrameError) this.failure = e;
      throw e;
    }
    return out;
  }

  /** The stream ended: an incomplete frame or message is a truncation. */
  end(): void {
    if (this.failure !== null) throw this.failure;
    if (this.pendingBytes > 0) {
      this.failure = new FrameError("truncated", `stream ended with ${this.pendingBytes} bytes of an incomplete frame or message`);
      throw this.failure;
    }
  }

  private consume(bytes: Uint8Array, offset: number, out: DecodedMessage[]): number {
    if (this.payload === null) {
      const take = Math.min(frameHeaderBytes - this.headerFilled, bytes.length - offset);
      this.header.set(bytes.subarray(offset, offset + take), this.headerFilled);
      this.headerFilled += take;
      if (this.headerFilled === frameHeaderBytes) this.startFrame(out);
      return offset + take;
    }
    const take = Math.min(this.payload.length - this.payloadFilled, bytes.length - offset);
    this.payload.set(bytes.subarray(offset, offset + take), this.payloadFilled);
    this.payloadFilled += take;
    if (this.payloadFilled === this.payload.length) this.finishFrame(out);
    return offset + take;
  }

  private startFrame(out: DecodedMessage[]): void {
    const length = new DataView(this.header.buffer).getUint32(0);
    const version = this.header[4]!;
    const kind = this.header[5]!;
    if (version !== frameVersion) throw new FrameError("bad-version", `frame version ${version}, this server speaks ${frameVersion}`);
    if (kind === 0) throw new FrameError("bad-kind", "frame kind 0");
    if (length > this.limits.framePayloadBytesMax) {
      throw new FrameError("oversized-frame", `frame of ${length} bytes exceeds the ${this.limits.framePayloadBytesMax}-byte limit`);
    }
    if (this.partsBytes + length > this.limits.messageBytesMax) {
      throw new FrameError("oversized-message", `message of ${this.partsBytes + length}+ bytes exceeds the ${this.limits.messageBytesMax}-byte limit`);
    }
    this.kind = kind;
    this.payload = new Uint8Array(length);
    this.payloadFilled = 0;
    // An empty payload is complete as soon as its header is.
    if (length === 0) this.finishFrame(out);
  }

  private finishFrame(out: DecodedMessage[]): void {
    const payload = this.payload!;
    this.payload = null;
    this.payloadFilled = 0;
    this.headerFilled = 0;
    if (this.kind === FrameKind.part) {
      this.parts.push(payload);
      this.partsBytes += payload.length;
      return;
    }
    if (this.parts.length === 0) {
      out.push({ kind: this.kind, payload });
      return;
    }
    const whole = new Uint8Array(this.partsBytes + payload.length);
    let at = 0;
    for (const part of this.parts) {
      whole.set(part, at);
      at += part.length;
    }
    whole.set(payload, at);
    this.parts = [];
    this.partsBytes = 0;
    out.push({ kind: this.kind, payload: whole });
  }
}
