import test from "ava";
import { FAULT_KINDS } from "../../sim/faults.ts";
import { runCatalogSeed } from "../../sim/scenarios/catalog.ts";

const options = (seed: number) => ({ seed, durationMs: 15_000, faults: FAULT_KINDS });

test("catalog scenario: a few seeds with every fault pass all checkers", (t) => {
  for (const seed of [1, 2, 3, 4]) {
    const result = runCatalogSeed(options(seed));
    t.is(result.outcome, "ok", `seed ${seed}: ${result.message?.split("\n")[0] ?? ""}`);
    t.true(Number(result.facts["hashesCompared"]) > 0, `seed ${seed} compared no snapshot hashes`);
    t.true(Number(result.facts["historyOps"]) > 0, `seed ${seed} recorded no KV history`);
  }
});

test("catalog scenario: the same seed replays exactly", (t) => {
  const a = runCatalogSeed({ ...options(7), trace: true });
  const b = runCatalogSeed({ ...options(7), trace: true });
  t.is(a.events, b.events);
  t.deepEqual(a.facts, b.facts);
  t.deepEqual(a.trace, b.trace);
});
