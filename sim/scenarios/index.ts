import { kvScenario } from "./kv.ts";
import type { Scenario } from "./types.ts";

/**
 * The scenario registry behind `--scenario`. A scenario is a module that runs one seed and returns
 * a SeedResult. Built-in ones register here; any other `--scenario NAME` is loaded from
 * `sim/scenarios/NAME.ts`, which must export `scenario: Scenario`, so a new scenario is one new
 * file and no edit elsewhere.
 */
const registry = new Map<string, Scenario>([[kvScenario.name, kvScenario]]);

export function registerScenario(scenario: Scenario): void {
  if (registry.has(scenario.name)) throw new Error(`scenario "${scenario.name}" is already registered`);
  registry.set(scenario.name, scenario);
}

export async function loadScenario(name: string): Promise<Scenario> {
  const known = registry.get(name);
  if (known !== undefined) return known;
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`bad scenario name "${name}"`);
  let module: { scenario?: Scenario };
  try {
    module = (await import(`./${name}.ts`)) as { scenario?: Scenario };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new Error(`unknown scenario "${name}" (built in: ${[...registry.keys()].join(", ")}; no loadable sim/scenarios/${name}.ts: ${reason})`);
  }
  if (module.scenario === undefined || typeof module.scenario.runSeed !== "function") {
    throw new Error(`sim/scenarios/${name}.ts does not export "scenario" with runSeed()`);
  }
  registry.set(name, module.scenario);
  return module.scenario;
}
