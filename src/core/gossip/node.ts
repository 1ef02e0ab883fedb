import { assert } from "../util/assert.ts";
import { shuffle, type Rng } from "../util/rng.ts";
import { Awareness } from "./awareness.ts";
import { BroadcastQueue } from "./broadcast-queue.ts";
import {
  pushPullScaleMs, retransmitLimit, suspicionTimeoutMs, ticksOf, validateConfig, type GossipConfig,
} from "./config.ts";
import type { GossipCounters, GossipEvent, Member, MemberEventType, MemberStatus, OutPacket, Via } from "./events.ts";
import { IdList, MemberIndex, MemberTable, MlState, SerfStatus, type MemberInfo } from "./member-table.ts";
import type {
  Ack, Alive, Coordinate, Dead, IndirectPing, MemberlistMessage, Nack, Ping, PushNodeState, PushPull,
  SerfLeave, SerfMessage, SerfUserEvent, Suspect, Tags, Vsn,
} from "./messages.ts";
import { NodeStateType } from "./messages.ts";
import { type QueryConfig, type QueryHandle, type QueryKeyring, type QueryParams, SerfQueries, defaultQueryConfig } from "./query.ts";
import { SerfLayer } from "./serf.ts";
import { messageBytes, serfMessageBytes } from "./size.ts";
import { Suspicion } from "./suspicion.ts";
import { VivaldiClient } from "./vivaldi.ts";
import { decodePingPayload, decodeTags, encodePingPayload, encodeTags } from "./wire/serf-codec.ts";

export interface GossipSelf {
  readonly name: string;
  /** 4 bytes (IPv4) or 16 (IPv6), as memberlist carries addresses. */
  readonly addr: Uint8Array;
  readonly port: number;
  readonly tags: Tags;
}

export interface GossipOptions {
  /** Monotonic milliseconds, read only to time probe round trips for Vivaldi. Default: ticks * tickMs. */
  readonly clockMs?: () => number;
  /** Share one name index among many nodes in one process (the simulator); default: a private one. */
  readonly memberIndex?: MemberIndex;
  /**
   * Members known from the start, as if learned long ago: no broadcasts, no join events. For a
   * simulator's pre-formed pool (a 10,000-member join storm costs O(N^2) gossip to simulate).
   */
  readonly bootstrapMembers?: readonly Alive[];
  /** The keyring Serf's keyring queries act on (the transport's, when gossip is encrypted). */
  readonly keyring?: QueryKeyring;
  readonly queries?: Partial<QueryConfig>;
}

/** memberlist's compound framing: 1 type byte + 1 count byte, then 2 length bytes per part. */
const compoundHeaderBytes = 2;
const compoundPartBytes = 2;
/** Room for the CRC header (5 bytes), a label and estimate error (size.ts is an estimate). */
const packetMarginBytes = 48;
const emptyBytes = new Uint8Array(0);
/** memberlist frames packets to a peer with a CRC32 when the peer's protocol max is at least this. */
const crcProtocolMin = 5;

interface ProbeState {
  readonly id: number;
  readonly seqNo: number;
  readonly sentMs: number;
  readonly timeoutTick: number;
  readonly deadlineTick: number;
  indirectSent: boolean;
  expectedNacks: number;
  nacks: number;
}

/** An indirect probe we run for another member: its ack (or our nack) goes back to the requester. */
interface Relay {
  readonly requester: string;
  readonly seqNo: number;
  readonly nack: boolean;
  readonly timeoutTick: number;
}

/** A join under way: the addresses asked and not yet answered or refused, until one answers. */
interface JoinState {
  readonly addrs: readonly string[];
  readonly pending: Set<string>;
  readonly deadlineTick: number;
}

type LeavePhase = "none" | "intent" | "dead" | "left";

const tagsMemo = new WeakMap<Uint8Array, Tags>();
const addrMemo = new WeakMap<MemberInfo, string>();

