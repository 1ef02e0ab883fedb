import { assert } from "../util/assert.ts";
import { defaultVivaldiConfig, type VivaldiConfig } from "./vivaldi.ts";

/**
 * One typed configuration for a gossip pool. LAN and WAN pools run the same code; only these
 * values differ. Milliseconds are converted to ticks once, in the node's constructor.
 * Sources: hashicorp/memberlist config.go (DefaultLANConfig, DefaultWANConfig) and
 * hashicorp/serf serf/config.go (DefaultConfig), coordinate/config.go.
 */
export interface GossipConfig {
  /** Length of one tick(); every interval below must be a whole number of ticks or more. */
  readonly tickMs: number;
  /**
   * Base probe period. Effective period = probeIntervalMs * (awarenessScore + 1) (Lifeguard).
   */
  readonly probeIntervalMs: number;
  /** Wait for a direct ack before asking others (ping-req). Not scaled by awareness. */
  readonly probeTimeoutMs: number;
  /** k: members asked to probe indirectly on a failed direct probe. */
  readonly indirectChecks: number;
  /** Retransmits per broadcast = retransmitMult * ceil(log10(n + 1)). */
  readonly retransmitMult: number;
  /** suspicionMin = suspicionMult * max(1, log10(n)) * probeIntervalMs. */
  readonly suspicionMult: number;
  /** suspicionMax = suspicionMaxTimeoutMult * suspicionMin (Lifeguard starts here and shrinks). */
  readonly suspicionMaxTimeoutMult: number;
  /** Full-state sync period; scaled by ceil(log2(n) - log2(32)) + 1 above 32 members. */
  readonly pushPullIntervalMs: number;
  readonly gossipIntervalMs: number;
  /** Random members each gossip round sends piggybacked broadcasts to. */
  readonly gossipNodes: number;
  /** Dead members still receive gossip (so they learn and refute) for this long. */
  readonly gossipToTheDeadMs: number;
  /** A TCP exchange (push/pull, join) that has no reply within this long has failed. */
  readonly tcpTimeoutMs: number;
  /** Lifeguard's local health awareness ceiling: timeouts scale up to this factor. */
  readonly awarenessMaxMultiplier: number;
  /** Skip the TCP fallback ping after a failed UDP probe. */
  readonly disableTcpPings: boolean;
  /** Lifeguard on: awareness, dynamic suspicion with confirmations, nacks and the buddy system. */
  readonly lifeguard: boolean;
  /** Largest UDP payload we send; piggybacked broadcasts are cut to fit. */
  readonly udpBufferBytes: number;
  /** memberlist protocol version we speak (ProtocolVersion2Compatible..5). */
  readonly protocolVersion: number;
  /** Serf's delegate protocol version (Serf protocol 5 is current; 2 is the oldest it reads). */
  readonly delegateVersion: number;
  // Serf layer.
  /** How often failed and left members are checked for reaping. */
  readonly reapIntervalMs: number;
  /** How often a failed member is tried again (push/pull to its address). */
  readonly reconnectIntervalMs: number;
  /** A failed member is reaped (forgotten) after this long. */
  readonly reconnectTimeoutMs: number;
  /** A left member is reaped after this long. */
  readonly tombstoneTimeoutMs: number;
  /** User events remembered for de-duplication and push/pull, indexed by Lamport time. */
  readonly eventBufferSize: number;
  /** Join/leave intents about members not yet known are kept this long. */
  readonly recentIntentTimeoutMs: number;
  /** Graceful leave waits at most this long for each of its broadcasts to go out. */
  readonly broadcastTimeoutMs: number;
  /** Largest user event payload plus name accepted by userEvent(). */
  readonly userEventSizeLimit: number;
  /** Broadcast queues are pruned (oldest, most-sent first) beyond this many entries. */
  readonly maxQueueDepth: number;
  /** Vivaldi network coordinates from probe round trips (Serf's DisableCoordinates inverted). */
  readonly coordinates: boolean;
  readonly vivaldi: VivaldiConfig;
}

/** memberlist's DefaultLANConfig and Serf's DefaultConfig. */
export function defaultLanConfig(): GossipConfig {
  return {
    tickMs: 50, // fine enough for a 200 ms gossip interval and a 500 ms probe timeout
    probeIntervalMs: 1_000, // one probe per second per member: constant load per member
    probeTimeoutMs: 500, // a LAN round trip is well under this; long enough for a busy peer
    indirectChecks: 3, // three independent paths before suspecting
    retransmitMult: 4, // enough retransmits to reach everyone with high probability
    suspicionMult: 4, // suspect for 4 probe periods (scaled by log10 n) before dead
    suspicionMaxTimeoutMult: 6, // Lifeguard starts at 6x the minimum and shrinks with confirmations
    pushPullIntervalMs: 30_000, // anti-entropy every 30 s repairs lost broadcasts
    gossipIntervalMs: 200, // fast dissemination on a LAN
    gossipNodes: 3, // fan-out per gossip round
    gossipToTheDeadMs: 30_000, // long enough for a wrongly-dead member to hear and refute
    tcpTimeoutMs: 10_000, // a LAN TCP exchange that takes longer has failed
    awarenessMaxMultiplier: 8, // a degraded member slows down at most 8x
    disableTcpPings: false, // TCP fallback catches UDP-only loss
    lifeguard: true, // Lifeguard cuts false positives from slow members
    udpBufferBytes: 1_400, // stays under a 1500-byte Ethernet MTU with IP/UDP headers
    protocolVersion: 2, // memberlist's ProtocolVersion2Compatible default
    delegateVersion: 5, // Serf protocol 5 (understands back to 2)
    reapIntervalMs: 15_000, // Serf's reaper period
    reconnectIntervalMs: 30_000, // Serf retries a failed member every 30 s
    reconnectTimeoutMs: 24 * 3_600_000, // Serf forgets a failed member after 24 h
    tombstoneTimeoutMs: 24 * 3_600_000, // and a left one after 24 h
    eventBufferSize: 512, // Serf's EventBuffer
    recentIntentTimeoutMs: 5 * 60_000, // Serf's RecentIntentTimeout
    broadcastTimeoutMs: 5_000, // Serf's BroadcastTimeout for leave
    userEventSizeLimit: 512, // Serf's UserEventSizeLimit
    maxQueueDepth: 4_096, // Serf's MaxQueueDepth
    coordinates: true, // Serf computes coordinates unless disabled
    vivaldi: defaultVivaldiConfig(),
  };
}

