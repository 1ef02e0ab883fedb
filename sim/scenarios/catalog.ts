/**
 * The catalog scenario: Praetor's catalog state machine (nodes, services, checks, KV, sessions,
 * locks) replicated by Raft through the same `RaftHost` the agent runs, under the campaign's
 * network and node faults. Checked on every seed: Raft safety (the cluster's own checker),
 * linearizability of the KV history, lock safety at the state machine and identical snapshots
 * on every server at the same applied index (sim/checkers/catalog-checker.ts), the catalog's
 * own invariants after every apply, and liveness after the faults heal. From the clients' side:
 * blocking queries never spin, never sleep through a change and never see their index go back
 * (sim/checkers/blocking-checker.ts), and TTL sessions expire neither before TTL after their last
 * renew or their leader's takeover, nor later than 2 x TTL plus a bound once their clients stop
 * (sim/checkers/session-checker.ts; the tail after the liveness phase gives them time to); two
 * clients never believe they hold the same lock at once (sim/checkers/lock-client-checker.ts), and
 * lock and session operations are linearizable (sim/checkers/lock-history.ts).
 *
 * The leader's duties are the agent's: on taking over, `resetSessionTimers(now)`; every second,
 * expire what `expiredSessions(now)` names and reap old tombstones.
 */
import { defaultRaftHostConfig, type StateMachine } from "../../src/agent/raft-host.ts";
import { Catalog, decodeCommand, defaultCatalogConfig, type ApplyResult, type CatalogConfig } from "../../src/core/catalog/index.ts";
import { BlockingChecker } from "../checkers/blocking-checker.ts";
import { LockClientChecker } from "../checkers/lock-client-checker.ts";
import { holderKey, LockHistory, sessionKey } from "../checkers/lock-history.ts";
import { checkLinearizable } from "../checkers/linearizability.ts";
import { SessionChecker } from "../checkers/session-checker.ts";
import type { NodeFactory } from "../raft-cluster.ts";
import type { Entry, Message, NodeId } from "../../src/core/raft/types.ts";
import { CatalogChecker } from "../checkers/catalog-checker.ts";
import { checkHistory, runLivenessPhase } from "./raft-liveness.ts";
import { SafetyViolation } from "../checkers/raft-safety.ts";
import { FaultDriver } from "../fault-driver.ts";
import { MembershipDriver } from "../membership-driver.ts";
import { generateSchedule, selectFaults, type ScheduledFault } from "../faults.ts";
import { SimNetwork } from "../network.ts";
import { RaftCluster } from "../raft-cluster.ts";
import { drawSyncDelay } from "./kv.ts";
import { defaultNodeFactory, describeMessage, drawRaftLimits, makeSimDisk, simRaftConfig } from "../raft-core.ts";
import { World } from "../world/world.ts";
import type { WorldRng } from "../world/rng.ts";
import { CatalogWorkload, type CatalogWorkloadConfig } from "./catalog-workload.ts";
import type { Outcome, Scenario, ScenarioOptions, SeedResult } from "./types.ts";

/**
 * Same bound and reasoning as the kv scenario (an election, a snapshot catch-up, a client
 * timeout), plus one leader-duty period, since sessions expire through the leader.
 */
export const livenessBoundMs = 21_000;
const logMatchingEveryMs = 2_000;
const livenessProbeEveryMs = 100;
/** Consul's leader checks session TTLs on timers; here it sweeps on this period. */
const leaderDutyEveryMs = 1_000;
/** Tombstones older than this many entries are reaped by the leader. */
const tombstoneKeepEntries = 50;
/** Snapshot hashes are compared at every applied index divisible by this. */
const hashEvery = 3;
/**
 * Session TTLs are short (and the catalog's minimum lowered to match) so that elections and
 * partitions last several TTLs: a leader's takeover then matters to the sessions it inherits.
 */
