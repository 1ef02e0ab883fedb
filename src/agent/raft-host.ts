import type {
  ConfChange, ConfState, Entry, Index, Message, NodeId, PersistedState, ReadMode, ReadState, Ready, Role, Snapshot, SoftState, Term,
} from "../core/raft/types.ts";
import type { RaftStatus } from "../core/raft/node.ts";
import { assert } from "../core/util/assert.ts";
import type { RaftStorage, RaftUpdate } from "../storage/types.ts";
import type { Transport } from "../transports/transport.ts";

/** The replicated state machine above Raft (the simulator's KV store, later the catalog). */
export interface StateMachine<R> {
  /** Apply one committed "normal" entry; deterministic: every server returns the same result. */
  apply(entry: Entry): R;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}

/** The part of the core's status the host and the simulator's checkers read. */
export type RaftNodeStatus = Pick<RaftStatus, "id" | "role" | "term" | "leader" | "commit" | "applied" | "lastIndex" | "firstIndex" | "conf" | "confIndex">;

export type Refusal = { readonly ok: false; readonly reason: string; readonly leader: NodeId | null };

/** The RaftNode API the host drives (structural, so test-only mutants of the core fit too). */
export interface RaftNodeLike {
  tick(): void;
  step(message: Message): void;
  propose(data: Uint8Array): { readonly ok: true; readonly index: Index; readonly term: Term } | Refusal;
  proposeConfChange(cc: ConfChange): { readonly ok: true; readonly index: Index; readonly term: Term } | Refusal;
  readIndex(ctx: string, mode: ReadMode): { readonly ok: true } | Refusal;
  /** Read states served since the last Ready (absent: they come only in Ready). */
  takeReadStates?(): readonly ReadState[];
  transferLeadership(to: NodeId): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(rd: Ready): void;
  /** Keep `data` as the snapshot at `index` (<= applied) and drop the log before it. */
  compact(index: Index, data: Uint8Array): Snapshot;
  invariants(): void;
  status(): RaftNodeStatus;
}

export type ProposeOutcome<R> =
  | { readonly kind: "applied"; readonly index: Index; readonly result: R }
  /** Definitely not in the log: the node refused it (not the leader). */
  | { readonly kind: "rejected"; readonly reason: string; readonly leader: NodeId | null }
  /** Definitely not applied: another entry was committed at its index. */
  | { readonly kind: "lost"; readonly index: Index }
  /** May or may not take effect (timed out, or a snapshot covered its index). */
  | { readonly kind: "unknown"; readonly reason: string };

/** A membership change's outcome: as a proposal's, with no state machine result. */
export type ConfChangeOutcome =
  | { readonly kind: "applied"; readonly index: Index }
  | Exclude<ProposeOutcome<never>, { readonly kind: "applied" }>;

export type ReadOutcome =
  /** The local state machine now reflects every write committed before the read began. */
  | { readonly kind: "ready"; readonly index: Index }
  | { readonly kind: "rejected"; readonly reason: string; readonly leader: NodeId | null }
  | { readonly kind: "timeout" };

/** Ready rounds one input may cause: each round makes progress, and one input needs only a few. */
const readyRoundsMax = 10_000;

export interface RaftHostConfig {
  /**
   * Group commit: when given, proposals, reads and received messages do not run the Ready loop at
   * once; they ask for one drain through this scheduler (the agent passes setImmediate), so every
   * request that arrived in the same turn of the event loop, or while the last fsync blocked it,
   * goes into one Ready and one sync. Absent (the simulator), each input drains at once.
   */
  readonly scheduleDrain?: (drain: () => void) => void;
  /** Snapshot and compact the log every this many applied entries (hashicorp/raft SnapshotThreshold, scaled to the simulator's short runs). */
  readonly snapshotEveryEntries: number;
  /** A proposal or read not answered within this many ticks is reported as unknown / timeout, so callers never wait forever. */
  readonly requestTimeoutTicks: number;
  /** Appends merged by `coalesceMessages` carry at most this many entries (the core's maxEntriesPerMsg by default). */
  readonly coalesceEntriesMax: number;
}

export function defaultRaftHostConfig(overrides: Partial<RaftHostConfig> = {}): RaftHostConfig {
  const config = { snapshotEveryEntries: 1024, requestTimeoutTicks: 100, coalesceEntriesMax: 64, ...overrides };
  assert(config.snapshotEveryEntries >= 1, `snapshotEveryEntries ${config.snapshotEveryEntries} < 1`);
  assert(config.requestTimeoutTicks >= 1, `requestTimeoutTicks ${config.requestTimeoutTicks} < 1`);
  assert(config.coalesceEntriesMax >= 1, `coalesceEntriesMax ${config.coalesceEntriesMax} < 1`);
  return config;
}

