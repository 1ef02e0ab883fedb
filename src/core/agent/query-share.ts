/**
 * Identical blocking queries share one evaluation per write.
 *
 * Watchers of the same query (kind, arguments, `?filter`) form one group. The group holds the
 * query's current answer (its index, value and JSON text) and one catalog watch on the query's
 * scopes. A write that touches those scopes marks the group stale; after the current batch of
 * applies (`defer`), the group re-evaluates once and hands the same answer object to every
 * waiter whose answer changed, so the cost of a write is one evaluation plus one string
 * comparison per waiter (by reference when nothing changed), however many watchers there are.
 * The HTTP layer then serialises that shared value once (src/http/call.ts `sendShared`).
 *
 * Every reader of a group gets the same value object: readers copy before they reorder or edit
 * (the agent's `?near` sort and the DNS shuffle do).
 *
 * Consistency modes share a group: they differ in where the read runs and in the headers, not in
 * what the local catalog answers once the read may run.
 *
 * A group with no waiters keeps its answer for `idleTicks` ticks, so the re-armed requests that
 * follow a wake-up reuse it instead of evaluating once each; then it is dropped with its watch.
 */
import type { CatalogQuery } from "./query-types.ts";
import type { WatchScope } from "../catalog/watch.ts";
import { comparableJson } from "../util/json-key.ts";

/** One evaluation of a query, shared by every waiter of its group. `json` is the change detector. */
export interface SharedAnswer {
  readonly index: number;
  readonly value: unknown;
  readonly json: string;
}

export type Predicate = (value: unknown) => boolean;

export interface QueryShareHost {
  /** Runs the query against the catalog now, `filter` applied to list answers. */
  evaluate(query: CatalogQuery, filter: Predicate | null): { index: number; value: unknown };
  scopes(query: CatalogQuery): WatchScope[];
  /** The highest index of the scopes now (the catalog's `scopeIndex`). */
  scopeIndex(scopes: readonly WatchScope[]): number;
  /** The catalog's one-shot watch: `wake` runs once a write moves the scopes past `fromIndex`. */
  watch(scopes: readonly WatchScope[], fromIndex: number, wake: () => void): () => void;
  /** Runs `job` once the current synchronous work is over (a Raft batch applies many entries at once). */
  defer(job: () => void): void;
}

export interface ShareWaiter {
  /** The `?index` the client sent: only an answer past it may end the wait. */
  readonly minIndex: number;
  /** The JSON of the answer the client already has: an equal answer keeps it waiting. */
  readonly baseline: string;
  readonly wake: (answer: SharedAnswer) => void;
}

interface Group {
  readonly key: string;
  readonly query: CatalogQuery;
  readonly filter: Predicate | null;
  readonly scopes: WatchScope[];
  /** null while a write has made the answer stale and the re-evaluation has not run yet. */
  answer: SharedAnswer | null;
  /** The last answer's JSON, reused when a new evaluation serialises equal, so waiters compare by reference. */
  lastJson: string | undefined;
  readonly waiters: Set<ShareWaiter>;
  cancelWatch: () => void;
  refreshQueued: boolean;
  /** The tick at which the last waiter left (null while waiters remain). */
  idleSince: number | null;
}

export class SharedQueries {
  /** Evaluations run and waiters woken, for tests and `/v1/agent/metrics`. */
  readonly counters = { evaluations: 0, woken: 0 };
  private readonly groups = new Map<string, Group>();
  /** The groups without waiters: a tick looks at these only, not at every group that has waiters. */
  private readonly idle = new Set<Group>();
  private ticks = 0;

  constructor(
    private readonly host: QueryShareHost,
    private readonly idleTicks = 20,
  ) {}

  /** The group key: the query as data plus the filter expression. */
  static key(query: CatalogQuery, filter: string | undefined): string {
    return JSON.stringify([query, filter ?? ""]);
  }

  get groupCount(): number {
    return this.groups.size;
  }

  /** Groups without waiters, waiting out their idle ticks. */
  get idleGroupCount(): number {
    return this.idle.size;
  }

  get waiterCount(): number {
    let n = 0;
    for (const group of this.groups.values()) n += group.waiters.size;
    return n;
  }

