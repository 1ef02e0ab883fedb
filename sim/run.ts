import { Worker } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { loadScenario } from "./scenarios/index.ts";
import type { Outcome, ScenarioOptions, SeedResult } from "./scenarios/types.ts";
import type { WorkerRequest } from "./worker.ts";

export type SeedOptions = ScenarioOptions & { readonly scenario?: string };

/** Run one seed of a scenario in this thread (the programmatic API behind `--seed`). */
export async function runSeed(options: SeedOptions): Promise<SeedResult> {
  const scenario = await loadScenario(options.scenario ?? "kv");
  return scenario.runSeed(options);
}

export interface CampaignOptions extends Omit<ScenarioOptions, "seed" | "trace" | "scheduleIds"> {
  readonly scenario?: string;
  readonly seeds: readonly number[];
  /** 0 or 1 runs in this thread; more spreads seeds over worker threads. */
  readonly workers?: number;
  /** Called as each seed finishes (in completion order, which varies with scheduling). */
  readonly onResult?: (result: SeedResult) => void;
}

export interface CampaignSummary {
  readonly scenario: string;
  readonly seeds: number;
  /** Failing seeds, ascending. */
  readonly failed: number[];
  readonly failures: { seed: number; outcome: Outcome; message: string }[];
  readonly outcomes: Record<Outcome, number>;
  readonly events: number;
  readonly simulatedMs: number;
  readonly wallMs: number;
  readonly eventsPerSec: number;
  readonly seedsPerMin: number;
  /** Per-seed results, ordered by seed whatever the worker scheduling was. */
  readonly results: SeedResult[];
}

/** Run many seeds; results are collected by seed, so worker scheduling never changes a verdict. */
export async function runCampaign(options: CampaignOptions): Promise<CampaignSummary> {
  const scenarioName = options.scenario ?? "kv";
  const startedMs = performance.now();
  const workers = options.workers ?? 1;
  const results = workers <= 1 || options.nodeFactory !== undefined
    ? await runInThread(scenarioName, options)
    : await runInWorkers(scenarioName, options, workers);
  results.sort((a, b) => a.seed - b.seed);
  return summarize(scenarioName, results, performance.now() - startedMs);
}

async function runInThread(scenarioName: string, options: CampaignOptions): Promise<SeedResult[]> {
  const scenario = await loadScenario(scenarioName);
  const results: SeedResult[] = [];
  for (const seed of options.seeds) {
    const result = scenario.runSeed({ ...seedOptionsOf(options), seed });
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}

function seedOptionsOf(options: CampaignOptions): Omit<ScenarioOptions, "seed"> {
  return { nodes: options.nodes, durationMs: options.durationMs, faults: options.faults, nodeFactory: options.nodeFactory };
}

function runInWorkers(scenarioName: string, options: CampaignOptions, workerCount: number): Promise<SeedResult[]> {
  const queue = [...options.seeds];
  const results: SeedResult[] = [];
  const base = seedOptionsOf(options);
  return new Promise((resolve, reject) => {
    let live = Math.min(workerCount, queue.length);
    if (live === 0) resolve(results);
    const feed = (worker: Worker): void => {
      const seed = queue.shift();
      const request: WorkerRequest | null = seed === undefined ? null : { scenario: scenarioName, options: { ...base, seed } };
      worker.postMessage(request);
    };
    for (let i = 0; i < live; i++) {
      const worker = startWorker();
      worker.on("message", (message: SeedResult | { error: string; seed: number }) => {
        if ("error" in message) {
          reject(new Error(`worker failed on seed ${message.seed}: ${message.error}`));
          void worker.terminate();
          return;
        }
        results.push(message);
        options.onResult?.(message);
        feed(worker);
      });
      worker.on("error", reject);
      worker.on("exit", () => {
        live--;
        if (live === 0) resolve(results);
      });
      feed(worker);
    }
  });
}

/**
 * A worker thread running `worker.ts`. Node 20 does not carry the parent's `--import tsx` loader
 * hooks into a worker's entry point, so a tiny JS bootstrap registers tsx first, then imports it.
 */
function startWorker(): Worker {
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./worker.ts", import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(bootstrap, { eval: true });
}

function summarize(scenario: string, results: SeedResult[], wallMs: number): CampaignSummary {
  const outcomes: Record<Outcome, number> = { ok: 0, crash: 0, liveness: 0, safety: 0 };
  let events = 0;
  let simulatedMs = 0;
  const failures: CampaignSummary["failures"] = [];
  for (const r of results) {
    outcomes[r.outcome]++;
    events += r.events;
    simulatedMs += r.simulatedMs;
    if (r.outcome !== "ok") failures.push({ seed: r.seed, outcome: r.outcome, message: (r.message ?? "").split("\n")[0]! });
  }
  const wallSec = Math.max(wallMs, 1) / 1000;
  return {
    scenario, seeds: results.length, failed: failures.map((f) => f.seed), failures, outcomes, events, simulatedMs,
    wallMs: Math.round(wallMs), eventsPerSec: Math.round(events / wallSec),
    seedsPerMin: Math.round((results.length / wallSec) * 60 * 10) / 10, results,
  };
}
