// Run one simulator seed of the kv scenario, with every fault kind, and print its verdict.
import { FAULT_KINDS, runSeed } from "praetor";

const seed = Number(process.argv[2] ?? 42);
const result = await runSeed({ seed, scenario: "kv", durationMs: 20_000, faults: FAULT_KINDS });
console.log(JSON.stringify({ seed: result.seed, outcome: result.outcome, events: result.events, simulatedMs: result.simulatedMs }));
process.exit(result.outcome === "ok" ? 0 : 1);
