/**
 * The gossip library as a user embeds it: one call binds the sockets, builds the pure core with a
 * real clock and OS-seeded randomness, and starts the timer. Everything else is on the endpoint
 * (join, userEvent, members, leave, onEvent).
 */
import { isIPv4, isIPv6 } from "node:net";
import { defaultLanConfig, type GossipConfig } from "../core/gossip/config.ts";
import { GossipNode } from "../core/gossip/node.ts";
import type { Tags } from "../core/gossip/messages.ts";
import type { QueryKeyring } from "../core/gossip/query.ts";
import { mulberry32 } from "../core/util/rng.ts";
import type { BoundGossipSockets } from "./gossip-bind.ts";
import type { StreamLimits } from "../core/gossip/wire/stream-decoder.ts";
import { GossipEndpoint, type GossipTrace } from "./gossip-endpoint.ts";
import type { GossipKeyring } from "./gossip-keyring.ts";
import type { GossipLogger } from "./gossip-log.ts";
import { splitHostPort } from "./gossip-sockets.ts";

export interface GossipMemberOptions {
  readonly name: string;
  /** "ip:port" to bind UDP and TCP on; port 0 picks a free one. */
  readonly bind: string;
  readonly tags?: Tags;
  /** Defaults to memberlist's LAN configuration. */
  readonly config?: GossipConfig;
  /** Seed for the core's randomness; default from the OS. Tests pass one to make probe order repeatable. */
  readonly seed?: number;
  /** LZW-compress what we send; on by default, as memberlist's EnableCompression. */
  readonly compress?: boolean;
  /**
   * CRC32 on every UDP packet (true) or none (false). Unset (the default), memberlist's rule: gossip
   * and probe-with-suspect packets to peers speaking protocol 5 carry one.
   */
  readonly crc?: boolean;
  /** Gossip encryption (memberlist's AES-GCM keyring): GossipKeyring.fromBase64(key, [older keys]). */
  readonly keyring?: GossipKeyring;
  /**
   * What Serf's keyring queries act through (default: `keyring` itself). A PersistedKeyring
   * (gossip-keyring-file.ts) writes each change to disk before it is answered.
   */
  readonly queryKeyring?: QueryKeyring;
  /** memberlist's Label: only packets and streams with the same label are accepted. */
  readonly label?: string;
  /** Drops (rate-limited, with the sender and reason), refused push/pulls and remote errors go here. */
  readonly logger?: GossipLogger;
  /** Bounds on incoming streams (memberlist's defaults); pushPullConcurrencyMax caps concurrent push/pulls. */
  readonly streamLimits?: Partial<StreamLimits>;
  readonly pushPullConcurrencyMax?: number;
  /** Sockets already bound at `bind` (gossip-bind.ts), to take over with what arrived meanwhile. */
  readonly bound?: BoundGossipSockets;
  readonly trace?: GossipTrace;
}

/** memberlist carries IP addresses as raw bytes: 4 for IPv4, 16 for IPv6. */
export function ipBytes(host: string): Uint8Array {
  if (isIPv4(host)) return Uint8Array.from(host.split(".").map(Number));
  if (!isIPv6(host)) throw new Error(`bind address ${JSON.stringify(host)} is not an IP address`);
  const [head, tail] = host.includes("::") ? host.split("::") as [string, string] : [host, undefined];
  const groups = (part: string | undefined): number[] => {
    if (!part) return [];
    return part.split(":").flatMap((g) => {
      if (!isIPv4(g)) return [parseInt(g, 16)];
      const [a, b, c, d] = g.split(".").map(Number) as [number, number, number, number];
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

export async function startGossipMember(options: GossipMemberOptions): Promise<GossipEndpoint> {
  const config = options.config ?? defaultLanConfig();
  const { host, port } = splitHostPort(options.bind);
  const addr = ipBytes(host);
  // The seed orders probes and staggers timers; it needs no secrecy, so not node:crypto (see gossip-keyring.ts).
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const startMs = performance.now();
  const queryKeyring = options.queryKeyring ?? options.keyring;
  return GossipEndpoint.start({
    bindHost: host,
    bindPort: port,
    ...(options.bound ? { bound: options.bound } : {}),
    ...(options.trace ? { trace: options.trace } : {}),
    tickMs: config.tickMs,
    tcpTimeoutMs: config.tcpTimeoutMs,
    udpPacketBytes: config.udpBufferBytes,
    compress: options.compress ?? true,
    ...(options.crc === undefined ? {} : { crc: options.crc }),
    ...(options.keyring ? { keyring: options.keyring } : {}),
    ...(options.label ? { label: options.label } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.streamLimits ? { streamLimits: options.streamLimits } : {}),
    ...(options.pushPullConcurrencyMax ? { pushPullConcurrencyMax: options.pushPullConcurrencyMax } : {}),
    createCore: (bound) => new GossipNode(
      config,
      { name: options.name, addr, port: bound.port, tags: options.tags ?? {} },
      mulberry32(seed),
      // Probe round trips for Vivaldi are timed with the real clock, not in whole ticks.
      { clockMs: () => performance.now() - startMs, ...(queryKeyring ? { keyring: queryKeyring } : {}) },
    ),
  });
}
