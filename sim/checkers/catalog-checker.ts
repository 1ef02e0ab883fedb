/**
 * Checkers for the catalog scenario, run around every apply on every server:
 *
 * - identical state: every server's snapshot at the same applied index hashes the same;
 * - lock safety, at the state machine: a key under `lock/` is only ever held by a live session
 *   (the catalog's invariants), never passes directly from one session to another, and after
 *   its holder was invalidated it is not acquired again before that session's lock-delay
 *   (capped at Consul's 60 s) has run out on the log's clock.
 *
 * Facts are recorded cluster-wide by Raft index, so a server restored from a snapshot is still
 * checked against what the servers that applied the log saw.
 */
import type { Catalog } from "../../src/core/catalog/index.ts";
import type { NodeId } from "../../src/core/raft/types.ts";
import { SafetyViolation } from "./raft-safety.ts";

const lockPrefix = "lock/";
/** Consul's structs.MaxLockDelay. */
const lockDelayMaxMs = 60_000;

export interface LockView {
  /** key -> holder session, before the apply. */
  readonly holders: Map<string, string>;
  /** holder session -> its lock delay in ms. */
  readonly delaysMs: Map<string, number>;
}

/** The last time a key was let go, by release or by invalidation. */
interface Release {
  readonly index: number;
  readonly invalidated: boolean;
  readonly blockedUntilMs: number;
}

function fnv1a(bytes: Uint8Array): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < bytes.length; i++) {
    h1 = Math.imul(h1 ^ bytes[i]!, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ bytes[i]!, 0x811c9dc5) >>> 0;
  }
  return `${bytes.length}:${h1.toString(16)}${h2.toString(16)}`;
}

export class CatalogChecker {
  private readonly hashes = new Map<number, { node: NodeId; hash: string }>();
  private readonly releases = new Map<string, Release[]>();
  private readonly acquisitions = new Set<string>();
  hashesCompared = 0;
  handovers = 0;
  invalidationReleases = 0;

  constructor(private readonly hashEvery: number) {}

  lockView(catalog: Catalog): LockView {
    const holders = new Map<string, string>();
    const delaysMs = new Map<string, number>();
    for (const entry of catalog.kvList(lockPrefix).value) {
      if (entry.Session === undefined) continue;
      holders.set(entry.Key, entry.Session);
      const session = catalog.sessionInfo(entry.Session).value[0];
      delaysMs.set(entry.Session, session === undefined ? 0 : session.LockDelay / 1e6);
    }
    return { holders, delaysMs };
  }

  /** Checks one apply; returns the lock view after it, for other checkers. */
  afterApply(node: NodeId, catalog: Catalog, index: number, before: LockView): LockView {
    catalog.invariants();
    const after = this.lockView(catalog);
    const keys = new Set([...before.holders.keys(), ...after.holders.keys()]);
    for (const key of [...keys].sort()) {
      const was = before.holders.get(key);
      const now = after.holders.get(key);
      if (was === now) continue;
      if (was !== undefined && now !== undefined) {
        throw new SafetyViolation(`lock safety: ${node} at index ${index}: ${key} passed from session ${was} to ${now} without a release`);
      }
      if (was !== undefined) this.onLetGo(catalog, key, was, index, before.delaysMs.get(was) ?? 0);
      else this.onAcquire(node, catalog, key, now!, index);
    }
    if (index % this.hashEvery === 0) this.compareHash(node, catalog, index);
    return after;
  }

  private onLetGo(catalog: Catalog, key: string, session: string, index: number, delayMs: number): void {
    const invalidated = catalog.sessionInfo(session).value.length === 0;
    const blockedUntilMs = invalidated && delayMs > 0 ? catalog.clockMs + Math.min(delayMs, lockDelayMaxMs) : 0;
    const list = this.releases.get(key) ?? [];
    if (list.some((r) => r.index === index)) return;
    list.push({ index, invalidated, blockedUntilMs });
    list.sort((a, b) => a.index - b.index);
    this.releases.set(key, list);
    if (invalidated) this.invalidationReleases++;
  }

  private onAcquire(node: NodeId, catalog: Catalog, key: string, session: string, index: number): void {
    const previous = (this.releases.get(key) ?? []).filter((r) => r.index < index).pop();
    if (previous !== undefined && catalog.clockMs < previous.blockedUntilMs) {
      throw new SafetyViolation(
        `lock safety: ${node} at index ${index}: ${key} acquired by ${session} at log time ${catalog.clockMs} ms, ` +
        `inside the lock-delay window (until ${previous.blockedUntilMs} ms) left by the invalidation at index ${previous.index}`,
      );
    }
    const fact = `${key}@${index}`;
    if (!this.acquisitions.has(fact)) {
      this.acquisitions.add(fact);
      if (previous !== undefined) this.handovers++;
    }
  }

  private compareHash(node: NodeId, catalog: Catalog, index: number): void {
    const hash = fnv1a(catalog.snapshot());
    const first = this.hashes.get(index);
    if (first === undefined) {
      this.hashes.set(index, { node, hash });
      return;
    }
    this.hashesCompared++;
    if (first.hash !== hash) {
      throw new SafetyViolation(`identical state: at applied index ${index} ${first.node} has snapshot ${first.hash} but ${node} has ${hash}`);
    }
  }
}
