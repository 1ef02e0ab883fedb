import { assert } from "../src/core/util/assert.ts";
import type { WorldRng } from "./world/rng.ts";
import { CRASH_POINTS, type CrashPoint } from "./crash-points.ts";

/**
 * The fault kinds a seed may draw. Network impairments (loss, dup, reorder, delay) and partitions
 * (isolate, isolate-leader, halves, ring, oneway), node faults (crash, crash-leader, torn) and
 * leadership transfers (an operator's action, not a fault, but it races elections the same way) are timed events
 * in the schedule, so shrinking can remove them one by one; drift is a per-node property drawn
 * with the topology; membership changes (one server at a time, proposed by the leader) come from
 * the membership driver (sim/membership-driver.ts). A lease race (appendLeaseRaces) is a shape
 * drawn after the random mix, not part of it.
 */
export const FAULT_KINDS = [
  "loss", "dup", "reorder", "delay",
  "isolate", "isolate-leader", "halves", "ring", "oneway",
  "crash", "crash-leader", "torn", "transfer", "drift", "membership", "lease-race",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ScheduledFault {
  /** Position in the seed's full schedule; `--schedule` overrides name faults by it. */
  readonly id: number;
  readonly kind: FaultKind;
  readonly atMs: number;
  readonly durationMs: number;
  /** Loss / duplication / reorder probability, for impairments. */
  readonly rate?: number;
  /** Extra delay for "delay", tail mean for "reorder". */
  readonly delayMs?: number;
  /** For "oneway": cut the links into (or out of) the leader, instead of a drawn node and direction. */
  readonly leaderLinks?: "in" | "out";
  /**
   * A crash point instead of a crash at `atMs`: "afterVote" crashes the first node to grant a
   * vote after it, "beforeSecondVote" the first node that granted a vote (or leads) as a rival's
   * request of the same term reaches it (and every other such node of that term),
   * "afterCommit" the first leader to advance its commit index after it;
   * "afterPersist" and "midApply" kill the chosen node inside its Ready loop (sim/crash-points.ts)
   * after `afterCount` more saves or applied entries.
   */
  readonly trigger?: "afterVote" | "beforeSecondVote" | "afterCommit" | CrashPoint;
  readonly afterCount?: number;
  /**
   * Leader churn: crash-leader faults of one burst (same `burst`, same `atMs`) act one after
   * another in `step` order. The burst's current fault arms its trigger on the leader, follows
   * leadership to whichever node is elected next until it fires, and keeps its victim down for
   * `durationMs`; then the next step waits for the next leader. So each successive leader dies at
   * its own moment, however long the elections in between take.
   */
  readonly burst?: number;
  readonly step?: number;
}

/**
 * The `default:` of a switch over fault kinds: with every kind handled, `kind` has type never here,
 * so a kind added to FAULT_KINDS and forgotten in a switch fails to compile instead of being
 * silently ignored at run time.
 */
export function assertNever(kind: never): never {
  throw new Error(`unhandled fault kind ${String(kind)}`);
}

export function parseFaults(spec: string): FaultKind[] {
  if (spec === "all") return [...FAULT_KINDS];
  if (spec === "none" || spec === "") return [];
  const kinds = spec.split(",").map((s) => s.trim());
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new Error(`unknown fault kind "${kind}" (known: ${FAULT_KINDS.join(", ")}, all, none)`);
    }
  }
  return kinds as FaultKind[];
}

/** Durations per kind: long enough to force elections (> 2 election timeouts), short enough that many overlap. */
const DURATION_RANGE_MS: Record<FaultKind, readonly [number, number]> = {
  loss: [1_000, 15_000], dup: [1_000, 15_000], reorder: [1_000, 15_000], delay: [1_000, 10_000],
  isolate: [500, 8_000], "isolate-leader": [500, 8_000], halves: [500, 8_000], ring: [1_000, 8_000], oneway: [500, 8_000],
  crash: [100, 6_000], "crash-leader": [100, 6_000], torn: [100, 6_000], transfer: [300, 3_000], drift: [0, 0], membership: [0, 0],
  // A lease race's rounds (about 1.2 s each, plus waiting for a calm heartbeat) run until it ends.
  "lease-race": [4_000, 12_000],
};

/**
 * Swarm testing (Groce et al.): each seed weighs the enabled kinds differently, some at zero, so
 * the campaign covers both "only crashes" and "everything at once" instead of one average mix.
 * Node faults get double weight because persistence bugs only show across restarts.
 */
