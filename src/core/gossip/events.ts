import type { Coordinate, MemberlistMessage, Tags } from "./messages.ts";
import type { QueryEvent } from "./query.ts";

/** How a packet travels: UDP datagram, a TCP stream we open, or the reply on a stream opened to us. */
export type Via = "udp" | "tcp" | "tcp-reply";

/**
 * One packet for the caller to send. `udp`: a datagram (several messages form a compound).
 * `tcp`: open a stream to `to` and write the message; deliver what comes back as `tcp-reply`.
 * `tcp-reply`: write on the stream `to` opened to us (the caller keeps it open while it calls
 * receive() and drain()).
 */
export interface OutPacket {
  readonly to: string;
  readonly msgs: readonly MemberlistMessage[];
  readonly via: Via;
  /**
   * UDP only: frame with a CRC32. memberlist adds one to gossip and to its probe-with-suspect when
   * the recipient speaks protocol 5 (Vsn[1] >= 5), and to nothing else it sends.
   */
  readonly crc?: boolean;
}

export type MemberStatus = "alive" | "leaving" | "left" | "failed";

export interface Member {
  readonly name: string;
  readonly addr: Uint8Array;
  readonly port: number;
  readonly tags: Tags;
  readonly status: MemberStatus;
  readonly incarnation: number;
  /** The last Vivaldi coordinate this member sent us in an ack. */
  readonly coordinate?: Coordinate;
}

export type MemberEventType = "member-join" | "member-leave" | "member-failed" | "member-update" | "member-reap";

export type GossipEvent =
  | { readonly type: MemberEventType; readonly member: Member }
  | { readonly type: "user-event"; readonly name: string; readonly payload: Uint8Array; readonly lTime: number; readonly coalesce: boolean }
  /** join(): the first address that answered, or every address failed. */
  | { readonly type: "join-complete"; readonly addr: string }
  | { readonly type: "join-failed"; readonly addrs: readonly string[] }
  /** leave() has finished: the caller may close the sockets. */
  | { readonly type: "left" }
  /** Serf queries: one to answer, acks and responses to ours, ours closed, warnings (query.ts). */
  | QueryEvent;

/** Counters of things dropped or refused; never a crash. */
export interface GossipCounters {
  pingWrongNode: number;
  unexpectedAck: number;
  badPayload: number;
  badTags: number;
  unsupported: number;
  oversizedEvents: number;
  queuePruned: number;
  tcpFallbackSaves: number;
  /** User events refused on arrival (no name), neither delivered nor relayed. */
  badEvents: number;
}
