/**
 * One check's status as a pure state machine: a probe result goes in, the next state and what
 * changed come out. Thresholds work exactly as Consul's `StatusHandler`:
 *
 * - passing and warning results count as successes: the failure count resets, and the result is
 *   reported once `successBeforePassing` successes in a row have been seen;
 * - a critical result resets the success count; at `failuresBeforeCritical` failures in a row
 *   it is reported as critical, else at `failuresBeforeWarning` it is reported as *warning*
 *   (with the failing output), else it is held back;
 * - both counters start at their thresholds, so the first result after registration is
 *   reported at once whatever it is.
 *
 * TTL updates, alias results and a script's timeout bypass the thresholds (Consul reports
 * those straight to the agent's state), through `onDirectResult`.
 *
 * The clock comes in as `nowMs`; `criticalSinceMs` is what
 * `deregister_critical_service_after` measures (Consul's `CheckState.CriticalTime`).
 */
import { assert } from "../util/assert.ts";
import type { CheckResultStatus } from "./types.ts";

export interface CheckThresholds {
  readonly successBeforePassing: number;
  readonly failuresBeforeWarning: number;
  readonly failuresBeforeCritical: number;
}

/**
 * Invariants: criticalSinceMs !== null exactly when status is critical; at most one of the
 * counters is non-zero once a result has been seen (each result resets the other).
 */
export interface CheckState {
  readonly status: CheckResultStatus;
  readonly output: string;
  readonly successCount: number;
  readonly failureCount: number;
  readonly criticalSinceMs: number | null;
}

export interface CheckChange {
  /** The reported status or output differs from before: the agent's state must be updated. */
  readonly changed: boolean;
  readonly statusChanged: boolean;
  /** The result was held back by a threshold (Consul logs "has not reached ... threshold"). */
  readonly heldBack: boolean;
}

export function validateThresholds(t: CheckThresholds): void {
  for (const [name, value] of Object.entries(t)) {
    assert(Number.isInteger(value) && value >= 0, `threshold ${name} ${value} must be a whole number >= 0`);
  }
  assert(t.failuresBeforeWarning <= t.failuresBeforeCritical, `failuresBeforeWarning ${t.failuresBeforeWarning} > failuresBeforeCritical ${t.failuresBeforeCritical}`);
}

export function initialCheckState(status: CheckResultStatus, output: string, thresholds: CheckThresholds, nowMs: number): CheckState {
  validateThresholds(thresholds);
  return {
    status,
    output,
    successCount: thresholds.successBeforePassing,
    failureCount: thresholds.failuresBeforeCritical,
    criticalSinceMs: status === "critical" ? nowMs : null,
  };
}

/** A result from an interval probe (script exit, HTTP answer, TCP/UDP outcome), through the thresholds. */
export function onProbeResult(
  state: CheckState,
  thresholds: CheckThresholds,
  status: CheckResultStatus,
  output: string,
  nowMs: number,
): [CheckState, CheckChange] {
  if (status === "passing" || status === "warning") {
    const successCount = state.successCount + 1;
    const counted = { ...state, successCount, failureCount: 0 };
    if (successCount >= thresholds.successBeforePassing) return report(counted, status, output, nowMs);
    return [counted, held];
  }
  const failureCount = state.failureCount + 1;
  const counted = { ...state, failureCount, successCount: 0 };
  if (failureCount >= thresholds.failuresBeforeCritical) return report(counted, "critical", output, nowMs);
  if (failureCount >= thresholds.failuresBeforeWarning) return report(counted, "warning", output, nowMs);
  return [counted, held];
}

/** A status set directly: TTL updates and expiry, alias results, a script killed at its timeout. */
export function onDirectResult(state: CheckState, status: CheckResultStatus, output: string, nowMs: number): [CheckState, CheckChange] {
  return report(state, status, output, nowMs);
}

const held: CheckChange = { changed: false, statusChanged: false, heldBack: true };

function report(state: CheckState, status: CheckResultStatus, output: string, nowMs: number): [CheckState, CheckChange] {
  const statusChanged = status !== state.status;
  const changed = statusChanged || output !== state.output;
  let criticalSinceMs = state.criticalSinceMs;
  if (status !== "critical") criticalSinceMs = null;
  else if (criticalSinceMs === null) criticalSinceMs = nowMs;
  const next: CheckState = { ...state, status, output, criticalSinceMs };
  assert((next.criticalSinceMs !== null) === (next.status === "critical"), `criticalSinceMs ${next.criticalSinceMs} with status ${next.status}`);
  return [next, { changed, statusChanged, heldBack: false }];
}

/** How long the check has been critical, or 0 when it is not. */
export function criticalForMs(state: CheckState, nowMs: number): number {
  if (state.criticalSinceMs === null) return 0;
  return Math.max(0, nowMs - state.criticalSinceMs);
}

/**
 * Whether a critical check has now been critical for longer than its
 * `deregister_critical_service_after` (0 = never), raised to the agent's minimum as Consul does
 * (`check_deregister_interval_min`, 1 minute).
 */
export function shouldDeregister(state: CheckState, deregisterAfterMs: number, deregisterMinMs: number, nowMs: number): boolean {
  if (deregisterAfterMs <= 0 || state.criticalSinceMs === null) return false;
  const afterMs = Math.max(deregisterAfterMs, deregisterMinMs);
  return criticalForMs(state, nowMs) > afterMs;
}
