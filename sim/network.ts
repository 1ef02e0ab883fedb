import { assert } from "../src/core/util/assert.ts";
import type { Transport } from "../src/transports/transport.ts";
import type { WorldRng } from "./world/rng.ts";
import type { World } from "./world/world.ts";

/** How the links behave while no fault is active: every value here is a seed-drawn base. */
export interface LinkProfile {
  /** Uniform one-way delay range. */
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
}

/** A fault that degrades every link while active; several may overlap (the worst one wins). */
export interface Impairment {
  readonly lossRate?: number;
  readonly dupRate?: number;
  /** Chance that a message takes an extra exponential delay (mean `tailMeanMs`), overtaking others. */
  readonly reorderRate?: number;
  readonly tailMeanMs?: number;
  /** Added to every message's delay (a slow network). */
  readonly extraDelayMs?: number;
}

export type Link = readonly [from: string, to: string];

export interface NetworkStats {
  sent: number;
  delivered: number;
  droppedLoss: number;
  droppedPartition: number;
  droppedDown: number;
  duplicated: number;
}

/**
 * The simulated network. Every delivery decision (loss, delay, duplication, reordering) comes from
 * the network's own seeded stream, and a message is a world event, so delivery order is part of
 * the replayed run. Partitions are sets of blocked directed links: a one-way fault blocks one
 * direction only, and overlapping partitions block the union of their links.
 */
