import type { StateMachine } from "../../src/agent/raft-host.ts";
import { isMember } from "../../src/core/raft/confchange.ts";
import type { HistoryOp } from "../checkers/history.ts";
import { checkLinearizable } from "../checkers/linearizability.ts";
import type { RaftCluster } from "../raft-cluster.ts";
import type { World } from "../world/world.ts";

/** A workload whose clients report when they last completed an operation. */
export interface ClientWorkload {
  clientsIdleSince(sinceMs: number): number[];
}

/**
 * The liveness phase of the Raft scenarios: `pending()` names what has not converged since the
 * heal, or returns null once all has — one leader followed by every member of its configuration,
 * every member applied up to the commit index seen first, every client served again.
 */
export class RaftLivenessProbe {
  private targetCommit: number | null = null;

  constructor(
    private readonly cluster: RaftCluster<StateMachine<unknown>>,
    private readonly workload: ClientWorkload,
    private readonly healMs: number,
  ) {}

  pending(): string | null {
    const leader = this.cluster.leader();
    if (leader === null) return "no leader";
    // Only the members of the leader's configuration must follow it and catch up; a server
    // removed or never added is nobody's concern.
    const members = this.cluster.nodeIds.filter((id) => isMember(leader.conf, id));
    const down = members.filter((id) => !this.cluster.isUp(id));
    if (down.length > 0) return `members ${down.join(",")} of the configuration are down`;
    const statuses = this.cluster.statuses().filter((s) => isMember(leader.conf, s.id));
    const astray = statuses.filter((s) => s.leader !== leader.id || s.term !== leader.term);
    if (astray.length > 0) {
      return `leader ${leader.id} of term ${leader.term} not followed by ${astray.map((s) => `${s.id} (term ${s.term}, leader ${s.leader})`).join(", ")}`;
    }
    // The first commit index all agree under: every member must apply at least that far.
    this.targetCommit ??= leader.commit;
    const behind = members.filter((id) => (this.cluster.host(id)?.appliedIndex ?? -1) < this.targetCommit!);
    if (behind.length > 0) return `nodes ${behind.join(",")} have not applied up to commit ${this.targetCommit}`;
    const idle = this.workload.clientsIdleSince(this.healMs);
    if (idle.length > 0) return `clients ${idle.join(",")} completed no operation since the heal`;
    return null;
  }
}

/** Linearizability of a recorded KV history, as a violation message or null. */
export function checkHistory(history: readonly HistoryOp[], facts: Record<string, number | string>): string | null {
  facts["historyOps"] = history.length;
  const result = checkLinearizable(history);
  if (result.ok) return null;
  const ops = result.ops.slice(0, 12).map((op) => JSON.stringify(op)).join("\n  ");
  return `linearizability (${result.verdict}) on key ${result.key}: ${result.explanation}\n  ${ops}`;
}

/**
 * The liveness phase after the last fault healed: probe every `probeEveryMs` until nothing is
 * pending or `boundMs` has passed. Returns a violation message, or null when the cluster converged.
 */
export function runLivenessPhase(
  world: World,
  cluster: RaftCluster<StateMachine<unknown>>,
  workload: ClientWorkload & { stop(): void },
  timing: { readonly boundMs: number; readonly probeEveryMs: number },
  facts: Record<string, number | string>,
): string | null {
  const healMs = world.nowMs;
  const liveness = new RaftLivenessProbe(cluster, workload, healMs);
  let pending: string | null = liveness.pending();
  const probe = (): void => {
    pending = liveness.pending();
    if (pending !== null) world.after(timing.probeEveryMs, probe);
  };
  world.after(timing.probeEveryMs, probe);
  world.runUntil(healMs + timing.boundMs, () => pending === null);
  workload.stop();
  cluster.checkLogMatching();
  facts["convergedAfterHealMs"] = world.nowMs - healMs;
  if (pending === null) return null;
  return `liveness: not converged ${timing.boundMs} ms after the last fault healed (at ${healMs} ms): ${pending}`;
}
