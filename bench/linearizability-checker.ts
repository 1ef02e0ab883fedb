/**
 * How long the linearizability checker takes on histories shaped like the simulator's KV
 * workload: concurrent clients, ~5 keys, some indeterminate outcomes (timeouts and crashes).
 * Prints one line per shape; no assertion on the figures.
 *
 *   node --import tsx bench/linearizability-checker.ts
 */
import { checkLinearizable } from "../sim/checkers/linearizability.ts";
import type { HistoryOp, KvOp, KvResult } from "../sim/checkers/history.ts";
import { mulberry32, randomInt, type Rng } from "../src/core/util/rng.ts";

interface Shape {
  readonly ops: number;
  readonly keys: number;
  readonly clients: number;
  /** Fraction of ops whose outcome the client never learns. */
  readonly indeterminate: number;
}

interface Planned {
  readonly id: number;
  readonly client: number;
  readonly op: KvOp;
  readonly callMs: number;
  readonly pointMs: number;
  readonly returnMs: number | null;
  readonly takesEffect: boolean;
}

function randomOp(rng: Rng, id: number, keys: number, written: string[]): KvOp {
  const key = `k${randomInt(rng, 0, keys - 1)}`;
  const roll = rng.next();
  if (roll < 0.4) return { kind: "get", key, mode: rng.next() < 0.5 ? "readIndex" : "lease" };
  if (roll < 0.7) return { kind: "put", key, value: `v${id}` };
  if (roll < 0.9) {
    const expected = written.length > 0 && rng.next() < 0.8 ? written[randomInt(rng, 0, written.length - 1)]! : null;
    return { kind: "cas", key, expected, value: `v${id}` };
  }
  return { kind: "delete", key };
}

/** Each client runs ops one after another; each op takes effect at a random point inside its call. */
function plan(rng: Rng, shape: Shape): Planned[] {
  const planned: Planned[] = [];
  const clientFreeMs = new Array<number>(shape.clients).fill(0);
  const written: string[] = [];
  for (let id = 0; id < shape.ops; id++) {
    const client = id % shape.clients;
    const callMs = clientFreeMs[client]! + randomInt(rng, 0, 20);
    const latencyMs = randomInt(rng, 1, 60);
    const lost = rng.next() < shape.indeterminate;
    const op = randomOp(rng, id, shape.keys, written);
    if (op.kind === "put" || op.kind === "cas") written.push(op.value);
    const pointMs = callMs + rng.next() * latencyMs;
    planned.push({ id, client, op, callMs, pointMs, returnMs: lost ? null : callMs + latencyMs, takesEffect: !lost || rng.next() < 0.5 });
    clientFreeMs[client] = callMs + (lost ? 1000 : latencyMs);
  }
  return planned;
}

function execute(planned: readonly Planned[]): HistoryOp[] {
  const values = new Map<string, string | null>();
  const results = new Map<number, KvResult>();
  for (const p of [...planned].sort((a, b) => a.pointMs - b.pointMs)) {
    if (!p.takesEffect) continue;
    const current = values.get(p.op.key) ?? null;
    if (p.op.kind === "get") results.set(p.id, { kind: "value", value: current });
    if (p.op.kind === "put") values.set(p.op.key, p.op.value);
    if (p.op.kind === "delete") values.set(p.op.key, null);
    if (p.op.kind === "put" || p.op.kind === "delete") results.set(p.id, { kind: "ok" });
    if (p.op.kind === "cas") {
      const swapped = current === p.op.expected;
      if (swapped) values.set(p.op.key, p.op.value);
      results.set(p.id, { kind: "cas", swapped });
    }
  }
  return planned.map((p) => ({
    id: p.id,
    client: p.client,
    op: p.op,
    callMs: p.callMs,
    returnMs: p.returnMs,
    result: p.returnMs === null ? null : results.get(p.id)!,
  }));
}

const shapes: Shape[] = [
  { ops: 2000, keys: 5, clients: 5, indeterminate: 0.02 },
  { ops: 5000, keys: 5, clients: 5, indeterminate: 0.02 },
  { ops: 5000, keys: 5, clients: 10, indeterminate: 0.05 },
  { ops: 20000, keys: 5, clients: 10, indeterminate: 0.02 },
  { ops: 5000, keys: 1, clients: 10, indeterminate: 0.05 },
];
const seeds = 10;
for (const shape of shapes) {
  let states = 0;
  let failures = 0;
  let worstMs = 0;
  const startedMs = performance.now();
  for (let seed = 1; seed <= seeds; seed++) {
    const history = execute(plan(mulberry32(seed), shape));
    const t0 = performance.now();
    const result = checkLinearizable(history);
    worstMs = Math.max(worstMs, performance.now() - t0);
    states += result.statesExplored;
    if (!result.ok) failures++;
  }
  const meanMs = (performance.now() - startedMs) / seeds;
  console.log(
    `ops=${shape.ops} keys=${shape.keys} clients=${shape.clients} indeterminate=${shape.indeterminate}: ` +
      `mean ${meanMs.toFixed(1)} ms/history (worst ${worstMs.toFixed(1)} ms), ` +
      `${Math.round(states / seeds)} states/history, ${failures}/${seeds} not ok`,
  );
}

// A violation at the end of a long history: the cost of finding it and narrowing the window.
{
  const history = execute(plan(mulberry32(7), { ops: 5000, keys: 5, clients: 10, indeterminate: 0.05 }));
  const endMs = Math.max(...history.map((op) => op.returnMs ?? op.callMs)) + 2000;
  const staleRead: HistoryOp[] = [
    { id: 900_001, client: 99, op: { kind: "put", key: "k0", value: "A" }, callMs: endMs, returnMs: endMs + 5, result: { kind: "ok" } },
    { id: 900_002, client: 99, op: { kind: "put", key: "k0", value: "B" }, callMs: endMs + 10, returnMs: endMs + 15, result: { kind: "ok" } },
    { id: 900_003, client: 99, op: { kind: "get", key: "k0", mode: "lease" }, callMs: endMs + 20, returnMs: endMs + 25, result: { kind: "value", value: "A" } },
  ];
  const t0 = performance.now();
  const result = checkLinearizable([...history, ...staleRead]);
  const elapsedMs = performance.now() - t0;
  const window = result.ok ? "none" : result.ops.map((op) => op.id).join(",");
  console.log(`5000 ops + stale read: ${result.ok ? "ok?!" : result.verdict} in ${elapsedMs.toFixed(1)} ms, window ops ${window}`);
}
