/**
 * Request bodies that become catalog commands. The catalog's own normalizer (keys matched
 * case-insensitively as Go does, base64 values, LockDelay in Consul's forms) validates them here
 * so a bad body is a 400 before anything is proposed to Raft.
 */
import { ApiError, type WriteRequest } from "../agent/api.ts";
import { normalizeCommand, type Command } from "../core/catalog/index.ts";

/** Looks a key up exactly, then case-insensitively (python-consul sends `name`, `ttl`, `lockdelay`). */
export function field(body: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(body, name)) return body[name];
  const folded = name.toLowerCase();
  const key = Object.keys(body).find((candidate) => candidate.toLowerCase() === folded);
  return key === undefined ? undefined : body[key];
}

/** The body without the keys that `overrides` sets (compared case-insensitively) or that only the agent may set. */
function withoutKeys(body: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const drop = new Set([...names, "v", "op", "nowms"].map((name) => name.toLowerCase()));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!drop.has(key.toLowerCase())) out[key] = value;
  return out;
}

/**
 * Builds the write request for `op` from a client body plus the fields the HTTP layer decides
 * (`overrides` win over the body's keys of any case). The command is validated by the catalog's
 * normalizer; a refusal is a 400 with its reason.
 */
export function writeRequest<Op extends Command["op"]>(
  op: Op,
  body: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
): Extract<WriteRequest, { op: Op }> {
  const raw = { ...withoutKeys(body, Object.keys(overrides)), ...overrides, v: 1, op, nowMs: 0 };
  const decoded = normalizeCommand(raw);
  if (!decoded.ok) throw new ApiError(decoded.error.status, decoded.error.message);
  const { v: _v, nowMs: _nowMs, ...request } = decoded.command as Command & { nowMs?: number };
  return dropUndefined(request) as unknown as Extract<WriteRequest, { op: Op }>;
}

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}
