/**
 * A client agent's blocking queries, coalesced: identical ones share one blocking call to a server.
 *
 * A client agent forwards every read to a server. Forwarded one by one, N watchers of one key
 * are N calls held open on the server's RPC port (which refuses more than a few thousand per
 * connection) and N answers sent back per write. Here watchers of the same query (the query, its
 * consistency mode, `?max_stale`, `?filter`, `?dc` and token) form a group that holds the
 * query's answer and keeps ONE blocking call open on a server, re-armed at the answer's index as
 * each one returns. A write then costs the server one wake-up per client agent, not per watcher.
 *
 * The group changes no answer a watcher gets:
 * - a group starts with a plain read; a watcher whose `?index` that answer is already past gets
 *   it at once, exactly what the server would have answered;
 * - a watcher that would block joins the group with the answer it would have blocked on as its
 *   baseline, and is woken by a later answer only when that answer is past its index and differs
 *   from its baseline (the server's rule, src/core/agent/query-share.ts);
 * - a watcher whose index the group's answer is already past, once the group is running, is sent
 *   on its own as before: the group's answer may be a moment older than the server's, and an
 *   answer that does not block must be as fresh as a direct read;
 * - at its own wait (plus the server's jitter) a watcher gets the group's answer, which is then
 *   the same as its baseline, with an index never below the one it sent.
 *
 * A group with no watchers keeps its call open for `idleMs`, so watchers that re-arm right after a
 * wake-up find it; then its call is cancelled and it is dropped. A failed call fails the group's
 * watchers with its error and drops the group: the next watcher starts a new one.
 */
import type { CatalogQuery } from "../core/agent/query-types.ts";
import type { ReadOptions, ReadResult } from "./api.ts";
import { comparableJson } from "../core/util/json-key.ts";

/** One read forwarded to a server (the agent's RPC `query` call, with its server choice and retries). */
export type ForwardQuery = (query: CatalogQuery, options: ReadOptions, signal: AbortSignal) => Promise<ReadResult<unknown>>;

export interface ForwardedQueriesOptions {
  /** How long a group with no watchers keeps its call open for watchers that re-arm. */
  readonly idleMs: number;
  /** The `?wait` of a group's own blocking call (the server caps it at its max_query_time). */
  readonly groupWaitMs: number;
  /** The jitter added to a watcher's own wait, as the server adds it (default: up to wait/16). */
  readonly jitterMs?: (waitMs: number) => number;
  /** Watchers woken per event-loop turn (default 256). */
  readonly wakeBatch?: number;
}

interface Answer {
  readonly result: ReadResult<unknown>;
  /** The value's JSON: the change detector, compared by reference when a new answer serialises equal. */
  readonly json: string;
}

interface Waiter {
  readonly minIndex: number;
  readonly baseline: string;
  readonly wake: (result: ReadResult<unknown>) => void;
  readonly fail: (error: unknown) => void;
}

interface Group {
  readonly key: string;
  readonly query: CatalogQuery;
  /** The watchers' options without their index and wait. */
  readonly options: ReadOptions;
  /** Settles once the first plain read is in; null answer until then. */
  readonly started: Promise<void>;
  answer: Answer | null;
  readonly waiters: Set<Waiter>;
  /** Cancels the group's call in flight when the group is dropped. */
  readonly controller: AbortController;
  idleTimer: NodeJS.Timeout | null;
}

export class ForwardedQueries {
  /** Calls made for groups, watchers that joined a group, and watchers sent on their own. */
  readonly counters = { groupCalls: 0, joined: 0, direct: 0 };
  private readonly groups = new Map<string, Group>();
  private readonly jitterMs: (waitMs: number) => number;
  private readonly wakeBatch: number;

  constructor(
    private readonly forward: ForwardQuery,
    private readonly options: ForwardedQueriesOptions,
  ) {
    this.jitterMs = options.jitterMs ?? ((waitMs) => Math.floor(Math.random() * (waitMs / 16)));
    this.wakeBatch = Math.max(1, options.wakeBatch ?? 256);
  }

  static key(query: CatalogQuery, options: ReadOptions): string {
    return JSON.stringify([query, options.consistency, options.maxStaleMs ?? null, options.filter ?? "", options.dc ?? "", options.token ?? ""]);
  }

  get groupCount(): number {
    return this.groups.size;
  }

  /** Watchers waiting in groups now. */
  get waiterCount(): number {
    let n = 0;
    for (const group of this.groups.values()) n += group.waiters.size;
    return n;
  }

  /**
   * The query's answer as the server would give it: at once without `options.index`, else
   * once the answer is past that index and changed, or at `options.waitMs` (plus jitter).
   */
  async query(query: CatalogQuery, options: ReadOptions, signal?: AbortSignal): Promise<ReadResult<unknown>> {
    const minIndex = options.index ?? 0;
    if (minIndex === 0 || options.waitMs === undefined) return this.direct(query, options, signal);
    const key = ForwardedQueries.key(query, options);
    let group = this.groups.get(key);
    let fresh = false;
    if (group === undefined || group.answer === null) {
      group ??= this.start(key, query, options);
      // The plain read that starts a group runs for the watchers that wait on it: as fresh as their own would be.
      await group.started;
      fresh = true;
    }
    const answer = group.answer!;
    if (answer.result.meta.index > minIndex) return fresh ? answer.result : this.direct(query, options, signal);
    if (this.groups.get(key) !== group || signal?.aborted) return this.direct(query, options, signal);
    return this.wait(group, minIndex, answer.json, options.waitMs, signal);
  }

