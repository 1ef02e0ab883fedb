/**
 * KV verbs (Consul's kvs.go). One function runs one verb against the state; a single `kv`
 * command turns its outcome into Consul's `true`/`false`, and a txn (txn.ts) turns refusals into
 * `{OpIndex, What}` errors and rolls everything back if there is any.
 */
import { bytesEqual } from "./codec.ts";
import type { Command, KvOp } from "./commands.ts";
import type { CatalogState } from "./state.ts";
import type { ApplyResult, KvEntry } from "./types.ts";

type Outcome =
  /** Applied; `entries` are what a txn reports for this op. */
  | { kind: "done"; entries: KvEntry[] }
  /** A CAS, lock or unlock precondition failed: `false`, or the txn's error text. */
  | { kind: "refused"; what: string }
  | { kind: "error"; status: 400 | 413 | 500; what: string };

const done = (entries: KvEntry[] = []): Outcome => ({ kind: "done", entries });

export function applyKv(state: CatalogState, cmd: Extract<Command, { op: "kv" }>, nowMs: number): ApplyResult {
  const size = cmd.Value?.length ?? 0;
  if (size > state.config.kvValueMaxBytes) {
    return { ok: false, error: { status: 413, message: `Request body(${size} bytes) too large, max size: ${state.config.kvValueMaxBytes} bytes` } };
  }
  if (cmd.Verb === "lock" && lockDelayed(state, cmd.Key, nowMs)) return { ok: true, value: false };
  const outcome = runKvOp(state, cmd);
  if (outcome.kind === "error") return { ok: false, error: { status: outcome.status, message: outcome.what } };
  return { ok: true, value: outcome.kind === "done" };
}

/** An acquire stamped before the key's lock-delay window ends is refused (kvs_endpoint.go). */
function lockDelayed(state: CatalogState, key: string, nowMs: number): boolean {
  const untilMs = state.lockDelayUntilMs.get(key);
  if (untilMs === undefined) return false;
  if (nowMs < untilMs) return true;
  state.lockDelayUntilMs.delete(key);
  return false;
}

export type { Outcome as KvOutcome };

export function runKvOp(state: CatalogState, op: KvOp): Outcome {
  switch (op.Verb) {
    // A plain set or cas writes LockIndex 0, as Consul's kvsSetTxn stores the request's entry.
    case "set": return setEntry(state, op, "keep", 0);
    case "cas": return casEntry(state, op);
    case "lock": return lockEntry(state, op);
    case "unlock": return unlockEntry(state, op);
    case "delete": return deleteKey(state, op.Key);
    case "delete-tree": return deleteTree(state, op.Key);
    case "delete-cas": return deleteCas(state, op);
    case "get": {
      const entry = state.kv.get(op.Key);
      return entry === undefined ? { kind: "error", status: 500, what: `key "${op.Key}" doesn't exist` } : done([entry]);
    }
    case "get-or-empty": {
      const entry = state.kv.get(op.Key);
      return done(entry === undefined ? [] : [entry]);
    }
    case "get-tree": return done([...state.kv.withPrefix(op.Key)]);
    case "check-index": return checkIndex(state, op);
    case "check-session": return checkSession(state, op);
    case "check-not-exists":
      return state.kv.get(op.Key) === undefined ? done() : { kind: "error", status: 500, what: `key "${op.Key}" exists` };
  }
}

/**
 * Consul's kvsSetTxn: CreateIndex carries over; the session carries over unless the verb sets it
 * (`session` given); LockIndex is what the verb says: lock and unlock compute it, while a plain
 * set or cas stores the request's (always 0 here), so a PUT on a held key resets LockIndex to 0
 * while the key stays held. An unchanged entry keeps its ModifyIndex and wakes nobody.
 */
function setEntry(state: CatalogState, op: KvOp, session: "keep" | string | undefined, lockIndex: number): Outcome {
  const existing = state.kv.get(op.Key);
  const holder = session === "keep" ? existing?.Session : session;
  const next: KvEntry = {
    LockIndex: lockIndex, Key: op.Key, Flags: op.Flags ?? 0, Value: op.Value ?? null,
    ...(holder === undefined ? {} : { Session: holder }), CreateIndex: existing?.CreateIndex ?? state.index, ModifyIndex: state.index,
  };
  if (existing !== undefined && sameEntry(existing, next)) return done([existing]);
  state.kv.put(next);
  state.touchKey(op.Key);
  return done([next]);
}

