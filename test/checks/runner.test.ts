import test from "ava";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { CheckRunner, CheckRunnerError, type AliasView } from "../../src/agent/checks/index.ts";
import { def, sleep, testRunner, until, waitFor } from "./helpers.ts";

test("ttl: critical with \"TTL expired\" when no update comes in time", async (t) => {
  const { runner, changes } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ name: "heartbeat", ttl: "150ms", status: "passing" }), { origin: "remote" });
  const expired = await waitFor(changes, (c) => c.status === "critical", "expiry");
  t.is(expired.output, "TTL expired");
  t.true(expired.atMs >= 140, `expired after ${expired.atMs} ms, before its 150 ms TTL`);
});

test("ttl: pass, warn and fail set the status; each update restarts the TTL; expiry keeps the last output", async (t) => {
  const { runner, changes } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ id: "app", name: "app", ttl: "2s" }), { origin: "remote" });
  t.is(runner.ttlUpdate("app", "passing", "all good"), "all good");
  t.is(runner.ttlUpdate("app", "warning", "disk 91%"), "disk 91%");
  t.is(runner.ttlUpdate("app", "critical", "disk full"), "disk full");
  t.is(runner.ttlUpdate("app", "passing", "all good"), "all good");
  t.deepEqual(changes.map((c) => [c.status, c.output]), [["passing", "all good"], ["warning", "disk 91%"], ["critical", "disk full"], ["passing", "all good"]]);
  // Keep it alive past its TTL with updates, then let it lapse.
  for (let i = 0; i < 4; i++) {
    await sleep(100);
    runner.ttlUpdate("app", "passing", "all good");
  }
  t.is(runner.get("app")!.status, "passing", "updates every 100 ms keep a 2 s TTL alive");
  const expired = await waitFor(changes, (c) => c.status === "critical" && c.output.startsWith("TTL"), "expiry");
  t.is(expired.output, "TTL expired (last output before timeout follows): all good");
});

test("ttl: an update of an unknown or non-TTL check is refused naming it; a bad status is refused", (t) => {
  const { runner } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ name: "port", tcp: "127.0.0.1:1", interval: "10s" }), { origin: "remote" });
  runner.add(def({ name: "beat", ttl: "10s" }), { origin: "remote" });
  const unknown = t.throws(() => runner.ttlUpdate("nope", "passing", ""), { instanceOf: CheckRunnerError });
  t.is(unknown.message, 'CheckID "nope" does not have associated TTL');
  t.is((unknown as CheckRunnerError).httpStatus, 404);
  t.throws(() => runner.ttlUpdate("port", "passing", ""), { message: 'CheckID "port" does not have associated TTL' });
  t.throws(() => runner.ttlUpdate("beat", "maintenance" as "passing", ""), { message: /Unknown check status "maintenance"/ });
});

test("ttl: output beyond 4 KiB is cut to its head with Consul's marker, and returned as stored", (t) => {
  const { runner } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ name: "beat", ttl: "10s" }), { origin: "remote" });
  const stored = runner.ttlUpdate("beat", "passing", "y".repeat(5000));
  t.is(stored, `${"y".repeat(4096)} ... (captured 4096 of 5000 bytes)`);
  t.is(runner.get("beat")!.output, stored);
});

test("pool: never more concurrent runs than concurrencyMax, and every check still runs", async (t) => {
  const { runner, changes } = testRunner({ concurrencyMax: 2 });
  t.teardown(() => runner.stop());
  for (let i = 0; i < 6; i++) {
    runner.add(def({ id: `s${i}`, name: `s${i}`, args: ["sh", "-c", "sleep 0.2"], interval: "10s", status: "critical" }), { origin: "local" });
  }
  await until(() => runner.poolStats.active === 2 && runner.poolStats.queued === 4, "two runs in flight, four waiting");
  for (let i = 0; i < 6; i++) await waitFor(changes, (c) => c.id === `s${i}` && c.status === "passing", `s${i} passing`, 10_000);
  t.is(runner.poolStats.peakActive, 2);
});

test("first runs are staggered within the interval by the injected random draw", async (t) => {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => server.close());
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { runner, changes } = testRunner({ random: () => 0.5 });
  t.teardown(() => runner.stop());
  runner.add(def({ name: "late", tcp: address, interval: "600ms" }), { origin: "local" });
  const first = await waitFor(changes, () => true, "first run");
  t.true(first.atMs >= 290, `first run at ${first.atMs} ms; half of a 600 ms interval is 300 ms`);
});

