/**
 * Test-only mutants of the catalog: each subclass of `Catalog` reverts one fix of issue 14
 * (defects 5 and 6), so the simulator's catalog checkers and the property tests must catch it.
 * The production code carries no bug switches.
 *
 * Wiring: the simulator picks a core through `ScenarioOptions.nodeFactory`, which crosses worker
 * threads by name (`NodeFactoryRef`). A catalog mutant's `make` is therefore the production Raft
 * node factory carrying one extra property, `makeCatalog`, which the catalog scenario reads
 * (`catalogFactoryOf` in sim/scenarios/catalog.ts); the Raft core stays the real one.
 */
import { Catalog, defaultCatalogConfig, type CatalogConfig } from "../../src/core/catalog/index.ts";
import type { NodeFactory } from "../../sim/raft-cluster.ts";
import { defaultNodeFactory } from "../../sim/raft-core.ts";

export type CatalogFactory = (config: CatalogConfig) => Catalog;

export interface CatalogMutant {
  readonly name: string;
  readonly description: string;
  readonly makeCatalog: CatalogFactory;
  /** The production Raft core with `makeCatalog` attached, for `--mutant` and `runCampaign`. */
  readonly make: NodeFactory & { readonly makeCatalog: CatalogFactory };
}

/** Defect 5 as reported: `catalog/node/:node` answers the nodes/services index, though checks move its scope. */
class CatalogNodeIndexFromTables extends Catalog {
  override catalogNode(name: string): ReturnType<Catalog["catalogNode"]> {
    const answer = super.catalogNode(name);
    const tables = this.scopeIndex([{ kind: "table", table: "nodes" }, { kind: "table", table: "services" }]);
    return { ...answer, index: Math.max(1, tables) };
  }
}

/** Defect 5: `health/node/:node` answers the checks table's index, though service changes move its scope. */
class HealthNodeIndexFromChecksTable extends Catalog {
  override healthNode(name: string): ReturnType<Catalog["healthNode"]> {
    const answer = super.healthNode(name);
    return { ...answer, index: Math.max(1, this.scopeIndex([{ kind: "table", table: "checks" }])) };
  }
}

/** Defect 5: `health/checks/:service` answers the checks table's index, not its service's. */
class HealthChecksIndexFromChecksTable extends Catalog {
  override healthChecks(service: string, filter?: Parameters<Catalog["healthChecks"]>[1]): ReturnType<Catalog["healthChecks"]> {
    const answer = super.healthChecks(service, filter);
    return { ...answer, index: Math.max(1, this.scopeIndex([{ kind: "table", table: "checks" }])) };
  }
}

/** Defect 6: a new leader keeps the log's renew times, so its first sweep expires sessions whose renewals failed during the failover. */
class SessionTimersNotReset extends Catalog {
  override resetSessionTimers(_nowMs: number): void {}
}

const mutant = (name: string, description: string, Mutant: typeof Catalog): CatalogMutant => {
  const makeCatalog: CatalogFactory = (config) => new Mutant(config);
  const make = Object.assign(((config, persisted, rng) => defaultNodeFactory(config, persisted, rng)) as NodeFactory, { makeCatalog });
  return { name, description, makeCatalog, make };
};

export const catalogMutants: readonly CatalogMutant[] = [
  mutant("catalog-node-index-from-tables", "catalog/node/:node reports the nodes/services index while checks move its scope (defect 5)", CatalogNodeIndexFromTables),
  mutant("catalog-health-node-index-from-checks", "health/node/:node reports the checks table index while services move its scope (defect 5)", HealthNodeIndexFromChecksTable),
  mutant("catalog-health-checks-index-from-checks", "health/checks/:service reports the checks table index, not its service's (defect 5)", HealthChecksIndexFromChecksTable),
  mutant("catalog-session-timers-not-reset", "a new leader does not reset session timers on election (defect 6)", SessionTimersNotReset),
];

/** The production catalog, for tests that run the same harness on it and on the mutants. */
export const productionCatalog: CatalogFactory = (config = defaultCatalogConfig()) => new Catalog(config);
