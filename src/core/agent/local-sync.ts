/**
 * The anti-entropy loop of one agent, pure and callback-driven so the agent runtime and the
 * simulator run the same code: on a local change (soon) and every `periodicTicks` (a full sync),
 * read the catalog's copy of this node, compute the differing writes (anti-entropy.ts) and send
 * them one at a time. A change that arrives during a sync makes another sync follow it; a failed
 * read or write retries after `retryTicks`.
 *
 * With `changeDelayTicks` 0 an urgent change is due at once: the owner calls `runIfDue()` right
 * after `changed()` (Consul's agent triggers its partial sync the moment an endpoint changes local
 * state, and clients read the catalog a few milliseconds later), and a sync that ends with an
 * urgent change pending starts the next one itself instead of waiting for a tick. A change that is
 * not urgent (a check's output alone, which check_update_interval defers anyway) waits at least
 * one tick, so a check whose output changes on every run cannot keep the loop reading the catalog.
 *
 * Invariant: at most one sync runs at a time; `generation` only grows.
 */
import { assert } from "../util/assert.ts";
import type { CheckRecord, NodeServices } from "../catalog/types.ts";
import { syncWrites, type LocalCheck, type LocalNode, type LocalService, type SyncWrite } from "./anti-entropy.ts";

export interface LocalSyncHost {
  /** The catalog's view of this node (a default-consistency read); null when the read failed. */
  readNode(done: (view: { node: NodeServices | null; checks: readonly CheckRecord[] } | null) => void): void;
  write(write: SyncWrite, done: (ok: boolean) => void): void;
  nowMs(): number;
}

export interface LocalView {
  readonly node: LocalNode;
  readonly services: ReadonlyMap<string, LocalService>;
  readonly checks: ReadonlyMap<string, LocalCheck>;
}

export interface LocalSyncConfig {
  readonly periodicTicks: number;
  readonly changeDelayTicks: number;
  readonly retryTicks: number;
  /**
   * Consul's check_update_interval: an output-only change of a check is written only once this
   * long has passed since a write of that check was last acknowledged; a status change at once.
   */
  readonly checkUpdateIntervalMs: number;
}

export class LocalSync {
  private ticks = 0;
  private running = false;
  private dueTick: number | null = 0;
  private generation = 0;
  private urgentGeneration = 0;
  private stopped = false;
  private readonly outputSyncedMs = new Map<string, number>();
  readonly counters = { syncs: 0, writes: 0, failures: 0, lastSyncWrites: 0 };

  constructor(private readonly host: LocalSyncHost, private readonly local: () => LocalView, private readonly config: LocalSyncConfig) {
    assert(config.periodicTicks >= 1, `periodicTicks ${config.periodicTicks} < 1`);
    assert(config.retryTicks >= 1, `retryTicks ${config.retryTicks} < 1`);
    assert(config.changeDelayTicks >= 0, `changeDelayTicks ${config.changeDelayTicks} < 0`);
  }

  /** Something local changed: sync soon (after `changeDelayTicks`, at least one tick when not urgent). */
  changed(urgent = true): void {
    this.generation++;
    if (urgent) this.urgentGeneration = this.generation;
    const due = this.ticks + (urgent ? this.config.changeDelayTicks : Math.max(1, this.config.changeDelayTicks));
    if (this.dueTick === null || due < this.dueTick) this.dueTick = due;
  }

  /** Sync at the next tick (e.g. a new leader, or after joining). */
  soon(): void {
    this.dueTick = this.ticks;
  }

  get inFlight(): boolean {
    return this.running;
  }

  /**
   * The agent is leaving: no new sync starts and a running one sends no further write. The caller
   * waits until `inFlight` is false before leaving the pool, so no registration of this node can
   * land after the leader has deregistered it.
   */
  stop(): void {
    this.stopped = true;
  }

  tick(): void {
    this.ticks++;
    this.runIfDue();
  }

  /** Starts a sync now if one is due and none is running; the clock does not move. */
  runIfDue(): void {
    if (this.running || this.stopped) return;
    if (this.dueTick === null || this.ticks < this.dueTick) return;
    this.run();
  }

  private run(): void {
    this.running = true;
    this.dueTick = null;
    const generation = this.generation;
    this.host.readNode((view) => {
      if (view === null || this.stopped) return this.finish(false, generation, 0);
      const now = this.host.nowMs();
      const local = this.local();
      const writes = syncWrites({
        node: local.node, services: local.services, checks: local.checks, catalogNode: view.node, catalogChecks: view.checks,
        deferOutput: (id) => now - (this.outputSyncedMs.get(id) ?? -Infinity) < this.config.checkUpdateIntervalMs,
      });
      this.counters.lastSyncWrites = writes.length;
      this.writeAll(writes, 0, generation);
    });
  }

  private writeAll(writes: readonly SyncWrite[], i: number, generation: number): void {
    if (this.stopped) return this.finish(false, generation, i);
    if (i >= writes.length) return this.finish(true, generation, writes.length);
    const write = writes[i]!;
    this.host.write(write, (ok) => {
      if (!ok) return this.finish(false, generation, i);
      this.counters.writes++;
      // Measured from the acknowledgement, not the read: the next output-only write of this check
      // then leaves at least check_update_interval after the catalog confirmed this one.
      if (write.op === "catalog.register" && write.Check?.CheckID !== undefined) this.outputSyncedMs.set(write.Check.CheckID, this.host.nowMs());
      this.writeAll(writes, i + 1, generation);
    });
  }

  private finish(ok: boolean, generation: number, _written: number): void {
    this.running = false;
    if (ok) this.counters.syncs++;
    else this.counters.failures++;
    const urgentPending = this.urgentGeneration > generation;
    const changeDelay = urgentPending ? this.config.changeDelayTicks : Math.max(1, this.config.changeDelayTicks);
    const next = ok ? (this.generation !== generation ? this.ticks + changeDelay : this.ticks + this.config.periodicTicks) : this.ticks + this.config.retryTicks;
    if (this.dueTick === null || next < this.dueTick) this.dueTick = next;
    // Only after a success with an urgent change pending: a failing catalog waits retryTicks.
    if (ok && urgentPending && this.config.changeDelayTicks === 0) this.runIfDue();
  }

  invariants(): void {
    assert(this.generation >= 0, `generation ${this.generation} < 0`);
    assert(this.urgentGeneration <= this.generation, `urgentGeneration ${this.urgentGeneration} > generation ${this.generation}`);
  }
}
