/**
 * Linearizability of a recorded key-value history, by the Wing-Gong search with Lowe's
 * memoization (the algorithm Porcupine and Knossos use).
 *
 * - P-compositionality: every operation touches one key, so each key is checked on its own
 *   against a sequential register model (put, get, cas, delete; both read modes are plain reads).
 * - The search walks the history's call/return events in time order. At a call it tries to
 *   linearize that operation now; at the return of an operation that is still pending it must
 *   backtrack, because the operation had to take effect before it returned. Every configuration
 *   reached is cached as (set of decided operations, model state): reaching one twice cannot lead
 *   anywhere new, which is what keeps the search near-linear on real histories.
 * - An indeterminate operation (`returnMs: null`: timeout, crash, lost reply) may take effect at
 *   any point after its call, or never: its return is at +infinity and it may be omitted. A read
 *   with no answer constrains nothing and is dropped. Equal timestamps count as concurrent (a call
 *   at the instant another op returns may be ordered either way), which never reports a false
 *   violation.
 * - Indeterminate ops would make a refutation exponential (every subset of the timed-out writes
 *   pending at a violation). Three sound prunings keep it polynomial: they are tried after the
 *   ops that must complete, a configuration with fewer of them applied dominates one with more
 *   (`ConfigCache`), and applying one that changes nothing or is erased at once is skipped.
 * - A search that exceeds `maxStates` reports `verdict: "unknown"` with `ok: false`, never a pass.
 * - A violation is explained by its key, the time the history first stops being linearizable,
 *   and a short window of essential operations: the ones that cannot be linearized together
 *   whatever the key's other operations did. See `explainViolation`.
 *
 * Figures (bench/linearizability-checker.ts, this 2-core machine under load): 2,000 ops on 5 keys
 * in ~35 ms; 5,000 ops with 5% indeterminate in ~90 ms; a stale read at the end of 5,000 ops
 * found and narrowed to its 3 ops in ~2 s.
 */
import { assert } from "../../src/core/util/assert.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import type { CheckResult, HistoryOp, KvOp, KvResult } from "./history.ts";

export interface LinearizabilityOptions {
  /** Search steps (linearizations tried plus omissions) allowed over the whole check. */
  readonly maxStates?: number;
  /** Sub-checks spent narrowing a violation to its essential ops; 0 skips the narrowing. */
  readonly explainChecksMax?: number;
}

// Real histories need about 1.1 states per op (bench/linearizability-checker.ts). Each state
// cached costs ~100 bytes plus the decided-set copy (ops-per-key / 8 bytes), so this bounds memory too.
const maxStatesDefault = 1_000_000;
const explainChecksMaxDefault = 400; // enough to reach a 1-minimal window for ~1,000 ops/key.

/**
 * A `CheckResult` with the search's own facts. `verdict: "unknown"` means the budget ran out: it
 * is `ok: false` so that a caller looking only at `ok` never counts it as a pass.
 */
export type LinearizabilityResult =
  | { readonly ok: true; readonly verdict: "linearizable"; readonly keys: number; readonly statesExplored: number }
  | {
      readonly ok: false;
      readonly verdict: "violation" | "unknown";
      readonly key: string;
      readonly explanation: string;
      /** violation: the essential ops, in call order; unknown: empty. */
      readonly ops: readonly HistoryOp[];
      readonly statesExplored: number;
    };

// Compile-time proof that callers typed against history.ts's CheckResult can take this result.
const _resultIsCheckResult = (r: LinearizabilityResult): CheckResult => r;
void _resultIsCheckResult;

export function checkLinearizable(history: readonly HistoryOp[], opts: LinearizabilityOptions = {}): LinearizabilityResult {
  const budget = new Budget(opts.maxStates ?? maxStatesDefault);
  const byKey = partitionByKey(history);
  const keys = [...byKey.keys()].sort();
  for (const key of keys) {
    const ops = byKey.get(key)!;
    const spentBefore = budget.spent;
    const outcome = search(ops.map((op) => toSearchOp(op)), budget);
    if (outcome === "budget") return unknownResult(key, budget, ops.length);
    if (outcome === "fail") {
      const checksMax = opts.explainChecksMax ?? explainChecksMaxDefault;
      // A narrowing check is a weaker history than the one just refuted, so a few times that
      // refutation's cost bounds it; the whole narrowing may spend maxStates again, no more.
      const perCheck = Math.max(100_000, 4 * (budget.spent - spentBefore));
      return explainViolation(key, ops, checksMax, perCheck, budget.limit);
    }
  }
  return { ok: true, verdict: "linearizable", keys: keys.length, statesExplored: budget.spent };
}

