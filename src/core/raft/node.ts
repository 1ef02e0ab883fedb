/**
 * The pure Raft node (etcd-io/raft's RawNode shape): the caller ticks it, steps received messages
 * into it, proposes, and drains `ready()` / `advance()`. See types.ts for the Ready contract.
 *
 * Roles swap behaviour: becomeFollower / becomePreCandidate / becomeCandidate / becomeLeader set
 * `stepRole` and `tickRole`; anything else throws `invalid transition [a -> b]`.
 *
 * Decision points are small protected methods so that test-only mutants (test/mutants/) can plant
 * the classic Raft bugs by overriding exactly one of them; production code has no bug switches:
 * - isLogUpToDate(lastIndex, lastTerm)    vote restriction (§5.4.1)
 * - maybeCommit()                         commit by counting replicas, current term only (Figure 8)
 * - appendElectionNoop()                  a new leader's first entry, which commits earlier terms
 * - stepDownOnHigherTerm(msg)             any higher term turns the node into a follower
 * - handleAppendEntries(msg) / appendFromLeader(prevIndex, prevTerm, entries, commit)
 *                                         stale appends and log truncation (never below commit)
 * - confirmReadIndex(request)             a ReadIndex read waits for a quorum heartbeat round
 * - confChangeAllowedInTerm()             no membership change before the leader committed in its term
 * - leaseTicks()                          how long a quorum's acknowledgement keeps the lease
 * - readRoundNeeded() / pruneRoundHistory()  ReadIndex batching; which rounds' send ticks are kept
 * - replicationStalled(pr, lastIndex)     when a replicating follower is presumed to have lost an append
 * - hardStateForReady()                   term and vote reach the Ready, so they are persisted
 *                                         before the vote response that depends on them is sent
 */
import { AssertionError, assert, maybe } from "../util/assert.ts";
import type { Rng } from "../util/rng.ts";
import { ConfTracker, applyConfChange, checkConfChange, emptyConf, encodeConfEntry, isMember } from "./confchange.ts";
import { defaultRaftConfig, raftTicks, validateRaftConfig, type RaftTicks } from "./config.ts";
import { RaftLog } from "./log.ts";
import { Progress, type ProgressState } from "./progress.ts";
import { quorumValue, voteResult } from "./quorum.ts";
import { Timeout } from "./timeout.ts";
import type {
  ConfChange, ConfState, Entry, EntryType, HardState, Index, Message, NodeId, PersistedState,
  RaftConfig, ReadMode, ReadState, Ready, Role, Snapshot, SoftState, Term,
} from "./types.ts";
import { messageProblem } from "./validate.ts";

export { defaultRaftConfig, validateRaftConfig };

export type ProposeResult =
  | { readonly ok: true; readonly index: Index; readonly term: Term }
  | {
    readonly ok: false;
    readonly reason: "notLeader" | "transferring" | "confChangePending" | "invalidConfChange";
    readonly leader: NodeId | null;
    readonly detail?: string;
  };

/** `ok: true` means a ReadState with the same ctx will appear in a later Ready or takeReadStates() (unless leadership is lost). */
export type ReadResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "noLeader"; readonly leader: null };

export interface ProgressStatus {
  readonly match: Index;
  readonly next: Index;
  readonly state: ProgressState;
  readonly inflight: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: Index;
  readonly applied: Index;
  readonly lastIndex: Index;
  readonly firstIndex: Index;
  readonly conf: ConfState;
  /**
   * Index of the newest configuration entry in the log; the snapshot's index when the log holds
   * none beyond it (0 for a configuration given at bootstrap).
   */
  readonly confIndex: Index;
  readonly leaseValid?: boolean;
  readonly progress?: Readonly<Record<NodeId, ProgressStatus>>;
  readonly leadTransferee?: NodeId | null;
  /** Received messages dropped as malformed or impossible. */
  readonly droppedMessages: number;
}

type CampaignKind = "preVote" | "election" | "transfer";

/** A read waiting at the leader: from itself (a local caller) or a follower that forwarded it. */
export interface ReadRequest {
  readonly from: NodeId;
  readonly ctx: string;
  readonly mode: ReadMode;
}

interface PendingRead extends ReadRequest {
  /** The commit index when the read arrived: the read is served at this index. */
  readonly index: Index;
  /** The heartbeat round that must be acknowledged by a quorum before the read is safe. */
  readonly round: number;
}

const allowedTransitions: Readonly<Record<Role, readonly Role[]>> = {
  follower: ["follower", "preCandidate", "candidate"],
  preCandidate: ["follower", "preCandidate", "candidate"],
  candidate: ["follower", "preCandidate", "candidate", "leader"],
  leader: ["follower"],
};

export class RaftNode {
  readonly id: NodeId;
  protected readonly config: RaftConfig;
  protected readonly ticks: RaftTicks;
  protected readonly rng: Rng;
  /** Invariant: never decreases. */
  protected term: Term;
  /** Invariant: at most one vote per term. */
  protected vote: NodeId | null;
  protected role: Role = "follower";
  protected leader: NodeId | null = null;
  protected readonly log: RaftLog;
  protected readonly confs: ConfTracker;
  private stepRole: (m: Message) => void = (m) => this.stepFollower(m);
  private tickRole: () => void = () => this.tickElection();

