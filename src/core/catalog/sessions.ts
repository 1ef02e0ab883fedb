/**
 * Sessions: create, renew, destroy, TTL expiry, and invalidation with its effect on held locks
 * (Consul's session.go). Time comes from the log: every command carries its leader's `nowMs`.
 */
import { assert } from "../util/assert.ts";
import { formatGoDuration, parseGoDurationMs } from "./codec.ts";
import type { Command } from "./commands.ts";
import { deleteQueriesOfSession } from "./prepared-queries.ts";
import { checkKey, type CatalogState, type SessionState } from "./state.ts";
import type { ApplyResult, SessionBehavior, SessionRecord } from "./types.ts";

type CreateCommand = Extract<Command, { op: "session.create" }>;

function fail(status: 400 | 404 | 500, message: string): ApplyResult {
  return { ok: false, error: { status, message } };
}

/** Consul's session endpoint TTL rule, shared with the HTTP layer's own validation. */
export function validateSessionTtl(state: CatalogState, ttl: string | undefined): { ttlMs: number } | { error: ApplyResult } {
  if (ttl === undefined || ttl === "") return { ttlMs: 0 };
  const ttlMs = parseGoDurationMs(ttl);
  // Consul's Session.Apply: `Session TTL '%s' invalid: %v` around Go's time.ParseDuration error.
  if (ttlMs === null) return { error: fail(500, `Session TTL '${ttl}' invalid: ${goDurationError(ttl)}`) };
  const { sessionTtlMinMs: minMs, sessionTtlMaxMs: maxMs } = state.config;
  if (ttlMs !== 0 && (ttlMs < minMs || ttlMs > maxMs)) {
    // Consul prints the Duration with %d: nanoseconds.
    const ns = Math.round(ttlMs * 1e6);
    return { error: fail(500, `Invalid Session TTL '${ns}', must be between [${formatGoDuration(minMs)}=${formatGoDuration(maxMs)}]`) };
  }
  return { ttlMs };
}

/** The text of Go's time.ParseDuration error for a string it refuses. */
function goDurationError(text: string): string {
  const quoted = JSON.stringify(text);
  if (/^[-+]?(\d+\.?\d*|\.\d+)$/.test(text)) return `time: missing unit in duration ${quoted}`;
  const unit = /^[-+]?(?:\d+\.?\d*|\.\d+)([^\d.]+)/.exec(text)?.[1];
  if (unit !== undefined && !["ns", "us", "µs", "μs", "ms", "s", "m", "h"].includes(unit)) return `time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`;
  return `time: invalid duration ${quoted}`;
}

export function createSession(state: CatalogState, cmd: CreateCommand, nowMs: number): ApplyResult {
  const behavior = cmd.Behavior === undefined || cmd.Behavior === "" ? "release" : cmd.Behavior;
  if (behavior !== "release" && behavior !== "delete") return fail(500, `Invalid session behavior: ${behavior}`);
  const ttl = validateSessionTtl(state, cmd.TTL);
  if ("error" in ttl) return ttl.error;
  if (state.sessions.has(cmd.ID)) return fail(500, `Session ID "${cmd.ID}" already exists`);
  if (!state.nodes.has(cmd.Node)) return fail(500, "Missing node registration");
  const nodeChecks = cmd.NodeChecks ?? [];
  const serviceChecks = cmd.ServiceChecks ?? [];
  const checkIds = [...nodeChecks, ...serviceChecks.map((ref) => ref.ID)];
  for (const id of checkIds) {
    const check = state.checks.get(cmd.Node)?.get(id);
    if (check === undefined) return fail(500, `Missing check '${id}' registration`);
    if (check.Status === "critical") return fail(500, `Check '${id}' is in ${check.Status} state`);
  }
  const lockDelayMs = Math.max(0, cmd.LockDelayMs ?? state.config.lockDelayDefaultMs);
  const record: SessionRecord = {
    ID: cmd.ID, Name: cmd.Name ?? "", Node: cmd.Node, Checks: [...new Set(checkIds)],
    NodeChecks: [...nodeChecks], ServiceChecks: serviceChecks.map((ref) => ({ ID: ref.ID, Namespace: ref.Namespace ?? "" })),
    LockDelay: Math.round(lockDelayMs * 1e6), Behavior: behavior as SessionBehavior, TTL: cmd.TTL ?? "",
    CreateIndex: state.index, ModifyIndex: state.index,
  };
  state.sessions.set(cmd.ID, { record, ttlMs: ttl.ttlMs, renewedAtMs: nowMs, lockDelayMs });
  state.sessionIndexAdd(state.sessionsByNode, cmd.Node, cmd.ID);
  for (const id of record.Checks) state.sessionIndexAdd(state.sessionsByCheck, checkKey(cmd.Node, id), cmd.ID);
  state.bumpTable("sessions");
  return { ok: true, value: { ID: cmd.ID } };
}

