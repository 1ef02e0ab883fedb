/**
 * The simulator on the host's asynchronous write path: the kv scenario (every fault kind, 60
 * simulated seconds of faults) with syncs that take 20-150 simulated ms, so crashes land while
 * syncs are in flight and a leader's appends race its own sync (§10.2.1). The production host
 * passes; a planted host that lets a follower acknowledge appends (and a voter grant) before its
 * sync loses committed entries, which the Raft safety checker reports.
 *
 * Budget measured when this was written: the correct host passed seeds 1-30; the planted bug first
 * failed with a safety violation at seed 18 (leader completeness), and with a liveness failure
 * (a follower missing entries it had acknowledged) at seed 7. The split-vote shapes (sim/faults.ts)
 * reshuffled every seed: the first safety violation moved to seed 31 (election safety), at the
 * same rate as before (14 of seeds 1-200 against 11), so the budget is 40.
 */
import test from "ava";
import { RaftHost } from "../../src/agent/raft-host.ts";
import { FAULT_KINDS } from "../../sim/faults.ts";
import type { HostClass } from "../../sim/raft-cluster.ts";
import { runKvSeed } from "../../sim/scenarios/kv.ts";

const syncDelayMs = { min: 20, max: 150 };
const durationMs = 60_000;

/** Planted bug: every message leaves before the sync of the Ready that produced it. */
class AcksBeforeSync extends RaftHost<unknown> {
  protected override sendsBeforeSync(): boolean {
    return true;
  }
}

function run(seed: number, hostClass?: HostClass) {
  return runKvSeed({ seed, durationMs, faults: [...FAULT_KINDS], syncDelayMs, ...(hostClass === undefined ? {} : { hostClass }) });
}

test("async saves in the simulator: the production host passes seeds 1-12 with slow syncs", (t) => {
  for (let seed = 1; seed <= 12; seed++) {
    const result = run(seed);
    t.is(result.outcome, "ok", `seed ${seed}: ${result.message ?? ""}`);
  }
});

test("async saves in the simulator: a host that acknowledges before its sync is caught within 40 seeds (planted bug)", (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const result = run(seed, AcksBeforeSync as HostClass);
    if (result.outcome === "safety") {
      t.log(`caught at seed ${seed} (measured 31): ${(result.message ?? "").split("\n")[0]}`);
      t.regex(result.message ?? "", /^SafetyViolation: /);
      return;
    }
  }
  t.fail("the planted bug survived 40 seeds");
});
