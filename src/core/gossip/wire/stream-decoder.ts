/**
 * One memberlist stream message, decoded as its bytes arrive (net.go readStream, readRemoteState,
 * readUserMsg). The transport pushes each TCP chunk in; the decoder looks at every byte a bounded
 * number of times, whatever the chunking: a value that is cut short is resumed where it stopped
 * (MsgpackSkipper), never re-scanned from the start of the stream, and bytes already decoded are
 * dropped from the buffer. A push/pull of n bytes therefore costs O(n) in time, and its memory is
 * the decoded nodes plus the raw user state, never the whole stream twice.
 *
 * Everything a peer declares is bounded before it is believed: the node count, the bytes of all node
 * states together, the user state, a user message, a compressed body and what it inflates to. A
 * value whose declared length runs past its bound is refused as soon as its header is read.
 */
import type { MemberlistMessage, PushNodeState, PushPull, SerfMessage } from "../messages.ts";
import { MemberlistMsgType } from "../messages.ts";
import { WireError, wireFail } from "./errors.ts";
import { GoStructReader, MsgpackSkipper, decodeGoValue } from "./gomsgpack.ts";
import { decodeMessage, readPushNodeState } from "./memberlist-codec.ts";
import { decompressStruct } from "./packet.ts";
import { PushNodeReader, skippedNode, slowPath } from "./push-node-reader.ts";
import { decodeSerfMessage } from "./serf-codec.ts";

/** Bounds on what one stream may declare. Defaults are memberlist's (net.go). */
export interface StreamLimits {
  /** maxPushStateNodes. */
  readonly nodesMax: number;
  /** All node states of one push/pull together (memberlist's decompression budget gives nodes 20 MiB). */
  readonly nodeBytesMax: number;
  /** maxPushStateBytes: the delegate's (Serf's) state. */
  readonly userStateBytesMax: number;
  /** maxUserMsgBytes. */
  readonly userMsgBytesMax: number;
  /** A compress message's body, before inflating. */
  readonly compressedBytesMax: number;
  /** maxDecompressedBytes = 2 * maxPushStateBytes. */
  readonly decompressedBytesMax: number;
}

const mib = 1024 * 1024;

export const streamLimitsDefault: StreamLimits = {
  nodesMax: mib,
  nodeBytesMax: 20 * mib,
  userStateBytesMax: 20 * mib,
  userMsgBytesMax: 20 * mib,
  compressedBytesMax: 40 * mib,
  decompressedBytesMax: 40 * mib,
};

export interface StreamDecodeOptions {
  /** The pool's label; a stream with another one is refused. */
  readonly label?: string;
  readonly limits?: Partial<StreamLimits>;
  /**
   * Opens an encrypted stream's payload (version byte, nonce, ciphertext and tag) with the keyring,
   * `aad` being memberlist's authenticated data; throws WireError "key-mismatch" when no key fits.
   * Injected by the transport (node:crypto stays out of the core). Without it, encryption is refused.
   */
  readonly decrypt?: (payload: Uint8Array, aad: Uint8Array) => Uint8Array;
  /** Refuse a stream that is not encrypted (memberlist GossipVerifyIncoming, on whenever a keyring is). */
  readonly requireEncryption?: boolean;
}

/** memberlist reads at most maxPushStateBytes of an encrypted stream. */
export const encryptedStreamBytesMax = 20 * 1024 * 1024;

/** A whole stream message: `msg` is null for a user message of length 0 (memberlist accepts and ignores it). */
export interface DecodedStream {
  readonly msg: MemberlistMessage | null;
  /** Bytes of the stream the message took; bytes after it are not part of it. */
  readonly byteLength: number;
  /** Push/pull node states with a State memberlist does not know (it skips them, and so do we). */
  readonly skippedNodes: number;
}

type Phase = "label" | "type" | "encrypted" | "compressed" | "pushPullHeader" | "nodes" | "userState" | "userHeader" | "userBody" | "body" | "done";

export class StreamDecoder {
  private data = new Uint8Array(4096);
  /** Bytes before `start` are decoded and may be dropped; `end` is where the next chunk goes. */
  private start = 0;
  private end = 0;
  /** Stream bytes dropped from the front of `data` so far (byte offsets in the stream = consumed + index). */
  private consumed = 0;
  private phase: Phase = "label";
  /** Finds where the value being read ends; `skipping` while it is part way through one. */
  private readonly skipper = new MsgpackSkipper(0);
  private skipping = false;
  private readonly limits: StreamLimits;
  private typeByte: number | null = null;
  private result: DecodedStream | null = null;
  // Push/pull in progress.
  private join = false;
  private nodesLeft = 0;
  private nodeBytes = 0;
  private readonly nodes: PushNodeState[] = [];
  private readonly nodeReader = new PushNodeReader();
  private skippedNodes = 0;
  private declaredBytes = 0;

