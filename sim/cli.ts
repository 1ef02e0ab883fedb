import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import cliProgress from "cli-progress";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { FAULT_KINDS, describeFault, parseFaults, type FaultKind } from "./faults.ts";
import { resolveNodeFactory, runCampaign, type CampaignSummary, type NodeFactoryRef } from "./run.ts";
import { loadScenario } from "./scenarios/index.ts";
import type { Outcome, ScenarioOptions, SeedResult } from "./scenarios/types.ts";
import { shrinkSchedule } from "./shrink.ts";
import { checkerOf } from "./violation.ts";

/** Distinct exit codes, so CI can tell a crash from a liveness failure from a safety violation. */
const EXIT_CODES: Record<Outcome | "usage", number> = { ok: 0, usage: 1, crash: 2, liveness: 3, safety: 4 };
/** When a campaign has several kinds of failure, the most severe decides the exit code. */
const SEVERITY: readonly Outcome[] = ["safety", "crash", "liveness"];

interface CliArgs {
  seeds: number; start: number; seed?: number; workers: number; nodes?: number; duration: string;
  faults: string; scenario: string; json: boolean; wire: boolean; shard?: string; trace?: string; schedule?: string; shrink: boolean;
  skipChanges?: string;
  mutant?: string; reads?: number;
}

/** What --help lists besides the options: fault kinds, scenarios and planted bugs. */
interface Catalogue {
  readonly scenarios: readonly string[];
  /** Planted bugs, each with where `--mutant NAME` finds it (a NodeFactoryRef's module and export). */
  readonly mutants: readonly { name: string; description: string; module: string; exportName: string }[];
}

/** Where planted bugs live: Raft-core mutants, and catalog mutants (which ride on the real Raft core; --scenario catalog). */
const mutantSources = [
  { module: new URL("../test/mutants/raft-mutants.ts", import.meta.url).href, exportName: "raftMutants" },
  { module: new URL("../test/mutants/catalog-mutants.ts", import.meta.url).href, exportName: "catalogMutants" },
] as const;

async function loadCatalogue(): Promise<Catalogue> {
  const dir = new URL("./scenarios/", import.meta.url);
  // A scenario module is a file there that exports `scenario` (the rest are its helpers).
  const scenarios = readdirSync(dir).filter((f) => f.endsWith(".ts"))
    .filter((f) => f === "kv.ts" || /^export const scenario\b/m.test(readFileSync(new URL(f, dir), "utf8")))
    .map((f) => f.replace(/\.ts$/, "")).sort((a, b) => (a === "kv" ? -1 : b === "kv" ? 1 : a.localeCompare(b)));
  const mutants: Catalogue["mutants"][number][] = [];
  for (const source of mutantSources) {
    try {
      const list = ((await import(source.module)) as Record<string, readonly { name: string; description: string }[]>)[source.exportName] ?? [];
      for (const m of list) mutants.push({ name: m.name, description: m.description, ...source });
    } catch {
      // A packaged copy without test/ has no planted bugs to list.
    }
  }
  return { scenarios, mutants };
}

function epilogue(catalogue: Catalogue): string {
  return [
    `Fault kinds (--faults): ${FAULT_KINDS.join(", ")}; or all, none`,
    `Scenarios (--scenario): ${catalogue.scenarios.join(", ")}`,
    "Planted bugs (--mutant):",
    ...catalogue.mutants.map((m) => `  ${m.name}: ${m.description}`),
    "",
    "Through npm, `npm run -s sim -- --json ...` keeps npm's banner off stdout, so stdout is JSON only.",
  ].join("\n");
}