export class SimNetwork<M> {
  private readonly endpoints = new Map<string, SimEndpoint<M>>();
  private readonly partitions = new Map<string, readonly Link[]>();
  private readonly blockedLinkCounts = new Map<string, number>();
  private readonly impairments = new Map<string, Impairment>();
  private effective: EffectiveImpairment = noImpairment();
  /** Active latency caps by id (a lease race's near-instant links); the lowest one applies. */
  private readonly latencyCaps = new Map<string, number>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, droppedLoss: 0, droppedPartition: 0, droppedDown: 0, duplicated: 0 };
  /** Told of every link cut or restored and every impairment change (the step-down check reads it). */
  onLinksChanged: ((links: readonly Link[]) => void) | null = null;
  onImpairmentsChanged: ((active: number) => void) | null = null;

  constructor(
    private readonly world: World,
    private readonly rng: WorldRng,
    readonly profile: LinkProfile,
    private readonly describe: (message: M) => string,
  ) {
    assert(profile.delayMinMs >= 0, `delayMinMs ${profile.delayMinMs} < 0`);
    assert(profile.delayMaxMs >= profile.delayMinMs, `delayMaxMs ${profile.delayMaxMs} < delayMinMs ${profile.delayMinMs}`);
  }

  /** Open a fresh endpoint at `addr` (a restarted node gets a new one; the old one stays closed). */
  open(addr: string): SimEndpoint<M> {
    const previous = this.endpoints.get(addr);
    assert(previous === undefined || previous.closed, `endpoint ${addr} is already open`);
    const endpoint = new SimEndpoint<M>(addr, this);
    this.endpoints.set(addr, endpoint);
    return endpoint;
  }

  isBlocked(from: string, to: string): boolean {
    return this.blockedLinkCounts.has(linkKey(from, to));
  }

  partition(id: string, links: readonly Link[]): void {
    assert(!this.partitions.has(id), `partition ${id} already active`);
    this.partitions.set(id, links);
    for (const [from, to] of links) {
      const key = linkKey(from, to);
      this.blockedLinkCounts.set(key, (this.blockedLinkCounts.get(key) ?? 0) + 1);
    }
    this.world.record("partition", { id, links: links.map(([f, t]) => `${f}>${t}`) });
    this.onLinksChanged?.(links);
  }

  heal(id: string): void {
    const links = this.partitions.get(id);
    assert(links !== undefined, `partition ${id} is not active`);
    this.partitions.delete(id);
    for (const [from, to] of links) {
      const key = linkKey(from, to);
      const count = this.blockedLinkCounts.get(key)!;
      if (count <= 1) this.blockedLinkCounts.delete(key);
      else this.blockedLinkCounts.set(key, count - 1);
    }
    this.world.record("heal", { id });
    this.onLinksChanged?.(links);
  }

  impair(id: string, impairment: Impairment): void {
    assert(!this.impairments.has(id), `impairment ${id} already active`);
    this.impairments.set(id, impairment);
    this.recomputeImpairment();
    this.world.record("impair", { id, ...impairment });
    this.onImpairmentsChanged?.(this.impairments.size);
  }

  restore(id: string): void {
    assert(this.impairments.delete(id), `impairment ${id} is not active`);
    this.recomputeImpairment();
    this.world.record("restore", { id });
    this.onImpairmentsChanged?.(this.impairments.size);
  }

  /**
   * Cap every link's base delay at `maxDelayMs` until `uncapLatency(id)` (impairments still add
   * theirs on top). The base delay is drawn as before and then capped, so the network's stream
   * stays aligned with a run without the cap.
   */
  capLatency(id: string, maxDelayMs: number): void {
    assert(!this.latencyCaps.has(id), `latency cap ${id} already active`);
    assert(maxDelayMs >= 0, `latency cap ${maxDelayMs} < 0`);
    this.latencyCaps.set(id, maxDelayMs);
    this.world.record("capLatency", { id, maxDelayMs });
  }

  uncapLatency(id: string): void {
    assert(this.latencyCaps.delete(id), `latency cap ${id} is not active`);
    this.world.record("uncapLatency", { id });
  }

  /** Heal every partition and impairment: the start of the liveness phase. */
  healAll(): void {
    for (const id of [...this.partitions.keys()]) this.heal(id);
    for (const id of [...this.impairments.keys()]) this.restore(id);
    for (const id of [...this.latencyCaps.keys()]) this.uncapLatency(id);
  }

  /**
   * No link between two of `nodes` is cut and no impairment adds to every message's delay (loss,
   * duplication and reordering may be active): a race between them is decided by their clocks.
   */
  calmBetween(nodes: readonly string[]): boolean {
    if (this.effective.extraDelayMs > 0) return false;
    return nodes.every((a) => nodes.every((b) => a === b || !this.isBlocked(a, b)));
  }

  get activeFaults(): number {
    return this.partitions.size + this.impairments.size;
  }

  /** Observes every send before its fate is drawn; fault triggers ("when X sends Y, do Z") use it. */
  tap: ((from: string, to: string, message: M) => void) | null = null;

  /**
   * Observes every message about to reach a live receiver: triggers that act on the receiver as a
   * message lands use it (crash it and bring it back, so the restarted node handles the message).
   */
  deliveryTap: ((from: string, to: string, message: M) => void) | null = null;

  /** Called by an endpoint: decide the message's fate now, from the network's stream. */
  send(from: string, to: string, message: M): void {
    this.stats.sent++;
    this.tap?.(from, to, message);
    if (this.isBlocked(from, to)) {
      this.stats.droppedPartition++;
      this.traceDrop("partition", from, to, message);
      return;
    }
    if (this.rng.chance(this.effective.lossRate)) {
      this.stats.droppedLoss++;
      this.traceDrop("loss", from, to, message);
      return;
    }
    this.schedule(from, to, message);
    if (this.rng.chance(this.effective.dupRate)) {
      this.stats.duplicated++;
      this.schedule(from, to, message);
    }
  }

  private schedule(from: string, to: string, message: M): void {
    const delayMs = this.drawDelayMs();
    this.world.after(delayMs, () => this.deliver(from, to, message));
  }

  private drawDelayMs(): number {
    let delayMs = this.cappedBase(this.rng.int(this.profile.delayMinMs, this.profile.delayMaxMs)) + this.effective.extraDelayMs;
    if (this.rng.chance(this.effective.reorderRate)) {
      delayMs += Math.round(-Math.log(1 - this.rng.next()) * this.effective.tailMeanMs);
    }
    return delayMs;
  }

  private cappedBase(delayMs: number): number {
    if (this.latencyCaps.size === 0) return delayMs;
    return Math.min(delayMs, ...this.latencyCaps.values());
  }

  private deliver(from: string, to: string, message: M): void {
    if (!this.deliverable(from, to, message)) return;
    if (this.deliveryTap !== null) {
      this.deliveryTap(from, to, message);
      // The tap may have restarted the receiver (a fresh endpoint) or left it down.
      if (!this.deliverable(from, to, message)) return;
    }
    const endpoint = this.endpoints.get(to)!;
    this.stats.delivered++;
    if (this.world.tracing) this.world.record("recv", { m: this.describe(message) });
    endpoint.receive(from, message);
  }

  private deliverable(from: string, to: string, message: M): boolean {
    const endpoint = this.endpoints.get(to);
    if (endpoint === undefined || endpoint.closed) {
      this.stats.droppedDown++;
      this.traceDrop("down", from, to, message);
      return false;
    }
    // A partition that began while the message was in flight also cuts it.
    if (this.isBlocked(from, to)) {
      this.stats.droppedPartition++;
      this.traceDrop("partition", from, to, message);
      return false;
    }
    return true;
  }

  private traceDrop(reason: string, from: string, to: string, message: M): void {
    if (this.world.tracing) this.world.record("drop", { reason, from, to, m: this.describe(message) });
  }

  private recomputeImpairment(): void {
    const worst = noImpairment();
    for (const imp of this.impairments.values()) {
      worst.lossRate = Math.max(worst.lossRate, imp.lossRate ?? 0);
      worst.dupRate = Math.max(worst.dupRate, imp.dupRate ?? 0);
      worst.reorderRate = Math.max(worst.reorderRate, imp.reorderRate ?? 0);
      worst.tailMeanMs = Math.max(worst.tailMeanMs, imp.tailMeanMs ?? 0);
      worst.extraDelayMs = Math.max(worst.extraDelayMs, imp.extraDelayMs ?? 0);
    }
    this.effective = worst;
  }
}