/** Observers for the simulator's checkers; the agent leaves them empty. */
export interface RaftHostHooks {
  /** After the update is durable and before any message of the same Ready is sent. */
  onPersisted?(update: { entries: readonly Entry[]; snapshot?: Snapshot }): void;
  onApplied?(entry: Entry): void;
  /** The host snapshotted its state machine and compacted the log up to `index`. */
  onCompacted?(index: Index): void;
  /**
   * After every tick or received message, once the Ready loop has drained. `changed` says whether
   * role, leader, term or vote moved in this drain (callers may skip reading status otherwise).
   */
  onSettled?(changed: boolean): void;
}

interface PendingProposal<R> { readonly term: Term; readonly deadlineTick: number; readonly done: (o: ProposeOutcome<R>) => void }
interface PendingRead { readonly deadlineTick: number; index: Index | null; readonly done: (o: ReadOutcome) => void }

/**
 * The runtime that drives one Raft core: it owns the node, its storage, its transport and the
 * state machine, and runs the Ready loop (persist and sync, then send, then apply, then answer
 * reads). It has no timers: the caller calls `tick()` every `tickMs`, which keeps it equally at
 * home in the deterministic simulator and in the agent.
 */
export class RaftHost<R> {
  readonly node: RaftNodeLike;
  readonly id: NodeId;
  private ticks = 0;
  private applied: Index;
  private appliedTerm: Term;
  private snapshotIndex: Index;
  private readSeq = 0;
  private stopped = false;
  private soft: SoftState;
  private readonly proposals = new Map<Index, PendingProposal<R>>();
  private readonly reads = new Map<string, PendingRead>();
  /** Messages dropped because they were addressed to another node. */
  misaddressedDropped = 0;

  constructor(
    private readonly storage: RaftStorage,
    private readonly transport: Transport<Message>,
    private readonly stateMachine: StateMachine<R>,
    makeNode: (persisted: PersistedState) => RaftNodeLike,
    private readonly config: RaftHostConfig = defaultRaftHostConfig(),
    private readonly hooks: RaftHostHooks = {},
  ) {
    const persisted = storage.load();
    if (persisted.snapshot !== null) stateMachine.restore(persisted.snapshot.data);
    this.applied = persisted.snapshot?.meta.index ?? 0;
    this.appliedTerm = persisted.snapshot?.meta.term ?? 0;
    this.snapshotIndex = this.applied;
    this.node = makeNode(persisted);
    const status = this.node.status();
    this.id = status.id;
    this.soft = { leader: status.leader, role: status.role };
    transport.onMessage((_from, message) => this.receive(message));
  }

  /**
   * Role and leader as of the last Ready taken (a change reaches it with that Ready, one drain
   * later): what a request asks before it is proposed or forwarded, where `node.status()`, which
   * builds the whole status (progress, lease, configuration), cost a few percent of a write.
   */
  get softState(): SoftState {
    return this.soft;
  }

  get appliedIndex(): Index {
    return this.applied;
  }

  tick(): void {
    if (this.stopped) return;
    this.ticks++;
    this.node.tick();
    this.expireRequests();
    this.drain();
  }

  receive(message: Message): void {
    if (this.stopped) return;
    if (message.to !== this.id) {
      this.misaddressedDropped++;
      return;
    }
    this.node.step(message);
    this.requestDrain();
  }

  propose(data: Uint8Array, done: (outcome: ProposeOutcome<R>) => void): void {
    assert(!this.stopped, `propose on stopped host ${this.id}`);
    const result = this.node.propose(data);
    if (!result.ok) {
      done({ kind: "rejected", reason: result.reason, leader: result.leader });
      return;
    }
    this.supersede(result.index, result.term);
    this.proposals.set(result.index, { term: result.term, deadlineTick: this.ticks + this.config.requestTimeoutTicks, done });
    this.requestDrain();
  }

