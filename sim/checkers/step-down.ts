import type { NodeId } from "../../src/core/raft/types.ts";

/** Thrown when a run breaks a liveness property during the safety phase (not a safety violation). */
export class LivenessViolation extends Error {
  override name = "LivenessViolation";
}

/**
 * What the simulator knows about the links between servers: when each directed link was last cut
 * or restored, when a network-wide impairment was last active, and when each server last started
 * or stopped. A pair is "connected since t" when none of that touched it after t.
 */
export class ConnectivityLog {
  private readonly linkChangedMs = new Map<string, number>();
  private readonly nodeChangedMs = new Map<NodeId, number>();
  private impairedUntilMs = Number.NEGATIVE_INFINITY;
  private impairments = 0;

  /** `isBlocked(from, to)`: whether the link is cut now (a cut older than the window still counts). */
  constructor(private readonly isBlocked: (from: NodeId, to: NodeId) => boolean) {}

  linkChanged(from: NodeId, to: NodeId, nowMs: number): void {
    this.linkChangedMs.set(`${from}>${to}`, nowMs);
  }

  nodeChanged(node: NodeId, nowMs: number): void {
    this.nodeChangedMs.set(node, nowMs);
  }

  impairmentsChanged(active: number, nowMs: number): void {
    if (this.impairments > 0 || active > 0) this.impairedUntilMs = nowMs;
    this.impairments = active;
  }

  /** Whether both directions between a and b, and both servers, have been untouched since `sinceMs` (and are up now). */
  cleanSince(a: NodeId, b: NodeId, sinceMs: number, nowMs: number): boolean {
    if (this.impairments > 0 || this.impairedUntilMs > sinceMs) return false;
    for (const node of [a, b]) if ((this.nodeChangedMs.get(node) ?? Number.NEGATIVE_INFINITY) > sinceMs) return false;
    for (const key of [`${a}>${b}`, `${b}>${a}`]) if ((this.linkChangedMs.get(key) ?? Number.NEGATIVE_INFINITY) > sinceMs) return false;
    if (a !== b && (this.isBlocked(a, b) || this.isBlocked(b, a))) return false;
    return nowMs >= sinceMs;
  }
}

/**
 * Check-quorum must depose only a leader that lost touch with a quorum. A leader that steps down
 * in its own term while it is still a voter, after a full window in which it and a quorum of its
 * voters were up and connected both ways with no network impairment anywhere, and its configuration
 * did not change, was deposed by
 * something else: its own read load, say (issue 14 defect 3). `windowMs` is the election timeout
 * stretched by the drift bound plus slack for message delays.
 */
export function checkStepDown(
  log: ConnectivityLog, leader: NodeId, term: number, voters: readonly NodeId[], up: (id: NodeId) => boolean,
  nowMs: number, windowMs: number, confChangedMs: number,
): void {
  if (!voters.includes(leader)) return; // a removed leader steps down by design
  // A voter added inside the window had no time to answer heartbeats: losing quorum that way is Raft's rule.
  if (confChangedMs > nowMs - windowMs) return;
  const sinceMs = nowMs - windowMs;
  const connected = voters.filter((v) => up(v) && (v === leader ? log.cleanSince(v, v, sinceMs, nowMs) : log.cleanSince(leader, v, sinceMs, nowMs)));
  if (!connected.includes(leader) || connected.length < Math.floor(voters.length / 2) + 1) return;
  throw new LivenessViolation(
    `liveness: leader ${leader} of term ${term} stepped down while connected to a quorum (${connected.join(",")} of voters ${voters.join(",")}) ` +
    `with no fault touching them for ${windowMs} ms`);
}
