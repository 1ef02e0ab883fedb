import type { ConfChangeOutcome, StateMachine } from "../src/agent/raft-host.ts";
import { applyConfChange, canonicalConf, decodeConfEntry, isMember } from "../src/core/raft/confchange.ts";
import type { ConfChange, ConfState, Entry, NodeId } from "../src/core/raft/types.ts";
import { SafetyViolation } from "./checkers/raft-safety.ts";
import type { RaftCluster } from "./raft-cluster.ts";
import type { WorldRng } from "./world/rng.ts";
import type { World } from "./world/world.ts";

/** Never propose a removal that would leave fewer voters than this (a 3-voter cluster survives one failure). */
const votersMin = 3;
/** Pause between one change's end and the next attempt. */
const gapMinMs = 1_000;
const gapMaxMs = 6_000;
/** A refused proposal (confChangePending, notLeader, no leader) is retried this often, this many times. */
const retryMinMs = 100;
const retryMaxMs = 600;
const retriesMax = 10;
/** Longer than any request timeout of the host: a change still unanswered by then never will be. */
const answerDeadlineMs = 10_000;
/** A removed server is shut down this long after its removal commits: sometimes before it hears of it. */
const retireDelayMaxMs = 1_500;
/**
 * Chance that an election while the driver waits brings the next change forward to the new
 * leader's first moment, before its election noop can commit: the window where a leader must
 * still refuse changes (issue 14 defect 1), which changes drawn 1 to 6 s apart almost never hit.
 */
const atElectionChance = 0.5;

export interface MembershipCounts {
  proposed: number;
  refused: number;
  /** Attempts brought forward to a leader's election. */
  atElection: number;
  /** Committed changes by kind (counted once, when the first node applies the config entry). */
  addLearner: number;
  addVoter: number;
  promote: number;
  remove: number;
  retired: number;
  rejoined: number;
}

/**
 * Membership changes during the safety phase: every few seconds the current leader proposes a
 * random valid one-server change (add a learner, promote it, add a voter directly, remove a voter
 * or learner, never below three voters), retrying when refused. A removed server is shut down
 * once its removal commits, keeping its disk; an out-of-service server (a spare with an empty
 * disk, or a removed one with its old disk) is started again just before it is added back.
 *
 * It also checks configuration safety: the committed configurations form a chain, each the
 * previous one with exactly the committed change applied.
 */
export class MembershipDriver {
  private stopped = false;
  private committedIndex = 0;
  private committedConf: ConfState;
  /** Servers started again to be added, whose addition has not committed yet. */
  private readonly joining = new Set<NodeId>();
  private inFlight = 0;
  /** Bumped whenever the driver schedules its next attempt: an attempt brought forward cancels the scheduled one. */
  private waitEpoch = 0;
  /** Between changes (or retries), an attempt is scheduled: an election may bring it forward. */
  private waiting = false;
  /** Its own stream, so the draws of the changes themselves keep their order. */
  private readonly electionRng: WorldRng;
  /** Changes drawn so far (each gets the next number, which `skips` refers to). */
  drawn = 0;
  readonly counts: MembershipCounts = { proposed: 0, refused: 0, atElection: 0, addLearner: 0, addVoter: 0, promote: 0, remove: 0, retired: 0, rejoined: 0 };

  constructor(
    private readonly world: World,
    private readonly rng: WorldRng,
    private readonly cluster: RaftCluster<StateMachine<unknown>>,
    private readonly skips: ReadonlySet<number> = new Set(),
  ) {
    this.committedConf = canonicalConf(cluster.conf.voters, cluster.conf.learners);
    this.electionRng = rng.derive("elections");
    cluster.onConfigApplied = (node, entry) => this.onConfigApplied(node, entry);
    // The fault driver's leader churn listens too: chain, do not replace.
    const previous = cluster.onRoleChanged;
    cluster.onRoleChanged = (node, role, term) => {
      previous?.(node, role, term);
      this.roleChanged(node, role);
    };
  }

  start(): void {
    this.later(this.rng.int(500, gapMaxMs), () => this.attempt(null, 0));
  }

  /** The safety phase is over: propose nothing more; joiners whose addition did not happen go back out. */
  stop(): void {
    this.stopped = true;
    if (this.inFlight === 0) this.retireStrandedJoiners();
  }

  /** The configuration of the newest committed config entry. */
  get conf(): ConfState {
    return this.committedConf;
  }

  private attempt(retrying: ConfChange | null, tries: number): void {
    if (this.stopped) return;
    const leader = this.cluster.leader();
    let change = retrying;
    if (change === null && leader !== null) {
      change = this.drawChange(leader.conf);
      if (change !== null && this.skips.has(this.drawn++)) {
        this.world.record("confChangeSkipped", { number: this.drawn - 1, change });
        this.next();
        return;
      }
    }
    if (leader === null || change === null) {
      if (change !== null && tries < retriesMax) this.retryLater(change, tries);
      else this.next();
      return;
    }
    if ((change.type === "addLearner" || change.type === "addVoter") && this.cluster.isRetired(change.node)) {
      this.counts.rejoined++;
      this.joining.add(change.node);
      this.cluster.unretire(change.node);
    }
    this.counts.proposed++;
    this.inFlight++;
    this.world.record("confChange", { leader: leader.id, term: leader.term, change, try: tries });
    // A leader that crashes with the change in flight never answers (its host is gone): without
    // this deadline the driver would wait for it until the end of the seed and propose nothing more.
    let settled = false;
    const finish = (outcome: ConfChangeOutcome) => {
      if (settled) return;
      settled = true;
      this.settle(change, tries, outcome);
    };
    this.world.after(answerDeadlineMs, () => finish({ kind: "unknown", reason: `no answer within ${answerDeadlineMs} ms (the leader crashed?)` }));
    const proposed = this.cluster.withHost(leader.id, (host) => host.proposeConfChange(change, finish));
    if (!proposed) finish({ kind: "rejected", reason: "leader down", leader: null });
  }

