/**
 * The catalog scenario: Praetor's catalog state machine (nodes, services, checks, KV, sessions,
 * locks) replicated by Raft through the same `RaftHost` the agent runs, under the campaign's
 * network and node faults. Checked on every seed: Raft safety (the cluster's own checker),
 * linearizability of the KV history, lock safety at the state machine and identical snapshots
 * on every server at the same applied index (sim/checkers/catalog-checker.ts), the catalog's
 * own invariants after every apply, and liveness after the faults heal.
 */
import { defaultRaftHostConfig, type StateMachine } from "../../src/agent/raft-host.ts";
import { Catalog, type ApplyResult } from "../../src/core/catalog/index.ts";
import type { Entry, Message, NodeId } from "../../src/core/raft/types.ts";
import { CatalogChecker } from "../checkers/catalog-checker.ts";
import { checkHistory, runLivenessPhase } from "./raft-liveness.ts";
import { SafetyViolation } from "../checkers/raft-safety.ts";
import { FaultDriver } from "../fault-driver.ts";
import { generateSchedule, selectFaults, type ScheduledFault } from "../faults.ts";
import { SimNetwork } from "../network.ts";
import { RaftCluster } from "../raft-cluster.ts";
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

/** The catalog as the Raft host's state machine, with the checker wrapped around each apply. */
class CatalogStateMachine implements StateMachine<ApplyResult> {
  readonly catalog = new Catalog();

  constructor(private readonly node: NodeId, private readonly checker: CatalogChecker) {}

  apply(entry: Entry): ApplyResult {
    const before = this.checker.lockView(this.catalog);
    const result = this.catalog.applyBytes(entry.data, entry.index);
    this.checker.afterApply(this.node, this.catalog, entry.index, before);
    return result;
  }

  snapshot(): Uint8Array {
    return this.catalog.snapshot();
  }

  restore(data: Uint8Array): void {
    this.catalog.restore(data);
    this.catalog.invariants();
  }
}

interface CatalogSetup {
  readonly nodeIds: NodeId[];
  readonly drift: Record<NodeId, number>;
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  readonly snapshotEveryEntries: number;
  readonly raftLimits: ReturnType<typeof drawRaftLimits>;
  readonly workload: CatalogWorkloadConfig;
}

function drawSetup(rng: WorldRng, options: ScenarioOptions): CatalogSetup {
  const nodeCount = options.nodes ?? rng.int(3, 5);
  const nodeIds = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const drift: Record<NodeId, number> = {};
  for (const id of nodeIds) drift[id] = options.faults.includes("drift") ? Math.round(rng.uniform(0.95, 1.05) * 1000) / 1000 : 1;
  const delayMinMs = rng.int(1, 3);
  return {
    nodeIds, drift, delayMinMs, delayMaxMs: delayMinMs + rng.int(2, 25),
    snapshotEveryEntries: rng.int(20, 200),
    raftLimits: drawRaftLimits(rng),
    workload: {
      clients: rng.int(2, 4), kvKeys: rng.int(2, 3), lockKeys: rng.int(1, 3), agents: rng.int(2, 3),
      opTimeoutMs: 3_000, thinkMinMs: 10, thinkMaxMs: rng.int(100, 400), clientLinkMaxMs: 5,
    },
  };
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
  let started = 0;
  const cluster: Cluster = new RaftCluster<CatalogStateMachine>({
    world, rng: world.rng.derive("nodes"), network, nodeIds: setup.nodeIds,
    makeConfig: (id) => simRaftConfig(id, setup.raftLimits), nodeFactory: options.nodeFactory ?? defaultNodeFactory,
    // The cluster starts nodes in order and restarts one at a time; the checker only needs a label.
    makeStateMachine: () => new CatalogStateMachine(`sm${++started}`, checker),
    makeDisk: (id) => makeSimDisk(world.rng.derive(`disk/${id}`)),
    driftOf: (id) => setup.drift[id]!,
    hostConfig: defaultRaftHostConfig({ snapshotEveryEntries: setup.snapshotEveryEntries, requestTimeoutTicks: 50 }),
  });
  const driver = new FaultDriver(world, world.rng.derive("fault-targets"), network, cluster);
  const workload = new CatalogWorkload(world, world.rng.derive("workload"), cluster, setup.workload);
  const facts: Record<string, number | string> = { nodes: setup.nodeIds.length, faults: schedule.length };
  let outcome: Outcome = "ok";
  let message: string | null = null;
  try {
    message = runPhases(world, cluster, driver, workload, options.durationMs, schedule, facts);
    if (message !== null) outcome = "liveness";
    else message = checkHistory(workload.history(), facts);
    if (message !== null && outcome === "ok") outcome = "safety";
  } catch (error) {
    outcome = error instanceof SafetyViolation ? "safety" : "crash";
    message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  Object.assign(facts, network.stats, workload.counters, {
    restarts: cluster.restarts, checks: cluster.checker.checks, hashesCompared: checker.hashesCompared,
    lockHandovers: checker.handovers, invalidationReleases: checker.invalidationReleases,
  });
  world.record("end", { outcome, message: message?.split("\n")[0] ?? null });
  return {
    seed: options.seed, scenario: "catalog", outcome, message, events: world.eventsProcessed, simulatedMs: world.nowMs,
    schedule: fullSchedule, scheduleIds: schedule.map((f) => f.id), trace: world.trace, facts,
  };
}

/**
 * What Consul's leader does on its own: destroy sessions whose TTL lapsed (the command re-checks
 * against the log's clock, so a renew that raced it wins) and reap old KV tombstones.
 */
function leaderDuties(world: World, cluster: Cluster, workload: CatalogWorkload, facts: Record<string, number | string>): void {
  const leader = cluster.leader();
  if (leader !== null) {
    const catalog = cluster.stateMachine(leader.id)!.catalog;
    for (const id of catalog.expiredSessions(world.nowMs)) {
      facts["expiryProposals"] = Number(facts["expiryProposals"] ?? 0) + 1;
      workload.propose(leader.id, { op: "session.expire", ID: id }, () => {});
    }
    const reapUpTo = catalog.appliedIndex - tombstoneKeepEntries;
    if (catalog.stats().tombstones > 0 && reapUpTo > 0) workload.propose(leader.id, { op: "tombstone.reap", Index: reapUpTo }, () => {});
  }
  world.after(leaderDutyEveryMs, () => leaderDuties(world, cluster, workload, facts));
}

function runPhases(
  world: World, cluster: Cluster, driver: FaultDriver, workload: CatalogWorkload, durationMs: number,
  schedule: readonly ScheduledFault[], facts: Record<string, number | string>,
): string | null {
  cluster.startAll();
  driver.schedule(schedule);
  workload.start();
  const checkLogs = (): void => {
    cluster.checkLogMatching();
    world.after(logMatchingEveryMs, checkLogs);
  };
  world.after(logMatchingEveryMs, checkLogs);
  world.after(leaderDutyEveryMs, () => leaderDuties(world, cluster, workload, facts));
  world.runUntil(durationMs);
  driver.healAll();
  return runLivenessPhase(world, cluster, workload, { boundMs: livenessBoundMs, probeEveryMs: livenessProbeEveryMs }, facts);
}

export const scenario: Scenario = {
  name: "catalog",
  description: "Raft + the catalog (KV with CAS, sessions and locks, registrations) under faults; linearizability, lock safety, identical state",
  runSeed: runCatalogSeed,
};