function unknownResult(key: string, budget: Budget, opCount: number): LinearizabilityResult {
  return {
    ok: false,
    verdict: "unknown",
    key,
    explanation:
      `search budget exhausted on key ${JSON.stringify(key)} (${opCount} ops) after ` +
      `${budget.spent} states (maxStates ${budget.limit}): linearizability unknown, not a pass`,
    ops: [],
    statesExplored: budget.spent,
  };
}

// ---------------------------------------------------------------------------------------------
// Input validation and partitioning

function partitionByKey(history: readonly HistoryOp[]): Map<string, HistoryOp[]> {
  const byKey = new Map<string, HistoryOp[]>();
  const ids = new Set<number>();
  for (const op of history) {
    validateOp(op);
    if (ids.has(op.id)) throw new TypeError(`history: duplicate op id ${op.id}`);
    ids.add(op.id);
    if (op.op.kind === "get" && !isDeterminate(op)) continue;
    const list = byKey.get(op.op.key);
    if (list === undefined) byKey.set(op.op.key, [op]);
    else list.push(op);
  }
  return byKey;
}

function validateOp(op: HistoryOp): void {
  const where = `history op ${op.id} (client ${op.client})`;
  if (!Number.isFinite(op.callMs)) throw new TypeError(`${where}: callMs ${op.callMs} is not finite`);
  if (op.returnMs !== null && !(op.returnMs >= op.callMs)) {
    throw new TypeError(`${where}: returnMs ${op.returnMs} before callMs ${op.callMs}`);
  }
  if (op.result === null) return;
  const expectedKind = { put: "ok", delete: "ok", get: "value", cas: "cas" }[op.op.kind];
  if (op.result.kind !== expectedKind) {
    throw new TypeError(`${where}: ${op.op.kind} answered with a ${op.result.kind} result, expected ${expectedKind}`);
  }
}

/** An op whose outcome the client saw. One with a return time but no result is indeterminate too. */
function isDeterminate(op: HistoryOp): boolean {
  return op.returnMs !== null && op.result !== null;
}

// ---------------------------------------------------------------------------------------------
// The sequential model of one key

/**
 * The register's value; null when the key is absent; `unknownState` when it could be anything
 * (the start of a window cut out of a longer history while explaining a violation).
 */
const unknownState = Symbol("unknown");
type ModelState = string | null | typeof unknownState;

/** The state after `op`, or undefined when `op` cannot give its recorded `result` from `state`. */
function stepModel(state: ModelState, op: KvOp, result: KvResult | null): ModelState | undefined {
  switch (op.kind) {
    case "put":
      return op.value;
    case "delete":
      return null;
    case "get":
      assert(result !== null && result.kind === "value", `get without a value result: ${JSON.stringify(result)}`);
      if (state === unknownState) return result.value;
      return result.value === state ? state : undefined;
    case "cas": {
      // From an unknown value a cas may have swapped or not; staying unknown covers both.
      if (state === unknownState) return result?.kind === "cas" && result.swapped ? op.value : unknownState;
      const matches = state === op.expected;
      if (result === null) return matches ? op.value : state;
      assert(result.kind === "cas", `cas answered with ${result.kind}`);
      if (result.swapped !== matches) return undefined;
      return matches ? op.value : state;
    }
  }
}

function stateKey(state: ModelState): string {
  if (state === unknownState) return "\u0002";
  return state === null ? "\u0000" : `\u0001${state}`;
}

// ---------------------------------------------------------------------------------------------
// The search

/** One op of a key as the search sees it. */
interface SearchOp {
  readonly source: HistoryOp;
  readonly callMs: number;
  /** Infinity for an indeterminate op. */
  readonly returnMs: number;
  /** Known output; null when unknown (then any output the model produces is accepted). */
  readonly result: KvResult | null;
  /** May be left out of the linearization (indeterminate, or weakened while explaining). */
  readonly optional: boolean;
}

function toSearchOp(op: HistoryOp, weakened = false): SearchOp {
  const determinate = isDeterminate(op);
  return {
    source: op,
    callMs: op.callMs,
    returnMs: determinate ? op.returnMs! : Infinity,
    result: determinate ? op.result : null,
    optional: weakened || !determinate,
  };
}

