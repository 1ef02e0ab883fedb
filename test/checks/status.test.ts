import test from "ava";
import {
  aliasResult, capturedOutput, criticalForMs, initialCheckState, onDirectResult, onProbeResult, planCheckSync, shouldDeregister,
  TailBuffer, truncateTtlOutput, type AliasedCheck, type CheckResultStatus, type CheckState, type CheckThresholds,
} from "../../src/core/checks/index.ts";

const letter: Record<string, CheckResultStatus> = { P: "passing", W: "warning", C: "critical" };
const short: Record<CheckResultStatus, string> = { passing: "P", warning: "W", critical: "C" };

/** Feeds results ("P W C ...") through the thresholds; returns what was reported per step ("." = held back). */
function play(thresholds: CheckThresholds, results: string, initial: CheckResultStatus = "critical"): string {
  let state = initialCheckState(initial, "", thresholds, 0);
  const reported: string[] = [];
  results.split(" ").forEach((r, i) => {
    const [next, change] = onProbeResult(state, thresholds, letter[r]!, `out ${i}`, i);
    reported.push(change.heldBack ? "." : short[next.status]);
    state = next;
  });
  return reported.join(" ");
}

const t3 = (s: number, w: number, c: number): CheckThresholds => ({ successBeforePassing: s, failuresBeforeWarning: w, failuresBeforeCritical: c });

test("StatusHandler thresholds: table of result sequences and what each step reports", (t) => {
  const rows: Array<[CheckThresholds, string, string, string]> = [
    [t3(0, 0, 0), "C P W C", "C P W C", "no thresholds: every result is reported"],
    [t3(2, 2, 3), "P C C C P C P P", "P . W C . . . P", "Consul's 2/2/3: warning at 2 failures, critical at 3, passing after 2 successes"],
    [t3(0, 0, 3), "C", "C", "the first result is reported at once: counters start at their thresholds"],
    [t3(3, 0, 0), "P", "P", "the first success too"],
    [t3(2, 0, 0), "C W W", "C . W", "warning results count as successes and are reported as warning"],
    [t3(0, 1, 3), "P C C C", "P W W C", "failures_before_warning 1: the first failure already reports warning"],
    [t3(0, 3, 3), "P C C C C", "P . . C C", "warning threshold equal to critical: straight to critical"],
    [t3(1, 2, 2), "P C P C C", "P . P . C", "one success between failures resets the failure count"],
    [t3(3, 0, 0), "C P P C P P P", "C . . C . . P", "one failure between successes resets the success count"],
  ];
  for (const [thresholds, results, expected, why] of rows) t.is(play(thresholds, results), expected, why);
});

test("a failure held at the warning threshold reports the failing output under warning", (t) => {
  const thresholds = t3(0, 1, 2);
  const [passing] = onProbeResult(initialCheckState("critical", "", thresholds, 0), thresholds, "passing", "ok", 1);
  const [warned, change] = onProbeResult(passing, thresholds, "critical", "connection refused", 2);
  t.is(warned.status, "warning");
  t.is(warned.output, "connection refused");
  t.true(change.changed && change.statusChanged);
});

test("changed says whether the status or output moved; the same result twice changes nothing", (t) => {
  const thresholds = t3(0, 0, 0);
  let state = initialCheckState("critical", "", thresholds, 0);
  const steps: Array<[CheckResultStatus, string, boolean, boolean]> = [
    ["passing", "HTTP GET /: 200 OK Output: a", true, true],
    ["passing", "HTTP GET /: 200 OK Output: a", false, false],
    ["passing", "HTTP GET /: 200 OK Output: b", true, false],
    ["critical", "HTTP GET /: 503 Service Unavailable Output: ", true, true],
  ];
  for (const [status, output, changed, statusChanged] of steps) {
    const [next, change] = onProbeResult(state, thresholds, status, output, 1);
    t.deepEqual([change.changed, change.statusChanged], [changed, statusChanged], `${status} ${output}`);
    state = next;
  }
});

test("direct results (TTL, alias, script timeout) skip the thresholds and leave the counters alone", (t) => {
  const thresholds = t3(3, 0, 3);
  const start = initialCheckState("critical", "", thresholds, 0);
  const [passing] = onProbeResult(start, thresholds, "passing", "", 1);
  const [direct, change] = onDirectResult(passing, "critical", "Timed out (1s) running check", 2);
  t.is(direct.status, "critical");
  t.true(change.changed);
  t.is(direct.successCount, passing.successCount);
  t.is(direct.failureCount, passing.failureCount);
});

test("criticalSinceMs: set on entering critical, kept while critical, cleared on leaving; deregistration waits for the minimum", (t) => {
  const thresholds = t3(0, 0, 0);
  let state: CheckState = initialCheckState("passing", "", thresholds, 0);
  t.is(state.criticalSinceMs, null);
  [state] = onProbeResult(state, thresholds, "critical", "down", 1000);
  t.is(state.criticalSinceMs, 1000);
  [state] = onProbeResult(state, thresholds, "critical", "still down", 5000);
  t.is(state.criticalSinceMs, 1000);
  t.is(criticalForMs(state, 6000), 5000);
  t.false(shouldDeregister(state, 4000, 60_000, 6000), "4 s asked, but the agent's minimum is 1 min");
  t.true(shouldDeregister(state, 4000, 0, 6000));
  t.false(shouldDeregister(state, 5000, 0, 6000), "exactly the limit is not beyond it");
  t.false(shouldDeregister(state, 0, 0, 1e9), "0 means never");
  [state] = onProbeResult(state, thresholds, "warning", "", 7000);
  t.is(state.criticalSinceMs, null);
  t.false(shouldDeregister(state, 1, 0, 1e9));
  t.is(initialCheckState("critical", "", thresholds, 42).criticalSinceMs, 42, "registered critical counts from registration");
});

