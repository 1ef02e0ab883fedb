/**
 * The agent scenario's health-check workload: what each check is (its thresholds, interval,
 * deregister_critical_service_after) and what its probe returns at each run, all drawn from the
 * seed. A check flaps, fails, recovers, or stays passing with an output that changes on every run
 * (a counter, as real checks print timestamps); once the faults heal, every check settles on a
 * final result so the cluster can converge.
 */
import type { RawStatus } from "../checkers/health-checker.ts";
import type { WorldRng } from "../world/rng.ts";

export type CheckPattern = "steady" | "flapping" | "failing" | "recovering";

export interface CheckPlan {
  readonly id: string;
  /** "" for a node check. */
  readonly serviceId: string;
  readonly pattern: CheckPattern;
  readonly initialStatus: RawStatus;
  readonly intervalMs: number;
  readonly successBeforePassing: number;
  readonly failuresBeforeWarning: number;
  readonly failuresBeforeCritical: number;
  readonly deregisterAfterMs: number;
  /** Outputs carry the run's number (they change every run) or only the status's text. */
  readonly counterOutput: boolean;
  /** failing/recovering: when the raw result turns. */
  readonly turnAtMs: number;
  /** The result once the faults have healed. */
  readonly finalStatus: RawStatus;
}

const patterns: readonly CheckPattern[] = ["steady", "flapping", "flapping", "failing", "recovering"];
const text: Readonly<Record<RawStatus, string>> = {
  passing: "HTTP GET /health: 200 OK",
  warning: "HTTP GET /health: 429 Too Many Requests",
  critical: "HTTP GET /health: 503 Service Unavailable",
};

/** A check for `serviceId` ("" for the node), with everything it will do drawn from `rng`. */
export function drawCheckPlan(rng: WorldRng, id: string, serviceId: string, durationMs: number): CheckPlan {
  const pattern = rng.pick(patterns);
  const failuresBeforeCritical = rng.int(0, 3);
  const finalStatus: RawStatus = pattern === "failing" ? "critical" : pattern === "recovering" || pattern === "steady" ? "passing" : rng.pick(["passing", "passing", "warning", "critical"]);
  return {
    id, serviceId, pattern,
    initialStatus: rng.pick(["critical", "critical", "passing"]),
    intervalMs: rng.int(500, 3_000),
    successBeforePassing: rng.int(0, 3),
    failuresBeforeWarning: rng.int(0, failuresBeforeCritical),
    failuresBeforeCritical,
    deregisterAfterMs: serviceId !== "" && rng.int(0, 2) === 0 ? rng.int(2_000, 20_000) : 0,
    counterOutput: rng.int(0, 2) > 0,
    turnAtMs: rng.int(0, durationMs),
    finalStatus,
  };
}

/** The raw result of run `n` at `nowMs`; `previous` is the last raw status (flapping keeps it a while). */
export function rawResult(plan: CheckPlan, rng: WorldRng, n: number, nowMs: number, settledAtMs: number, previous: RawStatus | null): { status: RawStatus; output: string } {
  if (nowMs >= settledAtMs) return { status: plan.finalStatus, output: `${text[plan.finalStatus]} (settled)` };
  let status: RawStatus;
  switch (plan.pattern) {
    case "steady":
      status = "passing";
      break;
    case "flapping":
      status = previous !== null && rng.next() < 0.6 ? previous : rng.pick(["passing", "passing", "warning", "critical", "critical"]);
      break;
    case "failing":
      status = nowMs < plan.turnAtMs ? "passing" : "critical";
      break;
    case "recovering":
      status = nowMs < plan.turnAtMs ? "critical" : "passing";
      break;
  }
  return { status, output: plan.counterOutput ? `run ${n}: ${text[status]}` : text[status] };
}
