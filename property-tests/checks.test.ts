/**
 * Properties of the health checks' pure parts:
 * - the counter-based StatusHandler against a naive reference that rereads the whole history of
 *   results (runs of successes and failures, counted from registration);
 * - the tail ring buffer against slicing the concatenation of everything written;
 * - the definition parser: any JSON value gives a definition or an error, never a throw, and a
 *   definition's key spelling (case, underscores) does not matter.
 */
import test from "ava";
import fc from "fast-check";
import {
  initialCheckState, normalizeKey, onProbeResult, parseCheckDefinition, TailBuffer,
  type CheckResultStatus, type CheckThresholds,
} from "../src/core/checks/index.ts";

const statusArb = fc.constantFrom<CheckResultStatus>("passing", "warning", "critical");
const thresholdsArb = fc
  .tuple(fc.nat(5), fc.nat(5), fc.nat(5))
  .map(([s, a, b]): CheckThresholds => ({ successBeforePassing: s, failuresBeforeWarning: Math.min(a, b), failuresBeforeCritical: Math.max(a, b) }));

/** The reference: what Consul reports after result n, read from the history alone. */
function referenceReport(history: readonly CheckResultStatus[], t: CheckThresholds): CheckResultStatus | null {
  const last = history[history.length - 1]!;
  const success = (s: CheckResultStatus): boolean => s !== "critical";
  let run = 0;
  for (let i = history.length - 1; i >= 0 && success(history[i]!) === success(last); i--) run++;
  const fromStart = run === history.length;
  if (success(last)) {
    // Before any failure the success counter starts at its threshold.
    const count = run + (fromStart ? t.successBeforePassing : 0);
    return count >= t.successBeforePassing ? last : null;
  }
  const count = run + (fromStart ? t.failuresBeforeCritical : 0);
  if (count >= t.failuresBeforeCritical) return "critical";
  if (count >= t.failuresBeforeWarning) return "warning";
  return null;
}

