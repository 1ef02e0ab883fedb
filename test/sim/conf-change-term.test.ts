import test from "ava";
import type { RaftNodeStatus } from "../../src/agent/raft-host.ts";
import { applyConfChange, encodeConfEntry } from "../../src/core/raft/confchange.ts";
import type { ConfChange, Entry } from "../../src/core/raft/types.ts";
import { ConfChangeTermChecker } from "../../sim/checkers/conf-change-term.ts";
import { SafetyViolation } from "../../sim/checkers/raft-safety.ts";
import { FAULT_KINDS } from "../../sim/faults.ts";
import { kvScenario } from "../../sim/scenarios/kv.ts";
import { checkerOf } from "../../sim/violation.ts";
import { raftMutants } from "../mutants/raft-mutants.ts";

const conf = { voters: ["n1", "n2", "n3", "n4"], learners: [] };
const checkerName = "configuration change before term commit";

function noop(index: number, term: number): Entry {
  return { index, term, type: "noop", data: new Uint8Array(0) };
}

function config(index: number, term: number, change: ConfChange = { type: "remove", node: "n4" }): Entry {
  return { index, term, type: "config", data: encodeConfEntry(change, applyConfChange(conf, change)) };
}

function status(id: string, role: RaftNodeStatus["role"], term: number, commit: number): () => RaftNodeStatus {
  return () => ({ id, role, term, leader: role === "leader" ? id : null, commit, applied: commit, lastIndex: commit, firstIndex: 1, conf, confIndex: 0 });
}

test("conf change checker: a new leader's change appended with its noop, before the noop commits, is flagged", (t) => {
  const checker = new ConfChangeTermChecker();
  checker.onStart("n1");
  const error = t.throws(() => checker.onPersisted("n1", [noop(3, 2), config(4, 2)], status("n1", "leader", 2, 2)), { instanceOf: SafetyViolation });
  t.regex(error.message, /^configuration change before term commit: n1, leader of term 2, appended config entry 4 \(remove n4\) with its commit index at 2, below its first entry of the term \(3\)/);
  t.is(checkerOf("safety", `SafetyViolation: ${error.message}`), checkerName);
});

test("conf change checker: the same change after the noop committed passes, in a later save", (t) => {
  const checker = new ConfChangeTermChecker();
  checker.onStart("n1");
  checker.onPersisted("n1", [noop(3, 2)], status("n1", "leader", 2, 2));
  t.throws(() => checker.onPersisted("n1", [config(4, 2)], status("n1", "leader", 2, 2)), { instanceOf: SafetyViolation });
  checker.onPersisted("n1", [config(4, 2)], status("n1", "leader", 2, 3));
  t.is(checker.checks, 2);
});

test("conf change checker: followers, earlier terms' config entries and restarted nodes are not judged as leaders", (t) => {
  const checker = new ConfChangeTermChecker();
  for (const id of ["n1", "n2"]) checker.onStart(id);
  // A follower receives a leader's noop and change together, its commit far behind: not its own term's leadership.
  checker.onPersisted("n2", [noop(3, 2), config(4, 2)], status("n2", "follower", 2, 0));
  // A leader of term 3 whose log ends with an uncommitted change of term 2 appends only its noop.
  checker.onPersisted("n1", [noop(5, 3)], status("n1", "leader", 3, 2));
  checker.onPersisted("n1", [config(4, 2)], status("n1", "leader", 3, 2));
  t.is(checker.checks, 0);
  // Once it leads term 5, its first entry of that term is what counts, not term 3's.
  checker.onPersisted("n1", [noop(6, 5)], status("n1", "leader", 5, 5));
  t.throws(() => checker.onPersisted("n1", [config(7, 5)], status("n1", "leader", 5, 5)), { instanceOf: SafetyViolation });
});

test("conf change checker: in the simulator it fails the planted bug's seed and passes the real code on the same seed", (t) => {
  const mutant = raftMutants.find((m) => m.name === "conf-change-before-term-commit")!;
  const options = { seed: 2, durationMs: 60_000, faults: [...FAULT_KINDS] };
  const planted = kvScenario.runSeed({ ...options, nodeFactory: mutant.make });
  t.is(planted.outcome, "safety", planted.message ?? "");
  t.is(checkerOf(planted.outcome, planted.message), checkerName);
  const real = kvScenario.runSeed(options);
  t.is(real.outcome, "ok", real.message ?? "");
  t.true((real.facts["conf.atElection"] as number) > 0, "no membership change was brought forward to an election");
  t.true((real.facts["conf.refused"] as number) > 0, "the real leader never refused a change at its election");
});
