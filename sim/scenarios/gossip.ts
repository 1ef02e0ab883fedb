import { defaultLanConfig, suspicionTimeoutMs, type GossipConfig } from "../../src/core/gossip/config.ts";
import type { OutPacket } from "../../src/core/gossip/events.ts";
import { MemberIndex } from "../../src/core/gossip/member-table.ts";
import type { Alive } from "../../src/core/gossip/messages.ts";
import { encodeTags } from "../../src/core/gossip/wire/serf-codec.ts";
import { GossipNode } from "../../src/core/gossip/node.ts";
import { GossipChecker } from "../checkers/gossip-checker.ts";
import { assertNever, generateSchedule, selectFaults, type ScheduledFault } from "../faults.ts";
import { World } from "../world/world.ts";
import type { WorldRng } from "../world/rng.ts";
import { Partitions, calm, decodeIn, delayOf, encodeOut, type Conditions, type Payload } from "./gossip-net.ts";
import type { Outcome, Scenario, ScenarioOptions, SeedResult } from "./types.ts";

/**
 * `--scenario gossip`: the gossip core alone, N members in one process. A join storm, then (with
 * faults) the seed's schedule of loss, delay, duplication, reordering, partitions and crashes, plus
 * one crash that everyone must detect and one graceful leave that everyone must see as left; then
 * the network heals and every view must converge again.
 */
export interface GossipRunOptions extends ScenarioOptions {
  /** Every message through the real encoder and decoder (src/core/gossip/wire). */
  readonly wire?: boolean;
  /** Lifeguard on (default) or off, for the accuracy comparison. */
  readonly lifeguard?: boolean;
  /** Loss on every UDP packet for the whole run, on top of the schedule's. */
  readonly baseLossRate?: number;
  /** One overloaded member whose packets lag by up to this much each way; default: the seed decides. */
  readonly slowLagMs?: number;
  /** Skip the crash and leave (a pure accuracy run). */
  readonly quiet?: boolean;
  /**
   * Start all but `joinStormSize` members already knowing each other, then let those join: a
   * 10,000-member join storm costs O(N^2) gossip to simulate, a formed pool does not.
   */
  readonly preformed?: boolean;
  readonly joinStormSize?: number;
}

interface SimMember {
  readonly idx: number;
  readonly name: string;
  readonly addr: string;
  readonly addrBytes: Uint8Array;
  node: GossipNode | null;
  gen: number;
  up: boolean;
  leaving: boolean;
  everCrashed: boolean;
  slowLagMs: number;
}

const tickMsSim = 50;
const memberTags = { role: "node", dc: "dc1" };
/** Anti-entropy is a random push/pull every 30 s: a fact held by one member needs a few minutes to reach all. */
const livenessBoundMs = 600_000;
const crashAfterMs = 2_000;
const leaveAfterMs = 4_000;

function addrBytesOf(i: number): Uint8Array {
  return new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]);
}

function wireFromEnv(): boolean {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.PRAETOR_GOSSIP_WIRE === "1";
}

class GossipSim {
  readonly world: World;
  readonly members: SimMember[] = [];
  readonly byAddr = new Map<string, number>();
  readonly index = new MemberIndex();
  readonly checker: GossipChecker;
  readonly partitions = new Partitions();
  private readonly impairments = new Map<number, Partial<Conditions>>();
  conditions: Conditions;
  private readonly netRng: WorldRng;
  readonly config: GossipConfig;
  readonly wire: boolean;
  upCount = 0;
  packets = 0;
  bytes = 0;
  datagrams = 0;
  windowPackets = 0;
  windowBytes = 0;
  measuring = false;
  crashTarget = -1;
  leaver = -1;

  constructor(readonly options: GossipRunOptions, readonly n: number, readonly faultsOn: boolean) {
    // SWIM's load is constant per member, so a pool's event rate grows with N: about 20 events per
    // member per simulated second in steady state, bursts of 15 packets per member while news spreads.
    this.world = new World(options.seed, { trace: options.trace === true, eventsPerSecondMax: Math.max(50_000, 40 * n), eventsMax: Math.max(20_000_000, 40_000 * n) });
    this.netRng = this.world.rng.derive("net");
    this.wire = options.wire ?? wireFromEnv();
    this.config = { ...defaultLanConfig(), tickMs: tickMsSim, lifeguard: options.lifeguard ?? true };
    this.conditions = calm(options.baseLossRate ?? 0);
    this.checker = new GossipChecker(n, !faultsOn && (options.baseLossRate ?? 0) === 0);
    for (let i = 0; i < n; i++) {
      const name = `m${i}`;
      const addrBytes = addrBytesOf(i);
      const addr = `${addrBytes.join(".")}:7946`;
      this.index.idOf(name);
      this.byAddr.set(addr, i);
      this.members.push({ idx: i, name, addr, addrBytes, node: null, gen: 0, up: false, leaving: false, everCrashed: false, slowLagMs: 0 });
    }
  }

