/**
 * Session TTLs judged against what the clients did, across leader changes (issue 14, defect 6).
 *
 * Consul's promise: a TTL session is destroyed by the leader's timer only after TTL x 2 without
 * a renew, and a new leader starts every session's timer afresh when it takes over
 * (initializeSessionTimers). From the clients' side that gives two bounds:
 *
 *   - never early: an expiry that actually invalidates the session, taking effect at log time p
 *     (the log's clock after its apply), must satisfy p >= (the later of the session's last
 *     successful renew call and the takeover of the leader that proposed it) + TTL. A renew whose call succeeded was applied after the call, and a
 *     leader that took over at T owes every session a fresh timer from T, so an expiry inside
 *     either TTL breaks a client that renewed as it should, whatever the failovers.
 *   - never late: once the clients stop, every TTL session is gone by (the later of its last
 *     renew attempt plus the client link delay, and the final leader's takeover) + 2 x TTL +
 *     `lateBoundMs` (one sweep period of the leader plus a commit), checked on a healed cluster.
 */
import { SafetyViolation } from "./raft-safety.ts";

interface TtlSession {
  readonly ttlMs: number;
  /** Call time of the create, then of every renew that succeeded. */
  lastRenewOkCallMs: number;
  /** Call time of the latest renew attempt whatever its outcome (it may still be applied). */
  lastRenewAttemptMs: number;
  expired: boolean;
}

interface Proposal {
  readonly leader: string;
  readonly takeoverMs: number;
}

export class SessionChecker {
  private readonly sessions = new Map<string, TtlSession>();
  /** `${session}@${stampMs}` -> who proposed that expiry. */
  private readonly proposals = new Map<string, Proposal>();
  private readonly judged = new Set<number>();
  expiries = 0;
  /** The smallest margin seen between an expiry and its early bound, in ms. */
  closestMarginMs = Infinity;

  constructor(readonly lateBoundMs: number, readonly clientLinkMaxMs: number) {}

  /** A TTL session the client created (the call time counts as its first renew). */
  onCreated(id: string, ttlMs: number, callMs: number): void {
    if (ttlMs <= 0) return;
    this.sessions.set(id, { ttlMs, lastRenewOkCallMs: callMs, lastRenewAttemptMs: callMs, expired: false });
  }

  onRenewAttempt(id: string, callMs: number): void {
    const session = this.sessions.get(id);
    if (session !== undefined) session.lastRenewAttemptMs = Math.max(session.lastRenewAttemptMs, callMs);
  }

  onRenewOk(id: string, callMs: number): void {
    const session = this.sessions.get(id);
    if (session !== undefined) session.lastRenewOkCallMs = Math.max(session.lastRenewOkCallMs, callMs);
  }

  /** The leader's duty loop proposed `session.expire` stamped `stampMs`. */
  onExpireProposed(id: string, stampMs: number, leader: string, takeoverMs: number): void {
    this.proposals.set(`${id}@${stampMs}`, { leader, takeoverMs });
  }

  /**
   * A server applied, at `raftIndex`, a `session.expire` stamped `stampMs` that invalidated `id`;
   * `effectiveMs` is the log's clock after it (never before the stamp): when it took effect.
   */
  onExpired(raftIndex: number, id: string, stampMs: number, effectiveMs: number): void {
    if (this.judged.has(raftIndex)) return;
    this.judged.add(raftIndex);
    this.expiries++;
    const session = this.sessions.get(id);
    if (session === undefined) return;
    session.expired = true;
    const proposal = this.proposals.get(`${id}@${stampMs}`);
    if (proposal === undefined) throw new SafetyViolation(`session TTL unproposed expiry: ${id} expired at index ${raftIndex} by an expiry stamped ${stampMs} ms that no leader proposed`);
    const fromMs = Math.max(session.lastRenewOkCallMs, proposal.takeoverMs);
    const earliestMs = fromMs + session.ttlMs;
    this.closestMarginMs = Math.min(this.closestMarginMs, effectiveMs - earliestMs);
    if (effectiveMs < earliestMs) {
      const why = proposal.takeoverMs >= session.lastRenewOkCallMs
        ? `its leader ${proposal.leader} took over at ${proposal.takeoverMs} ms`
        : `its last successful renew was called at ${session.lastRenewOkCallMs} ms`;
      throw new SafetyViolation(
        `session TTL early expiry: ${id} (TTL ${session.ttlMs} ms) expired by ${proposal.leader} at ${effectiveMs} ms, before ${earliestMs} ms: ${why}`,
      );
    }
  }

  /**
   * After the clients stopped, on a healed cluster led since `takeoverMs`: every TTL session
   * still alive at `nowMs` must be within its late bound. `alive` lists the leader's sessions.
   */
  checkNotOutlived(nowMs: number, takeoverMs: number, alive: readonly string[]): void {
    for (const id of alive) {
      const session = this.sessions.get(id);
      if (session === undefined) continue;
      const fromMs = Math.max(session.lastRenewAttemptMs + this.clientLinkMaxMs, takeoverMs);
      const latestMs = fromMs + 2 * session.ttlMs + this.lateBoundMs;
      if (nowMs > latestMs) {
        throw new SafetyViolation(
          `session TTL outlived: ${id} (TTL ${session.ttlMs} ms) still alive at ${nowMs} ms, past ${latestMs} ms ` +
          `(last renew attempt ${session.lastRenewAttemptMs} ms, leader since ${takeoverMs} ms, 2 x TTL + ${this.lateBoundMs} ms)`,
        );
      }
    }
  }

  /** The longest TTL of any session seen, so the scenario can size its tail. */
  get ttlMaxMs(): number {
    let max = 0;
    for (const session of this.sessions.values()) max = Math.max(max, session.ttlMs);
    return max;
  }
}
