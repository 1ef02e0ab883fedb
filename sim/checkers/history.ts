/**
 * A client-observed history of key-value operations, as the simulator's workload records it and
 * the linearizability checker reads it. Times are simulated milliseconds.
 */
export type KvOp =
  | { readonly kind: "put"; readonly key: string; readonly value: string }
  | { readonly kind: "get"; readonly key: string; readonly mode: "readIndex" | "lease" }
  | { readonly kind: "cas"; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly kind: "delete"; readonly key: string };

export type KvResult =
  | { readonly kind: "ok" }
  | { readonly kind: "value"; readonly value: string | null }
  | { readonly kind: "cas"; readonly swapped: boolean };

export interface HistoryOp {
  readonly id: number;
  readonly client: number;
  readonly op: KvOp;
  readonly callMs: number;
  /**
   * null when the outcome is indeterminate (timeout, crash, lost reply): the write may or may not
   * have taken effect, at any time after the call.
   */
  readonly returnMs: number | null;
  readonly result: KvResult | null;
}

export type CheckResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly key: string; readonly explanation: string; readonly ops: readonly HistoryOp[] };
