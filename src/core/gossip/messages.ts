/**
 * The gossip vocabulary, as decoded values. Field names are hashicorp/memberlist's and
 * hashicorp/serf's Go struct field names, because go-msgpack encodes structs as maps keyed by
 * those names: the wire codec (./wire) turns these records into the exact bytes memberlist and
 * Serf send, and back. The core only ever sees these decoded records, so the simulator may pass
 * them without encoding, and `--wire` forces every one through the codec.
 *
 * Sources: memberlist net.go (messageType, ping, indirectPingReq, ackResp, nackResp, errResp,
 * suspect, alive, dead, pushPullHeader, pushNodeState, userMsgHeader) and serf messages.go.
 */

/** memberlist's messageType byte, in its order (net.go). */
export const MemberlistMsgType = {
  ping: 0,
  indirectPing: 1,
  ackResp: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nackResp: 11,
  hasCrc: 12,
  err: 13,
  hasLabel: 244,
} as const;

/** memberlist NodeStateType (state.go), as carried in push/pull node states. */
export const NodeStateType = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;
export type NodeStateType = (typeof NodeStateType)[keyof typeof NodeStateType];

/**
 * memberlist's version vector (alive.Vsn, pushNodeState.Vsn): [pMin, pMax, pCur, dMin, dMax, dCur].
 * Protocol versions 1..5 (current 2 in memberlist's defaults); delegate versions are Serf's 2..5.
 */
export type Vsn = readonly [number, number, number, number, number, number];

export interface Ping {
  readonly type: "ping";
  readonly SeqNo: number;
  /** The target's name, so a node reached at a reused address can refuse a ping meant for another. */
  readonly Node: string;
  readonly SourceAddr?: Uint8Array;
  readonly SourcePort?: number;
  readonly SourceNode?: string;
}

export interface IndirectPing {
  readonly type: "indirectPing";
  readonly SeqNo: number;
  readonly Target: Uint8Array;
  readonly Port: number;
  readonly Node: string;
  /** Ask for a nack when the target does not answer (Lifeguard: protocol version >= 4). */
  readonly Nack: boolean;
  readonly SourceAddr?: Uint8Array;
  readonly SourcePort?: number;
  readonly SourceNode?: string;
}

export interface Ack {
  readonly type: "ackResp";
  readonly SeqNo: number;
  /** The ping delegate's payload: Serf puts its encoded Vivaldi coordinate here. */
  readonly Payload: Uint8Array;
}

export interface Nack {
  readonly type: "nackResp";
  readonly SeqNo: number;
}

export interface ErrResp {
  readonly type: "err";
  readonly Error: string;
}

export interface Suspect {
  readonly type: "suspect";
  readonly Incarnation: number;
  readonly Node: string;
  readonly From: string;
}

export interface Alive {
  readonly type: "alive";
  readonly Incarnation: number;
  readonly Node: string;
  readonly Addr: Uint8Array;
  readonly Port: number;
  /** Node metadata: Serf's encoded tags. */
  readonly Meta: Uint8Array;
  readonly Vsn: Vsn;
}

export interface Dead {
  readonly type: "dead";
  readonly Incarnation: number;
  readonly Node: string;
  /** Who declared it; From === Node means the node is leaving gracefully. */
  readonly From: string;
}

export interface PushNodeState {
  readonly Name: string;
  readonly Addr: Uint8Array;
  readonly Port: number;
  readonly Meta: Uint8Array;
  readonly Incarnation: number;
  readonly State: NodeStateType;
  readonly Vsn: Vsn;
}

/** A push/pull exchange over TCP: header, node states, then the delegate's (Serf's) user state. */
export interface PushPull {
  readonly type: "pushPull";
  readonly Join: boolean;
  readonly Nodes: readonly PushNodeState[];
  /** Serf's local state (messagePushPull), already decoded. */
  readonly UserState: SerfMessage | null;
}

/** memberlist's user message: its payload is one Serf message. */
export interface UserMsg {
  readonly type: "user";
  readonly Msg: SerfMessage;
}

/** Everything memberlist sends. Compound, compress, CRC and label are framing: see ./wire. */
export type MemberlistMessage =
  | Ping | IndirectPing | Ack | Nack | ErrResp | Suspect | Alive | Dead | PushPull | UserMsg;

/** Serf's messageType byte (serf/messages.go). */
export const SerfMsgType = {
  leave: 0,
  join: 1,
  pushPull: 2,
  userEvent: 3,
  query: 4,
  queryResponse: 5,
  conflictResponse: 6,
  keyRequest: 7,
  keyResponse: 8,
  relay: 9,
} as const;

export interface SerfJoin {
  readonly type: "join";
  readonly LTime: number;
  readonly Node: string;
}

export interface SerfLeave {
  readonly type: "leave";
  readonly LTime: number;
  readonly Node: string;
  /** Serf >= 0.9: remove the member at once instead of keeping it as left. */
  readonly Prune: boolean;
}

export interface SerfUserEvent {
  readonly type: "userEvent";
  readonly LTime: number;
  readonly Name: string;
  readonly Payload: Uint8Array;
  /** Coalesce: Serf may merge events of the same name. */
  readonly CC: boolean;
}

export interface SerfUserEvents {
  readonly LTime: number;
  readonly Events: readonly { readonly Name: string; readonly Payload: Uint8Array }[];
}

export interface SerfPushPull {
  readonly type: "pushPull";
  readonly LTime: number;
  readonly StatusLTimes: Readonly<Record<string, number>>;
  readonly LeftMembers: readonly string[];
  readonly EventLTime: number;
  readonly Events: readonly (SerfUserEvents | null)[];
  readonly QueryLTime: number;
}

export interface SerfQuery {
  readonly type: "query";
  readonly LTime: number;
  readonly ID: number;
  readonly Addr: Uint8Array;
  readonly Port: number;
  readonly SourceNode: string;
  readonly Filters: readonly Uint8Array[];
  readonly Flags: number;
  readonly RelayFactor: number;
  /** Go time.Duration: nanoseconds. */
  readonly Timeout: number;
  readonly Name: string;
  readonly Payload: Uint8Array;
}

export interface SerfQueryResponse {
  readonly type: "queryResponse";
  readonly LTime: number;
  readonly ID: number;
  readonly From: string;
  readonly Flags: number;
  /** null: Go's nil slice (an ack carries none), encoded as msgpack nil rather than an empty string. */
  readonly Payload: Uint8Array | null;
}

/** Serf's queryFlag bits (messages.go). */
export const QueryFlag = { ack: 1, noBroadcast: 2 } as const;

/**
 * Serf's messageRelayType: a message (in practice a query response) that the receiver forwards,
 * unwrapped, to DestAddr. The header is Go's relayHeader{DestAddr net.UDPAddr, DestName string}.
 */
export interface SerfRelay {
  readonly type: "relay";
  readonly DestAddr: { readonly IP: Uint8Array; readonly Port: number; readonly Zone: string };
  readonly DestName: string;
  readonly Msg: SerfMessage;
}

export type SerfMessage =
  | SerfJoin | SerfLeave | SerfUserEvent | SerfPushPull | SerfQuery | SerfQueryResponse | SerfRelay;

/** A member's Serf tags (Consul's `role`, `dc`, `id`, `port`, `vsn`, ...). Encoded into Meta. */
export type Tags = Readonly<Record<string, string>>;

/** Serf's Vivaldi coordinate (serf/coordinate), carried in ack payloads. */
export interface Coordinate {
  readonly Vec: readonly number[];
  readonly Error: number;
  readonly Adjustment: number;
  readonly Height: number;
}
