import { Worker } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { loadScenario } from "./scenarios/index.ts";
import type { Outcome, ScenarioOptions, SeedResult } from "./scenarios/types.ts";
import type { NodeFactory } from "./raft-cluster.ts";
import type { WorkerRequest } from "./worker.ts";

export type SeedOptions = ScenarioOptions & { readonly scenario?: string };

/** Run one seed of a scenario in this thread (the programmatic API behind `--seed`). */
export async function runSeed(options: SeedOptions): Promise<SeedResult> {
  const scenario = await loadScenario(options.scenario ?? "kv");
  return scenario.runSeed(options);
}

/**
 * A node factory named by module, so worker threads can load it (functions cannot cross threads):
 * `module` exports an array `exportName` of `{ name, make }`, and `name` picks one. The planted-bug
 * test uses it to run mutants over workers.
 */
export interface NodeFactoryRef {
  readonly module: string;
  readonly exportName: string;
  readonly name: string;
}

export interface CampaignOptions extends Omit<ScenarioOptions, "seed" | "trace" | "scheduleIds"> {
  readonly scenario?: string;
  readonly seeds: readonly number[];
  /** 0 or 1 runs in this thread; more spreads seeds over worker threads. */
  readonly workers?: number;
  readonly nodeFactoryRef?: NodeFactoryRef;
  /**
   * Wall-clock limit per seed in worker mode. A core stuck in a synchronous loop never returns to
   * the simulator, so only a watchdog outside its thread can report it (as a crash). It never
   * decides anything about a seed that finishes.
   */
  readonly seedWallLimitMs?: number;
  /** Called as each seed finishes (in completion order, which varies with scheduling). */
  readonly onResult?: (result: SeedResult) => void;
  /** Stop handing out seeds once this many failed (a bug hunt needs only the first). */
  readonly stopAfterFailures?: number;
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
    : await new WorkerPool(scenarioName, options, workers).run();
  results.sort((a, b) => a.seed - b.seed);
  return summarize(scenarioName, results, performance.now() - startedMs);
}

export async function resolveNodeFactory(ref: NodeFactoryRef): Promise<NodeFactory> {
  const module = (await import(ref.module)) as Record<string, unknown>;
  const list = module[ref.exportName] as readonly { name: string; make: NodeFactory }[] | undefined;
  const found = list?.find((m) => m.name === ref.name);
  if (found === undefined) throw new Error(`no node factory "${ref.name}" in ${ref.module} export ${ref.exportName}`);
  return found.make;
}

async function runInThread(scenarioName: string, options: CampaignOptions): Promise<SeedResult[]> {
  const scenario = await loadScenario(scenarioName);
  const nodeFactory = options.nodeFactory ?? (options.nodeFactoryRef === undefined ? undefined : await resolveNodeFactory(options.nodeFactoryRef));
  const results: SeedResult[] = [];
  let failures = 0;
  for (const seed of options.seeds) {
    const result = scenario.runSeed({ ...seedOptionsOf(options), nodeFactory, seed });
    results.push(result);
    options.onResult?.(result);
    if (result.outcome !== "ok" && ++failures >= (options.stopAfterFailures ?? Infinity)) break;
  }
  return results;
}

function seedOptionsOf(options: CampaignOptions): Omit<ScenarioOptions, "seed"> {
  return { nodes: options.nodes, durationMs: options.durationMs, faults: options.faults, nodeFactory: options.nodeFactory, readsPerTick: options.readsPerTick };
}

type WorkerReply = SeedResult | { readonly error: string; readonly seed: number };

/** Hands seeds one at a time to worker threads; replaces a worker that hangs on a seed. */
class WorkerPool {
  private readonly queue: number[];
  private readonly results: SeedResult[] = [];
  private readonly base: Omit<ScenarioOptions, "seed" | "nodeFactory">;
  private live = 0;
  private failures = 0;
  private resolve: (results: SeedResult[]) => void = () => {};
  private reject: (error: Error) => void = () => {};

  constructor(private readonly scenario: string, private readonly options: CampaignOptions, private readonly size: number) {
    this.queue = [...options.seeds];
    this.base = { nodes: options.nodes, durationMs: options.durationMs, faults: options.faults, readsPerTick: options.readsPerTick };
  }

  run(): Promise<SeedResult[]> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      const count = Math.min(this.size, this.queue.length);
      if (count === 0) resolve(this.results);
      for (let i = 0; i < count; i++) this.spawn();
    });
  }

  private spawn(): void {
    const worker = startWorker();
    this.live++;
    let seed: number | undefined;
    let watchdog: NodeJS.Timeout | undefined;
    const feed = (): void => {
      seed = this.queue.shift();
      const request: WorkerRequest | null = seed === undefined ? null
        : { scenario: this.scenario, options: { ...this.base, seed }, nodeFactoryRef: this.options.nodeFactoryRef };
      worker.postMessage(request);
      if (seed !== undefined && this.options.seedWallLimitMs !== undefined) {
        watchdog = setTimeout(() => this.onHang(worker, seed!), this.options.seedWallLimitMs);
      }
    };
    worker.on("message", (reply: WorkerReply) => {
      clearTimeout(watchdog);
      if ("error" in reply) {
        this.reject(new Error(`worker failed on seed ${reply.seed}: ${reply.error}`));
        void worker.terminate();
        return;
      }
      this.accept(reply);
      feed();
    });
    worker.on("error", (error) => this.reject(error));
    worker.on("exit", () => {
      clearTimeout(watchdog);
      if (--this.live === 0) this.resolve(this.results);
    });
    feed();
  }

  private onHang(worker: Worker, seed: number): void {
    this.accept({
      seed, scenario: this.scenario, outcome: "crash", events: 0, simulatedMs: 0, schedule: [], scheduleIds: [], trace: null, facts: {},
      message: `hang: seed ${seed} reached no verdict within ${this.options.seedWallLimitMs} ms of wall time (a synchronous loop)`,
    });
    this.spawn();
    void worker.terminate();
  }

  private accept(result: SeedResult): void {
    this.results.push(result);
    this.options.onResult?.(result);
    if (result.outcome !== "ok" && ++this.failures >= (this.options.stopAfterFailures ?? Infinity)) this.queue.length = 0;
  }
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
