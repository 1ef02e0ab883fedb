import type { Message, NodeId } from "../../src/core/raft/types.ts";
import { defaultRaftHostConfig } from "../../src/agent/raft-host.ts";
import { defaultRaftConfig } from "../../src/core/raft/config.ts";
import { checkHistory, runLivenessPhase } from "./raft-liveness.ts";
import { SafetyViolation } from "../checkers/raft-safety.ts";
import { ConnectivityLog, LivenessViolation, checkStepDown } from "../checkers/step-down.ts";
import { ReadLoad } from "../read-load.ts";
import { checkIdleSpell } from "../checkers/idle-probe.ts";
import { encodeCommand } from "./kv-state-machine.ts";
import { FaultDriver } from "../fault-driver.ts";
import { MembershipDriver } from "../membership-driver.ts";
import { generateSchedule, selectFaults } from "../faults.ts";
import { SimNetwork } from "../network.ts";
import { RaftCluster } from "../raft-cluster.ts";
import { defaultNodeFactory, describeMessage, drawRaftLimits, makeSimDisk, simRaftConfig } from "../raft-core.ts";
import { World } from "../world/world.ts";
import type { WorldRng } from "../world/rng.ts";
import { KvStateMachine } from "./kv-state-machine.ts";
import { KvWorkload, type WorkloadConfig } from "./kv-workload.ts";
import type { Outcome, Scenario, ScenarioOptions, SeedResult } from "./types.ts";

/**
 * After the last fault heals, a leader must be agreed on by every node, every node must apply
 * what that leader had committed, and every client must complete an operation, within this
 * bound. Reason: with hashicorp/raft's LAN timing an election takes at most about
 * 2 x 1000 ms plus pre-vote, a few split votes cost a few of those, a restarted node catches up
 * by snapshot within a heartbeat or two, and a client may first have to time out (3 s) on a
 * dead target. Measured over 300 seeds with all faults: median 200 ms, p99 3.1 s, max 4.2 s;
 * 20 s leaves a wide margin while a stuck cluster still fails.
 */
export const livenessBoundMs = 20_000;

/**
 * After convergence, four times: idle for longer than the stall time (10 ticks, 525 ms on the
 * slowest clock), then one entry; no follower may be dropped to probe for it. Whether the
 * follower's answer beats the leader's next tick depends on the tick phase, hence several spells.
 */
const idleSpell = { idleMs: 700, settleMs: 300 };
const idleSpells = 4;

/** Read load on the healed cluster, after convergence (read-heavy seeds): three step-down windows. */
const steadyReadsMs = 6_000;

/** How often the safety checkers that scan whole logs run during a seed. */
const logMatchingEveryMs = 2_000;
/** How often liveness is re-evaluated in the liveness phase. */
const livenessProbeEveryMs = 100;

interface KvSetup {
  /** Every server, the bootstrap voters first, then the spares. */
  readonly nodeIds: NodeId[];
  /** Servers outside the bootstrap configuration, with empty disks, added by membership changes. */
  readonly spares: NodeId[];
  readonly drift: Record<NodeId, number>;
  delayMinMs: number;
  delayMaxMs: number;
  readonly snapshotEveryEntries: number;
  readonly raftLimits: ReturnType<typeof drawRaftLimits>;
  readonly workload: WorkloadConfig;
  /** Background reads per tick (0: none). */
  readsPerTick: number;
  /** Syncs take this long and hosts save asynchronously, as the agent's WAL does (undefined: synchronous saves). */
  syncDelayMs?: { readonly min: number; readonly max: number };
}

/** Everything the seed fixes before the run starts: topology, timings, workload shape. */
function drawSetup(rng: WorldRng, options: ScenarioOptions): KvSetup {
  const nodeCount = options.nodes ?? rng.int(3, 5);
  const nodeIds = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const withDrift = options.faults.includes("drift");
  const drift: Record<NodeId, number> = {};
  // Each clock fast or slow by up to the configured drift bound (maxClockDriftPpm), which the lease
  // margin covers. Drawn whether or not drift is on, so switching it off (shrinking) changes nothing else.
  for (const id of nodeIds) drift[id] = drawDrift(rng, withDrift);
  const delayMinMs = rng.int(1, 3);
  const setup: KvSetup = {
    readsPerTick: 0,
    nodeIds, spares: [] as NodeId[], drift, delayMinMs, delayMaxMs: delayMinMs + rng.int(2, 25),
    snapshotEveryEntries: rng.int(20, 200),
    raftLimits: drawRaftLimits(rng),
    workload: {
      clients: rng.int(2, 4), keys: rng.int(2, 4), opTimeoutMs: 3_000,
      thinkMinMs: 10, thinkMaxMs: rng.int(100, 400), clientLinkMaxMs: 5,
    },
  };
  // Drawn last, so seeds without membership changes draw exactly what they did before.
  if (options.faults.includes("membership")) drawSpares(rng, setup, withDrift);
  // Drawn after everything else for the same reason.
  const readHeavy = rng.chance(0.33);
  const reads = rng.int(20, 80);
  setup.readsPerTick = options.readsPerTick ?? (readHeavy ? reads : 0);
  // Two thirds of the read-heavy seeds run on slow links (round trips of two to five ticks, a loaded
  // server's), where a leader that does not batch its read rounds loses track of its acknowledgements.
  const slowLinks = readHeavy && rng.chance(0.67);
  const slowMinMs = rng.int(50, 120);
  const slowSpreadMs = rng.int(2, 20);
  if (slowLinks) Object.assign(setup, { delayMinMs: slowMinMs, delayMaxMs: slowMinMs + slowSpreadMs });
  // Drawn last too: half the seeds save as the agent does (sync on a thread pool, the leader
  // sending before its own sync), with syncs slow enough that crashes and messages land mid-sync.
  const syncDelayMs = drawSyncDelay(rng);
  if (options.syncDelayMs !== undefined || syncDelayMs !== undefined) setup.syncDelayMs = options.syncDelayMs ?? syncDelayMs;
  return setup;
}

