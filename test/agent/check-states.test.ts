/**
 * The agent's check table (src/core/agent/check-states.ts) and anti-entropy's check_update_interval
 * (src/core/agent/local-sync.ts): the pure parts the check runner and the simulator share, tested
 * by the effects they return.
 */
import test from "ava";
import type { SyncWrite } from "../../src/core/agent/anti-entropy.ts";
import { CheckStates, type CheckStateSpec } from "../../src/core/agent/check-states.ts";
import { LocalSync, type LocalSyncHost, type LocalView } from "../../src/core/agent/local-sync.ts";
import { nodeMaintenanceCheck, serviceMaintenanceCheck } from "../../src/core/agent/maintenance.ts";
import type { CheckRecord } from "../../src/core/catalog/types.ts";

const spec = (overrides: Partial<CheckStateSpec> = {}): CheckStateSpec => ({
  id: "service:web", serviceId: "web", status: "critical", deregisterCriticalServiceAfterMs: 0,
  thresholds: { successBeforePassing: 2, failuresBeforeWarning: 1, failuresBeforeCritical: 3 }, ...overrides,
});

test("check states: the first result is reported at once; then the thresholds hold results back, warn, then go critical", (t) => {
  const states = new CheckStates({ deregisterCriticalMinMs: 0 });
  states.add(spec(), 0);
  t.like(states.probeResult("service:web", "passing", "ok 1", 10), { changed: true, statusChanged: true });
  t.like(states.state("service:web"), { status: "passing", output: "ok 1" });
  t.like(states.probeResult("service:web", "critical", "down 1", 20), { changed: true, statusChanged: true }, "failures_before_warning 1: warning at once");
  t.like(states.state("service:web"), { status: "warning", output: "down 1" });
  states.probeResult("service:web", "critical", "down 2", 30);
  t.like(states.state("service:web"), { status: "warning", output: "down 2" });
  states.probeResult("service:web", "critical", "down 3", 40);
  t.like(states.state("service:web"), { status: "critical", output: "down 3", criticalSinceMs: 40 });
  t.like(states.probeResult("service:web", "passing", "ok 2", 50), { changed: false, heldBack: true }, "success_before_passing 2: one success is held back");
  t.like(states.state("service:web"), { status: "critical", output: "down 3" });
  states.probeResult("service:web", "passing", "ok 3", 60);
  t.like(states.state("service:web"), { status: "passing", output: "ok 3", criticalSinceMs: null });
  t.is(states.probeResult("unknown", "passing", "", 70), null);
  states.invariants();
});

test("check states: a direct result (TTL, alias) bypasses the thresholds; re-adding keeps status, output and critical spell", (t) => {
  const states = new CheckStates({ deregisterCriticalMinMs: 0 });
  states.add(spec({ thresholds: { successBeforePassing: 5, failuresBeforeWarning: 5, failuresBeforeCritical: 5 } }), 0);
  states.probeResult("service:web", "passing", "ok", 1);
  states.directResult("service:web", "critical", "TTL expired", 100);
  t.like(states.state("service:web"), { status: "critical", output: "TTL expired", criticalSinceMs: 100 });
  states.add(spec({ status: "passing" }), 500);
  t.like(states.state("service:web"), { status: "critical", output: "TTL expired", criticalSinceMs: 100 });
  t.is(states.criticalForMs("service:web", 600), 500);
  t.true(states.remove("service:web"));
  t.false(states.has("service:web"));
});

test("check states: a service check critical past deregister_critical_service_after (raised to the minimum) is due once per spell", (t) => {
  const states = new CheckStates({ deregisterCriticalMinMs: 1_000 });
  states.add(spec({ deregisterCriticalServiceAfterMs: 500, thresholds: { successBeforePassing: 0, failuresBeforeWarning: 0, failuresBeforeCritical: 0 } }), 0);
  states.add(spec({ id: "node-check", serviceId: "", deregisterCriticalServiceAfterMs: 500 }), 0);
  t.deepEqual(states.dueDeregistrations(600), [], "600 ms is past 500 but not past the 1 s minimum");
  t.deepEqual(states.dueDeregistrations(1_000), [], "exactly the limit is not past it");
  t.deepEqual(states.dueDeregistrations(1_001), [{ serviceId: "web", checkId: "service:web", criticalForMs: 1_001 }]);
  t.deepEqual(states.dueDeregistrations(5_000), [], "reported once per spell");
  states.probeResult("service:web", "passing", "ok", 6_000);
  states.probeResult("service:web", "critical", "down", 7_000);
  t.deepEqual(states.dueDeregistrations(8_000), [], "a new spell starts its own count");
  t.deepEqual(states.dueDeregistrations(8_001), [{ serviceId: "web", checkId: "service:web", criticalForMs: 1_001 }]);
  states.invariants();
});

