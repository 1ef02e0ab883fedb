/**
 * The server RPC port (Consul's 8300). A connection's first byte names its stream type: Raft
 * streams are handed to the Raft transport attached with `acceptRaft`, RPC streams are served
 * here by the handlers registered with `handle`. Each request runs on its own: responses go back
 * as they finish, in any order, so a blocking query that waits minutes holds up no other call on
 * the same connection. Bad input closes that connection with a logged reason and nothing else.
 */
import net from "node:net";
import { joinHostPort } from "../gossip-bind.ts";
import { decodeCancel, decodeRequest, encodePayload, type RpcFailure } from "./codec.ts";
import { FramedSocket, silentLogger, type Logger } from "./conn.ts";
import { RpcError, RpcStatus, bindErrorFor } from "./errors.ts";
import { FrameError, FrameKind, StreamType, framePayloadBytesDefault, type DecodedMessage, type FrameLimits } from "./frame.ts";

export const rpcPortDefault = 8300;

/** Answered by every server with null (Consul's name); clients ping a server that went quiet. */
export const pingMethod = "Status.Ping";

export interface RpcMeta {
  readonly method: string;
  /** The caller's address as the socket sees it ("ip:port"). */
  readonly remote: string;
  /** How long the caller waits (from the request); a blocking handler should answer before. */
  readonly timeoutMs: number | undefined;
  /** Aborted when the caller cancels (it timed out) or its connection closes. */
  readonly signal: AbortSignal;
}

export type RpcHandler = (body: unknown, meta: RpcMeta) => Promise<unknown> | unknown;

/** Given each accepted Raft stream; it owns the stream from then on. */
export type RaftStreamAcceptor = (conn: FramedSocket, leading: Uint8Array) => void;

export interface RpcServerOptions {
  /** Default 0.0.0.0 (Consul binds the server port to -bind). */
  readonly host?: string;
  /** Default 8300; 0 picks a free port. */
  readonly port?: number;
  readonly logger?: Logger;
  /** Largest frame payload accepted; also the piece size of what this server sends. Default 1 MiB. */
  readonly framePayloadBytesMax?: number;
  /** Largest RPC request reassembled. Default 64 MiB. */
  readonly rpcMessageBytesMax?: number;
  /** Largest Raft message (a snapshot) reassembled. Default 512 MiB. */
  readonly raftMessageBytesMax?: number;
  /** A connection that names no stream type within this long is closed. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Requests running at once on one connection; beyond it a request is answered 429. Default 4096. */
  readonly inflightPerConnectionMax?: number;
}

interface ResolvedOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly framePayloadBytesMax: number;
  readonly rpcMessageBytesMax: number;
  readonly raftMessageBytesMax: number;
  readonly handshakeTimeoutMs: number;
  readonly inflightPerConnectionMax: number;
}

export interface RpcServerCounters {
  connections: number;
  requests: number;
  /** Connections closed for a bad type byte, a bad frame or a bad payload. */
  rejected: number;
}

export class RpcServer {
  readonly counters: RpcServerCounters = { connections: 0, requests: 0, rejected: 0 };
  private readonly options: ResolvedOptions;
  private readonly handlers = new Map<string, RpcHandler>();
  private readonly sockets = new Set<net.Socket>();
  private readonly tcp: net.Server;
  private raftAcceptor: RaftStreamAcceptor | null = null;
  private listening = false;
  private closed = false;
  private boundPort = 0;

  constructor(options: RpcServerOptions = {}) {
    this.options = {
      host: options.host ?? "0.0.0.0",
      port: options.port ?? rpcPortDefault,
      logger: options.logger ?? silentLogger,
      framePayloadBytesMax: options.framePayloadBytesMax ?? framePayloadBytesDefault,
      rpcMessageBytesMax: options.rpcMessageBytesMax ?? 64 * 1024 * 1024,
      raftMessageBytesMax: options.raftMessageBytesMax ?? 512 * 1024 * 1024,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      inflightPerConnectionMax: options.inflightPerConnectionMax ?? 4096,
    };
    const o = this.options;
    if (!(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65535)) throw new RangeError(`server RPC port ${o.port} not in 0..65535`);
    if (!(o.rpcMessageBytesMax >= o.framePayloadBytesMax)) throw new RangeError(`rpcMessageBytesMax ${o.rpcMessageBytesMax} < framePayloadBytesMax ${o.framePayloadBytesMax}`);
    if (!(o.raftMessageBytesMax >= o.framePayloadBytesMax)) throw new RangeError(`raftMessageBytesMax ${o.raftMessageBytesMax} < framePayloadBytesMax ${o.framePayloadBytesMax}`);
    this.tcp = net.createServer((socket) => this.onConnection(socket));
    this.handle(pingMethod, () => null);
  }

