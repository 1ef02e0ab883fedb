import test from "ava";
import { checkLockSafety, type LockEvent } from "../../sim/checkers/lock-safety.ts";

/** A small trace language: one server unless told otherwise, index = position, atMs = 1000 * index. */
let index = 0;
const at = (): { server: string; index: number; atMs: number } => {
  index += 1;
  return { server: "n1", index, atMs: 1000 * index };
};
const acquire = (key: string, session: string, lockIndex: number): LockEvent => ({ kind: "acquire", ...at(), key, session, lockIndex });
const release = (key: string, session: string): LockEvent => ({ kind: "release", ...at(), key, session });
const remove = (key: string): LockEvent => ({ kind: "delete", ...at(), key });
const invalidate = (session: string, lockDelayMs: number): LockEvent => ({ kind: "invalidate", ...at(), session, lockDelayMs });
/** Events built by `build`, numbered from index 1. */
const trace = (build: () => LockEvent[]): LockEvent[] => {
  index = 0;
  return build();
};
const explain = (events: LockEvent[]): string => {
  const result = checkLockSafety(events);
  return result.ok ? "ok" : result.explanation;
};

test("a lock handed over by release, by deletion, and by invalidation after its delay is safe", (t) => {
  const good = trace(() => [
    acquire("lock/a", "s1", 1),
    acquire("lock/a", "s1", 1), // the holder re-acquiring keeps the lock index
    release("lock/a", "s1"),
    acquire("lock/a", "s2", 2),
    remove("lock/a"),
    acquire("lock/a", "s3", 3),
    invalidate("s3", 2000), // at 7 s: blocked until 9 s
    invalidate("s9", 0),
    acquire("lock/a", "s4", 4), // at 9 s: the delay is over
  ]);
  t.is(explain(good), "ok");
});

test("two live sessions holding one key is caught", (t) => {
  const bad = trace(() => [acquire("lock/a", "s1", 1), acquire("lock/a", "s2", 2)]);
  t.regex(explain(bad), /n1 at index 2: lock\/a acquired by s2 while held by s1/);
});

test("an acquire inside the lock-delay after an invalidation is caught", (t) => {
  const bad = trace(() => [acquire("lock/a", "s1", 1), invalidate("s1", 15_000), acquire("lock/a", "s2", 2)]);
  t.regex(explain(bad), /acquired by s2 at 3000 ms, inside the lock-delay until 17000 ms/);
});

test("a dead session acquiring again is caught", (t) => {
  const bad = trace(() => [invalidate("s1", 0), acquire("lock/b", "s1", 1)]);
  t.regex(explain(bad), /acquired by s1, which was invalidated/);
});

test("a release by a session that does not hold the lock is caught", (t) => {
  const bad = trace(() => [acquire("lock/a", "s1", 1), release("lock/a", "s2")]);
  t.regex(explain(bad), /released by s2 but held by s1/);
});

test("a lock index that does not step by one per new acquisition is caught", (t) => {
  t.regex(explain(trace(() => [acquire("lock/a", "s1", 1), release("lock/a", "s1"), acquire("lock/a", "s2", 1)])), /lock index 1, expected 2/);
  t.regex(explain(trace(() => [acquire("lock/a", "s1", 1), acquire("lock/a", "s1", 2)])), /re-acquired by its holder s1 moved the lock index 1 -> 2/);
});

test("servers that applied the same index differently are caught", (t) => {
  const n1 = trace(() => [acquire("lock/a", "s1", 1)]);
  const n2: LockEvent[] = [{ ...acquire("lock/a", "s2", 1), server: "n2", index: 1, atMs: 1000 }];
  t.regex(explain([...n1, ...n2]), /servers disagree at index 1/);
  const same: LockEvent[] = [{ ...n1[0]!, server: "n2" }];
  t.is(explain([...n1, ...same]), "ok");
});

test("a trace that goes back in index is reported, not trusted", (t) => {
  const events = trace(() => [acquire("lock/a", "s1", 1), acquire("lock/b", "s2", 1)]);
  t.is(explain(events), "ok");
  t.regex(explain([...events].reverse()), /n1 at index 1: trace goes back from index 2/);
});