function drawWeights(rng: WorldRng, kinds: readonly FaultKind[]): number[] {
  const weights = kinds.map((k) => rng.pick([0, 1, 1, 2, 3]) * (isNodeFault(k) ? 2 : 1));
  return weights.every((w) => w === 0) ? kinds.map(() => 1) : weights;
}

function pickWeighted(rng: WorldRng, kinds: readonly FaultKind[], weights: readonly number[]): FaultKind {
  const total = weights.reduce((a, b) => a + b, 0);
  let roll = rng.next() * total;
  for (let i = 0; i < kinds.length; i++) {
    roll -= weights[i]!;
    if (roll < 0) return kinds[i]!;
  }
  return kinds[kinds.length - 1]!;
}

/**
 * Draw a seed's fault schedule over the safety phase: on average one fault every
 * `meanGapMs`, each of an enabled kind, starting early enough to end before the phase does.
 */
export function generateSchedule(
  rng: WorldRng, kinds: readonly FaultKind[], durationMs: number, options: { readonly leaderChurn?: boolean; readonly leaseRaces?: boolean } = {},
): ScheduledFault[] {
  const timed = kinds.filter((k) => !isUntimed(k) && !isShape(k));
  if (timed.length === 0) {
    const schedule: ScheduledFault[] = [];
    if (options.leaseRaces === true) appendLeaseRaces(rng, kinds, durationMs, schedule);
    return schedule;
  }
  const weights = drawWeights(rng, timed);
  const meanGapMs = rng.int(1_000, 5_000);
  const schedule: ScheduledFault[] = [];
  let atMs = rng.int(0, meanGapMs);
  while (atMs < durationMs - 500) {
    const kind = pickWeighted(rng, timed, weights);
    const [minMs, maxMs] = DURATION_RANGE_MS[kind];
    // Half the node faults are bounces (down for under half a second): a node back before the
    // cluster noticed, with whatever its disk kept, is where persistence bugs show.
    const bounce = isNodeFault(kind) && rng.chance(0.5);
    const durationMsDrawn = Math.min(bounce ? rng.int(20, 500) : rng.int(minMs, maxMs), durationMs - atMs);
    schedule.push({ id: schedule.length, kind, atMs, durationMs: durationMsDrawn, ...impairmentOf(rng, kind), ...leaderLinksOf(rng, kind) });
    atMs += rng.int(200, 2 * meanGapMs);
  }
  // A scenario without leaders (gossip) opts out: the bursts would only be piles of crashes.
  if (options.leaderChurn !== false) {
    appendLeaderChurn(rng, kinds, durationMs, schedule);
    appendVoteCrashes(rng, kinds, durationMs, schedule);
  }
  // Drawn last, so every earlier draw (and each seed's other faults) stays as it was.
  if (options.leaderChurn !== false) appendSplitVotes(rng, kinds, durationMs, schedule);
  if (options.leaseRaces === true) appendLeaseRaces(rng, kinds, durationMs, schedule);
  return schedule;
}

/**
 * Leader churn, the history behind Figure 8: leaders that crash and come back in quick succession
 * while replication is partial, so entries of several terms sit on minorities. Every seed that
 * enables crash-leader gets one to three bursts of three, six or nine crash-leader faults, each acting
 * on the leader after its predecessor's victim (`burst`, `step`), whatever the elections take:
 * two leaders in a row die right after persisting new entries of their own, before sending them
 * (one on the leader's disk alone, one of a newer term on another's), and the third, typically the
 * first one re-elected, dies just after its commit index next advances, before a newer entry of
 * its own term spreads. Each is an ordinary scheduled fault, shrinkable one by one. Drawn after
 * the regular schedule, so that part is unchanged.
 */