  /**
   * `inside` is set for the message found in an encrypted or compressed envelope: after decryption
   * a compressed body is still allowed, after decompression nothing more.
   */
  constructor(private readonly options: StreamDecodeOptions = {}, private readonly inside: "none" | "encrypted" | "compressed" = "none") {
    this.limits = { ...streamLimitsDefault, ...options.limits };
    if (inside !== "none") this.phase = "type";
  }

  /**
   * Where decoding stands (or stopped, after a throw): memberlist answers an error response only to
   * a stream whose envelope (encryption, compression) it could not open.
   */
  get stage(): "label" | "envelope" | "message" | "done" {
    if (this.phase === "label") return "label";
    if (this.phase === "done") return "done";
    if (this.phase === "encrypted" || this.phase === "compressed" || this.envelopeFailed) return "envelope";
    return "message";
  }
  private envelopeFailed = false;

  /**
   * memberlist's message type once its first byte is known (after the label; the inner type of a
   * compressed stream once inflated), else null: the transport caps concurrent push/pulls by it.
   */
  get messageType(): number | null {
    return this.typeByte;
  }

  get isDone(): boolean {
    return this.phase === "done";
  }

  /** Bytes held for a value not yet complete. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  /** Appends a chunk; returns the message once it is whole (and then ignores further bytes). Throws WireError. */
  push(chunk: Uint8Array): DecodedStream | null {
    if (this.phase === "done") return null;
    this.append(chunk);
    return this.run();
  }

  private run(): DecodedStream | null {
    for (;;) {
      const progressed = this.step();
      if (this.phase === "done") return this.result;
      if (!progressed) return null;
    }
  }

  /** One phase's work; false when it needs more bytes. */
  private step(): boolean {
    switch (this.phase) {
      case "label": return this.readLabel();
      case "type": return this.readType();
      case "encrypted": return this.readEncrypted();
      case "compressed": return this.readCompressed();
      case "pushPullHeader": return this.readPushPullHeader();
      case "nodes": return this.readNode();
      case "userState": return this.readUserState();
      case "userHeader": return this.readUserHeader();
      case "userBody": return this.readUserBody();
      case "body": return this.readBody();
      case "done": return false;
    }
  }

  private readLabel(): boolean {
    if (this.bufferedBytes < 1) return false;
    let label = "";
    if (this.data[this.start] === MemberlistMsgType.hasLabel) {
      if (this.bufferedBytes < 2) return false;
      const size = this.data[this.start + 1]!;
      if (size < 1) wireFail("bad-label", "label header present but empty");
      if (this.bufferedBytes < 2 + size) return false;
      label = new TextDecoder().decode(this.data.subarray(this.start + 2, this.start + 2 + size));
      this.start += 2 + size;
    }
    if (label !== (this.options.label ?? "")) wireFail("bad-label", `stream label ${JSON.stringify(label)} is not ours`);
    this.phase = "type";
    return true;
  }

  private readType(): boolean {
    if (this.bufferedBytes < 1) return false;
    const t = this.data[this.start]!;
    this.start++;
    this.typeByte = t;
    if (t === MemberlistMsgType.encrypt) {
      this.typeByte = null;
      this.envelopeFailed = true;
      if (this.inside !== "none") wireFail("unsupported", "encrypted message inside an envelope");
      if (this.options.decrypt === undefined) wireFail("unsupported", "remote state is encrypted and encryption is not configured");
      this.envelopeFailed = false;
      this.phase = "encrypted";
      return true;
    }
    if (this.options.requireEncryption && this.inside === "none") {
      this.envelopeFailed = true;
      wireFail("not-encrypted", "encryption is configured but remote state is not encrypted");
    }
    switch (t) {
      case MemberlistMsgType.pushPull: this.phase = "pushPullHeader"; break;
      case MemberlistMsgType.user: this.phase = "userHeader"; break;
      case MemberlistMsgType.compress:
        if (this.inside === "compressed") wireFail("unsupported", "compressed message inside a compressed stream");
        this.typeByte = null;
        this.phase = "compressed";
        break;
      case MemberlistMsgType.compound:
      case MemberlistMsgType.hasCrc:
      case MemberlistMsgType.hasLabel: return wireFail("unsupported", `message type ${t} on a stream`);
      default: this.phase = "body";
    }
    return true;
  }

