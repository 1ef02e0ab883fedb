/**
 * Lock and session operations as a linearizability history, in the register language the KV
 * checker speaks (linearizability.ts), so they are judged by the same search:
 *
 *   `holder:<key>`    the session holding a lock key, or null when free;
 *   `session:<id>`    "alive" while the session exists, null before and after.
 *
 * Clients' operations map onto it (call and return times are the clients'):
 *   acquire -> true   cas(null -> s) when the client knows its session does not hold the key,
 *                     cas(s -> s) when it knows it does, a put of s when it cannot know
 *                     (an earlier acquire or release of its own timed out); and a read of
 *                     `session:s` = "alive" (the acquire found the session);
 *   acquire timed out a put of s that may have happened, at any time after its call, or never;
 *   release -> true   a delete of the holder (timed out: a delete that may have happened);
 *   create -> ok      cas(null -> "alive") on the session (timed out: may have happened);
 *   renew  -> ok/404  a read of the session: "alive" / null;
 *   destroy           a delete of the session (and the state machine's releases below).
 * Refusals that wrote nothing (acquire -> false, release -> false) are left out.
 *
 * The cluster's own writes come from the state machine: whenever an apply frees a lock key or
 * ends a session (release, TTL expiry, a check going critical, a node deregistered, a destroy),
 * a delete is recorded with the window [the command's leader stamp, the first apply of it]:
 * the entry was proposed at the stamp and committed before any server applied it.
 */
import type { HistoryOp, KvOp, KvResult } from "./history.ts";

export const holderKey = (key: string): string => `holder:${key}`;
export const sessionKey = (id: string): string => `session:${id}`;

/** The pseudo-client the cluster's own writes are recorded under. */
const clusterClient = -1;

export interface Pending {
  readonly id: number;
  readonly client: number;
  readonly op: KvOp;
  readonly callMs: number;
  returnMs: number | null;
  result: KvResult | null;
  dropped: boolean;
}

export class LockHistory {
  private readonly ops: Pending[] = [];
  private readonly recorded = new Set<string>();
  /** Ids far above the KV workload's, so both histories may be checked together. */
  private seq = 1_000_000_000;

  /** A client's call; complete it with `done`, `indeterminate` (leave as is) or `drop`. */
  call(client: number, op: KvOp, callMs: number): Pending {
    const pending: Pending = { id: this.seq++, client, op, callMs, returnMs: null, result: null, dropped: false };
    this.ops.push(pending);
    return pending;
  }

  done(pending: Pending, result: KvResult, returnMs: number): void {
    pending.returnMs = returnMs;
    pending.result = result;
  }

  drop(pending: Pending): void {
    pending.dropped = true;
  }

  /** A determinate read recorded after the fact (the op that implied it returned at `returnMs`). */
  read(client: number, key: string, value: string | null, callMs: number, returnMs: number): void {
    this.done(this.call(client, { kind: "get", key, mode: "readIndex" }, callMs), { kind: "value", value }, returnMs);
  }

  /** The state machine freed `key` or ended a session (`what` is the history key) at Raft index `raftIndex`. */
  onClusterDelete(what: string, raftIndex: number, stampMs: number, firstApplyMs: number): void {
    const fact = `${raftIndex}/${what}`;
    if (this.recorded.has(fact)) return;
    this.recorded.add(fact);
    const pending = this.call(clusterClient, { kind: "delete", key: what }, Math.min(stampMs, firstApplyMs));
    this.done(pending, { kind: "ok" }, firstApplyMs);
  }

  history(): HistoryOp[] {
    return this.ops.filter((op) => !op.dropped && !(op.op.kind === "get" && op.returnMs === null)).map((op) => ({
      id: op.id, client: op.client, op: op.op, callMs: op.callMs, returnMs: op.returnMs, result: op.result,
    }));
  }

  get size(): number {
    return this.ops.length;
  }
}

/** What a client knows about whether its session holds a key. */
export type HoldKnowledge = "held" | "free" | "unknown";
