/**
 * Binds gossip's UDP socket and TCP listener on one ip:port, and holds whatever arrives until the
 * gossip layer takes the sockets over. A process can bind first (node:net and node:dgram load in
 * milliseconds) and load the gossip core afterwards: a peer that dials or pings in between is
 * answered late rather than refused. memberlist gives a stream 10 s (TCPTimeout) for its reply.
 */
import dgram from "node:dgram";
import net from "node:net";

export function splitHostPort(addr: string): { host: string; port: number } {
  const colon = addr.lastIndexOf(":");
  const port = Number(addr.slice(colon + 1));
  if (colon < 1 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad address ${JSON.stringify(addr)}, want HOST:PORT`);
  return { host: addr.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface GossipHandlers {
  onPacket(packet: Buffer, rinfo: dgram.RemoteInfo): void;
  onConnection(socket: net.Socket): void;
}

/** Arrivals kept before hand-over; beyond this, datagrams are dropped (UDP may lose them anyway). */
const heldPacketsMax = 1024;

export class BoundGossipSockets {
  private handlers: GossipHandlers | null = null;
  private readonly heldPackets: [Buffer, dgram.RemoteInfo][] = [];
  private readonly heldConnections: net.Socket[] = [];

  private constructor(readonly udp: dgram.Socket, readonly tcp: net.Server, readonly host: string, readonly port: number) {
    udp.on("message", (packet, rinfo) => {
      if (this.handlers !== null) this.handlers.onPacket(packet, rinfo);
      else if (this.heldPackets.length < heldPacketsMax) this.heldPackets.push([packet, rinfo]);
    });
    tcp.on("connection", (socket) => {
      if (this.handlers !== null) this.handlers.onConnection(socket);
      else {
        socket.pause();
        this.heldConnections.push(socket);
      }
    });
  }

  /** Binds TCP first (port 0 picks a free port), then UDP on the same port. */
  static async bind(host: string, port: number): Promise<BoundGossipSockets> {
    const tcp = net.createServer({ pauseOnConnect: false });
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(port, host, () => resolve());
    });
    const boundPort = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(boundPort, host, () => resolve());
      });
    } catch (e) {
      tcp.close();
      throw e;
    }
    return new BoundGossipSockets(udp, tcp, host, boundPort);
  }

  /** From now on arrivals go to `handlers`; what arrived before is replayed first, in order. */
  handOver(handlers: GossipHandlers): void {
    this.handlers = handlers;
    for (const [packet, rinfo] of this.heldPackets.splice(0)) handlers.onPacket(packet, rinfo);
    for (const socket of this.heldConnections.splice(0)) {
      handlers.onConnection(socket);
      socket.resume();
    }
  }
}