  /** Local clock in ticks since construction. */
  protected nowTick = 0;
  private readonly electionTimer: Timeout;
  private readonly heartbeatTimer: Timeout;
  private readonly transferTimer: Timeout;
  /**
   * Ticks since this node last heard from a leader (or granted a vote, or started). While it is
   * below the heartbeat timeout the node refuses (pre)votes: leader stickiness, and what makes
   * the leader lease safe. Starting at 0 keeps a just-restarted node from voting at once.
   */
  private ticksSinceLeaderContact = 0;

  private readonly votes = new Map<NodeId, boolean>();
  protected readonly progress = new Map<NodeId, Progress>();
  private pendingConfIndex: Index = 0;
  private leadTransferee: NodeId | null = null;
  private transferTriedThisTerm = false;
  private round = 0;
  /**
   * Send tick of each heartbeat round still young enough to matter (sent less than an election
   * timeout ago), oldest first: an acknowledgement of any of them refreshes the lease and
   * check-quorum's contact.
   */
  protected readonly roundSentTick = new Map<number, number>();
  private leaderSinceTick = 0;
  private readQueue: PendingRead[] = [];
  private readsAwaitingCommit: ReadRequest[] = [];

  protected snapshot: Snapshot | null;
  private snapshotToPersist: Snapshot | null = null;
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  protected prevHardState: HardState;
  private prevSoftState: SoftState = { leader: null, role: "follower" };
  /** Invariant: applied <= commit. */
  protected applied: Index;
  private applyHandedOut: Index;
  private readyInFlight: { rd: Ready; appliedTo: Index } | null = null;
  private dropped = 0;
  private readonly marks = new Map<string, number>();

