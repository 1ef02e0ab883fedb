import type { Message, NodeId } from "../src/core/raft/types.ts";
import type { StateMachine } from "../src/agent/raft-host.ts";
import { assertNever, type FaultKind, type ScheduledFault } from "./faults.ts";
import type { CrashPoint } from "./crash-points.ts";
import { isolateLinks, majorityRingLinks, randomHalves, splitLinks, type Link, type SimNetwork } from "./network.ts";
import type { RaftCluster } from "./raft-cluster.ts";
import type { WorldRng } from "./world/rng.ts";
import type { World } from "./world/world.ts";

/**
 * Plays a fault schedule into the world. Each fault draws its targets from its own stream
 * (derived from its id), so removing other faults while shrinking leaves its choices unchanged.
 * `healAll()` ends every active fault at once, which starts the liveness phase.
 */
export class FaultDriver {
  private readonly activePartitions = new Set<string>();
  private readonly activeImpairments = new Set<string>();
  /** Nodes down because of a crash fault, and which fault brought them down. */
  private readonly crashedBy = new Map<NodeId, string>();
  private healed = false;
  /** One-shot fault triggers on sends ("when X sends Y, do Z"), by fault key; true when fired. */
  private readonly triggers = new Map<string, (from: string, message: Message) => boolean>();
  /**
   * Triggers on deliveries ("when X is about to receive Y, do Z"), by fault key: true when they
   * acted on this delivery; each removes itself once done.
   */
  private readonly deliveryTriggers = new Map<string, (from: string, to: string, message: Message) => boolean>();
  /** Leader-churn bursts by id: the faults still to act, the one acting and the leader it is armed on. */
  private readonly bursts = new Map<number, ChurnBurst>();
  /** Lease races under way, by fault key. */
  private readonly races = new Map<string, LeaseRace>();
  applied = 0;
  /** Lease race rounds that started (a leader cut off), and the probe reads sent to the cut-off leaders. */
  leaseRaces = 0;
  leaseProbes = 0;

  constructor(
    private readonly world: World,
    private readonly rng: WorldRng,
    private readonly network: SimNetwork<Message>,
    private readonly cluster: RaftCluster<StateMachine<unknown>>,
    /** Lease races run the clocks this far off true time (the drift bound; 0 when drift is off). */
    private readonly options: { readonly clockSkewPpm?: number } = {},
  ) {
    cluster.onRoleChanged = (node, role) => this.roleChanged(node, role);
    cluster.onCrashPointFired = (node) => this.crashPointFired(node);
  }

  schedule(faults: readonly ScheduledFault[]): void {
    this.network.tap = (from, _to, message) => {
      if (this.triggers.size === 0) return;
      for (const [key, trigger] of this.triggers) if (trigger(from, message)) this.triggers.delete(key);
    };
    this.network.deliveryTap = (from, to, message) => {
      if (this.deliveryTriggers.size === 0) return;
      // One acts per delivery: a second would only crash the node the first just restarted.
      for (const trigger of this.deliveryTriggers.values()) if (trigger(from, to, message)) return;
    };
    for (const fault of faults) {
      this.world.at(fault.atMs, () => this.begin(fault));
      this.world.at(fault.atMs + fault.durationMs, () => this.end(fault));
    }
  }

  healAll(): void {
    this.healed = true;
    this.triggers.clear();
    this.deliveryTriggers.clear();
    this.bursts.clear();
    for (const key of [...this.races.keys()]) this.endLeaseRace(key);
    this.network.healAll();
    this.activePartitions.clear();
    this.activeImpairments.clear();
    for (const id of this.cluster.nodeIds) if (!this.cluster.isUp(id)) this.cluster.restart(id);
    this.crashedBy.clear();
    this.world.record("healAll");
  }

