/**
 * How long from a target failing to the runner reporting critical: the agent's share of the
 * issue's "critical to out of DNS within one check interval + 100 ms". The interval here is
 * 300 ms; a failure is seen at the next run, so the wait is at most one interval plus the run.
 */
import test from "ava";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { def, sleep, testRunner, waitFor } from "./helpers.ts";

test("an HTTP check reports a failing target within one interval + 100 ms, flip after flip", async (t) => {
  let healthy = true;
  const server = http.createServer((_req, res) => res.writeHead(healthy ? 200 : 503).end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const intervalMs = 300;
  const { runner, changes, t0 } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ http: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, interval: `${intervalMs}ms` }, "web"), { origin: "local" });
  await waitFor(changes, (c) => c.status === "passing", "first pass");
  const delaysMs: number[] = [];
  for (let flip = 0; flip < 5; flip++) {
    // Fail at a random point of the interval, then recover.
    await sleep(50 + Math.floor(Math.random() * intervalMs));
    const failedAtMs = Date.now() - t0;
    healthy = false;
    const seen = await waitFor(changes, (c) => c.status === "critical" && c.atMs >= failedAtMs, `critical after flip ${flip}`);
    delaysMs.push(seen.atMs - failedAtMs);
    healthy = true;
    await waitFor(changes, (c) => c.status === "passing" && c.atMs > seen.atMs, `recovery after flip ${flip}`);
  }
  t.log(`failure to critical (ms): ${delaysMs.join(", ")}; interval ${intervalMs} ms`);
  // The goal is one interval + 100 ms. The median must meet it; a loaded machine may delay a
  // single run, but never by a whole interval (that would be a missed run, a real regression).
  const median = [...delaysMs].sort((a, b) => a - b)[Math.floor(delaysMs.length / 2)]!;
  t.true(median <= intervalMs + 100, `median ${median} ms over ${intervalMs} + 100 ms`);
  for (const d of delaysMs) t.true(d <= 2 * intervalMs + 100, `a failure took ${d} ms to report: a run was missed`);
});