  /** The next msgpack value's bytes once whole, or null; `bytesMax` bounds its declared length. */
  private nextValue(bytesMax: number, what: string): Uint8Array | null {
    const valueEnd = this.nextValueEnd(bytesMax, what);
    if (valueEnd < 0) return null;
    const bytes = this.data.subarray(this.start, valueEnd);
    this.start = valueEnd;
    return bytes;
  }

  /**
   * Where the msgpack value at `start` ends once it is whole, else -1 (the skipper keeps its place
   * for the next chunk). `start` is left for the caller to move.
   */
  private nextValueEnd(bytesMax: number, what: string): number {
    if (!this.skipping) {
      this.skipper.reset(this.start);
      this.skipping = true;
    }
    const valueEnd = this.skipper.advance(this.data, this.end);
    if (this.skipper.pos - this.start > bytesMax) {
      wireFail("oversized", `${what} declares at least ${this.skipper.pos - this.start} bytes, limit ${bytesMax}`);
    }
    if (valueEnd === null) return -1;
    this.skipping = false;
    return valueEnd;
  }

  /** [10][length u32 BE][version, nonce, ciphertext, tag]; the first 5 bytes and the label are authenticated. */
  private readEncrypted(): boolean {
    if (this.bufferedBytes < 4) return false;
    const view = new DataView(this.data.buffer, this.data.byteOffset + this.start, 4);
    const payloadBytes = view.getUint32(0);
    if (payloadBytes > encryptedStreamBytesMax) {
      this.envelopeFailed = true;
      wireFail("oversized", `remote node state is larger than limit (${payloadBytes} > ${encryptedStreamBytesMax})`);
    }
    if (this.bufferedBytes < 4 + payloadBytes) return false;
    const label = new TextEncoder().encode(this.options.label ?? "");
    const aad = new Uint8Array(5 + label.length);
    aad[0] = MemberlistMsgType.encrypt;
    aad.set(this.data.subarray(this.start, this.start + 4), 1);
    aad.set(label, 5);
    const payload = this.data.subarray(this.start + 4, this.start + 4 + payloadBytes);
    this.start += 4 + payloadBytes;
    this.envelopeFailed = true;
    const plain = this.options.decrypt!(payload, aad);
    this.envelopeFailed = false;
    if (plain.length === 0) wireFail("empty", "decrypted stream is empty");
    return this.inner(plain, "encrypted", "encrypted stream message is incomplete");
  }

  private readCompressed(): boolean {
    const bytes = this.nextValue(this.limits.compressedBytesMax, "compressed stream");
    if (bytes === null) return false;
    this.envelopeFailed = true;
    const inflated = decompressStruct(decodeGoValue(bytes, "compress"), this.limits.decompressedBytesMax);
    this.envelopeFailed = false;
    return this.inner(inflated, "compressed", "compressed stream message is incomplete");
  }

  /** The one message inside an envelope: it must be whole, and what follows it is ignored. */
  private inner(bytes: Uint8Array, envelope: "encrypted" | "compressed", incomplete: string): boolean {
    const decoder = new StreamDecoder({ limits: this.limits }, envelope);
    const found = decoder.push(bytes);
    this.typeByte = decoder.messageType;
    if (found === null) wireFail("truncated", incomplete);
    return this.finish(found.msg, found.skippedNodes);
  }

  private readBody(): boolean {
    const bytes = this.nextValue(this.limits.userMsgBytesMax, "message");
    if (bytes === null) return false;
    const whole = new Uint8Array(bytes.length + 1);
    whole[0] = this.typeByte!;
    whole.set(bytes, 1);
    return this.finish(decodeMessage(whole), 0);
  }

  private readPushPullHeader(): boolean {
    const bytes = this.nextValue(4096, "push/pull header");
    if (bytes === null) return false;
    const header = new GoStructReader(decodeGoValue(bytes, "push/pull header"), "push/pull header");
    const nodeCount = header.int("Nodes");
    const userStateBytes = header.int("UserStateLen");
    if (nodeCount < 0 || userStateBytes < 0) wireFail("bad-field", `push/pull header declares ${nodeCount} nodes, ${userStateBytes} bytes of user state`);
    if (nodeCount > this.limits.nodesMax) {
      wireFail("oversized", `push/pull of ${nodeCount} nodes, limit ${this.limits.nodesMax}`);
    }
    if (userStateBytes > this.limits.userStateBytesMax) {
      wireFail("oversized", `push/pull user state of ${userStateBytes} bytes, limit ${this.limits.userStateBytesMax}`);
    }
    this.join = header.bool("Join");
    this.nodesLeft = nodeCount;
    this.declaredBytes = userStateBytes;
    this.phase = "nodes";
    return true;
  }