  private begin(fault: ScheduledFault): void {
    if (this.healed) return;
    this.applied++;
    const key = `f${fault.id}`;
    const rng = this.rng.derive(key);
    this.world.record("fault", { id: fault.id, kind: fault.kind });
    switch (fault.kind) {
      case "loss": return this.impair(key, { lossRate: fault.rate });
      case "dup": return this.impair(key, { dupRate: fault.rate });
      case "reorder": return this.impair(key, { reorderRate: fault.rate, tailMeanMs: fault.delayMs });
      case "delay": return this.impair(key, { extraDelayMs: fault.delayMs });
      case "crash":
      case "crash-leader":
        if (fault.kind === "crash-leader" && fault.burst !== undefined) return this.churn(key, fault, fault.burst);
        if (fault.trigger === "afterVote") return this.crashAfterVote(key, rng);
        if (fault.trigger === "beforeSecondVote") return this.crashBeforeSecondVote(key);
        if (fault.trigger === "afterCommit") return this.crashAfterCommit(key, rng);
        if (fault.trigger === "afterPersist" || fault.trigger === "afterAppend" || fault.trigger === "midApply") return this.armCrashPoint(rng, fault.kind, fault.trigger, fault.afterCount ?? 0);
        return this.crash(key, rng, fault.kind);
      case "torn": return this.crash(key, rng, fault.kind);
      case "transfer": return this.transfer(key, rng, fault.leaderLinks === "in");
      case "isolate":
      case "isolate-leader":
      case "halves":
      case "ring":
      case "oneway": return this.partition(key, this.linksFor(fault.kind, fault, rng));
      case "lease-race": return this.leaseRace(key, fault);
      // Drawn with the topology and run by the membership driver: nothing happens at a time.
      case "drift":
      case "membership": return;
      default: return assertNever(fault.kind);
    }
  }

  private end(fault: ScheduledFault): void {
    if (this.healed) return;
    const key = `f${fault.id}`;
    // A crash point stays armed until it fires; a deafened handover ends with its fault.
    if (fault.kind === "transfer") this.triggers.delete(key);
    if (fault.kind === "lease-race") this.endLeaseRace(key);
    if (this.activeImpairments.delete(key)) this.network.restore(key);
    if (this.activePartitions.delete(key)) this.network.heal(key);
    for (const [node, by] of this.crashedBy) {
      if (by !== key) continue;
      this.crashedBy.delete(node);
      this.cluster.restart(node);
    }
  }

  private impair(key: string, impairment: Parameters<SimNetwork<Message>["impair"]>[1]): void {
    this.activeImpairments.add(key);
    this.network.impair(key, impairment);
  }

  private partition(key: string, links: Link[]): void {
    this.activePartitions.add(key);
    this.network.partition(key, links);
  }

  /**
   * Crash whichever node next grants a vote, right after the grant leaves, and bring it back a
   * moment later: whatever the vote did not make durable is gone, while the candidates of that
   * term are still asking.
   */
  private crashAfterVote(key: string, rng: WorldRng): void {
    this.triggers.set(key, (from, message) => {
      if (message.type !== "voteResp" || message.reject === true) return false;
      this.world.after(0, () => this.bounce(from, rng.int(1, 100)));
      return true;
    });
  }

  /**
   * Crash a server that has granted its vote in a term (to a candidate, or to itself as the term's
   * leader) just as a rival candidate's request of the same term reaches it, and bring it back at
   * once, so the restarted server is the one that answers: the grant was sent, so it must have been
   * durable; a server that forgot it votes twice. Judged on delivery, not when the rival sends: two
   * candidates of one term start within a message delay of each other, before any grant has left.
   * Once it has fired, it does the same to every other such voter of that term (one flipped vote
   * rarely completes a rival's majority in a split of five), and disarms at the next term's request.
   */
  private crashBeforeSecondVote(key: string): void {
    const votedFor = new Map<NodeId, { term: number; candidate: NodeId }>();
    let firedTerm: number | null = null;
    this.triggers.set(key, (from, message) => {
      if (message.type === "voteResp" && message.reject !== true && !this.network.isBlocked(from, message.to)) votedFor.set(from, { term: message.term, candidate: message.to });
      return false;
    });
    this.deliveryTriggers.set(key, (from, to, message) => {
      if (message.type !== "vote") return false;
      if (firedTerm !== null && message.term > firedTerm) {
        this.triggers.delete(key);
        this.deliveryTriggers.delete(key);
        return false;
      }
      const voter = this.cluster.statuses().find((st) => st.id === to);
      if (voter === undefined || voter.term !== message.term) return false;
      const voted = votedFor.get(to);
      const votedAgainst = voted !== undefined && voted.term === message.term && voted.candidate !== from;
      // A candidate's vote for itself counts once it won: a crash before that only ends its candidacy.
      if (!votedAgainst && voter.role !== "leader") return false;
      firedTerm = message.term;
      this.world.record("voteCrash", { voter: to, term: message.term, rival: from, ...(votedAgainst ? { voted: voted.candidate } : { leading: true }) });
      this.cluster.crash(to);
      this.cluster.restart(to);
      return true;
    });
  }

