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

export function raftTicks(c: RaftConfig): RaftTicks {
  const ticks = (ms: number) => Math.max(1, Math.round(ms / c.tickMs));
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
  if (c.leaderLeaseTimeoutMs > c.heartbeatTimeoutMs) {
    throw new RangeError(`raft config: leaderLeaseTimeoutMs ${c.leaderLeaseTimeoutMs} must not exceed heartbeatTimeoutMs ${c.heartbeatTimeoutMs}, or a lease outlives the followers' loyalty`);
  }
  if (typeof c.preVote !== "boolean" || typeof c.checkQuorum !== "boolean") throw new RangeError("raft config: preVote and checkQuorum must be booleans");
}
