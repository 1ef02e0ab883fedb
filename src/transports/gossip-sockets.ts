/**
 * Real sockets for gossip, the way memberlist's NetTransport binds them: one UDP socket (probes,
 * acks, gossip) and one TCP listener (push/pull, TCP fallback pings, large user messages) on the
 * same ip:port. Bytes are turned into decoded messages by the pure codec in src/core/gossip/wire;
 * anything malformed is counted by reason, logged (rate-limited, with the sender) and dropped.
 * With a keyring, everything sent is sealed with AES-GCM and everything received must open with
 * one of its keys (memberlist's GossipVerifyIncoming and GossipVerifyOutgoing, both on).
 *
 * Streams follow memberlist: the side that dials writes one message and, for a push/pull or a
 * ping, reads one reply on the same connection; the side that accepts reads one message, replies
 * when its core asks (`tcp-reply` addressed to the connection's remote address), then closes.
 */
import type dgram from "node:dgram";
import net from "node:net";
import type { MemberlistMessage } from "../core/gossip/messages.ts";
import { MemberlistMsgType } from "../core/gossip/messages.ts";
import { WireError, type WireErrorReason } from "../core/gossip/wire/errors.ts";
import type { PacketMessage } from "../core/gossip/wire/memberlist-codec.ts";
import { decodePacket, encodePackets, udpPacketBytesDefault } from "../core/gossip/wire/packet.ts";
import { StreamDecoder, type StreamLimits } from "../core/gossip/wire/stream-decoder.ts";
import { encodeStream } from "../core/gossip/wire/stream.ts";
import { BoundGossipSockets, joinHostPort, splitHostPort } from "./gossip-bind.ts";
import { type GossipKeyring, encryptOverheadBytes, encryptedBytes } from "./gossip-keyring.ts";
import { DropLog, type GossipLogger } from "./gossip-log.ts";

export { joinHostPort, splitHostPort } from "./gossip-bind.ts";

export type GossipVia = "udp" | "tcp" | "tcp-reply";

/** memberlist's maxPushPullRequests: push/pull streams read at once; one more is closed unread. */
export const pushPullConcurrencyMaxDefault = 128;

export interface GossipSocketsOptions {
  readonly bindHost: string;
  /** 0 picks a free port (the same one is then used for TCP). */
  readonly bindPort: number;
  /** memberlist's Label: packets and streams with another label are refused. */
  readonly label?: string;
  /** Largest UDP packet we send (memberlist UDPBufferSize). */
  readonly udpPacketBytes?: number;
  /** LZW-compress what we send (memberlist EnableCompression); we always accept compressed input. */
  readonly compress?: boolean;
  /** Prefix every UDP packet with a CRC32 (true) or none (false); unset, send() decides per packet. */
  readonly crc?: boolean;
  /** A stream with no complete message or reply within this long is closed (memberlist TCPTimeout). */
  readonly tcpTimeoutMs?: number;
  /** Sockets bound earlier (see gossip-bind.ts); bindHost/bindPort are then ignored. */
  readonly bound?: BoundGossipSockets;
  /** Gossip encryption: seal everything sent with the primary key, accept only what a key opens. */
  readonly keyring?: GossipKeyring;
  /** Where drops, refused streams and remote errors are logged (rate-limited per reason). */
  readonly logger?: GossipLogger;
  /** At most one log line per drop reason this often (default 10 s). */
  readonly dropLogIntervalMs?: number;
  /** Bounds on what an incoming stream may declare (memberlist's defaults). */
  readonly streamLimits?: Partial<StreamLimits>;
  /** Concurrent incoming push/pulls (memberlist: 128). */
  readonly pushPullConcurrencyMax?: number;
}

/** Plain numbers, for the agent's metrics to read; they only ever grow. */
export interface GossipSocketCounters {
  packetsIn: number;
  packetsOut: number;
  streamsIn: number;
  streamsOut: number;
  udpBytesIn: number;
  udpBytesOut: number;
  tcpBytesIn: number;
  tcpBytesOut: number;
  /** Dropped input, by codec reason ("bad-crc", "truncated", "key-mismatch", ...). */
  dropped: Partial<Record<WireErrorReason, number>>;
  /** Messages we could not send (too large for a packet, a dial that failed, a closed stream). */
  sendFailures: number;
  /** Incoming push/pulls closed unread because pushPullConcurrencyMax were already being read. */
  pushPullsRefused: number;
  /** Error responses we sent on streams we could not open (memberlist errResp). */
  errorResponsesSent: number;
  /** Error responses peers sent us. */
  remoteErrors: number;
}

