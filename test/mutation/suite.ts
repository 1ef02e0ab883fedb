import { readdirSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import { collectTests, ExecutionContext, type RegisteredTest } from "./ava-shim.ts";
import { FAULT_KINDS } from "../../sim/faults.ts";
import { runSeed } from "../../sim/run.ts";

/**
 * The tests that kill Raft mutants, loaded into one process: the Raft unit and property test
 * files (through the ava shim) and a kv simulator campaign with every fault kind, one test per
 * seed. `stryker-plugin.mjs` runs them for Stryker; `npm run mutation` scores `src/core/raft`.
 *
 * Ids are stable across processes (file and title, or scenario and seed), because Stryker records
 * per-test coverage in the dry run and later asks another process to run a subset by id.
 */

/** Test files that exercise the Raft core, relative to the project root: all of `test/raft` and these. */
const RAFT_TEST_NEIGHBOURS: readonly string[] = [
  "test/sim/raft-host.test.ts",
  "test/sim/membership.test.ts",
  "property-tests/raft-quorum.test.ts",
  "property-tests/raft-interleavings.test.ts",
];

export const MUTATION_TEST_FILES: readonly string[] = [
  ...readdirSync(new URL("../raft/", import.meta.url))
    .filter((name) => name.endsWith(".test.ts"))
    .sort()
    .map((name) => `test/raft/${name}`),
  ...RAFT_TEST_NEIGHBOURS,
];

export interface SimCampaign {
  readonly seeds: number;
  readonly durationMs: number;
}

/** The simulator part: seeds 1..seeds of the kv scenario with all faults. */
export const DEFAULT_SIM_CAMPAIGN: SimCampaign = { seeds: 100, durationMs: 20_000 };

export interface SuiteTest {
  readonly id: string;
  readonly name: string;
  readonly fileName: string | undefined;
  run(): Promise<void>;
}

export interface TestOutcome {
  readonly id: string;
  readonly name: string;
  readonly fileName: string | undefined;
  readonly timeSpentMs: number;
  /** null when the test passed. */
  readonly failure: string | null;
}

function simTests(campaign: SimCampaign): SuiteTest[] {
  const tests: SuiteTest[] = [];
  for (let seed = 1; seed <= campaign.seeds; seed++) {
    const id = `sim kv seed ${seed}`;
    tests.push({
      id,
      name: `${id} (${campaign.durationMs / 1000} s, all faults)`,
      fileName: undefined,
      run: async () => {
        const result = await runSeed({ seed, durationMs: campaign.durationMs, faults: FAULT_KINDS, scenario: "kv" });
        if (result.outcome !== "ok") throw new Error(`seed ${seed}: ${result.outcome}: ${result.message ?? ""}`);
      },
    });
  }
  return tests;
}

export type SuitePart = "all" | "sim" | "tests";

/** A module is evaluated once per process, so its registrations are kept for later loads. */
const registeredByUrl = new Map<string, RegisteredTest[]>();

/**
 * Import the test files from `rootDir` (the Stryker sandbox, whose `src` is instrumented) and
 * list every test (or only the simulator's or only the test files', to measure what each kills
 * alone). Unit tests come first: they are cheap and each aims at one rule, so most mutants
 * die before the simulator runs.
 */
export function loadSuite(rootDir: string, campaign: SimCampaign = DEFAULT_SIM_CAMPAIGN, part: SuitePart = "all"): Promise<SuiteTest[]> {
  // Registration is global (test files call the shim's `test` as they load), so loads never overlap.
  const loaded = loadQueue.then(() => loadSuiteNow(rootDir, campaign, part));
  loadQueue = loaded.catch(() => undefined);
  return loaded;
}

let loadQueue: Promise<unknown> = Promise.resolve();

async function loadSuiteNow(rootDir: string, campaign: SimCampaign, part: SuitePart): Promise<SuiteTest[]> {
  const tests: SuiteTest[] = [];
  const seen = new Map<string, number>();
  for (const file of MUTATION_TEST_FILES) {
    const url = pathToFileURL(`${rootDir}/${file}`).href;
    if (!registeredByUrl.has(url)) {
      await import(url);
      registeredByUrl.set(url, collectTests());
    }
    for (const registered of registeredByUrl.get(url) ?? []) {
      const base = `${file} › ${registered.title}`;
      const count = (seen.get(base) ?? 0) + 1;
      seen.set(base, count);
      const id = count === 1 ? base : `${base} #${count}`;
      tests.push({
        id,
        name: id,
        fileName: file,
        run: async () => {
          await registered.run(new ExecutionContext(registered.title));
        },
      });
    }
  }
  const property = tests.filter((t) => t.fileName?.startsWith("property-tests/"));
  const unit = tests.filter((t) => !t.fileName?.startsWith("property-tests/"));
  const sim = simTests(campaign);
  if (part === "sim") return sim;
  if (part === "tests") return [...unit, ...property];
  return [...unit, ...sim, ...property];
}

export interface RunHooks {
  /** Called before and after each test (Stryker's per-test coverage uses them). */
  readonly beforeEach?: (test: SuiteTest) => void;
  readonly afterEach?: (test: SuiteTest) => void;
  /** Stop at the first failure. */
  readonly bail: boolean;
}

/** Run `tests` in order, one at a time; a thrown error or rejected promise is a failure. */
export async function runTests(tests: readonly SuiteTest[], hooks: RunHooks): Promise<TestOutcome[]> {
  const outcomes: TestOutcome[] = [];
  for (const test of tests) {
    hooks.beforeEach?.(test);
    const startedMs = performance.now();
    let failure: string | null = null;
    try {
      await test.run();
    } catch (error) {
      failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    hooks.afterEach?.(test);
    outcomes.push({ id: test.id, name: test.name, fileName: test.fileName, timeSpentMs: performance.now() - startedMs, failure });
    if (failure !== null && hooks.bail) break;
  }
  return outcomes;
}
