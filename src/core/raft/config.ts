import type { NodeId, RaftConfig } from "./types.ts";

/** hashicorp/raft's LAN defaults (DefaultConfig), expressed for a tick-driven core. */
export function defaultRaftConfig(id: NodeId, overrides: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id,
    tickMs: 50, // 1/20 of the heartbeat timeout: election jitter gets 20 distinct values per range
    heartbeatTimeoutMs: 1000, // hashicorp/raft LAN HeartbeatTimeout
    electionTimeoutMs: 1000, // hashicorp/raft LAN ElectionTimeout
    leaderLeaseTimeoutMs: 500, // hashicorp/raft LAN LeaderLeaseTimeout; half the heartbeat timeout leaves room for clock drift
    heartbeatIntervalMs: 100, // hashicorp/raft sends heartbeats at HeartbeatTimeout / 10
    maxClockDriftPpm: 50_000, // 5 %: far above real oscillators (~100 ppm), so VM pauses and slewing fit too
    preVote: true, // an isolated node rejoining must not bump everyone's term (etcd PreVote)
    checkQuorum: true, // a partitioned leader steps down, and followers stick to a live leader
    maxEntriesPerMsg: 64, // hashicorp/raft MaxAppendEntries
    maxInflightMsgs: 256, // etcd raft's recommended MaxInflightMsgs; hashicorp pipelines similarly
    ...overrides,
  };
}

/** Durations of a config in ticks, computed once at the edge. */
export interface RaftTicks {
  readonly heartbeatTimeoutTicks: number;
  readonly electionTimeoutTicks: number;
  readonly leaderLeaseTicks: number;
  readonly heartbeatIntervalTicks: number;
  /** A replicating follower whose match has not moved this long lost an append: probe it again. */
  readonly replicationStallTicks: number;
}

function tickCount(c: RaftConfig, ms: number): number {
  return Math.max(1, Math.round(ms / c.tickMs));
}

/**
 * What a lease must leave unused of the followers' timeout: one tick, because a follower may count
 * its first tick of silence up to a tick before the leader counts its own (their ticks are not in
 * phase), and the drift bound applied to both clocks over the timeout (the leader's clock slow,
 * the follower's fast).
 */
export function leaseMarginMs(c: RaftConfig): { readonly tickMs: number; readonly driftMs: number } {
  return { tickMs: c.tickMs, driftMs: Math.ceil((2 * c.heartbeatTimeoutMs * c.maxClockDriftPpm) / 1_000_000) };
}

export function raftTicks(c: RaftConfig): RaftTicks {
  const ticks = (ms: number) => tickCount(c, ms);
  return {
    heartbeatTimeoutTicks: ticks(c.heartbeatTimeoutMs),
    electionTimeoutTicks: ticks(c.electionTimeoutMs),
    leaderLeaseTicks: ticks(c.leaderLeaseTimeoutMs),
    heartbeatIntervalTicks: ticks(c.heartbeatIntervalMs),
    replicationStallTicks: Math.max(2, ticks(c.heartbeatTimeoutMs) >> 1),
  };
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`raft config: ${name} must be a positive integer, got ${value}`);
}

/** Throws a RangeError naming the first bad field. */
export function validateRaftConfig(c: RaftConfig): void {
  if (typeof c.id !== "string" || c.id.length === 0) throw new RangeError("raft config: id must be a non-empty string");
  positiveInteger("tickMs", c.tickMs);
  for (const name of ["heartbeatTimeoutMs", "electionTimeoutMs", "leaderLeaseTimeoutMs", "heartbeatIntervalMs"] as const) {
    positiveInteger(name, c[name]);
    if (c[name] < c.tickMs) throw new RangeError(`raft config: ${name} ${c[name]} is shorter than tickMs ${c.tickMs}`);
  }
  positiveInteger("maxEntriesPerMsg", c.maxEntriesPerMsg);
  positiveInteger("maxInflightMsgs", c.maxInflightMsgs);
  if (c.heartbeatIntervalMs >= c.heartbeatTimeoutMs) {
    throw new RangeError(`raft config: heartbeatIntervalMs ${c.heartbeatIntervalMs} must be below heartbeatTimeoutMs ${c.heartbeatTimeoutMs}, or followers time out between heartbeats`);
  }
  if (!Number.isInteger(c.maxClockDriftPpm) || c.maxClockDriftPpm < 0 || c.maxClockDriftPpm >= 500_000) {
    throw new RangeError(`raft config: maxClockDriftPpm must be an integer in [0, 500000), got ${c.maxClockDriftPpm}`);
  }
  const margin = leaseMarginMs(c);
  const leaseMs = tickCount(c, c.leaderLeaseTimeoutMs) * c.tickMs;
  const timeoutMs = tickCount(c, c.heartbeatTimeoutMs) * c.tickMs;
  if (leaseMs + margin.tickMs + margin.driftMs > timeoutMs) {
    throw new RangeError(
      `raft config: leaderLeaseTimeoutMs ${c.leaderLeaseTimeoutMs} (${leaseMs} ms in ticks) must be shorter than the followers' election timeout ` +
      `(heartbeatTimeoutMs ${c.heartbeatTimeoutMs}, ${timeoutMs} ms in ticks) by at least one tick (${margin.tickMs} ms) plus the drift bound ` +
      `(${c.maxClockDriftPpm} ppm over both clocks: ${margin.driftMs} ms), so at most ${timeoutMs - margin.tickMs - margin.driftMs} ms: ` +
      "otherwise a deposed leader may serve a lease read after a new leader committed a newer value");
  }
  if (typeof c.preVote !== "boolean" || typeof c.checkQuorum !== "boolean") throw new RangeError("raft config: preVote and checkQuorum must be booleans");
}