  constructor(config: RaftConfig, persisted: PersistedState, rng: Rng) {
    validateRaftConfig(config);
    this.id = config.id;
    this.config = config;
    this.ticks = raftTicks(config);
    this.rng = rng;
    this.electionTimer = new Timeout("election", config.id);
    this.heartbeatTimer = new Timeout("heartbeat", config.id);
    this.transferTimer = new Timeout("transfer", config.id);

    const snapshot = persisted.snapshot;
    const snapIndex = snapshot?.meta.index ?? 0;
    checkPersistedEntries(config.id, snapIndex, snapshot?.meta.term ?? 0, persisted);
    const commit = Math.max(persisted.hardState.commit, snapIndex);
    this.log = new RaftLog(snapIndex, snapshot?.meta.term ?? 0, persisted.entries, commit);
    assert(commit <= this.log.lastIndex(), `${this.id}: persisted commit ${commit} beyond lastIndex ${this.log.lastIndex()}`);
    this.snapshot = snapshot;
    this.confs = new ConfTracker(snapIndex, snapshot?.meta.conf ?? persisted.initialConf ?? emptyConf);
    for (const entry of persisted.entries) this.confs.onAppend(entry);
    this.term = persisted.hardState.term;
    this.vote = persisted.hardState.vote;
    this.prevHardState = { term: this.term, vote: this.vote, commit };
    this.applied = snapIndex;
    this.applyHandedOut = snapIndex;
    this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------- caller API

  tick(): void {
    this.nowTick += 1;
    this.ticksSinceLeaderContact += 1;
    this.tickRole();
  }

  step(m: Message): void {
    const problem = messageProblem(m, this.id);
    if (problem !== null) {
      this.drop(`malformed: ${problem}`);
      return;
    }
    if (m.term > this.term) {
      if (!this.onHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.onLowerTerm(m);
      return;
    }
    if (m.type === "preVote" || m.type === "vote") {
      this.onVoteRequest(m);
      return;
    }
    this.stepRole(m);
  }

  propose(data: Uint8Array): ProposeResult {
    if (!(data instanceof Uint8Array)) throw new TypeError("propose: data must be a Uint8Array");
    const refusal = this.proposalRefusal();
    if (refusal !== null) return refusal;
    const entry = this.appendEntry("normal", data);
    this.broadcastAppend();
    return { ok: true, index: entry.index, term: entry.term };
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    const refusal = this.proposalRefusal();
    if (refusal !== null) return refusal;
    if (this.pendingConfIndex > this.log.commit) {
      return { ok: false, reason: "confChangePending", leader: this.leader };
    }
    if (!this.confChangeAllowedInTerm()) {
      this.mark("conf change waits for first commit of term");
      return {
        ok: false, reason: "confChangePending", leader: this.leader,
        detail: `leader ${this.id} has not yet committed an entry of its term ${this.term} (commit ${this.log.commit} is from term ${this.log.term(this.log.commit) ?? "?"}): ` +
          "until it does, a change from an earlier leader may still commit, and two one-server changes off different bases can produce disjoint majorities",
      };
    }
    const invalid = checkConfChange(this.confs.current(), cc);
    if (invalid !== null) return { ok: false, reason: "invalidConfChange", leader: this.leader, detail: invalid };
    const entry = this.appendEntry("config", encodeConfEntry(cc, applyConfChange(this.confs.current(), cc)));
    this.broadcastAppend();
    this.maybeStepDownAfterRemoval();
    return { ok: true, index: entry.index, term: entry.term };
  }

  readIndex(ctx: string, mode: ReadMode): ReadResult {
    if (typeof ctx !== "string") throw new TypeError("readIndex: ctx must be a string");
    if (mode !== "readIndex" && mode !== "lease") throw new TypeError(`readIndex: unknown mode ${String(mode)}`);
    if (this.role === "leader") {
      this.onReadRequest({ from: this.id, ctx, mode });
      return { ok: true };
    }
    if (this.leader === null) return { ok: false, reason: "noLeader", leader: null };
    this.send({ type: "readIndex", to: this.leader, ctx, readMode: mode });
    return { ok: true };
  }

  transferLeadership(to: NodeId): void {
    if (this.role !== "leader" || to === this.id) return;
    if (!this.confs.current().voters.includes(to)) return;
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.transferTriedThisTerm = true;
    this.transferTimer.start(this.ticks.electionTimeoutTicks);
    const pr = this.progress.get(to);
    assert(pr !== undefined, () => this.where(`no progress for transfer target ${to}`));
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  /** The state machine snapshotted itself at `index` (<= applied): keep the snapshot, drop the log prefix. */
  compact(index: Index, data: Uint8Array): Snapshot {
    if (!(data instanceof Uint8Array)) throw new TypeError("compact: data must be a Uint8Array");
    if (!Number.isInteger(index) || index > this.applied) throw new RangeError(`compact: index ${index} is not applied (applied ${this.applied})`);
    if (index <= this.log.snapshotIndex) throw new RangeError(`compact: index ${index} is not after the current snapshot ${this.log.snapshotIndex}`);
    const term = this.log.term(index);
    assert(term !== undefined, () => this.where(`compact: no term at ${index}`));
    const snapshot: Snapshot = { meta: { index, term, conf: this.confs.at(index) }, data };
    this.log.compact(index);
    this.confs.compact(index);
    this.snapshot = snapshot;
    return snapshot;
  }

  /**
   * The read states served since the last Ready, handed over now rather than in the next Ready:
   * a lease or single-voter read is served at once, and the host may answer it without waiting
   * for a Ready that a sync in flight holds back (one fdatasync per write on a busy leader).
   */
  takeReadStates(): ReadState[] {
    const states = this.readStates;
    this.readStates = [];
    return states;
  }

  hasReady(): boolean {
    return this.readyInFlight === null && (
      this.msgs.length > 0 || this.readStates.length > 0 || this.snapshotToPersist !== null ||
      this.log.handedOutIndex < this.log.lastIndex() || this.log.commit > this.applyHandedOut ||
      !sameHardState(this.hardStateForReady(), this.prevHardState) ||
      !sameSoftState(this.softState(), this.prevSoftState));
  }

  ready(): Ready {
    assert(this.readyInFlight === null, () => this.where("ready() called again before advance()"));
    const soft = this.softState();
    const hard = this.hardStateForReady();
    const snapshot = this.snapshotToPersist;
    const applyFrom = Math.max(this.applyHandedOut, snapshot?.meta.index ?? 0) + 1;
    const rd: Ready = {
      ...(sameSoftState(soft, this.prevSoftState) ? {} : { softState: soft }),
      ...(sameHardState(hard, this.prevHardState) ? {} : { hardState: hard }),
      entries: this.log.unpersisted(),
      ...(snapshot === null ? {} : { snapshot }),
      messages: this.msgs,
      committedEntries: this.log.slice(applyFrom, this.log.commit),
      readStates: this.readStates,
    };
    this.prevSoftState = soft;
    this.prevHardState = hard;
    this.log.handedOutIndex = this.log.lastIndex();
    this.snapshotToPersist = null;
    this.msgs = [];
    this.readStates = [];
    this.applyHandedOut = Math.max(applyFrom - 1, this.log.commit);
    this.readyInFlight = { rd, appliedTo: this.applyHandedOut };
    return rd;
  }

  advance(rd: Ready): void {
    assert(this.readyInFlight !== null && this.readyInFlight.rd === rd, () => this.where("advance() without the matching ready()"));
    this.applied = Math.max(this.applied, this.readyInFlight.appliedTo);
    this.readyInFlight = null;
    this.onOwnEntriesDurable(rd.entries);
  }

  /** `entries` are on this node's disk: as leader, count its own copy toward the commit quorum. */
  private onOwnEntriesDurable(entries: readonly Entry[]): void {
    const last = entries[entries.length - 1];
    // Entries replaced since they were handed out (a newer leader's append) are not this log's.
    if (last === undefined || last.index > this.log.handedOutIndex || this.log.term(last.index) !== last.term) return;
    this.log.durableIndex = Math.max(this.log.durableIndex, last.index);
    const self = this.progress.get(this.id);
    if (this.role !== "leader" || self === undefined) return;
    if (self.maybeUpdate(this.log.durableIndex, this.nowTick) && this.maybeCommit()) this.onCommitAdvanced();
  }

  status(): RaftStatus {
    const base = {
      id: this.id, role: this.role, term: this.term, vote: this.vote, leader: this.leader,
      commit: this.log.commit, applied: this.applied, lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(), conf: this.confs.current(), confIndex: this.confs.lastChangeIndex(), droppedMessages: this.dropped,
    };
    if (this.role !== "leader") return base;
    const progress: Record<NodeId, ProgressStatus> = {};
    for (const [id, pr] of this.progress) {
      progress[id] = { match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflights.count };
    }
    return { ...base, leaseValid: this.leaseValid(), progress, leadTransferee: this.leadTransferee };
  }

  /** How often each named rare branch ran (coverage marks for tests). */
  marksHit(): ReadonlyMap<string, number> {
    return this.marks;
  }

  invariants(): void {
    const lastIndex = this.log.lastIndex();
    assert(this.log.commit <= lastIndex, () => this.where(`commit ${this.log.commit} > lastIndex ${lastIndex}`));
    assert(this.applied <= this.log.commit, () => this.where(`applied ${this.applied} > commit ${this.log.commit}`));
    assert(this.log.snapshotIndex <= this.log.commit, () => this.where(`snapshot ${this.log.snapshotIndex} > commit ${this.log.commit}`));
    assert(this.log.handedOutIndex <= lastIndex, () => this.where(`handedOut ${this.log.handedOutIndex} > lastIndex ${lastIndex}`));
    assert(this.term >= this.prevHardState.term, () => this.where(`term fell below persisted ${this.prevHardState.term}`));
    assert(this.log.lastTerm() <= this.term, () => this.where(`lastTerm ${this.log.lastTerm()} > term`));
    const conf = this.confs.current();
    assert(conf.voters.every((id) => !conf.learners.includes(id)), () => this.where(`voter also learner in ${JSON.stringify(conf)}`));
    assert((this.role === "leader") === (this.leader === this.id), () => this.where(`role ${this.role} with leader ${this.leader}`));
    if (this.role === "candidate") assert(this.vote === this.id, () => this.where(`candidate voted for ${this.vote}`));
    if (this.role === "leader") this.leaderInvariants();
  }

  // ---------------------------------------------------------------- role transitions

  private transition(to: Role): void {
    if (!allowedTransitions[this.role].includes(to)) {
      throw new AssertionError(`invalid transition [${this.role} -> ${to}] (${this.where("")})`);
    }
  }

  protected becomeFollower(term: Term, leader: NodeId | null): void {
    this.transition("follower");
    this.reset(term);
    this.role = "follower";
    this.leader = leader;
    this.stepRole = (m) => this.stepFollower(m);
    this.tickRole = () => this.tickElection();
    this.electionTimer.startRandom(this.rng, this.ticks.heartbeatTimeoutTicks, 2 * this.ticks.heartbeatTimeoutTicks - 1);
  }

  private becomePreCandidate(): void {
    this.transition("preCandidate");
    this.reset(this.term);
    this.role = "preCandidate";
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
    this.electionTimer.startRandom(this.rng, this.ticks.electionTimeoutTicks, 2 * this.ticks.electionTimeoutTicks - 1);
  }

  private becomeCandidate(): void {
    this.transition("candidate");
    this.reset(this.term + 1);
    this.setVote(this.id);
    this.role = "candidate";
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
    this.electionTimer.startRandom(this.rng, this.ticks.electionTimeoutTicks, 2 * this.ticks.electionTimeoutTicks - 1);
  }

  private becomeLeader(): void {
    this.transition("leader");
    this.reset(this.term);
    this.role = "leader";
    this.leader = this.id;
    this.stepRole = (m) => this.stepLeader(m);
    this.tickRole = () => this.tickLeader();
    this.electionTimer.stop();
    this.heartbeatTimer.start(this.ticks.heartbeatIntervalTicks);
    this.leaderSinceTick = this.nowTick;
    this.transferTriedThisTerm = false;
    this.syncProgressWithConf();
    // Uncommitted config entries from earlier terms may exist: no new change until they commit.
    this.pendingConfIndex = this.log.lastIndex();
    this.appendElectionNoop();
    this.broadcastAppend();
  }

  /**
   * A leader may propose a membership change only once it has committed an entry of its own term
   * (Raft thesis errata, Ongaro on raft-dev 2015; hashicorp/raft refuses likewise). Before that,
   * an uncommitted change of a deposed leader may still commit on a configuration this leader has
   * never seen, and a second one-server change off the older base yields two majorities that do
   * not overlap.
   */
  protected confChangeAllowedInTerm(): boolean {
    return this.committedInTerm();
  }

  /** The noop is what lets a new leader commit earlier terms' entries (Figure 8) and serve reads. */
  protected appendElectionNoop(): void {
    this.appendEntry("noop", new Uint8Array(0));
  }

  /** Clears everything that belongs to one term's role. */
  private reset(term: Term): void {
    if (term !== this.term) {
      this.setTerm(term);
      this.vote = null;
    }
    this.leader = null;
    this.votes.clear();
    this.progress.clear();
    this.leadTransferee = null;
    this.transferTimer.stop();
    this.heartbeatTimer.stop();
    this.readQueue = [];
    this.readsAwaitingCommit = [];
    this.round = 0;
    this.roundSentTick.clear();
  }

  protected setTerm(term: Term): void {
    assert(term >= this.term, () => this.where(`term would fall from ${this.term} to ${term}`));
    this.term = term;
  }

  protected setVote(vote: NodeId): void {
    assert(this.vote === null || this.vote === vote, () => this.where(`second vote in term: ${this.vote} then ${vote}`));
    this.vote = vote;
  }

  // ---------------------------------------------------------------- ticks

  private tickElection(): void {
    this.electionTimer.tick();
    // A sole voter has no leader to hear from and no rival: waiting out the timeout only delays
    // a one-server datacenter (a dev agent, or a single server after a restart) by seconds.
    if (!this.electionTimer.fired() && !this.soleVoter()) return;
    this.electionTimer.reset();
    if (!this.promotable()) return;
    this.campaign(this.config.preVote ? "preVote" : "election");
  }

  private tickLeader(): void {
    this.heartbeatTimer.tick();
    if (this.heartbeatTimer.fired()) {
      this.heartbeatTimer.reset();
      this.broadcastHeartbeat();
    }
    if (this.config.checkQuorum && this.nowTick - this.quorumContactTick() >= this.ticks.electionTimeoutTicks) {
      this.mark("checkQuorum: step down");
      this.becomeFollower(this.term, null);
      return;
    }
    this.transferTimer.tick();
    if (this.transferTimer.fired()) {
      this.mark("transfer aborted");
      this.abortTransfer();
    }
    this.recoverStalledFollowers();
  }

  /** Lost appends leave a follower behind with nothing in flight; snapshots may be lost too. */
  private recoverStalledFollowers(): void {
    const lastIndex = this.log.lastIndex();
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const stalledSnapshot = pr.state === "snapshot" && this.nowTick - pr.snapshotSentTick >= this.ticks.heartbeatTimeoutTicks;
      const stalledReplicate = this.replicationStalled(pr, lastIndex);
      if (!stalledSnapshot && !stalledReplicate) continue;
      this.mark(stalledSnapshot ? "snapshot stalled: probe" : "replication stalled: probe");
      pr.becomeProbe();
      this.sendAppend(id);
    }
  }

  /**
   * A replicating follower lost an append when it has been behind for the stall time without its
   * match growing. While it is caught up there is nothing to lose, so the clock restarts: after an
   * idle spell the first new entry must not look stalled.
   */
  protected replicationStalled(pr: Progress, lastIndex: Index): boolean {
    if (pr.state !== "replicate") return false;
    if (pr.match >= lastIndex) {
      pr.lastAdvanceTick = this.nowTick;
      return false;
    }
    return this.nowTick - pr.lastAdvanceTick >= this.ticks.replicationStallTicks;
  }

  // ---------------------------------------------------------------- elections

  private promotable(): boolean {
    return this.confs.current().voters.includes(this.id);
  }

  private soleVoter(): boolean {
    const voters = this.confs.current().voters;
    return voters.length === 1 && voters[0] === this.id;
  }

  private campaign(kind: CampaignKind): void {
    if (kind === "preVote") this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = kind === "preVote" ? this.term + 1 : this.term;
    const voters = this.confs.current().voters;
    this.votes.set(this.id, true);
    if (voteResult(voters, this.votes) === "won") {
      this.onElectionWon(kind);
      return;
    }
    for (const to of voters) {
      if (to === this.id) continue;
      this.send({
        type: kind === "preVote" ? "preVote" : "vote", to, term: voteTerm,
        index: this.log.lastIndex(), logTerm: this.log.lastTerm(),
        ...(kind === "transfer" ? { transfer: true } : {}),
      });
    }
  }

  private onElectionWon(kind: CampaignKind): void {
    if (kind === "preVote") this.campaign("election");
    else this.becomeLeader();
  }

  /** Leader stickiness: a node that heard from a leader recently ignores (pre)vote requests. */
  private inLease(): boolean {
    if (!this.config.checkQuorum) return false;
    return this.role === "leader" || this.ticksSinceLeaderContact < this.ticks.heartbeatTimeoutTicks;
  }

  /** Returns whether the message should still be processed. */
  private onHigherTerm(m: Message): boolean {
    if ((m.type === "preVote" || m.type === "vote") && m.transfer !== true && this.inLease()) {
      this.mark("vote ignored: leader is alive");
      return false;
    }
    // A pre-vote never changes terms: the candidate's term is hypothetical until it wins.
    if (m.type === "preVote") return true;
    if (m.type === "preVoteResp" && m.reject !== true) return true;
    this.stepDownOnHigherTerm(m);
    return true;
  }

  /** Any message from a higher term makes this node a follower in that term. */
  protected stepDownOnHigherTerm(m: Message): void {
    const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot";
    this.becomeFollower(m.term, fromLeader ? m.from : null);
  }

  private onLowerTerm(m: Message): void {
    if ((this.config.checkQuorum || this.config.preVote) && (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot")) {
      // A deposed leader cut off by a partition learns the new term and steps down.
      this.send({ type: "appendResp", to: m.from, index: this.log.lastIndex() });
      return;
    }
    if (m.type === "preVote") {
      this.send({ type: "preVoteResp", to: m.from, reject: true });
      return;
    }
    maybe(m.type === "voteResp");
  }

  private onVoteRequest(m: Message): void {
    const pre = m.type === "preVote";
    const canVote = this.vote === m.from || (this.vote === null && this.leader === null) || (pre && m.term > this.term);
    const granted = canVote && this.isLogUpToDate(m.index!, m.logTerm!);
    const type = pre ? "preVoteResp" : "voteResp";
    if (!granted) {
      this.send({ type, to: m.from, reject: true });
      return;
    }
    if (!pre) {
      this.setVote(m.from);
      this.ticksSinceLeaderContact = 0;
      this.electionTimer.reset();
    }
    this.send({ type, to: m.from, term: m.term });
  }

  /** The vote restriction (§5.4.1): grant only to a candidate whose log is at least as up to date. */
  protected isLogUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    return this.log.isUpToDate(lastIndex, lastTerm);
  }

  // ---------------------------------------------------------------- followers and candidates

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        this.onLeaderContact(m.from);
        if (m.type === "append") this.handleAppendEntries(m);
        else if (m.type === "heartbeat") this.handleHeartbeat(m);
        else this.handleSnapshot(m);
        return;
      case "timeoutNow":
        if (m.from === this.leader && this.promotable()) {
          this.mark("timeoutNow: campaign");
          this.campaign("transfer");
        }
        return;
      case "readIndexResp":
        if (m.from === this.leader) this.readStates.push({ index: m.index!, ctx: m.ctx! });
        return;
      default:
        maybe(true); // stale responses from an earlier role in this term
    }
  }

