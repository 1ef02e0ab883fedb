/**
 * Checkers of the agent scenario's health checks (issue 13). The scenario feeds each check's raw
 * results, drawn from the seed, into the agent's CheckStates; these checkers judge what reached
 * the catalog against a model of Consul's rules written here, apart from the code they check:
 *
 *   (H1) every check write an agent sends carries a status and output its check reported, as
 *        the thresholds imply from the raw results seen so far (Consul's StatusHandler: passing
 *        and warning count as successes, reported after success_before_passing in a row; a
 *        failure is reported critical at failures_before_critical in a row, else warning at
 *        failures_before_warning, else held back; both counters start at their thresholds);
 *   (H2) at convergence, the catalog's copy of every live agent's check is the status and output
 *        the thresholds imply from all its raw results;
 *   (H3) an output-only write of a check leaves at least check_update_interval after the
 *        previous write of that check was acknowledged;
 *   (H4) a service check critical for longer than its deregister_critical_service_after (raised
 *        to the agent's minimum) has its service deregistered within one reap interval, and never
 *        before;
 *   (H5) after convergence, health/service ?passing (what DNS and load balancers ask) lists an
 *        instance exactly when every check its agent holds for it and its node is passing.
 *
 * Each returns null when the property holds, else a message that starts with its name.
 */
import type { Catalog } from "../../src/core/catalog/catalog.ts";
import type { CheckStatus } from "../../src/core/catalog/types.ts";

export type RawStatus = "passing" | "warning" | "critical";

export interface RawResult {
  readonly atMs: number;
  readonly status: RawStatus;
  readonly output: string;
}

export interface Reported {
  readonly atMs: number;
  readonly status: RawStatus;
  readonly output: string;
}

/** One check as one agent process ran it, from registration to removal. */
export interface CheckRun {
  /** `agent/gen`: the process. */
  readonly process: string;
  readonly checkId: string;
  readonly serviceId: string;
  readonly initialStatus: RawStatus;
  readonly successBeforePassing: number;
  readonly failuresBeforeWarning: number;
  readonly failuresBeforeCritical: number;
  /** deregister_critical_service_after as configured (0 = never). */
  readonly deregisterAfterMs: number;
  readonly addedMs: number;
  readonly results: RawResult[];
  removedMs: number | null;
  removedBy: "deregister-critical" | "service-removed" | "stopped" | null;
}

/** One check write an agent's anti-entropy sent. */
export interface CheckWrite {
  readonly process: string;
  readonly checkId: string;
  readonly status: CheckStatus;
  readonly output: string;
  readonly issueMs: number;
  /** The catalog's copy of the check in the read this write's sync made (null: absent). */
  readonly catalogCopy: { readonly status: CheckStatus; readonly output: string; readonly sameOtherwise: boolean } | null;
  ackMs: number | null;
}

/** The reported states a run went through, per Consul's StatusHandler, from its raw results. */
export function reportedTimeline(run: CheckRun): Reported[] {
  const out: Reported[] = [{ atMs: run.addedMs, status: run.initialStatus, output: "" }];
  let successes = run.successBeforePassing;
  let failures = run.failuresBeforeCritical;
  for (const r of run.results) {
    if (r.status !== "critical") {
      successes++;
      failures = 0;
      if (successes >= run.successBeforePassing) out.push({ atMs: r.atMs, status: r.status, output: r.output });
      continue;
    }
    failures++;
    successes = 0;
    if (failures >= run.failuresBeforeCritical) out.push({ atMs: r.atMs, status: "critical", output: r.output });
    else if (failures >= run.failuresBeforeWarning) out.push({ atMs: r.atMs, status: "warning", output: r.output });
  }
  return out;
}

export function finalReported(run: CheckRun): Reported {
  const timeline = reportedTimeline(run);
  return timeline[timeline.length - 1]!;
}

/** (H1) Every write of a check carries a state its check reported by then. */
export function checkWritesReflectResults(runs: readonly CheckRun[], writes: readonly CheckWrite[]): string | null {
  const byKey = new Map<string, CheckRun[]>();
  for (const run of runs) {
    const key = `${run.process}\u0000${run.checkId}`;
    byKey.set(key, [...(byKey.get(key) ?? []), run]);
  }
  for (const w of writes) {
    const candidates = byKey.get(`${w.process}\u0000${w.checkId}`);
    if (candidates === undefined) continue;
    const seen = candidates.flatMap((run) => reportedTimeline(run).filter((r) => r.atMs <= w.issueMs));
    if (seen.some((r) => r.status === w.status && r.output === w.output)) continue;
    const last = seen[seen.length - 1];
    return `check thresholds: ${w.process} wrote ${w.checkId} ${w.status} "${w.output}" at ${w.issueMs} ms, a state the thresholds never implied ` +
      `(last implied: ${last === undefined ? "none" : `${last.status} "${last.output}" at ${last.atMs} ms`}; thresholds ${describeThresholds(candidates[0]!)})`;
  }
  return null;
}

function describeThresholds(run: CheckRun): string {
  return `success_before_passing ${run.successBeforePassing}, failures_before_warning ${run.failuresBeforeWarning}, failures_before_critical ${run.failuresBeforeCritical}`;
}

/** (H2) The catalog holds the implied final state of every current check of a live process. */
export function checkCatalogChecksConverged(catalog: Catalog, node: string, runs: readonly CheckRun[]): string | null {
  const inCatalog = new Map(catalog.healthNode(node).value.map((c) => [c.CheckID, c]));
  for (const run of runs) {
    if (run.removedMs !== null) continue;
    const want = finalReported(run);
    const got = inCatalog.get(run.checkId);
    if (got === undefined) return `check convergence: ${node}'s check ${run.checkId} is missing from the catalog (want ${want.status} "${want.output}")`;
    if (got.Status !== want.status || got.Output !== want.output) {
      return `check convergence: ${node}'s check ${run.checkId} is ${got.Status} "${got.Output}" in the catalog, but its results imply ${want.status} "${want.output}" (${describeThresholds(run)})`;
    }
  }
  return null;
}