/** memberlist's DefaultWANConfig: longer timeouts for links between datacenters. */
export function defaultWanConfig(): GossipConfig {
  return {
    ...defaultLanConfig(),
    probeIntervalMs: 5_000, // WAN probes are costlier and links slower
    probeTimeoutMs: 3_000, // WAN round trips can take hundreds of ms under load
    suspicionMult: 6, // more patience before declaring a remote server dead
    pushPullIntervalMs: 60_000, // full-state sync is expensive across the WAN
    gossipIntervalMs: 500, // less chatty across the WAN
    gossipNodes: 4, // more fan-out offsets the slower interval
    gossipToTheDeadMs: 60_000, // give remote members longer to refute
    tcpTimeoutMs: 30_000, // WAN TCP connects can be slow
  };
}

/** Throws with a plain message naming the bad field; called once by the node's constructor. */
export function validateConfig(c: GossipConfig): void {
  assert(Number.isInteger(c.tickMs) && c.tickMs > 0, `tickMs must be a positive integer, got ${c.tickMs}`);
  const intervals: [string, number][] = [
    ["probeIntervalMs", c.probeIntervalMs], ["probeTimeoutMs", c.probeTimeoutMs],
    ["pushPullIntervalMs", c.pushPullIntervalMs], ["gossipIntervalMs", c.gossipIntervalMs],
    ["tcpTimeoutMs", c.tcpTimeoutMs], ["reapIntervalMs", c.reapIntervalMs],
    ["reconnectIntervalMs", c.reconnectIntervalMs], ["broadcastTimeoutMs", c.broadcastTimeoutMs],
  ];
  for (const [name, ms] of intervals) {
    assert(ms >= c.tickMs, `${name} ${ms} is shorter than one tick (${c.tickMs} ms)`);
  }
  assert(c.probeTimeoutMs < c.probeIntervalMs, `probeTimeoutMs ${c.probeTimeoutMs} must be < probeIntervalMs ${c.probeIntervalMs}`);
  assert(c.indirectChecks >= 0, `indirectChecks ${c.indirectChecks} < 0`);
  assert(c.retransmitMult >= 1, `retransmitMult ${c.retransmitMult} < 1`);
  assert(c.suspicionMult >= 1, `suspicionMult ${c.suspicionMult} < 1`);
  assert(c.suspicionMaxTimeoutMult >= 1, `suspicionMaxTimeoutMult ${c.suspicionMaxTimeoutMult} < 1`);
  assert(c.gossipNodes >= 1, `gossipNodes ${c.gossipNodes} < 1`);
  assert(c.awarenessMaxMultiplier >= 1, `awarenessMaxMultiplier ${c.awarenessMaxMultiplier} < 1`);
  assert(c.udpBufferBytes >= 512, `udpBufferBytes ${c.udpBufferBytes} < 512`);
  assert(c.protocolVersion >= 1 && c.protocolVersion <= 5, `protocolVersion ${c.protocolVersion} not in 1..5`);
  assert(c.delegateVersion >= 2 && c.delegateVersion <= 5, `delegateVersion ${c.delegateVersion} not in 2..5`);
  assert(c.eventBufferSize >= 1, `eventBufferSize ${c.eventBufferSize} < 1`);
  assert(c.maxQueueDepth >= 16, `maxQueueDepth ${c.maxQueueDepth} < 16`);
}

/** Milliseconds to whole ticks, rounding up so a timeout never fires early. */
export function ticksOf(ms: number, tickMs: number): number {
  assert(ms >= 0, `negative duration ${ms}`);
  return Math.max(1, Math.ceil(ms / tickMs));
}

/** memberlist suspicionTimeout: suspicionMult * max(1, log10(max(1, n))) * interval. */
export function suspicionTimeoutMs(suspicionMult: number, n: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  // memberlist keeps three decimals of the scale, because Go durations are integers.
  return (suspicionMult * Math.floor(nodeScale * 1000) * probeIntervalMs) / 1000;
}

/** memberlist retransmitLimit: retransmitMult * ceil(log10(n + 1)). */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

const pushPullScaleThreshold = 32;

/** memberlist pushPullScale: big pools sync less often, so per-member TCP load stays flat. */
export function pushPullScaleMs(intervalMs: number, n: number): number {
  if (n <= pushPullScaleThreshold) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(pushPullScaleThreshold)) + 1;
  return multiplier * intervalMs;
}
