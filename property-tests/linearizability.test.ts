import test from "ava";
import fc from "fast-check";
import { checkLinearizable, type LinearizabilityResult } from "../sim/checkers/linearizability.ts";
import type { HistoryOp, KvOp, KvResult } from "../sim/checkers/history.ts";

// ------------------------------------------------------------------------------------------
// Building histories from a real sequential execution

/** One step of a generated workload; `pick` chooses values and expectations deterministically. */
interface Step {
  readonly key: number;
  readonly kind: "put" | "get" | "cas" | "delete";
  readonly pick: number;
  /** How far the call is moved before the linearization point and the return after it. */
  readonly widenBeforeMs: number;
  readonly widenAfterMs: number;
  /** The client never learns the outcome (timeout, crash). */
  readonly indeterminate: boolean;
  /** For an indeterminate write: it really took effect (true) or never did (false). */
  readonly tookEffect: boolean;
}

const stepArb = (keys: number): fc.Arbitrary<Step> =>
  fc.record({
    key: fc.integer({ min: 0, max: keys - 1 }),
    kind: fc.constantFrom("put", "get", "cas", "delete" as const),
    pick: fc.nat(1000),
    widenBeforeMs: fc.integer({ min: 0, max: 40 }),
    widenAfterMs: fc.integer({ min: 0, max: 40 }),
    indeterminate: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
    tookEffect: fc.boolean(),
  }) as fc.Arbitrary<Step>;

/** A register per key, applied in order; the values ever written, to pick cas expectations from. */
class SequentialKv {
  readonly values = new Map<string, string | null>();
  readonly written: string[] = [];

  apply(op: KvOp): KvResult {
    const current = this.values.get(op.key) ?? null;
    switch (op.kind) {
      case "put":
        this.values.set(op.key, op.value);
        this.written.push(op.value);
        return { kind: "ok" };
      case "delete":
        this.values.set(op.key, null);
        return { kind: "ok" };
      case "get":
        return { kind: "value", value: current };
      case "cas": {
        const swapped = current === op.expected;
        if (swapped) this.values.set(op.key, op.value);
        if (swapped) this.written.push(op.value);
        return { kind: "cas", swapped };
      }
    }
  }
}

function opFor(step: Step, i: number, model: SequentialKv): KvOp {
  const key = `k${step.key}`;
  const value = `v${i}`;
  switch (step.kind) {
    case "put":
      return { kind: "put", key, value };
    case "delete":
      return { kind: "delete", key };
    case "get":
      return { kind: "get", key, mode: step.pick % 2 === 0 ? "readIndex" : "lease" };
    case "cas": {
      // Half the time expect the current value so that swaps succeed; otherwise any past value.
      const current = model.values.get(key) ?? null;
      const past = model.written.length > 0 ? model.written[step.pick % model.written.length]! : null;
      return { kind: "cas", key, expected: step.pick % 2 === 0 ? current : past, value };
    }
  }
}

/**
 * Runs the steps one after another on a sequential model. Op i takes effect at its linearization
 * point 100*i ms; its interval is widened around that point (widen < 100 keeps real-time order
 * consistent with the linearization only when `widen` is 0, else ops overlap). Indeterminate
 * writes either took effect at their point or not at all; indeterminate reads are recorded with
 * no answer.
 */
function historyFrom(steps: readonly Step[], widen: boolean): HistoryOp[] {
  const model = new SequentialKv();
  return steps.map((step, i) => {
    const op = opFor(step, i, model);
    const pointMs = 100 * i + 50;
    const callMs = widen ? pointMs - 10 * step.widenBeforeMs : pointMs - 10;
    const returnMs = widen ? pointMs + 10 * step.widenAfterMs : pointMs + 10;
    const skipped = step.indeterminate && !step.tookEffect && op.kind !== "get";
    const result = skipped ? null : model.apply(op);
    if (step.indeterminate) return { id: i, client: i % 7, op, callMs, returnMs: null, result: null };
    return { id: i, client: i % 7, op, callMs, returnMs, result };
  });
}