function sameEntry(a: KvEntry, b: KvEntry): boolean {
  return a.LockIndex === b.LockIndex && a.Flags === b.Flags && a.Session === b.Session && bytesEqual(a.Value, b.Value);
}

/** `cas=0` creates only; otherwise the key must exist at exactly that ModifyIndex. */
function casEntry(state: CatalogState, op: KvOp): Outcome {
  const existing = state.kv.get(op.Key);
  const index = op.Index ?? 0;
  const stale: Outcome = { kind: "refused", what: `failed to set key "${op.Key}", index is stale` };
  if (index === 0 && existing !== undefined) return stale;
  if (index !== 0 && (existing === undefined || existing.ModifyIndex !== index)) return stale;
  return setEntry(state, op, "keep", 0);
}

function lockEntry(state: CatalogState, op: KvOp): Outcome {
  if (op.Session === undefined || op.Session === "") return { kind: "error", status: 500, what: "missing session" };
  if (!state.sessions.has(op.Session)) return { kind: "error", status: 500, what: `invalid session "${op.Session}"` };
  const existing = state.kv.get(op.Key);
  if (existing?.Session !== undefined && existing.Session !== op.Session) {
    return { kind: "refused", what: `failed to lock key "${op.Key}", lock is already held` };
  }
  // Re-acquiring a lock one already holds keeps LockIndex; a new acquire increments it.
  const lockIndex = existing === undefined ? 1 : existing.Session === op.Session ? existing.LockIndex : existing.LockIndex + 1;
  return setEntry(state, op, op.Session, lockIndex);
}

function unlockEntry(state: CatalogState, op: KvOp): Outcome {
  if (op.Session === undefined || op.Session === "") return { kind: "error", status: 500, what: "missing session" };
  const existing = state.kv.get(op.Key);
  if (existing === undefined || existing.Session !== op.Session) {
    return { kind: "refused", what: `failed to unlock key "${op.Key}", lock isn't held, or is held by another session` };
  }
  return setEntry(state, op, undefined, existing.LockIndex);
}

function deleteKey(state: CatalogState, key: string): Outcome {
  if (state.kv.remove(key, state.index)) state.touchKey(key);
  return done();
}

function deleteTree(state: CatalogState, prefix: string): Outcome {
  for (const key of state.kv.keysWithPrefix(prefix)) deleteKey(state, key);
  return done();
}

/** Consul's kvsDeleteCASTxn: a missing key counts as deleted (true) without writing anything. */
function deleteCas(state: CatalogState, op: KvOp): Outcome {
  const existing = state.kv.get(op.Key);
  if (existing === undefined) return done();
  if (existing.ModifyIndex !== (op.Index ?? 0)) return { kind: "refused", what: `failed to delete key "${op.Key}", index is stale` };
  return deleteKey(state, op.Key);
}

function checkIndex(state: CatalogState, op: KvOp): Outcome {
  const existing = state.kv.get(op.Key);
  if (existing === undefined) return { kind: "error", status: 500, what: `failed to check index, key "${op.Key}" doesn't exist` };
  if (existing.ModifyIndex !== (op.Index ?? 0)) {
    return { kind: "error", status: 500, what: `failed index check for key "${op.Key}", current modify index ${existing.ModifyIndex} != ${op.Index ?? 0}` };
  }
  return done([existing]);
}

function checkSession(state: CatalogState, op: KvOp): Outcome {
  const existing = state.kv.get(op.Key);
  if (existing === undefined) return { kind: "error", status: 500, what: `failed to check session, key "${op.Key}" doesn't exist` };
  const session = op.Session ?? "";
  if ((existing.Session ?? "") !== session) {
    return { kind: "error", status: 500, what: `failed session check for key "${op.Key}", current session "${existing.Session ?? ""}" != "${session}"` };
  }
  return done([existing]);
}