  start(i: number, joinVia: readonly number[], bootstrapMembers: readonly Alive[] = []): void {
    const m = this.members[i]!;
    if (m.gen > 0) this.checker.forgetViewer(i);
    const rng = this.world.rng.derive(`node-${i}-${m.gen}`);
    m.node = new GossipNode(this.config, { name: m.name, addr: m.addrBytes, port: 7946, tags: memberTags }, rng, {
      memberIndex: this.index, clockMs: () => this.world.nowMs, bootstrapMembers,
    });
    m.up = true;
    this.upCount++;
    if (joinVia.length > 0) m.node.join(joinVia.map((j) => this.members[j]!.addr));
    this.afterStep(m);
  }

  crash(i: number): void {
    const m = this.members[i]!;
    if (!m.up) return;
    m.up = false;
    m.node = null;
    m.gen++;
    m.everCrashed = true;
    this.upCount--;
    this.world.record("crash", { member: m.name });
  }

  /** Ticks every running member, then calls `observe`; reschedules itself every tick. */
  tickRound(observe: () => void): void {
    for (const m of this.members) {
      if (!m.up || m.node === null) continue;
      m.node.tick();
      this.afterStep(m);
    }
    observe();
    this.world.after(this.config.tickMs, () => this.tickRound(observe));
  }

  afterStep(m: SimMember): void {
    const node = m.node!;
    node.invariants();
    if (this.n <= 16) node.deepInvariants();
    const out = node.drain();
    for (const p of out.packets) this.send(m, p);
    for (const e of out.events) {
      if (e.type === "join-failed") this.retryJoin(m);
      if (!("member" in e)) continue;
      const s = this.index.lookup(e.member.name);
      if (s === undefined) continue;
      const subject = this.members[s]!;
      this.checker.onEvent(m.idx, s, e, { up: subject.up && !subject.everCrashed, leaving: subject.leaving }, this.world.nowMs);
      if (this.world.tracing && e.type !== "member-join") this.world.record(e.type, { viewer: m.name, subject: e.member.name, inc: e.member.incarnation });
    }
    if (node.hasLeft && m.up) {
      m.up = false;
      m.node = null;
      m.gen++;
      this.upCount--;
      this.world.record("left", { member: m.name });
    }
  }

  private send(from: SimMember, p: OutPacket): void {
    const { payload, bytes, datagrams } = encodeOut(p, this.wire);
    this.packets++;
    this.bytes += bytes;
    this.datagrams += datagrams;
    if (this.measuring) {
      this.windowPackets++;
      this.windowBytes += bytes;
    }
    const to = this.byAddr.get(p.to);
    if (to === undefined) return;
    if (this.partitions.blocked(from.idx, to)) return;
    const c = this.conditions;
    if (p.via === "udp" && this.netRng.chance(c.lossRate)) return;
    const dest = this.members[to]!;
    const copies = p.via === "udp" && this.netRng.chance(c.dupRate) ? 2 : 1;
    for (let k = 0; k < copies; k++) {
      const delayMs = delayOf(this.netRng, c, 0.2, 2, from.slowLagMs + dest.slowLagMs);
      const gen = dest.gen;
      const fromGen = from.gen;
      this.world.after(delayMs, () => this.deliver(to, gen, from.idx, fromGen, p, payload));
    }
  }

  private deliver(to: number, gen: number, fromIdx: number, fromGen: number, p: OutPacket, payload: Payload): void {
    const m = this.members[to]!;
    const from = this.members[fromIdx]!;
    if (!m.up || m.gen !== gen || m.node === null) {
      // A TCP connect to a dead address is refused: the sender hears about it.
      if (p.via === "tcp" && from.up && from.gen === fromGen && from.node !== null) {
        from.node.unreachable(p.to);
        this.afterStep(from);
      }
      return;
    }
    const via = p.via === "udp" ? "udp" : p.via === "tcp" ? "tcp" : "tcp-reply";
    for (const msg of decodeIn(payload)) m.node.receive(from.addr, msg, via);
    this.afterStep(m);
  }