/** A call or return event in a doubly linked list that the search lifts ops out of and back in. */
interface Event {
  readonly op: number;
  readonly isCall: boolean;
  /** For a call, its return; for a return, its call. */
  partner: Event | null;
  prev: Event | null;
  next: Event | null;
}

class Budget {
  spent = 0;
  constructor(readonly limit: number) {
    assert(limit > 0, `maxStates must be positive, got ${limit}`);
  }
  exhausted(): boolean {
    return this.spent >= this.limit;
  }
}

type SearchOutcome = "ok" | "fail" | "budget";

interface Frame {
  readonly call: Event;
  readonly stateBefore: ModelState;
  /** true when this frame records leaving the op out rather than linearizing it. */
  readonly omitted: boolean;
  /** The scan pass the op was decided in, to resume the scan there when undoing it. */
  readonly deferredPass: boolean;
}

function search(ops: readonly SearchOp[], budget: Budget, start: ModelState = null): SearchOutcome {
  return new KeySearch(ops, budget, start).run();
}

/**
 * One key's search. The candidates at any moment are the pending calls before the first pending
 * return. They are tried in two passes: first the ops that must complete, then (the deferred pass)
 * the indeterminate ones. Trying an indeterminate op late means configurations with fewer of them
 * applied are reached first, and those dominate the ones with more (see `ConfigCache`), so a
 * violation among many timed-out writes is refuted without enumerating their subsets.
 */
class KeySearch {
  private readonly head: Event;
  private readonly decided: Uint32Array;
  private readonly cache: ConfigCache;
  private readonly stack: Frame[] = [];
  private deferredPass = false;

  constructor(
    private readonly ops: readonly SearchOp[],
    private readonly budget: Budget,
    private state: ModelState,
  ) {
    this.head = buildEventList(ops);
    this.decided = new Uint32Array(Math.ceil(ops.length / 32));
    this.cache = new ConfigCache(ops);
  }

  run(): SearchOutcome {
    let event = this.head.next;
    while (event !== null) {
      if (this.budget.exhausted()) return "budget";
      const op = this.ops[event.op]!;
      if (event.isCall) {
        const inThisPass = (op.returnMs === Infinity) === this.deferredPass;
        event = inThisPass && this.tryLinearize(event, op) ? this.restartScan() : event.next;
        continue;
      }
      // Everything still pending returns at +infinity, so leaving all of it out is allowed.
      if (op.returnMs === Infinity) return "ok";
      if (!this.deferredPass) {
        this.deferredPass = true;
        event = this.head.next;
        continue;
      }
      if (op.optional && this.tryDecide(event.partner!, this.state, true)) {
        event = this.restartScan();
        continue;
      }
      const resumeAt = this.backtrack();
      if (resumeAt === null) return "fail";
      event = resumeAt;
    }
    return "ok";
  }

  private restartScan(): Event | null {
    this.deferredPass = false;
    return this.head.next;
  }

  private tryLinearize(call: Event, op: SearchOp): boolean {
    const next = stepModel(this.state, op.source.op, op.result);
    if (next === undefined) return false;
    if (op.returnMs === Infinity && this.pointlessNow(op, next)) return false;
    return this.tryDecide(call, next, false);
  }

  /**
   * Applying an indeterminate op now is dominated by leaving it pending (it can still be applied
   * later, or never) when it changes nothing, or when it is a blind write straight after another
   * indeterminate op, whose effect it would erase. Without this, every order of the pending
   * timed-out writes would be tried between two completed ops.
   */
  private pointlessNow(op: SearchOp, next: ModelState): boolean {
    if (next === this.state) return true;
    if (op.source.op.kind !== "put" && op.source.op.kind !== "delete") return false;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const frame = this.stack[i]!;
      if (frame.omitted) continue;
      return this.ops[frame.call.op]!.returnMs === Infinity;
    }
    return false;
  }

  /** Decides `call`'s op (linearized into `next`, or omitted) unless that configuration was seen. */
  private tryDecide(call: Event, next: ModelState, omitted: boolean): boolean {
    const bit = 1 << (call.op & 31);
    const word = call.op >>> 5;
    assert((this.decided[word]! & bit) === 0, `op ${call.op} decided twice`);
    this.decided[word]! |= bit;
    this.cache.toggle(call.op);
    if (!this.cache.add(this.decided, next)) {
      this.decided[word]! &= ~bit;
      this.cache.toggle(call.op);
      return false;
    }
    this.budget.spent += 1;
    this.stack.push({ call, stateBefore: this.state, omitted, deferredPass: this.deferredPass });
    this.state = next;
    lift(call);
    return true;
  }

  /** Undoes the latest linearization and returns the event to try after it; null when none is left. */
  private backtrack(): Event | null {
    for (;;) {
      const frame = this.stack.pop();
      if (frame === undefined) return null;
      unlift(frame.call);
      this.decided[frame.call.op >>> 5]! &= ~(1 << (frame.call.op & 31));
      this.cache.toggle(frame.call.op);
      this.state = frame.stateBefore;
      this.deferredPass = frame.deferredPass;
      // Leaving an op out is its last alternative (it is tried at its return), so keep unwinding.
      if (!frame.omitted) return frame.call.next;
    }
  }
}