test("check states: thresholds are validated with the values named", (t) => {
  const states = new CheckStates({ deregisterCriticalMinMs: 0 });
  t.throws(() => states.add(spec({ thresholds: { successBeforePassing: 0, failuresBeforeWarning: 4, failuresBeforeCritical: 2 } }), 0), { message: /failuresBeforeWarning 4 > failuresBeforeCritical 2/ });
  t.throws(() => states.add(spec({ deregisterCriticalServiceAfterMs: -1 }), 0), { message: /deregister_critical_service_after -1 ms < 0/ });
});

test("maintenance checks: critical, Consul's IDs and default reasons", (t) => {
  t.like(nodeMaintenanceCheck(""), { CheckID: "_node_maintenance", Status: "critical", ServiceID: "", Type: "maintenance" });
  t.regex(nodeMaintenanceCheck("").Notes, /no reason was provided/);
  t.like(serviceMaintenanceCheck("web", "deploy"), { CheckID: "_service_maintenance:web", Status: "critical", ServiceID: "web", Notes: "deploy" });
});

/** A LocalSync whose reads and writes answer when the test says, on a clock the test moves. */
function harness(intervalMs: number) {
  let nowMs = 0;
  let output = "run 1";
  let catalogCheck: CheckRecord | null = null;
  const pendingWrites: { write: SyncWrite; done: (ok: boolean) => void }[] = [];
  const written: { atMs: number; output: string }[] = [];
  const host: LocalSyncHost = {
    readNode: (done) => done({ node: { Node: { ID: "id", Node: "n1", Address: "10.0.0.1", Datacenter: "dc1", TaggedAddresses: {}, Meta: {}, CreateIndex: 1, ModifyIndex: 1 }, Services: {} }, checks: catalogCheck === null ? [] : [catalogCheck] }),
    write: (write, done) => pendingWrites.push({ write, done }),
    nowMs: () => nowMs,
  };
  const local = (): LocalView => ({
    node: { name: "n1", id: "id", address: "10.0.0.1", datacenter: "dc1", taggedAddresses: {}, meta: {} },
    services: new Map(),
    checks: new Map([["c", { CheckID: "c", Name: "c", Status: "passing", Output: output, Notes: "", ServiceID: "", Type: "http" }]]),
  });
  const sync = new LocalSync(host, local, { periodicTicks: 10, changeDelayTicks: 1, retryTicks: 10, checkUpdateIntervalMs: intervalMs });
  return {
    sync,
    setOutput(o: string) { output = o; sync.changed(); },
    tickTo(ms: number) { while (nowMs < ms) { nowMs += 100; sync.tick(); } },
    ackAll() {
      for (const { write, done } of pendingWrites.splice(0)) {
        if (write.op === "catalog.register" && write.Check !== undefined) {
          written.push({ atMs: nowMs, output: write.Check.Output ?? "" });
          catalogCheck = { Node: "n1", CheckID: "c", Name: "c", Status: "passing", Output: write.Check.Output ?? "", Notes: "", ServiceID: "", ServiceName: "", ServiceTags: [], Type: "http", CreateIndex: 1, ModifyIndex: 1 } as CheckRecord;
        }
        done(true);
      }
    },
    written,
    get pending() { return pendingWrites.length; },
  };
}

test("anti-entropy: check_update_interval runs from the acknowledgement of the last write, so a slow write does not shorten it", (t) => {
  const h = harness(5_000);
  h.tickTo(100);
  t.is(h.pending, 1, "the new check is written at once");
  h.tickTo(3_000);
  h.ackAll(); // acknowledged 2.9 s after it left
  t.deepEqual(h.written, [{ atMs: 3_000, output: "run 1" }]);
  h.setOutput("run 2");
  h.tickTo(7_900);
  t.is(h.pending, 0, "an output-only change waits: 4.9 s since the acknowledgement");
  h.tickTo(8_100);
  t.is(h.pending, 1, "written at the first sync 5 s after the acknowledgement (the periodic one)");
  h.ackAll();
  t.is(h.written[1]!.output, "run 2");
  t.true(h.written[1]!.atMs - h.written[0]!.atMs >= 5_000);
});

test("anti-entropy: with check_update_interval 0 every output change is written", (t) => {
  const h = harness(0);
  h.tickTo(100);
  h.ackAll();
  h.setOutput("run 2");
  h.tickTo(300);
  t.is(h.pending, 1);
});
