/**
 * How long an instance whose health check turns critical stays in DNS answers: a `-dev` agent in
 * this process, a service with an HTTP check against a local HTTP server, and N flips of that
 * server to 503 (each at a random point of the check's schedule). After each flip the bench asks
 * the agent's DNS every few milliseconds until the instance is gone, then flips back and waits
 * for it to return. Printed per flip and as a distribution:
 *
 *   flip → gone       from the server answering 503 to the instance leaving DNS (goal: ≤ interval + 100 ms)
 *   critical → gone   from the first check request that got 503 to the instance leaving DNS
 *                     (the agent's part: status machine, anti-entropy, Raft, DNS cache)
 *   healthy → back    the same for recovery, from the first request answered 200
 *
 *   node --import tsx bench/check-to-dns.ts [--flips 20] [--interval-ms 1000] [--poll-ms 2] [--host 127.0.0.89]
 */
import dgram from "node:dgram";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import dnsPacket from "dns-packet";
import { loadConfig } from "../src/agent/config/index.ts";
import { createLogger } from "../src/agent/log.ts";
import { startAgent } from "../src/agent/run.ts";

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const flips = Number(argument("flips", "20"));
const intervalMs = Number(argument("interval-ms", "1000"));
const pollMs = Number(argument("poll-ms", "2"));
const host = argument("host", "127.0.0.89");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The checked service's health endpoint: 200 or 503, with the time of the first request seeing each. */
class Target {
  healthy = true;
  firstSeenMs: number | null = null;
  private readonly server = http.createServer((_req, res) => {
    if (this.firstSeenMs === null) this.firstSeenMs = performance.now();
    res.writeHead(this.healthy ? 200 : 503, { "content-type": "text/plain" });
    res.end(this.healthy ? "ok" : "down");
  });

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as { port: number }).port;
  }

  flip(healthy: boolean): number {
    this.healthy = healthy;
    this.firstSeenMs = null;
    return performance.now();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Asks `name` A on one socket; resolves with the number of answers (0 for NXDOMAIN), or null on timeout. */
class Prober {
  private readonly socket = dgram.createSocket("udp4");
  private id = 0;
  private waiting: ((count: number | null) => void) | null = null;

  constructor(private readonly port: number, private readonly name: string) {
    this.socket.on("message", (message) => {
      const decoded = dnsPacket.decode(message);
      if (decoded.id !== (this.id & 0xffff)) return;
      const done = this.waiting;
      this.waiting = null;
      done?.(decoded.answers?.length ?? 0);
    });
  }

  ask(): Promise<number | null> {
    this.id++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        resolve(null);
      }, 1_000);
      this.waiting = (count) => {
        clearTimeout(timer);
        resolve(count);
      };
      this.socket.send(dnsPacket.encode({ id: this.id & 0xffff, type: "query", questions: [{ name: this.name, type: "A" }] }), this.port, host);
    });
  }

  /** Polls until `wanted(count)`; returns the time it first held. */
  async until(wanted: (count: number) => boolean, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const count = await this.ask();
      const at = performance.now();
      if (count !== null && wanted(count)) return at;
      if (at > deadline) throw new Error(`DNS did not change within ${timeoutMs} ms`);
      await sleep(pollMs);
    }
  }

  close(): void {
    this.socket.close();
  }
}

function distribution(label: string, values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const fmt = (ms: number) => `${ms.toFixed(0).padStart(5)}`;
  return `${label.padEnd(18)} min ${fmt(sorted[0]!)}  p50 ${fmt(at(0.5))}  p90 ${fmt(at(0.9))}  max ${fmt(sorted.at(-1)!)} ms`;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "praetor-check-dns-"));
  const target = new Target();
  const targetPort = await target.start();
  const { config } = loadConfig(["-dev", "-node", "bench", "-bind", host, "-client", host, "-dns-port", "0", "-http-port", "0", "-data-dir", dataDir]);
  const agent = await startAgent(config, createLogger({ level: "warn", write: () => {} }));
  const base = `http://${host}:${agent.httpPorts[0]!}`;
  const prober = new Prober(agent.dnsPorts[0]!, "flip.service.consul");
  try {
    for (let waited = 0; ; waited += 100) {
      const res = await fetch(`${base}/v1/catalog/node/bench`).catch(() => null);
      if (res !== null && res.status === 200 && (await res.text()) !== "null") break;
      if (waited > 60_000) throw new Error("the dev agent did not register itself within 60 s");
      await sleep(100);
    }
    const registered = await fetch(`${base}/v1/agent/service/register`, {
      method: "PUT",
      body: JSON.stringify({ Name: "flip", Port: 8080, Check: { HTTP: `http://127.0.0.1:${targetPort}/health`, Interval: `${intervalMs}ms`, Timeout: "1s" } }),
    });
    if (registered.status !== 200) throw new Error(`service registration: ${registered.status} ${await registered.text()}`);
    await prober.until((count) => count > 0, 30_000);
    console.log(`check → DNS: -dev agent on ${host}, HTTP check every ${intervalMs} ms, ${flips} flips, DNS polled every ${pollMs} ms`);
    console.log("flip   flip→gone  critical→gone  healthy→back (ms)");
    const gone: number[] = [];
    const criticalToGone: number[] = [];
    const back: number[] = [];
    for (let i = 0; i < flips; i++) {
      await sleep(Math.random() * intervalMs); // land anywhere in the check's schedule
      const flippedAt = target.flip(false);
      const goneAt = await prober.until((count) => count === 0, 10 * intervalMs + 10_000);
      const seenAt = target.firstSeenMs ?? goneAt;
      gone.push(goneAt - flippedAt);
      criticalToGone.push(goneAt - seenAt);
      target.flip(true);
      const backAt = await prober.until((count) => count > 0, 10 * intervalMs + 10_000);
      back.push(backAt - (target.firstSeenMs ?? backAt));
      console.log(`${String(i + 1).padStart(4)} ${gone.at(-1)!.toFixed(0).padStart(10)} ${criticalToGone.at(-1)!.toFixed(0).padStart(14)} ${back.at(-1)!.toFixed(0).padStart(13)}`);
    }
    console.log(distribution("flip → gone", gone));
    console.log(distribution("critical → gone", criticalToGone));
    console.log(distribution("healthy → back", back));
    const goalMs = intervalMs + 100;
    const met = gone.filter((ms) => ms <= goalMs).length;
    console.log(`goal ≤ ${goalMs} ms (interval + 100 ms): met by ${met}/${gone.length} flips`);
  } finally {
    prober.close();
    await agent.stop();
    await target.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
