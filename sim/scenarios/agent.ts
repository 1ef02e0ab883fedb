/**
 * `--scenario agent`: whole agents in the simulator (issue 11). Three servers (Raft voters from the
 * start, the catalog as state machine) and two to four clients; every agent runs a gossip core on
 * a simulated LAN and a LocalSync (src/core/agent/local-sync.ts) that keeps its own services in the
 * catalog; every server runs ServerDuties (src/core/agent/server-duties.ts), which, while leading,
 * reconciles the gossip pool into `serfHealth` checks. These are the classes `src/agent/agent.ts`
 * runs; only their hosts (callbacks) are simulated here.
 *
 * Requests: an agent's reads and writes go over a simulated RPC to a server it picks from its
 * gossip view (a server serves itself); a follower forwards to the leader it knows. Every request
 * ends by its deadline, answered or timed out (RequestLog checks it).
 *
 * Faults: the campaign's schedule drives the Raft network and the servers (crashes, partitions,
 * loss...); a server that dies loses its gossip member too, and gossip between two servers obeys
 * the Raft network's partitions. On top of the schedule, one client is killed, one leaves and
 * one is cut off (from the servers, or from everyone) and healed; with the drift fault each
 * agent's clock ticks at its own rate. Every agent writes KV keys of its own through a server.
 * After the heal, once every agent's gossip view has settled: checkers (1) catalog = gossip view
 * and (2) anti-entropy converged must hold within a bound, then (3) a steady window with full
 * LocalSync rounds and leader reconciliations must propose zero writes, and (4) every KV write
 * an agent saw acknowledged must read back. Raft safety is checked throughout by the cluster's
 * checker.
 *
 * Health checks (issue 13): every agent's services (and some nodes) carry checks that run through
 * the agent's CheckStates and LocalSync with raw results from the seed (agent-checks.ts), plus
 * maintenance switched on and off; the health checkers (sim/checkers/health-checker.ts) judge
 * every check write, the converged catalog, check_update_interval, deregistration of services
 * critical too long, and `?passing`. Once converged, a few passing checks are turned critical and
 * `?passing` must drop their instances promptly.
 *
 * With the `membership` fault, zero to two spare servers (empty disks) join during the safety
 * phase and servers leave gracefully (some come back with their data); the leader's autopilot
 * must make every live server a voter and remove those that left.
 */
import { defaultRaftHostConfig, type StateMachine } from "../../src/agent/raft-host.ts";
import type { LocalCheck, LocalService, SyncWrite } from "../../src/core/agent/anti-entropy.ts";
import { CheckStates, type CheckStatesConfig } from "../../src/core/agent/check-states.ts";
import { LocalSync, type LocalSyncConfig, type LocalSyncHost, type LocalView } from "../../src/core/agent/local-sync.ts";
import { nodeMaintenanceCheck, serviceMaintenanceCheck } from "../../src/core/agent/maintenance.ts";
import { serfCheckId } from "../../src/core/agent/reconcile.ts";
import { ServerDuties, defaultServerDutiesConfig, type DutiesHost, type DutiesMember, type DutiesRaftStatus } from "../../src/core/agent/server-duties.ts";
import { encodeCommand, type Command } from "../../src/core/catalog/commands.ts";
import { Catalog, defaultCatalogConfig, type ApplyResult } from "../../src/core/catalog/index.ts";
import type { CheckRecord, CheckStatus, NodeServices } from "../../src/core/catalog/types.ts";
import { defaultLanConfig, type GossipConfig } from "../../src/core/gossip/config.ts";
import type { Member, OutPacket } from "../../src/core/gossip/events.ts";
import { MemberIndex } from "../../src/core/gossip/member-table.ts";
import { GossipNode } from "../../src/core/gossip/node.ts";
import type { Entry, Message, NodeId } from "../../src/core/raft/types.ts";
import { AckedWrites, checkAntiEntropy, checkCatalogMatchesGossip, leaverFate, RequestLog, type AgentTruth } from "../checkers/agent-checker.ts";
import {
  checkCatalogChecksConverged, checkCriticalDeregistration, checkOutputBatching, checkPassingQuery, checkWritesReflectResults, finalReported,
  type CheckRun, type CheckWrite, type InstanceHealth,
} from "../checkers/health-checker.ts";
import { drawCheckPlan, rawResult, type CheckPlan } from "./agent-checks.ts";
import { SafetyViolation } from "../checkers/raft-safety.ts";
import { FaultDriver } from "../fault-driver.ts";
import { generateSchedule, selectFaults } from "../faults.ts";
import { SimNetwork } from "../network.ts";
import { RaftCluster } from "../raft-cluster.ts";
import { defaultNodeFactory, describeMessage, drawRaftLimits, makeSimDisk, simRaftConfig } from "../raft-core.ts";
import type { WorldRng } from "../world/rng.ts";
import { World } from "../world/world.ts";
import { drawDrift } from "./kv.ts";
import type { Outcome, Scenario, ScenarioOptions, SeedResult } from "./types.ts";

const tickMs = 50;
const datacenter = "dc1";
const serverCount = 3;
const rpcTimeoutMs = 2_000;
/** LocalSync's periodic full sync (production: 60 s; shortened so the steady window sees several). */
const syncPeriodMs = 2_000;
/** After the heal: an election, a new leader's 30 s reap grace (ServerDuties), gossip suspicion and refutation, a sync. */
const settleBoundMs = 120_000;
const settleProbeMs = 500;
/** How long checkers (1) and (2) must hold before the steady window: longer than a suspicion. */
const stableMs = 10_000;
const steadyWindowMs = 5_000;
const logMatchingEveryMs = 2_000;
const serviceNames = ["web", "db", "cache", "api"];
/** Each agent's KV writes (checker 4): one every 0.3 to 1.5 s while its process runs. */
const kvWriteGapMs: readonly [number, number] = [300, 1_500];
/** A client cut off from the servers (or from everyone) for this long, once per seed. */
const clientCutMs: readonly [number, number] = [3_000, 15_000];
/** How often each agent looks for service checks critical past deregister_critical_service_after (production: 30 s). */
const checkReapIntervalMs = 1_000;
/** check_deregister_interval_min (production: 1 min), scaled down with the rest. */
const deregisterCriticalMinMs = 5_000;
/** check_update_interval (production: 5 min): drawn per seed within this range. */
const checkUpdateIntervalMsRange: readonly [number, number] = [2_000, 8_000];
/** A server's leave waits for a leader and for the previous leaver's removal: tried this many times, a second apart. */
const leaveTriesMax = 20;
/** After convergence: checks turned critical one after another, each given this long to be reported (thresholds × interval). */
const promptProbes = 3;
const promptWaitMs = 15_000;
/** From a check reported failing to its instance gone from ?passing on a healthy cluster (measured: at most 110 ms). */
const promptBoundMs = 500;

/** Planted defects for the scenario's own tests: each must make a checker fail. */
export type AgentPlant =
  | "duties-never-propose" | "sync-never-deletes" | "node-meta-drifts" | "kv-ack-before-commit" | "rpc-never-reconnects"
  | "autopilot-never-removes" | "autopilot-never-promotes";

export interface AgentRunOptions extends ScenarioOptions {
  readonly plant?: AgentPlant;
  readonly clients?: number;
  /** The agents' check state table and anti-entropy loop to run (planted-bug subclasses in tests). */
  readonly checkStatesFactory?: (config: CheckStatesConfig) => CheckStates;
  readonly localSyncFactory?: (host: LocalSyncHost, local: () => LocalView, config: LocalSyncConfig) => LocalSync;
  /** The servers' catalog (a planted-bug subclass in tests). */
  readonly catalogFactory?: () => Catalog;
}

class CatalogMachine implements StateMachine<ApplyResult> {
  constructor(readonly catalog: Catalog) {}
  apply(entry: Entry): ApplyResult {
    return this.catalog.applyBytes(entry.data, entry.index);
  }
  snapshot(): Uint8Array {
    return this.catalog.snapshot();
  }
  restore(data: Uint8Array): void {
    this.catalog.restore(data);
  }
}