/** (H3) Output-only writes of a check are at least `intervalMs` after the last acknowledged write of it. */
export function checkOutputBatching(writes: readonly CheckWrite[], intervalMs: number): string | null {
  const byKey = new Map<string, CheckWrite[]>();
  for (const w of writes) {
    const key = `${w.process}\u0000${w.checkId}`;
    byKey.set(key, [...(byKey.get(key) ?? []), w]);
  }
  for (const list of byKey.values()) {
    for (const w of list) {
      const copy = w.catalogCopy;
      const outputOnly = copy !== null && copy.sameOtherwise && copy.status === w.status && copy.output !== w.output;
      if (!outputOnly) continue;
      let lastAckMs = -Infinity;
      for (const p of list) if (p !== w && p.ackMs !== null && p.ackMs <= w.issueMs) lastAckMs = Math.max(lastAckMs, p.ackMs);
      if (w.issueMs - lastAckMs < intervalMs) {
        return `check_update_interval: ${w.process} wrote an output-only change of ${w.checkId} at ${w.issueMs} ms, ${w.issueMs - lastAckMs} ms after the previous write of it was acknowledged (want >= ${intervalMs} ms)`;
      }
    }
  }
  return null;
}

/** (H4) Critical spells longer than deregister_critical_service_after end in the service's deregistration, never earlier. */
export function checkCriticalDeregistration(runs: readonly CheckRun[], deregisterMinMs: number, reapIntervalMs: number, endMs: number): string | null {
  for (const run of runs) {
    if (run.serviceId === "" || run.deregisterAfterMs <= 0) {
      if (run.removedBy === "deregister-critical") return `deregister critical: ${run.process} deregistered ${run.serviceId} for ${run.checkId}, which has no deregister_critical_service_after`;
      continue;
    }
    const afterMs = Math.max(run.deregisterAfterMs, deregisterMinMs);
    const runEndMs = run.removedMs ?? endMs;
    const timeline = reportedTimeline(run);
    for (let i = 0; i < timeline.length; i++) {
      if (timeline[i]!.status !== "critical" || (i > 0 && timeline[i - 1]!.status === "critical")) continue;
      const startMs = timeline[i]!.atMs;
      if (startMs > runEndMs) break;
      let spellEndMs = runEndMs;
      for (let j = i + 1; j < timeline.length; j++) {
        if (timeline[j]!.status !== "critical") {
          spellEndMs = Math.min(spellEndMs, timeline[j]!.atMs);
          break;
        }
      }
      const deadlineMs = startMs + afterMs + reapIntervalMs;
      if (spellEndMs > deadlineMs) {
        return `deregister critical: ${run.process}'s ${run.checkId} has been critical since ${startMs} ms, still registered at ${deadlineMs} ms (deregister_critical_service_after ${afterMs} ms + one reap interval ${reapIntervalMs} ms)`;
      }
      if (run.removedBy === "deregister-critical" && run.removedMs === spellEndMs && run.removedMs - startMs <= afterMs) {
        return `deregister critical: ${run.process} deregistered ${run.serviceId} at ${run.removedMs} ms, only ${run.removedMs - startMs} ms after ${run.checkId} went critical (want > ${afterMs} ms)`;
      }
    }
    if (run.removedBy === "deregister-critical") {
      const at = timeline.filter((r) => r.atMs <= run.removedMs!);
      if (at.length === 0 || at[at.length - 1]!.status !== "critical") {
        return `deregister critical: ${run.process} deregistered ${run.serviceId} at ${run.removedMs} ms while ${run.checkId} was ${at[at.length - 1]?.status ?? "unknown"}`;
      }
    }
  }
  return null;
}

/** What a live agent holds for one of its instances: the statuses of its checks and its node's. */
export interface InstanceHealth {
  readonly node: string;
  readonly serviceId: string;
  readonly serviceName: string;
  readonly statuses: readonly CheckStatus[];
}

/** (H5) ?passing lists exactly the instances whose agent holds every check passing. */
export function checkPassingQuery(catalog: Catalog, instances: readonly InstanceHealth[], liveNodes: ReadonlySet<string>): string | null {
  const names = new Set(instances.map((i) => i.serviceName));
  const expected = new Map(instances.map((i) => [`${i.node}/${i.serviceId}`, i]));
  for (const name of [...names].sort()) {
    const listed = new Set<string>();
    for (const entry of catalog.healthService(name, { passing: true }).value) {
      const key = `${entry.Node.Node}/${entry.Service.ID}`;
      listed.add(key);
      if (!liveNodes.has(entry.Node.Node)) continue;
      const held = expected.get(key);
      if (held === undefined) return `health ?passing: ${name} lists ${key}, which its agent does not hold`;
      const bad = held.statuses.find((s) => s !== "passing");
      if (bad !== undefined) return `health ?passing: ${name} lists ${key}, whose agent reports a check ${bad}`;
    }
    for (const held of instances) {
      if (held.serviceName !== name || held.statuses.some((s) => s !== "passing")) continue;
      if (!listed.has(`${held.node}/${held.serviceId}`)) return `health ?passing: ${name} leaves out ${held.node}/${held.serviceId}, whose agent reports every check passing`;
    }
  }
  return null;
}