function buildEventList(ops: readonly SearchOp[]): Event {
  const timed: { time: number; event: Event }[] = [];
  ops.forEach((op, i) => {
    const call: Event = { op: i, isCall: true, partner: null, prev: null, next: null };
    const ret: Event = { op: i, isCall: false, partner: call, prev: null, next: null };
    call.partner = ret;
    timed.push({ time: op.callMs, event: call }, { time: op.returnMs, event: ret });
  });
  // Calls sort before returns at the same instant: such ops are treated as concurrent.
  timed.sort((a, b) => a.time - b.time || Number(b.event.isCall) - Number(a.event.isCall) || a.event.op - b.event.op);
  const head: Event = { op: -1, isCall: false, partner: null, prev: null, next: null };
  let last = head;
  for (const { event } of timed) {
    last.next = event;
    event.prev = last;
    last = event;
  }
  return head;
}

/** Takes a call event and its return out of the list. */
function lift(call: Event): void {
  const ret = call.partner!;
  call.prev!.next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Puts back what `lift` took out; the reverse order restores the neighbours exactly. */
function unlift(call: Event): void {
  const ret = call.partner!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next !== null) call.next.prev = call;
}

/**
 * Configurations already explored, with subsumption for indeterminate ops. A configuration is the
 * set D of decided ops and the model state s; what can still happen from it depends only on the
 * undecided ops and s. An indeterminate op may be applied at any later point or never, so from
 * (D, s) with such an op still pending, every continuation of (D + op, s) is also available
 * (leave the op out). Hence (D2, s) is dominated by a seen (D1, s) when D1 and D2 agree on the
 * ops that must complete and D1's indeterminate ops are a subset of D2's.
 * Entries are bucketed by a Zobrist hash of the must-complete ops plus the state.
 */
class ConfigCache {
  private readonly buckets = new Map<string, Uint32Array[]>();
  private readonly zobristLo: Uint32Array;
  private readonly zobristHi: Uint32Array;
  /** Bits of the indeterminate ops (return at +infinity). */
  private readonly foreverMask: Uint32Array;

  constructor(ops: readonly SearchOp[]) {
    const rng = mulberry32(0x11ea7);
    const forever = (i: number): boolean => ops[i]!.returnMs === Infinity;
    this.zobristLo = Uint32Array.from(ops, (_, i) => (forever(i) ? 0 : Math.floor(rng.next() * 2 ** 32)));
    this.zobristHi = Uint32Array.from(ops, (_, i) => (forever(i) ? 0 : Math.floor(rng.next() * 2 ** 32)));
    this.foreverMask = new Uint32Array(Math.ceil(ops.length / 32));
    ops.forEach((_, i) => {
      if (forever(i)) this.foreverMask[i >>> 5]! |= 1 << (i & 31);
    });
  }

  /** The hash of the must-complete ops decided, kept up to date by `toggle`. */
  private hashLo = 0;
  private hashHi = 0;

  /** Called whenever op `i` becomes decided or undecided. */
  toggle(i: number): void {
    this.hashLo ^= this.zobristLo[i]!;
    this.hashHi ^= this.zobristHi[i]!;
  }

  /** Records (decided, state); false when a seen configuration dominates it. */
  add(decided: Uint32Array, state: ModelState): boolean {
    const key = `${this.hashLo >>> 0}:${this.hashHi >>> 0}:${stateKey(state)}`;
    const bucket = this.buckets.get(key);
    if (bucket === undefined) {
      this.buckets.set(key, [decided.slice()]);
      return true;
    }
    if (bucket.some((seen) => this.dominates(seen, decided))) return false;
    const kept = bucket.filter((seen) => !this.dominates(decided, seen));
    kept.push(decided.slice());
    this.buckets.set(key, kept);
    return true;
  }

