/**
 * The catalog: Consul's nodes, services, checks, KV, sessions and txn as one pure replicated
 * state machine. The Raft owner calls `applyBytes(entry.data, entry.index)` for each committed
 * entry, in order, on every server; queries read the state; `snapshot()`/`restore()` compact the
 * log. Nothing here reads a clock: commands carry their leader's `nowMs`.
 *
 *   const catalog = new Catalog();
 *   const result = catalog.applyBytes(encodeCommand({ v: 1, op: "kv", Verb: "set", ... }), 7);
 *   const { index, value } = catalog.kvGet("service/leader");
 *   const cancel = catalog.watch([{ kind: "kvPrefix", prefix: "service/" }], index, wake);
 *
 * Blocking queries: run the query; if its index is not past the caller's `?index=`, call
 * `watch(scopes, index, wake)` with the scopes the endpoint reads, and re-run the query on wake
 * (or on `wait` timeout); if the re-run index has still not passed the caller's (a snapshot
 * restore wakes every waiter), watch again, as Consul's blockingQuery loops. Take the scopes from
 * `queryScopes` (queries.ts): each query's index is computed as the highest index over exactly
 * those scopes, so passing back the index a query reported never wakes at once, and every wake
 * comes with a higher index. The scopes per endpoint (a `?node-meta` filter on
 * catalog/services and health/state adds the nodes table):
 *
 *   /v1/catalog/nodes              { kind: "table", table: "nodes" }
 *   /v1/catalog/services           { kind: "table", table: "services" }
 *   /v1/catalog/service/:name      { kind: "service", name }
 *   /v1/health/service/:name       { kind: "service", name }
 *   /v1/health/checks/:service     { kind: "service", name: service }
 *   /v1/catalog/node/:node         { kind: "node", name: node }
 *   /v1/health/node/:node          { kind: "node", name: node }
 *   /v1/health/state/:state        { kind: "table", table: "checks" }
 *   /v1/kv/:key                    { kind: "kvKey", key }
 *   /v1/kv/:prefix?recurse|keys    { kind: "kvPrefix", prefix }
 *   /v1/session/*                  { kind: "table", table: "sessions" }
 *   /v1/query, /v1/query/:uuid     { kind: "table", table: "queries" }
 *
 * Session IDs are drawn by the leader (`newSessionId(rng)`) before it proposes `session.create`;
 * the leader also stamps `nowMs` on every command and runs `expiredSessions(nowMs)` on a timer,
 * proposing `session.expire` for each ID it returns.
 *
 * Session timers across failovers (Consul's initializeSessionTimers): the moment a server wins
 * an election, before its first expiry sweep, its owner calls `resetSessionTimers(nowMs)` on its
 * catalog. Every TTL session then gets a fresh TTL x multiplier from that moment, so clients
 * whose renewals failed while there was no leader are not expired on the new leader's first
 * sweep. The reset is leader-local memory, not replicated and not in snapshots; call it again on
 * every election won (the agent: when Raft's soft state turns to leader).
 *
 * Invariant: appliedIndex only grows, and every record's indexes are <= appliedIndex.
 */
import { assert } from "../util/assert.ts";
import { decodeCommand, normalizeCommand, type Command, type KvOp, type TxnOp } from "./commands.ts";
import { checkInvariants } from "./invariants.ts";
import { applyKv } from "./kv-ops.ts";
import * as pq from "./prepared-queries.ts";
import { applyTxn, isReadOnlyTxn } from "./txn.ts";
import * as q from "./queries.ts";
import { deregister, register } from "./registration.ts";
import { createSession, expireSession, expiredSessionIds, invalidateSession, renewSession, sessionDeadlineMs } from "./sessions.ts";
import { decodeRestore, decodeSnapshot, encodeSnapshot } from "./snapshot.ts";
import { CatalogState, defaultCatalogConfig, type CatalogConfig } from "./state.ts";
import type { ApplyResult, CheckStatus, CommandError, RaftIndex } from "./types.ts";
import { Touch, WatchHub, type WatchCallback, type WatchScope } from "./watch.ts";

export interface CatalogCounters {
  applied: number;
  /** Commands that decoded but were refused (bad registration, invalid session, ...). */
  refused: number;
  /** Commands that did not decode (malformed bytes, unknown op or version). */
  malformed: number;
  /** Waiters woken by applies. */
  woken: number;
}

export class Catalog {
  protected state: CatalogState;
  private readonly hub = new WatchHub();
  /** Leader-local: the takeover time given to `resetSessionTimers` (0: never led). */
  protected sessionTimersFromMs = 0;
  readonly counters: CatalogCounters = { applied: 0, refused: 0, malformed: 0, woken: 0 };
  private restoredInApply = false;

  constructor(readonly config: CatalogConfig = defaultCatalogConfig()) {
    this.state = new CatalogState(config);
  }

  get appliedIndex(): RaftIndex {
    return this.state.appliedIndex;
  }

  /** The log's clock: the highest leader time applied so far. */
  get clockMs(): number {
    return this.state.clockMs;
  }

