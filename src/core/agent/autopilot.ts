/**
 * The leader's Raft membership upkeep (Consul's Autopilot, reduced to what the agent issue asks):
 * a live server of this datacenter that is not in the configuration joins as a non-voter; a
 * non-voter that has kept up with the leader for `stableTicks` is promoted; a server that left the
 * pool (or was reaped) is removed. One change at a time: Raft accepts one membership change in
 * flight, so the caller proposes the first change returned and asks again after it applies.
 *
 * Failed servers stay voters: a server killed and restarted comes back with its data, and
 * removing it would shrink the quorum under an operator who expects it back.
 */
import type { ConfChange, ConfState } from "../raft/types.ts";

export interface AutopilotServer {
  readonly raftAddr: string;
  readonly status: "alive" | "leaving" | "left" | "failed";
}

export interface AutopilotConfig {
  /** A non-voter must be caught up this long before promotion (Consul's ServerStabilizationTime, 10 s). */
  readonly stableTicks: number;
  /** Entries a non-voter may trail the leader's last index by and still count as caught up. */
  readonly maxTrailingEntries: number;
}

export class Autopilot {
  /** Non-voter -> the tick since which it has been caught up. */
  private readonly caughtUpSince = new Map<string, number>();
  private nowTick = 0;

  constructor(private readonly config: AutopilotConfig) {}

  tick(): void {
    this.nowTick++;
  }

  /**
   * The next membership change, or null. `match` is the leader's view of each follower's
   * replicated index; `lastIndex` the leader's.
   */
  next(self: string, conf: ConfState, servers: readonly AutopilotServer[], match: Readonly<Record<string, number>>, lastIndex: number): ConfChange | null {
    const inConf = new Set([...conf.voters, ...conf.learners]);
    const byAddr = new Map(servers.map((s) => [s.raftAddr, s]));
    for (const server of servers) {
      if (server.status === "alive" && !inConf.has(server.raftAddr)) return { type: "addLearner", node: server.raftAddr };
    }
    for (const id of [...conf.voters, ...conf.learners]) {
      if (id === self) continue;
      const server = byAddr.get(id);
      // Only a server known to have left (or been reaped: the caller reports it as left). One the
      // pool has not shown yet, as after a restart, is kept: removing it could cost the quorum.
      if (server !== undefined && server.status === "left") return { type: "remove", node: id };
    }
    for (const id of conf.learners) {
      const caughtUp = (match[id] ?? 0) + this.config.maxTrailingEntries >= lastIndex && byAddr.get(id)?.status === "alive";
      if (!caughtUp) {
        this.caughtUpSince.delete(id);
        continue;
      }
      const since = this.caughtUpSince.get(id) ?? this.nowTick;
      this.caughtUpSince.set(id, since);
      if (this.nowTick - since >= this.config.stableTicks) return { type: "promote", node: id };
    }
    for (const id of this.caughtUpSince.keys()) if (!conf.learners.includes(id)) this.caughtUpSince.delete(id);
    return null;
  }
}
