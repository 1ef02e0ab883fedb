/**
 * Raft between servers over TCP: the `Transport<Message>` a RaftHost sends through in the agent.
 * Addresses are "ip:port" strings: a server's Raft NodeId is its advertised RPC address.
 *
 * Outgoing: one connection per peer, dialed on the first message, which opens with the Raft
 * stream type and a hello naming our address. Messages are written as they come (pipelined: Raft
 * messages are one-way, answers arrive on the peer's own connection to us). While a dial is in
 * progress, or waiting out its backoff, they wait in a bounded queue that drops the oldest (Raft
 * retries what is lost); a failed dial drops what waited for it, and the next message redials
 * once the backoff (capped, jittered, exponential) has passed.
 * A message carrying a snapshot leaves as a head (the message without its data) and the data raw
 * in 1 MiB chunks, written from the core's own bytes; the receiver reassembles it into one buffer
 * of the announced size (bounded by the server's raftMessageBytesMax) before delivering it.
 *
 * Incoming: Raft streams accepted by the RpcServer; each message is validated (the core's
 * `messageProblem`, plus `from` must be the hello's address) before it reaches `onMessage`, and a
 * stream that sends anything malformed is closed with the reason logged.
 */
import net from "node:net";
import type { Message } from "../../core/raft/types.ts";
import { messageProblem } from "../../core/raft/validate.ts";
import type { Transport } from "../transport.ts";
import { splitHostPort } from "../gossip-bind.ts";
import { backoffDelayMs, type BackoffConfig } from "./backoff.ts";
import { decodeHello, decodeRaftMessage, decodeSnapshotHead, encodeHello, encodeRaftMessage, encodeSnapshotHead } from "./codec.ts";
import { FramedSocket, type Logger } from "./conn.ts";
import { FrameError, FrameKind, StreamType, type DecodedMessage } from "./frame.ts";
import type { RpcServer } from "./server.ts";

export interface RaftTcpTransportOptions {
  /** The server whose port receives our peers' Raft streams. */
  readonly server: RpcServer;
  /** Our advertised RPC address: the NodeId peers send to and we put in every `from`. */
  readonly localAddr: string;
  /** Default: the server's logger. */
  readonly logger?: Logger;
  /** Messages held per peer while its connection is down. Default 1024. */
  readonly queueMessagesMax?: number;
  /** A connected peer with more unsent bytes than this gets new messages dropped. Default 64 MiB. */
  readonly writeBufferBytesMax?: number;
  /** Redial backoff. Default 20 ms doubling to 1 s. */
  readonly backoff?: BackoffConfig;
  /** A dial not answered within this long counts as failed. Default 2 s. */
  readonly connectTimeoutMs?: number;
  /** [0, 1) for backoff jitter. Default Math.random. */
  readonly random?: () => number;
  /** Close the server too on close() (when the transport was given a server of its own). */
  readonly closeServer?: boolean;
}

export type RaftDropReason = "queue-full" | "unreachable" | "backpressure" | "bad-address" | "to-self" | "encode" | "closed" | "no-receiver";

export interface RaftTransportCounters {
  sent: number;
  received: number;
  dials: number;
  dialFailures: number;
  /** Outgoing messages dropped, by reason. */
  dropped: Partial<Record<RaftDropReason, number>>;
  /** Incoming streams closed for a bad frame, hello or message. */
  rejectedStreams: number;
}

type PeerState = "idle" | "connecting" | "open" | "backoff";

interface Peer {
  readonly addr: string;
  state: PeerState;
  conn: FramedSocket | null;
  queue: Message[];
  failures: number;
  timer: NodeJS.Timeout | null;
}

export class RaftTcpTransport implements Transport<Message> {
  readonly localAddr: string;
  readonly counters: RaftTransportCounters = { sent: 0, received: 0, dials: 0, dialFailures: 0, dropped: {}, rejectedStreams: 0 };
  private readonly server: RpcServer;
  private readonly logger: Logger;
  private readonly queueMessagesMax: number;
  private readonly writeBufferBytesMax: number;
  private readonly backoff: BackoffConfig;
  private readonly connectTimeoutMs: number;
  private readonly random: () => number;
  private readonly peers = new Map<string, Peer>();
  private readonly incoming = new Set<FramedSocket>();
  private readonly warnedAddrs = new Set<string>();
  private receiver: ((from: string, message: Message) => void) | null = null;
  private closed = false;

  constructor(private readonly options: RaftTcpTransportOptions) {
    this.server = options.server;
    this.localAddr = options.localAddr;
    this.logger = options.logger ?? options.server.logger;
    this.queueMessagesMax = options.queueMessagesMax ?? 1024;
    this.writeBufferBytesMax = options.writeBufferBytesMax ?? 64 * 1024 * 1024;
    this.backoff = options.backoff ?? { baseMs: 20, capMs: 1_000 };
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
    this.random = options.random ?? Math.random;
    if (!(this.queueMessagesMax >= 1)) throw new RangeError(`queueMessagesMax ${this.queueMessagesMax} < 1`);
    splitHostPort(this.localAddr);
    this.server.acceptRaft((conn, leading) => this.accept(conn, leading));
  }