  // ------------------------------------------------------------ faults

  applyFault(f: ScheduledFault, rng: WorldRng, protectedIdx: readonly number[]): void {
    this.world.record("fault", { id: f.id, kind: f.kind });
    switch (f.kind) {
      case "loss": return this.impair(f, { lossRate: f.rate ?? 0.1 });
      case "dup": return this.impair(f, { dupRate: f.rate ?? 0.1 });
      case "reorder": return this.impair(f, { reorderRate: f.rate ?? 0.2, tailMeanMs: f.delayMs ?? 100 });
      case "delay": return this.impair(f, { extraDelayMs: f.delayMs ?? 100 });
      case "isolate":
      case "isolate-leader":
      case "oneway": {
        const side = new Uint8Array(this.n);
        side[rng.int(0, this.n - 1)] = 1;
        return this.partition(f, side, f.kind === "oneway");
      }
      case "halves":
      case "ring": {
        const side = new Uint8Array(this.n);
        for (let i = 0; i < this.n; i++) side[i] = rng.chance(0.5) ? 1 : 0;
        return this.partition(f, side, false);
      }
      case "crash":
      case "torn": {
        const candidates = this.members.filter((m) => m.up && !protectedIdx.includes(m.idx) && !m.leaving);
        if (candidates.length <= 2) return;
        const victim = rng.pick(candidates).idx;
        this.crash(victim);
        this.world.after(f.durationMs, () => this.restart(victim, rng));
        return;
      }
      case "crash-leader":
        // Gossip has no leader: any crash variant is a crash.
        return this.applyFault({ ...f, kind: "crash" }, rng, protectedIdx);
      case "transfer":
      case "drift":
      case "membership":
      case "lease-race":
        // No leader to transfer or lease; ticks are exact here; members join and leave by gossip's own churn.
        return;
      default:
        return assertNever(f.kind);
    }
  }

  /**
   * A crashed member comes back as a fresh process and joins like an agent with `retry_join`: the
   * same seed members every agent is configured with, then two running peers, retried until it works.
   */
  restart(i: number, rng: WorldRng): void {
    const m = this.members[i]!;
    if (m.up || m.leaving || i === this.crashTarget) return;
    const peers = this.members.filter((x) => x.up && x.idx !== i && !x.leaving);
    const seeds = [0, 1, 2].filter((s) => s !== i && s < this.n);
    const via = [...seeds, ...(peers.length === 0 ? [] : [rng.pick(peers).idx, rng.pick(peers).idx])];
    this.world.record("restart", { member: m.name });
    this.joinVia.set(i, via);
    this.start(i, via);
  }

  private readonly joinVia = new Map<number, readonly number[]>();

  private retryJoin(m: SimMember): void {
    const via = this.joinVia.get(m.idx);
    if (via === undefined) return;
    const gen = m.gen;
    this.world.after(5_000, () => {
      if (!m.up || m.gen !== gen || m.node === null) return;
      m.node.join(via.map((j) => this.members[j]!.addr));
      this.afterStep(m);
    });
  }

  private impair(f: ScheduledFault, c: Partial<Conditions>): void {
    this.impairments.set(f.id, c);
    this.recomputeConditions();
    this.world.after(f.durationMs, () => {
      this.impairments.delete(f.id);
      this.recomputeConditions();
    });
  }

  private partition(f: ScheduledFault, side: Uint8Array, oneway: boolean): void {
    this.partitions.add(f.id, side, oneway);
    this.world.after(f.durationMs, () => this.partitions.remove(f.id));
  }

  private recomputeConditions(): void {
    const c = calm(this.options.baseLossRate ?? 0);
    for (const i of this.impairments.values()) {
      c.lossRate = Math.max(c.lossRate, i.lossRate ?? 0);
      c.dupRate = Math.max(c.dupRate, i.dupRate ?? 0);
      c.reorderRate = Math.max(c.reorderRate, i.reorderRate ?? 0);
      c.tailMeanMs = Math.max(c.tailMeanMs, i.tailMeanMs ?? 0);
      c.extraDelayMs = Math.max(c.extraDelayMs, i.extraDelayMs ?? 0);
    }
    this.conditions = c;
  }

  healAll(): void {
    this.impairments.clear();
    this.recomputeConditions();
    this.partitions.clear();
    for (const m of this.members) m.slowLagMs = 0;
    this.world.record("heal");
  }

  // ------------------------------------------------------------ views

