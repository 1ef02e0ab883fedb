/**
 * What a check's results do on this agent, as one pure table that the runtime's check runner
 * (src/agent/checks/runner.ts) and the simulator's agent scenario both drive: each check's status
 * machine (Consul's StatusHandler thresholds, src/core/checks/status.ts) and the reaping of
 * service checks critical for longer than their `deregister_critical_service_after`, once per
 * critical spell. The owner runs the probes and the timers and passes the clock in as `nowMs`;
 * what must reach the catalog, and when, is LocalSync's (check_update_interval).
 *
 * Invariant: every entry's state keeps status.ts's invariants; `deregisterReportedFor`, when set,
 * is a critical spell's start no later than the current one's.
 */
import { assert } from "../util/assert.ts";
import {
  criticalForMs, initialCheckState, onDirectResult, onProbeResult, shouldDeregister, validateThresholds,
  type CheckChange, type CheckState, type CheckThresholds,
} from "../checks/status.ts";
import type { CheckResultStatus } from "../checks/types.ts";

export interface CheckStateSpec {
  readonly id: string;
  /** "" for a node check (never deregisters a service). */
  readonly serviceId: string;
  /** The status the check starts in when it is new. */
  readonly status: CheckResultStatus;
  readonly thresholds: CheckThresholds;
  /** 0 = never. */
  readonly deregisterCriticalServiceAfterMs: number;
}

export interface CriticalDeregistration {
  readonly serviceId: string;
  readonly checkId: string;
  readonly criticalForMs: number;
}

export interface CheckStatesConfig {
  /** Consul's `check_deregister_interval_min` (1 min): the least deregister_critical_service_after. */
  readonly deregisterCriticalMinMs: number;
}

interface Entry {
  readonly spec: CheckStateSpec;
  state: CheckState;
  /** The critical spell (its start) already reported for deregistration. */
  deregisterReportedFor: number | null;
}

export class CheckStates {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly config: CheckStatesConfig) {
    assert(Number.isFinite(config.deregisterCriticalMinMs) && config.deregisterCriticalMinMs >= 0, `deregisterCriticalMinMs ${config.deregisterCriticalMinMs} must be >= 0`);
  }

  /**
   * Adds a check, or replaces one with the same ID keeping its status, output and critical spell
   * (a reload must not flap: Consul snapshots them the same way). Returns the state it starts in.
   */
  add(spec: CheckStateSpec, nowMs: number, output = ""): CheckState {
    validateThresholds(spec.thresholds);
    assert(spec.deregisterCriticalServiceAfterMs >= 0, `check ${spec.id}: deregister_critical_service_after ${spec.deregisterCriticalServiceAfterMs} ms < 0`);
    const previous = this.entries.get(spec.id);
    let state = initialCheckState(previous?.state.status ?? spec.status, previous?.state.output ?? output, spec.thresholds, nowMs);
    if (previous !== undefined) state = { ...state, criticalSinceMs: previous.state.criticalSinceMs };
    this.entries.set(spec.id, { spec, state, deregisterReportedFor: null });
    return state;
  }

  remove(id: string): boolean {
    return this.entries.delete(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  state(id: string): CheckState | undefined {
    return this.entries.get(id)?.state;
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** An interval probe's result, through the thresholds. Null for an unknown (removed) check. */
  probeResult(id: string, status: CheckResultStatus, output: string, nowMs: number): CheckChange | null {
    const entry = this.entries.get(id);
    if (entry === undefined) return null;
    return this.step(entry, onProbeResult(entry.state, entry.spec.thresholds, status, output, nowMs));
  }

  /** A status set directly (TTL, alias, a script's timeout), past the thresholds. Null for an unknown check. */
  directResult(id: string, status: CheckResultStatus, output: string, nowMs: number): CheckChange | null {
    const entry = this.entries.get(id);
    if (entry === undefined) return null;
    return this.step(entry, onDirectResult(entry.state, status, output, nowMs));
  }

  /** How long a check has been critical (0 when it is not, or is unknown). */
  criticalForMs(id: string, nowMs: number): number {
    const entry = this.entries.get(id);
    return entry === undefined ? 0 : criticalForMs(entry.state, nowMs);
  }

  /**
   * Service checks now critical for longer than their deregister_critical_service_after (raised
   * to the minimum), each reported once per critical spell. The owner deregisters the services.
   */
  dueDeregistrations(nowMs: number): CriticalDeregistration[] {
    const due: CriticalDeregistration[] = [];
    for (const entry of this.entries.values()) {
      const { spec, state } = entry;
      if (spec.serviceId === "" || spec.deregisterCriticalServiceAfterMs <= 0) continue;
      if (!shouldDeregister(state, spec.deregisterCriticalServiceAfterMs, this.config.deregisterCriticalMinMs, nowMs)) continue;
      if (entry.deregisterReportedFor === state.criticalSinceMs) continue;
      entry.deregisterReportedFor = state.criticalSinceMs;
      due.push({ serviceId: spec.serviceId, checkId: spec.id, criticalForMs: criticalForMs(state, nowMs) });
    }
    return due;
  }

  private step(entry: Entry, [next, change]: [CheckState, CheckChange]): CheckChange {
    entry.state = next;
    assert(!change.changed || !change.heldBack, `check ${entry.spec.id}: a result both changed and held back`);
    return change;
  }

  invariants(): void {
    for (const [id, { state, deregisterReportedFor }] of this.entries) {
      assert((state.criticalSinceMs !== null) === (state.status === "critical"), `check ${id}: criticalSinceMs ${state.criticalSinceMs} with status ${state.status}`);
      assert(state.successCount >= 0 && state.failureCount >= 0, `check ${id}: counters ${state.successCount}/${state.failureCount}`);
      if (deregisterReportedFor !== null && state.criticalSinceMs !== null) {
        assert(deregisterReportedFor <= state.criticalSinceMs, `check ${id}: reported spell ${deregisterReportedFor} after the current one ${state.criticalSinceMs}`);
      }
    }
  }
}