/** One node's view of the simulated network: the `Transport` the runtime above a core uses. */
export class SimEndpoint<M> implements Transport<M> {
  private handler: ((from: string, message: M) => void) | null = null;
  closed = false;

  constructor(readonly localAddr: string, private readonly network: SimNetwork<M>) {}

  send(to: string, message: M): void {
    if (this.closed) return;
    this.network.send(this.localAddr, to, message);
  }

  onMessage(handler: (from: string, message: M) => void): void {
    assert(this.handler === null, `endpoint ${this.localAddr} already has a receiver`);
    this.handler = handler;
  }

  close(): void {
    this.closed = true;
  }

  receive(from: string, message: M): void {
    if (this.handler !== null) this.handler(from, message);
  }
}

function linkKey(from: string, to: string): string {
  return `${from}>${to}`;
}

type EffectiveImpairment = { -readonly [K in keyof Impairment]-?: number };

function noImpairment(): EffectiveImpairment {
  return { lossRate: 0, dupRate: 0, reorderRate: 0, tailMeanMs: 0, extraDelayMs: 0 };
}

/** Both directions between `node` and everyone else. */
export function isolateLinks(node: string, nodes: readonly string[]): Link[] {
  return nodes.filter((n) => n !== node).flatMap((n): Link[] => [[node, n], [n, node]]);
}

/** Both directions between two groups. */
export function splitLinks(groupA: readonly string[], groupB: readonly string[]): Link[] {
  return groupA.flatMap((a) => groupB.flatMap((b): Link[] => [[a, b], [b, a]]));
}

/** A random split into two non-empty halves. */
export function randomHalves(rng: WorldRng, nodes: readonly string[]): [string[], string[]] {
  assert(nodes.length >= 2, `cannot halve ${nodes.length} nodes`);
  const shuffled = [...nodes];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const cut = rng.int(1, shuffled.length - 1);
  return [shuffled.slice(0, cut), shuffled.slice(cut)];
}

/**
 * A majority ring: nodes in a (shuffled) circle see only their neighbours, so each one sees a
 * majority, but different nodes see different majorities. With three nodes a ring is fully
 * connected, so one pair is cut instead, leaving the middle node in both majorities.
 */
export function majorityRingLinks(rng: WorldRng, nodes: readonly string[]): Link[] {
  const ring = randomHalves(rng, nodes).flat();
  const n = ring.length;
  const links: Link[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const distance = Math.min(j - i, n - (j - i));
      if (distance > 1) links.push([ring[i]!, ring[j]!], [ring[j]!, ring[i]!]);
    }
  }
  if (links.length === 0 && n >= 3) links.push([ring[0]!, ring[2]!], [ring[2]!, ring[0]!]);
  return links;
}