interface SimAgent {
  readonly idx: number;
  readonly name: string;
  readonly ip: string;
  readonly gossipAddr: string;
  readonly addrBytes: Uint8Array;
  readonly raftId: string | null;
  readonly nodeId: string;
  readonly services: Map<string, LocalService>;
  gossip: GossipNode | null;
  /** Bumped whenever the agent's process stops: callbacks of a dead incarnation do nothing. */
  gen: number;
  sync: LocalSync | null;
  duties: ServerDuties | null;
  fate: "alive" | "failed" | "left";
  /** This agent's tick period: tickMs stretched or shrunk by its clock's drift. */
  readonly tickPeriodMs: number;
  /** The checks each service has (by service ID; "" for the node's), like its config files: kept across restarts. */
  readonly checkPlans: Map<string, readonly CheckPlan[]>;
  /** Services in maintenance, and the node's maintenance: the agent's, kept across restarts. */
  readonly maintenance: Set<string>;
  nodeMaintenance: boolean;
  /** The running process's check table (the core the agent runs), its checks as LocalState holds them, and their runs. */
  checks: CheckStates | null;
  readonly localChecks: Map<string, LocalCheck>;
  readonly runs: Map<string, CheckRun>;
  /** The catalog's copy of this agent's checks in its process's last anti-entropy read. */
  lastRead: ReadonlyMap<string, CheckRecord>;
}

type NodeView = { node: NodeServices | null; checks: readonly CheckRecord[] };
type KvWrite = { op: "kv"; Verb: "set"; Key: string; Value: Uint8Array };

function service(name: string, port: number, tags: readonly string[]): LocalService {
  return { ID: name, Service: name, Tags: [...tags], Address: "", Port: port, Meta: {}, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, Kind: "" };
}

class AgentSim {
  readonly world: World;
  readonly network: SimNetwork<Message>;
  readonly cluster: RaftCluster<CatalogMachine>;
  readonly driver: FaultDriver;
  readonly agents: SimAgent[] = [];
  readonly requests = new RequestLog();
  readonly acked = new AckedWrites();
  /** The client cut off from the servers ("servers") or from every other agent ("all"), if any. */
  private cut: { agent: SimAgent; scope: "servers" | "all" } | null = null;
  /** Planted: clients whose RPC stays broken after their cut healed (a dead connection never redialled). */
  private readonly rpcBroken = new Set<SimAgent>();
  private readonly byAddr = new Map<string, SimAgent>();
  private readonly byName = new Map<string, SimAgent>();
  private readonly byRaft = new Map<string, SimAgent>();
  private readonly index = new MemberIndex();
  private readonly gossipConfig: GossipConfig = { ...defaultLanConfig(), tickMs };
  private readonly netRng: WorldRng;
  private readonly rpcRng: WorldRng;
  /** Catalog writes proposed to Raft by anyone (duties or an agent's anti-entropy). */
  writesProposed = 0;
  private metaLooks = 0;
  private readonly checkPlansRng: WorldRng;
  private readonly checkResultsRng: WorldRng;
  readonly checkUpdateIntervalMs: number;
  /** When every check's raw result settles on its final value (the heal). */
  private readonly settledAtMs: number;
  /** Every check every agent process ran, and every check write anti-entropy sent (the health checkers' input). */
  readonly checkRuns: CheckRun[] = [];
  readonly checkWrites: CheckWrite[] = [];
  checkResults = 0;
  criticalDeregistrations = 0;
  /** Checks whose probe the promptness probe has turned (after convergence). */
  private readonly forcedResults = new Map<CheckRun, CheckRun["initialStatus"]>();
  /** Report-to-catalog latencies the promptness probe measured. */
  readonly promptLatenciesMs: number[] = [];
  gossipPackets = 0;

  constructor(readonly options: AgentRunOptions, clientCount: number, spareCount: number) {
    const world = new World(options.seed, { trace: options.trace });
    this.world = world;
    const setupRng = world.rng.derive("setup");
    const delayMinMs = setupRng.int(1, 3);
    const limits = drawRaftLimits(setupRng);
    const snapshotEveryEntries = setupRng.int(20, 200);
    this.netRng = world.rng.derive("gossip-net");
    this.rpcRng = world.rng.derive("rpc");
    const servicesRng = world.rng.derive("services");
    const checksRng = world.rng.derive("check-plans");
    this.checkPlansRng = checksRng;
    this.checkResultsRng = world.rng.derive("check-results");
    this.checkUpdateIntervalMs = setupRng.int(checkUpdateIntervalMsRange[0], checkUpdateIntervalMsRange[1]);
    this.settledAtMs = options.durationMs;
    // Each clock fast or slow within Raft's drift bound; drawn whether or not drift is on.
    const driftRng = world.rng.derive("drift");
    const withDrift = options.faults.includes("drift");
    // Spares (membership changes) come last, so seeds without them draw what they did before.
    const roster = [
      ...Array.from({ length: serverCount }, (_, i) => ({ server: true, name: `s${i + 1}` })),
      ...Array.from({ length: clientCount }, (_, i) => ({ server: false, name: `c${i + 1}` })),
      ...Array.from({ length: spareCount }, (_, i) => ({ server: true, name: `s${serverCount + i + 1}` })),
    ];
    for (const [i, { server, name }] of roster.entries()) {
      const addrBytes = new Uint8Array([10, 0, 0, i + 1]);
      const ip = addrBytes.join(".");
      const services = new Map<string, LocalService>();
      for (let k = servicesRng.int(0, 2); k > 0; k--) {
        const svc = servicesRng.pick(serviceNames);
        services.set(svc, service(svc, servicesRng.int(1000, 9000), ["v1"]));
      }
      const agent: SimAgent = {
        idx: i, name, ip, gossipAddr: `${ip}:8301`, addrBytes, raftId: server ? `${ip}:8300` : null,
        // A spare is out of the cluster (as if it had left) until it joins.
        nodeId: `00000000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`, services, gossip: null, gen: 0, sync: null, duties: null, fate: i < serverCount + clientCount ? "alive" : "left",
        tickPeriodMs: Math.max(1, Math.round(tickMs * drawDrift(driftRng, withDrift))),
        checkPlans: new Map(), maintenance: new Set(), nodeMaintenance: false, checks: null, localChecks: new Map(), runs: new Map(), lastRead: new Map(),
      };
      if (checksRng.chance(0.4)) agent.checkPlans.set("", [drawCheckPlan(checksRng, "node-health", "", options.durationMs)]);
      this.agents.push(agent);
      this.byAddr.set(agent.gossipAddr, agent);
      this.byName.set(name, agent);
      if (agent.raftId !== null) this.byRaft.set(agent.raftId, agent);
      this.index.idOf(name);
    }
    const raftIds = this.agents.filter((a) => a.raftId !== null).map((a) => a.raftId!);
    const spareIds = this.agents.filter((a) => a.raftId !== null && a.fate !== "alive").map((a) => a.raftId!);
    this.network = new SimNetwork<Message>(world, world.rng.derive("network"), { delayMinMs, delayMaxMs: delayMinMs + setupRng.int(2, 25) }, describeMessage);
    this.cluster = new RaftCluster<CatalogMachine>({
      world, rng: world.rng.derive("nodes"), network: this.network, nodeIds: raftIds,
      makeConfig: (id) => simRaftConfig(id, limits), nodeFactory: options.nodeFactory ?? defaultNodeFactory,
      makeStateMachine: () => new CatalogMachine(options.catalogFactory?.() ?? new Catalog(defaultCatalogConfig())),
      makeDisk: (id) => makeSimDisk(world.rng.derive(`disk/${id}`)),
      driftOf: (id) => this.byRaft.get(id)!.tickPeriodMs / tickMs,
      hostConfig: defaultRaftHostConfig({ snapshotEveryEntries, requestTimeoutTicks: 50 }),
      initialVoters: raftIds.filter((id) => !spareIds.includes(id)), retired: spareIds,
    });
    this.cluster.onNodeChanged = (id) => this.serverChanged(id);
    this.driver = new FaultDriver(world, world.rng.derive("fault-targets"), this.network, this.cluster);
  }

