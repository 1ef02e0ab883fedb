/**
 * One framed stream on a TCP socket, after its stream-type byte: decodes whole messages out of
 * whatever the socket delivers, writes messages as frames (corked per tick or per turn of the
 * event loop, so the messages of one Raft Ready, or a turn's forwarded requests, leave in one
 * write), and closes with a logged reason when the peer misbehaves.
 * A handler's FrameError closes the stream quietly (warn); any other error thrown by a handler is
 * a bug above us: logged at error level and the stream closed, never thrown into the event loop.
 */
import type net from "node:net";
import { FrameDecoder, FrameError, encodeFrame, encodeFrameHeader, messagePieces, type DecodedMessage, type FrameLimits } from "./frame.ts";

/** Frames up to this size are copied into one buffer; larger payloads are written in place. */
const copyBytesMax = 16 * 1024;

export type LogLevel = "debug" | "info" | "warn" | "error";
export type Logger = (level: LogLevel, msg: string, fields: Record<string, unknown>) => void;
export const silentLogger: Logger = () => {};

export interface StreamHandlers {
  onMessage(message: DecodedMessage): void;
  /** Called once, when the stream is gone for any reason; `protocolError` when the peer sent bad bytes. */
  onClose(reason: string, protocolError: boolean): void;
}

export interface FramedSocketOptions {
  readonly limits: FrameLimits;
  /** Payload bytes per outgoing frame (a longer message goes out as parts). */
  readonly framePayloadBytes: number;
  readonly logger: Logger;
  /** "raft-in", "rpc-in", "rpc-out", ...: names the stream in log lines. */
  readonly stream: string;
  /** The peer's address for log lines (default: the socket's remote address, unknown before connecting). */
  readonly remote?: string;
  /**
   * When the corked writes leave: "tick" (default) at the end of the current callback, so the
   * messages of one Raft Ready go in one write without waiting; "turn" at the end of this turn of
   * the event loop (setImmediate), so messages sent from many callbacks of one poll (the writes a
   * follower forwards, one per HTTP request read) share one write, and the peer one read.
   */
  readonly coalesce?: "tick" | "turn";
}

export class FramedSocket {
  readonly remote: string;
  private readonly decoder: FrameDecoder;
  private handlers: StreamHandlers | null = null;
  private closed = false;
  private corked = false;

  constructor(private readonly socket: net.Socket, private readonly options: FramedSocketOptions) {
    this.decoder = new FrameDecoder(options.limits);
    this.remote = options.remote ?? `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes written but not yet handed to the kernel: the peer's backlog. */
  get writableBytes(): number {
    return this.socket.writableLength;
  }

  /** Starts reading; `leading` are bytes that arrived with the stream-type byte. */
  start(handlers: StreamHandlers, leading?: Uint8Array): void {
    this.handlers = handlers;
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("end", () => this.onEnd());
    this.socket.on("error", (err: NodeJS.ErrnoException) => this.close(`socket error: ${err.code ?? err.message}`, "debug"));
    this.socket.on("close", () => this.close("socket closed", "debug"));
    if (leading !== undefined && leading.length > 0) this.onData(leading);
  }

  /** Writes one message (as several frames when long). Returns false when the stream is closed. */
  send(kind: number, payload: Uint8Array): boolean {
    if (this.closed) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      if (this.options.coalesce === "turn") setImmediate(this.uncork);
      else process.nextTick(this.uncork);
    }
    for (const [pieceKind, piece] of messagePieces(kind, payload, this.options.framePayloadBytes)) {
      // A small frame is one copy and one write; a large piece goes out as a view after its header.
      if (piece.length <= copyBytesMax) this.socket.write(encodeFrame(pieceKind, piece));
      else {
        this.socket.write(encodeFrameHeader(pieceKind, piece.length));
        this.socket.write(piece);
      }
    }
    return true;
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /** Closes the stream, logging why at `level`; later calls do nothing. */
  close(reason: string, level: "debug" | "info" | "warn" | "error" = "info", protocolError = false): void {
    if (this.closed) return;
    this.closed = true;
    this.options.logger(level, `${this.options.stream} stream closed: ${reason}`, { remote: this.remote, stream: this.options.stream, reason });
    this.socket.destroy();
    this.handlers?.onClose(reason, protocolError);
  }

  private onData(chunk: Uint8Array): void {
    if (this.closed) return;
    let messages: DecodedMessage[];
    try {
      messages = this.decoder.push(chunk);
    } catch (e) {
      return this.fail(e);
    }
    for (const message of messages) {
      if (this.closed) return;
      try {
        this.handlers!.onMessage(message);
      } catch (e) {
        return this.fail(e);
      }
    }
  }

  private onEnd(): void {
    if (this.closed) return;
    try {
      this.decoder.end();
    } catch (e) {
      return this.fail(e);
    }
    this.close("peer closed the stream", "debug");
  }

  private fail(e: unknown): void {
    if (e instanceof FrameError) return this.close(e.message, "warn", true);
    const err = e instanceof Error ? e : new Error(String(e));
    this.options.logger("error", `${this.options.stream} handler failed: ${err.message}`, { remote: this.remote, stream: this.options.stream, stack: err.stack });
    this.close(`handler failed: ${err.message}`, "error");
  }
}
