// Stryker test runner "praetor": runs the Raft unit tests, property tests and a simulator campaign
// (test/mutation/suite.ts) inside one long-lived process, switching mutants between runs through
// Stryker's instrumentation globals instead of spawning ava per mutant. It reports per-test
// coverage, so each mutant runs only the tests that reach it.
//
// PRAETOR_MUTATION_ONLY=sim (or tests) keeps only the simulator seeds (or only the test files), to
// measure what each kills alone; PRAETOR_MUTATION_SIM_SEEDS changes the number of seeds.
//
// This file is plain JavaScript because Stryker's main process imports it without a TypeScript
// loader. The TypeScript suite is imported from the sandbox (process.cwd()), whose `src` holds the
// instrumented code; importing it relative to this file would load the unmutated originals.
import { register } from "node:module";
import { pathToFileURL } from "node:url";
import { PluginKind, commonTokens, declareClassPlugin, tokens } from "@stryker-mutator/api/plugin";
import { DryRunStatus, TestStatus, determineHitLimitReached, toMutantRunResult } from "@stryker-mutator/api/test-runner";
import { INSTRUMENTER_CONSTANTS } from "@stryker-mutator/api/core";

const strykerGlobal = () => (globalThis[INSTRUMENTER_CONSTANTS.NAMESPACE] ??= {});

class PraetorTestRunner {
  static inject = tokens(commonTokens.logger);

  constructor(logger) {
    this.logger = logger;
    this.suite = undefined;
    this.tests = undefined;
  }

  // ES modules cannot be unloaded: a mutant that acts at load time needs a fresh process, which
  // Stryker starts when the runner says it cannot reload.
  capabilities() {
    return { reloadEnvironment: false };
  }

  async load() {
    if (this.tests !== undefined) return;
    const root = pathToFileURL(`${process.cwd()}/`);
    const { register: registerTsx } = await import("tsx/esm/api");
    registerTsx();
    register(new URL("test/mutation/ava-alias-hooks.mjs", root));
    this.suite = await import(new URL("test/mutation/suite.ts", root).href);
    const seeds = Number(process.env.PRAETOR_MUTATION_SIM_SEEDS ?? this.suite.DEFAULT_SIM_CAMPAIGN.seeds);
    const part = process.env.PRAETOR_MUTATION_ONLY ?? "all";
    if (!["all", "sim", "tests"].includes(part)) throw new Error(`PRAETOR_MUTATION_ONLY=${part}: expected all, sim or tests`);
    if (!Number.isInteger(seeds) || seeds < 0) throw new Error(`PRAETOR_MUTATION_SIM_SEEDS=${process.env.PRAETOR_MUTATION_SIM_SEEDS}: expected a count of seeds`);
    this.tests = await this.suite.loadSuite(process.cwd(), { ...this.suite.DEFAULT_SIM_CAMPAIGN, seeds }, part);
    this.logger.debug(`praetor runner: ${this.tests.length} tests loaded from ${process.cwd()}`);
  }

  async dryRun(options) {
    const ns = strykerGlobal();
    ns[INSTRUMENTER_CONSTANTS.ACTIVE_MUTANT] = undefined;
    try {
      await this.load();
    } catch (error) {
      return { status: DryRunStatus.Error, errorMessage: `loading the mutation suite failed: ${error?.stack ?? error}` };
    }
    const perTest = options.coverageAnalysis === "perTest";
    const outcomes = await this.suite.runTests(this.tests, {
      bail: false,
      beforeEach: (test) => { if (perTest) ns[INSTRUMENTER_CONSTANTS.CURRENT_TEST_ID] = test.id; },
      afterEach: () => { ns[INSTRUMENTER_CONSTANTS.CURRENT_TEST_ID] = undefined; },
    });
    const result = { status: DryRunStatus.Complete, tests: outcomes.map(toTestResult) };
    if (options.coverageAnalysis !== "off") result.mutantCoverage = ns[INSTRUMENTER_CONSTANTS.MUTATION_COVERAGE_OBJECT];
    return result;
  }

  async mutantRun(options) {
    const ns = strykerGlobal();
    const mutantId = options.activeMutant.id;
    if (options.mutantActivation === "static") ns[INSTRUMENTER_CONSTANTS.ACTIVE_MUTANT] = mutantId;
    await this.load();
    const wanted = options.testFilter === undefined ? undefined : new Set(options.testFilter);
    const tests = wanted === undefined ? this.tests : this.tests.filter((t) => wanted.has(t.id));
    ns[INSTRUMENTER_CONSTANTS.HIT_LIMIT] = options.hitLimit;
    ns[INSTRUMENTER_CONSTANTS.HIT_COUNT] = options.hitLimit === undefined ? undefined : 0;
    ns[INSTRUMENTER_CONSTANTS.ACTIVE_MUTANT] = mutantId;
    let outcomes;
    try {
      outcomes = await this.suite.runTests(tests, { bail: !options.disableBail });
    } finally {
      ns[INSTRUMENTER_CONSTANTS.ACTIVE_MUTANT] = undefined;
    }
    const timeout = determineHitLimitReached(ns[INSTRUMENTER_CONSTANTS.HIT_COUNT], ns[INSTRUMENTER_CONSTANTS.HIT_LIMIT]);
    ns[INSTRUMENTER_CONSTANTS.HIT_LIMIT] = undefined;
    ns[INSTRUMENTER_CONSTANTS.HIT_COUNT] = undefined;
    if (timeout !== undefined) return toMutantRunResult(timeout);
    return toMutantRunResult({ status: DryRunStatus.Complete, tests: outcomes.map(toTestResult) });
  }
}

function toTestResult(outcome) {
  const base = { id: outcome.id, name: outcome.name, timeSpentMs: outcome.timeSpentMs, fileName: outcome.fileName };
  return outcome.failure === null
    ? { ...base, status: TestStatus.Success }
    : { ...base, status: TestStatus.Failed, failureMessage: outcome.failure };
}

export const strykerPlugins = [declareClassPlugin(PluginKind.TestRunner, "praetor", PraetorTestRunner)];