  // ------------------------------------------------------------ agent processes

  start(): void {
    this.cluster.startAll();
    for (const agent of this.agents) if (agent.raftId === null) this.startProcess(agent);
    for (const agent of this.agents) this.world.after(agent.tickPeriodMs, () => this.tickLoop(agent));
    const checkLogs = (): void => {
      this.cluster.checkLogMatching();
      this.world.after(logMatchingEveryMs, checkLogs);
    };
    this.world.after(logMatchingEveryMs, checkLogs);
  }

  private serverChanged(id: NodeId): void {
    const agent = this.byRaft.get(id)!;
    if (agent.fate === "left") {
      // A server that crashed while leaving stays out, as an operator who asked it to leave would keep it.
      if (agent.gossip !== null) this.stopProcess(agent);
      if (!this.cluster.isRetired(id)) this.world.after(0, () => this.cluster.retire(id));
      return;
    }
    if (this.cluster.isUp(id)) this.startProcess(agent);
    else this.stopProcess(agent);
  }

  private startProcess(agent: SimAgent): void {
    if (agent.gossip !== null) this.stopProcess(agent);
    const tags: Record<string, string> = agent.raftId !== null
      ? { role: "consul", dc: datacenter, id: agent.nodeId, port: "8300", vsn: "2" }
      : { role: "node", dc: datacenter, id: agent.nodeId };
    const rng = this.world.rng.derive(`gossip/${agent.name}/${agent.gen}`);
    agent.gossip = new GossipNode(this.gossipConfig, { name: agent.name, addr: agent.addrBytes, port: 8301, tags }, rng, {
      memberIndex: this.index, clockMs: () => this.world.nowMs,
    });
    if (agent.raftId !== null) {
      const catalog = this.cluster.stateMachine(agent.raftId)!.catalog;
      agent.duties = new ServerDuties(this.dutiesHost(agent), catalog, defaultServerDutiesConfig(tickMs));
    }
    const syncConfig: LocalSyncConfig = {
      periodicTicks: syncPeriodMs / tickMs, changeDelayTicks: 1, retryTicks: 1_000 / tickMs, checkUpdateIntervalMs: this.checkUpdateIntervalMs,
    };
    const makeSync = this.options.localSyncFactory ?? ((host, local, config) => new LocalSync(host, local, config));
    agent.sync = makeSync(this.syncHost(agent), () => this.localView(agent), syncConfig);
    agent.sync.soon();
    agent.checks = this.options.checkStatesFactory?.({ deregisterCriticalMinMs }) ?? new CheckStates({ deregisterCriticalMinMs });
    agent.localChecks.clear();
    agent.runs.clear();
    agent.lastRead = new Map();
    this.reconcileChecks(agent, "service-removed");
    this.reapLoop(agent);
    this.world.record("agentStart", { agent: agent.name, gen: agent.gen });
    this.join(agent);
  }

  private stopProcess(agent: SimAgent): void {
    agent.gossip = null;
    agent.duties = null;
    agent.sync = null;
    this.endChecks(agent);
    agent.gen++;
    this.world.record("agentStop", { agent: agent.name });
  }

  // ------------------------------------------------------------ health checks (issue 13)

  /**
   * Brings the running process's checks in line with the agent's services, as the agent does on
   * a (de)registration: a new service's checks start (their plan drawn once, like a config file),
   * a removed service's checks stop. Plans of removed services are dropped.
   */
  private reconcileChecks(agent: SimAgent, removedBy: "service-removed" | "deregister-critical", trigger?: string): void {
    for (const id of [...agent.checkPlans.keys()]) if (id !== "" && !agent.services.has(id)) agent.checkPlans.delete(id);
    for (const id of [...agent.maintenance]) if (!agent.services.has(id)) agent.maintenance.delete(id);
    for (const id of agent.services.keys()) {
      if (agent.checkPlans.has(id)) continue;
      const count = this.checkPlansRng.pick([0, 1, 1, 1, 2]);
      agent.checkPlans.set(id, Array.from({ length: count }, (_, k) => drawCheckPlan(this.checkPlansRng, k === 0 ? `service:${id}` : `service:${id}:${k + 1}`, id, this.options.durationMs)));
    }
    const wanted = new Map([...agent.checkPlans.values()].flat().map((plan) => [plan.id, plan]));
    for (const [id, run] of [...agent.runs]) {
      if (wanted.has(id)) continue;
      this.endRun(agent, run, id === trigger ? removedBy : "service-removed");
    }
    if (agent.checks === null) return;
    for (const plan of wanted.values()) if (!agent.runs.has(plan.id)) this.startCheck(agent, plan);
  }

  private endRun(agent: SimAgent, run: CheckRun, removedBy: NonNullable<CheckRun["removedBy"]>): void {
    run.removedMs = this.world.nowMs;
    run.removedBy = removedBy;
    agent.runs.delete(run.checkId);
    agent.checks?.remove(run.checkId);
    agent.localChecks.delete(run.checkId);
  }

  /** The process stops: its checks end with it (a restart registers them afresh). */
  private endChecks(agent: SimAgent): void {
    for (const run of [...agent.runs.values()]) this.endRun(agent, run, "stopped");
    agent.checks = null;
  }

  /**
   * One check on the running process: registered in the agent's CheckStates, then probed every
   * interval (the first run staggered within it, as the runner does) with results from the seed.
   */
  private startCheck(agent: SimAgent, plan: CheckPlan): void {
    const states = agent.checks!;
    const gen = agent.gen;
    const thresholds = { successBeforePassing: plan.successBeforePassing, failuresBeforeWarning: plan.failuresBeforeWarning, failuresBeforeCritical: plan.failuresBeforeCritical };
    states.add({ id: plan.id, serviceId: plan.serviceId, status: plan.initialStatus, thresholds, deregisterCriticalServiceAfterMs: plan.deregisterAfterMs }, this.world.nowMs);
    const run: CheckRun = {
      process: `${agent.name}/${gen}`, checkId: plan.id, serviceId: plan.serviceId, initialStatus: plan.initialStatus, ...thresholds,
      deregisterAfterMs: plan.deregisterAfterMs, addedMs: this.world.nowMs, results: [], removedMs: null, removedBy: null,
    };
    this.checkRuns.push(run);
    agent.runs.set(plan.id, run);
    agent.localChecks.set(plan.id, { CheckID: plan.id, Name: plan.serviceId === "" ? "Node health" : `Service '${plan.serviceId}' check`, Status: plan.initialStatus, Output: "", Notes: "", ServiceID: plan.serviceId, Type: "http" });
    agent.sync?.changed();
    let n = 0;
    let previous: CheckRun["initialStatus"] | null = null;
    const probe = (): void => {
      if (agent.gen !== gen || agent.runs.get(plan.id) !== run) return;
      const nowMs = this.world.nowMs;
      const forced = this.forcedResults.get(run);
      n++;
      const raw = forced !== undefined ? { status: forced, output: `run ${n}: forced ${forced}` } : rawResult(plan, this.checkResultsRng, n, nowMs, this.settledAtMs, previous);
      previous = raw.status;
      run.results.push({ atMs: nowMs, ...raw });
      this.checkResults++;
      const change = states.probeResult(plan.id, raw.status, raw.output, nowMs);
      const state = states.state(plan.id);
      if (change !== null && change.changed && state !== undefined) {
        agent.localChecks.set(plan.id, { ...agent.localChecks.get(plan.id)!, Status: state.status, Output: state.output });
        agent.sync?.changed();
      }
      this.world.after(plan.intervalMs, probe);
    };
    this.world.after(this.checkResultsRng.int(0, plan.intervalMs - 1), probe);
  }

  /** The process's reaper: services whose check stayed critical too long are deregistered, as the agent does. */
  private reapLoop(agent: SimAgent): void {
    const gen = agent.gen;
    const reap = (): void => {
      if (agent.gen !== gen || agent.checks === null) return;
      for (const due of agent.checks.dueDeregistrations(this.world.nowMs)) {
        if (!agent.services.has(due.serviceId)) continue;
        this.criticalDeregistrations++;
        agent.services.delete(due.serviceId);
        this.world.record("deregisterCritical", { agent: agent.name, service: due.serviceId, check: due.checkId, criticalForMs: due.criticalForMs });
        this.reconcileChecks(agent, "deregister-critical", due.checkId);
        agent.sync?.changed();
      }
      this.world.after(checkReapIntervalMs, reap);
    };
    this.world.after(checkReapIntervalMs, reap);
  }