  onMessage(handler: (from: string, message: Message) => void): void {
    this.receiver = handler;
  }

  send(to: string, message: Message): void {
    if (this.closed) return this.drop("closed");
    if (to === this.localAddr) return this.drop("to-self");
    const peer = this.peerFor(to);
    if (peer === null) return this.drop("bad-address");
    if (peer.state === "open") return this.write(peer, message);
    peer.queue.push(message);
    if (peer.queue.length > this.queueMessagesMax) {
      peer.queue.shift();
      this.drop("queue-full");
    }
    if (peer.state === "idle") this.dial(peer);
  }

  /** Peers and the state of our connection to each. */
  peerStates(): Record<string, PeerState> {
    return Object.fromEntries([...this.peers.values()].map((p) => [p.addr, p.state]));
  }

  /** Closes every connection and timer; queued messages are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.server.acceptRaft(null);
    for (const peer of this.peers.values()) {
      if (peer.timer !== null) clearTimeout(peer.timer);
      peer.queue = [];
      peer.conn?.close("transport closed", "debug");
    }
    for (const conn of this.incoming) conn.close("transport closed", "debug");
    this.incoming.clear();
    if (this.options.closeServer === true) await this.server.close();
  }

  private drop(reason: RaftDropReason): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
  }

  private peerFor(addr: string): Peer | null {
    const known = this.peers.get(addr);
    if (known !== undefined) return known;
    try {
      splitHostPort(addr);
    } catch (e) {
      if (!this.warnedAddrs.has(addr)) {
        this.warnedAddrs.add(addr);
        this.logger("warn", `Raft peer address is not ip:port: ${(e as Error).message}`, { peer: addr });
      }
      return null;
    }
    const peer: Peer = { addr, state: "idle", conn: null, queue: [], failures: 0, timer: null };
    this.peers.set(addr, peer);
    return peer;
  }

  private write(peer: Peer, message: Message): void {
    const conn = peer.conn!;
    if (conn.writableBytes > this.writeBufferBytesMax) return this.drop("backpressure");
    let payload: Uint8Array;
    const snapshot = message.snapshot;
    try {
      payload = snapshot !== undefined ? encodeSnapshotHead(message) : encodeRaftMessage(message);
    } catch (e) {
      this.logger("error", `Raft message to ${peer.addr} not encodable: ${(e as Error).message}`, { peer: peer.addr, type: message.type });
      return this.drop("encode");
    }
    this.counters.sent++;
    if (snapshot === undefined) {
      conn.send(FrameKind.raftMessage, payload);
      return;
    }
    // The snapshot's data goes out raw, in frame-sized views of the core's bytes: never copied.
    conn.send(FrameKind.snapshotHead, payload);
    const chunkBytes = this.server.framePayloadBytes;
    for (let offset = 0; offset < snapshot.data.length; offset += chunkBytes) {
      conn.send(FrameKind.snapshotChunk, snapshot.data.subarray(offset, offset + chunkBytes));
    }
  }

  private dial(peer: Peer): void {
    peer.state = "connecting";
    this.counters.dials++;
    const { host, port } = splitHostPort(peer.addr);
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    let openedAtMs: number | null = null;
    const conn = new FramedSocket(socket, { limits: this.server.raftLimits(), framePayloadBytes: this.server.framePayloadBytes, logger: this.logger, stream: "raft-out", remote: peer.addr });
    peer.conn = conn;
    socket.setTimeout(this.connectTimeoutMs, () => conn.close(`connect to ${peer.addr} timed out after ${this.connectTimeoutMs} ms`, "debug"));
    socket.once("connect", () => {
      openedAtMs = Date.now();
      socket.setTimeout(0);
      socket.write(new Uint8Array([StreamType.raft]));
      conn.send(FrameKind.hello, encodeHello(this.localAddr));
      peer.state = "open";
      this.logger("debug", "Raft connection open", { peer: peer.addr });
      const queued = peer.queue;
      peer.queue = [];
      for (const message of queued) this.write(peer, message);
    });
    conn.start({
      // Peers never answer on our outgoing stream: their answers come on their own connection.
      onMessage: () => {
        throw new FrameError("unexpected-frame", "data on an outgoing Raft stream");
      },
      onClose: (reason) => this.onPeerClosed(peer, conn, openedAtMs, reason),
    });
  }

  private onPeerClosed(peer: Peer, conn: FramedSocket, openedAtMs: number | null, reason: string): void {
    if (peer.conn !== conn) return;
    peer.conn = null;
    if (this.closed) return;
    if (openedAtMs === null) {
      // The messages that waited for this dial are stale by the next one; Raft sends fresh ones.
      // Dropping them also means a peer nobody sends to any more (a removed server) is not redialed.
      this.counters.dialFailures++;
      if (peer.queue.length > 0) this.counters.dropped.unreachable = (this.counters.dropped.unreachable ?? 0) + peer.queue.length;
      peer.queue = [];
    }
    // A connection that stayed up a while starts the backoff afresh; one refused at dial or
    // dropped at once (a peer that keeps rejecting us) backs off further each time.
    const stable = openedAtMs !== null && Date.now() - openedAtMs >= this.backoff.capMs;
    peer.failures = stable ? 1 : peer.failures + 1;
    const delayMs = backoffDelayMs(peer.failures, this.backoff, this.random);
    this.logger(openedAtMs !== null ? "info" : "debug", openedAtMs !== null ? "Raft connection lost" : "Raft dial failed", { peer: peer.addr, reason, retryMs: Math.round(delayMs) });
    peer.state = "backoff";
    peer.timer = setTimeout(() => {
      peer.timer = null;
      peer.state = "idle";
      if (peer.queue.length > 0 && !this.closed) this.dial(peer);
    }, delayMs);
  }

  private accept(conn: FramedSocket, leading: Uint8Array): void {
    if (this.closed) return conn.close("transport closed", "debug");
    this.incoming.add(conn);
    const stream = new IncomingRaftStream(this.server.raftLimits().messageBytesMax, (from, message) => this.check(from, message), (from, message) => this.deliver(from, message));
    conn.start({
      onMessage: (frame) => stream.onFrame(frame),
      onClose: (_reason, protocolError) => {
        this.incoming.delete(conn);
        if (protocolError) this.counters.rejectedStreams++;
      },
    }, leading);
  }

  /** Throws a FrameError when `message` is malformed or not `from` the stream's sender. */
  private check(from: string, message: Message): void {
    const problem = messageProblem(message, this.localAddr);
    if (problem !== null) throw new FrameError("bad-payload", `invalid Raft message from ${from}: ${problem}`);
    if (message.from !== from) throw new FrameError("bad-payload", `Raft message from ${message.from} on the stream of ${from}`);
  }

