import { assert } from "../src/core/util/assert.ts";
import type { WorldRng } from "./world/rng.ts";

/**
 * The fault kinds a seed may draw. Network impairments (loss, dup, reorder, delay) and partitions
 * (isolate, isolate-leader, halves, ring, oneway) and node faults (crash, torn) are timed events
 * in the schedule, so shrinking can remove them one by one; drift is a per-node property drawn
 * with the topology.
 */
export const FAULT_KINDS = [
  "loss", "dup", "reorder", "delay",
  "isolate", "isolate-leader", "halves", "ring", "oneway",
  "crash", "torn", "drift",
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
  crash: [100, 6_000], torn: [100, 6_000], drift: [0, 0],
};

/**
 * Draw a seed's fault schedule over the safety phase: on average one fault every
 * `meanGapMs`, each of an enabled kind, starting early enough to end before the phase does.
 */
export function generateSchedule(rng: WorldRng, kinds: readonly FaultKind[], durationMs: number): ScheduledFault[] {
  const timed = kinds.filter((k) => k !== "drift");
  if (timed.length === 0) return [];
  const meanGapMs = rng.int(1_500, 5_000);
  const schedule: ScheduledFault[] = [];
  let atMs = rng.int(0, meanGapMs);
  while (atMs < durationMs - 500) {
    const kind = rng.pick(timed);
    const [minMs, maxMs] = DURATION_RANGE_MS[kind];
    const durationMsDrawn = Math.min(rng.int(minMs, maxMs), durationMs - atMs);
    schedule.push({ id: schedule.length, kind, atMs, durationMs: durationMsDrawn, ...impairmentOf(rng, kind) });
    atMs += rng.int(200, 2 * meanGapMs);
  }
  return schedule;
}

function impairmentOf(rng: WorldRng, kind: FaultKind): { rate?: number; delayMs?: number } {
  switch (kind) {
    case "loss": return { rate: round3(rng.uniform(0.05, 0.5)) };
    case "dup": return { rate: round3(rng.uniform(0.05, 0.3)) };
    case "reorder": return { rate: round3(rng.uniform(0.1, 0.5)), delayMs: rng.int(20, 300) };
    case "delay": return { delayMs: rng.int(50, 600) };
    default: return {};
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Keep only the faults whose ids are listed (a shrunk or hand-written schedule). */
export function selectFaults(schedule: readonly ScheduledFault[], ids: readonly number[]): ScheduledFault[] {
  const wanted = new Set(ids);
  for (const id of ids) assert(id >= 0 && id < schedule.length, `fault id ${id} not in schedule of ${schedule.length}`);
  return schedule.filter((f) => wanted.has(f.id));
}

export function describeFault(f: ScheduledFault): string {
  const extra = [f.rate !== undefined ? `rate=${f.rate}` : "", f.delayMs !== undefined ? `delay=${f.delayMs}ms` : ""].filter(Boolean).join(" ");
  return `#${f.id} ${f.kind} at ${f.atMs}ms for ${f.durationMs}ms${extra ? " " + extra : ""}`;
}
