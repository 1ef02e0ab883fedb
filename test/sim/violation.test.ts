import test from "ava";
import { ConnectivityLog, LivenessViolation, checkStepDown } from "../../sim/checkers/step-down.ts";
import { checkerOf, sameViolation } from "../../sim/violation.ts";

test("violation: the checker is the message's first clause without numbers, node names or details", (t) => {
  t.is(checkerOf("safety", "state machine safety: n2 applied 3/normal/ab12 at index 5, another node applied 2/normal/cd34"), "state machine safety");
  t.is(checkerOf("safety", "linearizability (no order) on key k1: read of 3 ...\n  {op}"), "linearizability on key");
  t.is(checkerOf("safety", "election safety: n1 and n3 are both leaders of term 4"), "election safety");
  t.is(checkerOf("liveness", "liveness: not converged 20000 ms after the last fault healed (at 60000 ms): no leader"), "liveness: not converged ms after the last fault healed");
  t.is(checkerOf("liveness", "LivenessViolation: liveness: leader n3 of term 5 stepped down while connected to a quorum (n1,n3)"), "liveness: leader of term stepped down while connected to");
  t.is(checkerOf("safety", "SafetyViolation: state machine safety: n1 applied x"), "state machine safety");
  t.is(checkerOf("crash", "AssertionError: node n1 term 3: commit 5 > lastIndex 4\n    at ..."), "AssertionError");
  t.is(checkerOf("crash", "hang: seed 4 reached no verdict"), "hang");
  t.is(checkerOf("ok", null), "none");
});

test("violation: same outcome and checker is the same violation, whatever the numbers; another checker is not", (t) => {
  const a = { outcome: "safety" as const, message: "state machine safety: n2 applied x at index 5, another node applied y" };
  t.true(sameViolation(a, { outcome: "safety", message: "state machine safety: n4 applied z at index 9, another node applied w" }));
  t.false(sameViolation(a, { outcome: "safety", message: "leader completeness: n1, leader of term 3, has nothing at committed index 4" }));
  t.false(sameViolation(a, { outcome: "liveness", message: "state machine safety: n2 applied x at index 5" }));
});

const voters = ["n1", "n2", "n3"];
const up = () => true;

test("step-down check: a leader connected to a quorum for the whole window may not step down", (t) => {
  const log = new ConnectivityLog(() => false);
  const error = t.throws(() => checkStepDown(log, "n1", 4, voters, up, 10_000, 2_000, 0), { instanceOf: LivenessViolation });
  t.is(error.message, "liveness: leader n1 of term 4 stepped down while connected to a quorum (n1,n2,n3 of voters n1,n2,n3) with no fault touching them for 2000 ms");
});

test("step-down check: a cut, an impairment, a restart or a configuration change inside the window excuses the step-down", (t) => {
  const cut = new ConnectivityLog(() => false);
  cut.linkChanged("n2", "n1", 9_000);
  cut.linkChanged("n3", "n1", 8_500);
  t.notThrows(() => checkStepDown(cut, "n1", 4, voters, up, 10_000, 2_000, 0), "links to both followers changed in the window");
  const blockedNow = new ConnectivityLog((from, to) => to === "n1" && from !== "n1");
  t.notThrows(() => checkStepDown(blockedNow, "n1", 4, voters, up, 10_000, 2_000, 0), "a cut older than the window that still holds");
  const impaired = new ConnectivityLog(() => false);
  impaired.impairmentsChanged(1, 5_000);
  t.notThrows(() => checkStepDown(impaired, "n1", 4, voters, up, 10_000, 2_000, 0), "an impairment still active");
  impaired.impairmentsChanged(0, 8_500);
  t.notThrows(() => checkStepDown(impaired, "n1", 4, voters, up, 10_000, 2_000, 0), "an impairment that ended inside the window");
  const restarted = new ConnectivityLog(() => false);
  restarted.nodeChanged("n1", 9_500);
  t.notThrows(() => checkStepDown(restarted, "n1", 4, voters, up, 10_000, 2_000, 0), "the leader itself restarted");
  t.notThrows(() => checkStepDown(new ConnectivityLog(() => false), "n1", 4, voters, up, 10_000, 2_000, 9_000), "its configuration changed");
  t.notThrows(() => checkStepDown(new ConnectivityLog(() => false), "n1", 4, voters, (id) => id === "n1", 10_000, 2_000, 0), "followers down");
  t.notThrows(() => checkStepDown(new ConnectivityLog(() => false), "n9", 4, voters, up, 10_000, 2_000, 0), "a removed leader");
});

test("step-down check: one follower cut still leaves a quorum of three in five", (t) => {
  const log = new ConnectivityLog(() => false);
  log.linkChanged("n1", "n4", 9_000);
  log.linkChanged("n1", "n5", 9_000);
  t.throws(() => checkStepDown(log, "n1", 2, ["n1", "n2", "n3", "n4", "n5"], up, 10_000, 2_000, 0), { message: /\(n1,n2,n3 of voters n1,n2,n3,n4,n5\)/ });
});
