import {
  RaftHost, defaultRaftHostConfig, type RaftHostConfig, type RaftNodeLike, type RaftNodeStatus, type ReadOutcome, type StateMachine,
} from "../src/agent/raft-host.ts";
import type { ConfState, Entry, Message, NodeId, PersistedState, RaftConfig, ReadMode } from "../src/core/raft/types.ts";
import type { Rng } from "../src/core/util/rng.ts";
import { assert } from "../src/core/util/assert.ts";
import type { RaftStorage } from "../src/storage/types.ts";
import type { Transport } from "../src/transports/transport.ts";
import { RaftSafetyChecker } from "./checkers/raft-safety.ts";
import { ConfChangeTermChecker } from "./checkers/conf-change-term.ts";
import { ReadFreshnessChecker } from "./checkers/read-freshness.ts";
import { CrashArm, CrashPointError, CrashPointStateMachine, type CrashPoint } from "./crash-points.ts";
import type { SimNetwork } from "./network.ts";
import type { WorldRng } from "./world/rng.ts";
import type { World } from "./world/world.ts";

/** Builds the core under test; tests swap in planted-bug mutants through it. */
export type NodeFactory = (config: RaftConfig, persisted: PersistedState, rng: Rng) => RaftNodeLike;

/** A node's durable side, which survives crashes: its storage and what a crash does to it. */
export interface NodeDisk {
  readonly storage: RaftStorage;
  /** The node died: lose what was not synced (after a failed sync, maybe tear or corrupt it). */
  crash(): void;
  /** Let `syncs` more syncs succeed, then fail one as a power cut would (the node dies mid-write). */
  failSyncAfter(syncs: number): void;
  /** Whether an error thrown out of the storage is the disk dying (not a bug). */
  isCrash(error: unknown): boolean;
  /**
   * Let `saves` more saves complete, then kill the node right after the next one (before it
   * sends); with `entriesOnly`, counting only the saves that carry log entries.
   */
  armAfterPersist(saves: number | null, entriesOnly?: boolean): void;
  /** Make syncs finish through `delay` (asynchronous saves, as the agent runs them); absent: syncs are inline. */
  delaySyncs?(delay: (complete: () => void) => void): void;
}

/** The host class to run (a planted-bug subclass in tests). */
export type HostClass = typeof RaftHost<unknown>;

export interface RaftClusterOptions<S extends StateMachine<unknown>> {
  readonly world: World;
  readonly rng: WorldRng;
  readonly network: SimNetwork<Message>;
  readonly nodeIds: readonly NodeId[];
  readonly makeConfig: (id: NodeId) => RaftConfig;
  readonly nodeFactory: NodeFactory;
  readonly makeStateMachine: () => S;
  readonly makeDisk: (id: NodeId) => NodeDisk;
  /** Per-node multiplier of the tick period (clock drift); 1 for none. */
  readonly driftOf: (id: NodeId) => number;
  readonly hostConfig?: RaftHostConfig;
  /**
   * Syncs take this many simulated milliseconds (drawn per sync), and the hosts save
   * asynchronously: a leader's appends leave before its own sync, and crashes can land while a
   * sync is in flight. Absent: every save syncs inline.
   */
  readonly syncDelayMs?: { readonly min: number; readonly max: number };
  readonly hostClass?: HostClass;
  /** The bootstrap configuration's voters (default: every node); the rest join by membership changes. */
  readonly initialVoters?: readonly NodeId[];
  /** Nodes out of service from the start (spares with empty disks, waiting to be added). */
  readonly retired?: readonly NodeId[];
}

interface NodeSlot<S> {
  readonly id: NodeId;
  readonly disk: NodeDisk;
  /** The clock's tick period; a lease race skews it within the drift bound for a while. */
  tickPeriodMs: number;
  readonly drawnTickPeriodMs: number;
  /** Bumped on every crash, so a dead incarnation's scheduled ticks do nothing. */
  incarnation: number;
  host: RaftHost<unknown> | null;
  stateMachine: S | null;
  lastRole: string;
  /** Armed by a mid-apply crash point: the node dies after applying that many more entries. */
  readonly midApply: CrashArm;
  /** The node's configuration as last seen, and when it last changed (the step-down check reads it). */
  lastConf: string;
  confChangedMs: number;
  /** How long the node stays down when an armed crash point fires (null: drawn at the crash). */
  crashPointDownMs: number | null;
}

/**
 * A cluster of Raft hosts in the simulated world: it starts, ticks, crashes and restarts nodes,
 * and wires every host's hooks to the safety checker, calling the core's `invariants()` after
 * every tick and every received message.
 */
