/**
 * Gossip at scale: runs the simulator's gossip scenario (no faults) at 100, 1,000 and 10,000
 * members and prints convergence after a join storm, failure-detection time, messages and bytes
 * per member per second in steady state, and memory per member; then the accuracy experiment:
 * 10% loss with one slow member, Lifeguard on versus off, false positives counted.
 *
 *   node --expose-gc --max-old-space-size=8192 --import tsx bench/gossip.ts [--sizes 100,1000,10000] [--seed 7]
 *
 * 100 and 1,000 members run a full join storm. At 10,000 a full storm is O(N^2) gossip to
 * simulate, so the pool starts formed and 100 members join it (the storm figure says which).
 */
import { runGossip } from "../sim/scenarios/gossip.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const sizes = arg("sizes", "100,1000,10000").split(",").map(Number).filter((n) => n > 0);
const seed = Number(arg("seed", "7"));
const accuracySeeds = Number(arg("accuracy-seeds", "10"));

function scaleRow(n: number): void {
  const started = performance.now();
  const preformed = n > 1_000;
  const r = runGossip({ seed, nodes: n, durationMs: 60_000, faults: [], preformed, joinStormSize: 100 });
  const f = r.facts;
  const wallSec = ((performance.now() - started) / 1000).toFixed(0);
  const storm = preformed ? `${f.joinStorm} joining a formed pool` : `all ${n} joining`;
  console.log(
    `N=${String(n).padStart(6)}  ${r.outcome.padEnd(8)} converged ${f.convergedMs} ms (${storm})  detect ${f.detectMs} ms  ` +
    `left ${f.leftMs} ms  ${f.msgsPerMemberPerSec} msgs/member/s  ${f.bytesPerMemberPerSec} B/member/s  ` +
    `heap ${Math.round(Number(f.heapBytesPerMember) / 1024)} KiB/member  false positives ${f.falsePositives}  (wall ${wallSec} s)`,
  );
  if (r.outcome !== "ok") console.log(`  ${r.message}`);
}

function accuracy(lifeguard: boolean): { fp: number; failed: number } {
  let fp = 0;
  let failed = 0;
  for (let s = 1; s <= accuracySeeds; s++) {
    const r = runGossip({ seed: s, nodes: 50, durationMs: 120_000, faults: [], lifeguard, baseLossRate: 0.1, slowLagMs: 1_500, quiet: true });
    fp += Number(r.facts.falsePositives);
    failed += Number(r.facts.failedEvents);
  }
  return { fp, failed };
}

console.log(`gossip bench, seed ${seed}, LAN defaults, no faults`);
for (const n of sizes) scaleRow(n);
console.log(`accuracy: 50 members, 10% UDP loss, one slow member (up to 1.5 s lag each way), 120 s, ${accuracySeeds} seeds`);
for (const lifeguard of [true, false]) {
  const { fp, failed } = accuracy(lifeguard);
  console.log(`  Lifeguard ${lifeguard ? "on " : "off"}: ${fp} false positives (live members declared failed, summed over members' views)`);
  void failed;
}