  /** Node states, as many as the buffer holds whole; false when the next one needs more bytes. */
  private readNode(): boolean {
    const reader = this.nodeReader;
    while (this.nodesLeft > 0) {
      const valueStart = this.start;
      const bytesMax = this.limits.nodeBytesMax - this.nodeBytes;
      // One pass for a whole node state in the buffer; the skipper only for one cut short by the
      // chunk's end (it resumes where it stopped) or one the fast reader leaves to the general path.
      let node = this.skipping ? slowPath : reader.read(this.data, valueStart, this.end);
      let valueEnd = reader.end;
      if (node === slowPath || valueEnd - valueStart > bytesMax) {
        valueEnd = this.nextValueEnd(bytesMax, "push/pull node states");
        if (valueEnd < 0) return false;
        node = reader.read(this.data, valueStart, valueEnd);
        if (node === slowPath || reader.end !== valueEnd) node = this.readNodeSlowly(this.data.subarray(valueStart, valueEnd));
      }
      this.start = valueEnd;
      this.nodeBytes += valueEnd - valueStart;
      this.nodesLeft--;
      if (node === skippedNode) this.skippedNodes++;
      else this.nodes.push(node);
    }
    this.phase = "userState";
    return true;
  }

  /** The general path, for what the fast reader leaves (and for every malformed node state). */
  private readNodeSlowly(bytes: Uint8Array): PushNodeState | typeof skippedNode {
    // No per-node strings on the hot path: the index goes into the message only when one fails.
    const index = this.nodes.length + this.skippedNodes;
    try {
      return readPushNodeState(decodeGoValue(bytes, "push/pull node")) ?? skippedNode;
    } catch (e) {
      if (e instanceof WireError) throw new WireError(e.reason, `node ${index}: ${e.message}`);
      throw e;
    }
  }

  private readUserState(): boolean {
    if (this.bufferedBytes < this.declaredBytes) return false;
    let userState: SerfMessage | null = null;
    if (this.declaredBytes > 0) userState = decodeSerfMessage(this.data.subarray(this.start, this.start + this.declaredBytes));
    this.start += this.declaredBytes;
    const msg: PushPull = { type: "pushPull", Join: this.join, Nodes: this.nodes, UserState: userState };
    return this.finish(msg, this.skippedNodes);
  }

  private readUserHeader(): boolean {
    const bytes = this.nextValue(4096, "user message header");
    if (bytes === null) return false;
    const msgBytes = new GoStructReader(decodeGoValue(bytes, "user header"), "user header").int("UserMsgLen");
    if (msgBytes < 0) wireFail("bad-field", `user message of ${msgBytes} bytes`);
    if (msgBytes > this.limits.userMsgBytesMax) {
      wireFail("oversized", `user message of ${msgBytes} bytes, limit ${this.limits.userMsgBytesMax}`);
    }
    this.declaredBytes = msgBytes;
    this.phase = "userBody";
    return true;
  }

  private readUserBody(): boolean {
    if (this.bufferedBytes < this.declaredBytes) return false;
    const body = this.data.subarray(this.start, this.start + this.declaredBytes);
    this.start += this.declaredBytes;
    // memberlist hands a zero-length user message to Serf, which ignores it.
    return this.finish(body.length === 0 ? null : { type: "user", Msg: decodeSerfMessage(body) }, 0);
  }

  private finish(msg: MemberlistMessage | null, skippedNodes: number): boolean {
    this.result = { msg, byteLength: this.consumed + this.start, skippedNodes };
    this.phase = "done";
    this.data = new Uint8Array(0);
    this.start = 0;
    this.end = 0;
    return true;
  }

  /** Appends, first dropping decoded bytes when that makes room (each byte is moved O(1) times amortised). */
  private append(chunk: Uint8Array): void {
    const needed = this.end - this.start + chunk.length;
    if (this.end + chunk.length > this.data.length) {
      const capacity = needed <= this.data.length / 2 ? this.data.length : Math.max(this.data.length * 2, needed);
      if (capacity === this.data.length) this.data.copyWithin(0, this.start, this.end);
      else {
        const grown = new Uint8Array(capacity);
        grown.set(this.data.subarray(this.start, this.end), 0);
        this.data = grown;
      }
      if (this.skipping) this.skipper.shift(-this.start);
      this.consumed += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    this.data.set(chunk, this.end);
    this.end += chunk.length;
  }
}
