/**
 * When a check's new status or output must reach the catalog, as Consul's local state decides it
 * (`State.UpdateCheck`): a status change syncs at once; an output-only change is stored locally
 * and written back after `check_update_interval` (default 5 min) halved plus a random stagger of
 * up to the whole interval, so a check whose output flaps (a timestamp, a counter) does not write
 * to the servers on every run. One deferred write covers every output change until it fires.
 */
import { assert } from "../util/assert.ts";
import type { Rng } from "../util/rng.ts";
import type { CheckResultStatus } from "./types.ts";

/** Consul's `check_update_interval` default. */
export const checkUpdateIntervalMsDefault = 5 * 60_000;

export type CheckSyncPlan =
  /** Nothing changed: no write. */
  | { readonly kind: "none" }
  /** The status changed (or deferral is off): mark the check out of sync now. */
  | { readonly kind: "now" }
  /** Output only: keep it locally; a write-back is already pending. */
  | { readonly kind: "pending" }
  /** Output only: keep it locally and mark the check out of sync after `afterMs`. */
  | { readonly kind: "defer"; readonly afterMs: number };

export function planCheckSync(
  previous: { readonly status: CheckResultStatus; readonly output: string },
  next: { readonly status: CheckResultStatus; readonly output: string },
  deferPending: boolean,
  checkUpdateIntervalMs: number,
  rng: Rng,
): CheckSyncPlan {
  assert(checkUpdateIntervalMs >= 0, `check_update_interval ${checkUpdateIntervalMs} ms is negative`);
  if (previous.status === next.status && previous.output === next.output) return { kind: "none" };
  if (checkUpdateIntervalMs === 0 || previous.status !== next.status) return { kind: "now" };
  if (deferPending) return { kind: "pending" };
  // Consul: interval/2 + lib.RandomStagger(interval), a draw in [0, interval).
  const afterMs = checkUpdateIntervalMs / 2 + Math.floor(rng.next() * checkUpdateIntervalMs);
  assert(afterMs >= checkUpdateIntervalMs / 2 && afterMs < checkUpdateIntervalMs * 1.5, `deferral ${afterMs} ms outside [interval/2, 1.5 interval)`);
  return { kind: "defer", afterMs };
}