  /** Cancels every group's call; their watchers get the group's answer (agent shutdown). */
  clear(): void {
    for (const group of [...this.groups.values()]) {
      for (const waiter of group.waiters) waiter.wake(this.timedOut(group, waiter.minIndex));
      group.waiters.clear();
      this.drop(group);
    }
  }

  private direct(query: CatalogQuery, options: ReadOptions, signal: AbortSignal | undefined): Promise<ReadResult<unknown>> {
    this.counters.direct++;
    return this.forward(query, options, signal ?? new AbortController().signal);
  }

  private start(key: string, query: CatalogQuery, options: ReadOptions): Group {
    const { index: _index, waitMs: _waitMs, ...rest } = options;
    const controller = new AbortController();
    let group!: Group;
    const started = this.call(query, { ...rest, index: 0 }, controller.signal).then(
      (result) => {
        group.answer = { result, json: comparableJson(result.value) };
        this.idleCheck(group);
        void this.run(group);
      },
      (error: unknown) => {
        this.drop(group);
        throw error;
      },
    );
    group = { key, query, options: rest, started, answer: null, waiters: new Set(), controller, idleTimer: null };
    // Waiters that await `started` see the rejection; this keeps an unobserved one from being reported.
    started.catch(() => {});
    this.groups.set(key, group);
    return group;
  }

  private call(query: CatalogQuery, options: ReadOptions, signal: AbortSignal): Promise<ReadResult<unknown>> {
    this.counters.groupCalls++;
    return this.forward(query, options, signal);
  }

  /** The group's blocking call, re-armed at each answer's index while the group lives. */
  private async run(group: Group): Promise<void> {
    while (this.groups.get(group.key) === group) {
      let result: ReadResult<unknown>;
      try {
        result = await this.call(group.query, { ...group.options, index: group.answer!.result.meta.index, waitMs: this.options.groupWaitMs }, group.controller.signal);
      } catch (error) {
        if (this.groups.get(group.key) !== group) return;
        this.drop(group);
        for (const waiter of group.waiters) waiter.fail(error);
        group.waiters.clear();
        return;
      }
      if (this.groups.get(group.key) !== group) return;
      this.update(group, result);
    }
  }

  private update(group: Group, result: ReadResult<unknown>): void {
    const previous = group.answer!;
    const text = comparableJson(result.value);
    const answer: Answer = { result, json: text === previous.json ? previous.json : text };
    group.answer = answer;
    const woken: Waiter[] = [];
    for (const waiter of group.waiters) {
      if (result.meta.index > waiter.minIndex && answer.json !== waiter.baseline) {
        group.waiters.delete(waiter);
        woken.push(waiter);
      }
    }
    this.wakeInTurns(group, woken, result, 0);
  }

  /**
   * Wakes `wakeBatch` watchers per event-loop turn. Woken all at once, every watcher's answer
   * went through each await on its way to the socket before any was written, so the first
   * watcher waited for all of them; and the agent's timers and sockets (gossip probes, Raft) sat
   * behind the whole wake. A watcher whose wait ends before its turn gets the same new answer. The idle
   * time of a group left without watchers starts once the last is answered.
   */
  private wakeInTurns(group: Group, waiters: readonly Waiter[], result: ReadResult<unknown>, from: number): void {
    const end = Math.min(waiters.length, from + this.wakeBatch);
    for (let i = from; i < end; i++) waiters[i]!.wake(result);
    if (end < waiters.length) setImmediate(() => this.wakeInTurns(group, waiters, result, end));
    else this.idleCheck(group);
  }

  private wait(group: Group, minIndex: number, baseline: string, waitMs: number, signal: AbortSignal | undefined): Promise<ReadResult<unknown>> {
    this.counters.joined++;
    return new Promise<ReadResult<unknown>>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (group.waiters.delete(waiter)) this.idleCheck(group);
      };
      const waiter: Waiter = {
        minIndex, baseline,
        wake: (result) => {
          settle();
          resolve(result);
        },
        fail: (error) => {
          settle();
          reject(error);
        },
      };
      const end = (): void => waiter.wake(this.timedOut(group, minIndex));
      const onAbort = end;
      const timer = setTimeout(end, waitMs + this.jitterMs(waitMs));
      signal?.addEventListener("abort", onAbort, { once: true });
      group.waiters.add(waiter);
      if (group.idleTimer !== null) {
        clearTimeout(group.idleTimer);
        group.idleTimer = null;
      }
    });
  }

  /** A watcher's wait ran out: the group's answer, which still equals its baseline, at an index that never goes back. */
  private timedOut(group: Group, minIndex: number): ReadResult<unknown> {
    const { result } = group.answer!;
    return result.meta.index >= minIndex ? result : { meta: { ...result.meta, index: minIndex }, value: result.value };
  }

  private idleCheck(group: Group): void {
    if (group.waiters.size > 0 || group.idleTimer !== null || this.groups.get(group.key) !== group) return;
    group.idleTimer = setTimeout(() => {
      group.idleTimer = null;
      if (group.waiters.size === 0) this.drop(group);
    }, this.options.idleMs);
    group.idleTimer.unref();
  }

  private drop(group: Group): void {
    if (group.idleTimer !== null) clearTimeout(group.idleTimer);
    group.idleTimer = null;
    if (this.groups.get(group.key) === group) this.groups.delete(group.key);
    group.controller.abort();
  }
}