  /** Every running member sees exactly the running members alive (counts: O(N)). */
  aliveCountsAgree(): boolean {
    const want = this.upCount - this.leavingUp();
    for (const m of this.members) {
      if (m.up && !m.leaving && m.node!.aliveCount !== want) return false;
    }
    return true;
  }

  /** No running member has broadcasts left to send: the join storm's traffic is over. */
  queuesDrained(): boolean {
    for (const m of this.members) if (m.up && m.node!.pendingBroadcasts > 0) return false;
    return true;
  }

  private leavingUp(): number {
    let k = 0;
    for (const m of this.members) if (m.up && m.leaving) k++;
    return k;
  }

  /** How many running members see `subject` with a status in `ok`. */
  viewersWith(subject: number, ok: readonly (string | null)[]): { yes: number; of: number } {
    let yes = 0;
    let of = 0;
    for (const m of this.members) {
      if (!m.up || m.leaving || m.idx === subject) continue;
      of++;
      if (ok.includes(m.node!.statusById(subject))) yes++;
    }
    return { yes, of };
  }

  /** What has not converged after healing, or null. Exact pairwise check up to 1,000 members. */
  pending(): string | null {
    if (!this.aliveCountsAgree()) {
      const want = this.upCount - this.leavingUp();
      const odd = this.members.filter((m) => m.up && !m.leaving && m.node!.aliveCount !== want).slice(0, 3);
      const missing = (v: SimMember): string => this.members.filter((s) => s.up && !s.leaving && v.node!.statusById(s.idx) !== "alive")
        .map((s) => `${s.name}: ${v.node!.statusById(s.idx)} ${JSON.stringify(v.node!.memberState(s.name))} (own incarnation ${s.node!.incarnation})`).join("; ");
      return `members ${odd.map((m) => `${m.name} (sees ${m.node!.aliveCount}; ${missing(m)})`).join(", ")} do not see the ${want} running members alive`;
    }
    if (this.crashTarget >= 0) {
      const v = this.viewersWith(this.crashTarget, ["failed", "left", null]);
      if (v.yes < v.of) return `${v.of - v.yes} of ${v.of} members do not see crashed m${this.crashTarget} as failed`;
    }
    if (this.leaver >= 0) {
      const v = this.viewersWith(this.leaver, ["left", null]);
      // Under faults the leave broadcasts may reach no one (the leaver cut off): then failed is all anyone can know.
      const unheard = this.faultsOn && this.viewersWith(this.leaver, ["failed", null]).yes === v.of;
      if (v.yes < v.of && !unheard) {
        const odd = this.members.filter((m) => m.up && !m.leaving && !["left", null].includes(m.node!.statusById(this.leaver)));
        const views = odd.map((m) => `${m.name}: ${m.node!.statusById(this.leaver)} ${JSON.stringify(m.node!.memberState(`m${this.leaver}`))}`).join("; ");
        return `${v.of - v.yes} of ${v.of} members do not see m${this.leaver}, who left, as left (${views})`;
      }
    }
    return this.n <= 1_000 ? this.pendingPairs() : null;
  }

  private pendingPairs(): string | null {
    for (const v of this.members) {
      if (!v.up || v.leaving) continue;
      for (const s of this.members) {
        if (s === v || !s.up || s.leaving) continue;
        const st = v.node!.statusById(s.idx);
        if (st !== "alive") return `${v.name} sees running ${s.name} as ${st}`;
      }
    }
    return null;
  }
}

// -------------------------------------------------------------------- the run

interface Phase {
  outcome: Outcome;
  message: string | null;
}

export function runGossip(options: GossipRunOptions): SeedResult {
  const rootRng = (new World(options.seed)).rng;
  const n = options.nodes ?? rootRng.derive("size").int(4, 10);
  const faultsOn = options.faults.length > 0;
  const sim = new GossipSim(options, n, faultsOn);
  const facts: Record<string, number | string> = { nodes: n, lifeguard: sim.config.lifeguard ? 1 : 0, wire: sim.wire ? 1 : 0 };
  const schedule = faultsOn ? generateSchedule(sim.world.rng.derive("faults"), options.faults, options.durationMs, { leaderChurn: false }) : [];
  const used = options.scheduleIds === undefined ? schedule : selectFaults(schedule, options.scheduleIds);
  const phase: Phase = { outcome: "ok", message: null };
  try {
    runPhases(sim, options, used, facts, phase);
  } catch (error) {
    phase.outcome = "crash";
    phase.message = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error);
  }
  if (phase.outcome === "ok" && sim.checker.violation !== null) {
    phase.outcome = "safety";
    phase.message = sim.checker.violation;
  }
  facts.falsePositives = sim.checker.falsePositives;
  // Packets the codec had to split: the core's size estimate ran over the UDP limit.
  facts.wireSplits = sim.datagrams - sim.packets;
  facts.failedEvents = sim.checker.failedEvents;
  return {
    seed: options.seed, scenario: "gossip", outcome: phase.outcome, message: phase.message, events: sim.world.eventsProcessed,
    simulatedMs: sim.world.nowMs, schedule, scheduleIds: used.map((f) => f.id), trace: sim.world.trace, facts,
  };
}