  /**
   * Crash the leader right after it tells a follower about a newer commit index (it has just
   * committed and applied), before the rest of its log spreads: the moment where a wrong commit
   * rule loses an entry that was already applied.
   */
  private crashAfterCommit(key: string, rng: WorldRng): void {
    const commitSeen = new Map<string, number>();
    this.triggers.set(key, (from, message) => {
      if (message.type !== "append" || message.commit === undefined) return false;
      const previous = commitSeen.get(from);
      commitSeen.set(from, Math.max(previous ?? 0, message.commit));
      if (previous === undefined || message.commit <= previous) return false;
      this.world.after(0, () => this.bounce(from, rng.int(1, 300)));
      return true;
    });
  }

  /** A leader-churn fault joins its burst; the burst's first unfired fault acts. */
  private churn(key: string, fault: ScheduledFault, burstId: number): void {
    let burst = this.bursts.get(burstId);
    if (burst === undefined) {
      burst = { pending: [], current: null, target: null };
      this.bursts.set(burstId, burst);
    }
    burst.pending.push({ key, fault });
    burst.pending.sort((a, b) => (a.fault.step ?? 0) - (b.fault.step ?? 0));
    if (burst.current === null) this.nextInBurst(burst, this.cluster.leader()?.id ?? null);
  }

  /** Make the burst's next fault current, armed on `leader` (or on the next one elected, when null). */
  private nextInBurst(burst: ChurnBurst, leader: NodeId | null): void {
    burst.current = burst.pending.shift() ?? null;
    burst.target = null;
    if (burst.current !== null && leader !== null) this.armChurn(burst, leader);
  }

  private armChurn(burst: ChurnBurst, leader: NodeId): void {
    const { key, fault } = burst.current!;
    burst.target = leader;
    this.world.record("churn", { id: fault.id, leader, trigger: fault.trigger ?? "now" });
    const fired = (): void => {
      if (burst.current?.key === key) this.nextInBurst(burst, null);
    };
    switch (fault.trigger) {
      case "afterCommit": return this.crashLeaderAfterCommit(key, leader, fault.durationMs, fired);
      case "afterPersist": case "afterAppend": case "midApply": return this.cluster.armCrashPoint(leader, fault.trigger, fault.afterCount ?? 0, fault.durationMs);
      case "afterVote": case "beforeSecondVote": case undefined:
        this.world.after(0, () => this.bounce(leader, fault.durationMs));
        return fired();
      default: return assertNever(fault.trigger);
    }
  }

  /** Take the burst's armed trigger off a node that stopped leading (it moves to the next leader). */
  private disarmChurn(burst: ChurnBurst): void {
    const { key, fault } = burst.current!;
    const target = burst.target!;
    burst.target = null;
    this.triggers.delete(key);
    const point = fault.trigger;
    if ((point === "afterPersist" || point === "afterAppend" || point === "midApply") && this.cluster.isUp(target)) this.cluster.armCrashPoint(target, point, null);
  }

  private roleChanged(node: NodeId, role: string): void {
    if (this.healed) return;
    for (const burst of this.bursts.values()) {
      if (burst.current === null) continue;
      if (role === "leader" && burst.target !== node) {
        if (burst.target !== null) this.disarmChurn(burst);
        this.armChurn(burst, node);
      } else if (role !== "leader" && burst.target === node) {
        this.disarmChurn(burst);
      }
    }
  }

  private crashPointFired(node: NodeId): void {
    for (const burst of this.bursts.values()) {
      if (burst.current !== null && burst.target === node && burst.current.fault.trigger !== "afterCommit") this.nextInBurst(burst, null);
    }
  }

  /**
   * Crash `leader` right after it first sends a commit index above every commit index a server has
   * now (a newly committed entry, not a restarted node catching up), for `downMs`.
   */
  private crashLeaderAfterCommit(key: string, leader: NodeId, downMs: number, fired: () => void): void {
    const from = Math.max(0, ...this.cluster.statuses().map((st) => st.commit));
    this.triggers.set(key, (sender, message) => {
      if (sender !== leader || (message.type !== "append" && message.type !== "heartbeat") || message.commit === undefined || message.commit <= from) return false;
      this.world.after(0, () => this.bounce(leader, downMs));
      fired();
      return true;
    });
  }