function parseArgs(argv: string[], catalogue: Catalogue): CliArgs {
  return yargs(argv)
    .scriptName("npm run sim --")
    .usage("$0 [--seeds N] [--start S] [--workers W] | --seed S [--trace out.jsonl]")
    .epilogue(epilogue(catalogue))
    .wrap(null)
    .option("seeds", { type: "number", default: 1000, describe: "number of seeds in the campaign" })
    .option("start", { type: "number", default: 1, describe: "first seed of the campaign" })
    .option("seed", { type: "number", describe: "replay one seed (prints its trace hash)" })
    .option("workers", { type: "number", default: 1, describe: "worker threads" })
    .option("nodes", { type: "number", describe: "cluster size (default: drawn by the seed, 3 to 5)" })
    .option("duration", { type: "string", default: "60s", describe: "safety phase length in simulated time (e.g. 60s, 1500ms, 2m)" })
    .option("faults", { type: "string", default: "all", describe: "comma-separated fault kinds, all, or none" })
    .option("scenario", { type: "string", default: "kv", describe: "scenario: kv (default), or sim/scenarios/NAME.ts" })
    .option("json", { type: "boolean", default: false, describe: "one JSON summary line on stdout; everything else on stderr" })
    .option("shard", { type: "string", describe: "i/n: run only this CI shard's part of the seeds (1-based i)" })
    .option("trace", { type: "string", describe: "with --seed: write the event trace (JSON lines) here" })
    .option("schedule", { type: "string", describe: "with --seed: run only these fault ids (comma list, or none)" })
    .option("skip-changes", { type: "string", describe: "with --seed: leave out these membership changes (numbers in draw order, comma list), as a shrunk reproduction prints" })
    .option("wire", { type: "boolean", default: false, describe: "gossip: every message through the real wire encoder and decoder" })
    .option("shrink", { type: "boolean", default: true, describe: "shrink the first failing seed's fault schedule" })
    .option("reads", { type: "number", describe: "kv: background reads asked of the leader per tick (half lease, half ReadIndex); default: a third of seeds run 20 to 80, two thirds of those on slow links" })
    .option("mutant", { type: "string", describe: "run a planted-bug mutant (test/mutants/: a Raft core one, or a catalog-* one with --scenario catalog) instead of the real code" })
    .strict()
    .check((a) => {
      if (a.seed === undefined && a.trace !== undefined) throw new Error("--trace needs --seed: a trace is written for one seed");
      if (a.seed === undefined && a.schedule !== undefined) throw new Error("--schedule needs --seed: fault ids name faults of one seed's schedule");
      if (a.seed === undefined && a["skip-changes"] !== undefined) throw new Error("--skip-changes needs --seed: change numbers name one seed's membership changes");
      parseSchedule(a.schedule);
      parseSchedule(a["skip-changes"], "--skip-changes", "membership change number");
      if (a.mutant !== undefined && !catalogue.mutants.some((m) => m.name === a.mutant)) {
        throw new Error(`unknown mutant "${String(a.mutant)}" (known: ${catalogue.mutants.map((m) => m.name).join(", ") || "none in this copy"})`);
      }
      if (a.reads !== undefined && (!Number.isInteger(a.reads) || a.reads < 0)) throw new Error(`--reads must be a whole number of reads per tick, got ${String(a.reads)}`);
      for (const name of ["seeds", "workers", "start"] as const) {
        if (!Number.isInteger(a[name]) || (a[name] as number) < (name === "seeds" ? 1 : 0)) throw new Error(`--${name} must be a whole number, got ${String(a[name])}`);
      }
      return true;
    })
    .fail((message, error) => {
      process.stderr.write(`${(message ?? error?.message ?? "bad arguments").split("\n")[0]}\n`);
      process.exit(EXIT_CODES.usage);
    })
    .parseSync() as unknown as CliArgs;
}

function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null) throw new Error(`bad duration "${text}" (use e.g. 60s, 1500ms, 2m)`);
  const value = Number(match[1]);
  const unitMs = match[2] === "ms" ? 1 : match[2] === "m" ? 60_000 : 1_000;
  return Math.round(value * unitMs);
}

function parseShard(text: string | undefined): { index: number; count: number } | null {
  if (text === undefined) return null;
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (match === null || count < 1 || index < 1 || index > count) throw new Error(`bad --shard "${text}" (use i/n with 1 <= i <= n)`);
  return { index, count };
}

function parseSchedule(text: string | undefined, option = "--schedule", what = "fault id"): number[] | undefined {
  if (text === undefined) return undefined;
  if (text === "none" || text === "") return [];
  return text.split(",").map((s) => {
    const id = Number(s);
    if (!Number.isInteger(id) || id < 0) throw new Error(`bad ${what} "${s}" in ${option}`);
    return id;
  });
}

/** The command line that replays `seed` with the same settings (and, if given, a schedule override). */
function reproCommand(args: CliArgs, seed: number, scheduleIds?: readonly number[], membershipSkips?: readonly number[]): string {
  const parts = [`npm run sim -- --seed ${seed} --scenario ${args.scenario} --duration ${args.duration} --faults ${args.faults}`];
  if (args.nodes !== undefined) parts.push(`--nodes ${args.nodes}`);
  if (args.mutant !== undefined) parts.push(`--mutant ${args.mutant}`);
  if (args.reads !== undefined) parts.push(`--reads ${args.reads}`);
  if (args.wire) parts.push("--wire");
  if (scheduleIds !== undefined) parts.push(`--schedule ${scheduleIds.length === 0 ? "none" : scheduleIds.join(",")}`);
  if (membershipSkips !== undefined && membershipSkips.length > 0) parts.push(`--skip-changes ${membershipSkips.join(",")}`);
  return parts.join(" ");
}