/** Half the seeds: asynchronous saves whose syncs take from 1-20 ms to up to 150 ms more. */
export function drawSyncDelay(rng: WorldRng): { min: number; max: number } | undefined {
  const asyncSaves = rng.chance(0.5);
  const min = rng.int(1, 20);
  const max = min + rng.int(5, 130);
  return asyncSaves ? { min, max } : undefined;
}

/** Zero to two spare servers beyond the bootstrap voters; with none, changes remove and re-add members. */
function drawSpares(rng: WorldRng, setup: KvSetup, withDrift: boolean): void {
  const count = rng.int(0, 2);
  for (let i = 0; i < count; i++) {
    const id = `n${setup.nodeIds.length + 1}`;
    setup.nodeIds.push(id);
    setup.spares.push(id);
    setup.drift[id] = drawDrift(rng, withDrift);
  }
}

/** Lease races run every clock at the drift bound, in the direction that shortens the margin; none without drift. */
function leaseRaceSkewPpm(options: ScenarioOptions): number {
  return options.faults.includes("drift") ? defaultRaftConfig("n0").maxClockDriftPpm : 0;
}

/** A clock's tick-period multiplier within the configured drift bound (1 when drift is off). */
export function drawDrift(rng: WorldRng, withDrift: boolean): number {
  const bound = defaultRaftConfig("n0").maxClockDriftPpm / 1_000_000;
  const drawn = Math.round(rng.uniform(1 - bound, 1 + bound) * 1000) / 1000;
  return withDrift ? drawn : 1;
}