  /** Kill a node (the leader, for crash-leader) inside its Ready loop; the disk-crash path restarts it. */
  private armCrashPoint(rng: WorldRng, kind: "crash" | "crash-leader", point: CrashPoint, after: number): void {
    const up = this.cluster.nodeIds.filter((id) => this.cluster.isUp(id));
    if (up.length === 0) return;
    const leader = this.cluster.leader()?.id;
    const node = kind === "crash-leader" && leader !== undefined ? leader : rng.pick(up);
    this.cluster.armCrashPoint(node, point, after);
  }

  /** Crash `node` now and restart it `downMs` later (unless the world healed it meanwhile). */
  private bounce(node: string, downMs: number): void {
    if (this.healed || !this.cluster.isUp(node)) return;
    this.cluster.crash(node);
    this.world.after(downMs, () => {
      if (!this.healed && !this.cluster.isUp(node)) this.cluster.restart(node);
    });
  }

  private crash(key: string, rng: WorldRng, kind: "crash" | "crash-leader" | "torn"): void {
    const up = this.cluster.nodeIds.filter((id) => this.cluster.isUp(id));
    if (up.length === 0) return;
    const leader = this.cluster.leader()?.id;
    const node = kind === "crash-leader" && leader !== undefined ? leader : rng.pick(up);
    if (kind === "torn") {
      // The node dies at one of its next syncs, mid-write; the cluster brings it back.
      this.cluster.failDiskSoon(node, rng.int(0, 3));
      return;
    }
    this.crashedBy.set(node, key);
    this.cluster.crash(node);
  }

  /**
   * Ask the leader to hand over. With `deafen`, the old leader's inbound links are cut at the
   * moment it sends timeoutNow (before the new leader's first message can reach it), and stay
   * cut for the fault's duration.
   */
  private transfer(key: string, rng: WorldRng, deafen: boolean): void {
    const leader = this.cluster.leader();
    if (leader === null) return;
    const to = rng.pick(this.cluster.nodeIds.filter((id) => id !== leader.id));
    this.world.record("transfer", { from: leader.id, to, deafen });
    if (deafen) {
      this.triggers.set(key, (from, message) => {
        if (from !== leader.id || message.type !== "timeoutNow") return false;
        const peers = this.cluster.nodeIds.filter((id) => id !== leader.id);
        this.partition(key, peers.map((peer): Link => [peer, leader.id]));
        return true;
      });
    }
    this.cluster.withHost(leader.id, (host) => host.transferLeadership(to));
  }

  /**
   * A lease race (faults.ts appendLeaseRaces), run in rounds until the fault ends. A round starts
   * at the first heartbeat round a leader sends while no link between its voters that are up is
   * cut or slowed (that would decide the race by itself): every link's base delay becomes
   * near-instant, the leader's clock is set slow and every other clock fast, at the drift bound;
   * once the heartbeats have reached the followers the leader's outbound links are cut, once their
   * acknowledgements are back its inbound ones. Its lease now runs from that round, the followers'
   * silence from when it reached them, and a new leader is elected as soon as their (randomized)
   * timeouts allow. Meanwhile a client sends a lease read to the cut-off leader every millisecond
   * for as long as it leads. The round ends `leaseRaceMs` later (links healed and back to their
   * drawn delays, clocks to their drawn rates), and the next waits for a heartbeat again,
   * typically the new leader's.
   */
  private leaseRace(key: string, fault: ScheduledFault): void {
    const race: LeaseRace = { id: fault.id, round: 0, leader: null };
    this.races.set(key, race);
    this.armLeaseRound(key, race);
  }

  private armLeaseRound(key: string, race: LeaseRace): void {
    this.triggers.set(key, (from, message) => {
      const status = message.type === "heartbeat" ? this.cluster.host(from)?.node.status() : undefined;
      if (status?.role !== "leader") return false;
      if (!this.network.calmBetween(status.conf.voters.filter((id) => this.cluster.isUp(id)))) return false;
      this.startLeaseRound(key, race, from);
      return true;
    });
  }

