/**
 * Decoding large push/pulls: 1, 10 and 100 MB of node states (dead members with Serf tags, the
 * shape a pool with many failed members sends), fed to StreamDecoder in 64 KiB chunks as a TCP
 * socket delivers them. Prints the time, the rate and the time per MB, which must stay flat
 * (linear decoding); the goal is 100 MB under 2 s. CPU time is printed beside wall time because
 * on a shared machine wall time mostly measures the neighbours.
 *
 *   node --import tsx bench/gossip-stream.ts [--sizes 1,10,100] [--chunk-kib 64]
 *
 * The 100 MB stream is above what a member accepts by default (20 MiB of node states), so the
 * limits are raised here: the bench measures the decoder, not the bound.
 */
import v8 from "node:v8";
import vm from "node:vm";
import type { PushNodeState, PushPull } from "../src/core/gossip/messages.ts";
import { encodeTags } from "../src/core/gossip/wire/serf-codec.ts";
import { StreamDecoder } from "../src/core/gossip/wire/stream-decoder.ts";
import { encodeStream } from "../src/core/gossip/wire/stream.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const sizesMb = arg("sizes", "1,10,100").split(",").map(Number);
const chunkBytes = Number(arg("chunk-kib", "64")) * 1024;

function node(i: number): PushNodeState {
  return {
    Name: `member-${i.toString().padStart(7, "0")}`, Addr: Uint8Array.of(10, (i >> 16) & 255, (i >> 8) & 255, i & 255), Port: 8301,
    Meta: encodeTags({ role: "node", dc: "dc1", id: `id-${i}`, vsn: "2" }), Incarnation: 1 + (i % 5), State: 2, Vsn: [1, 5, 2, 2, 5, 4],
  };
}

/** A push/pull of about `mb` MB, from one node's encoded size. */
function pushPullOf(mb: number): Uint8Array {
  const one = encodeStream({ type: "pushPull", Join: false, Nodes: [node(0), node(1)], UserState: null }).length / 2;
  const count = Math.round((mb * 1e6) / one);
  const msg: PushPull = { type: "pushPull", Join: false, Nodes: Array.from({ length: count }, (_, i) => node(i)), UserState: null };
  return encodeStream(msg);
}

const limits = { nodesMax: 10_000_000, nodeBytesMax: 1 << 30 };
// Building the stream leaves a million node objects behind: collected before the clock starts, so
// the figure is the decoder's own (its own garbage and the nodes it keeps are still counted).
v8.setFlagsFromString("--expose-gc");
const collectGarbage = vm.runInNewContext("gc") as () => void;
const rows: { mb: number; ms: number }[] = [];
for (const mb of sizesMb) {
  const bytes = pushPullOf(mb);
  collectGarbage();
  const startedMs = performance.now();
  const cpuBefore = process.cpuUsage();
  const d = new StreamDecoder({ limits });
  let nodes = -1;
  for (let at = 0; at < bytes.length; at += chunkBytes) {
    const found = d.push(bytes.subarray(at, at + chunkBytes));
    if (found !== null && found.msg?.type === "pushPull") nodes = found.msg.Nodes.length;
  }
  const ms = performance.now() - startedMs;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  if (nodes < 0) throw new Error(`the ${mb} MB push/pull did not decode`);
  rows.push({ mb: bytes.length / 1e6, ms });
  console.log(
    `push/pull ${(bytes.length / 1e6).toFixed(1).padStart(6)} MB  ${String(nodes).padStart(8)} nodes  decoded in ${ms.toFixed(0).padStart(5)} ms wall, ${cpuMs.toFixed(0).padStart(5)} ms CPU (all threads)  ` +
    `${(bytes.length / 1e6 / (ms / 1000)).toFixed(0)} MB/s  ${(ms / (bytes.length / 1e6)).toFixed(1)} ms/MB  (${chunkBytes / 1024} KiB chunks)`,
  );
}
if (rows.length > 1) {
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const ratio = (last.ms / last.mb) / (first.ms / first.mb);
  console.log(`time per MB, ${last.mb.toFixed(0)} MB vs ${first.mb.toFixed(0)} MB: x${ratio.toFixed(2)} (linear is about 1)`);
}
