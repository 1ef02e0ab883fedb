/**
 * KV requests/s against a running agent's HTTP API (/v1/kv): PUT, default GET and ?consistent GET, each for a fixed time with N
 * concurrent connections (keep-alive), printing requests/s and latency percentiles; then default GETs on half the connections
 * while the other half PUT (a read on a busy leader must not wait for the writes' fdatasync), figures for the GETs only.
 *
 *   node --import tsx bench/agent-kv.ts [--addr 127.0.0.1:8500] [--connections 64] [--seconds 10]
 */
import * as http from "node:http";

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const addr = opt("addr", "127.0.0.1:8500");
const connections = Number(opt("connections", "64"));
const seconds = Number(opt("seconds", "10"));
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const [host, port] = [addr.slice(0, addr.lastIndexOf(":")), Number(addr.slice(addr.lastIndexOf(":") + 1))];

function request(path: string, method: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

type Make = (i: number) => { path: string; method: "GET" | "PUT"; body?: string };

/** `background`, when given, runs on every other connection and is not counted. */
async function phase(name: string, make: Make, background?: Make): Promise<void> {
  const latencies: number[] = [];
  let errors = 0;
  const endMs = performance.now() + seconds * 1000;
  let seq = 0;
  await Promise.all(Array.from({ length: connections }, async (_, connection) => {
    const counted = background === undefined || connection % 2 === 0;
    while (performance.now() < endMs) {
      const r = (counted ? make : background!)(seq++);
      const t0 = performance.now();
      try {
        const status = await request(r.path, r.method, r.body);
        if (counted && status >= 300 && status !== 404) errors++;
      } catch {
        if (counted) errors++;
      }
      if (counted) latencies.push(performance.now() - t0);
    }
  }));
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(1);
  console.log(`${name.padEnd(16)} ${(latencies.length / seconds).toFixed(0).padStart(7)} req/s  p50 ${pct(0.5)} ms  p99 ${pct(0.99)} ms  errors ${errors}  (${connections} connections, ${seconds} s)`);
}

await phase("PUT", (i) => ({ path: `/v1/kv/bench/k${i % 1000}`, method: "PUT", body: `value-${i}` }));
await phase("GET default", (i) => ({ path: `/v1/kv/bench/k${i % 1000}`, method: "GET" }));
await phase("GET consistent", (i) => ({ path: `/v1/kv/bench/k${i % 1000}?consistent`, method: "GET" }));
await phase("GET during PUTs", (i) => ({ path: `/v1/kv/bench/k${i % 1000}`, method: "GET" }),
  (i) => ({ path: `/v1/kv/bench/k${i % 1000}`, method: "PUT", body: `value-${i}` }));
agent.destroy();
