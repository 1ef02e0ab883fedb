/**
 * The DNS server's sockets: one UDP socket and one TCP listener on the same port (Consul's 8600).
 * TCP carries RFC 1035 4.2.2 frames (a 2-byte length before each message), several queries per
 * connection, answered as each completes; a connection idle for `tcpIdleTimeoutMs`, or one that
 * sends a frame that is not DNS, is closed; beyond `tcpConnectionsMax` new connections are refused.
 *
 *   const dns = await startDnsServer({ host: "127.0.0.1", port: 8600, handler });
 *   ...
 *   await dns.close();
 *
 * UDP goes through the native fast path (native.ts) when the addon loads and the handler caches
 * answers: its thread answers cached questions and hands the rest to the handler here. Without
 * it, one dgram socket answers everything in JavaScript; either way one line in the log says which.
 */
import dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import net from "node:net";
import type { DnsHandler } from "./handler.ts";
import { loadNativeDns, NativeUdpSocket, type NativeUdpStats } from "./native.ts";

export interface DnsServerLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface DnsServerOptions {
  readonly host: string;
  /** 0 picks a free port, the same for UDP and TCP when it can. */
  readonly port: number;
  readonly handler: DnsHandler;
  readonly logger?: DnsServerLogger;
  /** miekg/dns (Consul's server) closes idle TCP connections after 8 s. */
  readonly tcpIdleTimeoutMs?: number;
  readonly tcpConnectionsMax?: number;
  /** Queries in flight on one TCP connection; beyond it the connection stops being read. */
  readonly tcpPipelineMax?: number;
  /** SO_RCVBUF of the UDP socket (4 MiB asked; the kernel may grant less). */
  readonly udpReceiveBufferBytes?: number;
  /** "js" keeps UDP in JavaScript even when the native fast path is built (tests compare both). */
  readonly udpPath?: "native" | "js";
}

export interface DnsServer {
  readonly udpPort: number;
  readonly tcpPort: number;
  /** Which path answers UDP. */
  readonly udpPath: "native" | "js";
  /** The native thread's counters; null on the JavaScript path. */
  nativeStats(): NativeUdpStats | null;
  close(): Promise<void>;
}

export class DnsPortError extends Error {
  override name = "DnsPortError";
}

function portError(error: NodeJS.ErrnoException, host: string, port: number, protocol: "udp" | "tcp"): Error {
  if (error.code === "EADDRINUSE") {
    return new DnsPortError(`DNS port ${port} (${protocol}) on ${host} is already in use: stop the other server or choose another port with -dns-port`);
  }
  if (error.code === "EACCES") {
    return new DnsPortError(`DNS port ${port} (${protocol}) on ${host} needs privileges: choose a port above 1023 with -dns-port`);
  }
  return new DnsPortError(`DNS server cannot listen on ${host}:${port} (${protocol}): ${error.message}`);
}

function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? "udp6" : "udp4" });
    const onError = (error: Error): void => {
      socket.close();
      reject(portError(error, host, port, "udp"));
    };
    socket.once("error", onError);
    socket.bind(port, host, () => {
      socket.off("error", onError);
      resolve(socket);
    });
  });
}

function listenTcp(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(portError(error, host, port, "tcp"));
    server.once("error", onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function serveUdp(socket: dgram.Socket, handler: DnsHandler, logger: DnsServerLogger | undefined): void {
  const answerNow = handler.answerNow;
  socket.on("message", (message, remote) => {
    const now = answerNow === undefined ? null : answerNow(message, "udp");
    if (now !== null) {
      socket.send(now, remote.port, remote.address);
      return;
    }
    handler(message, "udp").then((answer) => {
      if (answer === null) return;
      // No callback: Node then tries the send at once (uv_udp_try_send) instead of queueing a
      // request and a completion callback per answer; a failure surfaces as the socket's "error".
      socket.send(answer, remote.port, remote.address);
    }, (error: unknown) => logger?.warn(`dns: handler failed: ${String(error)}`));
  });
  socket.on("error", (error) => logger?.warn(`dns: UDP socket error: ${error.message}`));
}

interface TcpLimits {
  readonly idleMs: number;
  readonly pipelineMax: number;
}

function serveTcpConnection(socket: net.Socket, handler: DnsHandler, limits: TcpLimits, logger: DnsServerLogger | undefined): void {
  let buffered: Buffer = Buffer.alloc(0);
  let inFlight = 0;
  let ended = false;
  socket.setNoDelay(true);
  socket.setTimeout(limits.idleMs, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("end", () => {
    ended = true;
    if (inFlight === 0) socket.end();
  });
  const answerFrame = (frame: Buffer): void => {
    inFlight++;
    if (inFlight >= limits.pipelineMax) socket.pause();
    handler(frame, "tcp").then((answer) => {
      if (answer === null) {
        socket.destroy(); // not DNS: nothing sensible can follow on this stream
        return;
      }
      if (socket.destroyed) return;
      const header = Buffer.alloc(2);
      header.writeUInt16BE(answer.length, 0);
      socket.write(Buffer.concat([header, answer]));
    }, (error: unknown) => {
      logger?.warn(`dns: handler failed: ${String(error)}`);
      socket.destroy();
    }).finally(() => {
      inFlight--;
      if (socket.isPaused() && inFlight < limits.pipelineMax) socket.resume();
      if (ended && inFlight === 0 && !socket.destroyed) socket.end();
    });
  };
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) break;
      const frame = buffered.subarray(2, 2 + length);
      buffered = buffered.subarray(2 + length);
      answerFrame(Buffer.from(frame));
    }
  });
}