  /** The agent's services changed (a registration, a deregistration): its checks follow, anti-entropy runs. */
  private servicesChanged(agent: SimAgent): void {
    this.world.record("services", { agent: agent.name, ids: [...agent.services.keys()] });
    this.reconcileChecks(agent, "service-removed");
    agent.sync?.changed();
  }

  /** Maintenance mode switched on (and maybe off again) for some services and nodes during the safety phase. */
  scheduleMaintenance(durationMs: number): number {
    const rng = this.world.rng.derive("maintenance");
    let toggles = 0;
    for (const agent of this.agents) {
      if (!rng.chance(0.4)) continue;
      const node = rng.chance(0.3);
      const svc = rng.pick(serviceNames);
      const onMs = rng.int(500, durationMs - 500);
      const offMs = rng.chance(0.5) ? rng.int(onMs, durationMs) : null;
      const set = (on: boolean): void => {
        if (agent.fate !== "alive") return;
        if (node) agent.nodeMaintenance = on;
        else if (on && agent.services.has(svc)) agent.maintenance.add(svc);
        else agent.maintenance.delete(svc);
        toggles++;
        this.world.record("maintenance", { agent: agent.name, target: node ? "node" : svc, on });
        agent.sync?.changed();
      };
      this.world.at(onMs, () => set(true));
      if (offMs !== null) this.world.at(offMs, () => set(false));
    }
    return toggles;
  }

  /** Every check the agent holds now: its checks' reported states and its maintenance checks. */
  private heldChecks(agent: SimAgent): Map<string, LocalCheck> {
    const checks = new Map(agent.localChecks);
    if (agent.nodeMaintenance) {
      const check = nodeMaintenanceCheck("");
      checks.set(check.CheckID, check);
    }
    for (const id of agent.maintenance) {
      const check = serviceMaintenanceCheck(id, "");
      checks.set(check.CheckID, check);
    }
    return checks;
  }

  /** (H2) and the local half of it: each live process holds the state its results imply, and the catalog holds the same. */
  private checksConverged(catalog: Catalog): string | null {
    for (const agent of this.agents) {
      if (agent.fate !== "alive" || agent.checks === null) continue;
      for (const run of agent.runs.values()) {
        const want = finalReported(run);
        const held = agent.checks.state(run.checkId);
        if (held === undefined || held.status !== want.status || held.output !== want.output) {
          return `check convergence: ${agent.name} holds ${run.checkId} ${held?.status ?? "absent"} "${held?.output ?? ""}", but its results imply ${want.status} "${want.output}"`;
        }
        if (run.serviceId !== "" && run.deregisterAfterMs > 0 && want.status === "critical") return `${agent.name}'s ${run.serviceId} awaits deregistration (${run.checkId} critical)`;
      }
      const converged = checkCatalogChecksConverged(catalog, agent.name, [...agent.runs.values()]);
      if (converged !== null) return converged;
      const inCatalog = new Map(catalog.healthNode(agent.name).value.map((c) => [c.CheckID, c]));
      const held = this.heldChecks(agent);
      for (const check of held.values()) {
        const got = inCatalog.get(check.CheckID);
        if (got === undefined || got.Status !== check.Status) return `check convergence: ${agent.name}'s ${check.CheckID} is ${check.Status} locally but ${got?.Status ?? "absent"} in the catalog`;
      }
      for (const id of inCatalog.keys()) {
        if (id !== serfCheckId && !held.has(id)) return `anti-entropy: ${agent.name}: catalog has check ${id} the agent does not own`;
      }
    }
    return null;
  }

  /**
   * Promptness on the healed cluster: `count` times, a passing service check of a live agent is
   * turned critical; once the agent reports it failing (after its thresholds), health/service
   * ?passing (what DNS answers from) must drop the instance within `boundMs`. Anti-entropy
   * writes a status change at once; only output-only changes wait for check_update_interval.
   */
  probeHealthChanges(count: number, boundMs: number): string | null {
    const world = this.world;
    const rng = world.rng.derive("prompt-probe");
    for (let k = 0; k < count; k++) {
      const listed = (agent: SimAgent, run: CheckRun): boolean => {
        const catalog = this.leaderCatalog()?.catalog;
        const name = agent.services.get(run.serviceId)?.Service;
        if (catalog === undefined || name === undefined) return false;
        return catalog.healthService(name, { passing: true }).value.some((e) => e.Node.Node === agent.name && e.Service.ID === run.serviceId);
      };
      const candidates = this.agents.filter((a) => a.fate === "alive" && a.checks !== null).flatMap((agent) => [...agent.runs.values()]
        .filter((run) => run.serviceId !== "" && !this.forcedResults.has(run) && agent.checks!.state(run.checkId)?.status === "passing" && listed(agent, run))
        .map((run) => ({ agent, run })));
      if (candidates.length === 0) return null;
      const { agent, run } = rng.pick(candidates);
      this.forcedResults.set(run, "critical");
      world.record("promptProbe", { agent: agent.name, check: run.checkId });
      const startMs = world.nowMs;
      let reportedMs: number | null = null;
      while (world.nowMs < startMs + promptWaitMs) {
        world.runUntil(world.nowMs + 10);
        if (!agent.runs.has(run.checkId)) break;
        // Warning (failures_before_warning) already takes the instance out of ?passing.
        const status = agent.checks?.state(run.checkId)?.status;
        if (reportedMs === null && status !== undefined && status !== "passing") reportedMs = world.nowMs;
        if (reportedMs === null) continue;
        if (!listed(agent, run)) {
          this.promptLatenciesMs.push(world.nowMs - reportedMs);
          break;
        }
        if (world.nowMs - reportedMs > boundMs) {
          return `check promptness: ${agent.name} reported ${run.checkId} ${agent.checks?.state(run.checkId)?.status ?? "gone"} at ${reportedMs} ms, but health ?passing still lists ${agent.name}/${run.serviceId} ${world.nowMs - reportedMs} ms later (want <= ${boundMs} ms)`;
        }
      }
    }
    return null;
  }

  /** (H1), (H3), (H4) over the whole run, (H5) on the converged catalog. */
  checkHealth(catalog: Catalog): string | null {
    const reflect = checkWritesReflectResults(this.checkRuns, this.checkWrites);
    if (reflect !== null) return reflect;
    const batching = checkOutputBatching(this.checkWrites, this.checkUpdateIntervalMs);
    if (batching !== null) return batching;
    const deregistration = checkCriticalDeregistration(this.checkRuns, deregisterCriticalMinMs, checkReapIntervalMs, this.world.nowMs);
    if (deregistration !== null) return deregistration;
    const live = this.agents.filter((a) => a.fate === "alive" && a.checks !== null);
    const instances: InstanceHealth[] = [];
    for (const agent of live) {
      const held = [...this.heldChecks(agent).values()];
      for (const svc of agent.services.values()) {
        const statuses = held.filter((c) => c.ServiceID === "" || c.ServiceID === svc.ID).map((c) => c.Status);
        instances.push({ node: agent.name, serviceId: svc.ID, serviceName: svc.Service, statuses });
      }
    }
    return checkPassingQuery(catalog, instances, new Set(live.map((a) => a.name)));
  }

  /** Join like `retry_join`: every other agent's address (the servers first), retried on failure. */
  private join(agent: SimAgent): void {
    const node = agent.gossip;
    if (node === null) return;
    node.join(this.agents.filter((a) => a !== agent && a.fate === "alive").map((a) => a.gossipAddr));
    this.afterStep(agent);
  }

  /** One agent's clock: its cores tick every tickPeriodMs of world time (drift makes it differ from tickMs). */
  private tickLoop(agent: SimAgent): void {
    if (agent.gossip !== null) {
      agent.gossip.tick();
      this.afterStep(agent);
      agent.duties?.tick();
      agent.sync?.tick();
    }
    this.world.after(agent.tickPeriodMs, () => this.tickLoop(agent));
  }

