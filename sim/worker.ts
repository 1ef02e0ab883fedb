import { parentPort } from "node:worker_threads";
import { loadScenario } from "./scenarios/index.ts";
import type { ScenarioOptions } from "./scenarios/types.ts";
import { resolveNodeFactory, type NodeFactoryRef } from "./run.ts";

/** A campaign worker: runs the seeds it is handed, one at a time, and posts each result back. */
export interface WorkerRequest {
  readonly scenario: string;
  readonly options: ScenarioOptions;
  readonly nodeFactoryRef?: NodeFactoryRef;
}

if (parentPort !== null) {
  const port = parentPort;
  port.on("message", (request: WorkerRequest | null) => {
    if (request === null) {
      port.close();
      return;
    }
    void Promise.all([
      loadScenario(request.scenario),
      request.nodeFactoryRef === undefined ? undefined : resolveNodeFactory(request.nodeFactoryRef),
    ]).then(([scenario, nodeFactory]) => {
      const result = scenario.runSeed({ ...request.options, nodeFactory, trace: false });
      port.postMessage({ ...result, trace: null });
    }).catch((error: unknown) => {
      port.postMessage({ error: error instanceof Error ? error.message : String(error), seed: request.options.seed });
    });
  });
}
