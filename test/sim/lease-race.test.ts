import test from "ava";
import { kvScenario, runKvSeed } from "../../sim/scenarios/kv.ts";
import { shrinkSchedule } from "../../sim/shrink.ts";
import { checkerOf } from "../../sim/violation.ts";
import { raftMutants } from "../mutants/raft-mutants.ts";
import { defaultRaftConfig } from "../../src/core/raft/config.ts";

const options = { seed: 1, durationMs: 20_000, faults: ["lease-race", "drift"] as const, trace: true };
const mutant = raftMutants.find((m) => m.name === "lease-without-margin")!;

test("lease races: the production lease ends before any new leader commits; every clock stays within the drift bound", (t) => {
  const result = runKvSeed({ ...options, faults: [...options.faults] });
  t.is(result.outcome, "ok", result.message ?? "");
  t.true(Number(result.facts.leaseRaces) >= 5, `only ${result.facts.leaseRaces} race rounds`);
  t.true(Number(result.facts.leaseProbes) > 1_000, `only ${result.facts.leaseProbes} probe reads`);
  const { tickMs, maxClockDriftPpm } = defaultRaftConfig("n0");
  const periods = result.trace!.map((line) => JSON.parse(line) as { e: string; tickPeriodMs?: number }).filter((e) => e.e === "clock").map((e) => e.tickPeriodMs!);
  t.true(periods.length > 0);
  for (const periodMs of periods) t.true(Math.abs(periodMs - tickMs) <= (tickMs * maxClockDriftPpm) / 1_000_000, `tick period ${periodMs} ms`);
  t.true(periods.includes(48) && periods.includes(52), "the races run clocks at the bound, both ways");
});

test("lease races: a lease with no margin serves a read below a newer leader's commit (read freshness), and shrinking keeps that", (t) => {
  // Races need the followers' earliest timeout and a favourable tick phase: of 20 s seeds with only
  // races and drift, 4 and 9 of 1-12 failed when this was written (with async saves in half the seeds).
  let seed = 0;
  let result: ReturnType<typeof runKvSeed> | null = null;
  while (result?.outcome !== "safety" && seed < 20) result = runKvSeed({ ...options, seed: ++seed, faults: [...options.faults], nodeFactory: mutant.make });
  t.is(result!.outcome, "safety", "no seed of 1-20 caught the lease without margin");
  t.regex(result!.message ?? "", /^SafetyViolation: read freshness: n\d answered a lease read begun at \d+ ms at index \d+/);
  t.is(runKvSeed({ ...options, seed, faults: [...options.faults] }).outcome, "ok", `seed ${seed} passes with the production lease`);
  const shrunk = shrinkSchedule(kvScenario, { ...options, seed, faults: [...options.faults], trace: false, nodeFactory: mutant.make }, result!);
  t.is(shrunk.scheduleIds.length, 1, `shrunk to ${shrunk.scheduleIds.join(",")}`);
  t.is(checkerOf(shrunk.result.outcome, shrunk.result.message), "read freshness");
  t.true(shrunk.faults.includes("drift"), "the clocks at the drift bound are part of the history");
});
