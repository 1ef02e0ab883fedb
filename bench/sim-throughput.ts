/**
 * Simulator throughput on this machine: a 5-node, 60-simulated-second KV campaign with every
 * fault kind, run once in one thread (per-core cost) and once over worker threads (what
 * `npm run sim -- --workers W` achieves). Prints simulated events per second and seeds per minute.
 *
 *   npm run bench:sim [-- --seeds 40 --workers 2]
 */
import { FAULT_KINDS } from "../sim/faults.ts";
import { runCampaign, type CampaignSummary } from "../sim/run.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const seedCount = flag("seeds", 40);
const workers = flag("workers", 2);
const seeds = Array.from({ length: seedCount }, (_, i) => 1 + i);
const base = { nodes: 5, durationMs: 60_000, faults: [...FAULT_KINDS] };

function report(label: string, s: CampaignSummary): void {
  const perSeedMs = s.wallMs / Math.max(1, s.seeds);
  process.stdout.write(
    `${label}: ${s.seeds} seeds in ${(s.wallMs / 1000).toFixed(1)} s wall | ${s.eventsPerSec} simulated events/s | ` +
    `${s.seedsPerMin} seeds/min | ${Math.round(s.events / s.seeds)} events/seed | ${perSeedMs.toFixed(0)} ms/seed | ` +
    `failed ${s.failed.length}\n`,
  );
}

process.stdout.write(`sim throughput: kv scenario, 5 nodes, 60 simulated s per seed, faults all\n`);
report("1 thread", await runCampaign({ ...base, seeds: seeds.slice(0, Math.max(1, seedCount >> 1)), workers: 1 }));
report(`${workers} workers`, await runCampaign({ ...base, seeds, workers }));
