/**
 * The public shape of the pure Raft node. The caller (simulator or agent) owns all I/O:
 *
 *   node.tick() / node.step(msg) / node.propose(data) / node.readIndex(ctx, mode) ...
 *   while (node.hasReady()) {
 *     const rd = node.ready();
 *     persist rd.snapshot, rd.entries, rd.hardState  (and sync) BEFORE sending rd.messages
 *     send rd.messages
 *     apply rd.committedEntries to the state machine; answer rd.readStates once applied >= index
 *     (node.takeReadStates() hands over the read states served since, without waiting for a Ready)
 *     node.advance(rd);
 *   }
 *
 * This mirrors etcd-io/raft's RawNode (Tick, Step, Ready, Advance).
 */

/** A server's identity (Consul uses the server's node ID; the simulator uses "n1".."n5"). */
export type NodeId = string;
export type Term = number;
export type Index = number;

export type EntryType = "normal" | "config" | "noop";

export interface Entry {
  readonly term: Term;
  readonly index: Index;
  readonly type: EntryType;
  /** Opaque command bytes for "normal"; an encoded ConfChange for "config"; empty for "noop". */
  readonly data: Uint8Array;
}

/** What must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId | null;
  readonly commit: Index;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  readonly index: Index;
  readonly term: Term;
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The state machine's serialized state at meta.index. */
  readonly data: Uint8Array;
}

/** One server at a time (Raft dissertation §4.1): the configuration takes effect when appended. */
export type ConfChange =
  | { readonly type: "addVoter"; readonly node: NodeId }
  | { readonly type: "addLearner"; readonly node: NodeId }
  | { readonly type: "promote"; readonly node: NodeId }
  | { readonly type: "remove"; readonly node: NodeId };

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** Consul's read modes: `consistent` is ReadIndex, `default` is the leader lease. */
export type ReadMode = "readIndex" | "lease";

/** A read that may be served once the local state machine has applied `index`. */
export interface ReadState {
  readonly index: Index;
  /** The caller's request context, echoed back unchanged. */
  readonly ctx: string;
}

export type MessageType =
  | "preVote" | "preVoteResp"
  | "vote" | "voteResp"
  | "append" | "appendResp"
  | "snapshot" /* InstallSnapshot; answered by appendResp */
  | "heartbeat" | "heartbeatResp"
  | "timeoutNow"
  | "readIndex" | "readIndexResp" /* a follower forwarding a read to its leader */;

export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
  /** append: index of the entry before `entries`; vote/preVote: candidate's last log index. */
  readonly index?: Index;
  /** append: term at `index`; vote/preVote: candidate's last log term. */
  readonly logTerm?: Term;
  readonly entries?: readonly Entry[];
  readonly commit?: Index;
  readonly snapshot?: Snapshot;
  /** Responses: true when the request was refused. */
  readonly reject?: boolean;
  /** appendResp rejection: the follower's hint for fast backtracking (its last index / conflict). */
  readonly rejectHint?: Index;
  readonly rejectHintTerm?: Term;
  /** readIndex / heartbeat context. */
  readonly ctx?: string;
  /** vote after a leadership transfer: bypasses the leader-stickiness check. */
  readonly transfer?: boolean;
  /** readIndex forwarded by a follower: the caller's read mode, so the leader may answer from its lease. */
  readonly readMode?: ReadMode;
}

export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

export interface Ready {
  readonly softState?: SoftState;
  /** Present when term, vote or commit changed: persist (and sync) before sending messages. */
  readonly hardState?: HardState;
  /**
   * Entries to append to stable storage. If entries[0].index is <= the stored last index, the
   * stored suffix from that index is replaced (a follower's conflicting tail).
   */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: persist it and restore the state machine from it. */
  readonly snapshot?: Snapshot;
  /** Send only after the above is durable. */
  readonly messages: readonly Message[];
  /** Entries known committed, in order: apply them to the state machine. */
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** What a restarted node reads back from its disk. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, in order. */
  readonly entries: readonly Entry[];
  /** The configuration to start from when there is neither snapshot nor config entry (bootstrap). */
  readonly initialConf?: ConfState;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** Length of one tick in milliseconds; every other duration becomes ticks once, here. */
  readonly tickMs: number;
  /** hashicorp/raft HeartbeatTimeout: a follower with no leader contact this long may campaign. */
  readonly heartbeatTimeoutMs: number;
  /** hashicorp/raft ElectionTimeout: a candidate's timeout; randomized in [t, 2t). */
  readonly electionTimeoutMs: number;
  /** hashicorp/raft LeaderLeaseTimeout: lease reads and check-quorum use this. */
  readonly leaderLeaseTimeoutMs: number;
  /**
   * Bound on how far two servers' clocks may drift apart, in parts per million of elapsed time.
   * The lease must be shorter than the followers' timeout by one tick plus what this drift can
   * eat (see validateRaftConfig).
   */
  readonly maxClockDriftPpm: number;
  /** Interval between leader heartbeats (hashicorp/raft: heartbeatTimeout / 10). */
  readonly heartbeatIntervalMs: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Entries per append message. */
  readonly maxEntriesPerMsg: number;
  /** In-flight append messages per follower in the replicate state. */
  readonly maxInflightMsgs: number;
}