  /** Creates a server and binds it; rejects with RpcBindError naming the port on failure. */
  static async listen(options: RpcServerOptions = {}): Promise<RpcServer> {
    const server = new RpcServer(options);
    await server.listen();
    return server;
  }

  /** Binds host:port. Rejects with an RpcBindError (EADDRINUSE names the port and a fix). */
  async listen(): Promise<void> {
    if (this.listening) throw new Error(`RPC server already listening on ${this.addr}`);
    if (this.closed) throw new Error("RPC server is closed");
    const { host, port } = this.options;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => reject(bindErrorFor(host, port, err));
      this.tcp.once("error", onError);
      this.tcp.listen(port, host, () => {
        this.tcp.off("error", onError);
        resolve();
      });
    });
    this.tcp.on("error", (err) => this.options.logger("error", `server RPC listener error: ${err.message}`, { port: this.boundPort }));
    this.listening = true;
    this.boundPort = (this.tcp.address() as net.AddressInfo).port;
    this.options.logger("info", "server RPC port listening", { addr: this.addr });
  }

  /** "host:port" actually bound (the chosen port when 0 was asked for). */
  get addr(): string {
    return joinHostPort(this.options.host, this.boundPort);
  }

  get port(): number {
    return this.boundPort;
  }

  get framePayloadBytes(): number {
    return this.options.framePayloadBytesMax;
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** Registers the handler of `method`, replacing any earlier one. */
  handle(method: string, handler: RpcHandler): void {
    if (method.length === 0) throw new RangeError("RPC method name is empty");
    this.handlers.set(method, handler);
  }

  /** Raft streams go to `acceptor` (null: refused). The Raft transport attaches itself here. */
  acceptRaft(acceptor: RaftStreamAcceptor | null): void {
    this.raftAcceptor = acceptor;
  }

  /** Stops listening and closes every connection; running handlers see their signal aborted. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (!this.listening) return;
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }

  raftLimits(): FrameLimits {
    return { framePayloadBytesMax: this.options.framePayloadBytesMax, messageBytesMax: this.options.raftMessageBytesMax };
  }

  private onConnection(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.counters.connections++;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    const refuse = (reason: string, level: "debug" | "warn") => {
      this.counters.rejected += level === "warn" ? 1 : 0;
      this.options.logger(level, `server RPC connection closed: ${reason}`, { remote, reason });
      socket.destroy();
    };
    const timer = setTimeout(() => refuse(`no stream type byte within ${this.options.handshakeTimeoutMs} ms`, "warn"), this.options.handshakeTimeoutMs);
    const onError = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      refuse(`socket error before the stream type: ${err.code ?? err.message}`, "debug");
    };
    socket.on("error", onError);
    socket.once("close", () => clearTimeout(timer));
    socket.once("data", (first: Buffer) => {
      clearTimeout(timer);
      socket.off("error", onError);
      socket.pause();
      this.startStream(socket, first[0]!, first.subarray(1), refuse);
      socket.resume();
    });
  }

  private startStream(socket: net.Socket, type: number, leading: Uint8Array, refuse: (reason: string, level: "warn") => void): void {
    if (type === StreamType.raft) {
      if (this.raftAcceptor === null) return refuse("Raft stream, but this server has no Raft transport", "warn");
      const conn = new FramedSocket(socket, { limits: this.raftLimits(), framePayloadBytes: this.options.framePayloadBytesMax, logger: this.options.logger, stream: "raft-in" });
      return this.raftAcceptor(conn, leading);
    }
    if (type === StreamType.rpc) return this.serveRpc(socket, leading);
    refuse(`unknown stream type byte 0x${type.toString(16).padStart(2, "0")}`, "warn");
  }

  private serveRpc(socket: net.Socket, leading: Uint8Array): void {
    const limits = { framePayloadBytesMax: this.options.framePayloadBytesMax, messageBytesMax: this.options.rpcMessageBytesMax };
    const conn = new FramedSocket(socket, { limits, framePayloadBytes: this.options.framePayloadBytesMax, logger: this.options.logger, stream: "rpc-in" });
    const inflight = new Map<number, Cancellation>();
    conn.start({
      onMessage: (message) => this.onRpcMessage(conn, inflight, message),
      onClose: (reason, protocolError) => {
        if (protocolError) this.counters.rejected++;
        for (const cancellation of inflight.values()) cancellation.abort(new RpcError(RpcStatus.unavailable, `caller's connection closed: ${reason}`, "disconnected"));
        inflight.clear();
      },
    }, leading);
  }

  private onRpcMessage(conn: FramedSocket, inflight: Map<number, Cancellation>, message: DecodedMessage): void {
    if (message.kind === FrameKind.cancel) {
      const seq = decodeCancel(message.payload);
      inflight.get(seq)?.abort(new RpcError(RpcStatus.timeout, `request ${seq} cancelled by the caller`, "cancelled"));
      return;
    }
    if (message.kind !== FrameKind.request) throw new FrameError("unexpected-frame", `frame kind 0x${message.kind.toString(16)} on an RPC stream`);
    const request = decodeRequest(message.payload);
    this.counters.requests++;
    if (inflight.has(request.seq)) throw new FrameError("unexpected-frame", `request seq ${request.seq} already in flight`);
    const handler = this.handlers.get(request.method);
    if (handler === undefined) {
      return this.respondError(conn, request.seq, { status: RpcStatus.unknownMethod, message: `unknown RPC method ${JSON.stringify(request.method)}` });
    }
    if (inflight.size >= this.options.inflightPerConnectionMax) {
      return this.respondError(conn, request.seq, { status: RpcStatus.tooManyRequests, message: `more than ${this.options.inflightPerConnectionMax} requests in flight on one connection` });
    }
    const cancellation = new Cancellation();
    inflight.set(request.seq, cancellation);
    const meta: RpcMeta = { method: request.method, remote: conn.remote, timeoutMs: request.timeoutMs, get signal() {
      return cancellation.signal;
    } };
    void this.run(handler, request.body, meta).then((outcome) => {
      if (inflight.get(request.seq) !== cancellation) return;
      inflight.delete(request.seq);
      this.respond(conn, request.seq, outcome);
    });
  }

  private async run(handler: RpcHandler, body: unknown, meta: RpcMeta): Promise<{ result: unknown } | { error: RpcFailure }> {
    try {
      return { result: await handler(body, meta) };
    } catch (e) {
      return { error: failureOf(e) };
    }
  }

  private respond(conn: FramedSocket, seq: number, outcome: { result: unknown } | { error: RpcFailure }): void {
    if ("error" in outcome) return this.respondError(conn, seq, outcome.error);
    let payload: Uint8Array;
    try {
      payload = encodePayload({ seq, result: outcome.result ?? null });
    } catch (e) {
      return this.respondError(conn, seq, { status: RpcStatus.internal, message: `result not encodable: ${(e as Error).message}` });
    }
    conn.send(FrameKind.response, payload);
  }

  private respondError(conn: FramedSocket, seq: number, error: RpcFailure): void {
    conn.send(FrameKind.response, encodePayload({ seq, error }));
  }
}

/**
 * An AbortController made only when a handler asks for its signal: most handlers answer at once
 * and never look, and a controller per request was a tenth of a small call's cost.
 */
class Cancellation {
  private controller: AbortController | null = null;
  private reason: unknown = undefined;
  private aborted = false;

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/** A handler's exception as it travels back: its status when it has one (4xx/5xx), else 500. */
function failureOf(e: unknown): RpcFailure {
  if (e instanceof Error) {
    const status = (e as { status?: unknown }).status;
    const valid = typeof status === "number" && Number.isInteger(status) && status >= 400 && status <= 599;
    return { status: valid ? status : RpcStatus.internal, message: e.message };
  }
  return { status: RpcStatus.internal, message: String(e) };
}