export function runKvSeed(options: ScenarioOptions): SeedResult {
  const world = new World(options.seed, { trace: options.trace });
  const setup = drawSetup(world.rng.derive("setup"), options);
  const fullSchedule = options.faultSchedule ?? generateSchedule(world.rng.derive("faults"), options.faults, options.durationMs, { leaseRaces: true });
  const schedule = options.scheduleIds === undefined ? fullSchedule : selectFaults(fullSchedule, options.scheduleIds);
  world.record("seed", { seed: options.seed, scenario: "kv", setup, faults: schedule.map((f) => f.id) });
  const network = new SimNetwork<Message>(world, world.rng.derive("network"), setup, describeMessage);
  const cluster = new RaftCluster<KvStateMachine>({
    world, rng: world.rng.derive("nodes"), network, nodeIds: setup.nodeIds,
    makeConfig: (id) => simRaftConfig(id, setup.raftLimits), nodeFactory: options.nodeFactory ?? defaultNodeFactory,
    makeStateMachine: () => new KvStateMachine(), makeDisk: (id) => makeSimDisk(world.rng.derive(`disk/${id}`)),
    driftOf: (id) => setup.drift[id]!,
    initialVoters: setup.nodeIds.filter((id) => !setup.spares.includes(id)), retired: setup.spares,
    hostConfig: defaultRaftHostConfig({ snapshotEveryEntries: setup.snapshotEveryEntries, requestTimeoutTicks: 50 }),
    ...(setup.syncDelayMs === undefined ? {} : { syncDelayMs: setup.syncDelayMs }),
    ...(options.hostClass === undefined ? {} : { hostClass: options.hostClass }),
  });
  const driver = new FaultDriver(world, world.rng.derive("fault-targets"), network, cluster, { clockSkewPpm: leaseRaceSkewPpm(options) });
  const workload = new KvWorkload(world, world.rng.derive("workload"), cluster, setup.workload);
  const membership = options.faults.includes("membership") ? new MembershipDriver(world, world.rng.derive("membership"), cluster, new Set(options.membershipSkips)) : null;
  const readLoad = new ReadLoad(world, cluster, setup.readsPerTick, defaultRaftConfig("n0").tickMs);
  watchStepDowns(world, network, cluster);
  const facts: Record<string, number | string> = { nodes: setup.nodeIds.length, faults: schedule.length, readsPerTick: setup.readsPerTick };
  let outcome: Outcome = "ok";
  let message: string | null = null;
  try {
    message = runPhases(world, cluster, { faults: driver, membership, readLoad }, workload, options.durationMs, schedule, facts);
    if (message !== null) outcome = "liveness";
    else message = checkHistory(workload.history(), facts);
    if (message !== null && outcome === "ok") outcome = "safety";
  } catch (error) {
    outcome = error instanceof SafetyViolation ? "safety" : error instanceof LivenessViolation ? "liveness" : "crash";
    message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  Object.assign(facts, network.stats, {
    completed: workload.completed, indeterminate: workload.indeterminate, refused: workload.refused,
    loadReadsIssued: readLoad.issued, loadReadsAnswered: readLoad.answered,
    restarts: cluster.restarts, diskCrashes: cluster.diskCrashes, crashPoints: cluster.crashPoints, checks: cluster.checker.checks,
    leaseRaces: driver.leaseRaces, leaseProbes: driver.leaseProbes, readsJudged: cluster.reads.reads,
  });
  if (membership !== null) {
    for (const [kind, count] of Object.entries(membership.counts)) facts[`conf.${kind}`] = count;
    facts["conf.drawn"] = membership.drawn;
    facts["conf.final"] = `voters=${membership.conf.voters.join(",")} learners=${membership.conf.learners.join(",")}`;
  }
  const finalStatus = cluster.statuses().map((st) => `${st.id}:${st.role}/t${st.term}/c${st.commit}/a${st.applied}/l${st.lastIndex}`);
  world.record("end", { outcome, message: message?.split("\n")[0] ?? null, nodes: finalStatus });
  return {
    seed: options.seed, scenario: "kv", outcome, message, events: world.eventsProcessed, simulatedMs: world.nowMs,
    schedule: fullSchedule, scheduleIds: schedule.map((f) => f.id), trace: world.trace, facts,
  };
}

/** Safety phase with faults, then heal and the liveness phase. Returns a liveness failure or null. */
function runPhases(
  world: World, cluster: RaftCluster<KvStateMachine>, drivers: { faults: FaultDriver; membership: MembershipDriver | null; readLoad: ReadLoad },
  workload: KvWorkload, durationMs: number, schedule: Parameters<FaultDriver["schedule"]>[0], facts: Record<string, number | string>,
): string | null {
  const driver = drivers.faults;
  cluster.startAll();
  driver.schedule(schedule);
  drivers.membership?.start();
  drivers.readLoad.start();
  workload.start();
  const checkLogs = (): void => {
    cluster.checkLogMatching();
    world.after(logMatchingEveryMs, checkLogs);
  };
  world.after(logMatchingEveryMs, checkLogs);
  world.runUntil(durationMs);
  drivers.membership?.stop();
  drivers.readLoad.stop();
  driver.healAll();
  const stuck = runLivenessPhase(world, cluster, workload, { boundMs: livenessBoundMs, probeEveryMs: livenessProbeEveryMs }, facts);
  if (stuck !== null) return stuck;
  // Read load on the healed cluster, long enough for the step-down check's quiet window to pass
  // several times: a leader connected to everyone must not be deposed by its own reads.
  if (drivers.readLoad.perTick > 0) {
    drivers.readLoad.start();
    world.runUntil(world.nowMs + steadyReadsMs);
    drivers.readLoad.stop();
  }
  for (let spell = 0; spell < idleSpells; spell++) {
    checkIdleSpell(world, cluster, encodeCommand({ kind: "put", key: "__idle-spell", value: String(spell) }), idleSpell);
  }
  return null;
}

/**
 * How long a leader and a quorum must have been up and connected, with no impairment anywhere,
 * before a step-down counts as unjustified: the election timeout (check-quorum's window) stretched
 * by the drift bound, plus heartbeat interval and message delays, doubled for slack.
 */
const stepDownWindowMs = 2 * defaultRaftConfig("n0").electionTimeoutMs;

/** Fail the seed (liveness) when a leader connected to a quorum steps down in its own term. */
function watchStepDowns(world: World, network: SimNetwork<Message>, cluster: RaftCluster<KvStateMachine>): void {
  const log = new ConnectivityLog((from, to) => network.isBlocked(from, to));
  network.onLinksChanged = (links) => { for (const [from, to] of links) log.linkChanged(from, to, world.nowMs); };
  network.onImpairmentsChanged = (active) => log.impairmentsChanged(active, world.nowMs);
  cluster.onNodeChanged = (node) => log.nodeChanged(node, world.nowMs);
  cluster.onLeaderStepDown = (node, term, voters, confChangedMs) =>
    checkStepDown(log, node, term, voters, (id) => cluster.isUp(id), world.nowMs, stepDownWindowMs, confChangedMs);
}

export const kvScenario: Scenario = {
  name: "kv",
  description: "Raft + a KV state machine under network and node faults; linearizability and Raft safety checked",
  runSeed: runKvSeed,
};