export class RaftCluster<S extends StateMachine<unknown>> {
  readonly checker = new RaftSafetyChecker();
  readonly confChangeChecker = new ConfChangeTermChecker();
  readonly reads = new ReadFreshnessChecker();
  /** The host class, with every read judged by the freshness checker. */
  private readonly Host: HostClass;
  private readonly slots = new Map<NodeId, NodeSlot<S>>();
  readonly conf: ConfState;
  /**
   * Nodes out of service (removed from the configuration and shut down, or spares not yet added):
   * faults and heals leave them down until `unretire`.
   */
  private readonly retired = new Set<NodeId>();
  /** Called for every config entry any node applies (the membership driver listens). */
  onConfigApplied: ((node: NodeId, entry: Entry) => void) | null = null;
  /** Called when a node starts or stops (crash, retire): the connectivity log listens. */
  onNodeChanged: ((node: NodeId) => void) | null = null;
  /** Called when a leader becomes a follower in the same term (check-quorum, or its own removal). */
  onLeaderStepDown: ((node: NodeId, term: number, voters: readonly NodeId[], confChangedMs: number) => void) | null = null;
  /** Called when a node's role or term changes (the fault driver's leader churn follows the leaders). */
  onRoleChanged: ((node: NodeId, role: string, term: number) => void) | null = null;
  /** Called when an armed crash point kills a node. */
  onCrashPointFired: ((node: NodeId) => void) | null = null;
  restarts = 0;
  /** Nodes that died mid-write (an armed sync failed). */
  diskCrashes = 0;
  /** Nodes killed at a crash point inside their Ready loop. */
  crashPoints = 0;

  constructor(private readonly options: RaftClusterOptions<S>) {
    this.conf = { voters: [...(options.initialVoters ?? options.nodeIds)], learners: [] };
    this.Host = withFreshReads(options.hostClass ?? RaftHost, this.reads, options.world);
    for (const id of options.retired ?? []) this.retired.add(id);
    for (const id of options.nodeIds) {
      const config = options.makeConfig(id);
      const tickPeriodMs = periodWithinBound(config, Math.round(config.tickMs * options.driftOf(id)));
      this.slots.set(id, { id, disk: options.makeDisk(id), tickPeriodMs, drawnTickPeriodMs: tickPeriodMs, incarnation: 0, host: null, stateMachine: null, lastRole: "down", midApply: new CrashArm(), lastConf: "", confChangedMs: 0, crashPointDownMs: null });
    }
    const syncDelayMs = options.syncDelayMs;
    if (syncDelayMs !== undefined) {
      for (const slot of this.slots.values()) {
        const rng = options.rng.derive(`sync-delay/${slot.id}`);
        // A sync's completion runs under the disk-crash guard, like a delivery: a crash point or a
        // dying disk there kills the node.
        slot.disk.delaySyncs?.((complete) => options.world.after(rng.int(syncDelayMs.min, syncDelayMs.max), () => this.guard(slot, complete)));
      }
    }
  }

  get nodeIds(): readonly NodeId[] {
    return this.options.nodeIds;
  }

  startAll(): void {
    for (const id of this.options.nodeIds) if (!this.retired.has(id)) this.start(id);
  }

  isRetired(id: NodeId): boolean {
    return this.retired.has(id);
  }

  /** The servers clients know of: all but those out of service (removed, or spares not yet added). */
  inService(): readonly NodeId[] {
    const ids = this.options.nodeIds.filter((id) => !this.retired.has(id));
    return ids.length > 0 ? ids : this.options.nodeIds;
  }

  /** Take a node out of service: shut it down cleanly (its disk keeps everything) and keep it down. */
  retire(id: NodeId): void {
    const slot = this.slot(id);
    if (this.retired.has(id)) return;
    this.retired.add(id);
    if (slot.host !== null) {
      slot.host.stop();
      slot.host = null;
      slot.stateMachine = null;
      slot.incarnation++;
      slot.lastRole = "down";
    }
    this.options.world.record("retire", { node: id });
    this.onNodeChanged?.(id);
  }

  /** Bring a retired node back into service, from whatever its disk holds. */
  unretire(id: NodeId): void {
    if (!this.retired.delete(id)) return;
    this.options.world.record("unretire", { node: id });
    if (!this.isUp(id)) this.start(id);
  }

  isUp(id: NodeId): boolean {
    return this.slot(id).host !== null;
  }

  host(id: NodeId): RaftHost<unknown> | null {
    return this.slot(id).host;
  }

  stateMachine(id: NodeId): S | null {
    return this.slot(id).stateMachine;
  }