  private deliver(from: string, message: Message): void {
    this.check(from, message);
    this.counters.received++;
    if (this.receiver === null) return this.drop("no-receiver");
    this.receiver(from, message);
  }
}

/**
 * What one incoming Raft stream has said so far: its hello, then messages, a snapshot being
 * reassembled from its head and chunks. Anything out of that order is a FrameError.
 */
class IncomingRaftStream {
  private from: string | null = null;
  private snapshot: { readonly message: Message; readonly data: Uint8Array; filled: number } | null = null;

  constructor(
    private readonly dataBytesMax: number,
    private readonly check: (from: string, message: Message) => void,
    private readonly deliver: (from: string, message: Message) => void,
  ) {}

  onFrame(frame: DecodedMessage): void {
    const kind = `frame kind 0x${frame.kind.toString(16)}`;
    if (this.from === null) {
      if (frame.kind !== FrameKind.hello) throw new FrameError("unexpected-frame", `Raft stream opened with ${kind}, want a hello`);
      this.from = decodeHello(frame.payload).addr;
      return;
    }
    if (frame.kind === FrameKind.snapshotChunk) return this.onChunk(frame.payload);
    if (this.snapshot !== null) throw new FrameError("unexpected-frame", `${kind} from ${this.from} in the middle of a snapshot`);
    if (frame.kind === FrameKind.raftMessage) return this.deliver(this.from, decodeRaftMessage(frame.payload));
    if (frame.kind !== FrameKind.snapshotHead) throw new FrameError("unexpected-frame", `${kind} on a Raft stream from ${this.from}`);
    const head = decodeSnapshotHead(frame.payload, this.dataBytesMax);
    // Checked before any data is taken in: a misaddressed snapshot is refused at its head.
    this.check(this.from, head.message);
    this.snapshot = { message: head.message, data: new Uint8Array(head.dataBytes), filled: 0 };
    if (head.dataBytes === 0) this.finishSnapshot();
  }

  private onChunk(chunk: Uint8Array): void {
    const snapshot = this.snapshot;
    if (snapshot === null) throw new FrameError("unexpected-frame", `snapshot chunk from ${this.from} without a snapshot head`);
    if (snapshot.filled + chunk.length > snapshot.data.length) {
      throw new FrameError("oversized-message", `snapshot chunks from ${this.from} exceed the ${snapshot.data.length} bytes announced`);
    }
    snapshot.data.set(chunk, snapshot.filled);
    snapshot.filled += chunk.length;
    if (snapshot.filled === snapshot.data.length) this.finishSnapshot();
  }

  private finishSnapshot(): void {
    const { message, data } = this.snapshot!;
    this.snapshot = null;
    this.deliver(this.from!, { ...message, snapshot: { meta: message.snapshot!.meta, data } });
  }
}