  /**
   * Propose a one-server membership change; `applied` once its config entry is applied here. The
   * core refuses while another change is uncommitted (reason confChangePending).
   */
  proposeConfChange(cc: ConfChange, done: (outcome: ConfChangeOutcome) => void): void {
    assert(!this.stopped, `proposeConfChange on stopped host ${this.id}`);
    const result = this.node.proposeConfChange(cc);
    if (!result.ok) {
      done({ kind: "rejected", reason: result.reason, leader: result.leader });
      return;
    }
    this.supersede(result.index, result.term);
    const deadlineTick = this.ticks + this.config.requestTimeoutTicks;
    this.proposals.set(result.index, {
      term: result.term, deadlineTick,
      done: (o) => done(o.kind === "applied" ? { kind: "applied", index: o.index } : o),
    });
    this.drain();
  }

  read(mode: ReadMode, done: (outcome: ReadOutcome) => void): void {
    assert(!this.stopped, `read on stopped host ${this.id}`);
    const ctx = `${this.id}/${this.readSeq++}`;
    const result = this.node.readIndex(ctx, mode);
    if (!result.ok) {
      done({ kind: "rejected", reason: result.reason, leader: result.leader });
      return;
    }
    this.reads.set(ctx, { deadlineTick: this.ticks + this.config.requestTimeoutTicks, index: null, done });
    // A lease (or single-voter) read is served by the core at once: answer it now if its index is
    // applied, instead of in the Ready after the sync in flight, which would also show it the
    // writes proposed after the read began (a watcher polling a busy key would miss values).
    const served = this.node.takeReadStates?.() ?? [];
    if (served.length > 0) {
      this.noteReadStates(served);
      this.answerReads();
    }
    this.requestDrain();
  }

  /** Ask the core to hand leadership to `to` (ignored unless this node leads). */
  transferLeadership(to: NodeId): void {
    assert(!this.stopped, `transferLeadership on stopped host ${this.id}`);
    this.node.transferLeadership(to);
    this.drain();
  }

  /** A crash or shutdown: callbacks still pending are never called (their callers time out). */
  stop(): void {
    this.stopped = true;
    this.proposals.clear();
    this.reads.clear();
    void this.transport.close();
  }

  private drainScheduled = false;
  /** True while drain() runs: a save completing inside it (an inline sync) must not drain again. */
  private draining = false;
  /** The Ready whose saveAsync has not completed; no other Ready is taken until it has. */
  private saving: Ready | null = null;

  private requestDrain(): void {
    const schedule = this.config.scheduleDrain;
    if (schedule === undefined) return this.drain();
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    schedule(() => {
      this.drainScheduled = false;
      if (!this.stopped) this.drain();
    });
  }

  private drain(): void {
    if (this.draining || this.saving !== null) return;
    this.draining = true;
    let changed = false;
    try {
      for (let rounds = 0; this.saving === null && this.node.hasReady(); rounds++) {
        // A core that keeps producing Ready without new input is live-locked; say so rather than hang.
        assert(rounds < readyRoundsMax, `${this.id}: Ready loop did not settle after ${readyRoundsMax} rounds`);
        const rd = this.node.ready();
        changed ||= rd.softState !== undefined || rd.hardState !== undefined;
        if (rd.softState !== undefined) this.soft = rd.softState;
        if (!hasUpdate(rd)) {
          this.finishReady(rd, rd.messages);
        } else if (this.storage.saveAsync === undefined) {
          this.storage.save(updateOf(rd));
          this.persisted(rd);
          this.finishReady(rd, rd.messages);
        } else {
          this.startSave(rd);
        }
      }
    } finally {
      this.draining = false;
    }
    this.hooks.onSettled?.(changed);
  }

  /**
   * Group commit with the sync off the event loop: the Ready's update is written and its sync
   * started; the messages that do not depend on it (a leader's appends, heartbeats and snapshots:
   * §10.2.1) go out now, so followers write in parallel with the leader; every other message
   * (votes, acknowledgements of appends, anything after a hard-state change) waits for the sync.
   * The core counts the leader's own copy toward the commit quorum only at advance(), after the
   * sync. Whatever arrives meanwhile goes into the next Ready, and its single sync.
   */
  private startSave(rd: Ready): void {
    const early: Message[] = [];
    const late: Message[] = [];
    for (const message of rd.messages) (this.sendsBeforeSync(message) ? early : late).push(message);
    this.saving = rd;
    for (const message of coalesceMessages(early, this.config.coalesceEntriesMax)) this.transport.send(message.to, message);
    // Committed entries are durable on a quorum already (the core counts only durable copies),
    // so they are applied and answered now, not one sync later; a snapshot must be installed first.
    const applyNow = rd.snapshot === undefined;
    if (applyNow) {
      this.applyCommitted(rd);
      this.answerReads();
    }
    this.storage.saveAsync!(updateOf(rd), (error) => this.saved(rd, late, !applyNow, error));
  }

