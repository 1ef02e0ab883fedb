/**
 * The gossip core's public surface: one member of a SWIM/Lifeguard/Serf pool as a pure state
 * machine. A transport (src/transports) or the simulator feeds it ticks and decoded messages and
 * sends what drain() returns; the byte codec lives in ./wire.
 */
export { GossipNode, formatAddr, type GossipOptions, type GossipSelf } from "./node.ts";
export { defaultLanConfig, defaultWanConfig, validateConfig, type GossipConfig } from "./config.ts";
export type { GossipCounters, GossipEvent, Member, MemberEventType, MemberStatus, OutPacket, Via } from "./events.ts";
export { MemberIndex } from "./member-table.ts";
export { distanceSeconds, type VivaldiConfig } from "./vivaldi.ts";