  private afterStep(agent: SimAgent): void {
    const node = agent.gossip;
    if (node === null) return;
    node.invariants();
    const out = node.drain();
    for (const p of out.packets) this.send(agent, p);
    for (const e of out.events) {
      if (this.world.tracing) this.world.record("gossip", { at: agent.name, type: e.type, ...("member" in e ? { member: e.member.name, status: e.member.status, incarnation: e.member.incarnation } : {}) });
      if (e.type === "member-leave") this.noteLeave(agent, e.member.name);
      if (e.type === "join-failed") {
        const gen = agent.gen;
        this.world.after(5_000, () => { if (agent.gen === gen) this.join(agent); });
      }
      if (e.type === "member-join" || e.type === "member-update" || e.type === "member-failed" || e.type === "member-leave" || e.type === "member-reap") {
        agent.duties?.onMemberEvent(dutiesMember(e.member), e.type === "member-reap");
      }
    }
    if (node.hasLeft && agent.gossip === node) {
      agent.gossip = null;
      this.endChecks(agent);
      agent.gen++;
      this.world.record("left", { agent: agent.name });
      // A server that left the pool shuts down, its disk kept; the leader's autopilot removes it from Raft.
      if (agent.raftId !== null) this.world.after(0, () => this.cluster.retire(agent.raftId!));
    }
  }

  /**
   * Gossip between two servers obeys the Raft network's partitions (they share the machines'
   * links); a cut-off client reaches nobody across its cut, over gossip or RPC.
   */
  private gossipBlocked(from: SimAgent, to: SimAgent): boolean {
    return (from.raftId !== null && to.raftId !== null && this.network.isBlocked(from.raftId, to.raftId)) || this.acrossCut(from, to);
  }

  private acrossCut(a: SimAgent, b: SimAgent): boolean {
    const cut = this.cut;
    if (cut === null || a === b) return false;
    const other = a === cut.agent ? b : b === cut.agent ? a : null;
    return other !== null && (cut.scope === "all" || other.raftId !== null);
  }

  cutClient(agent: SimAgent, scope: "servers" | "all"): void {
    this.cut = { agent, scope };
    this.world.record("cut", { agent: agent.name, scope });
  }

  healCut(): void {
    if (this.cut === null) return;
    this.world.record("uncut", { agent: this.cut.agent.name });
    if (this.options.plant === "rpc-never-reconnects") this.rpcBroken.add(this.cut.agent);
    this.cut = null;
  }

  private send(from: SimAgent, p: OutPacket): void {
    this.gossipPackets++;
    const dest = this.byAddr.get(p.to);
    if (dest === undefined || this.gossipBlocked(from, dest)) return;
    const delayMs = Math.round(this.netRng.uniform(0.2, 2) * 1000) / 1000;
    const gen = dest.gen;
    const fromGen = from.gen;
    this.world.after(delayMs, () => {
      if (dest.gossip === null || dest.gen !== gen) {
        // A TCP connect to a dead address is refused: the sender hears about it.
        if (p.via === "tcp" && from.gossip !== null && from.gen === fromGen) {
          from.gossip.unreachable(p.to);
          this.afterStep(from);
        }
        return;
      }
      const via = p.via === "udp" ? "udp" : p.via === "tcp" ? "tcp" : "tcp-reply";
      for (const msg of p.msgs) dest.gossip.receive(from.gossipAddr, msg, via);
      this.afterStep(dest);
    });
  }

  // ------------------------------------------------------------ the hosts of the pure classes

  private propose(server: SimAgent, write: SyncWrite | KvWrite | { op: "session.expire"; ID: string }, done: (applied: boolean) => void): void {
    this.writesProposed++;
    if (this.world.tracing) this.world.record("propose", { at: server.name, write });
    const command = { ...write, v: 1, nowMs: this.world.nowMs } as unknown as Command;
    const up = this.cluster.withHost(server.raftId!, (host) => host.propose(encodeCommand(command), (o) => done(o.kind === "applied")));
    if (!up) done(false);
  }

  private dutiesHost(agent: SimAgent): DutiesHost {
    const id = agent.raftId!;
    const plant = this.options.plant;
    return {
      raftId: id,
      datacenter,
      raftStatus: () => {
        const host = this.cluster.host(id);
        if (host === null) return { role: "follower", term: 0, conf: { voters: [], learners: [] }, lastIndex: 0 };
        return host.node.status() as unknown as DutiesRaftStatus;
      },
      propose: (write, done) => {
        if (plant === "duties-never-propose") return;
        this.propose(agent, write, done);
      },
      proposeConfChange: (change, done) => {
        // Planted: the change is taken as applied but never proposed.
        if ((plant === "autopilot-never-removes" && change.type === "remove") || (plant === "autopilot-never-promotes" && change.type === "promote")) return done(true);
        this.world.record("autopilot", { change });
        const up = this.cluster.withHost(id, (host) => host.proposeConfChange(change, (o) => done(o.kind === "applied")));
        if (!up) done(false);
      },
      lanMembers: () => (agent.gossip?.members() ?? []).map(dutiesMember),
      nowMs: () => this.world.nowMs,
    };
  }

  private syncHost(agent: SimAgent): LocalSyncHost {
    const process = `${agent.name}/${agent.gen}`;
    return {
      readNode: (done) => this.call<NodeView>(agent, "readNode", (server, reply) => this.serveRead(server, agent.name, reply), (view) => {
        if (view !== null) agent.lastRead = new Map(view.checks.map((c) => [c.CheckID, c]));
        done(view);
      }),
      write: (write, done) => {
        if (this.options.plant === "sync-never-deletes" && write.op === "catalog.deregister") return done(true);
        const check = write.op === "catalog.register" ? write.Check : undefined;
        let logged: CheckWrite | null = null;
        if (check !== undefined && check.CheckID !== undefined) {
          const copy = agent.lastRead.get(check.CheckID);
          const entry: CheckWrite = {
            process, checkId: check.CheckID, status: (check.Status ?? "critical") as CheckStatus, output: check.Output ?? "", issueMs: this.world.nowMs, ackMs: null,
            catalogCopy: copy === undefined ? null : {
              status: copy.Status, output: copy.Output,
              sameOtherwise: copy.Name === check.Name && copy.Notes === (check.Notes ?? "") && copy.ServiceID === (check.ServiceID ?? "") && copy.Type === (check.Type ?? ""),
            },
          };
          this.checkWrites.push(entry);
          logged = entry;
        }
        this.call<true>(agent, write.op, (server, reply) => this.serveWrite(server, write, reply), (r) => {
          if (r !== null && logged !== null) logged.ackMs = this.world.nowMs;
          done(r !== null);
        });
      },
      nowMs: () => this.world.nowMs,
    };
  }

  private localView(agent: SimAgent): LocalView {
    return {
      node: {
        name: agent.name, id: agent.nodeId, address: agent.ip, datacenter,
        taggedAddresses: { lan: agent.ip, lan_ipv4: agent.ip, wan: agent.ip, wan_ipv4: agent.ip },
        // Planted: a node meta value that changes on every look, so every full sync writes.
        meta: this.options.plant === "node-meta-drifts" ? { "consul-network-segment": "", drift: String(this.metaLooks++) } : { "consul-network-segment": "" },
      },
      services: new Map(agent.services),
      checks: this.heldChecks(agent),
    };
  }

  // ------------------------------------------------------------ the simulated RPC

  private hopMs(): number {
    return this.rpcRng.int(1, 5);
  }

  /** A server to ask: a server asks itself; a client picks one its gossip view shows alive. */
  private pickServer(from: SimAgent): SimAgent | null {
    if (from.raftId !== null) return from;
    const alive = (from.gossip?.members() ?? []).filter((m) => m.status === "alive" && m.tags.role === "consul");
    if (alive.length === 0) return null;
    return this.byName.get(this.rpcRng.pick(alive).name) ?? null;
  }

