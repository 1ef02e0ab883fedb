import test from "ava";
import type { RaftNodeStatus } from "../../src/agent/raft-host.ts";
import type { Entry, PersistedState } from "../../src/core/raft/types.ts";
import { RaftSafetyChecker, SafetyViolation } from "../../sim/checkers/raft-safety.ts";

const conf = { voters: ["n1", "n2", "n3"], learners: [] };
const empty: PersistedState = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };

function entry(index: number, term: number, command = `cmd${index}`): Entry {
  return { index, term, type: "normal", data: new TextEncoder().encode(command) };
}

function status(id: string, role: RaftNodeStatus["role"], term: number): RaftNodeStatus {
  return { id, role, term, leader: role === "leader" ? id : null, commit: 0, applied: 0, lastIndex: 0, firstIndex: 1, conf, confIndex: 0 };
}

function cluster(): RaftSafetyChecker {
  const checker = new RaftSafetyChecker();
  for (const n of ["n1", "n2", "n3"]) checker.onStart(n, empty);
  return checker;
}

test("election safety: one leader per term passes; two leaders of term 2 are flagged", (t) => {
  const checker = cluster();
  checker.onStatus(status("n1", "leader", 1));
  checker.onStatus(status("n2", "leader", 2));
  checker.onStatus(status("n2", "leader", 2));
  const error = t.throws(() => checker.onStatus(status("n3", "leader", 2)), { instanceOf: SafetyViolation });
  t.regex(error.message, /n2 and n3 are both leaders of term 2/);
});

test("log matching: agreeing logs pass; same index and term over a different prefix is flagged", (t) => {
  const checker = cluster();
  checker.onPersisted("n1", { entries: [entry(1, 1), entry(2, 1), entry(3, 2)] });
  checker.onPersisted("n2", { entries: [entry(1, 1), entry(2, 1)] });
  checker.onPersisted("n3", { entries: [entry(1, 1), entry(2, 1, "other"), entry(3, 2)] });
  checker.onPersisted("n2", { entries: [entry(3, 2)] });
  const error = t.throws(() => checker.checkLogMatching(), { instanceOf: SafetyViolation });
  t.regex(error.message, /log matching: n1 and n3 agree at index 3 but differ at 2/);
});

test("log matching: a follower's conflicting tail, replaced, is not a violation", (t) => {
  const checker = cluster();
  checker.onPersisted("n1", { entries: [entry(1, 1), entry(2, 3)] });
  checker.onPersisted("n2", { entries: [entry(1, 1), entry(2, 2, "stale")] });
  t.notThrows(() => checker.checkLogMatching());
  checker.onPersisted("n2", { entries: [entry(2, 3)] });
  t.notThrows(() => checker.checkLogMatching());
});

test("state machine safety: two different commands applied at index 2 are flagged", (t) => {
  const checker = cluster();
  checker.onApplied("n1", entry(1, 1));
  checker.onApplied("n2", entry(1, 1));
  checker.onApplied("n1", entry(2, 1, "put a"));
  const error = t.throws(() => checker.onApplied("n2", entry(2, 1, "put b")), { instanceOf: SafetyViolation });
  t.regex(error.message, /state machine safety: n2 applied .* at index 2/);
});

test("leader completeness: a new leader missing a committed entry is flagged", (t) => {
  const checker = cluster();
  checker.onPersisted("n1", { entries: [entry(1, 1), entry(2, 1)] });
  checker.onPersisted("n2", { entries: [entry(1, 1), entry(2, 1)] });
  checker.onPersisted("n3", { entries: [entry(1, 1)] });
  checker.onApplied("n1", entry(1, 1));
  checker.onApplied("n1", entry(2, 1));
  t.notThrows(() => checker.onStatus(status("n2", "leader", 2)));
  const error = t.throws(() => checker.onStatus(status("n3", "leader", 3)), { instanceOf: SafetyViolation });
  t.regex(error.message, /leader completeness: n3, leader of term 3, has nothing at committed index 2/);
});

test("leader completeness: entries below a leader's snapshot count as present", (t) => {
  const checker = new RaftSafetyChecker();
  checker.onStart("n1", { ...empty, snapshot: { meta: { index: 5, term: 1, conf }, data: new Uint8Array() } });
  checker.onStart("n2", empty);
  for (let i = 1; i <= 5; i++) checker.onApplied("n2", entry(i, 1));
  t.notThrows(() => checker.onStatus(status("n1", "leader", 2)));
});