function appendLeaderChurn(rng: WorldRng, kinds: readonly FaultKind[], durationMs: number, schedule: ScheduledFault[]): void {
  if (!kinds.includes("crash-leader")) return;
  const bursts = rng.int(1, 3);
  // Bursts in separate stretches of the phase: two chains crossing each other break both.
  const stretchMs = Math.floor(durationMs / bursts);
  for (let b = 0; b < bursts; b++) {
    const atMs = b * stretchMs + rng.int(0, Math.max(0, Math.floor(stretchMs / 3)));
    const bounces = 3 * rng.int(1, 3);
    for (let i = 0; i < bounces; i++) {
      // The second of each three must die before its first entry leaves (else its newer term spreads).
      const point = i % 3 === 2 ? { trigger: "afterCommit" as const } : { trigger: "afterAppend" as const, afterCount: i % 3 === 0 ? rng.int(0, 1) : 0 };
      // The first of each three is back at once (and may lead again); the other two stay down
      // across an election or two, so the leader after next is the first one back.
      const [downMinMs, downMaxMs] = i % 3 === 0 ? [20, 1_500] : [1_500, 6_000];
      schedule.push({ id: schedule.length, kind: "crash-leader", atMs, durationMs: rng.int(downMinMs, downMaxMs), burst: b, step: i, ...point });
    }
    if (kinds.includes("loss") && rng.chance(0.5)) {
      schedule.push({ id: schedule.length, kind: "loss", atMs, durationMs: Math.min(rng.int(3_000, 10_000), durationMs - atMs), rate: round3(rng.uniform(0.1, 0.3)) });
    }
  }
}

/**
 * Split votes are where a forgotten vote turns into two leaders of one term, and they come at
 * unpredictable times: every seed that enables crash gets one to three standing beforeSecondVote
 * crash points, each armed from its time until the next voter it catches.
 */
function appendVoteCrashes(rng: WorldRng, kinds: readonly FaultKind[], durationMs: number, schedule: ScheduledFault[]): void {
  if (!kinds.includes("crash")) return;
  const count = rng.int(1, 3);
  for (let i = 0; i < count; i++) {
    schedule.push({ id: schedule.length, kind: "crash", atMs: rng.int(0, Math.floor(durationMs / 2)), durationMs: 0, trigger: "beforeSecondVote" });
  }
}

/**
 * Split votes on purpose, where a forgotten vote turns into two leaders of one term. With pre-vote
 * on, two candidates of one term need their election timers to fire within about a round trip of
 * each other (a later one finds the others already in the new term and loses its pre-vote), which
 * on a LAN's few milliseconds almost never happens. So: slow every link for a few seconds (round
 * trips of hundreds of milliseconds), bounce the leader so that nobody hears from a leader while
 * it is back in time to vote, and arm a beforeSecondVote crash point for the elections that follow:
 * in the first split, each voter that granted one candidate is crashed and restarted just as a
 * rival's request of that term reaches it. Every seed that enables delay, crash-leader and crash
 * gets one to three (fewer in phases shorter than a minute).
 */
function appendSplitVotes(rng: WorldRng, kinds: readonly FaultKind[], durationMs: number, schedule: ScheduledFault[]): void {
  if (!kinds.includes("delay") || !kinds.includes("crash-leader") || !kinds.includes("crash")) return;
  // At most one per 20 s of phase: each takes seconds of slow links and an election or two, which
  // in a short phase would crowd out every other fault's history.
  const count = Math.min(rng.int(1, 3), Math.floor(durationMs / 20_000));
  const stretchMs = Math.floor(durationMs / Math.max(1, count));
  for (let i = 0; i < count; i++) {
    const atMs = i * stretchMs + rng.int(0, Math.max(0, stretchMs - 8_000));
    const leftMs = durationMs - atMs;
    schedule.push({ id: schedule.length, kind: "delay", atMs, durationMs: Math.min(rng.int(2_500, 4_000), leftMs), delayMs: rng.int(150, 500) });
    // Back within a few hundred milliseconds: before any follower times out, so it votes in the elections.
    schedule.push({ id: schedule.length, kind: "crash-leader", atMs, durationMs: Math.min(rng.int(20, 300), leftMs) });
    schedule.push({ id: schedule.length, kind: "crash", atMs, durationMs: 0, trigger: "beforeSecondVote" });
  }
}

/**
 * Lease races, the history a leader lease must survive (issue 14 defect 2): a leader cut off right
 * after a heartbeat round its followers acknowledged, clocks at the drift bound in the bad direction
 * (its own slow, everyone else's fast), near-instant links so a new leader is elected and commits
 * as soon as the followers' timeouts allow, and a client reading from the old leader all along
 * (FaultDriver.leaseRace runs them in rounds while the fault lasts). A lease with no margin for a
 * tick of phase offset plus the drift serves stale reads there. Four to six races per seed that
 * enables "lease-race", each within its own stretch of the phase; only scenarios with a leader
 * lease ask for them (`leaseRaces`). Drawn after everything else, so the rest is unchanged.
 */
