import type { StateMachine } from "../../src/agent/raft-host.ts";
import type { RaftCluster } from "../raft-cluster.ts";
import type { World } from "../world/world.ts";
import { LivenessViolation } from "./step-down.ts";

/** The core's coverage mark for a replicating follower presumed to have lost an append. */
const stallMark = "replication stalled: probe";

/** Stall probes counted so far by the nodes that are up (cores without marks count nothing). */
function stallProbes(cluster: RaftCluster<StateMachine<unknown>>): number {
  let total = 0;
  for (const id of cluster.nodeIds) {
    const node = cluster.host(id)?.node as { marksHit?: () => ReadonlyMap<string, number> } | undefined;
    total += node?.marksHit?.().get(stallMark) ?? 0;
  }
  return total;
}

/**
 * After the cluster converged on a healed network: stay idle for `idleMs`, propose one entry, and
 * wait `settleMs`. Nothing is lost on a healed network and every delay is far below the stall
 * time, so a leader that drops a follower to probe in that spell re-sends for nothing (issue 14
 * defect 4: a follower's last advance only counted when its match grew). Throws a
 * LivenessViolation naming the count; returns the number of stall probes seen otherwise (0).
 */
export function checkIdleSpell(
  world: World, cluster: RaftCluster<StateMachine<unknown>>, entry: Uint8Array, timing: { readonly idleMs: number; readonly settleMs: number },
): void {
  world.runUntil(world.nowMs + timing.idleMs);
  const leader = cluster.leader();
  if (leader === null) return;
  const before = stallProbes(cluster);
  cluster.withHost(leader.id, (host) => host.propose(entry, () => {}));
  world.runUntil(world.nowMs + timing.settleMs);
  const probes = stallProbes(cluster) - before;
  if (probes > 0) {
    throw new LivenessViolation(
      `replication efficiency: after ${timing.idleMs} ms idle on a healed network, one new entry made leader ${leader.id} of term ${leader.term} ` +
      `drop ${probes} caught-up follower(s) to probe and re-send, with nothing lost`);
  }
}
