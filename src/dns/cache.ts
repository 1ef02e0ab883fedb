/**
 * Service reads kept fresh by blocking queries, so a DNS question about a service the agent has
 * seen does not read the catalog (or, on a client agent, reach a server) again:
 *
 *   const reads = new ServiceReadCache(backend, { nowMs: Date.now, maxAgeMs: 0 });
 *   const hit = reads.lookup(key);             // a live entry, or undefined
 *   const entry = reads.store(key, query, options, result); // after a read that went to the backend
 *
 * Each stored entry arms one blocking query at the index it was read at (Consul's agent cache,
 * "background refresh"). When the answer moves, the entry is replaced by the new value (the old
 * object is marked dead, which is how answers encoded from it know to go); when a round comes
 * back unchanged after waiting, the entry is kept and the query re-armed; a round that fails, or
 * that comes back unchanged at once (a backend that does not block), drops the entry, so the
 * next question reads afresh and nothing spins.
 */
import type { AgentBackend, CatalogQuery, ReadOptions, ReadResult } from "../agent/api.ts";
import type { HealthServiceEntry } from "../core/catalog/index.ts";

export type ServiceQuery = Extract<CatalogQuery, { kind: "healthService" }>;

export interface CachedRead {
  /** False once replaced or dropped: anything derived from this object is stale. */
  live: boolean;
  readonly value: readonly HealthServiceEntry[];
  readonly index: number;
  /** Unusable after this (max_stale, cache_max_age); Infinity when neither bounds it. */
  expiresAtMs: number;
}

export interface ServiceReadCacheOptions {
  readonly nowMs: () => number;
  /** 0: no bound. Consul's `cache_max_age` and `max_stale` both end up here. */
  readonly maxAgeMs: number;
  /** How long each blocking round waits on the servers (Consul's agent cache uses 10 minutes). */
  readonly waitMs?: number;
  /** A round that returns unchanged sooner than this means the backend does not block. */
  readonly minRoundMs?: number;
  readonly entriesMax?: number;
  readonly onError?: (message: string) => void;
  /** An entry went dead (replaced or dropped): copies of answers built from it must go too. */
  readonly onStale?: (entry: CachedRead) => void;
}

interface Slot {
  entry: CachedRead;
  readonly controller: AbortController;
}

export class ServiceReadCache {
  private readonly slots = new Map<string, Slot>();
  private readonly waitMs: number;
  private readonly minRoundMs: number;
  private readonly entriesMax: number;
  private closed = false;
  /** Blocking rounds that came back (for tests and the metrics a test reads). */
  rounds = 0;

  constructor(private readonly backend: AgentBackend, private readonly options: ServiceReadCacheOptions) {
    this.waitMs = options.waitMs ?? 600_000;
    this.minRoundMs = options.minRoundMs ?? 1_000;
    this.entriesMax = options.entriesMax ?? 1_024;
  }

  get size(): number {
    return this.slots.size;
  }

  lookup(key: string): CachedRead | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.entry.expiresAtMs !== Number.POSITIVE_INFINITY && this.options.nowMs() >= slot.entry.expiresAtMs) {
      this.drop(key, slot);
      return undefined;
    }
    return slot.entry;
  }

  /** Keeps a read that just came from the backend and starts keeping it fresh. */
  store(key: string, query: ServiceQuery, options: ReadOptions, result: ReadResult<readonly HealthServiceEntry[]>): CachedRead | null {
    if (this.closed) return null;
    const old = this.slots.get(key);
    if (old !== undefined) this.drop(key, old);
    while (this.slots.size >= this.entriesMax) {
      const [oldestKey, oldest] = this.slots.entries().next().value as [string, Slot];
      this.drop(oldestKey, oldest);
    }
    const slot: Slot = { entry: this.entry(result), controller: new AbortController() };
    this.slots.set(key, slot);
    this.watch(key, slot, query, options);
    return slot.entry;
  }

  /** Stops every blocking round (the agent is shutting down). */
  close(): void {
    this.closed = true;
    for (const [key, slot] of [...this.slots]) this.drop(key, slot);
  }

  private entry(result: ReadResult<readonly HealthServiceEntry[]>): CachedRead {
    const maxAgeMs = this.options.maxAgeMs;
    return {
      live: true, value: result.value, index: result.meta.index,
      expiresAtMs: maxAgeMs > 0 ? this.options.nowMs() + maxAgeMs : Number.POSITIVE_INFINITY,
    };
  }

  private drop(key: string, slot: Slot): void {
    slot.entry.live = false;
    slot.controller.abort();
    if (this.slots.get(key) === slot) this.slots.delete(key);
    this.options.onStale?.(slot.entry);
  }

  private watch(key: string, slot: Slot, query: ServiceQuery, options: ReadOptions): void {
    const startedMs = this.options.nowMs();
    const from = slot.entry;
    this.backend.query(query, { ...options, index: from.index, waitMs: this.waitMs, signal: slot.controller.signal }).then((result) => {
      this.rounds++;
      if (this.slots.get(key) !== slot || slot.entry !== from) return; // dropped meanwhile
      if (result.meta.index !== from.index) {
        from.live = false;
        this.options.onStale?.(from);
        slot.entry = this.entry(result);
        this.watch(key, slot, query, options);
      } else if (this.options.nowMs() - startedMs >= this.minRoundMs) {
        if (from.expiresAtMs !== Number.POSITIVE_INFINITY) from.expiresAtMs = this.options.nowMs() + this.options.maxAgeMs;
        this.watch(key, slot, query, options);
      } else {
        this.drop(key, slot);
      }
    }, (error: unknown) => {
      this.rounds++;
      if (this.slots.get(key) !== slot) return;
      if (!slot.controller.signal.aborted) this.options.onError?.(`dns cache: refreshing ${query.name}: ${error instanceof Error ? error.message : String(error)}`);
      this.drop(key, slot);
    });
  }
}