function worstOutcome(outcomes: readonly Outcome[]): Outcome {
  for (const kind of SEVERITY) if (outcomes.includes(kind)) return kind;
  return "ok";
}

async function reportFailure(args: CliArgs, options: ScenarioOptions, failing: SeedResult, log: (line: string) => void): Promise<void> {
  log(`seed ${failing.seed} failed (${failing.outcome}, ${checkerOf(failing.outcome, failing.message)}): ${failing.message ?? ""}`);
  const scenario = await loadScenario(args.scenario);
  if (args.shrink && failing.scheduleIds.length > 0) {
    const shrunk = shrinkSchedule(scenario, options, failing);
    log(`shrunk fault schedule (${shrunk.scheduleIds.length} of ${failing.scheduleIds.length} faults, ${shrunk.reruns} reruns): still ${shrunk.result.outcome}`);
    for (const id of shrunk.scheduleIds) log(`  ${describeFault(failing.schedule[id]!)}`);
    log(`  -> ${(shrunk.result.message ?? "").split("\n")[0]}`);
    if (shrunk.faults.length !== options.faults.length) log(`  without ${options.faults.filter((k) => !shrunk.faults.includes(k)).join(", ")}: still the same violation`);
    const drawn = Number(failing.facts["conf.drawn"] ?? 0);
    if (shrunk.membershipSkips.length > 0) log(`  without membership changes ${shrunk.membershipSkips.join(", ")} (of ${drawn} drawn): still the same violation`);
    log(`reproduce (shrunk): ${reproCommand({ ...args, faults: shrunk.faults.join(",") || "none" }, failing.seed, shrunk.scheduleIds, shrunk.membershipSkips)}`);
  }
  log(`reproduce: ${reproCommand(args, failing.seed, options.scheduleIds, options.membershipSkips)}`);
}

/** The planted bugs found at start-up (main fills it); `--mutant` was checked against it. */
let knownMutants: Catalogue["mutants"] = [];

function mutantRef(args: CliArgs): NodeFactoryRef | undefined {
  if (args.mutant === undefined) return undefined;
  const found = knownMutants.find((m) => m.name === args.mutant)!;
  return { module: found.module, exportName: found.exportName, name: args.mutant };
}

async function runOne(args: CliArgs, faults: FaultKind[], durationMs: number): Promise<number> {
  const seed = args.seed!;
  const ref = mutantRef(args);
  const nodeFactory = ref === undefined ? undefined : await resolveNodeFactory(ref);
  const options: ScenarioOptions = { seed, nodes: args.nodes, durationMs, faults, trace: true, scheduleIds: parseSchedule(args.schedule),
    membershipSkips: parseSchedule(args.skipChanges, "--skip-changes", "membership change number"), nodeFactory, readsPerTick: args.reads };
  const scenario = await loadScenario(args.scenario);
  let result: SeedResult;
  try {
    result = scenario.runSeed(options);
  } catch (error) {
    // Bad input to one seed (a schedule id out of range): one line, not a stack.
    process.stderr.write(`${error instanceof Error ? error.message.split("\n")[0] : String(error)}\n`);
    return EXIT_CODES.usage;
  }
  const text = result.trace === null ? "" : result.trace.join("\n") + "\n";
  if (args.trace !== undefined) writeFileSync(args.trace, text);
  const hash = createHash("sha256").update(text).digest("hex");
  const out = args.json ? (line: string) => process.stderr.write(line + "\n") : (line: string) => process.stdout.write(line + "\n");
  out(`seed ${seed} (${args.scenario}): ${result.outcome}, ${result.events} events, ${result.simulatedMs} simulated ms, ${result.scheduleIds.length} faults`);
  // The seed's draws (cluster size, timings, limits, faults) are the trace's first record.
  if (result.trace !== null && result.trace.length > 0) out(`setup: ${result.trace[0]}`);
  out(`facts: ${JSON.stringify(result.facts)}`);
  out(`trace hash: ${hash}`);
  if (args.json) process.stdout.write(JSON.stringify({ ...result.facts, seed, outcome: result.outcome, traceHash: hash, events: result.events, facts: result.facts }) + "\n");
  if (result.outcome !== "ok") await reportFailure(args, { ...options, trace: false }, result, out);
  return EXIT_CODES[result.outcome];
}