  /**
   * One request from `from`: it ends exactly once, with the answer, a failure, or a timeout at
   * its deadline; an answer arriving later is dropped. The caller's callback runs only if its
   * process is still the one that asked.
   */
  private call<T>(from: SimAgent, what: string, serve: (server: SimAgent, reply: (value: T | null) => void) => void, done: (value: T | null) => void): void {
    const world = this.world;
    const id = this.requests.begin(from.name, what, world.nowMs, rpcTimeoutMs);
    const gen = from.gen;
    let finished = false;
    const finish = (value: T | null, outcome: "ok" | "failed" | "timeout"): void => {
      if (finished) return;
      finished = true;
      this.requests.end(id, world.nowMs, from.gen === gen ? outcome : "abandoned");
      if (from.gen === gen) done(value);
    };
    world.after(rpcTimeoutMs, () => finish(null, "timeout"));
    const server = this.pickServer(from);
    if (server === null) {
      world.after(this.hopMs(), () => finish(null, "failed"));
      return;
    }
    const local = server === from;
    world.after(local ? 0 : this.hopMs(), () => {
      // Lost on the way, to a dead server or across a cut: the timeout answers.
      if (!this.cluster.isUp(server.raftId!) || this.acrossCut(from, server) || (!local && this.rpcBroken.has(from))) return;
      serve(server, (value) => world.after(local ? 0 : this.hopMs(), () => {
        if (!this.acrossCut(server, from)) finish(value, value === null ? "failed" : "ok");
      }));
    });
  }

  /** Run `atLeader` on the leader `server` knows: itself, or one forwarding hop away. */
  private viaLeader<T>(server: SimAgent, atLeader: (leader: SimAgent, reply: (value: T | null) => void) => void, reply: (value: T | null) => void): void {
    const host = this.cluster.host(server.raftId!);
    if (host === null) return;
    const status = host.node.status();
    if (status.role === "leader") return atLeader(server, reply);
    const leader = status.leader === null ? undefined : this.byRaft.get(status.leader);
    if (leader === undefined || this.network.isBlocked(server.raftId!, leader.raftId!)) return reply(null);
    this.world.after(this.hopMs(), () => {
      if (!this.cluster.isUp(leader.raftId!)) return;
      atLeader(leader, (value) => this.world.after(this.hopMs(), () => reply(value)));
    });
  }

  private serveWrite(server: SimAgent, write: SyncWrite | KvWrite, reply: (value: true | null) => void): void {
    this.viaLeader<true>(server, (leader, answer) => {
      if (write.op === "kv" && this.options.plant === "kv-ack-before-commit") {
        // Planted: the leader acknowledges a KV write as soon as it has proposed it.
        this.propose(leader, write, () => {});
        return answer(true);
      }
      this.propose(leader, write, (applied) => answer(applied ? true : null));
    }, reply);
  }

  private serveRead(server: SimAgent, name: string, reply: (value: { node: NodeServices | null; checks: readonly CheckRecord[] } | null) => void): void {
    this.viaLeader(server, (leader, answer) => {
      const up = this.cluster.withHost(leader.raftId!, (host) => host.read("readIndex", (o) => {
        const machine = this.cluster.stateMachine(leader.raftId!);
        if (o.kind !== "ready" || machine === null) return answer(null);
        answer({ node: machine.catalog.catalogNode(name).value, checks: machine.catalog.healthNode(name).value });
      }));
      if (!up) answer(null);
    }, reply);
  }

  // ------------------------------------------------------------ workload and churn

  /** A few changes to each agent's services during the safety phase. */
  scheduleServiceChanges(durationMs: number): number {
    const rng = this.world.rng.derive("service-changes");
    let changes = 0;
    for (const agent of this.agents) {
      for (let k = rng.int(1, 3); k > 0; k--) {
        changes++;
        const atMs = rng.int(500, Math.max(600, durationMs - 500));
        const svc = rng.pick(serviceNames);
        const port = rng.int(1000, 9000);
        const tag = rng.pick(["v1", "v2"]);
        this.world.at(atMs, () => {
          if (agent.fate !== "alive") return;
          if (agent.services.has(svc) && port % 2 === 0) agent.services.delete(svc);
          else if (agent.services.has(svc) || agent.services.size < 2) agent.services.set(svc, service(svc, port, [tag]));
          else agent.services.delete([...agent.services.keys()][0]!);
          this.servicesChanged(agent);
        });
      }
    }
    return changes;
  }

  /** Checker (4)'s workload: each agent writes KV keys of its own through a server while its process runs. */
  scheduleKvWrites(durationMs: number): void {
    const rng = this.world.rng.derive("kv-writes");
    for (const agent of this.agents) {
      let n = 0;
      const next = (): void => {
        this.world.after(rng.int(kvWriteGapMs[0], kvWriteGapMs[1]), () => {
          if (this.world.nowMs >= durationMs || agent.fate !== "alive") return;
          if (agent.gossip !== null) this.writeKv(agent, `kv/${agent.name}/${n++}`);
          next();
        });
      };
      next();
    }
  }

  private writeKv(agent: SimAgent, key: string): void {
    const value = `${key}@${this.world.nowMs}`;
    const write: KvWrite = { op: "kv", Verb: "set", Key: key, Value: new TextEncoder().encode(value) };
    this.call<true>(agent, "kv", (server, reply) => this.serveWrite(server, write, reply), (r) => {
      if (r === null) this.acked.unacknowledged++;
      else this.acked.ack(key, value);
    });
  }

  /**
   * One client cut off and healed: a survivor of the churn when there is one (its anti-entropy is
   * checked at the end), else any client before the churn begins. Its services change while it is
   * cut off, so its anti-entropy must catch up after the heal.
   */
  scheduleClientCut(durationMs: number, spared: readonly SimAgent[]): Record<string, string | number> {
    const rng = this.world.rng.derive("client-cut");
    const clients = this.agents.filter((a) => a.raftId === null);
    const survivors = clients.filter((c) => !spared.includes(c));
    const agent = rng.pick(survivors.length > 0 ? survivors : clients);
    const scope = rng.pick(["servers", "all"] as const);
    const lengthMs = rng.int(clientCutMs[0], clientCutMs[1]);
    const startMs = survivors.length > 0 ? rng.int(Math.round(durationMs * 0.1), Math.round(durationMs * 0.8)) : rng.int(500, Math.round(durationMs * 0.25));
    const svc = rng.pick(serviceNames);
    const port = rng.int(1000, 9000);
    this.world.at(startMs, () => this.cutClient(agent, scope));
    this.world.at(startMs + Math.round(lengthMs / 2), () => {
      if (agent.fate !== "alive") return;
      agent.services.set(svc, service(svc, port, ["cut"]));
      this.servicesChanged(agent);
    });
    this.world.at(Math.min(startMs + lengthMs, durationMs), () => this.healCut());
    return { cutClient: agent.name, cutScope: scope, cutMs: lengthMs };
  }

  /**
   * The `membership` fault: spare servers (empty disks) join the pool during the safety phase, and
   * servers leave it gracefully (Consul's `leave`) and sometimes come back with their data. Raft's
   * membership must follow: the leader's autopilot (ServerDuties) adds each joiner as a non-voter,
   * promotes it once caught up, and removes each server that left. A leave waits while the newest
   * configuration has fewer than three voters or holds a server that already left.
   */
  scheduleMembership(durationMs: number): Record<string, number> {
    const rng = this.world.rng.derive("membership-events");
    const counts = { joins: 0, leaves: 0, rejoins: 0, leavesSkipped: 0 };
    const spares = this.agents.filter((a) => a.raftId !== null && a.fate === "left");
    for (const spare of spares) {
      this.world.at(rng.int(Math.round(durationMs * 0.05), Math.round(durationMs * 0.7)), () => {
        counts.joins++;
        this.serverJoins(spare);
      });
    }
    for (let k = rng.int(0, 2); k > 0; k--) {
      const atMs = rng.int(Math.round(durationMs * 0.1), Math.round(durationMs * 0.8));
      const pick = rng.next();
      const comeBackMs = rng.chance(0.5) ? rng.int(5_000, 20_000) : null;
      // Tried again every second while no leader is known or the last leave is still in the configuration.
      const attempt = (tries: number): void => {
        const leaver = this.serverMayLeave(pick);
        if (leaver === null) {
          if (tries < leaveTriesMax && this.world.nowMs + 1_000 < durationMs) this.world.after(1_000, () => attempt(tries + 1));
          else counts.leavesSkipped++;
          return;
        }
        counts.leaves++;
        this.leave(leaver);
        const backMs = this.world.nowMs + (comeBackMs ?? 0);
        if (comeBackMs !== null && backMs < durationMs) {
          this.world.at(backMs, () => {
            if (leaver.fate !== "left" || leaver.gossip !== null) return;
            counts.rejoins++;
            this.serverJoins(leaver);
          });
        }
      };
      this.world.at(atMs, () => attempt(0));
    }
    return counts;
  }

