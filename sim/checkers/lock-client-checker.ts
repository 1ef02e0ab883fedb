/**
 * Lock safety judged from the clients' side: a history of who believed they held which lock,
 * and when. Two clients must never believe they hold the same key at the same instant.
 *
 * A client believes it holds a key from the moment a successful acquire comes back until the
 * earliest of: calling release on it, calling destroy on its session, learning its session is
 * gone, and (its session having a TTL) TTL after the call of its last successful renew — the
 * TTL is all Consul promises, so a careful client (Patroni) stops acting as leader then.
 *
 * Beliefs are recorded only for sessions that nothing but their client or their TTL can end:
 * TTL sessions bound to no check, on a node nobody deregisters. Any other session can be
 * invalidated behind its client's back (a check going critical, its node deregistered), and
 * Consul protects those holders with lock-delay instead, which the state-machine checker
 * (catalog-checker.ts) judges. Every acquire, of any session, is checked against the beliefs.
 */
import { SafetyViolation } from "./raft-safety.ts";

interface Belief {
  readonly client: number;
  readonly session: string;
  readonly sinceMs: number;
  endedMs: number | null;
}

interface PureTtlSession {
  readonly ttlMs: number;
  lastRenewOkCallMs: number;
}

export class LockClientChecker {
  private readonly sessions = new Map<string, PureTtlSession>();
  /** key -> beliefs, oldest first (only the live ones matter; ended ones are kept for messages). */
  private readonly beliefs = new Map<string, Belief[]>();
  acquisitionsChecked = 0;
  beliefsRecorded = 0;

  /** A TTL session bound to no check, on a node nobody deregisters; the create's call counts as a renew. */
  onPureTtlSessionCreated(session: string, ttlMs: number, callMs: number): void {
    this.sessions.set(session, { ttlMs, lastRenewOkCallMs: callMs });
  }

  onRenewOk(session: string, callMs: number): void {
    const known = this.sessions.get(session);
    if (known !== undefined) known.lastRenewOkCallMs = Math.max(known.lastRenewOkCallMs, callMs);
  }

  /** The latest instant `belief` still holds, as of now (Infinity while nothing ends it). */
  private beliefEndMs(belief: Belief): number {
    const session = this.sessions.get(belief.session);
    const ttlEndMs = session === undefined ? Infinity : session.lastRenewOkCallMs + session.ttlMs;
    return Math.min(belief.endedMs ?? Infinity, ttlEndMs);
  }

  /** `client` got `true` back from acquiring `key` with `session`, at `ackMs`. */
  onAcquired(client: number, session: string, key: string, ackMs: number): void {
    this.acquisitionsChecked++;
    const list = this.beliefs.get(key) ?? [];
    for (const belief of list) {
      if (belief.session === session) continue;
      const endMs = this.beliefEndMs(belief);
      if (belief.sinceMs <= ackMs && ackMs < endMs) {
        throw new SafetyViolation(
          `client lock safety: client ${client} acquired ${key} with session ${session} at ${ackMs} ms while client ${belief.client} ` +
          `believed it held it with session ${belief.session} since ${belief.sinceMs} ms (until ${endMs === Infinity ? "released" : `${endMs} ms`})`,
        );
      }
    }
    if (!this.sessions.has(session)) return;
    if (list.some((b) => b.session === session && b.endedMs === null)) return;
    list.push({ client, session, sinceMs: ackMs, endedMs: null });
    this.beliefs.set(key, list.filter((b) => b.endedMs === null || b.endedMs > ackMs - 120_000));
    this.beliefsRecorded++;
  }

  /** The client stops believing in `key` (it calls release) at `callMs`. */
  onReleaseCall(session: string, key: string, callMs: number): void {
    for (const belief of this.beliefs.get(key) ?? []) {
      if (belief.session === session && belief.endedMs === null) belief.endedMs = callMs;
    }
  }

  /** The client stops believing in every key of `session` (it calls destroy, or learns it is gone). */
  onSessionEnded(session: string, atMs: number): void {
    for (const list of this.beliefs.values()) {
      for (const belief of list) if (belief.session === session && belief.endedMs === null) belief.endedMs = atMs;
    }
  }
}
