/**
 * Calls handlers on other servers' RPC ports. One connection per server, opened on the first
 * call and reopened by the next call after it drops; calls on it are told apart by sequence
 * number, so answers may come back in any order and a long blocking query holds up nothing.
 * A server runs at most so many calls at once per connection (its inflightPerConnectionMax):
 * when a connection carries `callsPerConnectionMax` calls, the next call opens another one to
 * the same server (a client agent forwarding thousands of blocking queries on different keys).
 * Every call ends: with the answer, the handler's error, or an RpcError for a timeout, a refused
 * or dropped connection, or the client closing.
 */
import net from "node:net";
import { splitHostPort } from "../gossip-bind.ts";
import { decodeResponse, encodePayload } from "./codec.ts";
import { FramedSocket, silentLogger, type Logger } from "./conn.ts";
import { RpcError, RpcStatus } from "./errors.ts";
import { pingMethod } from "./server.ts";
import { FrameError, FrameKind, StreamType, framePayloadBytesDefault, type DecodedMessage } from "./frame.ts";

export interface RpcClientOptions {
  readonly logger?: Logger;
  /** A dial not answered within this long fails the calls waiting on it. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Used when a call gives none. Default 30 s. */
  readonly defaultTimeoutMs?: number;
  /** Piece size of what we send, and the largest frame accepted. Default 1 MiB. */
  readonly framePayloadBytesMax?: number;
  /** Largest response reassembled. Default 64 MiB. */
  readonly messageBytesMax?: number;
  /** After a call times out, a ping unanswered this long closes the connection. Default 5 s. */
  readonly probeTimeoutMs?: number;
  /** Calls in flight on one connection before another is opened to the same server. Default 4096, the server's cap. */
  readonly callsPerConnectionMax?: number;
}

export interface CallOptions {
  /** The call fails with an RpcError (status 504, kind "timeout") after this long. */
  readonly timeoutMs?: number;
  /** Aborting fails the call (kind "cancelled") and tells the server to abort its handler. */
  readonly signal?: AbortSignal;
}

interface PendingCall {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: RpcError) => void;
  readonly timer: NodeJS.Timeout;
  readonly cleanup: () => void;
}

/** One connection to one server, with the calls waiting on it. */
class ServerConn {
  readonly pending = new Map<number, PendingCall>();
  readonly socket: net.Socket;
  readonly framed: FramedSocket;
  /** Whether the dial succeeded: a call failing before it never reached the server. */
  open = false;
  /** A ping is checking whether the server still answers. */
  probing = false;
  private nextSeq = 1;

  constructor(readonly addr: string, private readonly client: RpcClient, private readonly options: Required<RpcClientOptions>) {
    const { host, port } = splitHostPort(addr);
    this.socket = net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 10_000);
    this.socket.setTimeout(options.connectTimeoutMs, () => this.framed.close(`connect timed out after ${options.connectTimeoutMs} ms`, "info"));
    this.socket.once("connect", () => {
      this.open = true;
      this.socket.setTimeout(0);
    });
    // The stream type goes first; node buffers writes made while connecting.
    this.socket.write(new Uint8Array([StreamType.rpc]));
    const limits = { framePayloadBytesMax: options.framePayloadBytesMax, messageBytesMax: options.messageBytesMax };
    this.framed = new FramedSocket(this.socket, { limits, framePayloadBytes: options.framePayloadBytesMax, logger: options.logger, stream: "rpc-out", remote: addr, coalesce: "turn" });
    this.framed.start({ onMessage: (m) => this.onMessage(m), onClose: (reason) => this.onClose(reason) });
  }

  takeSeq(): number {
    return this.nextSeq++;
  }

  private onMessage(message: DecodedMessage): void {
    if (message.kind !== FrameKind.response) throw new FrameError("unexpected-frame", `frame kind 0x${message.kind.toString(16)} from an RPC server`);
    const response = decodeResponse(message.payload);
    const call = this.pending.get(response.seq);
    // A late answer to a call that timed out or was cancelled.
    if (call === undefined) return;
    this.pending.delete(response.seq);
    call.cleanup();
    if (response.error !== undefined) call.reject(new RpcError(response.error.status, response.error.message, "remote"));
    else call.resolve(response.result);
  }

  private onClose(reason: string): void {
    this.client.forget(this);
    const error = this.open
      ? new RpcError(RpcStatus.unavailable, `connection to server ${this.addr} lost: ${reason}`, "disconnected")
      : new RpcError(RpcStatus.unavailable, `cannot reach server ${this.addr}: ${reason}`, "unreachable");
    for (const call of this.pending.values()) {
      call.cleanup();
      call.reject(error);
    }
    this.pending.clear();
  }
}

export class RpcClient {
  private readonly options: Required<RpcClientOptions>;
  /** Each server's connections, oldest first: a call takes the first with room for it. */
  private readonly conns = new Map<string, ServerConn[]>();
  private closed = false;