function assertViolation(t: import("ava").ExecutionContext, result: LinearizabilityResult, key: string): void {
  t.false(result.ok);
  if (result.ok) return;
  t.is(result.verdict, "violation", result.explanation);
  t.is(result.key, key);
  t.true(result.ops.length > 0, "a violation names its essential ops");
}

const at = (id: number, callMs: number, returnMs: number | null, op: KvOp, result: KvResult | null, client = id): HistoryOp => ({
  id,
  client,
  op,
  callMs,
  returnMs,
  result,
});
const put = (key: string, value: string): KvOp => ({ kind: "put", key, value });
const get = (key: string): KvOp => ({ kind: "get", key, mode: "readIndex" });
const cas = (key: string, expected: string | null, value: string): KvOp => ({ kind: "cas", key, expected, value });
const del = (key: string): KvOp => ({ kind: "delete", key });
const ok: KvResult = { kind: "ok" };
const saw = (value: string | null): KvResult => ({ kind: "value", value });
const swapped = (s: boolean): KvResult => ({ kind: "cas", swapped: s });

// ------------------------------------------------------------------------------------------
// Histories that must pass

test("serial histories from a sequential run are linearizable", (t) => {
  fc.assert(
    fc.property(fc.array(stepArb(3), { maxLength: 120 }), (steps) => {
      const history = historyFrom(steps.map((s) => ({ ...s, indeterminate: false })), false);
      const result = checkLinearizable(history);
      if (!result.ok) throw new Error(result.explanation);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test("concurrent histories widened around real linearization points are linearizable", (t) => {
  fc.assert(
    fc.property(fc.array(stepArb(4), { maxLength: 200 }), (steps) => {
      const result = checkLinearizable(historyFrom(steps, true));
      if (!result.ok) throw new Error(result.explanation);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test("indeterminate writes pass whether they took effect or not", (t) => {
  fc.assert(
    fc.property(fc.array(stepArb(2), { maxLength: 60 }), (steps) => {
      const allUnknownWrites = steps.map((s) => ({ ...s, indeterminate: s.kind !== "get" && s.pick % 3 === 0 }));
      const result = checkLinearizable(historyFrom(allUnknownWrites, true));
      if (!result.ok) throw new Error(result.explanation);
    }),
    { numRuns: 200 },
  );
  t.pass();
});

// ------------------------------------------------------------------------------------------
// Histories that must fail, each hand-made and then hidden inside random linearizable traffic

test("stale read: a read returns an old value after a later write completed", (t) => {
  const history = [
    at(1, 0, 10, put("x", "a"), ok),
    at(2, 20, 30, put("x", "b"), ok),
    at(3, 40, 50, get("x"), saw("a")),
  ];
  const result = checkLinearizable(history);
  assertViolation(t, result, "x");
  if (!result.ok) t.deepEqual(result.ops.map((op) => op.id), [1, 2, 3], result.explanation);
});

test("lost write: a completed write is never visible to a later read", (t) => {
  const history = [
    at(1, 0, 10, put("x", "a"), ok),
    at(2, 20, 30, get("x"), saw(null)),
  ];
  assertViolation(t, checkLinearizable(history), "x");
});

test("read of a value no write ever wrote fails, and the window is just that read", (t) => {
  const history = [at(1, 0, 10, put("x", "a"), ok), at(2, 5, 30, get("x"), saw("zzz"))];
  const result = checkLinearizable(history);
  assertViolation(t, result, "x");
  if (!result.ok) t.deepEqual(result.ops.map((op) => op.id), [2], result.explanation);
});

test("read of a failed cas's value fails", (t) => {
  const history = [
    at(1, 0, 10, put("x", "a"), ok),
    at(2, 20, 30, cas("x", "b", "c"), swapped(false)),
    at(3, 25, 50, get("x"), saw("c")),
  ];
  assertViolation(t, checkLinearizable(history), "x");
});

test("cas reported as swapped although the expected value was wrong fails", (t) => {
  const history = [at(1, 0, 10, put("x", "a"), ok), at(2, 20, 30, cas("x", "b", "c"), swapped(true))];
  assertViolation(t, checkLinearizable(history), "x");
});

test("cas with expected null means absent, and delete makes a key absent", (t) => {
  const good = [
    at(1, 0, 10, cas("x", null, "a"), swapped(true)),
    at(2, 20, 30, del("x"), ok),
    at(3, 40, 50, cas("x", null, "b"), swapped(true)),
    at(4, 60, 70, get("x"), saw("b")),
  ];
  t.true(checkLinearizable(good).ok);
  const bad = [at(1, 0, 10, put("x", "a"), ok), at(2, 20, 30, cas("x", null, "b"), swapped(true))];
  assertViolation(t, checkLinearizable(bad), "x");
});

test("an indeterminate write may take effect late, or never, but not un-happen", (t) => {
  const tookEffect = [at(1, 0, null, put("x", "a"), null), at(2, 500, 510, get("x"), saw("a"))];
  t.true(checkLinearizable(tookEffect).ok);
  const never = [at(1, 0, null, put("x", "a"), null), at(2, 500, 510, get("x"), saw(null))];
  t.true(checkLinearizable(never).ok);
  const flickers = [...tookEffect, at(3, 600, 610, get("x"), saw(null))];
  assertViolation(t, checkLinearizable(flickers), "x");
  const beforeCall = [at(1, 0, 10, get("x"), saw("a")), at(2, 20, null, put("x", "a"), null)];
  assertViolation(t, checkLinearizable(beforeCall), "x");
});

test("timed-out writes can be used in an order other than the one tried first", (t) => {
  // Reading "b" then "a" needs delete, cas(null -> b), get, put a, get: a search that let the
  // configuration with more timed-out writes applied prune the one with fewer would miss it.
  const history = [
    at(0, 0, 1, get("x"), saw("b")),
    at(1, 2, 2, get("x"), saw("a")),
    at(2, 0, null, del("x"), null),
    at(3, 1, null, cas("x", null, "b"), null),
    at(4, 0, null, put("x", "a"), null),
    at(5, 0, null, cas("x", "a", "b"), null),
  ];
  t.true(checkLinearizable(history).ok);
});

test("overlapping ops may be ordered either way; touching endpoints count as overlapping", (t) => {
  const overlap = [at(1, 0, 100, put("x", "a"), ok), at(2, 10, 20, get("x"), saw("a")), at(3, 30, 40, get("x"), saw(null))];
  assertViolation(t, checkLinearizable(overlap), "x");
  const touching = [at(1, 0, 10, get("x"), saw("a")), at(2, 10, 20, put("x", "a"), ok)];
  t.true(checkLinearizable(touching).ok);
});

test("a violation hidden in random linearizable traffic on other keys is still found", (t) => {
  fc.assert(
    fc.property(fc.array(stepArb(3), { maxLength: 150 }), fc.nat(5000), (steps, offsetMs) => {
      const background = historyFrom(steps, true);
      const base = 100 * steps.length + offsetMs;
      const stale = [
        at(100_001, base, base + 10, put("k0", "A"), ok),
        at(100_002, base + 20, base + 30, put("k0", "B"), ok),
        at(100_003, base + 40, base + 50, get("k0"), saw("A")),
      ];
      const result = checkLinearizable([...background, ...stale]);
      if (result.ok || result.verdict !== "violation" || result.key !== "k0") throw new Error(JSON.stringify(result));
      const ids = result.ops.map((op) => op.id);
      if (!ids.includes(100_003) || !ids.includes(100_002)) throw new Error(`window misses the stale read: ${result.explanation}`);
      if (ids.length > 8) throw new Error(`window of ${ids.length} ops is not narrow: ${result.explanation}`);
    }),
    { numRuns: 100 },
  );
  t.pass();
});

test("a search that exceeds maxStates reports unknown, never a pass", (t) => {
  // Many mutually concurrent writes and an impossible read: every order must be refuted.
  const history: HistoryOp[] = [];
  for (let i = 0; i < 24; i++) history.push(at(i, i, 1000 + i, put("x", `v${i}`), ok));
  history.push(at(99, 500, 2000, get("x"), saw("never")));
  const result = checkLinearizable(history, { maxStates: 500 });
  t.false(result.ok);
  if (!result.ok) {
    t.is(result.verdict, "unknown");
    t.regex(result.explanation, /search budget exhausted/);
  }
});

test("malformed ops get a clear error", (t) => {
  t.throws(() => checkLinearizable([at(1, 10, 5, put("x", "a"), ok)]), { message: /returnMs 5 before callMs 10/ });
  t.throws(() => checkLinearizable([at(1, 0, 5, put("x", "a"), saw("a"))]), { message: /put answered with a value result/ });
  t.throws(() => checkLinearizable([at(1, 0, 5, put("x", "a"), ok), at(1, 6, 7, get("x"), saw("a"))]), { message: /duplicate op id 1/ });
});

// ------------------------------------------------------------------------------------------
// The fast search against a naive reference: every ordering of every allowed subset of ops

function naiveLinearizable(history: readonly HistoryOp[]): boolean {
  const ops = history.filter((op) => !(op.op.kind === "get" && (op.returnMs === null || op.result === null)));
  const determinate = (op: HistoryOp): boolean => op.returnMs !== null && op.result !== null;
  const mustPrecede = (a: HistoryOp, b: HistoryOp): boolean => a.returnMs !== null && a.result !== null && a.returnMs < b.callMs;
  const used = new Array<boolean>(ops.length).fill(false);
  const extend = (state: string | null): boolean => {
    if (ops.every((op, i) => used[i] || !determinate(op))) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      // Every op that must precede this one is already placed (or may be left out: indeterminate).
      if (ops.some((other, j) => !used[j] && j !== i && mustPrecede(other, ops[i]!))) continue;
      const next = naiveStep(state, ops[i]!, determinate(ops[i]!));
      if (next === undefined) continue;
      used[i] = true;
      const found = extend(next);
      used[i] = false;
      if (found) return true;
    }
    return false;
  };
  return extend(null);
}

function naiveStep(state: string | null, op: HistoryOp, known: boolean): string | null | undefined {
  const o = op.op;
  if (o.kind === "put") return o.value;
  if (o.kind === "delete") return null;
  if (o.kind === "get") return op.result?.kind === "value" && op.result.value === state ? state : undefined;
  const matches = state === o.expected;
  if (!known) return matches ? o.value : state;
  if (op.result?.kind !== "cas" || op.result.swapped !== matches) return undefined;
  return matches ? o.value : state;
}

const valueArb = fc.constantFrom("a", "b", null);
const smallOpArb = fc.record({
  kind: fc.constantFrom("put", "get", "cas", "delete" as const),
  value: fc.constantFrom("a", "b"),
  expected: valueArb,
  seen: valueArb,
  swapped: fc.boolean(),
  callMs: fc.integer({ min: 0, max: 20 }),
  durationMs: fc.integer({ min: 0, max: 10 }),
  lost: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
});

test("the search agrees with a naive enumeration on small random histories", (t) => {
  let violations = 0;
  fc.assert(
    fc.property(fc.array(smallOpArb, { maxLength: 7 }), (specs) => {
      const history: HistoryOp[] = specs.map((s, id) => {
        const op: KvOp =
          s.kind === "put" ? put("x", s.value)
          : s.kind === "get" ? get("x")
          : s.kind === "cas" ? cas("x", s.expected, s.value)
          : del("x");
        const result: KvResult = s.kind === "get" ? saw(s.seen) : s.kind === "cas" ? swapped(s.swapped) : ok;
        return at(id, s.callMs, s.lost ? null : s.callMs + s.durationMs, op, s.lost ? null : result);
      });
      const expected = naiveLinearizable(history);
      const result = checkLinearizable(history);
      if (!result.ok) violations++;
      if (result.ok !== expected) throw new Error(`search says ${result.ok}, enumeration says ${expected}`);
    }),
    { numRuns: 3000 },
  );
  t.true(violations > 300, `the generator produced ${violations} non-linearizable histories`);
});
