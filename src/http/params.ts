/**
 * Query parameters as Consul's HTTP layer reads them (agent/http.go): booleans that are true
 * when present with an empty value, Go durations for `wait` and `max_stale`, `index`, the
 * consistency flags, and the ACL token from `?token=`, `X-Consul-Token` or `Authorization: Bearer`.
 */
import { parseGoDurationMs, parseKvFlags, type KvFlags } from "../core/catalog/index.ts";
import { compileFilter, FilterError } from "../core/filter/index.ts";
import { ApiError, type Consistency, type ReadOptions } from "../agent/api.ts";

/** Consul's default blocking wait when `?index` is given without `?wait`. */
export const waitDefaultMs = 5 * 60_000;
/** Consul caps every blocking wait here. */
export const waitMaxMs = 10 * 60_000;

export function badRequest(message: string): ApiError {
  return new ApiError(400, message);
}

/** Go's strconv.ParseBool spellings; null for anything else. */
export function parseGoBool(text: string): boolean | null {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return null;
}

export class Params {
  constructor(readonly query: URLSearchParams) {}

  has(name: string): boolean {
    return this.query.has(name);
  }

  get(name: string): string | undefined {
    return this.query.get(name) ?? undefined;
  }

  /** Every value of a repeated parameter (`?tag=a&tag=b`). */
  all(name: string): string[] {
    return this.query.getAll(name);
  }

  /**
   * A flag as Consul treats `?recurse`, `?stale`, `?wan`: present means true, with an empty
   * value or a true spelling; an explicit false spelling (`?wan=false`, `?wan=0`) means false.
   */
  flag(name: string): boolean {
    const value = this.query.get(name);
    if (value === null) return false;
    return parseGoBool(value) ?? true;
  }

  /** A boolean Consul parses strictly (`?passing`, `?replace-existing-checks`): garbage is a 400. */
  strictFlag(name: string): boolean {
    const value = this.query.get(name);
    if (value === null) return false;
    if (value === "") return true;
    const parsed = parseGoBool(value);
    if (parsed === null) throw badRequest(`Invalid value for ?${name}: ${JSON.stringify(value)} is not a boolean`);
    return parsed;
  }

  /** A non-negative integer parameter (`?index`, `?cas`, `?flags`); absent → undefined. */
  uint(name: string, what = name): number | undefined {
    const value = this.query.get(name);
    if (value === null || value === "") return undefined;
    if (!/^\d{1,20}$/.test(value)) throw badRequest(`Invalid ${what}: ${JSON.stringify(value)} is not an unsigned integer`);
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed)) throw badRequest(`Invalid ${what}: ${value} is larger than ${Number.MAX_SAFE_INTEGER}`);
    return parsed;
  }

  /** KV `?flags`, a uint64 as Consul's strconv.ParseUint reads it; absent → undefined. */
  kvFlags(name: string): KvFlags | undefined {
    const value = this.query.get(name);
    if (value === null || value === "") return undefined;
    const parsed = parseKvFlags(value);
    if (parsed === undefined) throw badRequest(`Invalid flags: ${JSON.stringify(value)} is not an unsigned 64-bit integer`);
    return parsed;
  }

  /** A Go duration parameter in milliseconds; absent or empty → undefined. */
  duration(name: string, invalid: string): number | undefined {
    const value = this.query.get(name);
    if (value === null || value === "") return undefined;
    const ms = parseGoDurationMs(value);
    if (ms === null || ms < 0 || !Number.isFinite(ms)) throw badRequest(invalid);
    return ms;
  }

  /** `?node-meta=key:value`, repeatable; every pair must match. */
  nodeMeta(): Record<string, string> | undefined {
    const pairs = this.all("node-meta");
    if (pairs.length === 0) return undefined;
    const meta: Record<string, string> = {};
    for (const pair of pairs) {
      const at = pair.indexOf(":");
      if (at < 0) meta[pair] = "";
      else meta[pair.slice(0, at)] = pair.slice(at + 1);
    }
    return meta;
  }

  /** `?filter=`, checked here so a bad expression is a 400 before any backend call. */
  filter(): string | undefined {
    const expression = this.query.get("filter");
    if (expression === null || expression.trim() === "") return undefined;
    try {
      compileFilter(expression);
    } catch (error) {
      if (error instanceof FilterError) throw badRequest(`Failed to create boolean expression evaluator: ${error.message}`);
      throw error;
    }
    return expression;
  }

  consistency(): { consistency: Consistency; maxStaleMs?: number } {
    const stale = this.has("stale");
    const consistent = this.has("consistent");
    const maxStaleMs = this.duration("max_stale", `Invalid max_stale value ${JSON.stringify(this.get("max_stale") ?? "")}`);
    if (consistent && (stale || maxStaleMs !== undefined)) {
      throw badRequest("Cannot specify ?stale with ?consistent, conflicting semantics.");
    }
    if (consistent) return { consistency: "consistent" };
    if (stale || (maxStaleMs !== undefined && maxStaleMs > 0)) return { consistency: "stale", ...(maxStaleMs === undefined ? {} : { maxStaleMs }) };
    return { consistency: "default" };
  }

  /** `?index` and `?wait`: wait defaults to 5 min when an index is given and is capped at 10 min. */
  blocking(): { index?: number; waitMs?: number } {
    const index = this.uint("index", "index");
    const givenMs = this.duration("wait", "Invalid wait time");
    if (index === undefined || index === 0) return index === undefined ? {} : { index };
    // Consul's blockingQuery: a zero wait means the default, not "answer at once".
    const waitMs = givenMs === undefined || givenMs === 0 ? waitDefaultMs : givenMs;
    return { index, waitMs: Math.min(waitMs, waitMaxMs) };
  }

  dc(): string | undefined {
    const dc = this.query.get("dc");
    return dc === null || dc === "" ? undefined : dc;
  }
}

/** Token order as Consul reads it: `?token=`, then `X-Consul-Token`, then `Authorization: Bearer`. */
export function extractToken(params: Params, headers: Record<string, string | string[] | undefined>): string | undefined {
  const fromQuery = params.get("token");
  if (fromQuery !== undefined && fromQuery !== "") return fromQuery;
  const header = headers["x-consul-token"];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader !== undefined && fromHeader !== "") return fromHeader;
  const authorization = headers["authorization"];
  const auth = Array.isArray(authorization) ? authorization[0] : authorization;
  const bearer = auth === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(auth);
  return bearer === null ? undefined : bearer[1];
}

export function readOptions(params: Params, token: string | undefined, withFilter = true): ReadOptions {
  const { consistency, maxStaleMs } = params.consistency();
  const { index, waitMs } = params.blocking();
  const filter = withFilter ? params.filter() : undefined;
  const dc = params.dc();
  return {
    consistency,
    ...(maxStaleMs === undefined ? {} : { maxStaleMs }),
    ...(index === undefined ? {} : { index }),
    ...(waitMs === undefined ? {} : { waitMs }),
    ...(filter === undefined ? {} : { filter }),
    ...(dc === undefined ? {} : { dc }),
    ...(token === undefined ? {} : { token }),
  };
}