const catalogConfig: CatalogConfig = defaultCatalogConfig({ sessionTtlMinMs: 1_000 });
const sessionTtls = ["2s", "3s", "5s"];
/**
 * The stated bound on a session outliving its TTL: once its clients stop, a TTL session is gone
 * by 2 x TTL after its last renew (or its leader's takeover) plus one sweep of the leader's
 * duties plus this much for the expiry to commit on a healed cluster.
 */
const sessionLateBoundMs = leaderDutyEveryMs + 1_000;

export type CatalogFactory = (config: CatalogConfig) => Catalog;

/**
 * The catalog the scenario runs: the production one, or a planted-bug mutant carried by the node
 * factory (test/mutants/catalog-mutants.ts attaches `makeCatalog` to the production Raft factory,
 * since only the node factory crosses worker threads by name).
 */
export function catalogFactoryOf(nodeFactory: NodeFactory | undefined): CatalogFactory {
  const attached = (nodeFactory as { makeCatalog?: CatalogFactory } | undefined)?.makeCatalog;
  return attached ?? ((config) => new Catalog(config));
}

/** What the state machines report to the session checker: expiries that invalidated a session. */
class ExpiryWatch {
  constructor(private readonly sessions: SessionChecker) {}

  afterApply(entry: Entry, result: ApplyResult, catalog: Catalog): void {
    if (!result.ok || result.value !== true) return;
    const decoded = decodeCommand(entry.data);
    if (!decoded.ok || decoded.command.op !== "session.expire") return;
    // The log's clock after the apply: when the expiry took effect.
    this.sessions.onExpired(entry.index, decoded.command.ID, decoded.command.nowMs, catalog.clockMs);
  }
}

/** The catalog as the Raft host's state machine, with the checkers wrapped around each apply. */
class CatalogStateMachine implements StateMachine<ApplyResult> {
  readonly catalog: Catalog;
  /** Live session IDs as of the last apply, to see which ones an apply ended. */
  private sessionIds = new Set<string>();

  constructor(
    private readonly node: NodeId, private readonly checker: CatalogChecker, private readonly expiries: ExpiryWatch,
    private readonly lockHistory: LockHistory, private readonly world: World, makeCatalog: CatalogFactory,
  ) {
    this.catalog = makeCatalog(catalogConfig);
  }

  apply(entry: Entry): ApplyResult {
    const before = this.checker.lockView(this.catalog);
    const result = this.catalog.applyBytes(entry.data, entry.index);
    const after = this.checker.afterApply(this.node, this.catalog, entry.index, before);
    this.expiries.afterApply(entry, result, this.catalog);
    this.recordClusterDeletes(entry, before.holders, after.holders);
    return result;
  }

  /** Lock keys this apply freed and sessions it ended go into the lock history as the cluster's deletes. */
  private recordClusterDeletes(entry: Entry, before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): void {
    const freed = [...before.keys()].filter((key) => !after.has(key));
    const sessionCount = this.catalog.stats().sessions;
    let ended: string[] = [];
    if (sessionCount !== this.sessionIds.size) {
      const now = new Set(this.catalog.sessionList().value.map((s) => s.ID));
      ended = [...this.sessionIds].filter((id) => !now.has(id));
      this.sessionIds = now;
    }
    if (freed.length === 0 && ended.length === 0) return;
    const decoded = decodeCommand(entry.data);
    const stampMs = decoded.ok && "nowMs" in decoded.command ? decoded.command.nowMs ?? this.world.nowMs : this.world.nowMs;
    for (const key of freed) this.lockHistory.onClusterDelete(holderKey(key), entry.index, stampMs, this.world.nowMs);
    for (const id of ended) this.lockHistory.onClusterDelete(sessionKey(id), entry.index, stampMs, this.world.nowMs);
  }

  snapshot(): Uint8Array {
    return this.catalog.snapshot();
  }

  restore(data: Uint8Array): void {
    this.catalog.restore(data);
    this.catalog.invariants();
    this.sessionIds = new Set(this.catalog.sessionList().value.map((s) => s.ID));
  }
}