function heapBytes(): number {
  const p = (globalThis as { process?: { memoryUsage(): { heapUsed: number; arrayBuffers: number } } }).process;
  if (p === undefined) return 0;
  // With --expose-gc (the bench) garbage is collected first, so the figure is live memory.
  (globalThis as { gc?: () => void }).gc?.();
  const u = p.memoryUsage();
  return u.heapUsed + u.arrayBuffers;
}

/** Join storm, safety phase (faults, one crash, one leave), then healing and convergence. */
function runPhases(sim: GossipSim, options: GossipRunOptions, faults: readonly ScheduledFault[], facts: Record<string, number | string>, phase: Phase): void {
  const n = sim.n;
  const world = sim.world;
  const rng = world.rng.derive("scenario");
  const heapBefore = heapBytes();
  const joinWindowMs = Math.min(5_000, 50 * n);
  const joiners = options.preformed === true ? Math.min(n - 1, options.joinStormSize ?? Math.max(10, Math.round(n / 100))) : n - 1;
  const formed = n - joiners;
  const meta = encodeTags(memberTags);
  const alives: Alive[] = sim.members.slice(0, formed).map((m) => ({
    type: "alive", Incarnation: 1, Node: m.name, Addr: m.addrBytes, Port: 7946, Meta: meta, Vsn: [1, 5, 2, 2, 5, 5],
  }));
  for (let i = 0; i < formed; i++) sim.start(i, [], formed > 1 ? alives : []);
  facts.joinStorm = joiners;
  for (let i = formed; i < n; i++) {
    const via = [rng.int(0, i - 1), 0];
    world.at(rng.int(0, joinWindowMs), () => sim.start(i, via));
  }
  // A bound that grows with log N: the join window, then rounds of gossip and push/pull. A member
  // that missed every retransmission of a joiner's alive learns it by push/pull alone, and as
  // memberlist's pushPullTrigger, the first periodic one comes a random stagger plus a whole interval
  // after start: up to one interval more than the steady period.
  const convergeBoundMs = joinWindowMs + 20_000 + 10_000 * Math.log2(n) + sim.config.pushPullIntervalMs;
  let stop = false;
  world.at(0, () => sim.tickRound(() => { if (sim.upCount === n && sim.aliveCountsAgree()) stop = true; }));
  world.runUntil(convergeBoundMs, () => stop);
  if (!stop) {
    phase.outcome = "liveness";
    phase.message = `join storm of ${n} members did not converge within ${Math.round(convergeBoundMs)} ms`;
    return;
  }
  const t1 = world.nowMs;
  facts.convergedMs = Math.round(t1);
  facts.heapBytesPerMember = Math.max(0, Math.round((heapBytes() - heapBefore) / n));
  world.record("converged");
  // Load is measured in steady state: once the join storm's broadcasts have all gone out.
  let drained = false;
  const settle = (): void => { drained = sim.queuesDrained(); if (!drained) world.after(1_000, settle); };
  world.at(t1, settle);
  world.runUntil(t1 + 120_000, () => drained);
  facts.settledMs = Math.round(world.nowMs - t1);
  runSafetyPhase(sim, options, faults, facts, phase, rng, world.nowMs);
  if (phase.outcome !== "ok") return;
  runLivenessPhase(sim, facts, phase, rng);
}

