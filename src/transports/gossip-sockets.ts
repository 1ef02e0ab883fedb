/**
 * Real sockets for gossip, the way memberlist's NetTransport binds them: one UDP socket (probes,
 * acks, gossip) and one TCP listener (push/pull, TCP fallback pings, large user messages) on the
 * same ip:port. Bytes are turned into decoded messages by the pure codec in src/core/gossip/wire;
 * anything malformed is counted by reason and dropped.
 *
 * Streams follow memberlist: the side that dials writes one message and, for a push/pull or a
 * ping, reads one reply on the same connection; the side that accepts reads one message, replies
 * when its core asks (`tcp-reply` addressed to the connection's remote address), then closes.
 */
import type dgram from "node:dgram";
import net from "node:net";
import type { MemberlistMessage } from "../core/gossip/messages.ts";
import { WireError, type WireErrorReason } from "../core/gossip/wire/errors.ts";
import type { PacketMessage } from "../core/gossip/wire/memberlist-codec.ts";
import { decodePacket, encodePackets, udpPacketBytesDefault } from "../core/gossip/wire/packet.ts";
import { decodeStream, decompressedStreamBytesMax, encodeStream } from "../core/gossip/wire/stream.ts";
import { BoundGossipSockets, joinHostPort, splitHostPort } from "./gossip-bind.ts";

export { joinHostPort, splitHostPort } from "./gossip-bind.ts";

export type GossipVia = "udp" | "tcp" | "tcp-reply";

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
  /** Prefix UDP packets with a CRC32 (memberlist does for peers speaking protocol 5). */
  readonly crc?: boolean;
  /** A stream with no complete message or reply within this long is closed (memberlist TCPTimeout). */
  readonly tcpTimeoutMs?: number;
  /** Sockets bound earlier (see gossip-bind.ts); bindHost/bindPort are then ignored. */
  readonly bound?: BoundGossipSockets;
}

export interface GossipSocketCounters {
  packetsIn: number;
  packetsOut: number;
  streamsIn: number;
  streamsOut: number;
  /** Dropped input, by codec reason ("bad-crc", "truncated", ...). */
  dropped: Partial<Record<WireErrorReason, number>>;
  /** Messages we could not send (too large for a packet, a dial that failed, a closed stream). */
  sendFailures: number;
}

export type GossipReceiver = (from: string, msg: MemberlistMessage, via: GossipVia) => void;

/** The codec works on plain Uint8Arrays; a Buffer would leak into decoded records. */
function plainBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export class GossipSockets {
  readonly counters: GossipSocketCounters = { packetsIn: 0, packetsOut: 0, streamsIn: 0, streamsOut: 0, dropped: {}, sendFailures: 0 };
  /** Accepted streams waiting for our reply, by their remote address. */
  private readonly inbound = new Map<string, net.Socket>();
  private readonly outbound = new Set<net.Socket>();
  private receiver: GossipReceiver = () => {};
  private unreachable: (to: string) => void = () => {};
  private closed = false;
  private handedOver = false;
  private readonly udp: dgram.Socket;
  private readonly tcp: net.Server;

  private constructor(
    private readonly bound: BoundGossipSockets,
    readonly localAddr: string,
    private readonly options: GossipSocketsOptions,
  ) {
    this.udp = bound.udp;
    this.tcp = bound.tcp;
  }

  static async open(options: GossipSocketsOptions): Promise<GossipSockets> {
    const bound = options.bound ?? await BoundGossipSockets.bind(options.bindHost, options.bindPort);
    const sockets = new GossipSockets(bound, joinHostPort(bound.host, bound.port), options);
    bound.udp.on("error", () => sockets.counters.sendFailures++);
    return sockets;
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
  send(to: string, msgs: readonly MemberlistMessage[], via: GossipVia): void {
    if (this.closed || msgs.length === 0) return;
    try {
      if (via === "udp") this.sendPackets(to, msgs);
      else if (via === "tcp") for (const m of msgs) this.dial(to, m);
      else this.reply(to, msgs);
    } catch (e) {
      if (!(e instanceof WireError) && !(e instanceof Error && /bad address/.test(e.message))) throw e;
      this.counters.sendFailures++;
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
    let msgs: MemberlistMessage[];
    try {
      const decoded = decodePacket(packet, { label: this.options.label ?? "" });
      for (const e of decoded.partErrors) this.drop(e.reason);
      msgs = decoded.msgs;
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      return this.drop(e.reason);
    }
    for (const m of msgs) this.receiver(from, m, "udp");
  }

  private drop(reason: WireErrorReason): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
  }

  private sendPackets(to: string, msgs: readonly MemberlistMessage[]): void {
    const { host, port } = splitHostPort(to);
    const streamOnly = msgs.filter((m) => m.type === "pushPull");
    if (streamOnly.length > 0) this.counters.sendFailures += streamOnly.length;
    const packets = encodePackets(msgs.filter((m): m is PacketMessage => m.type !== "pushPull"), {
      packetBytesMax: this.options.udpPacketBytes ?? udpPacketBytesDefault,
      crc: this.options.crc ?? false,
      compress: this.options.compress ?? false,
      label: this.options.label ?? "",
    });
    for (const p of packets) {
      this.counters.packetsOut++;
      this.udp.send(p, port, host, (err) => {
        if (err) this.counters.sendFailures++;
      });
    }
  }

  private streamBytes(m: MemberlistMessage): Uint8Array {
    return encodeStream(m, { compress: this.options.compress ?? false, label: this.options.label ?? "" });
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
    this.readOneMessage(socket, (msg) => this.receiver(from, msg, "tcp"), () => this.inbound.delete(from));
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
    this.readOneMessage(socket, (reply) => {
      socket.destroy();
      this.receiver(to, reply, "tcp-reply");
    }, () => this.outbound.delete(socket));
  }

  /** Buffers a stream until one whole message has arrived, then hands it over once. */
  private readOneMessage(socket: net.Socket, onMessage: (m: MemberlistMessage) => void, onClose: () => void): void {
    const buffer = new StreamBuffer();
    let done = false;
    socket.setTimeout(this.options.tcpTimeoutMs ?? 10_000, () => socket.destroy());
    socket.on("close", onClose);
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      if (done) return;
      let found: ReturnType<typeof decodeStream>;
      try {
        buffer.append(chunk);
        found = decodeStream(buffer.bytes(), { label: this.options.label ?? "" });
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        this.drop(e.reason);
        done = true;
        return void socket.destroy();
      }
      if (found === null) return;
      done = true;
      if (this.closed) return;
      onMessage(found.msg);
    });
  }
}

/** memberlist's largest stream: a push/pull of 20 MiB of node states plus 20 MiB of user state. */
const streamBytesMax = decompressedStreamBytesMax + 1024 * 1024;

/** The bytes of one stream so far, in a buffer that doubles, so a large push/pull is not copied per chunk. */
class StreamBuffer {
  private data = new Uint8Array(4096);
  private length = 0;

  append(chunk: Uint8Array): void {
    const needed = this.length + chunk.length;
    if (needed > streamBytesMax) throw new WireError("oversized", `stream of more than ${streamBytesMax} bytes`);
    if (needed > this.data.length) {
      const grown = new Uint8Array(Math.min(Math.max(this.data.length * 2, needed), streamBytesMax));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(chunk, this.length);
    this.length = needed;
  }

  bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }
}