  private serverJoins(agent: SimAgent): void {
    agent.fate = "alive";
    // Who heard an earlier leave says nothing about the next one (seed 278: a leave asked of a server
    // that had just crashed never went out, but members still remembered the one before).
    this.heardLeave.delete(agent.name);
    this.world.record("serverJoin", { agent: agent.name });
    this.cluster.unretire(agent.raftId!);
  }

  /** A running server that may leave now (the `pick`-th of them), or null. */
  private serverMayLeave(pick: number): SimAgent | null {
    const leader = this.cluster.leader();
    if (leader === null) return null;
    const leftIds = new Set(this.agents.filter((a) => a.raftId !== null && a.fate === "left").map((a) => a.raftId!));
    const inConf = [...leader.conf.voters, ...leader.conf.learners];
    if (leader.conf.voters.length < 3 || inConf.some((id) => leftIds.has(id))) return null;
    const running = this.agents.filter((a) => a.raftId !== null && a.fate === "alive" && a.gossip !== null && this.cluster.isUp(a.raftId));
    if (running.length === 0) return null;
    return running[Math.min(running.length - 1, Math.floor(pick * running.length))]!;
  }

  /**
   * Raft's membership follows the leader's gossip pool: every live server is a voter, and a
   * server that left is out of the configuration. Only a leader process whose pool neither holds
   * the leaver nor ever heard it leave (it restarted since, or a partition kept the leave from it)
   * may keep it: autopilot keeps servers it has not seen rather than risk the quorum (seed 479).
   */
  private confMatchesPool(leaderId: string, truths: readonly AgentTruth[]): string | null {
    const conf = this.cluster.host(leaderId)?.node.status().conf;
    const pool = this.byRaft.get(leaderId)!.gossip;
    if (conf === undefined || pool === null) return `raft membership: leader ${leaderId} is not running`;
    for (const truth of truths) {
      const agent = this.byName.get(truth.name)!;
      if (agent.raftId === null) continue;
      const voter = conf.voters.includes(agent.raftId);
      const learner = conf.learners.includes(agent.raftId);
      if (truth.fate === "alive" && !voter) return `raft membership: ${agent.name} is a live server but ${learner ? "still a non-voter" : "not in the configuration"} (voters ${conf.voters.join(",")})`;
      if (truth.fate !== "left" || !(voter || learner)) continue;
      const known = pool.member(agent.name);
      const leader = this.byRaft.get(leaderId)!;
      const heard = this.heardLeave.get(agent.name)?.has(`${leader.name}/${leader.gen}`) ?? false;
      if (known !== null || heard) {
        return `raft membership: ${agent.name} left (${known?.status ?? "unknown"} to the leader) but is still ${voter ? "a voter" : "a non-voter"}`;
      }
    }
    return null;
  }

  kill(agent: SimAgent): void {
    agent.fate = "failed";
    this.stopProcess(agent);
    this.world.record("kill", { agent: agent.name });
  }

  leave(agent: SimAgent): void {
    agent.fate = "left";
    // As the agent does: stop anti-entropy, wait for a sync in flight to end (its writes must not
    // land after the leader deregisters the node), then leave the pool.
    agent.sync?.stop();
    const leaveWhenIdle = (): void => {
      if (agent.sync !== null && agent.sync.inFlight) {
        this.world.after(50, leaveWhenIdle);
        return;
      }
      agent.sync = null;
      agent.gossip?.leave();
      this.afterStep(agent);
      this.world.record("leave", { agent: agent.name });
    };
    leaveWhenIdle();
  }

  // ------------------------------------------------------------ checks

  /**
   * Each agent's fate as the leader's gossip pool can know it. A killed one the pool has forgotten
   * must be gone. A leaver whose leave no running gossip member remembers (each one that heard it
   * has restarted since, and the rest missed it) is failed to a pool that still holds it, as it
   * would be in Serf: nothing is left that could say it left, and the catalog must follow.
   */
  truths(leaderId: string): AgentTruth[] {
    const pool = this.byRaft.get(leaderId)!.gossip;
    return this.agents.map((a) => {
      const forgotten = a.fate === "failed" && pool !== null && pool.member(a.name) === null;
      if (forgotten) this.forgotten.add(a.name);
      const leaveLost = a.fate === "left" && leaverFate(pool?.member(a.name)?.status ?? null, this.leaveRemembered(a)) === "failed";
      if (leaveLost) this.leaveLost.add(a.name);
      return { name: a.name, fate: forgotten ? "forgotten" : leaveLost ? "failed" : a.fate, services: a.services };
    });
  }

  readonly forgotten = new Set<string>();
  readonly leaveLost = new Set<string>();
  /** Per leaver, the agent processes ("name/gen") whose gossip member reported it left. */
  private readonly heardLeave = new Map<string, Set<string>>();

  private noteLeave(at: SimAgent, leaver: string): void {
    let heard = this.heardLeave.get(leaver);
    if (heard === undefined) this.heardLeave.set(leaver, heard = new Set());
    heard.add(`${at.name}/${at.gen}`);
  }

  /** Some running gossip member heard `a` leave, or holds it leaving or left now. */
  private leaveRemembered(a: SimAgent): boolean {
    const heard = this.heardLeave.get(a.name) ?? new Set<string>();
    return this.agents.some((o) => o !== a && o.gossip !== null &&
      (heard.has(`${o.name}/${o.gen}`) || ["left", "leaving"].includes(o.gossip.member(a.name)?.status ?? "")));
  }

  leaderCatalog(): { id: string; catalog: Catalog } | null {
    const leader = this.cluster.leader();
    if (leader === null) return null;
    return { id: leader.id, catalog: this.cluster.stateMachine(leader.id)!.catalog };
  }

  converged(): string | null {
    const leader = this.leaderCatalog();
    if (leader === null) return "no leader";
    const truths = this.truths(leader.id);
    return this.poolMatchesTruth(leader.id, truths) ?? this.gossipSettled() ?? this.confMatchesPool(leader.id, truths) ?? checkCatalogMatchesGossip(leader.catalog, truths) ??
      checkAntiEntropy(leader.catalog, truths) ?? this.checksConverged(leader.catalog);
  }

  /**
   * Every running live agent sees every other one alive with no suspicion pending. The leader's
   * view alone is not enough to call the cluster settled: an agent cut off for a while keeps the
   * suspicions it started while cut off, and (as in memberlist) one whose target never hears of
   * it, say because Lifeguard has slowed that agent's probing, ends in a false failure and a
   * refutation seconds after the leader's view looked settled.
   */
  private gossipSettled(): string | null {
    const running = this.agents.filter((a) => a.gossip !== null && a.fate === "alive");
    for (const viewer of running) {
      for (const subject of running) {
        if (viewer === subject) continue;
        const state = viewer.gossip!.memberState(subject.name)?.state ?? "unknown";
        if (state !== "alive") return `gossip not settled: ${viewer.name} has ${subject.name} ${state}`;
      }
    }
    return null;
  }

  /** The leader's gossip view itself: every live agent alive, the leaver left (or forgotten), the killed one not alive. */
  private poolMatchesTruth(leaderId: string, truths: readonly AgentTruth[]): string | null {
    const pool = this.byRaft.get(leaderId)!.gossip;
    if (pool === null) return `leader ${leaderId} runs no gossip member`;
    for (const a of truths) {
      const status = pool.member(a.name)?.status ?? null;
      const ok = a.fate === "alive" ? status === "alive" : a.fate === "left" ? status === "left" || status === null : status !== "alive";
      if (!ok) return `the leader's gossip pool has ${a.name} ${status ?? "unknown"} but it is ${a.fate}`;
    }
    return null;
  }
}