  private saved(rd: Ready, late: readonly Message[], apply: boolean, error: Error | null): void {
    if (this.stopped || this.saving !== rd) return;
    this.saving = null;
    if (error !== null) {
      // The disk refused a write Raft already promised to make: stop rather than run on a log
      // whose durable contents are unknown (etcd and hashicorp/raft panic here too).
      this.stop();
      throw new Error(`${this.id}: Raft storage failed, server stopped: ${error.message}`, { cause: error });
    }
    this.persisted(rd);
    this.finishReady(rd, late, apply);
    if (!this.draining) this.drain();
  }

  /**
   * Whether `message` may leave before the Ready that produced it is durable: only a leader's
   * replication traffic, whose contents (its own log entries, a commit index that already counts
   * only durable copies, a snapshot of applied state) do not depend on this node's unsynced state.
   */
  protected sendsBeforeSync(message: Message): boolean {
    return message.type === "append" || message.type === "heartbeat" || message.type === "snapshot";
  }

  private persisted(rd: Ready): void {
    this.hooks.onPersisted?.({ entries: rd.entries, snapshot: rd.snapshot });
    if (rd.snapshot !== undefined) this.installSnapshot(rd.snapshot);
  }

  /** Everything after the persist: send, apply (unless done already), advance. */
  private finishReady(rd: Ready, messages: readonly Message[], apply = true): void {
    for (const message of coalesceMessages(messages, this.config.coalesceEntriesMax)) this.transport.send(message.to, message);
    if (apply) this.applyCommitted(rd);
    this.node.advance(rd);
    this.answerReads();
    this.maybeSnapshot();
  }

  /** Apply the Ready's committed entries and note its read states. */
  private applyCommitted(rd: Ready): void {
    for (const entry of rd.committedEntries) this.applyEntry(entry);
    this.noteReadStates(rd.readStates);
  }

  private noteReadStates(states: readonly ReadState[]): void {
    for (const readState of states) {
      const pending = this.reads.get(readState.ctx);
      if (pending !== undefined) pending.index = readState.index;
    }
  }

  private installSnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.applied) return;
    this.stateMachine.restore(snapshot.data);
    this.applied = snapshot.meta.index;
    this.appliedTerm = snapshot.meta.term;
    this.snapshotIndex = snapshot.meta.index;
    for (const [index, pending] of this.proposals) {
      if (index > snapshot.meta.index) continue;
      this.proposals.delete(index);
      pending.done({ kind: "unknown", reason: `snapshot at ${snapshot.meta.index} covered index ${index}` });
    }
  }

  private applyEntry(entry: Entry): void {
    if (entry.index <= this.applied) return;
    assert(entry.index === this.applied + 1, `${this.id}: applying ${entry.index} after ${this.applied}`);
    const result = entry.type === "normal" ? this.stateMachine.apply(entry) : undefined;
    this.applied = entry.index;
    this.appliedTerm = entry.term;
    this.hooks.onApplied?.(entry);
    const pending = this.proposals.get(entry.index);
    if (pending === undefined) return;
    this.proposals.delete(entry.index);
    // Same index and term means the same entry (log matching), so this is the proposal itself.
    if (pending.term === entry.term && entry.type !== "noop") {
      pending.done({ kind: "applied", index: entry.index, result: result as R });
    } else {
      pending.done({ kind: "lost", index: entry.index });
    }
  }

  /**
   * A new entry went in at `index` in `term`: a proposal still waiting there from an earlier term
   * (this node led before, and its uncommitted tail was truncated) is lost, since a committed
   * entry at that index would be in this leader's log (leader completeness).
   */
  private supersede(index: Index, term: Term): void {
    const pending = this.proposals.get(index);
    if (pending === undefined) return;
    assert(pending.term < term, `${this.id}: two proposals at index ${index} in term ${term} (pending from term ${pending.term})`);
    this.proposals.delete(index);
    pending.done({ kind: "lost", index });
  }

  private answerReads(): void {
    for (const [ctx, pending] of this.reads) {
      if (pending.index === null || pending.index > this.applied) continue;
      this.reads.delete(ctx);
      pending.done({ kind: "ready", index: pending.index });
    }
  }

  private expireRequests(): void {
    for (const [index, pending] of this.proposals) {
      if (pending.deadlineTick > this.ticks) continue;
      this.proposals.delete(index);
      pending.done({ kind: "unknown", reason: `no outcome for index ${index} within ${this.config.requestTimeoutTicks} ticks` });
    }
    for (const [ctx, pending] of this.reads) {
      if (pending.deadlineTick > this.ticks) continue;
      this.reads.delete(ctx);
      pending.done({ kind: "timeout" });
    }
  }

  private maybeSnapshot(): void {
    if (this.applied - this.snapshotIndex < this.config.snapshotEveryEntries) return;
    // A leader's snapshot accepted while a save was in flight can already cover everything applied
    // here; it is installed with the next Ready, and the log below it is gone: nothing to compact.
    if (this.node.status().firstIndex > this.applied) return;
    const snapshot = this.node.compact(this.applied, this.stateMachine.snapshot());
    assert(snapshot.meta.index === this.applied, `${this.id}: snapshot at ${snapshot.meta.index}, applied ${this.applied}`);
    assert(snapshot.meta.term === this.appliedTerm, `${this.id}: snapshot term ${snapshot.meta.term}, applied term ${this.appliedTerm}`);
    this.storage.compact(snapshot);
    this.snapshotIndex = this.applied;
    this.hooks.onCompacted?.(this.applied);
  }
}