function appendLeaseRaces(rng: WorldRng, kinds: readonly FaultKind[], durationMs: number, schedule: ScheduledFault[]): void {
  if (!kinds.includes("lease-race")) return;
  const races = rng.int(4, 6);
  const stretchMs = Math.floor(durationMs / races);
  const [minMs, maxMs] = DURATION_RANGE_MS["lease-race"];
  for (let r = 0; r < races; r++) {
    const lengthMs = Math.min(rng.int(minMs, maxMs), stretchMs - 1);
    const atMs = r * stretchMs + rng.int(0, Math.max(0, stretchMs - lengthMs - 1));
    if (lengthMs <= 0 || atMs + lengthMs > durationMs) break;
    schedule.push({ id: schedule.length, kind: "lease-race", atMs, durationMs: lengthMs });
  }
}

/**
 * Half the transfers happen while the old leader has gone deaf (its inbound links cut for the
 * fault's duration): it keeps believing it leads while the new leader serves, which is exactly
 * the window where a read served without confirming leadership goes stale.
 */
function leaderLinksOf(rng: WorldRng, kind: FaultKind): Pick<ScheduledFault, "leaderLinks" | "trigger" | "afterCount"> {
  if (kind === "transfer" && rng.chance(0.5)) return { leaderLinks: "in" };
  // A third of crashes are crash points: a voter just after its grant (or, half the time, just
  // before a rival candidate of the same term asks it too), a leader just after a commit.
  if (kind === "crash" && rng.chance(0.33)) return { trigger: rng.chance(0.5) ? "afterVote" : "beforeSecondVote" };
  if (kind === "crash-leader" && rng.chance(0.33)) return { trigger: "afterCommit" };
  // A third of the rest die inside the Ready loop: after a save, before its sends; or mid-apply.
  if ((kind === "crash" || kind === "crash-leader") && rng.chance(0.33)) return { trigger: rng.pick(CRASH_POINTS), afterCount: rng.int(0, 5) };
  return {};
}

/**
 * Drift is drawn with the topology; membership changes run from their own stream (the membership
 * driver), so enabling either leaves a seed's timed schedule unchanged.
 */
function isUntimed(kind: FaultKind): boolean {
  return kind === "drift" || kind === "membership";
}

/** Kinds drawn as shapes after the random mix (their own function), never by the swarm weights. */
function isShape(kind: FaultKind): boolean {
  return kind === "lease-race";
}

export function isNodeFault(kind: FaultKind): boolean {
  return kind === "crash" || kind === "crash-leader" || kind === "torn";
}

function impairmentOf(rng: WorldRng, kind: FaultKind): { rate?: number; delayMs?: number } {
  switch (kind) {
    case "loss": return { rate: round3(rng.uniform(0.05, 0.5)) };
    case "dup": return { rate: round3(rng.uniform(0.05, 0.3)) };
    case "reorder": return { rate: round3(rng.uniform(0.1, 0.5)), delayMs: rng.int(20, 300) };
    case "delay": return { delayMs: rng.int(50, 600) };
    case "isolate": case "isolate-leader": case "halves": case "ring": case "oneway":
    case "crash": case "crash-leader": case "torn": case "transfer": case "drift": case "membership": case "lease-race":
      return {};
    default: return assertNever(kind);
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Keep only the faults whose ids are listed (a shrunk or hand-written schedule). */
export function selectFaults(schedule: readonly ScheduledFault[], ids: readonly number[]): ScheduledFault[] {
  const wanted = new Set(ids);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= schedule.length) {
      throw new RangeError(`fault id ${id} is not in this seed's schedule (${schedule.length === 0 ? "it has no faults" : `ids 0 to ${schedule.length - 1}`})`);
    }
  }
  return schedule.filter((f) => wanted.has(f.id));
}

export function describeFault(f: ScheduledFault): string {
  const extra = [
    f.rate !== undefined ? `rate=${f.rate}` : "", f.delayMs !== undefined ? `delay=${f.delayMs}ms` : "",
    f.leaderLinks !== undefined ? `leader-links-${f.leaderLinks}` : "", f.trigger !== undefined ? `trigger=${f.trigger}` : "",
    f.afterCount !== undefined ? `after=${f.afterCount}` : "", f.burst !== undefined ? `churn=${f.burst}.${f.step ?? 0}` : "",
  ].filter(Boolean).join(" ");
  return `#${f.id} ${f.kind} at ${f.atMs}ms for ${f.durationMs}ms${extra ? " " + extra : ""}`;
}
