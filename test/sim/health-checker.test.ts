/**
 * The agent scenario's health checkers on hand-written histories: each accepts a history that keeps
 * its rule and names the break in one that does not.
 */
import test from "ava";
import type { CheckStatus } from "../../src/core/catalog/types.ts";
import { Script } from "../catalog/harness.ts";
import {
  checkCriticalDeregistration, checkOutputBatching, checkPassingQuery, checkWritesReflectResults, finalReported, reportedTimeline, type CheckRun, type CheckWrite,
} from "../../sim/checkers/health-checker.ts";

const run = (results: [number, "passing" | "warning" | "critical", string][], overrides: Partial<CheckRun> = {}): CheckRun => ({
  process: "c1/0", checkId: "service:web", serviceId: "web", initialStatus: "critical",
  successBeforePassing: 2, failuresBeforeWarning: 1, failuresBeforeCritical: 3, deregisterAfterMs: 0,
  addedMs: 0, results: results.map(([atMs, status, output]) => ({ atMs, status, output })), removedMs: null, removedBy: null, ...overrides,
});

test("reference thresholds: first result at once, then held back, warning, critical, as Consul's StatusHandler", (t) => {
  const r = run([[1, "passing", "a"], [2, "critical", "b"], [3, "critical", "c"], [4, "critical", "d"], [5, "passing", "e"], [6, "warning", "f"]]);
  t.deepEqual(reportedTimeline(r).map((x) => `${x.status}:${x.output}`), ["critical:", "passing:a", "warning:b", "warning:c", "critical:d", "warning:f"]);
  t.like(finalReported(r), { status: "warning", output: "f" });
});

test("(H1) a write of a state the thresholds never implied is named; implied ones pass", (t) => {
  const r = run([[100, "passing", "a"], [200, "critical", "b"]]);
  const write = (status: CheckWrite["status"], output: string, issueMs: number): CheckWrite => ({ process: "c1/0", checkId: "service:web", status, output, issueMs, catalogCopy: null, ackMs: null });
  t.is(checkWritesReflectResults([r], [write("passing", "a", 150), write("warning", "b", 250)]), null);
  t.regex(checkWritesReflectResults([r], [write("critical", "b", 250)]) ?? "", /^check thresholds: c1\/0 wrote service:web critical "b" at 250 ms, a state the thresholds never implied \(last implied: warning "b"/);
  t.regex(checkWritesReflectResults([r], [write("warning", "b", 150)]) ?? "", /never implied/, "not before the result came");
});

test("(H3) an output-only write sooner than check_update_interval after the last acknowledged one is named", (t) => {
  const copy = { status: "passing" as const, output: "old", sameOtherwise: true };
  const w = (issueMs: number, ackMs: number | null, output: string, catalogCopy: CheckWrite["catalogCopy"]): CheckWrite => ({ process: "c1/0", checkId: "c", status: "passing", output, issueMs, ackMs, catalogCopy });
  t.is(checkOutputBatching([w(0, 100, "a", null), w(5_100, 5_200, "b", copy)], 5_000), null);
  t.regex(checkOutputBatching([w(0, 100, "a", null), w(5_000, 5_200, "b", copy)], 5_000) ?? "", /^check_update_interval: c1\/0 wrote an output-only change of c at 5000 ms, 4900 ms after/);
  t.is(checkOutputBatching([w(0, 100, "a", null), w(1_000, null, "b", { ...copy, status: "critical" })], 5_000), null, "a status change is never held");
  t.is(checkOutputBatching([w(0, null, "a", null), w(1_000, null, "b", copy)], 5_000), null, "no acknowledged write before it");
});

test("(H4) deregistration: required once critical past the limit plus a reap interval, refused before", (t) => {
  const failing = (removedMs: number | null, removedBy: CheckRun["removedBy"]) =>
    run([[1_000, "critical", "x"], [2_000, "critical", "x"]], { successBeforePassing: 0, failuresBeforeWarning: 0, failuresBeforeCritical: 0, initialStatus: "passing", deregisterAfterMs: 3_000, removedMs, removedBy });
  t.is(checkCriticalDeregistration([failing(4_500, "deregister-critical")], 1_000, 1_000, 10_000), null);
  t.regex(checkCriticalDeregistration([failing(3_500, "deregister-critical")], 1_000, 1_000, 10_000) ?? "", /only 2500 ms after service:web went critical \(want > 3000 ms\)/);
  t.regex(checkCriticalDeregistration([failing(null, null)], 1_000, 1_000, 10_000) ?? "", /critical since 1000 ms, still registered at 5000 ms/);
  t.is(checkCriticalDeregistration([failing(4_000, "stopped")], 1_000, 1_000, 10_000), null, "a process that stopped first owes nothing");
  t.is(checkCriticalDeregistration([failing(null, null)], 10_000, 1_000, 10_000), null, "the minimum raises the limit: not yet due at the end");
});

test("(H5) ?passing must list exactly the instances whose agent holds every check passing", (t) => {
  const s = new Script();
  s.node("n1", {});
  s.node("n2", {});
  s.service("n1", "web", { ID: "web" }, [{ CheckID: "service:web", Status: "passing", ServiceID: "web" }]);
  s.service("n2", "web", { ID: "web" }, [{ CheckID: "service:web", Status: "passing", ServiceID: "web" }]);
  const held = (n1: CheckStatus[], n2: CheckStatus[]) => [
    { node: "n1", serviceId: "web", serviceName: "web", statuses: n1 },
    { node: "n2", serviceId: "web", serviceName: "web", statuses: n2 },
  ];
  const live = new Set(["n1", "n2"]);
  t.is(checkPassingQuery(s.catalog, held(["passing"], ["passing"]), live), null);
  t.is(checkPassingQuery(s.catalog, held(["passing"], ["critical"]), live), "health ?passing: web lists n2/web, whose agent reports a check critical");
  s.ok({ op: "catalog.register", Node: "n1", Address: "10.0.0.1", Check: { CheckID: "service:web", Status: "critical", ServiceID: "web" } });
  t.is(checkPassingQuery(s.catalog, held(["passing"], ["passing"]), live), "health ?passing: web leaves out n1/web, whose agent reports every check passing");
});
