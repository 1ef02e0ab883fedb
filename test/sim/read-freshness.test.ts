import test from "ava";
import { ReadFreshnessChecker } from "../../sim/checkers/read-freshness.ts";
import { SafetyViolation } from "../../sim/checkers/raft-safety.ts";
import { checkerOf } from "../../sim/violation.ts";

test("read freshness: an answer at or above every commit reported before the read began passes", (t) => {
  const checker = new ReadFreshnessChecker();
  checker.onCommit("n1", 5);
  const read = checker.begin("n1", "lease", 100);
  checker.onCommit("n2", 9);
  t.notThrows(() => checker.answered(read, 5, 101));
  t.notThrows(() => checker.answered(checker.begin("n2", "readIndex", 102), 9, 103));
  t.is(checker.reads, 2);
});

test("read freshness: a commit reported by one node binds a read anywhere, and never goes back", (t) => {
  const checker = new ReadFreshnessChecker();
  checker.onCommit("n2", 7);
  checker.onCommit("n1", 3);
  const read = checker.begin("n1", "lease", 200);
  const error = t.throws(() => checker.answered(read, 6, 200), { instanceOf: SafetyViolation });
  t.is(error!.message, "read freshness: n1 answered a lease read begun at 200 ms at index 6 (at 200 ms), but n2 had committed index 7 before it began");
  t.is(checkerOf("safety", `SafetyViolation: ${error!.message}`), "read freshness");
});