test("intervals below the agent's minimum are raised to it (Consul's 1 s MinInterval)", async (t) => {
  const { runner, changes } = testRunner({ intervalMinMs: 400 });
  t.teardown(() => runner.stop());
  runner.add(def({ name: "fast", args: ["sh", "-c", "date +%N"], interval: "10ms" }), { origin: "local" });
  // Every run prints a new time, so every run is a change. At 10 ms there would be dozens.
  const first = await waitFor(changes, () => true, "first run");
  await sleep(700);
  const later = changes.filter((c) => c.atMs > first.atMs && c.atMs <= first.atMs + 700);
  t.true(later.length <= 2, `${later.length} runs in 700 ms at a 400 ms floor`);
});

test("thresholds run end to end: success_before_passing holds a recovering check back", async (t) => {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const { runner, changes } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ name: "db", tcp: `127.0.0.1:${port}`, interval: "30ms", success_before_passing: 3, status: "passing" }), { origin: "local" });
  await waitFor(changes, (c) => c.status === "critical", "down");
  const reopened = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => reopened.listen(port, "127.0.0.1", resolve));
  t.teardown(() => reopened.close());
  const recovered = await waitFor(changes, (c) => c.status === "passing", "up after 3 successes");
  t.true(recovered.atMs - changes[0]!.atMs >= 60, "three runs 30 ms apart before passing");
});

test("deregister_critical_service_after: reported once per critical spell, for service checks only", async (t) => {
  const { runner } = testRunner();
  t.teardown(() => runner.stop());
  const reports: Array<[string, string, number]> = [];
  runner.onDeregisterCritical((serviceId, checkId, forMs) => reports.push([serviceId, checkId, forMs]));
  runner.add(def({ tcp: "127.0.0.1:1", interval: "20ms", deregister_critical_service_after: "100ms" }, "web"), { origin: "local" });
  runner.add(def({ name: "node-level", ttl: "20ms", deregister_critical_service_after: "100ms" }), { origin: "local" });
  await until(() => reports.length > 0, "a deregistration report");
  await sleep(300);
  t.is(reports.length, 1, JSON.stringify(reports));
  t.is(reports[0]![0], "web");
  t.is(reports[0]![1], "service:web");
  t.true(reports[0]![2] > 100);
});

test("deregistration waits for the agent's minimum (check_deregister_interval_min)", async (t) => {
  const { runner } = testRunner({ deregisterCriticalMinMs: 60_000 });
  t.teardown(() => runner.stop());
  let reported = 0;
  runner.onDeregisterCritical(() => reported++);
  runner.add(def({ ttl: "10ms", deregister_critical_service_after: "50ms" }, "web"), { origin: "local" });
  await sleep(300);
  t.is(reported, 0);
});

test("alias: follows the aliased instance's checks as the agent's catalog reader reports them", async (t) => {
  let view: AliasView = { checks: [{ Node: "n1", ServiceID: "web", Name: "web up", Status: "passing", Output: "" }], serviceExists: true };
  const asked: Array<{ node: string; serviceId: string }> = [];
  const { runner, changes } = testRunner({ aliasSource: (target) => { asked.push(target); return view; }, aliasPollMs: 30 });
  t.teardown(() => runner.stop());
  runner.add(def({ name: "web alias", alias_service: "web", alias_node: "n1" }, "web-sidecar"), { origin: "remote" });
  await waitFor(changes, (c) => c.status === "passing", "passing");
  view = { checks: [{ Node: "n1", ServiceID: "web", Name: "web up", Status: "critical", Output: "refused" }], serviceExists: true };
  const down = await waitFor(changes, (c) => c.status === "critical", "critical");
  t.is(down.output, 'Aliased check "web up" failing: refused');
  t.deepEqual(asked[0], { node: "n1", serviceId: "web" });
});

test("alias of a local check reacts to the local change at once, without waiting for the poll", async (t) => {
  let runnerRef: CheckRunner | null = null;
  const { runner, changes } = testRunner({
    aliasPollMs: 60_000,
    aliasSource: () => ({
      checks: runnerRef!.list().filter((c) => c.definition.probe.kind !== "alias").map((c) => ({
        Node: "", ServiceID: c.definition.serviceId, Name: c.definition.name, Status: c.status, Output: c.output,
      })),
      serviceExists: true,
    }),
  });
  runnerRef = runner;
  t.teardown(() => runner.stop());
  runner.add(def({ id: "beat", ttl: "10s", status: "passing" }, "web"), { origin: "local" });
  runner.add(def({ id: "mirror", name: "mirror", alias_service: "web" }), { origin: "local" });
  await waitFor(changes, (c) => c.id === "mirror" && c.status === "passing", "mirror passing");
  runner.ttlUpdate("beat", "critical", "stuck");
  // Far sooner than the 60 s poll: the local change itself triggers the alias.
  const mirrored = await waitFor(changes, (c) => c.id === "mirror" && c.status === "critical", "mirror critical", 10_000);
  t.is(mirrored.output, 'Aliased check "Service \'web\' check" failing: stuck');
});