  private onLeaderContact(from: NodeId): void {
    this.ticksSinceLeaderContact = 0;
    this.electionTimer.reset();
    this.leader = from;
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        // Someone won this term: follow it.
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case "preVoteResp":
      case "voteResp":
        if ((m.type === "preVoteResp") !== (this.role === "preCandidate")) return;
        this.onVoteResponse(m);
        return;
      default:
        maybe(true);
    }
  }

  private onVoteResponse(m: Message): void {
    const voters = this.confs.current().voters;
    if (!voters.includes(m.from)) return;
    this.votes.set(m.from, m.reject !== true);
    const result = voteResult(voters, this.votes);
    if (result === "won") this.onElectionWon(this.role === "preCandidate" ? "preVote" : "election");
    else if (result === "lost") this.becomeFollower(this.term, null);
  }

  /** A follower's handling of an append from its leader. */
  protected handleAppendEntries(m: Message): void {
    if (m.index! < this.log.commit) {
      // Stale: everything up to commit is known to match, tell the leader where we are.
      this.send({ type: "appendResp", to: m.from, index: this.log.commit });
      return;
    }
    const lastNew = this.appendFromLeader(m.index!, m.logTerm!, m.entries!, m.commit!);
    if (lastNew !== null) {
      this.send({ type: "appendResp", to: m.from, index: lastNew });
      return;
    }
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(Math.min(m.index!, this.log.lastIndex()), m.logTerm!);
    this.mark("append rejected: hint");
    this.send({ type: "appendResp", to: m.from, index: m.index!, reject: true, rejectHint: hintIndex, rejectHintTerm: hintTerm });
  }

  /**
   * Appends the leader's entries after (prevIndex, prevTerm) if our log matches there, truncating a
   * conflicting tail (never a committed entry). Returns the last index known to match the leader,
   * or null when the log does not match at prevIndex.
   */
  protected appendFromLeader(prevIndex: Index, prevTerm: Term, entries: readonly Entry[], commit: Index): Index | null {
    if (!this.log.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = this.log.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.log.commit, () => this.where(`leader's entry ${conflict} conflicts with committed ${this.log.commit}`));
      const fresh = entries.slice(conflict - prevIndex - 1);
      if (conflict <= this.log.lastIndex()) {
        this.mark("follower truncates conflicting tail");
        this.confs.truncateFrom(conflict);
      }
      this.log.truncateAndAppend(fresh);
      for (const entry of fresh) this.confs.onAppend(entry);
    }
    this.log.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  private handleHeartbeat(m: Message): void {
    if (m.commit! > this.log.lastIndex()) {
      this.drop(`heartbeat commit ${m.commit} beyond lastIndex ${this.log.lastIndex()}`);
      return;
    }
    this.log.commitTo(m.commit!);
    this.send({ type: "heartbeatResp", to: m.from, ...(m.ctx === undefined ? {} : { ctx: m.ctx }) });
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot!;
    const { index, term } = snapshot.meta;
    if (index <= this.log.commit) {
      this.send({ type: "appendResp", to: m.from, index: this.log.commit });
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // We already hold the snapshot's last entry: just learn that it is committed.
      this.log.commitTo(index);
      this.send({ type: "appendResp", to: m.from, index: this.log.commit });
      return;
    }
    this.mark("snapshot restored");
    this.log.restore(index, term);
    this.confs.restore(index, snapshot.meta.conf);
    this.snapshot = snapshot;
    this.snapshotToPersist = snapshot;
    this.send({ type: "appendResp", to: m.from, index: this.log.lastIndex() });
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    switch (m.type) {
      case "appendResp":
        if (pr !== undefined) this.onAppendResponse(m, pr);
        return;
      case "heartbeatResp":
        if (pr !== undefined) this.onHeartbeatResponse(m, pr);
        return;
      case "readIndex":
        if (pr !== undefined) this.onReadRequest({ from: m.from, ctx: m.ctx!, mode: m.readMode ?? "readIndex" });
        return;
      case "append":
      case "heartbeat":
      case "snapshot":
        this.drop(`second leader ${m.from} in term ${m.term}`);
        return;
      default:
        maybe(true);
    }
  }

  private onAppendResponse(m: Message, pr: Progress): void {
    if (m.reject === true) {
      let hint = m.rejectHint ?? 0;
      if ((m.rejectHintTerm ?? 0) > 0) hint = this.log.findConflictByTerm(hint, m.rejectHintTerm!)[0];
      if (pr.maybeDecrTo(m.index!, hint)) {
        this.mark("fast backtrack");
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    if (m.index! > this.log.lastIndex()) {
      this.drop(`appendResp index ${m.index} beyond lastIndex ${this.log.lastIndex()}`);
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index!, this.nowTick)) return;
    if (pr.state === "probe") pr.becomeReplicate(this.nowTick);
    else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate(this.nowTick);
    } else if (pr.state === "replicate") pr.inflights.freeUpTo(m.index!);

    if (this.maybeCommit()) this.onCommitAdvanced();
    else if (wasPaused) this.sendAppend(m.from);
    if (this.role !== "leader") return;
    while (this.progress.has(m.from) && this.maybeSendAppend(m.from, false)) { /* drain the window */ }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private onHeartbeatResponse(m: Message, pr: Progress): void {
    pr.probeSent = false;
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    const round = parseRound(m.ctx);
    if (round === null || round > this.round) {
      this.drop(`heartbeatResp with round ${String(m.ctx)} (current ${this.round})`);
      return;
    }
    if (round > pr.ackedRound) {
      pr.ackedRound = round;
      const sentTick = this.roundSentTick.get(round);
      if (sentTick !== undefined) pr.ackSentTick = Math.max(pr.ackSentTick, sentTick);
    }
    this.serveConfirmedReads();
  }

  /**
   * The Figure 8 rule: the leader commits the highest index a quorum of voters has, but only if
   * that entry is from its own term; earlier terms' entries are committed indirectly by it.
   */
  protected maybeCommit(): boolean {
    const quorumMatch = quorumValue(this.confs.current().voters, (id) => this.progress.get(id)?.match ?? 0);
    if (quorumMatch <= this.log.commit) return false;
    if (this.log.term(quorumMatch) !== this.term) return false;
    return this.log.commitTo(quorumMatch);
  }

  private onCommitAdvanced(): void {
    this.broadcastAppend();
    if (this.committedInTerm() && this.readsAwaitingCommit.length > 0) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const request of waiting) this.onReadRequest(request);
    }
    this.maybeStepDownAfterRemoval();
  }

  /** A leader that removed itself leads until the removal commits, then steps down. */
  private maybeStepDownAfterRemoval(): void {
    if (this.role !== "leader" || this.promotable()) return;
    if (this.confs.lastChangeIndex() > this.log.commit) return;
    this.mark("removed leader steps down");
    this.becomeFollower(this.term, null);
  }

  private appendEntry(type: EntryType, data: Uint8Array): Entry {
    assert(this.role === "leader", () => this.where(`append ${type} as ${this.role}`));
    const entry: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.log.append(entry);
    this.confs.onAppend(entry);
    if (type === "config") {
      this.pendingConfIndex = entry.index;
      this.syncProgressWithConf();
    }
    // The leader's own copy counts toward the quorum only once durable: advance() records it
    // (Raft thesis §10.2.1, which lets a host send these entries before its own sync completes).
    return entry;
  }

  /** Progress for every member of the newest configuration (and the leader itself), nobody else. */
  private syncProgressWithConf(): void {
    const conf = this.confs.current();
    for (const id of [...conf.voters, ...conf.learners, this.id]) {
      if (this.progress.has(id)) continue;
      const pr = new Progress(this.log.lastIndex() + 1, this.config.maxInflightMsgs, this.nowTick);
      if (id === this.id) {
        pr.match = this.log.durableIndex;
        pr.becomeReplicate(this.nowTick);
      }
      this.progress.set(id, pr);
    }
    for (const id of [...this.progress.keys()]) {
      if (id !== this.id && !isMember(conf, id)) this.progress.delete(id);
    }
    if (this.leadTransferee !== null && !conf.voters.includes(this.leadTransferee)) this.abortTransfer();
  }

  private proposalRefusal(): ProposeResult | null {
    if (this.role !== "leader") return { ok: false, reason: "notLeader", leader: this.leader };
    if (this.leadTransferee !== null) return { ok: false, reason: "transferring", leader: this.leader };
    return null;
  }

  protected broadcastAppend(): void {
    for (const id of this.progress.keys()) {
      if (id !== this.id) this.maybeSendAppend(id, true);
    }
  }

  protected sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends the next batch to `to` unless its window is paused; false when nothing went out. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined || pr.next <= this.log.snapshotIndex) return this.sendSnapshot(to, pr);
    const entries = this.log.slice(pr.next, this.log.lastIndex(), this.config.maxEntriesPerMsg);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: "append", to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.commit });
    pr.onAppendSent(entries.length === 0 ? null : entries[entries.length - 1]!.index);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snapshot = this.snapshot;
    assert(snapshot !== null && snapshot.meta.index === this.log.snapshotIndex,
      () => this.where(`follower ${to} needs compacted entries but the snapshot is ${snapshot?.meta.index}`));
    this.mark("snapshot sent");
    this.send({ type: "snapshot", to, snapshot });
    pr.becomeSnapshot(snapshot.meta.index, this.nowTick);
    return true;
  }

  private broadcastHeartbeat(): void {
    this.round += 1;
    this.roundSentTick.set(this.round, this.nowTick);
    this.pruneRoundHistory();
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send({ type: "heartbeat", to: id, commit: Math.min(pr.match, this.log.commit), ctx: String(this.round) });
    }
    this.serveConfirmedReads();
  }

  /**
   * Forget the send ticks of rounds sent an election timeout ago or earlier: an acknowledgement of
   * one can neither hold the lease (shorter than that) nor keep check-quorum's contact fresh.
   */
  protected pruneRoundHistory(): void {
    for (const [round, sentTick] of this.roundSentTick) {
      if (this.nowTick - sentTick < this.ticks.electionTimeoutTicks || round === this.round) break;
      this.roundSentTick.delete(round);
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.mark("timeoutNow sent");
    this.send({ type: "timeoutNow", to });
  }

  private abortTransfer(): void {
    this.leadTransferee = null;
    this.transferTimer.stop();
  }

  // ---------------------------------------------------------------- reads and lease

  private committedInTerm(): boolean {
    return this.log.term(this.log.commit) === this.term;
  }

  /** Leader tick at which the last heartbeat round a quorum of voters acknowledged was sent. */
  private quorumAckSentTick(): number {
    return quorumValue(this.confs.current().voters, (id) => id === this.id ? this.nowTick : this.progress.get(id)?.ackSentTick ?? Number.NEGATIVE_INFINITY);
  }

  private quorumContactTick(): number {
    return Math.max(this.leaderSinceTick, this.quorumAckSentTick());
  }

  /**
   * The lease holds while a quorum acknowledged a heartbeat sent less than the lease ago: those
   * followers will not vote for anyone else until a full heartbeat timeout after receiving it.
   * After a transfer was attempted in this term a timeoutNow may still be in flight, so no lease.
   */
  private leaseValid(): boolean {
    return this.role === "leader" && this.config.checkQuorum && !this.transferTriedThisTerm &&
      this.committedInTerm() && this.nowTick - this.quorumAckSentTick() < this.leaseTicks();
  }

  /** The lease's length; validateRaftConfig keeps it a tick plus the drift bound below the followers' timeout. */
  protected leaseTicks(): number {
    return this.ticks.leaderLeaseTicks;
  }

  private onReadRequest(request: ReadRequest): void {
    if (!this.committedInTerm()) {
      this.mark("read waits for first commit of term");
      this.readsAwaitingCommit.push(request);
      return;
    }
    if (request.mode === "lease" && this.leaseValid()) {
      this.mark("lease read");
      this.serveRead(request, this.log.commit);
      return;
    }
    this.confirmReadIndex(request);
  }

  /** ReadIndex: remember the commit index, then serve once a quorum acknowledges a newer heartbeat round. */
  protected confirmReadIndex(request: ReadRequest): void {
    const voters = this.confs.current().voters;
    if (voters.length === 1 && voters[0] === this.id) {
      this.serveRead(request, this.log.commit);
      return;
    }
    const roundNeeded = this.readRoundNeeded();
    this.readQueue.push({ ...request, index: this.log.commit, round: this.round + 1 });
    if (roundNeeded) this.broadcastHeartbeat();
  }

  /**
   * etcd's readOnly batching: a read that arrives while an earlier read's round is still in flight
   * joins the next round, which goes out when that one is confirmed (or with the next periodic
   * heartbeat, whichever is first); one round confirms every read queued before it was sent.
   */
  protected readRoundNeeded(): boolean {
    const oldest = this.readQueue[0];
    return oldest === undefined || oldest.round > this.round;
  }

  private serveConfirmedReads(): void {
    if (this.readQueue.length === 0) return;
    const acked = quorumValue(this.confs.current().voters, (id) => id === this.id ? this.round : this.progress.get(id)?.ackedRound ?? 0);
    let served = 0;
    while (served < this.readQueue.length && this.readQueue[served]!.round <= acked) {
      const read = this.readQueue[served]!;
      this.serveRead(read, read.index);
      served += 1;
    }
    this.readQueue.splice(0, served);
    // Reads that joined while the served round was in flight go out together now.
    if (served > 0 && this.readQueue.length > 0 && this.readRoundNeeded()) {
      this.mark("batched read round");
      this.broadcastHeartbeat();
    }
  }

  protected serveRead(request: ReadRequest, index: Index): void {
    if (request.from === this.id) this.readStates.push({ index, ctx: request.ctx });
    else this.send({ type: "readIndexResp", to: request.from, index, ctx: request.ctx });
  }

  // ---------------------------------------------------------------- outputs and helpers

  /** The hard state the next Ready must persist before its messages are sent. */
  protected hardStateForReady(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.commit };
  }

  private softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  protected send(m: Omit<Message, "from" | "term"> & { term?: Term }): void {
    this.msgs.push({ ...m, from: this.id, term: m.term ?? this.term });
  }

  private drop(reason: string): void {
    this.dropped += 1;
    this.mark(`dropped: ${reason.split(" ")[0]}`);
  }

  protected mark(name: string): void {
    this.marks.set(name, (this.marks.get(name) ?? 0) + 1);
  }

  private leaderInvariants(): void {
    const self = this.progress.get(this.id);
    const lastIndex = this.log.lastIndex();
    assert(self !== undefined && self.match === this.log.durableIndex, () => this.where(`leader's own match ${self?.match} != durable index ${this.log.durableIndex}`));
    assert(this.vote === this.id, () => this.where(`leader voted for ${this.vote}`));
    for (const [id, pr] of this.progress) {
      assert(pr.match < pr.next, () => this.where(`progress ${id} match ${pr.match} >= next ${pr.next}`));
      assert(pr.match <= lastIndex, () => this.where(`progress ${id} match ${pr.match} > lastIndex ${lastIndex}`));
      assert(pr.next <= lastIndex + 1, () => this.where(`progress ${id} next ${pr.next} > lastIndex + 1`));
    }
  }

  /** Prefix for assertion messages: node, term and index. */
  protected where(what: string): string {
    return `node ${this.id} term ${this.term} role ${this.role} lastIndex ${this.log.lastIndex()} commit ${this.log.commit}: ${what}`;
  }
}

function parseRound(ctx: string | undefined): number | null {
  if (ctx === undefined || !/^[0-9]{1,15}$/.test(ctx)) return null;
  return Number(ctx);
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function checkPersistedEntries(id: NodeId, snapIndex: Index, snapTerm: Term, persisted: PersistedState): void {
  let previous = { index: snapIndex, term: snapTerm };
  for (const entry of persisted.entries) {
    assert(entry.index === previous.index + 1, `${id}: persisted entry ${entry.index} does not follow ${previous.index}`);
    assert(entry.term >= previous.term, `${id}: persisted entry ${entry.index} term ${entry.term} below ${previous.term}`);
    assert(entry.term <= persisted.hardState.term, `${id}: persisted entry ${entry.index} term ${entry.term} above hard state term ${persisted.hardState.term}`);
    previous = entry;
  }
}