function serveNative(socket: NativeUdpSocket, handler: DnsHandler, logger: DnsServerLogger | undefined): void {
  const answerNow = handler.answerNow;
  const send = (answer: Buffer, remote: Buffer): void => {
    const errno = socket.send(answer, remote);
    if (errno !== 0) logger?.warn(`dns: UDP send failed (errno ${errno})`);
  };
  socket.start((message, remote) => {
    // A throw here would surface from the addon's callback as an uncaught exception.
    try {
      const now = answerNow === undefined ? null : answerNow(message, "udp");
      if (now !== null) {
        send(now, remote);
        return;
      }
      handler(message, "udp").then((answer) => {
        if (answer !== null) send(answer, remote);
      }, (error: unknown) => logger?.warn(`dns: handler failed: ${String(error)}`));
    } catch (error) {
      logger?.warn(`dns: handler failed: ${String(error)}`);
    }
  });
}

type UdpEndpoint =
  | { readonly kind: "js"; readonly socket: dgram.Socket }
  | { readonly kind: "native"; readonly socket: NativeUdpSocket };

function endpointPort(udp: UdpEndpoint): number {
  return udp.kind === "js" ? udp.socket.address().port : udp.socket.port;
}

function closeEndpoint(udp: UdpEndpoint): Promise<void> {
  if (udp.kind === "native") {
    udp.socket.close();
    return Promise.resolve();
  }
  return new Promise((resolve) => udp.socket.close(() => resolve()));
}

let nativeUnavailableLogged = false;

/** The native socket when the addon loads and can bind this host; else null (said once in the log). */
async function bindNative(host: string, port: number, receiveBufferBytes: number, logger: DnsServerLogger | undefined): Promise<NativeUdpSocket | null> {
  const binding = loadNativeDns();
  if (typeof binding === "string") {
    if (!nativeUnavailableLogged) logger?.info(`dns: native UDP fast path ${binding}; answering UDP in JavaScript`);
    nativeUnavailableLogged = true;
    return null;
  }
  try {
    // A name binds where dgram would bind it: its first IPv4 address (a udp4 socket).
    const address = net.isIP(host) === 0 ? (await lookup(host, { family: 4 })).address : host;
    return NativeUdpSocket.open(binding, address, port, receiveBufferBytes);
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    if (failure.code === "EADDRINUSE" || failure.code === "EACCES") throw portError(failure, host, port, "udp");
    logger?.info(`dns: native UDP fast path cannot bind ${host}:${port} (${failure.message}); answering UDP in JavaScript`);
    return null;
  }
}

async function bindBoth(host: string, port: number, tcp: net.Server, wantNative: boolean, receiveBufferBytes: number, logger: DnsServerLogger | undefined): Promise<UdpEndpoint> {
  // With port 0, find a port free for both protocols, so `dig -p N` and `dig +tcp -p N` meet the same server.
  for (let attempt = 0; ; attempt++) {
    const native = wantNative ? await bindNative(host, port, receiveBufferBytes, logger) : null;
    const udp: UdpEndpoint = native !== null ? { kind: "native", socket: native } : { kind: "js", socket: await bindUdp(host, port) };
    try {
      await listenTcp(tcp, host, endpointPort(udp));
      return udp;
    } catch (error) {
      await closeEndpoint(udp);
      if (port !== 0 || attempt >= 20) throw error;
    }
  }
}

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const { host, port, handler, logger } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new DnsPortError(`DNS port ${String(port)} is not 0-65535 (-dns-port)`);
  const limits: TcpLimits = { idleMs: options.tcpIdleTimeoutMs ?? 8_000, pipelineMax: options.tcpPipelineMax ?? 64 };
  const connections = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    connections.add(socket);
    socket.on("close", () => connections.delete(socket));
    serveTcpConnection(socket, handler, limits, logger);
  });
  tcp.maxConnections = options.tcpConnectionsMax ?? 1024;
  // Bursts of queries queue in the kernel while an answer is built; the kernel caps this at rmem_max.
  const receiveBufferBytes = options.udpReceiveBufferBytes ?? 4 * 1024 * 1024;
  // Only cached answers can be answered natively: without a template cache it would be a detour.
  const wantNative = options.udpPath !== "js" && handler.fastPath !== undefined;
  const udp = await bindBoth(host, port, tcp, wantNative, receiveBufferBytes, logger);
  let detach = (): void => {};
  if (udp.kind === "native") {
    udp.socket.configure(handler.fastPath!.options);
    detach = handler.fastPath!.attach(udp.socket);
    serveNative(udp.socket, handler, logger);
  } else {
    try {
      udp.socket.setRecvBufferSize(receiveBufferBytes);
    } catch (error) {
      logger?.warn(`dns: cannot raise the UDP receive buffer: ${error instanceof Error ? error.message : String(error)}`);
    }
    serveUdp(udp.socket, handler, logger);
  }
  tcp.on("error", (error) => logger?.warn(`dns: TCP listener error: ${error.message}`));
  const udpPort = endpointPort(udp);
  const tcpPort = (tcp.address() as net.AddressInfo).port;
  logger?.info(`Started DNS server ${host}:${udpPort} (udp${udp.kind === "native" ? ", native fast path" : ""})`);
  logger?.info(`Started DNS server ${host}:${tcpPort} (tcp)`);
  let closed: Promise<void> | null = null;
  return {
    udpPort,
    tcpPort,
    udpPath: udp.kind,
    nativeStats: () => (udp.kind === "native" ? udp.socket.stats() : null),
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        detach();
        for (const socket of connections) socket.destroy();
        let pending = 2;
        const done = (): void => {
          if (--pending === 0) resolve();
        };
        tcp.close(() => done());
        void closeEndpoint(udp).then(done);
      });
      return closed;
    },
  };
}