  constructor(options: RpcClientOptions = {}) {
    this.options = {
      logger: options.logger ?? silentLogger,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      defaultTimeoutMs: options.defaultTimeoutMs ?? 30_000,
      framePayloadBytesMax: options.framePayloadBytesMax ?? framePayloadBytesDefault,
      messageBytesMax: options.messageBytesMax ?? 64 * 1024 * 1024,
      probeTimeoutMs: options.probeTimeoutMs ?? 5_000,
      callsPerConnectionMax: options.callsPerConnectionMax ?? 4096,
    };
    if (!(Number.isInteger(this.options.callsPerConnectionMax) && this.options.callsPerConnectionMax >= 1)) {
      throw new RangeError(`callsPerConnectionMax ${this.options.callsPerConnectionMax} is not a positive integer`);
    }
  }

  /** Servers with an open or opening connection. */
  get connectedServers(): string[] {
    return [...this.conns.keys()];
  }

  /**
   * Calls `method` on the server at `addr` ("ip:port") with `body` (any MessagePack-encodable
   * value: plain objects, arrays, strings, numbers, booleans, null, Uint8Array; `undefined` fields
   * are dropped and an undefined result arrives as null). Rejects with RpcError.
   */
  call(addr: string, method: string, body: unknown, options: CallOptions = {}): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? this.options.defaultTimeoutMs;
    if (this.closed) return Promise.reject(new RpcError(RpcStatus.unavailable, "RPC client is closed", "closed"));
    if (options.signal?.aborted) return Promise.reject(new RpcError(RpcStatus.timeout, `call ${method} cancelled before it was sent`, "cancelled"));
    let conn: ServerConn;
    try {
      conn = this.connFor(addr);
    } catch (e) {
      return Promise.reject(new RpcError(RpcStatus.badRequest, (e as Error).message, "unreachable"));
    }
    return this.callOn(conn, method, body, timeoutMs, options.signal, true);
  }

  private callOn(conn: ServerConn, method: string, body: unknown, timeoutMs: number, signal: AbortSignal | undefined, probeOnTimeout: boolean): Promise<unknown> {
    const seq = conn.takeSeq();
    let payload: Uint8Array;
    try {
      payload = encodePayload({ seq, method, body, timeoutMs });
    } catch (e) {
      return Promise.reject(new RpcError(RpcStatus.badRequest, `body of ${method} not encodable: ${(e as Error).message}`, "encode"));
    }
    const addr = conn.addr;
    return new Promise<unknown>((resolve, reject) => {
      const abandon = (error: RpcError) => {
        if (conn.pending.get(seq) !== call) return;
        conn.pending.delete(seq);
        call.cleanup();
        // The server may still be running the handler: tell it to stop.
        conn.framed.send(FrameKind.cancel, encodePayload({ seq }));
        reject(error);
      };
      const onAbort = () => abandon(new RpcError(RpcStatus.timeout, `call ${method} to ${addr} cancelled`, "cancelled"));
      const timer = setTimeout(() => {
        abandon(new RpcError(RpcStatus.timeout, `call ${method} to ${addr} timed out after ${timeoutMs} ms`, "timeout"));
        if (probeOnTimeout) this.probe(conn);
      }, timeoutMs);
      const call: PendingCall = {
        resolve, reject, timer,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      conn.pending.set(seq, call);
      conn.framed.send(FrameKind.request, payload);
    });
  }

  /**
   * A call timed out: maybe its handler was slow, maybe the server vanished without closing the
   * connection (power loss, a partition), which TCP alone notices only after minutes. Ping it on
   * the same connection; no answer within `probeTimeoutMs` closes the connection, failing the
   * calls still waiting on it, and the next call dials afresh.
   */
  private probe(conn: ServerConn): void {
    if (conn.probing || conn.framed.isClosed) return;
    conn.probing = true;
    const probeMs = this.options.probeTimeoutMs;
    this.callOn(conn, pingMethod, null, probeMs, undefined, false).then(
      () => (conn.probing = false),
      (e: unknown) => {
        conn.probing = false;
        if (e instanceof RpcError && e.kind === "timeout") conn.framed.close(`server did not answer a ping within ${probeMs} ms after a call timed out`, "info");
      },
    );
  }

  /** Fails every waiting call (kind "closed") and closes every connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const conn of [...this.conns.values()].flat()) {
      for (const call of conn.pending.values()) {
        call.cleanup();
        call.reject(new RpcError(RpcStatus.unavailable, "RPC client closed", "closed"));
      }
      conn.pending.clear();
      conn.framed.close("client closed", "debug");
    }
    this.conns.clear();
  }

  /** @internal a connection is gone; the next call to its server dials again. */
  forget(conn: ServerConn): void {
    const list = this.conns.get(conn.addr);
    if (list === undefined) return;
    const rest = list.filter((c) => c !== conn);
    if (rest.length === 0) this.conns.delete(conn.addr);
    else this.conns.set(conn.addr, rest);
  }

  /** Connections open or opening to `addr` (more than one once a connection is full of calls). */
  connectionCount(addr: string): number {
    return this.conns.get(addr)?.length ?? 0;
  }

  private connFor(addr: string): ServerConn {
    const list = (this.conns.get(addr) ?? []).filter((c) => !c.framed.isClosed);
    // The first connection with room: calls go back to the earlier ones as their calls end.
    const room = list.find((c) => c.pending.size < this.options.callsPerConnectionMax);
    if (room !== undefined) return room;
    const conn = new ServerConn(addr, this, this.options);
    list.push(conn);
    this.conns.set(addr, list);
    return conn;
  }
}
