/**
 * A health check as the agent runs it: Consul's CheckDefinition/CheckType, parsed once into one
 * typed value. `probe` says what the check does; everything else is shared by every kind.
 */
import { formatGoDuration } from "../catalog/codec.ts";
import type { CheckStatus } from "../catalog/types.ts";

/** The statuses a check can report or be registered with (maintenance is the agent's, not a check's). */
export type CheckResultStatus = Exclude<CheckStatus, "maintenance">;
export const checkResultStatuses: readonly CheckResultStatus[] = ["passing", "warning", "critical"];

/** Consul's `CheckType.Type()` names, which `/v1/agent/checks` shows as `Type`. */
export type CheckKind = "script" | "http" | "tcp" | "udp" | "ttl" | "alias" | "docker" | "grpc" | "h2ping" | "os_service";

export type CheckProbe =
  /** `args`: the program and its arguments, spawned without a shell. */
  | { readonly kind: "script"; readonly args: readonly string[] }
  | {
      readonly kind: "http";
      readonly url: string;
      /** Upper-cased as given; "GET" when absent. */
      readonly method: string;
      readonly header: Readonly<Record<string, readonly string[]>>;
      readonly body: string;
      readonly tlsSkipVerify: boolean;
      /** SNI and certificate name override; "" for the URL's host. */
      readonly tlsServerName: string;
      readonly disableRedirects: boolean;
    }
  | { readonly kind: "tcp"; readonly address: string }
  | { readonly kind: "udp"; readonly address: string }
  | { readonly kind: "ttl" }
  /** `aliasNode` "" means this agent's node. */
  | { readonly kind: "alias"; readonly aliasNode: string; readonly aliasService: string }
  | { readonly kind: "docker"; readonly containerId: string; readonly args: readonly string[]; readonly shell: string }
  | { readonly kind: "grpc"; readonly target: string; readonly useTls: boolean; readonly tlsSkipVerify: boolean }
  | { readonly kind: "h2ping"; readonly target: string; readonly useTls: boolean }
  | { readonly kind: "os_service"; readonly service: string };

export interface CheckDefinition {
  /** Consul's CheckID: given, or `service:<id>[:n]` for a service check, or the name. */
  readonly id: string;
  readonly name: string;
  readonly notes: string;
  /** "" for a node-level check. */
  readonly serviceId: string;
  /** The status the check starts in (Consul: critical unless `status` says otherwise). */
  readonly status: CheckResultStatus;
  readonly probe: CheckProbe;
  /** 0 for TTL and alias checks. Invariant: > 0 for script, http, tcp, udp, docker, grpc, h2ping. */
  readonly intervalMs: number;
  /** 0 means the kind's default (Consul: 30 s for scripts, 10 s for the rest). */
  readonly timeoutMs: number;
  /** > 0 exactly for TTL checks. */
  readonly ttlMs: number;
  /** Consul's StatusHandler thresholds; failuresBeforeWarning defaults to failuresBeforeCritical. */
  readonly successBeforePassing: number;
  readonly failuresBeforeWarning: number;
  readonly failuresBeforeCritical: number;
  /** 0 = never. The service is deregistered after its check stays critical this long. */
  readonly deregisterCriticalServiceAfterMs: number;
  /** 0 = the agent's limit (4 KiB); otherwise the smaller of the two. */
  readonly outputMaxSize: number;
}

export function checkKind(def: CheckDefinition): CheckKind {
  return def.probe.kind;
}

/**
 * The `Type`, `Interval` and `Timeout` fields Consul shows for a check in `/v1/agent/checks` and
 * the catalog: the kind's name and Go duration strings ("10s"; "0s" when unset, as Go prints 0).
 */
export function checkRecordFields(def: CheckDefinition): { Type: CheckKind; Interval: string; Timeout: string } {
  return { Type: def.probe.kind, Interval: formatGoDuration(def.intervalMs), Timeout: formatGoDuration(def.timeoutMs) };
}