test("StatusHandler counters agree with the history-reading reference, step by step", (t) => {
  fc.assert(
    fc.property(thresholdsArb, statusArb, fc.array(statusArb, { minLength: 1, maxLength: 40 }), (thresholds, initial, results) => {
      let state = initialCheckState(initial, "", thresholds, 0);
      let reported: CheckResultStatus = initial;
      let criticalSince: number | null = initial === "critical" ? 0 : null;
      results.forEach((result, i) => {
        const nowMs = i + 1;
        const [next, change] = onProbeResult(state, thresholds, result, `o${i}`, nowMs);
        const expected = referenceReport(results.slice(0, i + 1), thresholds);
        if (expected === null) {
          if (!change.heldBack || next.status !== reported) throw new Error(`step ${i}: expected held back at ${reported}, got ${next.status} heldBack=${change.heldBack}`);
        } else {
          if (change.heldBack || next.status !== expected) throw new Error(`step ${i}: expected ${expected}, got ${next.status} heldBack=${change.heldBack}`);
          if (change.statusChanged !== (expected !== reported)) throw new Error(`step ${i}: statusChanged ${change.statusChanged} for ${reported} -> ${expected}`);
          if (expected !== "critical") criticalSince = null;
          else if (reported !== "critical") criticalSince = nowMs;
          reported = expected;
        }
        if (next.criticalSinceMs !== criticalSince) throw new Error(`step ${i}: criticalSinceMs ${next.criticalSinceMs}, expected ${criticalSince}`);
        state = next;
      });
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test("TailBuffer keeps exactly the last capacity bytes of everything written", (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 20 }), (capacity, chunks) => {
      const buffer = new TailBuffer(capacity);
      for (const chunk of chunks) buffer.write(chunk);
      const all = chunks.flatMap((c) => [...c]);
      const expected = all.slice(Math.max(0, all.length - capacity));
      if (buffer.totalWritten !== all.length) throw new Error(`totalWritten ${buffer.totalWritten} != ${all.length}`);
      if (JSON.stringify([...buffer.bytes()]) !== JSON.stringify(expected)) throw new Error(`kept ${[...buffer.bytes()]} != ${expected}`);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test("any JSON value parses to a definition or a CheckDefinitionError, never a throw", (t) => {
  const keys = ["id", "name", "args", "http", "tcp", "udp", "ttl", "interval", "timeout", "status", "header", "alias_service",
    "ServiceID", "FailuresBeforeCritical", "failures_before_warning", "success_before_passing", "method", "body", "grpc", "docker_container_id"];
  const valueArb = fc.oneof(fc.jsonValue(), fc.constantFrom("10s", "1m30s", "0", "-1s", "passing", "critical", "127.0.0.1:80"), fc.array(fc.string(), { maxLength: 3 }));
  // Mostly-valid definitions: a name, one probe, its timing, some thresholds, and random extras.
  const plausibleArb = fc
    .tuple(
      fc.constantFrom<[string, unknown]>(["http", "http://127.0.0.1:1/"], ["tcp", "127.0.0.1:1"], ["udp", "127.0.0.1:1"], ["args", ["true"]], ["ttl", "10s"], ["alias_service", "web"]),
      fc.option(fc.constantFrom("10s", "100ms", 5e9, "0s", "x"), { nil: undefined }),
      fc.dictionary(fc.constantFrom("failures_before_critical", "failures_before_warning", "success_before_passing"), fc.oneof(fc.nat(4), fc.constant(-1))),
      fc.dictionary(fc.constantFrom(...keys), valueArb, { maxKeys: 2 }),
    )
    .map(([[probeKey, target], interval, thresholds, extra]) => ({
      name: "fuzz", [probeKey]: target, ...(interval === undefined || probeKey === "ttl" || probeKey === "alias_service" ? {} : { interval }), ...thresholds, ...extra,
    }));
  const defArb = fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom(...keys), valueArb), plausibleArb, plausibleArb);
  const outcomes = { ok: 0, refused: 0 };
  fc.assert(
    fc.property(defArb, fc.option(fc.constantFrom("web", "db"), { nil: undefined }), (raw, serviceId) => {
      const result = parseCheckDefinition(raw, { source: "fuzz", ...(serviceId === undefined ? {} : { serviceId }) });
      if (!result.ok) {
        outcomes.refused++;
        if (!result.error.message.startsWith("fuzz: ")) throw new Error(`error without its source: ${result.error.message}`);
        return;
      }
      outcomes.ok++;
      const d = result.definition;
      const timed = !["ttl", "alias"].includes(d.probe.kind);
      if (timed && !(d.intervalMs > 0)) throw new Error(`timed ${d.probe.kind} check with interval ${d.intervalMs}`);
      if (d.probe.kind === "ttl" && !(d.ttlMs > 0)) throw new Error(`ttl check with ttl ${d.ttlMs}`);
      if (d.failuresBeforeWarning > d.failuresBeforeCritical) throw new Error(`warning ${d.failuresBeforeWarning} > critical ${d.failuresBeforeCritical}`);
      if (d.id === "" || d.name === "") throw new Error(`empty id ${JSON.stringify(d.id)} or name ${JSON.stringify(d.name)}`);
    }),
    { numRuns: 5000 },
  );
  // Both outcomes must be reached, or the property says nothing about one of them.
  t.true(outcomes.ok > 50 && outcomes.refused > 50, JSON.stringify(outcomes));
});

test("key spelling does not matter: case, underscores and dashes give the same definition", (t) => {
  const base: Record<string, unknown> = {
    name: "api", service_id: "web", http: "http://127.0.0.1:8080/health", method: "POST", header: { "X-A": ["1"] },
    interval: "10s", timeout: "1s", tls_skip_verify: true, success_before_passing: 2, failures_before_critical: 3,
    deregister_critical_service_after: "1m",
  };
  const expected = parseCheckDefinition(base, { source: "t" });
  const respell = (key: string, flips: boolean[]): string =>
    [...key].map((ch, i) => (flips[i % flips.length] ? ch.toUpperCase() : ch.toLowerCase())).join("").replace(/_/g, flips[0] ? "" : "_");
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (flips) => {
      const respelled = Object.fromEntries(Object.entries(base).map(([k, v]) => [respell(k, flips), v]));
      for (const k of Object.keys(respelled)) if (normalizeKey(k) !== normalizeKey(respell(k, flips))) throw new Error(k);
      const result = parseCheckDefinition(respelled, { source: "t" });
      if (JSON.stringify(result) !== JSON.stringify(expected)) throw new Error(`${JSON.stringify(respelled)} parsed differently`);
    }),
    { numRuns: 500 },
  );
  t.pass();
});
