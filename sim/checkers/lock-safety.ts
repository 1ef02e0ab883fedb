/**
 * Lock safety over per-server traces of KV lock changes, as each server's state machine applied
 * them (issue 4). Independent of the catalog's code: it sees only the trace.
 *
 * Rules checked, per server in Raft-index order:
 * - mutual exclusion: a key is acquired only while free, or by the session already holding it
 *   (Consul lets the holder re-acquire; the lock index then stays);
 * - liveness of holders: a session that was invalidated never acquires again;
 * - hand-over: a held key becomes free only by its holder's release, its holder's invalidation,
 *   or its deletion; it never passes straight from one session to another;
 * - lock-delay: after an invalidation freed a key, no session acquires it before
 *   `invalidatedAtMs + lockDelayMs` on the log's clock;
 * - lock index: each new acquisition (free -> held) increments the key's lock index by one.
 * And across servers: every server that applied an index saw the same lock changes there.
 */
import type { NodeId } from "../../src/core/raft/types.ts";

/** One lock change as a server applied it. `index` is the Raft index, `atMs` the log's clock. */
export type LockEvent =
  | { readonly kind: "acquire"; readonly server: NodeId; readonly index: number; readonly atMs: number; readonly key: string; readonly session: string; readonly lockIndex: number }
  | { readonly kind: "release"; readonly server: NodeId; readonly index: number; readonly atMs: number; readonly key: string; readonly session: string }
  /** The key was deleted (a held lock goes with it). */
  | { readonly kind: "delete"; readonly server: NodeId; readonly index: number; readonly atMs: number; readonly key: string }
  /** The session died (destroyed, TTL lapsed, node or check failed): its locks are let go. */
  | { readonly kind: "invalidate"; readonly server: NodeId; readonly index: number; readonly atMs: number; readonly session: string; readonly lockDelayMs: number };

export type LockCheckResult =
  | { readonly ok: true; readonly events: number }
  | { readonly ok: false; readonly server: NodeId; readonly index: number; readonly explanation: string };

interface KeyState {
  holder: string | null;
  lockIndex: number;
  blockedUntilMs: number;
}

export function checkLockSafety(trace: readonly LockEvent[]): LockCheckResult {
  const byServer = new Map<NodeId, LockEvent[]>();
  for (const event of trace) {
    const list = byServer.get(event.server);
    if (list === undefined) byServer.set(event.server, [event]);
    else list.push(event);
  }
  for (const server of [...byServer.keys()].sort()) {
    const failure = checkServer(server, byServer.get(server)!);
    if (failure !== null) return failure;
  }
  const disagreement = checkServersAgree(byServer);
  if (disagreement !== null) return disagreement;
  return { ok: true, events: trace.length };
}

function checkServer(server: NodeId, events: readonly LockEvent[]): LockCheckResult | null {
  const keys = new Map<string, KeyState>();
  const dead = new Set<string>();
  let lastIndex = 0;
  for (const event of events) {
    const fail = (why: string): LockCheckResult => ({ ok: false, server, index: event.index, explanation: `${server} at index ${event.index}: ${why}` });
    if (event.index < lastIndex) return fail(`trace goes back from index ${lastIndex}`);
    lastIndex = event.index;
    const why = applyEvent(keys, dead, event);
    if (why !== null) return fail(why);
  }
  return null;
}

/** Applies one event to a server's view; returns why it is unsafe, or null. */
function applyEvent(keys: Map<string, KeyState>, dead: Set<string>, event: LockEvent): string | null {
  if (event.kind === "invalidate") {
    dead.add(event.session);
    for (const state of keys.values()) {
      if (state.holder !== event.session) continue;
      state.holder = null;
      state.blockedUntilMs = Math.max(state.blockedUntilMs, event.atMs + event.lockDelayMs);
    }
    return null;
  }
  const state = keys.get(event.key) ?? { holder: null, lockIndex: 0, blockedUntilMs: -Infinity };
  keys.set(event.key, state);
  switch (event.kind) {
    case "delete":
      state.holder = null;
      return null;
    case "release":
      if (state.holder !== event.session) return `${event.key} released by ${event.session} but held by ${state.holder ?? "nobody"}`;
      state.holder = null;
      return null;
    case "acquire":
      return acquire(state, dead, event);
  }
}

function acquire(state: KeyState, dead: ReadonlySet<string>, event: Extract<LockEvent, { kind: "acquire" }>): string | null {
  const { key, session } = event;
  if (dead.has(session)) return `${key} acquired by ${session}, which was invalidated`;
  if (state.holder === session) {
    return event.lockIndex === state.lockIndex ? null : `${key} re-acquired by its holder ${session} moved the lock index ${state.lockIndex} -> ${event.lockIndex}`;
  }
  if (state.holder !== null) return `${key} acquired by ${session} while held by ${state.holder}`;
  if (event.atMs < state.blockedUntilMs) return `${key} acquired by ${session} at ${event.atMs} ms, inside the lock-delay until ${state.blockedUntilMs} ms`;
  if (event.lockIndex !== state.lockIndex + 1) return `${key} acquired by ${session} with lock index ${event.lockIndex}, expected ${state.lockIndex + 1}`;
  state.holder = session;
  state.lockIndex = event.lockIndex;
  return null;
}

/** Every server that applied an index saw the same lock events there (state machine safety). */
function checkServersAgree(byServer: ReadonlyMap<NodeId, readonly LockEvent[]>): LockCheckResult | null {
  const seen = new Map<number, { server: NodeId; events: string }>();
  for (const server of [...byServer.keys()].sort()) {
    const atIndex = new Map<number, string[]>();
    for (const event of byServer.get(server)!) {
      const { server: _server, ...rest } = event;
      const list = atIndex.get(event.index) ?? [];
      list.push(JSON.stringify(rest));
      atIndex.set(event.index, list);
    }
    for (const [index, list] of atIndex) {
      const events = list.join("; ");
      const first = seen.get(index);
      if (first === undefined) seen.set(index, { server, events });
      else if (first.events !== events) {
        return { ok: false, server, index, explanation: `servers disagree at index ${index}: ${first.server} applied [${first.events}], ${server} applied [${events}]` };
      }
    }
  }
  return null;
}
