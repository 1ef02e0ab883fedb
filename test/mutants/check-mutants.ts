/**
 * Test-only mutants of what decides a health check's fate on an agent (issue 13): each subclass
 * of a core the agent runs (CheckStates, LocalSync, the catalog's ?passing) plants one defect, so
 * the agent scenario's health checkers (sim/checkers/health-checker.ts) must catch it. The
 * production code carries no bug switches; the scenario takes the factories as options.
 */
import { CheckStates } from "../../src/core/agent/check-states.ts";
import { LocalSync } from "../../src/core/agent/local-sync.ts";
import { Catalog, defaultCatalogConfig } from "../../src/core/catalog/index.ts";
import type { ServiceFilter } from "../../src/core/catalog/queries.ts";
import type { CheckResultStatus } from "../../src/core/checks/types.ts";
import type { AgentRunOptions } from "../../sim/scenarios/agent.ts";

/** Every probe result is reported as it comes: success_before_passing and failures_before_* ignored. */
class ThresholdsIgnored extends CheckStates {
  override probeResult(id: string, status: CheckResultStatus, output: string, nowMs: number) {
    return this.directResult(id, status, output, nowMs);
  }
}

/** The reaper reads a clock an hour ahead: services are deregistered as soon as a check turns critical. */
class DeregisterAtOnce extends CheckStates {
  override dueDeregistrations(nowMs: number) {
    return super.dueDeregistrations(nowMs + 3_600_000);
  }
}

/** Anti-entropy writes every output change at once: check_update_interval ignored. */
class OutputNotBatched extends LocalSync {
  constructor(...[host, local, config]: ConstructorParameters<typeof LocalSync>) {
    super(host, local, { ...config, checkUpdateIntervalMs: 0 });
  }
}

/** A local change (a check's new status among them) does not start a sync: it waits for the periodic full sync. */
class ChangeWaitsForPeriodicSync extends LocalSync {
  override changed(): void {}
}

/** ?passing looks at the instance's own checks only: a failing node check leaves its instances listed. */
class PassingIgnoresNodeChecks extends Catalog {
  override healthService(name: string, filter?: ServiceFilter) {
    if (filter?.passing !== true) return super.healthService(name, filter);
    const all = super.healthService(name, { ...filter, passing: false });
    return { ...all, value: all.value.filter((e) => e.Checks.every((c) => c.ServiceID === "" || c.Status === "passing")) };
  }
}

export interface CheckMutant {
  readonly name: string;
  readonly description: string;
  readonly options: Pick<AgentRunOptions, "checkStatesFactory" | "localSyncFactory" | "catalogFactory">;
}

export const checkMutants: readonly CheckMutant[] = [
  { name: "check-thresholds-ignored", description: "probe results skip success_before_passing / failures_before_warning / failures_before_critical", options: { checkStatesFactory: (c) => new ThresholdsIgnored(c) } },
  { name: "check-deregister-at-once", description: "a critical service is deregistered without waiting deregister_critical_service_after", options: { checkStatesFactory: (c) => new DeregisterAtOnce(c) } },
  { name: "check-output-not-batched", description: "output-only changes are written at once, check_update_interval ignored", options: { localSyncFactory: (h, l, c) => new OutputNotBatched(h, l, c) } },
  { name: "check-change-waits-for-periodic-sync", description: "a check's status change waits for the periodic full sync instead of syncing at once", options: { localSyncFactory: (h, l, c) => new ChangeWaitsForPeriodicSync(h, l, c) } },
  { name: "check-passing-ignores-node-checks", description: "health/service ?passing ignores the node's checks", options: { catalogFactory: () => new PassingIgnoresNodeChecks(defaultCatalogConfig()) } },
];