  /** Runs inside the trigger, before the round's heartbeats draw their delays: they arrive at once too. */
  private startLeaseRound(key: string, race: LeaseRace, leader: NodeId): void {
    this.network.capLatency(key, leaseRaceLinkMs);
    const round = ++race.round;
    race.leader = leader;
    this.leaseRaces++;
    this.world.record("leaseRace", { id: race.id, round, leader });
    const skewPpm = this.options.clockSkewPpm ?? 0;
    if (skewPpm > 0) for (const id of this.cluster.nodeIds) this.cluster.skewClock(id, id === leader ? -skewPpm : skewPpm);
    const peers = this.cluster.nodeIds.filter((id) => id !== leader);
    const current = (): boolean => this.races.get(key) === race && race.round === round && !this.healed;
    const cut = (suffix: string, links: Link[]): void => {
      if (current()) this.partition(`${key}/${suffix}`, links);
    };
    this.world.after(leaseRaceLinkMs + 1, () => cut("out", peers.map((peer): Link => [leader, peer])));
    this.world.after(2 * leaseRaceLinkMs + 2, () => cut("in", peers.map((peer): Link => [peer, leader])));
    const probe = (): void => {
      if (!current() || !this.leads(leader)) return;
      this.leaseProbes++;
      this.cluster.withHost(leader, (host) => host.read("lease", () => {}));
      this.world.after(1, probe);
    };
    this.world.after(1, probe);
    this.world.after(leaseRaceMs, () => {
      if (!current()) return;
      this.endLeaseRound(key, race);
      this.armLeaseRound(key, race);
    });
  }

  private leads(node: NodeId): boolean {
    return this.cluster.host(node)?.node.status().role === "leader";
  }

  /** Heal the round's cuts, lift its latency cap and restore the clocks. */
  private endLeaseRound(key: string, race: LeaseRace): void {
    if (race.leader !== null) this.network.uncapLatency(key);
    for (const suffix of ["out", "in"]) {
      if (this.activePartitions.delete(`${key}/${suffix}`)) this.network.heal(`${key}/${suffix}`);
    }
    if (race.leader !== null && (this.options.clockSkewPpm ?? 0) > 0) for (const id of this.cluster.nodeIds) this.cluster.skewClock(id, null);
    race.leader = null;
  }

  private endLeaseRace(key: string): void {
    const race = this.races.get(key);
    if (race === undefined) return;
    this.endLeaseRound(key, race);
    this.races.delete(key);
    this.triggers.delete(key);
  }

  private linksFor(kind: PartitionKind, fault: ScheduledFault, rng: WorldRng): Link[] {
    const nodes = this.cluster.nodeIds;
    switch (kind) {
      case "isolate": return isolateLinks(rng.pick(nodes), nodes);
      case "isolate-leader": return isolateLinks(this.cluster.leader()?.id ?? rng.pick(nodes), nodes);
      case "halves": {
        const [a, b] = randomHalves(rng, nodes);
        return splitLinks(a, b);
      }
      case "ring": return majorityRingLinks(rng, nodes);
      case "oneway": {
        // An asymmetric partition: one node stops hearing from (or reaching) some of the others.
        // Half the time that node is the leader, whose one-way cuts test leases and read safety.
        const leader = this.cluster.leader()?.id;
        if (fault.leaderLinks !== undefined && leader !== undefined) {
          const peers = nodes.filter((n) => n !== leader);
          return peers.map((peer): Link => (fault.leaderLinks === "out" ? [leader, peer] : [peer, leader]));
        }
        const node = leader !== undefined && rng.chance(0.5) ? leader : rng.pick(nodes);
        const others = nodes.filter((n) => n !== node && rng.chance(0.6));
        const peers = others.length > 0 ? others : [rng.pick(nodes.filter((n) => n !== node))];
        const outbound = rng.chance(0.5);
        return peers.map((peer): Link => (outbound ? [node, peer] : [peer, node]));
      }
      default: return assertNever(kind);
    }
  }
}

/** A lease race's links: near-instant, so the new leader's election and commit take no time to speak of. */
const leaseRaceLinkMs = 1;
/**
 * How long a lease race round runs: the cut-off leader's lease and check-quorum both end within an
 * election timeout (20 ticks) on its slowed clock, 1,040 ms at the drift bound.
 */
const leaseRaceMs = 1_200;

interface LeaseRace {
  readonly id: number;
  /** Rounds started so far; a round's timers act only while it is the current one. */
  round: number;
  /** The leader cut off in the current round (null between rounds). */
  leader: NodeId | null;
}

type PartitionKind = Extract<FaultKind, "isolate" | "isolate-leader" | "halves" | "ring" | "oneway">;

interface ChurnBurst {
  readonly pending: { readonly key: string; readonly fault: ScheduledFault }[];
  current: { readonly key: string; readonly fault: ScheduledFault } | null;
  target: NodeId | null;
}