  private settle(change: ConfChange, tries: number, outcome: ConfChangeOutcome): void {
    this.inFlight--;
    this.world.record("confChangeOutcome", { change, outcome });
    const retryable = outcome.kind === "rejected" && outcome.reason !== "invalidConfChange";
    if (outcome.kind === "rejected") this.counts.refused++;
    if (this.stopped) {
      if (this.inFlight === 0) this.retireStrandedJoiners();
      return;
    }
    if (retryable && tries < retriesMax) this.retryLater(change, tries);
    else this.next();
  }

  private retryLater(change: ConfChange, tries: number): void {
    this.later(this.rng.int(retryMinMs, retryMaxMs), () => this.attempt(change, tries + 1));
  }

  private next(): void {
    this.later(this.rng.int(gapMinMs, gapMaxMs), () => this.attempt(null, 0));
  }

  /** The driver's one pending attempt, cancelled if an election brings a change forward first. */
  private later(delayMs: number, attempt: () => void): void {
    const epoch = ++this.waitEpoch;
    this.waiting = true;
    this.world.after(delayMs, () => {
      if (epoch !== this.waitEpoch) return;
      this.waiting = false;
      attempt();
    });
  }

  /**
   * A node just won an election: sometimes propose the next change to it at once, in the same
   * instant, before any acknowledgement of its noop can arrive (a retried change is dropped for a
   * fresh one drawn against the new leader's configuration).
   */
  private roleChanged(node: NodeId, role: string): void {
    if (role !== "leader" || this.stopped || !this.waiting || !this.electionRng.chance(atElectionChance)) return;
    this.waitEpoch++;
    this.waiting = false;
    this.counts.atElection++;
    this.world.after(0, () => {
      if (this.cluster.leader()?.id === node) this.attempt(null, 0);
      else this.next();
    });
  }

  /** A random change valid against `conf` (the leader's newest configuration), or null when none is. */
  private drawChange(conf: ConfState): ConfChange | null {
    const outside = this.cluster.nodeIds.filter((id) => !isMember(conf, id) && (this.cluster.isRetired(id) || this.joining.has(id)));
    const options: { weight: number; change: ConfChange }[] = [];
    for (const node of outside) {
      options.push({ weight: 3, change: { type: "addLearner", node } }, { weight: 1, change: { type: "addVoter", node } });
    }
    for (const node of conf.learners) {
      options.push({ weight: 4, change: { type: "promote", node } }, { weight: 1, change: { type: "remove", node } });
    }
    if (conf.voters.length > votersMin) {
      for (const node of conf.voters) options.push({ weight: 2, change: { type: "remove", node } });
    }
    if (options.length === 0) return null;
    let roll = this.rng.next() * options.reduce((sum, o) => sum + o.weight, 0);
    for (const option of options) {
      roll -= option.weight;
      if (roll < 0) return option.change;
    }
    return options[options.length - 1]!.change;
  }

  private onConfigApplied(node: NodeId, entry: Entry): void {
    if (entry.index <= this.committedIndex) return;
    const decoded = decodeConfEntry(entry.data);
    if (decoded === null) throw new SafetyViolation(`configuration safety: ${node} applied config entry ${entry.index} that does not decode`);
    const expected = applyConfChange(this.committedConf, decoded.change);
    if (JSON.stringify(expected) !== JSON.stringify(decoded.conf)) {
      throw new SafetyViolation(`configuration safety: config entry ${entry.index} (${decoded.change.type} ${decoded.change.node}) carries ${JSON.stringify(decoded.conf)}, but applied to the committed ${JSON.stringify(this.committedConf)} it gives ${JSON.stringify(expected)}`);
    }
    this.committedIndex = entry.index;
    this.committedConf = decoded.conf;
    this.counts[decoded.change.type]++;
    this.world.record("confCommitted", { index: entry.index, change: decoded.change, conf: decoded.conf });
    const target = decoded.change.node;
    if (isMember(decoded.conf, target)) {
      this.joining.delete(target);
      // An addition whose outcome was unknown may commit after its server was shut down again.
      if (this.cluster.isRetired(target)) this.cluster.unretire(target);
    }
    if (decoded.change.type === "remove") this.world.after(this.rng.int(0, retireDelayMaxMs), () => this.retireIfOut(target));
  }

  private retireIfOut(node: NodeId): void {
    if (isMember(this.committedConf, node) || this.joining.has(node) || this.cluster.isRetired(node)) return;
    this.counts.retired++;
    this.cluster.retire(node);
  }

  /**
   * After the safety phase, a started server that is not a member, not even by a change still in
   * the leader's log, is shut down again.
   */
  private retireStrandedJoiners(): void {
    const leaderConf = this.cluster.leader()?.conf ?? this.committedConf;
    for (const node of [...this.joining]) {
      if (isMember(this.committedConf, node) || isMember(leaderConf, node)) continue;
      this.joining.delete(node);
      this.cluster.retire(node);
    }
  }
}