/** Renew: the TTL clock restarts at the leader's time. Not visible in indexes, as in Consul. */
export function renewSession(state: CatalogState, id: string, nowMs: number): ApplyResult {
  const session = state.sessions.get(id);
  if (session === undefined) return fail(404, `Session id '${id}' not found`);
  session.renewedAtMs = nowMs;
  return { ok: true, value: [{ ...session.record }] };
}

/**
 * When the leader must destroy a TTL session: TTL x multiplier after its last renew, or after
 * `timersFromMs` (the leader's takeover, Consul's initializeSessionTimers) if that is later.
 */
export function sessionDeadlineMs(state: CatalogState, session: SessionState, timersFromMs = 0): number | null {
  if (session.ttlMs === 0) return null;
  return Math.max(session.renewedAtMs, timersFromMs) + session.ttlMs * state.config.sessionTtlMultiplier;
}

/** Applied only while still expired at the command's time: a renew may have raced the timer. */
export function expireSession(state: CatalogState, id: string, nowMs: number): ApplyResult {
  const session = state.sessions.get(id);
  const deadlineMs = session === undefined ? null : sessionDeadlineMs(state, session);
  if (deadlineMs === null || nowMs < deadlineMs) return { ok: true, value: false };
  invalidateSession(state, id, nowMs);
  return { ok: true, value: true };
}

/**
 * Destroys a session and applies its Behavior to the keys it holds (in key order): `release`
 * clears their Session, `delete` deletes them; either way each key gets a lock-delay window.
 */
export function invalidateSession(state: CatalogState, id: string, nowMs: number): boolean {
  const session = state.sessions.get(id);
  if (session === undefined) return false;
  const { record } = session;
  state.sessions.delete(id);
  state.sessionIndexRemove(state.sessionsByNode, record.Node, id);
  for (const checkId of record.Checks) state.sessionIndexRemove(state.sessionsByCheck, checkKey(record.Node, checkId), id);
  state.bumpTable("sessions");
  deleteQueriesOfSession(state, id);
  const delayMs = Math.min(session.lockDelayMs, state.config.lockDelayMaxMs);
  for (const key of state.kv.heldBy(id)) {
    const entry = state.kv.get(key)!;
    assert(entry.Session === id, () => `session ${id} indexed as holder of ${key} held by ${entry.Session}`);
    if (record.Behavior === "delete") {
      state.kv.remove(key, state.index);
    } else {
      const { Session: _released, ...rest } = entry;
      state.kv.put({ ...rest, ModifyIndex: state.index });
    }
    state.touchKey(key);
    if (delayMs > 0) state.lockDelayUntilMs.set(key, nowMs + delayMs);
  }
  assert(state.kv.heldBy(id).length === 0, () => `session ${id} still holds keys after invalidation`);
  return true;
}

/** Sessions bound to a check that went critical or disappeared are invalidated. */
export function invalidateSessionsOfCheck(state: CatalogState, node: string, checkId: string, nowMs: number): void {
  const bound = state.sessionsByCheck.get(checkKey(node, checkId));
  if (bound === undefined) return;
  for (const id of [...bound].sort()) invalidateSession(state, id, nowMs);
}

export function invalidateSessionsOfNode(state: CatalogState, node: string, nowMs: number): void {
  const bound = state.sessionsByNode.get(node);
  if (bound === undefined) return;
  for (const id of [...bound].sort()) invalidateSession(state, id, nowMs);
}

/** The TTL sessions whose deadline has passed at `nowMs`, in ID order, for the leader's timer. */
export function expiredSessionIds(state: CatalogState, nowMs: number, timersFromMs = 0): string[] {
  const expired: string[] = [];
  for (const [id, session] of state.sessions) {
    const deadlineMs = sessionDeadlineMs(state, session, timersFromMs);
    if (deadlineMs !== null && nowMs >= deadlineMs) expired.push(id);
  }
  return expired.sort();
}
