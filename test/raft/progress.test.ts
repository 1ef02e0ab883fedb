/** Table tests for the leader's per-follower flow control (etcd raft `tracker/progress_test.go` style). */
import test from "ava";
import { Inflights, Progress } from "../../src/core/raft/progress.ts";

function progress(fields: Partial<Pick<Progress, "match" | "next" | "state" | "probeSent" | "pendingSnapshot">>, inflight = 4): Progress {
  const pr = new Progress(fields.next ?? 1, inflight, 0);
  Object.assign(pr, fields);
  return pr;
}

test("inflights: bounded window, freed up to an acknowledged index, strictly increasing", (t) => {
  const inflights = new Inflights(3);
  inflights.add(5);
  inflights.add(7);
  t.false(inflights.full());
  inflights.add(9);
  t.true(inflights.full());
  t.is(inflights.count, 3);
  t.throws(() => inflights.add(11), { message: /inflights full \(3\/3\) on add 11/ });
  inflights.freeUpTo(7);
  t.is(inflights.count, 1);
  inflights.freeUpTo(6);
  t.is(inflights.count, 1, "freeing below the oldest frees nothing");
  t.throws(() => inflights.add(9), { message: /not after 9/ });
  inflights.freeUpTo(100);
  t.is(inflights.count, 0);
  inflights.add(1);
  inflights.reset();
  t.is(inflights.count, 0);
  t.throws(() => new Inflights(0), { message: /capacity 0 < 1/ });
});

test("progress: maybeUpdate raises match and next, resumes a probe, reports stale acks", (t) => {
  const pr = progress({ match: 3, next: 5, probeSent: true });
  t.false(pr.maybeUpdate(2, 10), "stale");
  t.false(pr.maybeUpdate(3, 10), "a duplicate acknowledgement is stale too");
  t.deepEqual([pr.match, pr.next, pr.probeSent], [3, 5, true]);
  t.true(pr.maybeUpdate(4, 11));
  t.deepEqual([pr.match, pr.next, pr.probeSent, pr.lastAdvanceTick], [4, 5, false, 11]);
  t.true(pr.maybeUpdate(8, 12));
  t.deepEqual([pr.match, pr.next], [8, 9]);
});

const decrTable: [string, Partial<Progress>, number, number, boolean, number][] = [
  // name, state, rejected, hint, changed, next after
  ["replicate: stale rejection at or below match", { state: "replicate", match: 5, next: 10 }, 5, 5, false, 10],
  ["replicate: back to match + 1", { state: "replicate", match: 5, next: 10 }, 9, 9, true, 6],
  ["probe: rejection not for next - 1 is stale", { state: "probe", match: 0, next: 10 }, 5, 5, false, 10],
  ["probe: jump to the hint", { state: "probe", match: 0, next: 10 }, 9, 3, true, 4],
  ["probe: never below match + 1", { state: "probe", match: 5, next: 10 }, 9, 0, true, 6],
  ["probe: never above the rejected index", { state: "probe", match: 0, next: 10 }, 9, 20, true, 9],
];

for (const [name, fields, rejected, hint, changed, next] of decrTable) {
  test(`progress: maybeDecrTo — ${name}`, (t) => {
    const pr = progress({ ...fields, probeSent: true });
    t.is(pr.maybeDecrTo(rejected, hint), changed);
    t.is(pr.next, next);
    if (changed && fields.state === "probe") t.false(pr.probeSent, "a fresh probe may go out");
  });
}

test("progress: state transitions reset the window and place next", (t) => {
  const pr = progress({ match: 4, next: 9 });
  pr.becomeReplicate(7);
  t.deepEqual([pr.state, pr.next, pr.lastAdvanceTick], ["replicate", 5, 7]);
  pr.onAppendSent(8);
  t.deepEqual([pr.next, pr.inflights.count], [9, 1]);
  pr.onAppendSent(null);
  t.deepEqual([pr.next, pr.inflights.count], [9, 1], "an empty append is not in flight");
  pr.becomeSnapshot(20, 30);
  t.deepEqual([pr.state, pr.pendingSnapshot, pr.next, pr.inflights.count, pr.snapshotSentTick], ["snapshot", 20, 21, 0, 30]);
  t.true(pr.isPaused());
  pr.becomeProbe();
  t.deepEqual([pr.state, pr.next, pr.pendingSnapshot], ["probe", 21, 0], "after a snapshot, probe from past it");
  pr.match = 25;
  pr.becomeProbe();
  t.is(pr.next, 26, "or from match when that is further");
  t.throws(() => pr.becomeSnapshot(0, 0), { message: /becomeSnapshot at index 0/ });
  t.notThrows(() => pr.becomeSnapshot(1, 0), "a snapshot of the first entry is legal");
  t.throws(() => new Progress(0, 4, 0), { message: /next 0 < 1/ });
});

test("progress: paused — probe after one send, replicate when the window is full, always in snapshot", (t) => {
  const probe = progress({ state: "probe", next: 3 });
  t.false(probe.isPaused());
  probe.onAppendSent(null);
  t.true(probe.isPaused(), "even an empty probe waits for its answer");
  const replicate = progress({ state: "replicate", next: 1 }, 2);
  replicate.onAppendSent(1);
  t.false(replicate.isPaused());
  replicate.onAppendSent(2);
  t.true(replicate.isPaused());
  t.is(replicate.next, 3);
  replicate.inflights.freeUpTo(1);
  t.false(replicate.isPaused());
  const snapshot = progress({ next: 3 });
  snapshot.becomeSnapshot(2, 0);
  t.throws(() => snapshot.onAppendSent(3), { message: /append sent in progress state snapshot/ });
});
