/**
 * Figures for the check runner (not a test): how many check runs per second it sustains under
 * its pool limit, and what that costs in CPU. Usage:
 *   node --import tsx test/checks/bench-runner.ts [tcp|script|http] [checks] [seconds] [concurrencyMax]
 * Every check targets a loopback server started here, with a 1 s interval (Consul's minimum).
 */
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { CheckRunner, parseCheckDefinition } from "../../src/agent/checks/index.ts";

const [kind = "tcp", checksText = "1000", secondsText = "10", poolText = "64"] = process.argv.slice(2);
const checks = Number(checksText);
const seconds = Number(secondsText);
const concurrencyMax = Number(poolText);

const tcpServer = net.createServer((s) => s.destroy());
const httpServer = http.createServer((_req, res) => res.end("ok"));
await new Promise<void>((r) => tcpServer.listen(0, "127.0.0.1", r));
await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
const tcpPort = (tcpServer.address() as AddressInfo).port;
const httpPort = (httpServer.address() as AddressInfo).port;

const runner = new CheckRunner({ enableScriptChecks: true, enableLocalScriptChecks: true, concurrencyMax });
let changes = 0;
runner.onChange(() => changes++);
for (let i = 0; i < checks; i++) {
  const probe = kind === "tcp" ? { tcp: `127.0.0.1:${tcpPort}` } : kind === "http" ? { http: `http://127.0.0.1:${httpPort}/` } : { args: ["true"] };
  const result = parseCheckDefinition({ name: `c${i}`, interval: "1s", ...probe }, { source: "bench" });
  if (!result.ok) throw result.error;
  runner.add(result.definition, { origin: "local" });
}
const cpuStart = process.cpuUsage();
const startMs = Date.now();
// The first second is the stagger; measure the steady state after it.
await new Promise((r) => setTimeout(r, 1000));
const runsAtStart = runner.poolStats.runsCompleted;
const measureStart = Date.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const runs = runner.poolStats.runsCompleted - runsAtStart;
const elapsedS = (Date.now() - measureStart) / 1000;
const cpu = process.cpuUsage(cpuStart);
const cpuS = (cpu.user + cpu.system) / 1e6;
console.log(`${kind}: ${checks} checks at 1 s, pool ${concurrencyMax}: ${(runs / elapsedS).toFixed(0)} runs/s ` +
  `(ideal ${checks}/s), peak in flight ${runner.poolStats.peakActive}, changes ${changes}, ` +
  `CPU ${(cpuS / ((Date.now() - startMs) / 1000) * 100).toFixed(0)}% of one core`);
await runner.stop();
tcpServer.close();
httpServer.close();