  /** `a` dominates `b`: same must-complete ops decided, and a's indeterminate ones within b's. */
  private dominates(a: Uint32Array, b: Uint32Array): boolean {
    for (let w = 0; w < a.length; w++) {
      const forever = this.foreverMask[w]!;
      if (((a[w]! ^ b[w]!) & ~forever) !== 0) return false;
      if ((a[w]! & ~b[w]! & forever) !== 0) return false;
    }
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Explaining a violation

/**
 * Narrows a non-linearizable key history to an explanation in three steps, each of which only
 * ever weakens the history, so each accepted step keeps the violation:
 * 1. the cut: the earliest time T at which the history cut at T (ops called later dropped, ops
 *    still open at T made indeterminate) is already non-linearizable; the ops returning at T are
 *    the culprits;
 * 2. the window: the latest S such that the cut history still fails after dropping every op that
 *    returned before S, making the ops called before S optional, and starting from an unknown
 *    value (any linearization of the whole maps onto one of this window);
 * 3. weakening: the window's other ops are made optional (may be left out) in halving chunks, and
 *    kept weakened while the rest still fails. The ops left strong cannot be linearized together
 *    whatever the others did: they are reported, with the writes of the values they read.
 */
function explainViolation(
  key: string,
  ops: readonly HistoryOp[],
  checksMax: number,
  perCheckStates: number,
  totalStates: number,
): LinearizabilityResult {
  const probe = new Prober(checksMax, perCheckStates, totalStates);
  const cutMs = earliestFailingCut(ops, probe);
  const cut = cutHistory(ops, cutMs);
  const culprits = new Set(ops.filter((op) => isDeterminate(op) && op.returnMs === cutMs).map((op) => op.id));
  const window = latestFailingWindow(cut, cutMs, probe);
  const weakened = weakenWhileFailing(window, culprits, probe);
  const strong = window.ops.filter((op) => isDeterminate(op) && !weakened.has(op.id));
  const essential = [...strong, ...writersOfValuesSeen(cut, strong)].sort((a, b) => a.callMs - b.callMs || a.id - b.id);
  return {
    ok: false,
    verdict: "violation",
    key,
    explanation: describeViolation(key, essential, culprits, window.start === unknownState, cutMs, probe),
    ops: essential,
    statesExplored: probe.statesSpent,
  };
}

/** A sub-history to test: its ops, those already made optional, and whether it starts unknown. */
interface Trial {
  readonly ops: readonly HistoryOp[];
  readonly optional: ReadonlySet<number>;
  readonly start: ModelState;
}

/** Runs bounded sub-checks; a check that runs out of budget counts as "not failing" (conservative). */
class Prober {
  checksDone = 0;
  statesSpent = 0;
  exhausted = false;
  constructor(
    private readonly checksMax: number,
    private readonly perCheckStates: number,
    private readonly totalStates: number,
  ) {}

  fails(trial: Trial, alsoOptional: ReadonlySet<number> = new Set()): boolean {
    const statesLeft = Math.min(this.perCheckStates, this.totalStates - this.statesSpent);
    if (this.checksDone >= this.checksMax || statesLeft <= 0) {
      this.exhausted = true;
      return false;
    }
    this.checksDone += 1;
    const budget = new Budget(statesLeft);
    const searchOps = trial.ops.map((op) => toSearchOp(op, trial.optional.has(op.id) || alsoOptional.has(op.id)));
    const outcome = search(searchOps, budget, trial.start);
    this.statesSpent += budget.spent;
    if (outcome === "budget") this.exhausted = true;
    return outcome === "fail";
  }
}

function earliestFailingCut(ops: readonly HistoryOp[], probe: Prober): number {
  const times = [...new Set(ops.filter(isDeterminate).map((op) => op.returnMs!))].sort((a, b) => a - b);
  assert(times.length > 0, "a failing key history has at least one completed op");
  let lo = 0;
  let hi = times.length - 1; // the cut at the last return is the whole history: known to fail.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const cut = cutHistory(ops, times[mid]!);
    if (probe.fails({ ops: cut, optional: new Set(), start: null })) hi = mid;
    else lo = mid + 1;
  }
  return times[lo]!;
}

/** The history as it stood at `cutMs`: later calls dropped, ops still open made indeterminate. */
function cutHistory(ops: readonly HistoryOp[], cutMs: number): HistoryOp[] {
  const cut: HistoryOp[] = [];
  for (const op of ops) {
    if (op.callMs > cutMs) continue;
    const open = op.returnMs === null || op.returnMs > cutMs;
    if (!open) cut.push(op);
    else if (op.op.kind !== "get") cut.push({ ...op, returnMs: null, result: null });
  }
  return cut;
}

/** Step 2 of `explainViolation`: the window of `cut` from the latest start that still fails. */
function latestFailingWindow(cut: readonly HistoryOp[], cutMs: number, probe: Prober): Trial {
  const whole: Trial = { ops: cut, optional: new Set(), start: null };
  const starts = [...new Set(cut.filter(isDeterminate).map((op) => op.returnMs!))].filter((t) => t < cutMs).sort((a, b) => a - b);
  let best = whole;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const trial = windowFrom(cut, starts[mid]! + 1e-9);
    if (probe.fails(trial)) {
      best = trial;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

function windowFrom(cut: readonly HistoryOp[], startMs: number): Trial {
  const ops = cut.filter((op) => op.returnMs === null || op.returnMs >= startMs);
  const optional = new Set(ops.filter((op) => op.callMs < startMs).map((op) => op.id));
  return { ops, optional, start: unknownState };
}

function weakenWhileFailing(window: Trial, culprits: ReadonlySet<number>, probe: Prober): Set<number> {
  const weakened = new Set<number>();
  const candidates = window.ops.filter((op) => isDeterminate(op) && !culprits.has(op.id) && !window.optional.has(op.id)).map((op) => op.id);
  for (let chunk = Math.max(1, Math.ceil(candidates.length / 2)); ; chunk = Math.ceil(chunk / 2)) {
    for (let start = 0; start < candidates.length; start += chunk) {
      const trial = candidates.slice(start, start + chunk).filter((id) => !weakened.has(id));
      if (trial.length === 0) continue;
      for (const id of trial) weakened.add(id);
      if (!probe.fails(window, weakened)) for (const id of trial) weakened.delete(id);
    }
    if (chunk === 1) break;
  }
  for (const id of window.optional) weakened.add(id);
  return weakened;
}

/**
 * The writes that produced the values the essential reads returned. Weakening may find them
 * inessential (a read of an overwritten value fails even if that write is left out), but a reader
 * of the explanation wants to see where the stale value came from.
 */
function writersOfValuesSeen(cut: readonly HistoryOp[], strong: readonly HistoryOp[]): HistoryOp[] {
  const strongIds = new Set(strong.map((op) => op.id));
  const seen = new Set<string>();
  for (const op of strong) if (op.result?.kind === "value" && op.result.value !== null) seen.add(op.result.value);
  return cut.filter((op) => {
    if (strongIds.has(op.id)) return false;
    return (op.op.kind === "put" || op.op.kind === "cas") && seen.has(op.op.value);
  });
}

function describeViolation(
  key: string,
  essential: readonly HistoryOp[],
  culprits: ReadonlySet<number>,
  fromUnknownValue: boolean,
  cutMs: number,
  probe: Prober,
): string {
  const first = Math.min(...essential.map((op) => op.callMs));
  const whatever = fromUnknownValue ? "whatever the key held before them and whatever its other ops did" : "whatever the key's other ops did";
  const lines = [
    `key ${JSON.stringify(key)} is not linearizable: it first fails when op ${[...culprits].join(", ")} returns at ${cutMs} ms.`,
    `These ${essential.length} ops (window ${first}..${cutMs} ms) cannot be linearized together, ` +
      `${whatever}${probe.exhausted ? " (narrowing budget spent: window may not be minimal)" : ""}:`,
    ...essential.map((op) => `  ${describeOp(op)}`),
  ];
  return lines.join("\n");
}

export function describeOp(op: HistoryOp): string {
  const o = op.op;
  const what =
    o.kind === "put" ? `put ${JSON.stringify(o.value)}`
    : o.kind === "get" ? `get(${o.mode})`
    : o.kind === "cas" ? `cas ${JSON.stringify(o.expected)} -> ${JSON.stringify(o.value)}`
    : "delete";
  const r = op.result;
  const got =
    r === null ? "?"
    : r.kind === "ok" ? "ok"
    : r.kind === "value" ? JSON.stringify(r.value)
    : r.swapped ? "swapped" : "not swapped";
  const returned = op.returnMs === null ? "never" : `${op.returnMs}`;
  return `#${op.id} client ${op.client} [${op.callMs}..${returned} ms] ${what} => ${got}`;
}