function dutiesMember(m: Member): DutiesMember {
  return { name: m.name, addr: m.addr.join("."), status: m.status, nodeId: m.tags.id ?? "", tags: m.tags };
}

export function runAgentSeed(options: AgentRunOptions): SeedResult {
  const probe = new World(options.seed).rng.derive("agent-shape");
  const clientCount = options.clients ?? probe.int(2, 4);
  const spareCount = options.faults.includes("membership") ? new World(options.seed).rng.derive("membership").int(0, 2) : 0;
  const sim = new AgentSim(options, clientCount, spareCount);
  const world = sim.world;
  const kinds = options.faults.filter((k) => k !== "membership" && k !== "drift");
  const fullSchedule = generateSchedule(world.rng.derive("faults"), kinds, options.durationMs);
  const schedule = options.faultSchedule ?? (options.scheduleIds === undefined ? fullSchedule : selectFaults(fullSchedule, options.scheduleIds));
  world.record("seed", { seed: options.seed, scenario: "agent", clients: clientCount, faults: schedule.map((f) => f.id) });
  const facts: Record<string, number | string> = {
    servers: serverCount, clients: clientCount, spares: spareCount, faults: schedule.length, tickPeriodsMs: sim.agents.map((a) => a.tickPeriodMs).join(","),
  };
  let outcome: Outcome = "ok";
  let message: string | null = null;
  try {
    const verdict = runPhases(sim, schedule, options.durationMs, facts);
    outcome = verdict.outcome;
    message = verdict.message;
  } catch (error) {
    outcome = error instanceof SafetyViolation || (error instanceof Error && /after its deadline|ended twice/.test(error.message)) ? "safety" : "crash";
    message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  Object.assign(facts, sim.requests.counts, {
    checkUpdateIntervalMs: sim.checkUpdateIntervalMs, checkRuns: sim.checkRuns.length, checkResults: sim.checkResults,
    checkWrites: sim.checkWrites.length, criticalDeregistrations: sim.criticalDeregistrations,
    writesProposed: sim.writesProposed, gossipPackets: sim.gossipPackets, restarts: sim.cluster.restarts, raftChecks: sim.cluster.checker.checks,
  });
  world.record("end", { outcome, message: message?.split("\n")[0] ?? null });
  return {
    seed: options.seed, scenario: "agent", outcome, message, events: world.eventsProcessed, simulatedMs: world.nowMs,
    schedule: fullSchedule, scheduleIds: schedule.map((f) => f.id), trace: world.trace, facts,
  };
}

function runPhases(sim: AgentSim, schedule: Parameters<FaultDriver["schedule"]>[0], durationMs: number, facts: Record<string, number | string>): { outcome: Outcome; message: string | null } {
  const world = sim.world;
  const rng = world.rng.derive("churn");
  sim.start();
  sim.driver.schedule(schedule);
  facts["serviceChanges"] = sim.scheduleServiceChanges(durationMs);
  sim.scheduleMaintenance(durationMs);
  const membership = sim.options.faults.includes("membership") ? sim.scheduleMembership(durationMs) : null;
  const clients = sim.agents.filter((a) => a.raftId === null);
  const victim = clients[rng.int(0, clients.length - 1)]!;
  const leaver = clients.find((c) => c !== victim)!;
  world.at(Math.round(durationMs * 0.3), () => sim.kill(victim));
  world.at(Math.round(durationMs * 0.5), () => sim.leave(leaver));
  facts["killed"] = victim.name;
  facts["left"] = leaver.name;
  Object.assign(facts, sim.scheduleClientCut(durationMs, [victim, leaver]));
  sim.scheduleKvWrites(durationMs);
  world.runUntil(durationMs);
  sim.driver.healAll();
  sim.healCut();
  // Settle: (1) and (2) must hold within the bound.
  const healedMs = world.nowMs;
  // Converged means held for `stableMs`: a server restarted by the heal may still be declared
  // failed by its old incarnation's suspicion (and refute it) a few seconds later.
  let pending: string | null = "not probed";
  let convergedSinceMs: number | null = null;
  while (world.nowMs < healedMs + settleBoundMs) {
    world.runUntil(world.nowMs + settleProbeMs);
    const overdue = sim.requests.overdue(world.nowMs);
    if (overdue !== null) return { outcome: "liveness", message: `a request hung: ${overdue}` };
    pending = sim.converged();
    if (pending !== null) convergedSinceMs = null;
    else convergedSinceMs ??= world.nowMs;
    if (convergedSinceMs !== null && world.nowMs - convergedSinceMs >= stableMs) break;
  }
  if (pending !== null || convergedSinceMs === null || world.nowMs - convergedSinceMs < stableMs) {
    return { outcome: "liveness", message: `not converged (and stable for ${stableMs} ms) ${settleBoundMs} ms after the heal: ${pending ?? "converged only briefly"}` };
  }
  facts["convergedAfterHealMs"] = convergedSinceMs - healedMs;
  if (membership !== null) {
    Object.assign(facts, Object.fromEntries(Object.entries(membership).map(([k, v]) => [`membership.${k}`, v])));
    const leader = sim.cluster.leader();
    facts["conf.final"] = leader === null ? "" : `voters=${leader.conf.voters.join(",")} learners=${leader.conf.learners.join(",")}`;
  }
  facts["forgotten"] = [...sim.forgotten].join(",");
  facts["leaveLost"] = [...sim.leaveLost].join(",");
  // Steady state (3): full LocalSync rounds and leader reconciliations propose nothing.
  const writesBefore = sim.writesProposed;
  const syncsBefore = new Map(sim.agents.map((a) => [a.name, a.sync?.counters.syncs ?? 0]));
  world.runUntil(world.nowMs + steadyWindowMs);
  const extra = sim.writesProposed - writesBefore;
  if (extra !== 0) return { outcome: "safety", message: `steady state: ${extra} writes proposed in a ${steadyWindowMs} ms window with nothing changing (want 0)` };
  for (const agent of sim.agents) {
    if (agent.fate !== "alive") continue;
    const syncs = (agent.sync?.counters.syncs ?? 0) - (syncsBefore.get(agent.name) ?? 0);
    if (syncs < 1) return { outcome: "liveness", message: `steady state: ${agent.name} completed no anti-entropy sync in ${steadyWindowMs} ms` };
  }
  const after = sim.converged();
  if (after !== null) return { outcome: "safety", message: `after the steady window: ${after}` };
  facts["kvAcked"] = sim.acked.count;
  facts["kvUnacknowledged"] = sim.acked.unacknowledged;
  const lost = sim.acked.check(sim.leaderCatalog()!.catalog);
  if (lost !== null) return { outcome: "safety", message: lost };
  const prompt = sim.probeHealthChanges(promptProbes, promptBoundMs);
  facts["promptLatenciesMs"] = sim.promptLatenciesMs.join(",");
  if (prompt !== null) return { outcome: "liveness", message: prompt };
  const health = sim.checkHealth(sim.leaderCatalog()!.catalog);
  if (health !== null) return { outcome: "safety", message: health };
  const overdue = sim.requests.overdue(world.nowMs);
  if (overdue !== null) return { outcome: "liveness", message: `a request hung: ${overdue}` };
  for (const agent of sim.agents) if (agent.raftId !== null) sim.cluster.stateMachine(agent.raftId)?.catalog.invariants();
  sim.cluster.checkLogMatching();
  return { outcome: "ok", message: null };
}

export const scenario: Scenario = {
  name: "agent",
  description: "whole agents: 3 servers + clients, gossip + Raft + catalog, ServerDuties and LocalSync; catalog = gossip view, anti-entropy converged, zero-write steady state; health checks driven by the seed (thresholds, check_update_interval, deregistration, ?passing); servers join and leave with membership",
  runSeed: runAgentSeed,
};