export type GossipReceiver = (from: string, msg: MemberlistMessage, via: GossipVia) => void;

/** Per send: whether UDP packets to this peer carry a CRC (memberlist: when the peer's protocol max is >= 5). */
export interface SendOptions {
  readonly crc?: boolean;
}

/** The codec works on plain Uint8Arrays; a Buffer would leak into decoded records. */
function plainBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

const dropMessages: Partial<Record<WireErrorReason, string>> = {
  "key-mismatch": "encryption key mismatch",
  "not-encrypted": "encryption key mismatch: peer sent plaintext and we require encryption",
  "bad-label": "discarding input with an unacceptable label",
  "bad-crc": "invalid checksum",
};

export class GossipSockets {
  readonly counters: GossipSocketCounters = {
    packetsIn: 0, packetsOut: 0, streamsIn: 0, streamsOut: 0, udpBytesIn: 0, udpBytesOut: 0, tcpBytesIn: 0, tcpBytesOut: 0,
    dropped: {}, sendFailures: 0, pushPullsRefused: 0, errorResponsesSent: 0, remoteErrors: 0,
  };
  /** Accepted streams waiting for our reply, by their remote address. */
  private readonly inbound = new Map<string, net.Socket>();
  private readonly outbound = new Set<net.Socket>();
  private receiver: GossipReceiver = () => {};
  private unreachable: (to: string) => void = () => {};
  private closed = false;
  private handedOver = false;
  private activePushPulls = 0;
  private readonly udp: dgram.Socket;
  private readonly tcp: net.Server;
  private readonly log: DropLog;

  private constructor(
    private readonly bound: BoundGossipSockets,
    readonly localAddr: string,
    private readonly options: GossipSocketsOptions,
  ) {
    this.udp = bound.udp;
    this.tcp = bound.tcp;
    this.log = new DropLog(options.logger, options.dropLogIntervalMs);
  }

  static async open(options: GossipSocketsOptions): Promise<GossipSockets> {
    const bound = options.bound ?? await BoundGossipSockets.bind(options.bindHost, options.bindPort);
    const sockets = new GossipSockets(bound, joinHostPort(bound.host, bound.port), options);
    bound.udp.on("error", () => sockets.counters.sendFailures++);
    return sockets;
  }

  /** Drop-log lines written and folded (for tests). */
  get logStats(): { logged: number; suppressed: number } {
    return { logged: this.log.linesLogged, suppressed: this.log.linesSuppressed };
  }

  /**
   * Registers the single receiver of incoming messages, and starts delivering: what arrived since
   * the sockets were bound is handed to it first.
   */
  onMessage(receiver: GossipReceiver): void {
    this.receiver = receiver;
    if (this.handedOver) return;
    this.handedOver = true;
    this.bound.handOver({
      onPacket: (packet, rinfo) => this.onPacket(plainBytes(packet), joinHostPort(rinfo.address, rinfo.port)),
      onConnection: (socket) => this.onInboundStream(socket),
    });
  }

  /** Told when a stream to `to` could not be opened (refused, unroutable): a join can move on at once. */
  onUnreachable(handler: (to: string) => void): void {
    this.unreachable = handler;
  }

  /** Sends messages to `to`: as UDP packets, on a new stream, or as the reply on an accepted stream. */
  send(to: string, msgs: readonly MemberlistMessage[], via: GossipVia, sendOptions: SendOptions = {}): void {
    if (this.closed || msgs.length === 0) return;
    try {
      if (via === "udp") this.sendPackets(to, msgs, this.options.crc ?? sendOptions.crc ?? false);
      else if (via === "tcp") for (const m of msgs) this.dial(to, m);
      else this.reply(to, msgs);
    } catch (e) {
      if (!(e instanceof WireError) && !(e instanceof Error && /bad address/.test(e.message))) throw e;
      this.counters.sendFailures++;
      this.log.drop("warn", "send-failed", "gossip: could not send", { peer: to, via, error: e.message });
    }
  }