  /** Statuses of the nodes that are up, in node order. */
  statuses(): RaftNodeStatus[] {
    const out: RaftNodeStatus[] = [];
    for (const slot of this.slots.values()) if (slot.host !== null) out.push(slot.host.node.status());
    return out;
  }

  /** The up node that believes it leads the highest term, if any. */
  leader(): RaftNodeStatus | null {
    let best: RaftNodeStatus | null = null;
    for (const status of this.statuses()) {
      if (status.role === "leader" && (best === null || status.term > best.term)) best = status;
    }
    return best;
  }

  start(id: NodeId): void {
    const slot = this.slot(id);
    assert(slot.host === null, `start: ${id} is already up`);
    const { world, makeStateMachine, makeConfig, nodeFactory } = this.options;
    const persisted = slot.disk.storage.load();
    this.checker.onStart(id, persisted);
    this.confChangeChecker.onStart(id);
    const stateMachine = makeStateMachine();
    const rng = this.options.rng.derive(`node/${id}/${slot.incarnation}`);
    const config = makeConfig(id);
    const host = new this.Host(
      slot.disk.storage, this.guardedTransport(slot), new CrashPointStateMachine(stateMachine, slot.midApply),
      (p) => nodeFactory(config, { ...p, initialConf: p.initialConf ?? this.conf }, rng),
      this.options.hostConfig ?? defaultRaftHostConfig(),
      {
        onPersisted: (update) => {
          this.checker.onPersisted(id, update);
          this.confChangeChecker.onPersisted(id, update.entries, () => slot.host?.node.status() ?? null);
        },
        onApplied: (entry) => {
          this.checker.onApplied(id, entry);
          if (entry.type === "config") this.onConfigApplied?.(id, entry);
        },
        onCompacted: (index) => this.checker.onCompacted(id, index),
        onSettled: (changed) => this.settled(slot, changed),
      },
    );
    slot.host = host;
    slot.stateMachine = stateMachine;
    world.record("start", { node: id, incarnation: slot.incarnation });
    this.onNodeChanged?.(id);
    this.settled(slot, true);
    this.scheduleTick(slot, slot.incarnation);
  }

  crash(id: NodeId): void {
    const slot = this.slot(id);
    assert(slot.host !== null, `crash: ${id} is already down`);
    slot.host.stop();
    slot.host = null;
    slot.stateMachine = null;
    slot.incarnation++;
    slot.lastRole = "down";
    slot.disk.crash();
    this.options.world.record("crash", { node: id });
    this.onNodeChanged?.(id);
  }

  /**
   * Arm a crash point inside the node's Ready loop (see crash-points.ts), firing after `after` more
   * saves (with entries, for afterAppend) or applied entries; the node comes back `downMs` later
   * (drawn at the crash when not given).
   */
  armCrashPoint(id: NodeId, point: CrashPoint, after: number | null, downMs?: number): void {
    const slot = this.slot(id);
    if (point === "afterPersist" || point === "afterAppend") slot.disk.armAfterPersist(after, point === "afterAppend");
    else slot.midApply.arm(after);
    slot.crashPointDownMs = downMs ?? null;
    this.options.world.record("crashPointArmed", { node: id, point, after, ...(downMs === undefined ? {} : { downMs }) });
  }

  /** Arm a node's disk to die at a coming sync: a crash in the middle of a write. */
  failDiskSoon(id: NodeId, syncs: number): void {
    this.slot(id).disk.failSyncAfter(syncs);
    this.options.world.record("diskArmed", { node: id, syncs });
  }

  /**
   * Run `fn` against a live node; false if it is down. A disk dying inside (an armed sync
   * failing) crashes the node there and then, and it comes back after a short outage.
   */
  withHost(id: NodeId, fn: (host: RaftHost<unknown>, stateMachine: S) => void): boolean {
    const slot = this.slot(id);
    if (slot.host === null) return false;
    this.guard(slot, () => fn(slot.host!, slot.stateMachine!));
    return true;
  }