/**
 * The messages of one Ready with each run of consecutive appends to a peer merged into one, and
 * each run of consecutive acknowledgements to a peer into the highest. The core sends one append
 * per proposal to a replicating follower (pipelining), so a Ready that gathered N proposals (group
 * commit) held N one-entry appends per follower, and the follower answered each: N encodes,
 * frames, decodes, steps and acknowledgements where one does.
 *
 * Why the merged message means the same: appends of one leader's term are contiguous pieces of
 * its log (the second's `index`/`logTerm` is the first's last entry), so one append of both pieces
 * leaves the follower's log as the two would, and its commit (the later, larger one) is what the
 * follower would reach after the second. A successful acknowledgement says "my log matches the
 * leader's up to `index`", which stays true for the rest of that leader's term, so the highest of
 * a run says everything the others did. Rejections and every other message pass untouched, and
 * each peer's messages keep their order (only messages to other peers may move past a merge).
 */
export function coalesceMessages(messages: readonly Message[], entriesMax: number): readonly Message[] {
  if (messages.length < 2) return messages;
  const out: Message[] = [];
  /** Per slot of `out`: the entries array of an append merged there, ours to extend in place (no quadratic copying). */
  const grown: (Entry[] | null)[] = [];
  const lastTo = new Map<NodeId, number>();
  for (const message of messages) {
    const at = lastTo.get(message.to);
    if (at !== undefined) {
      const merged = merge(out[at]!, message, entriesMax, grown[at]!);
      if (merged !== null) {
        out[at] = merged;
        if (merged.type === "append") grown[at] = merged.entries as Entry[];
        continue;
      }
    }
    lastTo.set(message.to, out.length);
    out.push(message);
    grown.push(null);
  }
  return out;
}

function merge(a: Message, b: Message, entriesMax: number, grown: Entry[] | null): Message | null {
  if (a.type !== b.type || a.term !== b.term || a.from !== b.from) return null;
  if (a.type === "append") {
    const first = a.entries ?? [];
    const second = b.entries ?? [];
    const lastTerm = first.length === 0 ? a.logTerm : first[first.length - 1]!.term;
    const contiguous = b.index === a.index! + first.length && b.logTerm === lastTerm;
    if (!contiguous || first.length + second.length > entriesMax || b.commit! < a.commit!) return null;
    const entries = grown ?? [...first];
    for (const entry of second) entries.push(entry);
    return { ...b, index: a.index, logTerm: a.logTerm, entries };
  }
  if (a.type === "appendResp" && isPlainAck(a) && isPlainAck(b)) return b.index! >= a.index! ? b : a;
  return null;
}

/** A successful appendResp carrying nothing but its index. */
function isPlainAck(m: Message): boolean {
  return m.reject !== true && m.rejectHint === undefined && m.rejectHintTerm === undefined && m.ctx === undefined && m.index !== undefined;
}

function hasUpdate(rd: Ready): boolean {
  return rd.hardState !== undefined || rd.entries.length > 0 || rd.snapshot !== undefined;
}

function updateOf(rd: Ready): RaftUpdate {
  return { hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot };
}