interface CatalogSetup {
  /** Every server, the bootstrap voters first, then the spares. */
  readonly nodeIds: NodeId[];
  /** Servers outside the bootstrap configuration, with empty disks, added by membership changes. */
  readonly spares: NodeId[];
  readonly drift: Record<NodeId, number>;
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  readonly snapshotEveryEntries: number;
  readonly raftLimits: ReturnType<typeof drawRaftLimits>;
  readonly workload: CatalogWorkloadConfig;
  /** Asynchronous saves with slow syncs, as the agent's WAL does (undefined: synchronous saves). */
  syncDelayMs?: { readonly min: number; readonly max: number };
}

function drawSetup(rng: WorldRng, options: ScenarioOptions): CatalogSetup {
  const nodeCount = options.nodes ?? rng.int(3, 5);
  const nodeIds = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const drift: Record<NodeId, number> = {};
  for (const id of nodeIds) drift[id] = options.faults.includes("drift") ? Math.round(rng.uniform(0.95, 1.05) * 1000) / 1000 : 1;
  const delayMinMs = rng.int(1, 3);
  const setup: CatalogSetup = {
    nodeIds, spares: [], drift, delayMinMs, delayMaxMs: delayMinMs + rng.int(2, 25),
    snapshotEveryEntries: rng.int(20, 200),
    raftLimits: drawRaftLimits(rng),
    workload: {
      clients: rng.int(2, 4), kvKeys: rng.int(2, 3), lockKeys: rng.int(1, 3), agents: rng.int(2, 3),
      opTimeoutMs: 3_000, thinkMinMs: 10, thinkMaxMs: rng.int(100, 400), clientLinkMaxMs: 5,
      blockingClients: rng.int(1, 3), blockWaitMinMs: 200, blockWaitMaxMs: rng.int(500, 3_000), sessionTtls,
    },
  };
  // Drawn last, so seeds without membership changes draw exactly what they did before.
  if (options.faults.includes("membership")) {
    const spares = rng.int(0, 2);
    for (let i = 0; i < spares; i++) {
      const id = `n${nodeIds.length + 1}`;
      nodeIds.push(id);
      setup.spares.push(id);
      drift[id] = 1;
    }
  }
  // Drawn last as well, for the same reason.
  const syncDelayMs = drawSyncDelay(rng);
  if (syncDelayMs !== undefined) setup.syncDelayMs = syncDelayMs;
  return setup;
}

type Cluster = RaftCluster<CatalogStateMachine>;