async function runMany(args: CliArgs, faults: FaultKind[], durationMs: number): Promise<number> {
  const shard = parseShard(args.shard);
  const seeds = Array.from({ length: args.seeds }, (_, i) => args.start + i)
    .filter((_, i) => shard === null || i % shard.count === shard.index - 1);
  // Without a terminal (CI logs) the bar still prints a line every 10 s rather than nothing.
  const bar = new cliProgress.SingleBar({
    stream: process.stderr, format: "{bar} {value}/{total} seeds | failed {failed} | {duration_formatted}", etaBuffer: 50,
    noTTYOutput: true, notTTYSchedule: 10_000,
  }, cliProgress.Presets.shades_classic);
  let failedSoFar = 0;
  bar.start(seeds.length, 0, { failed: 0 });
  const summary = await runCampaign({
    scenario: args.scenario, seeds, workers: args.workers, nodes: args.nodes, durationMs, faults, seedWallLimitMs: 300_000, readsPerTick: args.reads,
    nodeFactoryRef: mutantRef(args),
    onResult: (r) => {
      if (r.outcome !== "ok") failedSoFar++;
      bar.increment(1, { failed: failedSoFar });
    },
  });
  bar.stop();
  const log = (line: string) => (args.json ? process.stderr : process.stdout).write(line + "\n");
  printSummary(summary, log);
  if (args.json) process.stdout.write(JSON.stringify(jsonSummary(summary, args, durationMs)) + "\n");
  const first = summary.results.find((r) => r.outcome !== "ok");
  if (first !== undefined) {
    const stderrLog = (line: string) => process.stderr.write(line + "\n");
    const ref = mutantRef(args);
    const nodeFactory = ref === undefined ? undefined : await resolveNodeFactory(ref);
    await reportFailure(args, { seed: first.seed, nodes: args.nodes, durationMs, faults, nodeFactory, readsPerTick: args.reads }, first, args.json ? stderrLog : log);
  }
  return EXIT_CODES[worstOutcome(summary.results.map((r) => r.outcome))];
}

function printSummary(summary: CampaignSummary, log: (line: string) => void): void {
  log(`${summary.scenario}: ${summary.seeds} seeds, ${summary.failed.length} failed (crash ${summary.outcomes.crash}, liveness ${summary.outcomes.liveness}, safety ${summary.outcomes.safety}) in ${(summary.wallMs / 1000).toFixed(1)} s`);
  log(`throughput: ${summary.eventsPerSec} simulated events/s, ${summary.seedsPerMin} seeds/min, ${summary.events} events over ${(summary.simulatedMs / 1000).toFixed(0)} simulated s`);
  for (const f of summary.failures.slice(0, 20)) log(`  seed ${f.seed}: ${f.outcome} (${checkerOf(f.outcome, f.message)}): ${f.message}`);
  if (summary.failures.length > 20) log(`  ... and ${summary.failures.length - 20} more`);
}

function jsonSummary(summary: CampaignSummary, args: CliArgs, durationMs: number): Record<string, unknown> {
  return {
    seeds: summary.seeds, failed: summary.failed, eventsPerSec: summary.eventsPerSec, seedsPerMin: summary.seedsPerMin,
    scenario: summary.scenario, start: args.start, shard: args.shard ?? null, durationMs, faults: args.faults,
    outcomes: summary.outcomes, events: summary.events, simulatedMs: summary.simulatedMs, wallMs: summary.wallMs,
    failures: summary.failures.map((f) => ({ seed: f.seed, outcome: f.outcome, checker: checkerOf(f.outcome, f.message), message: f.message })),
  };
}

async function main(): Promise<number> {
  const catalogue = await loadCatalogue();
  knownMutants = catalogue.mutants;
  const args = parseArgs(hideBin(process.argv), catalogue);
  // The gossip scenario reads this (worker threads inherit the environment).
  if (args.wire) process.env.PRAETOR_GOSSIP_WIRE = "1";
  let faults: FaultKind[];
  let durationMs: number;
  try {
    faults = parseFaults(args.faults);
    durationMs = parseDurationMs(args.duration);
    await loadScenario(args.scenario);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_CODES.usage;
  }
  return args.seed !== undefined ? runOne(args, faults, durationMs) : runMany(args, faults, durationMs);
}

process.exitCode = await main();
