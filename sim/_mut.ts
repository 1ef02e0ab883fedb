import { raftMutants } from "../test/mutants/raft-mutants.ts";
import { kvScenario } from "./scenarios/kv.ts";
import { FAULT_KINDS } from "./faults.ts";
const durationMs = Number(process.argv[2] ?? 20000);
for (const m of raftMutants) {
  const t0 = performance.now();
  const fails: string[] = [];
  for (let seed = 1; seed <= 40 && fails.length < 3; seed++) {
    const r = kvScenario.runSeed({ seed, durationMs, faults: [...FAULT_KINDS], nodeFactory: m.make });
    if (r.outcome !== "ok") fails.push(`${seed}:${r.outcome}:${(r.message ?? "").split("\n")[0]!.slice(0, 90)}`);
  }
  console.log(m.name, ((performance.now() - t0) / 1000).toFixed(1) + "s");
  for (const f of fails) console.log("   ", f);
}
