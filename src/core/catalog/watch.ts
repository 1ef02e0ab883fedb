/**
 * The wake-up primitive for blocking queries, shared by the agent runtime and the simulator.
 *
 * A waiter names the scopes its query reads (a table, a service name, a node, one KV key, a KV
 * prefix). Each apply collects the scopes it touched into a `Touch`, and `notify` wakes exactly
 * the waiters registered on those scopes, once each, synchronously. Cost per apply is
 * proportional to the touched scopes and to the waiters woken, never to all waiters: exact
 * scopes are one map lookup, and a touched KV key is matched against prefix waiters by looking
 * up its prefixes only at the lengths some waiter asked for.
 */
import { assert } from "../util/assert.ts";
import type { RaftIndex, Table } from "./types.ts";

export type WatchScope =
  | { kind: "table"; table: Table }
  | { kind: "service"; name: string }
  | { kind: "node"; name: string }
  | { kind: "kvKey"; key: string }
  | { kind: "kvPrefix"; prefix: string };

export type WatchCallback = (index: RaftIndex) => void;

interface Waiter {
  readonly keys: readonly string[];
  readonly callback: WatchCallback;
  fired: boolean;
}

export function scopeKey(scope: WatchScope): string {
  switch (scope.kind) {
    case "table": return `t\0${scope.table}`;
    case "service": return `s\0${scope.name}`;
    case "node": return `n\0${scope.name}`;
    case "kvKey": return `k\0${scope.key}`;
    case "kvPrefix": return `p\0${scope.prefix}`;
  }
}

/** What one apply touched: exact scope keys, plus KV keys that fan out to prefix waiters. */
export class Touch {
  readonly scopes = new Set<string>();
  readonly kvKeys = new Set<string>();

  table(table: Table): void {
    this.scopes.add(`t\0${table}`);
  }
  service(name: string): void {
    this.scopes.add(`s\0${name}`);
  }
  node(name: string): void {
    this.scopes.add(`n\0${name}`);
  }
  kvKey(key: string): void {
    this.kvKeys.add(key);
  }
  get empty(): boolean {
    return this.scopes.size === 0 && this.kvKeys.size === 0;
  }
}

export class WatchHub {
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Prefix length -> how many registrations wait on a prefix of that length. */
  private readonly prefixLengths = new Map<number, number>();
  private waiterCount = 0;

  get size(): number {
    return this.waiterCount;
  }

  /** Registers a one-shot waiter; the returned function cancels it (idempotent). */
  watch(scopes: readonly WatchScope[], callback: WatchCallback): () => void {
    assert(scopes.length > 0, "watch: no scopes given");
    const waiter: Waiter = { keys: [...new Set(scopes.map(scopeKey))], callback, fired: false };
    for (const key of waiter.keys) {
      let set = this.waiters.get(key);
      if (set === undefined) this.waiters.set(key, (set = new Set()));
      set.add(waiter);
      if (key.startsWith("p\0")) this.bumpPrefixLength(key.length - 2, +1);
    }
    this.waiterCount++;
    return () => this.remove(waiter);
  }

  /**
   * Wakes every waiter whose scope was touched, each once, after unregistering all of them, so
   * a callback may register a new waiter or read the state freely. A throwing callback does
   * not stop the others; the first error is rethrown at the end.
   */
  notify(touch: Touch, index: RaftIndex): number {
    if (this.waiterCount === 0 || touch.empty) return 0;
    const woken = new Set<Waiter>();
    for (const key of touch.scopes) this.collect(key, woken);
    for (const key of touch.kvKeys) {
      this.collect(`k\0${key}`, woken);
      for (const length of this.prefixLengths.keys()) {
        if (length <= key.length) this.collect(`p\0${key.slice(0, length)}`, woken);
      }
    }
    return this.fire(woken, index);
  }

  /** Wakes everybody: a snapshot restore may have changed anything. */
  notifyAll(index: RaftIndex): number {
    const woken = new Set<Waiter>();
    for (const set of this.waiters.values()) for (const waiter of set) woken.add(waiter);
    return this.fire(woken, index);
  }

  invariants(): void {
    const distinct = new Set<Waiter>();
    for (const set of this.waiters.values()) {
      assert(set.size > 0, "WatchHub: empty waiter set kept");
      for (const waiter of set) distinct.add(waiter);
    }
    assert(distinct.size === this.waiterCount, () => `WatchHub: ${distinct.size} registered != count ${this.waiterCount}`);
  }

  private collect(key: string, into: Set<Waiter>): void {
    const set = this.waiters.get(key);
    if (set !== undefined) for (const waiter of set) into.add(waiter);
  }

  private fire(woken: Set<Waiter>, index: RaftIndex): number {
    for (const waiter of woken) this.remove(waiter);
    let firstError: unknown = undefined;
    let failed = false;
    for (const waiter of woken) {
      try {
        waiter.callback(index);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
    if (failed) throw firstError;
    return woken.size;
  }

  private remove(waiter: Waiter): void {
    if (waiter.fired) return;
    waiter.fired = true;
    for (const key of waiter.keys) {
      const set = this.waiters.get(key)!;
      set.delete(waiter);
      if (set.size === 0) this.waiters.delete(key);
      if (key.startsWith("p\0")) this.bumpPrefixLength(key.length - 2, -1);
    }
    this.waiterCount--;
    assert(this.waiterCount >= 0, () => `WatchHub: waiter count ${this.waiterCount} < 0`);
  }

  private bumpPrefixLength(length: number, delta: number): void {
    const next = (this.prefixLengths.get(length) ?? 0) + delta;
    assert(next >= 0, () => `WatchHub: prefix length ${length} count ${next} < 0`);
    if (next === 0) this.prefixLengths.delete(length);
    else this.prefixLengths.set(length, next);
  }
}