export function runCatalogSeed(options: ScenarioOptions): SeedResult {
  const world = new World(options.seed, { trace: options.trace });
  const setup = drawSetup(world.rng.derive("setup"), options);
  const fullSchedule = generateSchedule(world.rng.derive("faults"), options.faults, options.durationMs);
  const schedule = options.scheduleIds === undefined ? fullSchedule : selectFaults(fullSchedule, options.scheduleIds);
  world.record("seed", { seed: options.seed, scenario: "catalog", setup, faults: schedule.map((f) => f.id) });
  const network = new SimNetwork<Message>(world, world.rng.derive("network"), setup, describeMessage);
  const checker = new CatalogChecker(hashEvery);
  const checkers = {
    blocking: new BlockingChecker(), sessions: new SessionChecker(sessionLateBoundMs, setup.workload.clientLinkMaxMs), locks: new LockClientChecker(),
    lockHistory: new LockHistory(),
  };
  const expiries = new ExpiryWatch(checkers.sessions);
  const makeCatalog = catalogFactoryOf(options.nodeFactory);
  let started = 0;
  const cluster: Cluster = new RaftCluster<CatalogStateMachine>({
    world, rng: world.rng.derive("nodes"), network, nodeIds: setup.nodeIds,
    makeConfig: (id) => simRaftConfig(id, setup.raftLimits), nodeFactory: options.nodeFactory ?? defaultNodeFactory,
    // The cluster starts nodes in order and restarts one at a time; the checker only needs a label.
    makeStateMachine: () => new CatalogStateMachine(`sm${++started}`, checker, expiries, checkers.lockHistory, world, makeCatalog),
    makeDisk: (id) => makeSimDisk(world.rng.derive(`disk/${id}`)),
    driftOf: (id) => setup.drift[id]!,
    initialVoters: setup.nodeIds.filter((id) => !setup.spares.includes(id)), retired: setup.spares,
    hostConfig: defaultRaftHostConfig({ snapshotEveryEntries: setup.snapshotEveryEntries, requestTimeoutTicks: 50 }),
    ...(setup.syncDelayMs === undefined ? {} : { syncDelayMs: setup.syncDelayMs }),
  });
  const driver = new FaultDriver(world, world.rng.derive("fault-targets"), network, cluster);
  const workload = new CatalogWorkload(world, world.rng.derive("workload"), cluster, setup.workload, checkers);
  const membership = options.faults.includes("membership") ? new MembershipDriver(world, world.rng.derive("membership"), cluster, new Set(options.membershipSkips)) : null;
  const facts: Record<string, number | string> = { nodes: setup.nodeIds.length, faults: schedule.length };
  let outcome: Outcome = "ok";
  let message: string | null = null;
  try {
    message = runPhases(world, cluster, { faults: driver, membership }, workload, options.durationMs, schedule, facts, checkers.sessions);
    if (message !== null) outcome = "liveness";
    else message = checkHistory(workload.history(), facts) ?? checkLockHistory(checkers.lockHistory, facts);
    if (message !== null && outcome === "ok") outcome = "safety";
  } catch (error) {
    outcome = error instanceof SafetyViolation ? "safety" : "crash";
    message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  Object.assign(facts, network.stats, workload.counters, {
    restarts: cluster.restarts, checks: cluster.checker.checks, hashesCompared: checker.hashesCompared,
    lockHandovers: checker.handovers, invalidationReleases: checker.invalidationReleases,
    blockingWakes: checkers.blocking.wakes, blockingTimeouts: checkers.blocking.timeouts,
    ttlExpiries: checkers.sessions.expiries, lockBeliefs: checkers.locks.beliefsRecorded, acquisitionsChecked: checkers.locks.acquisitionsChecked,
  });
  if (membership !== null) {
    for (const [kind, count] of Object.entries(membership.counts)) facts[`conf.${kind}`] = count;
    facts["conf.drawn"] = membership.drawn;
    facts["conf.final"] = `voters=${membership.conf.voters.join(",")} learners=${membership.conf.learners.join(",")}`;
  }
  world.record("end", { outcome, message: message?.split("\n")[0] ?? null });
  return {
    seed: options.seed, scenario: "catalog", outcome, message, events: world.eventsProcessed, simulatedMs: world.nowMs,
    schedule: fullSchedule, scheduleIds: schedule.map((f) => f.id), trace: world.trace, facts,
  };
}

/** Linearizability of the lock and session operations (sim/checkers/lock-history.ts), as a violation message or null. */
function checkLockHistory(history: LockHistory, facts: Record<string, number | string>): string | null {
  const ops = history.history();
  facts["lockHistoryOps"] = ops.length;
  const result = checkLinearizable(ops);
  if (result.ok) return null;
  const shown = result.ops.slice(0, 12).map((op) => JSON.stringify(op)).join("\n  ");
  return `lock and session linearizability (${result.verdict}) on ${JSON.stringify(result.key)}: ${result.explanation}\n  ${shown}`;
}

/**
 * What Consul's leader does on its own. On taking over (a new leader, term or state machine),
 * before anything else, it resets every session's timer (`resetSessionTimers`, Consul's
 * initializeSessionTimers). Then, every period: destroy sessions whose TTL lapsed (the command
 * re-checks against the log's clock, so a renew that raced it wins) and reap old KV tombstones.
 */
class LeaderDuties {
  private current: { id: NodeId; term: number; catalog: Catalog; sinceMs: number } | null = null;

  constructor(
    private readonly world: World, private readonly cluster: Cluster, private readonly workload: CatalogWorkload,
    private readonly sessions: SessionChecker, private readonly facts: Record<string, number | string>,
  ) {}

  start(): void {
    this.world.after(leaderDutyEveryMs, () => this.run());
  }

  /** When the current leader took over (null: no leader now). */
  takeoverMs(): number | null {
    const leader = this.cluster.leader();
    const current = this.current;
    if (leader === null || current === null || leader.id !== current.id || leader.term !== current.term) return null;
    return current.sinceMs;
  }

  private run(): void {
    const leader = this.cluster.leader();
    if (leader !== null) this.lead(leader.id, leader.term);
    this.world.after(leaderDutyEveryMs, () => this.run());
  }

  private lead(id: NodeId, term: number): void {
    const world = this.world;
    const catalog = this.cluster.stateMachine(id)!.catalog;
    const current = this.current;
    if (current === null || current.id !== id || current.term !== term || current.catalog !== catalog) {
      catalog.resetSessionTimers(world.nowMs);
      this.current = { id, term, catalog, sinceMs: world.nowMs };
      this.facts["takeovers"] = Number(this.facts["takeovers"] ?? 0) + 1;
    }
    for (const session of catalog.expiredSessions(world.nowMs)) {
      this.facts["expiryProposals"] = Number(this.facts["expiryProposals"] ?? 0) + 1;
      this.sessions.onExpireProposed(session, world.nowMs, `${id}/t${term}`, this.current!.sinceMs);
      this.workload.propose(id, { op: "session.expire", ID: session }, () => {});
    }
    const reapUpTo = catalog.appliedIndex - tombstoneKeepEntries;
    if (catalog.stats().tombstones > 0 && reapUpTo > 0) this.workload.propose(id, { op: "tombstone.reap", Index: reapUpTo }, () => {});
  }
}

/**
 * After the liveness phase the clients have stopped: run long enough for every TTL session to
 * lapse (2 x the longest TTL plus the stated bound), then no TTL session may still be alive.
 */
function runSessionTail(world: World, cluster: Cluster, duties: LeaderDuties, sessions: SessionChecker, facts: Record<string, number | string>): string | null {
  const tailMs = 2 * sessions.ttlMaxMs + sessionLateBoundMs + leaderDutyEveryMs;
  world.runUntil(world.nowMs + tailMs);
  facts["sessionTailMs"] = tailMs;
  const leader = cluster.leader();
  const takeoverMs = duties.takeoverMs();
  if (leader === null || takeoverMs === null) return `liveness: no settled leader at the end of the ${tailMs} ms session tail`;
  const alive = cluster.stateMachine(leader.id)!.catalog.sessionList().value.map((s) => s.ID);
  sessions.checkNotOutlived(world.nowMs, takeoverMs, alive);
  return null;
}

function runPhases(
  world: World, cluster: Cluster, drivers: { faults: FaultDriver; membership: MembershipDriver | null }, workload: CatalogWorkload, durationMs: number,
  schedule: readonly ScheduledFault[], facts: Record<string, number | string>, sessions: SessionChecker,
): string | null {
  const driver = drivers.faults;
  cluster.startAll();
  driver.schedule(schedule);
  drivers.membership?.start();
  workload.start();
  const checkLogs = (): void => {
    cluster.checkLogMatching();
    world.after(logMatchingEveryMs, checkLogs);
  };
  world.after(logMatchingEveryMs, checkLogs);
  const duties = new LeaderDuties(world, cluster, workload, sessions, facts);
  duties.start();
  world.runUntil(durationMs);
  drivers.membership?.stop();
  driver.healAll();
  const liveness = runLivenessPhase(world, cluster, workload, { boundMs: livenessBoundMs, probeEveryMs: livenessProbeEveryMs }, facts);
  if (liveness !== null) return liveness;
  return runSessionTail(world, cluster, duties, sessions, facts);
}

export const scenario: Scenario = {
  name: "catalog",
  description: "Raft + the catalog (KV with CAS, sessions and locks, registrations) under faults; linearizability, lock safety, identical state",
  runSeed: runCatalogSeed,
};