export function formatAddr(addr: Uint8Array, port: number): string {
  if (addr.length === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}:${port}`;
  const groups: string[] = [];
  for (let i = 0; i + 1 < addr.length; i += 2) groups.push(((addr[i]! << 8) | addr[i + 1]!).toString(16));
  return `[${groups.join(":")}]:${port}`;
}

function addrOf(info: MemberInfo): string {
  let s = addrMemo.get(info);
  if (s === undefined) {
    s = formatAddr(info.Addr, info.Port);
    addrMemo.set(info, s);
  }
  return s;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const nodeStateOf: Record<number, NodeStateType> = {
  [MlState.alive]: NodeStateType.alive, [MlState.suspect]: NodeStateType.suspect,
  [MlState.dead]: NodeStateType.dead, [MlState.left]: NodeStateType.left,
};
const statusName: Record<number, MemberStatus> = {
  [SerfStatus.alive]: "alive", [SerfStatus.leaving]: "leaving", [SerfStatus.left]: "left", [SerfStatus.failed]: "failed",
};

/**
 * One member of a gossip pool: memberlist's SWIM with Lifeguard, and Serf's layer above it, as a
 * pure state machine. The caller feeds tick(), receive() and the API calls, then drains packets to
 * send and events to report. Nothing here reads a clock, a socket or an ambient random source.
 */
export class GossipNode {
  readonly name: string;
  readonly counters: GossipCounters = {
    pingWrongNode: 0, unexpectedAck: 0, badPayload: 0, badTags: 0, unsupported: 0, oversizedEvents: 0, queuePruned: 0, tcpFallbackSaves: 0,
    badEvents: 0,
  };
  private nowTick = 0;
  private readonly t: MemberTable;
  private readonly selfId: number;
  private selfAlive: Alive;
  private readonly probeList = new IdList();
  private probeIndex = 0;
  private seqNo = 0;
  private probe: ProbeState | null = null;
  private readonly relays = new Map<number, Relay>();
  private readonly suspicions = new Map<number, Suspicion>();
  private readonly broadcasts = new BroadcastQueue<MemberlistMessage>();
  private readonly serf: SerfLayer;
  private readonly queries: SerfQueries;
  private readonly awareness: Awareness;
  private readonly vivaldi: VivaldiClient | null;
  private readonly coordinates = new Map<number, Coordinate>();
  private ackPayloadCache: Uint8Array | null = null;
  private packets: OutPacket[] = [];
  private events: GossipEvent[] = [];
  private joinState: JoinState | null = null;
  private leavePhase: LeavePhase = "none";
  private eventsMuted = false;
  private leaveBroadcastDone = false;
  private leaveDeadlineTick = 0;
  private nextProbeTick: number;
  private nextGossipTick: number;
  private nextPushPullTick: number;
  /** memberlist's pushPullTrigger waits out its random stagger, then a whole interval, before the first push/pull. */
  private pushPullStaggered = false;
  private nextReapTick: number;
  private nextReconnectTick: number;
  private readonly ticks: {
    probeInterval: number; probeTimeout: number; gossipInterval: number; gossipToTheDead: number; tcpTimeout: number;
    reapInterval: number; reconnectInterval: number; reconnectTimeout: number; tombstoneTimeout: number;
    recentIntentTimeout: number; broadcastTimeout: number;
  };
  private readonly clockMs: () => number;

  constructor(readonly config: GossipConfig, self: GossipSelf, private readonly rng: Rng, options: GossipOptions = {}) {
    validateConfig(config);
    assert(self.name.length > 0, "a member needs a name");
    assert(self.addr.length === 4 || self.addr.length === 16, `address of ${self.addr.length} bytes; want 4 or 16`);
    assert(Number.isInteger(self.port) && self.port > 0 && self.port < 65_536, `port ${self.port} out of range`);
    this.name = self.name;
    this.ticks = this.computeTicks(config);
    this.clockMs = options.clockMs ?? (() => this.nowTick * config.tickMs);
    this.t = new MemberTable(options.memberIndex ?? new MemberIndex());
    this.selfId = this.t.index.idOf(self.name);
    assert(this.t.known(self.name) === undefined, `member ${self.name} is already in this table`);
    this.awareness = new Awareness(config.lifeguard ? config.awarenessMaxMultiplier : 1);
    this.vivaldi = config.coordinates ? new VivaldiClient(config.vivaldi, rng) : null;
    this.serf = new SerfLayer(this.t, this.selfId, config.eventBufferSize, {
      memberEvent: (type, id) => this.emitMemberEvent(type, id),
      userEvent: (e) => this.events.push({ type: "user-event", name: e.Name, payload: e.Payload, lTime: e.LTime, coalesce: e.CC }),
    });
    this.selfAlive = {
      type: "alive", Incarnation: 1, Node: self.name, Addr: self.addr, Port: self.port, Meta: encodeTags(self.tags), Vsn: this.vsn(),
    };
    this.queries = new SerfQueries(this.queryHost(), this.serf.queryClock, rng, options.keyring ?? null, { ...defaultQueryConfig, ...options.queries });
    this.addMember(this.selfId, this.selfAlive);
    // In a pool formed long ago (bootstrap members), our own alive is old news to everyone.
    if ((options.bootstrapMembers ?? []).length === 0) this.broadcasts.queue(self.name, this.selfAlive, messageBytes(this.selfAlive));
    this.eventsMuted = true;
    for (const a of options.bootstrapMembers ?? []) this.bootstrapMember(a);
    this.eventsMuted = false;
    // Stagger the periodic work so that members started together do not act in lockstep.
    this.nextProbeTick = 1 + Math.floor(rng.next() * this.ticks.probeInterval);
    this.nextGossipTick = 1 + Math.floor(rng.next() * this.ticks.gossipInterval);
    this.nextPushPullTick = 1 + Math.floor(rng.next() * ticksOf(config.pushPullIntervalMs, config.tickMs));
    this.nextReapTick = this.ticks.reapInterval;
    this.nextReconnectTick = this.ticks.reconnectInterval;
  }

  private computeTicks(c: GossipConfig): GossipNode["ticks"] {
    const of = (ms: number): number => ticksOf(ms, c.tickMs);
    return {
      probeInterval: of(c.probeIntervalMs), probeTimeout: of(c.probeTimeoutMs), gossipInterval: of(c.gossipIntervalMs),
      gossipToTheDead: of(c.gossipToTheDeadMs), tcpTimeout: of(c.tcpTimeoutMs), reapInterval: of(c.reapIntervalMs),
      reconnectInterval: of(c.reconnectIntervalMs), reconnectTimeout: of(c.reconnectTimeoutMs),
      tombstoneTimeout: of(c.tombstoneTimeoutMs), recentIntentTimeout: of(c.recentIntentTimeoutMs),
      broadcastTimeout: of(c.broadcastTimeoutMs),
    };
  }

  private vsn(): Vsn {
    // memberlist speaks protocol 1..5, Serf's delegate 2..5.
    return [1, 5, this.config.protocolVersion, 2, 5, this.config.delegateVersion];
  }

  // ---------------------------------------------------------------- API

  get tickCount(): number {
    return this.nowTick;
  }

  get incarnation(): number {
    return this.t.incarnation[this.selfId]!;
  }

  get awarenessScore(): number {
    return this.awareness.score;
  }

  /** This member's Vivaldi coordinate (null when coordinates are off). */
  get coordinate(): Coordinate | null {
    return this.vivaldi === null ? null : this.vivaldi.coordinate;
  }

  /** leave() has completed: the caller may stop ticking and close its sockets. */
  get hasLeft(): boolean {
    return this.leavePhase === "left";
  }

  /** Members whose Serf status is alive (this one included while it is not leaving). */
  get aliveCount(): number {
    return this.serf.aliveCount;
  }

  /** Broadcasts still queued for piggybacking (memberlist's and Serf's). */
  get pendingBroadcasts(): number {
    return this.broadcasts.length + this.serf.broadcasts.length;
  }

  /** Members in memberlist's list (alive, suspect, and dead ones not yet dropped). */
  get numMembers(): number {
    return this.probeList.length;
  }

  tick(): void {
    this.nowTick++;
    if (this.leavePhase === "left") return;
    this.tickProbe();
    this.tickSuspicions();
    this.tickRelays();
    this.queries.tick();
    if (this.nowTick >= this.nextGossipTick) this.gossip();
    if (this.nowTick >= this.nextPushPullTick) this.periodicPushPull();
    if (this.nowTick >= this.nextReapTick) this.reap();
    if (this.nowTick >= this.nextReconnectTick) this.reconnect();
    if (this.joinState !== null && this.nowTick >= this.joinState.deadlineTick) this.joinFailed();
    if (this.leavePhase !== "none") this.tickLeave();
  }

  /**
   * The first tick at which tick() may do anything a peer or the owner would notice (send, emit,
   * change a member's state); every tick before it only counts. An owner on a real clock sleeps
   * until then instead of waking every tickMs: a Node process woken 20 times a second costs more
   * CPU than the whole of serf's member. The owner still calls tick() once for every tick that
   * passed (ticking is cheap; waking is not), and catches up before each receive() and API call,
   * so the core sees the same sequence of ticks as before. Conservative: while a suspicion, relay,
   * join or leave is under way it may answer the next tick.
   */
  nextWakeTick(): number {
    if (this.leavePhase === "left") return Number.POSITIVE_INFINITY;
    const next = this.nowTick + 1;
    if (this.leavePhase !== "none") return next;
    let wake = Math.min(this.nextPushPullTick, this.nextReapTick, this.nextReconnectTick, this.queries.nextDeadlineTick());
    const p = this.probe;
    if (p === null) wake = Math.min(wake, this.nextProbeTick);
    else wake = Math.min(wake, p.indirectSent ? p.deadlineTick : p.timeoutTick, p.deadlineTick);
    // Gossip with nothing queued sends nothing; a broadcast queued later comes with a receive() or an API call.
    if (this.pendingBroadcasts > 0) wake = Math.min(wake, this.nextGossipTick);
    if (this.joinState !== null) wake = Math.min(wake, this.joinState.deadlineTick);
    for (const timer of this.suspicions.values()) wake = Math.min(wake, timer.deadlineTick);
    for (const relay of this.relays.values()) wake = Math.min(wake, relay.timeoutTick);
    return Math.max(next, wake);
  }

  /** One decoded message from `from` ("ip:port"). Messages for a member that has left are ignored. */
  receive(from: string, msg: MemberlistMessage, via: Via): void {
    if (this.leavePhase === "left") return;
    switch (msg.type) {
      case "ping": return this.onPing(from, msg, via);
      case "indirectPing": return this.onIndirectPing(from, msg);
      case "ackResp": return this.onAck(msg, via);
      case "nackResp": return this.onNack(msg);
      case "err": this.counters.unsupported++; return;
      case "suspect": return this.suspectNode(msg);
      case "alive": return this.aliveNode(msg);
      case "dead": return this.deadNode(msg);
      case "pushPull": return this.onPushPull(from, msg, via);
      case "user": return this.onSerfMessage(msg.Msg);
    }
  }

  /**
   * Join by a push/pull with every one of `addrs`, as memberlist's Join does: joining through
   * only the first that answers lets members restarted together form a pool of their own, where
   * the refutation of a suspicion the others still hold never reaches them. The first answer
   * completes the join; it fails when none answers within tcpTimeout.
   */
  join(addrs: readonly string[]): void {
    assert(addrs.length > 0, "join needs at least one address");
    assert(this.leavePhase === "none", `join while leaving (${this.leavePhase})`);
    this.joinState = { addrs: [...addrs], pending: new Set(addrs), deadlineTick: this.nowTick + this.ticks.tcpTimeout };
    for (const addr of this.joinState.pending) this.sendPushPull(addr, true);
  }

  /** The caller could not open a TCP stream to `to`: a join waits for it no longer. */
  unreachable(to: string): void {
    const j = this.joinState;
    if (j === null || !j.pending.delete(to)) return;
    if (j.pending.size === 0) this.joinFailed();
  }

  /** Graceful leave: a Serf leave intent, then memberlist's dead-from-self, each given time to spread. */
  leave(): void {
    if (this.leavePhase !== "none") return;
    this.serf.leaving = true;
    const msg: SerfLeave = { type: "leave", LTime: this.serf.clock.time(), Node: this.name, Prune: false };
    this.serf.clock.increment();
    this.serf.onLeaveIntent(msg, this.nowTick);
    this.leavePhase = "intent";
    this.leaveBroadcastDone = this.serf.aliveCount === 0;
    this.leaveDeadlineTick = this.nowTick + this.ticks.broadcastTimeout;
    this.serf.broadcast(msg, () => { this.leaveBroadcastDone = true; });
  }

  /** A user event, delivered here too (Serf does the same) and spread to every member. */
  userEvent(name: string, payload: Uint8Array, coalesce: boolean): void {
    assert(this.leavePhase === "none", `user event while leaving (${this.leavePhase})`);
    if (name.length === 0) throw new RangeError("a user event needs a name");
    const size = name.length + payload.length;
    if (size > this.config.userEventSizeLimit) {
      this.counters.oversizedEvents++;
      throw new RangeError(`user event ${name} is ${size} bytes, over the limit of ${this.config.userEventSizeLimit}`);
    }
    const msg: SerfUserEvent = { type: "userEvent", LTime: this.serf.eventClock.time(), Name: name, Payload: payload, CC: coalesce };
    this.serf.eventClock.increment();
    this.serf.onUserEvent(msg);
    this.serfBroadcast(msg);
  }

  /**
   * A Serf query to the pool (or the members its filters pick); this member handles it too, as
   * Serf does. Acks, responses and the close arrive as query-ack, query-response and query-done
   * events naming the handle's lTime and id. Throws RangeError on bad parameters or an oversized query.
   */
  query(name: string, payload: Uint8Array, params: QueryParams = {}): QueryHandle {
    assert(this.leavePhase === "none", `query while leaving (${this.leavePhase})`);
    return this.queries.query(name, payload, params);
  }

  /** Answers a `query` event; throws RangeError when it is unknown, answered, late or oversized. */
  respond(lTime: number, id: number, payload: Uint8Array): void {
    this.queries.respond(lTime, id, payload);
  }

  /** Serf's DefaultQueryTimeout for the pool as it is now. */
  get defaultQueryTimeoutMs(): number {
    return this.queries.defaultTimeoutMs();
  }

  /** New tags: a new incarnation carries them to everyone as an alive message. */
  setTags(tags: Tags): void {
    const meta = encodeTags(tags);
    this.selfAlive = { ...this.selfAlive, Incarnation: this.incarnation + 1, Meta: meta };
    this.t.incarnation[this.selfId] = this.selfAlive.Incarnation;
    this.t.info[this.selfId] = this.selfAlive;
    this.broadcasts.queue(this.name, this.selfAlive, messageBytes(this.selfAlive));
    this.emitMemberEvent("member-update", this.selfId);
  }

  /** Serf's force-leave: a failed member becomes left everywhere. False when the name is unknown. */
  forceLeave(name: string): boolean {
    if (this.t.known(name) === undefined) return false;
    const msg: SerfLeave = { type: "leave", LTime: this.serf.clock.time(), Node: name, Prune: false };
    this.serf.clock.increment();
    this.serf.onLeaveIntent(msg, this.nowTick);
    this.serfBroadcast(msg);
    return true;
  }

  drain(): { packets: OutPacket[]; events: GossipEvent[] } {
    const out = { packets: this.packets, events: this.events };
    this.packets = [];
    this.events = [];
    return out;
  }

  members(): Member[] {
    const out: Member[] = [];
    for (let id = 0; id < this.t.capacity; id++) if (this.t.status[id] !== SerfStatus.none) out.push(this.memberView(id));
    return out;
  }

  member(name: string): Member | null {
    const id = this.t.known(name);
    return id === undefined ? null : this.memberView(id);
  }

  /** memberlist's state of a member (for tests and checkers), or null when unknown. */
  memberState(name: string): { state: "alive" | "suspect" | "dead" | "left"; incarnation: number } | null {
    const id = this.t.known(name);
    if (id === undefined) return null;
    const states = ["alive", "suspect", "dead", "left"] as const;
    return { state: states[this.t.state[id]! - 1]!, incarnation: this.t.incarnation[id]! };
  }

  /** Serf status by member id of the shared index (fast path for a simulator's checkers). */
  statusById(id: number): MemberStatus | null {
    if (id >= this.t.capacity) return null;
    return statusName[this.t.status[id]!] ?? null;
  }

  // ---------------------------------------------------------------- members

  private addMember(id: number, info: Alive): void {
    const t = this.t;
    t.ensure(id);
    assert(t.state[id] === MlState.unknown, `member ${info.Node} added twice`);
    t.state[id] = MlState.alive;
    t.incarnation[id] = info.Incarnation;
    t.info[id] = info;
    t.stateTick[id] = this.nowTick;
    this.list(id);
    this.serf.onJoin(id, this.nowTick);
  }

  private bootstrapMember(a: Alive): void {
    if (a.Node === this.name) return;
    const id = this.t.index.idOf(a.Node);
    this.t.ensure(id);
    if (this.t.state[id] !== MlState.unknown) return;
    this.addMember(id, a);
  }

  /** Into the probe list at a random place, as memberlist inserts new nodes. */
  private list(id: number): void {
    if (this.t.listed[id] === 1) return;
    this.t.listed[id] = 1;
    const list = this.probeList;
    list.push(id);
    const j = Math.floor(this.rng.next() * list.length);
    list.set(list.length - 1, list.get(j));
    list.set(j, id);
  }

  private memberView(id: number): Member {
    const t = this.t;
    const info = t.info[id];
    assert(info !== undefined, `no info for member ${id}`);
    const coordinate = id === this.selfId ? this.coordinate ?? undefined : this.coordinates.get(id);
    return {
      name: info.Node, addr: info.Addr, port: info.Port, tags: this.tagsOf(info.Meta),
      status: statusName[t.status[id]!] ?? "failed", incarnation: t.incarnation[id]!,
      ...(coordinate === undefined ? {} : { coordinate }),
    };
  }

  private tagsOf(meta: Uint8Array): Tags {
    let tags = tagsMemo.get(meta);
    if (tags === undefined) {
      try {
        tags = decodeTags(meta);
      } catch {
        this.counters.badTags++;
        tags = {};
      }
      tagsMemo.set(meta, tags);
    }
    return tags;
  }

  private emitMemberEvent(type: MemberEventType, id: number): void {
    if (this.eventsMuted) return;
    this.events.push({ type, member: this.memberView(id) });
  }

  // ---------------------------------------------------------------- sending

  private nextSeq(): number {
    this.seqNo = (this.seqNo + 1) >>> 0;
    return this.seqNo;
  }

  /**
   * A UDP packet with broadcasts piggybacked in the room left, as memberlist's sendMsg does:
   * memberlist's own queue first, then Serf's.
   */
  private sendUdp(to: string, msgs: MemberlistMessage[], crc = false): void {
    let used = compoundHeaderBytes + packetMarginBytes;
    for (const m of msgs) used += messageBytes(m) + compoundPartBytes;
    for (const m of this.takeBroadcasts(this.config.udpBufferBytes - used)) msgs.push(m);
    this.packets.push(crc ? { to, msgs, via: "udp", crc } : { to, msgs, via: "udp" });
  }

  private takeBroadcasts(availBytes: number): MemberlistMessage[] {
    if (availBytes <= compoundPartBytes) return [];
    const limit = retransmitLimit(this.config.retransmitMult, Math.max(1, this.probeList.length));
    const out = this.broadcasts.take(compoundPartBytes, availBytes, limit);
    const rest = availBytes - this.broadcasts.lastTakeBytes;
    if (rest > compoundPartBytes && this.serf.broadcasts.length > 0) {
      for (const m of this.serf.broadcasts.take(compoundPartBytes + 1, rest, limit)) out.push({ type: "user", Msg: m });
    }
    return out;
  }

  private serfBroadcast(msg: SerfMessage): void {
    this.serf.broadcast(msg);
    if (this.serf.broadcasts.length > this.config.maxQueueDepth) {
      this.counters.queuePruned += this.serf.broadcasts.length - this.config.maxQueueDepth;
      this.serf.broadcasts.prune(this.config.maxQueueDepth);
    }
  }

  private ackPayload(): Uint8Array {
    if (this.vivaldi === null) return emptyBytes;
    if (this.ackPayloadCache === null) this.ackPayloadCache = encodePingPayload(this.vivaldi.coordinate);
    return this.ackPayloadCache;
  }

  private pingFor(seqNo: number, node: string): Ping {
    return { type: "ping", SeqNo: seqNo, Node: node, SourceAddr: this.selfAlive.Addr, SourcePort: this.selfAlive.Port, SourceNode: this.name };
  }

  /** k distinct random members passing `accept`, by up to 3n random draws (memberlist kRandomNodes). */
  private kRandom(k: number, accept: (id: number) => boolean): number[] {
    const out: number[] = [];
    const n = this.probeList.length;
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const id = this.probeList.get(Math.floor(this.rng.next() * n));
      if (accept(id) && !out.includes(id)) out.push(id);
    }
    return out;
  }

  private infoOf(id: number): MemberInfo {
    const info = this.t.info[id];
    assert(info !== undefined, `member ${id} has no address`);
    return info;
  }

  // ---------------------------------------------------------------- probing (SWIM + Lifeguard)

  private tickProbe(): void {
    const p = this.probe;
    if (p !== null) {
      if (!p.indirectSent && this.nowTick >= p.timeoutTick) this.sendIndirectProbes(p);
      if (this.nowTick >= p.deadlineTick) this.probeFailed(p);
    }
    if (this.probe === null && this.nowTick >= this.nextProbeTick) this.startProbe();
  }

  private startProbe(): void {
    // Lifeguard: a member that misses acks stretches its own probe period.
    const intervalTicks = this.awareness.scale(this.ticks.probeInterval);
    this.nextProbeTick = this.nowTick + intervalTicks;
    const id = this.nextProbeTarget();
    if (id === undefined) return;
    const info = this.infoOf(id);
    const seqNo = this.nextSeq();
    // The send time is taken before the packet leaves, as memberlist does, so RTTs include our own queueing.
    this.probe = {
      id, seqNo, sentMs: this.clockMs(), timeoutTick: this.nowTick + this.ticks.probeTimeout,
      deadlineTick: this.nowTick + intervalTicks, indirectSent: false, expectedNacks: 0, nacks: 0,
    };
    const msgs: MemberlistMessage[] = [this.pingFor(seqNo, info.Node)];
    if (this.t.state[id] === MlState.suspect && this.config.lifeguard) {
      // Buddy system: tell a suspect it is suspected, in the probe itself, so it can refute at once.
      msgs.push({ type: "suspect", Incarnation: this.t.incarnation[id]!, Node: info.Node, From: this.name });
      return this.sendUdp(addrOf(info), msgs, info.Vsn[1] >= crcProtocolMin);
    }
    this.sendUdp(addrOf(info), msgs);
  }

  /** Round robin over the shuffled list; at the end of a round, drop long-dead members and reshuffle. */
  private nextProbeTarget(): number | undefined {
    for (let checked = 0; checked <= this.probeList.length; checked++) {
      if (this.probeIndex >= this.probeList.length) {
        this.resetProbeList();
        this.probeIndex = 0;
        continue;
      }
      const id = this.probeList.get(this.probeIndex++);
      const state = this.t.state[id];
      if (id !== this.selfId && (state === MlState.alive || state === MlState.suspect)) return id;
    }
    return undefined;
  }

  private resetProbeList(): void {
    const t = this.t;
    const deadTicks = this.ticks.gossipToTheDead;
    this.probeList.retain((id) => {
      const gone = (t.state[id] === MlState.dead || t.state[id] === MlState.left) && this.nowTick - t.stateTick[id]! > deadTicks;
      if (gone) t.listed[id] = 0;
      return !gone;
    });
    const ids: number[] = [];
    for (let i = 0; i < this.probeList.length; i++) ids.push(this.probeList.get(i));
    shuffle(this.rng, ids);
    ids.forEach((id, i) => this.probeList.set(i, id));
  }

  private sendIndirectProbes(p: ProbeState): void {
    p.indirectSent = true;
    const target = this.infoOf(p.id);
    const peers = this.kRandom(this.config.indirectChecks, (id) => id !== this.selfId && id !== p.id && this.t.state[id] === MlState.alive);
    for (const peer of peers) {
      // Only members speaking protocol 4 or later answer with a nack (Lifeguard).
      const nack = this.config.lifeguard && this.infoOf(peer).Vsn[1] >= 4;
      if (nack) p.expectedNacks++;
      const req: IndirectPing = {
        type: "indirectPing", SeqNo: p.seqNo, Target: target.Addr, Port: target.Port, Node: target.Node, Nack: nack,
        SourceAddr: this.selfAlive.Addr, SourcePort: this.selfAlive.Port, SourceNode: this.name,
      };
      this.sendUdp(addrOf(this.infoOf(peer)), [req]);
    }
    // TCP fallback: a member cut off from UDP but reachable over TCP is not falsely suspected.
    if (!this.config.disableTcpPings && target.Vsn[1] >= 3) {
      this.packets.push({ to: addrOf(target), msgs: [this.pingFor(p.seqNo, target.Node)], via: "tcp" });
    }
  }

  private probeFailed(p: ProbeState): void {
    this.probe = null;
    // Lifeguard: missing nacks mean the fault is likely ours; with no nack-capable peers, any failure counts.
    const delta = p.expectedNacks > 0 ? Math.max(0, p.expectedNacks - p.nacks) : 1;
    this.awareness.applyDelta(delta);
    const state = this.t.state[p.id];
    if (state !== MlState.alive && state !== MlState.suspect) return;
    this.suspectNode({ type: "suspect", Incarnation: this.t.incarnation[p.id]!, Node: this.t.index.nameOf(p.id), From: this.name });
  }

  private completeProbe(p: ProbeState, payload: Uint8Array, via: Via): void {
    this.probe = null;
    this.awareness.applyDelta(-1);
    if (via === "tcp-reply") this.counters.tcpFallbackSaves++;
    if (payload.length === 0 || this.vivaldi === null) return;
    const other = decodePingPayload(payload);
    if (other === null) {
      this.counters.badPayload++;
      return;
    }
    const rttMs = this.clockMs() - p.sentMs;
    if (this.vivaldi.update(this.t.index.nameOf(p.id), other, rttMs)) {
      this.coordinates.set(p.id, other);
      this.ackPayloadCache = null;
    } else {
      this.counters.badPayload++;
    }
  }

  private onPing(from: string, m: Ping, via: Via): void {
    if (m.Node !== "" && m.Node !== this.name) {
      // A ping meant for whoever had this address before us.
      this.counters.pingWrongNode++;
      return;
    }
    if (via !== "udp") {
      // memberlist answers a TCP fallback ping without asking the ping delegate: no coordinate.
      this.packets.push({ to: from, msgs: [{ type: "ackResp", SeqNo: m.SeqNo, Payload: emptyBytes }], via: "tcp-reply" });
      return;
    }
    const ack: Ack = { type: "ackResp", SeqNo: m.SeqNo, Payload: this.ackPayload() };
    const hasSource = m.SourceAddr !== undefined && m.SourceAddr.length > 0 && m.SourcePort !== undefined && m.SourcePort > 0;
    this.sendUdp(hasSource ? formatAddr(m.SourceAddr!, m.SourcePort!) : from, [ack]);
  }

  private onIndirectPing(from: string, m: IndirectPing): void {
    if (m.Target.length !== 4 && m.Target.length !== 16) {
      this.counters.unsupported++;
      return;
    }
    const seqNo = this.nextSeq();
    const hasSource = m.SourceAddr !== undefined && m.SourceAddr.length > 0 && m.SourcePort !== undefined && m.SourcePort > 0;
    const requester = hasSource ? formatAddr(m.SourceAddr!, m.SourcePort!) : from;
    this.relays.set(seqNo, { requester, seqNo: m.SeqNo, nack: m.Nack, timeoutTick: this.nowTick + this.ticks.probeTimeout });
    this.sendUdp(formatAddr(m.Target, m.Port), [this.pingFor(seqNo, m.Node)]);
  }

  private onAck(m: Ack, via: Via): void {
    const p = this.probe;
    if (p !== null && m.SeqNo === p.seqNo) return this.completeProbe(p, m.Payload, via);
    const relay = this.relays.get(m.SeqNo);
    if (relay === undefined) {
      this.counters.unexpectedAck++;
      return;
    }
    this.relays.delete(m.SeqNo);
    this.sendUdp(relay.requester, [{ type: "ackResp", SeqNo: relay.seqNo, Payload: emptyBytes }]);
  }

  private onNack(m: Nack): void {
    const p = this.probe;
    if (p !== null && m.SeqNo === p.seqNo) p.nacks++;
    else this.counters.unexpectedAck++;
  }

  private tickRelays(): void {
    if (this.relays.size === 0) return;
    for (const [seqNo, relay] of this.relays) {
      if (this.nowTick < relay.timeoutTick) continue;
      this.relays.delete(seqNo);
      if (relay.nack) this.sendUdp(relay.requester, [{ type: "nackResp", SeqNo: relay.seqNo }]);
    }
  }

  // ---------------------------------------------------------------- state transitions (memberlist state.go)

  private aliveNode(a: Alive): void {
    if (a.Node.length === 0) return this.malformed();
    const t = this.t;
    const known = t.known(a.Node);
    if (known !== undefined) {
      const inc = t.incarnation[known]!;
      if (known !== this.selfId && a.Incarnation <= inc) return;
      if (known === this.selfId && a.Incarnation < inc) return;
      this.suspicions.delete(known);
    }
    if (known === this.selfId) return this.maybeRefuteAlive(a);
    this.broadcasts.queue(a.Node, a, messageBytes(a));
    if (known === undefined) {
      const id = t.index.idOf(a.Node);
      this.addMember(id, a);
      return;
    }
    const oldState = t.state[known];
    const oldMeta = t.info[known]!.Meta;
    t.incarnation[known] = a.Incarnation;
    t.info[known] = a;
    this.list(known);
    if (oldState !== MlState.alive) {
      t.state[known] = MlState.alive;
      t.stateTick[known] = this.nowTick;
    }
    if (oldState === MlState.dead || oldState === MlState.left) this.serf.onJoin(known, this.nowTick);
    else if (!sameBytes(oldMeta, a.Meta)) this.emitMemberEvent("member-update", known);
  }

  /** An alive about us: the same incarnation with the same facts is an echo; anything else is refuted. */
  private maybeRefuteAlive(a: Alive): void {
    const me = this.selfAlive;
    if (a.Incarnation === me.Incarnation && sameBytes(a.Meta, me.Meta) && sameBytes(a.Addr, me.Addr) && a.Port === me.Port) return;
    this.refute(a.Incarnation);
  }

  private suspectNode(s: Suspect): void {
    if (s.Node.length === 0) return this.malformed();
    const t = this.t;
    const id = t.known(s.Node);
    if (id === undefined || s.Incarnation < t.incarnation[id]!) return;
    const timer = this.suspicions.get(id);
    if (timer !== undefined) {
      // Independent confirmations shorten the timeout (Lifeguard); new ones are passed on.
      if (timer.confirm(s.From, this.nowTick)) this.broadcasts.queue(s.Node, s, messageBytes(s));
      return;
    }
    if (t.state[id] !== MlState.alive) return;
    if (id === this.selfId) return this.refute(s.Incarnation);
    this.broadcasts.queue(s.Node, s, messageBytes(s));
    t.incarnation[id] = s.Incarnation;
    t.state[id] = MlState.suspect;
    t.stateTick[id] = this.nowTick;
    this.suspicions.set(id, this.newSuspicion(s.From));
  }

  private newSuspicion(from: string): Suspicion {
    const c = this.config;
    const n = this.probeList.length;
    // k confirmations are expected only if there are enough other members to give them.
    let k = c.lifeguard ? c.suspicionMult - 2 : 0;
    if (n - 2 < k) k = 0;
    const minMs = suspicionTimeoutMs(c.suspicionMult, n, c.probeIntervalMs);
    const maxMs = c.lifeguard ? c.suspicionMaxTimeoutMult * minMs : minMs;
    return new Suspicion(from, k, this.nowTick, c.tickMs, minMs, maxMs);
  }

  private tickSuspicions(): void {
    if (this.suspicions.size === 0) return;
    for (const [id, timer] of this.suspicions) {
      if (this.nowTick < timer.deadlineTick) continue;
      this.suspicions.delete(id);
      assert(this.t.state[id] === MlState.suspect, `suspicion timer for ${id} in state ${this.t.state[id]}`);
      this.deadNode({ type: "dead", Incarnation: this.t.incarnation[id]!, Node: this.t.index.nameOf(id), From: this.name });
    }
  }

  private deadNode(d: Dead): void {
    if (d.Node.length === 0) return this.malformed();
    const t = this.t;
    const id = t.known(d.Node);
    if (id === undefined || d.Incarnation < t.incarnation[id]!) return;
    this.suspicions.delete(id);
    const state = t.state[id];
    if (state === MlState.dead || state === MlState.left) return;
    if (id === this.selfId && this.leavePhase === "none") return this.refute(d.Incarnation);
    if (id === this.selfId) {
      this.broadcasts.queue(d.Node, d, messageBytes(d), () => { this.leaveBroadcastDone = true; });
    } else {
      this.broadcasts.queue(d.Node, d, messageBytes(d));
    }
    t.incarnation[id] = d.Incarnation;
    // A dead message from the member itself is a graceful leave.
    t.state[id] = d.Node === d.From ? MlState.left : MlState.dead;
    t.stateTick[id] = this.nowTick;
    this.serf.onLeave(id, this.nowTick);
  }

  /** We are accused: outbid the accusation's incarnation and say we are alive. */
  private refute(accusedIncarnation: number): void {
    let inc = this.incarnation + 1;
    if (accusedIncarnation >= inc) inc = accusedIncarnation + 1;
    this.selfAlive = { ...this.selfAlive, Incarnation: inc };
    this.t.incarnation[this.selfId] = inc;
    this.t.info[this.selfId] = this.selfAlive;
    // Lifeguard: having to refute is a sign that we are the slow one.
    this.awareness.applyDelta(1);
    this.broadcasts.queue(this.name, this.selfAlive, messageBytes(this.selfAlive));
  }

  private malformed(): void {
    this.counters.unsupported++;
  }

  // ---------------------------------------------------------------- dissemination and anti-entropy

  private gossip(): void {
    this.nextGossipTick = this.nowTick + this.ticks.gossipInterval;
    const t = this.t;
    const targets = this.kRandom(this.config.gossipNodes, (id) => {
      if (id === this.selfId) return false;
      const s = t.state[id];
      if (s === MlState.alive || s === MlState.suspect) return true;
      // Dead members still hear gossip for a while, so one wrongly declared dead learns and refutes.
      return this.nowTick - t.stateTick[id]! <= this.ticks.gossipToTheDead;
    });
    for (const id of targets) {
      const msgs = this.takeBroadcasts(this.config.udpBufferBytes - compoundHeaderBytes - packetMarginBytes);
      if (msgs.length === 0) return;
      const info = this.infoOf(id);
      this.packets.push({ to: addrOf(info), msgs, via: "udp", crc: info.Vsn[1] >= crcProtocolMin });
    }
  }

  private periodicPushPull(): void {
    const n = this.probeList.length;
    this.nextPushPullTick = this.nowTick + ticksOf(pushPullScaleMs(this.config.pushPullIntervalMs, n), this.config.tickMs);
    // The stagger only spreads members started together; a push/pull right after it would add one
    // to every member's first interval (memberlist's first comes a whole interval after it).
    if (!this.pushPullStaggered) return void (this.pushPullStaggered = true);
    const peers = this.kRandom(1, (id) => id !== this.selfId && this.t.state[id] === MlState.alive);
    if (peers.length === 1) this.sendPushPull(addrOf(this.infoOf(peers[0]!)), false);
  }

  private sendPushPull(to: string, join: boolean): void {
    this.packets.push({ to, msgs: [this.localState(join)], via: "tcp" });
  }

  /**
   * Every member we know, dead ones included. memberlist sends only its probe list, because it
   * forgets a member once it has been dead for gossipToTheDead, and an alive message then brings it
   * back at any incarnation. We keep the tombstone instead (so a stale alive cannot resurrect it),
   * and so we must tell the other side of a healed partition that it is dead to us: that is what
   * makes it refute with a higher incarnation.
   */
  private localState(join: boolean): PushPull {
    const t = this.t;
    const nodes: PushNodeState[] = [];
    for (let id = 0; id < t.capacity; id++) {
      if (t.state[id] === MlState.unknown) continue;
      const info = t.info[id]!;
      nodes.push({
        Name: info.Node, Addr: info.Addr, Port: info.Port, Meta: info.Meta, Incarnation: t.incarnation[id]!,
        State: nodeStateOf[t.state[id]!]!, Vsn: info.Vsn,
      });
    }
    return { type: "pushPull", Join: join, Nodes: nodes, UserState: this.serf.localState() };
  }

  private onPushPull(from: string, m: PushPull, via: Via): void {
    // memberlist answers with its state as it was before merging the remote one.
    if (via === "tcp") this.packets.push({ to: from, msgs: [this.localState(m.Join)], via: "tcp-reply" });
    this.mergeRemoteState(m.Nodes);
    if (m.UserState !== null && m.UserState.type === "pushPull") this.serf.mergeRemoteState(m.UserState, this.nowTick);
    if (via === "tcp-reply" && this.joinState?.pending.has(from) === true) this.joinComplete(from);
  }

  private mergeRemoteState(nodes: readonly PushNodeState[]): void {
    for (const n of nodes) {
      if (n.State === NodeStateType.alive) {
        const id = this.t.known(n.Name);
        // Fast path: nothing new about a member we already know at this incarnation or later.
        if (id !== undefined && id !== this.selfId && n.Incarnation <= this.t.incarnation[id]!) continue;
        // memberlist's readRemoteState: a port of 0 (protocol < 2 peers) means our own bind port.
        const port = n.Port === 0 ? this.selfAlive.Port : n.Port;
        this.aliveNode({ type: "alive", Incarnation: n.Incarnation, Node: n.Name, Addr: n.Addr, Port: port, Meta: n.Meta, Vsn: n.Vsn });
      } else if (n.State === NodeStateType.left) {
        this.deadNode({ type: "dead", Incarnation: n.Incarnation, Node: n.Name, From: n.Name });
      } else if (n.State === NodeStateType.dead || n.State === NodeStateType.suspect) {
        // A remote "dead" becomes our suspicion: we give the member its chance to refute.
        this.suspectNode({ type: "suspect", Incarnation: n.Incarnation, Node: n.Name, From: this.name });
      } else {
        this.malformed();
      }
    }
  }

  private onSerfMessage(m: SerfMessage): void {
    switch (m.type) {
      case "join":
        if (this.serf.onJoinIntent(m, this.nowTick)) this.serfBroadcast(m);
        return;
      case "leave":
        if (this.serf.onLeaveIntent(m, this.nowTick)) this.serfBroadcast(m);
        return;
      case "userEvent":
        // Serf never sends an event without a name (its CLI and API require one): refuse, do not relay.
        if (m.Name.length === 0) {
          this.counters.badEvents++;
          return;
        }
        if (this.serf.onUserEvent(m)) this.serfBroadcast(m);
        return;
      case "query":
        if (this.queries.onQuery(m)) this.serfBroadcast(m);
        return;
      case "queryResponse":
        return this.queries.onResponse(m);
      case "relay":
        return this.queries.onRelay(m);
      default:
        // Push/pull state never arrives inside a user message.
        this.counters.unsupported++;
    }
  }

  /** What the query layer sees of this member: its identity, the member table, and the outputs. */
  private queryHost(): ConstructorParameters<typeof SerfQueries>[0] {
    const t = this.t;
    const count = (keep: (id: number) => boolean): number => {
      let n = 0;
      for (let id = 0; id < t.capacity; id++) if (keep(id)) n++;
      return n;
    };
    return {
      name: this.name,
      addr: this.selfAlive.Addr,
      port: this.selfAlive.Port,
      tickMs: this.config.tickMs,
      gossipIntervalMs: this.config.gossipIntervalMs,
      tags: () => this.tagsOf(this.selfAlive.Meta),
      nowTick: () => this.nowTick,
      liveMembers: () => count((id) => t.state[id] === MlState.alive || t.state[id] === MlState.suspect),
      knownMembers: () => count((id) => t.status[id] !== SerfStatus.none),
      relayTargets: (k) => this.kRandom(k, (id) => id !== this.selfId && t.status[id] === SerfStatus.alive && this.infoOf(id).Vsn[1] >= crcProtocolMin)
        .map((id) => ({ name: t.index.nameOf(id), addr: this.infoOf(id).Addr, port: this.infoOf(id).Port })),
      memberRecord: (name) => {
        const id = t.known(name);
        if (id === undefined || t.status[id] === SerfStatus.none) return null;
        const info = this.infoOf(id);
        const [pMin, pMax, pCur, dMin, dMax, dCur] = info.Vsn;
        return {
          Name: info.Node, Addr: info.Addr, Port: info.Port, Tags: this.tagsOf(info.Meta), Status: t.status[id]!,
          ProtocolMin: pMin, ProtocolMax: pMax, ProtocolCur: pCur, DelegateMin: dMin, DelegateMax: dMax, DelegateCur: dCur,
        };
      },
      send: (to, msg) => this.packets.push({ to: formatAddr(to.addr, to.port), msgs: [{ type: "user", Msg: msg }], via: "udp" }),
      broadcast: (msg) => this.serfBroadcast(msg),
      emit: (e) => this.events.push(e),
    };
  }

  // ---------------------------------------------------------------- join, leave, reap, reconnect

  private joinFailed(): void {
    const j = this.joinState;
    assert(j !== null, "no join in progress");
    this.joinState = null;
    this.events.push({ type: "join-failed", addrs: j.addrs });
  }

  private joinComplete(addr: string): void {
    this.joinState = null;
    // Serf announces the join with its current Lamport time, so intents order against leaves.
    this.serf.broadcastJoin(this.serf.clock.time());
    this.events.push({ type: "join-complete", addr });
  }

  private tickLeave(): void {
    const due = this.leaveBroadcastDone || this.nowTick >= this.leaveDeadlineTick;
    if (!due) return;
    if (this.leavePhase === "intent") {
      this.leavePhase = "dead";
      this.leaveBroadcastDone = this.serf.aliveCount === 0;
      this.leaveDeadlineTick = this.nowTick + this.ticks.broadcastTimeout;
      this.deadNode({ type: "dead", Incarnation: this.incarnation, Node: this.name, From: this.name });
    } else if (this.leavePhase === "dead") {
      this.leavePhase = "left";
      this.probe = null;
      this.relays.clear();
      this.events.push({ type: "left" });
    }
  }

  private reap(): void {
    this.nextReapTick = this.nowTick + this.ticks.reapInterval;
    const t = this.t;
    for (const id of [...this.serf.failedIds]) {
      if (this.nowTick - t.statusTick[id]! > this.ticks.reconnectTimeout) this.reapMember(id);
    }
    for (const id of [...this.serf.leftIds]) {
      if (id !== this.selfId && this.nowTick - t.statusTick[id]! > this.ticks.tombstoneTimeout) this.reapMember(id);
    }
    this.serf.expireIntents(this.nowTick, this.ticks.recentIntentTimeout);
  }

  private reapMember(id: number): void {
    assert(id !== this.selfId, "reaping ourselves");
    this.emitMemberEvent("member-reap", id);
    this.serf.onErase(id);
    this.suspicions.delete(id);
    this.coordinates.delete(id);
    if (this.vivaldi !== null) this.vivaldi.forget(this.t.index.nameOf(id));
    if (this.t.listed[id] === 1) {
      this.t.listed[id] = 0;
      this.probeList.retain((x) => x !== id);
    }
    this.t.erase(id);
  }

  /** Serf's reconnect: try one failed member, with probability failed/alive, by a join push/pull. */
  private reconnect(): void {
    this.nextReconnectTick = this.nowTick + this.ticks.reconnectInterval;
    const failed = this.serf.failedIds.size;
    if (failed === 0) return;
    const prob = failed / Math.max(1, this.serf.aliveCount);
    if (this.rng.next() > prob) return;
    const ids = [...this.serf.failedIds];
    const id = ids[Math.floor(this.rng.next() * ids.length)]!;
    this.sendPushPull(addrOf(this.infoOf(id)), true);
  }

  // ---------------------------------------------------------------- invariants

  /** Cheap checks, run after every step by the simulator. */
  invariants(): void {
    const t = this.t;
    const selfState = t.state[this.selfId];
    assert(selfState === MlState.alive || this.leavePhase !== "none", () => `self ${this.name} in state ${selfState} without leaving`);
    assert(t.incarnation[this.selfId] === this.selfAlive.Incarnation, () => `self incarnation ${t.incarnation[this.selfId]} vs alive ${this.selfAlive.Incarnation}`);
    assert(this.selfAlive.Incarnation >= 1, () => `self incarnation ${this.selfAlive.Incarnation} < 1`);
    for (const [id, timer] of this.suspicions) {
      assert(t.state[id] === MlState.suspect, () => `suspicion timer for ${t.index.nameOf(id)} in state ${t.state[id]}`);
      assert(timer.deadlineTick >= 0, () => `suspicion deadline ${timer.deadlineTick}`);
    }
    const p = this.probe;
    if (p !== null) assert(p.timeoutTick <= p.deadlineTick, () => `probe timeout ${p.timeoutTick} after deadline ${p.deadlineTick}`);
    assert(this.probeIndex <= this.probeList.length, () => `probe index ${this.probeIndex} > list ${this.probeList.length}`);
    this.awareness.invariants();
    this.serf.invariants();
  }

  /** Every relation, member by member: O(members), for tests and small simulations. */
  deepInvariants(): void {
    this.invariants();
    const t = this.t;
    let alive = 0;
    for (let id = 0; id < t.capacity; id++) {
      const state = t.state[id]!;
      const status = t.status[id]!;
      assert((state === MlState.unknown) === (t.info[id] === undefined), `member ${id}: state ${state} vs info`);
      assert((state === MlState.unknown) === (status === SerfStatus.none), `member ${id}: state ${state} vs status ${status}`);
      if (state === MlState.alive || state === MlState.suspect) {
        assert(status === SerfStatus.alive || status === SerfStatus.leaving, `member ${t.index.nameOf(id)} ${state} in memberlist but ${status} in Serf`);
      }
      if (state === MlState.dead || state === MlState.left) {
        assert(status === SerfStatus.failed || status === SerfStatus.left, `member ${t.index.nameOf(id)} ${state} in memberlist but ${status} in Serf`);
      }
      if (status === SerfStatus.alive) alive++;
    }
    assert(alive === this.serf.aliveCount, `alive count ${this.serf.aliveCount}, table holds ${alive}`);
    let listed = 0;
    for (let id = 0; id < t.capacity; id++) listed += t.listed[id]!;
    assert(listed === this.probeList.length, `listed flags ${listed} vs probe list ${this.probeList.length}`);
    this.broadcasts.invariants();
    this.serf.broadcasts.invariants();
  }
}