test("alias: a failing catalog reader makes the alias critical with Consul's text; without a reader alias checks are refused", async (t) => {
  const { runner, changes } = testRunner({ aliasSource: () => Promise.reject(new Error("No cluster leader")) });
  t.teardown(() => runner.stop());
  runner.add(def({ name: "a", alias_service: "web" }), { origin: "remote" });
  const failed = await waitFor(changes, () => true, "alias failure");
  t.deepEqual([failed.status, failed.output], ["critical", "Failure checking aliased node or service: No cluster leader"]);
  const bare = new CheckRunner({ enableScriptChecks: false, enableLocalScriptChecks: false });
  t.teardown(() => bare.stop());
  t.throws(() => bare.add(def({ name: "a", alias_service: "web" }), { origin: "remote" }), { message: /alias checks need the agent's catalog reader/ });
});

test("kinds that may wait (docker, h2ping) are refused with what is supported", (t) => {
  const { runner } = testRunner();
  t.teardown(() => runner.stop());
  t.throws(() => runner.add(def({ name: "h", h2ping: "127.0.0.1:9090", interval: "10s" }), { origin: "remote" }),
    { message: 'check "h": h2ping checks are not supported by this agent yet (supported: script, http, tcp, udp, grpc, ttl, alias)' });
  t.throws(() => runner.add(def({ name: "d", docker_container_id: "abc", args: ["true"], interval: "10s" }), { origin: "local" }), { message: /docker checks are not supported/ });
});

test("re-adding a check (a reload) keeps its current status and output", async (t) => {
  const { runner, changes } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ id: "beat", name: "beat", ttl: "10s" }), { origin: "local" });
  runner.ttlUpdate("beat", "passing", "fine");
  runner.add(def({ id: "beat", name: "beat", ttl: "20s", notes: "edited" }), { origin: "local" });
  const snap = runner.get("beat")!;
  t.deepEqual([snap.status, snap.output, snap.definition.notes, snap.definition.ttlMs], ["passing", "fine", "edited", 20_000]);
  t.is(runner.list().length, 1);
  t.is(changes.length, 1);
});

test("a throwing change listener does not stop the others or the runner", async (t) => {
  const logged: string[] = [];
  const { runner, changes } = testRunner({ log: (_level, message) => logged.push(message) });
  t.teardown(() => runner.stop());
  runner.onChange(() => {
    throw new Error("listener bug");
  });
  runner.add(def({ name: "beat", ttl: "10s" }), { origin: "local" });
  runner.ttlUpdate("beat", "passing", "");
  runner.ttlUpdate("beat", "warning", "");
  t.deepEqual(changes.map((c) => c.status), ["passing", "warning"]);
  t.true(logged.some((m) => m.includes("listener bug")));
});

test("stop() ends every check: running scripts are killed, no change comes after, add is refused", async (t) => {
  const { runner, changes, t0 } = testRunner();
  runner.add(def({ name: "slow", args: ["sh", "-c", "sleep 5"], interval: "10ms", timeout: "10s" }), { origin: "local" });
  runner.add(def({ name: "beat", ttl: "200ms", status: "passing" }), { origin: "local" });
  while (runner.poolStats.active === 0) await sleep(5);
  const stoppedAtMs = Date.now() - t0;
  await runner.stop();
  t.true(Date.now() - t0 - stoppedAtMs < 4500, "stop did not wait for the 5 s script");
  t.is(runner.poolStats.active, 0);
  await sleep(400);
  t.deepEqual(changes.filter((c) => c.atMs >= stoppedAtMs), [], "nothing changed after stop (the 200 ms TTL never expired)");
  t.deepEqual(runner.list(), []);
  t.throws(() => runner.add(def({ name: "late", ttl: "1s" }), { origin: "local" }), { message: /the check runner has stopped/ });
});

test("a TTL or interval longer than Node's 24.8-day timer limit waits instead of firing at once", async (t) => {
  const { runner, changes } = testRunner({ random: () => 0.999 });
  t.teardown(() => runner.stop());
  runner.add(def({ name: "monthly", ttl: "720h" }), { origin: "local" });
  runner.add(def({ name: "rare", tcp: "127.0.0.1:1", interval: "8760h" }), { origin: "local" });
  await sleep(100);
  t.deepEqual(changes, []);
});

test("stop() does not wait for a catalog read that never answers", async (t) => {
  const { runner } = testRunner({ aliasSource: () => new Promise<never>(() => {}) });
  runner.add(def({ name: "a", alias_service: "web" }), { origin: "remote" });
  await sleep(20);
  const started = Date.now();
  await runner.stop();
  t.true(Date.now() - started < 3000);
});