  /** Closes every socket at once, with no goodbye: to peers this endpoint simply stops answering. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.inbound.values(), ...this.outbound]) s.destroy();
    this.inbound.clear();
    this.outbound.clear();
    await Promise.all([
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
      new Promise<void>((resolve) => this.tcp.close(() => resolve())),
    ]);
  }

  private onPacket(packet: Uint8Array, from: string): void {
    this.counters.packetsIn++;
    this.counters.udpBytesIn += packet.length;
    let msgs: MemberlistMessage[];
    try {
      const keyring = this.options.keyring;
      const decoded = decodePacket(packet, {
        label: this.options.label ?? "",
        ...(keyring ? { decrypt: (p: Uint8Array, aad: Uint8Array) => keyring.decrypt(p, aad) } : {}),
      });
      for (const e of decoded.partErrors) this.drop(e, from, "udp");
      msgs = decoded.msgs;
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      return this.drop(e, from, "udp");
    }
    for (const m of msgs) this.receive(from, m, "udp");
  }

  private receive(from: string, msg: MemberlistMessage, via: GossipVia): void {
    if (msg.type === "err") {
      this.counters.remoteErrors++;
      this.log.drop("warn", "remote-error", "gossip: peer answered with an error", { peer: from, via, error: msg.Error });
    }
    this.receiver(from, msg, via);
  }

  private drop(e: WireError, from: string, via: GossipVia): void {
    this.counters.dropped[e.reason] = (this.counters.dropped[e.reason] ?? 0) + 1;
    const level = e.reason === "key-mismatch" || e.reason === "not-encrypted" ? "error" : "warn";
    const what = dropMessages[e.reason] ?? "dropped malformed input";
    this.log.drop(level, e.reason, `gossip: ${what} from ${from}`, { peer: from, via, error: e.message });
  }

  private sendPackets(to: string, msgs: readonly MemberlistMessage[], crc: boolean): void {
    const { host, port } = splitHostPort(to);
    const streamOnly = msgs.filter((m) => m.type === "pushPull");
    if (streamOnly.length > 0) this.counters.sendFailures += streamOnly.length;
    const keyring = this.options.keyring;
    const packets = encodePackets(msgs.filter((m): m is PacketMessage => m.type !== "pushPull"), {
      packetBytesMax: this.options.udpPacketBytes ?? udpPacketBytesDefault,
      crc,
      compress: this.options.compress ?? false,
      label: this.options.label ?? "",
      ...(keyring ? { encrypt: (p: Uint8Array, aad: Uint8Array) => keyring.encrypt(p, aad), encryptOverheadBytes } : {}),
    });
    for (const p of packets) {
      this.counters.packetsOut++;
      this.counters.udpBytesOut += p.length;
      this.udp.send(p, port, host, (err) => {
        if (err) this.counters.sendFailures++;
      });
    }
  }

  private streamBytes(m: MemberlistMessage): Uint8Array {
    const keyring = this.options.keyring;
    const bytes = encodeStream(m, {
      compress: this.options.compress ?? false,
      label: this.options.label ?? "",
      ...(keyring ? { encrypt: (p: Uint8Array, aad: Uint8Array) => keyring.encrypt(p, aad), encryptedBytes } : {}),
    });
    this.counters.tcpBytesOut += bytes.length;
    return bytes;
  }

  private reply(to: string, msgs: readonly MemberlistMessage[]): void {
    const socket = this.inbound.get(to);
    if (socket === undefined) {
      this.counters.sendFailures += msgs.length;
      return;
    }
    this.inbound.delete(to);
    for (const m of msgs) socket.write(this.streamBytes(m));
    socket.end();
  }

  private onInboundStream(socket: net.Socket): void {
    this.counters.streamsIn++;
    const from = joinHostPort(socket.remoteAddress ?? "?", socket.remotePort ?? 0);
    this.inbound.set(from, socket);
    let holdsPushPullSlot = false;
    this.readOneMessage(socket, from, "tcp", {
      admit: (type) => {
        if (type !== MemberlistMsgType.pushPull) return true;
        if (this.activePushPulls >= (this.options.pushPullConcurrencyMax ?? pushPullConcurrencyMaxDefault)) {
          this.counters.pushPullsRefused++;
          this.log.drop("error", "too-many-push-pulls", "gossip: too many pending push/pull requests", { peer: from, active: this.activePushPulls });
          return false;
        }
        this.activePushPulls++;
        holdsPushPullSlot = true;
        return true;
      },
      onMessage: (msg) => {
        if (msg !== null) this.receive(from, msg, "tcp");
        // Nothing answers a user message: close now rather than at the timeout (memberlist does too).
        if ((msg === null || msg.type === "user") && this.inbound.get(from) === socket) {
          this.inbound.delete(from);
          socket.end();
        }
      },
      onClose: () => {
        if (this.inbound.get(from) === socket) this.inbound.delete(from);
        if (holdsPushPullSlot) this.activePushPulls--;
        holdsPushPullSlot = false;
      },
    });
  }

  private dial(to: string, msg: MemberlistMessage): void {
    const { host, port } = splitHostPort(to);
    this.counters.streamsOut++;
    const socket = net.connect({ host, port });
    this.outbound.add(socket);
    socket.on("connect", () => {
      socket.write(this.streamBytes(msg));
      // memberlist answers a push/pull or a ping on the same stream; a user message gets nothing back.
      if (msg.type !== "pushPull" && msg.type !== "ping") socket.end();
    });
    socket.on("error", () => {
      this.counters.sendFailures++;
      if (!this.closed && socket.bytesWritten === 0) this.unreachable(to);
    });
    this.readOneMessage(socket, to, "tcp-reply", {
      admit: () => true,
      onMessage: (reply) => {
        socket.destroy();
        if (reply !== null) this.receive(to, reply, "tcp-reply");
      },
      onClose: () => this.outbound.delete(socket),
    });
  }

  /**
   * Decodes a stream chunk by chunk (StreamDecoder: linear in its length, whatever the chunking)
   * until one whole message has arrived, then hands it over once. A stream that fails to decode is
   * logged and closed; if it failed in its envelope (encryption, compression), an incoming one first
   * gets memberlist's error response, so the dialer reports why rather than a bare EOF.
   */
  private readOneMessage(socket: net.Socket, peer: string, via: GossipVia, handlers: {
    admit: (type: number) => boolean;
    onMessage: (m: MemberlistMessage | null) => void;
    onClose: () => void;
  }): void {
    const keyring = this.options.keyring;
    const decoder = new StreamDecoder({
      label: this.options.label ?? "",
      ...(this.options.streamLimits ? { limits: this.options.streamLimits } : {}),
      ...(keyring ? { decrypt: (p: Uint8Array, aad: Uint8Array) => keyring.decrypt(p, aad), requireEncryption: true } : {}),
    });
    let admitted = false;
    let done = false;
    socket.setTimeout(this.options.tcpTimeoutMs ?? 10_000, () => socket.destroy());
    socket.on("close", handlers.onClose);
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      if (done) return;
      this.counters.tcpBytesIn += chunk.length;
      let found: ReturnType<StreamDecoder["push"]>;
      try {
        found = decoder.push(plainBytes(chunk));
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        done = true;
        this.drop(e, peer, via);
        return this.failStream(socket, via, decoder.stage === "envelope", e);
      }
      if (!admitted && decoder.messageType !== null) {
        admitted = true;
        if (!handlers.admit(decoder.messageType)) {
          done = true;
          return void socket.destroy();
        }
      }
      if (found === null) return;
      done = true;
      if (this.closed) return;
      handlers.onMessage(found.msg);
    });
  }

  private failStream(socket: net.Socket, via: GossipVia, envelope: boolean, e: WireError): void {
    if (via !== "tcp" || !envelope || this.closed) return void socket.destroy();
    for (const [addr, s] of this.inbound) if (s === socket) this.inbound.delete(addr);
    try {
      // Sealed with our primary key when we have one, as memberlist's rawSendMsgStream does.
      socket.end(this.streamBytes({ type: "err", Error: e.message.replace(/^[a-z-]+: /, "") }));
      this.counters.errorResponsesSent++;
    } catch {
      socket.destroy();
    }
  }
}