test("thresholds are checked: warning above critical is an assertion with both values", (t) => {
  t.throws(() => initialCheckState("critical", "", t3(0, 3, 2), 0), { message: /failuresBeforeWarning 3 > failuresBeforeCritical 2/ });
  t.throws(() => initialCheckState("critical", "", t3(-1, 0, 0), 0), { message: /successBeforePassing -1/ });
});

test("script output keeps the last 4 KiB with Consul's `Captured N of M bytes` marker", (t) => {
  const buffer = new TailBuffer(4096);
  const enc = new TextEncoder();
  buffer.write(enc.encode("a".repeat(3000)));
  t.is(capturedOutput(buffer), "a".repeat(3000), "under the limit: as written, no marker");
  buffer.write(enc.encode("b".repeat(2000)));
  t.is(capturedOutput(buffer), `Captured 4096 of 5000 bytes\n...\n${"a".repeat(2096)}${"b".repeat(2000)}`);
  const big = new TailBuffer(10);
  big.write(enc.encode("0123456789abcdefghij"));
  t.is(capturedOutput(big), "Captured 10 of 20 bytes\n...\nabcdefghij", "one chunk larger than the ring");
});

test("a cut never leaves half a UTF-8 character", (t) => {
  const buffer = new TailBuffer(5);
  buffer.write(new TextEncoder().encode("ééé")); // 6 bytes; the ring keeps the last 5: half of the first é
  t.is(buffer.text(), "éé");
  t.is(truncateTtlOutput("ééé", 5), "éé ... (captured 5 of 6 bytes)");
});

test("TTL output keeps the first 4 KiB with Consul's ` ... (captured N of M bytes)` marker", (t) => {
  t.is(truncateTtlOutput("short", 4096), "short");
  t.is(truncateTtlOutput("x".repeat(4096), 4096), "x".repeat(4096));
  t.is(truncateTtlOutput(`${"x".repeat(4096)}yz`, 4096), `${"x".repeat(4096)} ... (captured 4096 of 4098 bytes)`);
});

const check = (Node: string, ServiceID: string, Name: string, Status: AliasedCheck["Status"], Output = ""): AliasedCheck => ({ Node, ServiceID, Name, Status, Output });

test("alias status: the worst of the aliased instance's checks and its node's checks, in Consul's words", (t) => {
  const web = { node: "", serviceId: "web" };
  const rows: Array<[AliasedCheck[], boolean, CheckResultStatus, string]> = [
    [[check("n1", "web", "up", "passing")], true, "passing", "All checks passing."],
    [[check("n1", "web", "up", "passing"), check("n1", "web", "slow", "warning", "429")], true, "warning", 'Aliased check "slow" failing: 429'],
    [[check("n1", "web", "slow", "warning"), check("n1", "web", "down", "critical", "refused"), check("n1", "web", "w2", "warning")], true, "critical", 'Aliased check "down" failing: refused'],
    [[check("n1", "", "serfHealth", "critical", "Agent not live or unreachable"), check("n1", "web", "up", "passing")], true, "critical", 'Aliased check "serfHealth" failing: Agent not live or unreachable'],
    [[check("n1", "db", "db", "critical")], true, "passing", "No checks found."],
    [[check("n1", "db", "db", "critical")], false, "critical", "Service web could not be found on node "],
    [[check("n1", "web", "maint", "maintenance", "down for upgrade")], true, "critical", 'Aliased check "maint" failing: down for upgrade'],
  ];
  for (const [checks, exists, status, output] of rows) t.deepEqual(aliasResult(web, checks, exists), { status, output }, JSON.stringify(checks));
  t.deepEqual(aliasResult({ node: "n2", serviceId: "web" }, [check("n1", "web", "down", "critical"), check("n2", "web", "up", "passing")], true),
    { status: "passing", output: "All checks passing." }, "checks of other nodes are ignored when a node is named");
});

test("check_update_interval: a status change syncs now, an output-only change waits interval/2 + stagger, once", (t) => {
  const rng = { next: () => 0.25 };
  const minutes5 = 300_000;
  const p = (status: CheckResultStatus, output: string) => ({ status, output });
  t.deepEqual(planCheckSync(p("passing", "a"), p("passing", "a"), false, minutes5, rng), { kind: "none" });
  t.deepEqual(planCheckSync(p("passing", "a"), p("critical", "a"), false, minutes5, rng), { kind: "now" });
  t.deepEqual(planCheckSync(p("passing", "a"), p("critical", "b"), true, minutes5, rng), { kind: "now" }, "a status change does not wait for a pending write-back");
  t.deepEqual(planCheckSync(p("passing", "a"), p("passing", "b"), false, minutes5, rng), { kind: "defer", afterMs: 150_000 + 75_000 });
  t.deepEqual(planCheckSync(p("passing", "b"), p("passing", "c"), true, minutes5, rng), { kind: "pending" });
  t.deepEqual(planCheckSync(p("passing", "a"), p("passing", "b"), false, 0, rng), { kind: "now" }, "0 turns deferral off");
});
