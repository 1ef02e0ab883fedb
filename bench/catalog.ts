/**
 * Catalog state machine figures (no Raft, no I/O): apply throughput for KV put and catalog
 * register, memory per 100,000 KV keys and per 10,000 nodes x 10 services, and the cost of
 * waking blocking queries (10,000 waiters on one prefix, and the cost an unrelated write pays
 * when they are registered).
 *
 *   node --import tsx bench/catalog.ts [--keys 100000] [--nodes 10000] [--waiters 10000]
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { Catalog, encodeCommand, type Command } from "../src/core/catalog/index.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  // Memory figures need a forced GC; re-run this script with it exposed.
  const child = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(child.status ?? 1);
}

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const keyCount = arg("keys", 100_000);
const nodeCount = arg("nodes", 10_000);
const servicesPerNode = 10;
const waiterCount = arg("waiters", 10_000);

function heapBytes(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Applies pre-encoded commands (decode included, as Raft hands over bytes) and times it. */
function timeApply(catalog: Catalog, commands: Uint8Array[], firstIndex: number): number {
  const started = performance.now();
  commands.forEach((bytes, i) => {
    const result = catalog.applyBytes(bytes, firstIndex + i);
    if (!result.ok) throw new Error(`bench command ${i} refused: ${result.error.message}`);
  });
  return performance.now() - started;
}

function kvFigures(): void {
  const value = new TextEncoder().encode("v".repeat(32));
  const commands = Array.from({ length: keyCount }, (_, i): Uint8Array =>
    encodeCommand({ v: 1, op: "kv", nowMs: i, Verb: "set", Key: `config/app${i % 100}/key${i}`, Value: value }));
  const before = heapBytes();
  const catalog = new Catalog();
  const elapsedMs = timeApply(catalog, commands, 1);
  const after = heapBytes();
  console.log(`kv put:            ${fmt(keyCount / (elapsedMs / 1000))} commands/s (${fmt(keyCount)} puts of 32-byte values in ${fmt(elapsedMs)} ms)`);
  console.log(`kv memory:         ${fmt((after - before) / 1024 / 1024, 1)} MiB per ${fmt(keyCount)} keys = ${fmt((after - before) / keyCount)} bytes/key (32-byte value, ~25-byte key)`);
  const updates = Array.from({ length: keyCount }, (_, i): Uint8Array =>
    encodeCommand({ v: 1, op: "kv", nowMs: i, Verb: "cas", Key: `config/app${i % 100}/key${i}`, Index: i + 1, Value: new Uint8Array([i & 0xff]) }));
  const casMs = timeApply(catalog, updates, keyCount + 1);
  console.log(`kv cas update:     ${fmt(keyCount / (casMs / 1000))} commands/s`);
  if (catalog.stats().kvKeys !== keyCount) throw new Error("kv bench lost keys");
}

function registerCommands(): Uint8Array[] {
  const commands: Uint8Array[] = [];
  for (let n = 0; n < nodeCount; n++) {
    const node = `node-${n}`;
    for (let s = 0; s < servicesPerNode; s++) {
      const command: Command = {
        v: 1, op: "catalog.register", Node: node, Address: `10.${(n >> 8) & 255}.${n & 255}.1`, NodeMeta: { rack: `r${n % 8}` },
        Service: { ID: `svc-${s}`, Service: `svc-${s}`, Tags: ["v1", `shard-${s}`], Port: 8000 + s },
        Checks: [
          ...(s === 0 ? [{ CheckID: "serfHealth", Name: "Serf Health Status", Status: "passing" }] : []),
          { CheckID: `service:svc-${s}`, Name: "alive", Status: "passing", ServiceID: `svc-${s}` },
        ],
      };
      commands.push(encodeCommand(command));
    }
  }
  return commands;
}

function registerFigures(): void {
  const commands = registerCommands();
  const before = heapBytes();
  const catalog = new Catalog();
  const elapsedMs = timeApply(catalog, commands, 1);
  const after = heapBytes();
  console.log(`catalog register:  ${fmt(commands.length / (elapsedMs / 1000))} commands/s (${fmt(commands.length)} registrations: node + service + check)`);
  console.log(`catalog memory:    ${fmt((after - before) / 1024 / 1024, 1)} MiB for ${fmt(nodeCount)} nodes x ${servicesPerNode} services (+1 check each) = ${fmt((after - before) / nodeCount)} bytes/node`);
  const queryStarted = performance.now();
  const rounds = 20;
  for (let i = 0; i < rounds; i++) catalog.healthService("svc-3", { passing: true });
  const queryMs = (performance.now() - queryStarted) / rounds;
  console.log(`health query:      ${fmt(queryMs, 1)} ms for /v1/health/service/svc-3?passing over ${fmt(nodeCount)} instances`);
  const snapStarted = performance.now();
  const snapshot = catalog.snapshot();
  console.log(`snapshot:          ${fmt(snapshot.length / 1024 / 1024, 1)} MiB in ${fmt(performance.now() - snapStarted)} ms`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function wakeFigures(): void {
  const catalog = new Catalog();
  let index = 0;
  const set = (key: string) => catalog.applyBytes(encodeCommand({ v: 1, op: "kv", nowMs: 0, Verb: "set", Key: key, Value: new Uint8Array([index & 0xff]) }), ++index);
  let woken = 0;
  const armPrefix = () => {
    for (let i = 0; i < waiterCount; i++) catalog.watch([{ kind: "kvPrefix", prefix: "config/" }], index, () => woken++);
  };
  const timeWrite = (key: string): number => {
    const started = performance.now();
    set(key);
    return performance.now() - started;
  };
  for (let i = 0; i < 1000; i++) timeWrite(`warmup/${i}`);
  const baseline = median(Array.from({ length: 1000 }, (_, i) => timeWrite(`other/${i}`)));
  const wakeRounds: number[] = [];
  const unrelated: number[] = [];
  for (let round = 0; round < 7; round++) {
    armPrefix();
    for (let i = 0; i < 200; i++) unrelated.push(timeWrite(`other/${round}/${i}`));
    woken = 0;
    wakeRounds.push(timeWrite(`config/changed${round}`));
    if (woken !== waiterCount || catalog.waiterCount !== 0) throw new Error(`woke ${woken} of ${waiterCount}`);
  }
  const wakeMs = median(wakeRounds);
  console.log(`write, no waiters: ${fmt(baseline * 1000, 1)} µs per KV put (median of 1,000)`);
  console.log(`wake-up:           ${fmt(wakeMs, 2)} ms to wake ${fmt(waiterCount)} waiters on one prefix = ${fmt(((wakeMs - baseline) * 1e6) / waiterCount)} ns/waiter beyond the write (median of 7)`);
  armPrefix();
  console.log(`unrelated write:   ${fmt(median(unrelated) * 1000, 1)} µs per KV put elsewhere while ${fmt(waiterCount)} prefix waiters wait (none woken)`);
  for (let i = 0; i < waiterCount; i++) catalog.watch([{ kind: "kvKey", key: `keys/k${i}` }], index, () => woken++);
  const single = Array.from({ length: 500 }, (_, i) => {
    catalog.watch([{ kind: "kvKey", key: `keys/k${i}` }], index, () => woken++);
    return timeWrite(`keys/k${i}`);
  });
  console.log(`single-key wake:   ${fmt(median(single) * 1000, 1)} µs per put that wakes its key's waiters among ${fmt(catalog.waiterCount + 500)} registered`);
}

console.log(`catalog bench (node ${process.version}, state machine only)`);
kvFigures();
registerFigures();
wakeFigures();