  /** Decodes and applies one committed entry. Malformed bytes become an error result. */
  applyBytes(data: Uint8Array, raftIndex: RaftIndex): ApplyResult {
    const decoded = decodeCommand(data);
    if (!decoded.ok) return this.applyRejected(decoded.error, raftIndex);
    return this.applyDecoded(decoded.command, raftIndex);
  }

  /** Applies a command given as an object (it is validated and canonicalized first). */
  apply(command: Command, raftIndex: RaftIndex): ApplyResult {
    const decoded = normalizeCommand(command);
    if (!decoded.ok) return this.applyRejected(decoded.error, raftIndex);
    return this.applyDecoded(decoded.command, raftIndex);
  }

  private applyRejected(error: CommandError, raftIndex: RaftIndex): ApplyResult {
    this.beginApply(raftIndex);
    this.counters.malformed++;
    this.endApply(raftIndex);
    return { ok: false, error };
  }

  private applyDecoded(command: Command, raftIndex: RaftIndex): ApplyResult {
    this.beginApply(raftIndex);
    const nowMs = this.state.advanceClock("nowMs" in command ? command.nowMs ?? 0 : 0);
    const result = this.dispatch(command, nowMs);
    if (result.ok) this.counters.applied++;
    else this.counters.refused++;
    this.endApply(raftIndex);
    return result;
  }

  private beginApply(raftIndex: RaftIndex): void {
    assert(Number.isSafeInteger(raftIndex), () => `apply: raft index ${raftIndex} is not an integer`);
    assert(raftIndex > this.state.appliedIndex, () => `apply: raft index ${raftIndex} <= applied ${this.state.appliedIndex}`);
    this.state.index = raftIndex;
    this.state.touch = new Touch();
  }

  private endApply(raftIndex: RaftIndex): void {
    this.state.appliedIndex = raftIndex;
    const touch = this.state.touch;
    this.state.touch = new Touch();
    if (this.restoredInApply) {
      this.restoredInApply = false;
      this.counters.woken += this.hub.notifyAll(raftIndex);
      return;
    }
    this.counters.woken += this.hub.notify(touch, raftIndex);
  }

  private dispatch(command: Command, nowMs: number): ApplyResult {
    const state = this.state;
    switch (command.op) {
      case "catalog.register": return register(state, command, nowMs);
      case "catalog.deregister": return deregister(state, command, nowMs);
      case "kv": return applyKv(state, command, nowMs);
      case "txn": return applyTxn(state, command.Ops, false, nowMs);
      case "session.create": return createSession(state, command, nowMs);
      case "session.destroy":
        invalidateSession(state, command.ID, nowMs);
        return { ok: true, value: true };
      case "session.renew": return renewSession(state, command.ID, nowMs);
      case "session.expire": return expireSession(state, command.ID, nowMs);
      case "query": return pq.applyPreparedQuery(state, command);
      case "snapshot.restore": return this.restoreFromLog(command.Data, nowMs);
      case "tombstone.reap": {
        const reaped = state.kv.reapTombstones(command.Index, state.index);
        if (reaped > 0) state.touch.table("kv");
        return { ok: true, value: reaped };
      }
    }
  }