function runSafetyPhase(
  sim: GossipSim, options: GossipRunOptions, faults: readonly ScheduledFault[], facts: Record<string, number | string>,
  phase: Phase, rng: WorldRng, t1: number,
): void {
  const world = sim.world;
  const n = sim.n;
  const faultsOn = faults.length > 0 || options.faults.length > 0;
  const slowLagMs = options.slowLagMs ?? (faultsOn && rng.chance(0.5) ? rng.int(200, 1_500) : 0);
  if (slowLagMs > 0) sim.members[rng.int(0, n - 1)]!.slowLagMs = slowLagMs;
  facts.slowLagMs = slowLagMs;
  const quiet = options.quiet === true || n < 3;
  if (!quiet) {
    sim.crashTarget = rng.int(1, n - 1);
    do sim.leaver = rng.int(1, n - 1); while (sim.leaver === sim.crashTarget);
  }
  const protectedIdx = [sim.crashTarget, sim.leaver];
  const faultRng = world.rng.derive("fault-targets");
  for (const f of faults) world.at(t1 + f.atMs, () => sim.applyFault(f, faultRng, protectedIdx));
  sim.measuring = true;
  const packets0 = sim.windowPackets;
  let crashAtMs = -1;
  let leaveAtMs = -1;
  if (!quiet) {
    world.at(t1 + crashAfterMs, () => { crashAtMs = world.nowMs; sim.crash(sim.crashTarget); });
    world.at(t1 + leaveAfterMs, () => {
      const m = sim.members[sim.leaver]!;
      if (!m.up) return;
      leaveAtMs = world.nowMs;
      m.leaving = true;
      m.node!.leave();
      sim.afterStep(m);
    });
  }
  const end = t1 + options.durationMs;
  const detect = { detectMs: -1, leftMs: -1 };
  const poll = (): void => {
    if (crashAtMs >= 0 && detect.detectMs < 0) {
      const v = sim.viewersWith(sim.crashTarget, ["failed", null]);
      if (v.yes === v.of) detect.detectMs = world.nowMs - crashAtMs;
    }
    if (leaveAtMs >= 0 && detect.leftMs < 0) {
      const v = sim.viewersWith(sim.leaver, ["left", null]);
      if (v.yes === v.of) detect.leftMs = world.nowMs - leaveAtMs;
    }
    if (world.nowMs < end) world.after(1_000, poll);
  };
  world.at(t1 + 1_000, poll);
  world.runUntil(end, () => sim.checker.violation !== null);
  sim.measuring = false;
  const windowSec = Math.max(1, (world.nowMs - t1) / 1000);
  const perMember = Math.max(1, sim.upCount);
  facts.msgsPerMemberPerSec = round2((sim.windowPackets - packets0) / perMember / windowSec);
  facts.bytesPerMemberPerSec = Math.round(sim.windowBytes / perMember / windowSec);
  facts.detectMs = detect.detectMs;
  facts.leftMs = detect.leftMs;
  if (!quiet && !faultsOn) checkBounds(sim, detect, phase, n);
}

/** With a calm network, detection and leave have bounds; under faults only convergence after healing counts. */
function checkBounds(sim: GossipSim, detect: { detectMs: number; leftMs: number }, phase: Phase, n: number): void {
  const c = sim.config;
  const minMs = suspicionTimeoutMs(c.suspicionMult, n, c.probeIntervalMs);
  const detectBoundMs = c.suspicionMaxTimeoutMult * minMs + 10 * c.probeIntervalMs;
  if (detect.detectMs < 0 || detect.detectMs > detectBoundMs) {
    phase.outcome = "liveness";
    phase.message = `crashed member not marked failed by all within ${detectBoundMs} ms (took ${detect.detectMs})`;
  } else if (detect.leftMs < 0) {
    phase.outcome = "liveness";
    phase.message = "leaving member not seen as left by all within the safety phase";
  }
}

function runLivenessPhase(sim: GossipSim, facts: Record<string, number | string>, phase: Phase, rng: WorldRng): void {
  const world = sim.world;
  sim.healAll();
  for (const m of sim.members) if (!m.up && !m.leaving && m.idx !== sim.crashTarget && m.everCrashed) sim.restart(m.idx, rng);
  const t2 = world.nowMs;
  let last: string | null = "not checked";
  const check = (): void => {
    last = sim.pending();
    if (last !== null) world.after(1_000, check);
  };
  world.at(t2 + 1_000, check);
  world.runUntil(t2 + livenessBoundMs, () => last === null || sim.checker.violation !== null);
  facts.healedMs = Math.round(world.nowMs - t2);
  if (last !== null && sim.checker.violation === null) {
    phase.outcome = "liveness";
    phase.message = `views did not converge within ${livenessBoundMs} ms of healing: ${last}`;
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export const scenario: Scenario = {
  name: "gossip",
  description: "SWIM/Lifeguard/Serf gossip core: join storm, faults, crash detection, graceful leave, healing",
  runSeed: (options) => runGossip(options),
};