  /** The query's current answer: the group's while it is fresh, else one new evaluation the group keeps. */
  current(query: CatalogQuery, filterExpression: string | undefined, filter: Predicate | null): SharedAnswer {
    const group = this.groupFor(query, filterExpression, filter);
    if (group.waiters.size === 0) this.markIdle(group);
    return this.fresh(group);
  }

  /**
   * The fresh answer of an existing group, or null: a read that will not block uses it when a
   * group is there, without creating one (a plain read must not pay for JSON text and a watch).
   */
  peek(query: CatalogQuery, filterExpression: string | undefined): SharedAnswer | null {
    return this.groups.get(SharedQueries.key(query, filterExpression))?.answer ?? null;
  }

  /**
   * Waits for an answer past `waiter.minIndex` that differs from `waiter.baseline`; the returned
   * function cancels the wait (idempotent). Call right after `current`, in the same synchronous
   * run, so no write can fall between them.
   */
  wait(query: CatalogQuery, filterExpression: string | undefined, filter: Predicate | null, waiter: ShareWaiter): () => void {
    const group = this.groupFor(query, filterExpression, filter);
    group.waiters.add(waiter);
    group.idleSince = null;
    this.idle.delete(group);
    if (group.answer === null) this.queueRefresh(group);
    return () => {
      if (group.waiters.delete(waiter) && group.waiters.size === 0) this.markIdle(group);
    };
  }

  /** Drops groups that have had no waiters for `idleTicks` ticks, with their catalog watches. */
  tick(): void {
    this.ticks++;
    for (const group of this.idle) {
      if (group.waiters.size === 0 && group.idleSince !== null && this.ticks - group.idleSince >= this.idleTicks) this.drop(group);
    }
  }

  /** Wakes nobody and forgets everything (agent shutdown). */
  clear(): void {
    for (const group of [...this.groups.values()]) this.drop(group);
  }

  private groupFor(query: CatalogQuery, filterExpression: string | undefined, filter: Predicate | null): Group {
    const key = SharedQueries.key(query, filterExpression);
    let group = this.groups.get(key);
    if (group === undefined) {
      group = {
        key, query, filter, scopes: this.host.scopes(query), answer: null, lastJson: undefined, waiters: new Set(),
        cancelWatch: () => {}, refreshQueued: false, idleSince: this.ticks,
      };
      this.groups.set(key, group);
      this.idle.add(group);
    }
    return group;
  }

  private drop(group: Group): void {
    group.cancelWatch();
    group.cancelWatch = () => {};
    this.idle.delete(group);
    if (this.groups.get(group.key) === group) this.groups.delete(group.key);
  }

  private markIdle(group: Group): void {
    group.idleSince = this.ticks;
    if (this.groups.get(group.key) === group) this.idle.add(group);
  }

  /** The group's answer, evaluating (and re-arming its watch) if a write made it stale. */
  private fresh(group: Group): SharedAnswer {
    if (group.answer !== null) return group.answer;
    const fromIndex = this.host.scopeIndex(group.scopes);
    const { index, value } = this.host.evaluate(group.query, group.filter);
    this.counters.evaluations++;
    const json = comparableJson(value);
    const answer: SharedAnswer = { index, value, json: group.lastJson === json ? group.lastJson : json };
    group.lastJson = answer.json;
    group.answer = answer;
    group.cancelWatch = this.host.watch(group.scopes, fromIndex, () => this.stale(group));
    return answer;
  }

  private stale(group: Group): void {
    group.answer = null;
    group.cancelWatch = () => {};
    if (this.groups.get(group.key) !== group) return;
    if (group.waiters.size === 0) return;
    this.queueRefresh(group);
  }

  private queueRefresh(group: Group): void {
    if (group.refreshQueued) return;
    group.refreshQueued = true;
    this.host.defer(() => {
      group.refreshQueued = false;
      if (this.groups.get(group.key) !== group || group.waiters.size === 0) return;
      const answer = this.fresh(group);
      for (const waiter of group.waiters) {
        if (answer.index > waiter.minIndex && answer.json !== waiter.baseline) {
          group.waiters.delete(waiter);
          this.counters.woken++;
          waiter.wake(answer);
        }
      }
      if (group.waiters.size === 0) this.markIdle(group);
    });
  }
}