  private guard(slot: NodeSlot<S>, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      const crashPoint = error instanceof CrashPointError;
      if (!crashPoint && !slot.disk.isCrash(error)) throw error;
      this.options.world.record(crashPoint ? "crashPoint" : "diskCrash", { node: slot.id, ...(crashPoint ? { what: (error as Error).message } : {}) });
      if (crashPoint) this.crashPoints++;
      else this.diskCrashes++;
      this.crash(slot.id);
      const drawnMs = this.options.rng.derive(`disk-outage/${slot.id}/${slot.incarnation}`).int(20, 2_000);
      const downMs = crashPoint && slot.crashPointDownMs !== null ? slot.crashPointDownMs : drawnMs;
      slot.crashPointDownMs = null;
      if (crashPoint) this.onCrashPointFired?.(slot.id);
      this.options.world.after(downMs, () => {
        if (!this.isUp(slot.id)) this.restart(slot.id);
      });
    }
  }

  /** The node's endpoint, with every delivery run under the disk-crash guard. */
  private guardedTransport(slot: NodeSlot<S>): Transport<Message> {
    const endpoint = this.options.network.open(slot.id);
    return {
      localAddr: endpoint.localAddr,
      send: (to, message) => endpoint.send(to, message),
      onMessage: (handler) => endpoint.onMessage((from, message) => this.guard(slot, () => handler(from, message))),
      close: () => endpoint.close(),
    };
  }

  /** Bring a crashed node back; a retired node stays down, and a node already up is left alone. */
  restart(id: NodeId): void {
    if (this.retired.has(id) || this.isUp(id)) return;
    this.restarts++;
    this.start(id);
  }

  /**
   * Run `id`'s clock `ppm` parts per million fast (negative: slow) of true time, from its next
   * tick on; null restores the seed's drawn rate. The period is rounded towards true time, so a
   * skew at the configured bound stays within it.
   */
  skewClock(id: NodeId, ppm: number | null): void {
    const slot = this.slot(id);
    const tickMs = this.options.makeConfig(id).tickMs;
    const exact = tickMs * (1 - (ppm ?? 0) / 1_000_000);
    slot.tickPeriodMs = ppm === null ? slot.drawnTickPeriodMs : Math.max(1, ppm >= 0 ? Math.ceil(exact) : Math.floor(exact));
    this.options.world.record("clock", { node: id, tickPeriodMs: slot.tickPeriodMs });
  }

  checkLogMatching(): void {
    this.checker.checkLogMatching();
  }

  private slot(id: NodeId): NodeSlot<S> {
    const slot = this.slots.get(id);
    assert(slot !== undefined, `unknown node ${id}`);
    return slot;
  }

  private scheduleTick(slot: NodeSlot<S>, incarnation: number): void {
    this.options.world.after(slot.tickPeriodMs, () => {
      if (slot.incarnation !== incarnation || slot.host === null) return;
      this.guard(slot, () => slot.host!.tick());
      if (slot.incarnation === incarnation) this.scheduleTick(slot, incarnation);
    });
  }

  /** Invariants after every input; the status-based checks only when role or term may have moved. */
  private settled(slot: NodeSlot<S>, changed: boolean): void {
    const host = slot.host;
    if (host === null) return;
    host.node.invariants();
    if (!changed) return;
    const status = host.node.status();
    this.checker.onStatus(status);
    this.reads.onCommit(slot.id, status.commit);
    const conf = `${status.conf.voters.join(",")}/${status.conf.learners.join(",")}`;
    if (conf !== slot.lastConf) {
      slot.lastConf = conf;
      slot.confChangedMs = this.options.world.nowMs;
    }
    const role = `${status.role}/${status.term}`;
    if (role !== slot.lastRole) {
      if (slot.lastRole === `leader/${status.term}` && status.role === "follower") this.onLeaderStepDown?.(slot.id, status.term, status.conf.voters, slot.confChangedMs);
      slot.lastRole = role;
      this.onRoleChanged?.(slot.id, status.role, status.term);
      this.options.world.record("role", { node: slot.id, role: status.role, term: status.term, leader: status.leader });
    }
  }
}

/**
 * A tick period in whole milliseconds no further from `tickMs` than the drift bound allows: a
 * multiplier drawn at the bound (1.05) rounds to 52.5 ms and then to 53, 6 % slow.
 */
function periodWithinBound(config: RaftConfig, periodMs: number): number {
  const boundMs = (config.tickMs * config.maxClockDriftPpm) / 1_000_000;
  return Math.max(1, Math.min(Math.floor(config.tickMs + boundMs), Math.max(Math.ceil(config.tickMs - boundMs), periodMs)));
}

/** `Base` with every read's answer judged by `checker` (sim/checkers/read-freshness.ts). */
function withFreshReads(Base: HostClass, checker: ReadFreshnessChecker, world: World): HostClass {
  return class FreshReadHost extends Base {
    override read(mode: ReadMode, done: (outcome: ReadOutcome) => void): void {
      const start = checker.begin(this.id, mode, world.nowMs);
      super.read(mode, (outcome) => {
        if (outcome.kind === "ready") checker.answered(start, outcome.index, world.nowMs);
        done(outcome);
      });
    }
  };
}