  /**
   * A txn of only reads (KV reads, Node/Service/Check `get`), answered from local state without
   * going through Raft (Consul's TxnRO). Takes txn ops, or bare KV ops as older callers pass them.
   */
  readTxn(ops: readonly (TxnOp | KvOp)[]): ApplyResult {
    const txnOps = ops.map((op): TxnOp => ("Verb" in op ? { KV: op } : op));
    if (!isReadOnlyTxn(txnOps)) return { ok: false, error: { status: 400, message: "read-only txn holds a write verb" } };
    return applyTxn(this.state, txnOps, true, this.state.clockMs);
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.state);
  }

  /**
   * An operator's restore, as a log entry (snapshot.ts `decodeRestore`): the state is replaced in
   * place (the apply handlers hold the object), and every waiter wakes, since anything may have
   * changed. A malformed archive is a 400 and changes nothing.
   */
  private restoreFromLog(data: Uint8Array, nowMs: number): ApplyResult {
    const restored = decodeRestore(data, this.config, this.state.index, nowMs, this.state.clockMs);
    if (typeof restored === "string") return { ok: false, error: { status: 400, message: restored } };
    const touch = this.state.touch;
    this.state.replaceWith(restored);
    this.state.touch = touch;
    this.restoredInApply = true;
    return { ok: true, value: true };
  }

  /** Replaces the whole state; every waiter wakes, since anything may have changed. */
  restore(bytes: Uint8Array): void {
    this.state = decodeSnapshot(bytes, this.config);
    this.counters.woken += this.hub.notifyAll(this.state.appliedIndex);
  }

  /**
   * A new leader's takeover: from `nowMs` on, no TTL session expires before `nowMs` + TTL x
   * multiplier, whatever its last renew in the log says. Leader-local (survives `restore`).
   */
  resetSessionTimers(nowMs: number): void {
    assert(Number.isFinite(nowMs), () => `resetSessionTimers: nowMs ${nowMs} is not a finite time`);
    this.sessionTimersFromMs = nowMs;
  }

  /** The time of the last `resetSessionTimers`, or 0 if this catalog never led. */
  get sessionTimersResetAtMs(): number {
    return this.sessionTimersFromMs;
  }

  /**
   * For the leader's session timers: TTL sessions past TTL x multiplier at `nowMs`, counted from
   * their last renew or from the takeover (`resetSessionTimers`), whichever is later.
   */
  expiredSessions(nowMs: number): string[] {
    return expiredSessionIds(this.state, nowMs, this.sessionTimersFromMs);
  }

  /** The earliest TTL deadline, so the leader can schedule its next expiry check; null if none. */
  nextSessionDeadlineMs(): number | null {
    let earliest: number | null = null;
    for (const session of this.state.sessions.values()) {
      const deadline = sessionDeadlineMs(this.state, session, this.sessionTimersFromMs);
      if (deadline !== null && (earliest === null || deadline < earliest)) earliest = deadline;
    }
    return earliest;
  }

  /** The leader time until which an acquire of `key` is refused, or null. */
  lockDelayUntilMs(key: string): number | null {
    return this.state.lockDelayUntilMs.get(key) ?? null;
  }

  /**
   * Calls `callback` once, with the index of the apply that touched one of `scopes`. If the
   * scopes already moved past `fromIndex`, the callback runs synchronously, right now. Returns
   * a cancel function (safe to call after firing).
   */
  watch(scopes: readonly WatchScope[], fromIndex: RaftIndex, callback: WatchCallback): () => void {
    const current = this.scopeIndex(scopes);
    if (current > fromIndex) {
      callback(current);
      return () => {};
    }
    return this.hub.watch(scopes, callback);
  }

  /** The highest index of the given scopes, as their queries report it (before the 0 -> 1 rule). */
  scopeIndex(scopes: readonly WatchScope[]): RaftIndex {
    return scopes.reduce((highest, scope) => Math.max(highest, q.scopeIndex(this.state, scope)), 0);
  }

  get waiterCount(): number {
    return this.hub.size;
  }

  catalogNodes(nodeMeta?: Record<string, string>) { return q.catalogNodes(this.state, nodeMeta); }
  catalogServices(nodeMeta?: Record<string, string>) { return q.catalogServices(this.state, nodeMeta); }
  catalogService(name: string, filter?: q.ServiceFilter) { return q.catalogService(this.state, name, filter); }
  catalogNode(name: string) { return q.catalogNode(this.state, name); }
  healthNode(name: string) { return q.healthNode(this.state, name); }
  /** Anti-entropy: the node's record, services and checks in full (null if unknown). */
  nodeServicesAndChecks(name: string) { return q.nodeServicesAndChecks(this.state, name); }
  healthChecks(service: string, filter?: q.ServiceFilter) { return q.healthChecks(this.state, service, filter); }
  healthService(name: string, filter?: q.ServiceFilter) { return q.healthService(this.state, name, filter); }
  healthState(status: CheckStatus | "any", nodeMeta?: Record<string, string>) { return q.healthState(this.state, status, nodeMeta); }
  kvGet(key: string) { return q.kvGet(this.state, key); }
  kvList(prefix: string) { return q.kvList(this.state, prefix); }
  kvKeys(prefix: string, separator?: string) { return q.kvKeys(this.state, prefix, separator); }
  sessionInfo(id: string) { return q.sessionInfo(this.state, id); }
  sessionList(node?: string) { return q.sessionList(this.state, node); }
  preparedQueryList() { return pq.preparedQueryList(this.state); }
  preparedQueryGet(id: string) { return pq.preparedQueryGet(this.state, id); }
  preparedQueryExecute(idOrName: string) { return pq.preparedQueryExecute(this.state, idOrName); }
  preparedQueryExplain(idOrName: string) { return pq.preparedQueryExplain(this.state, idOrName); }

  /** Sizes for benches and metrics. */
  stats(): { nodes: number; kvKeys: number; tombstones: number; sessions: number; preparedQueries: number; waiters: number } {
    const s = this.state;
    return { nodes: s.nodes.size, kvKeys: s.kv.size, tombstones: s.kv.tombstoneCount, sessions: s.sessions.size, preparedQueries: s.preparedQueries.size, waiters: this.hub.size };
  }

  invariants(): void {
    checkInvariants(this.state);
    this.hub.invariants();
  }
}

/**
 * The catalog as the Raft runtime's state machine (src/agent/raft-host.ts `StateMachine`):
 * committed "normal" entries in, answers out.
 */
export function catalogStateMachine(catalog: Catalog): {
  apply(entry: { readonly data: Uint8Array; readonly index: RaftIndex }): ApplyResult;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
} {
  return {
    apply: (entry) => catalog.applyBytes(entry.data, entry.index),
    snapshot: () => catalog.snapshot(),
    restore: (data) => catalog.restore(data),
  };
}
