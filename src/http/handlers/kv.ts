/**
 * `/v1/kv/<key>` (Consul's kvs_endpoint.go): GET an entry, a prefix (`?recurse`) or its keys
 * (`?keys`, `?separator`), or the raw value (`?raw`); PUT with `?flags`, `?cas`, `?acquire`,
 * `?release` answering `true`/`false`; DELETE with `?recurse` or `?cas`.
 */
import type { AgentBackend } from "../../agent/api.ts";
import type { KvEntry, KvVerb } from "../../core/catalog/index.ts";
import { base64, kvValueMaxBytes, type Call } from "../call.ts";
import { badRequest } from "../params.ts";

/**
 * A KV entry as Consul's JSON carries it: Value in base64, or null when empty (Consul stores an
 * empty body as a nil slice), Session only while held.
 */
export function kvJson(entry: KvEntry): Record<string, unknown> {
  const value = entry.Value === null || entry.Value.length === 0 ? null : base64(entry.Value);
  const out: Record<string, unknown> = { LockIndex: entry.LockIndex, Key: entry.Key, Flags: entry.Flags, Value: value };
  if (entry.Session !== undefined) out.Session = entry.Session;
  out.CreateIndex = entry.CreateIndex;
  out.ModifyIndex = entry.ModifyIndex;
  return out;
}

/** Consul's conflictingFlags: at most one of `flags` may be present. */
function conflicting(call: Call, flags: readonly string[]): void {
  if (flags.filter((flag) => call.params.has(flag)).length > 1) {
    throw badRequest(`Conflicting flags: ${call.params.query.toString()}`);
  }
}

export async function kvGet(call: Call, backend: AgentBackend): Promise<void> {
  const key = call.arg;
  const options = call.readOptions(false);
  if (call.params.has("keys")) {
    const separator = call.params.get("separator");
    const result = await backend.query({ kind: "kvKeys", prefix: key, ...(separator ? { separator } : {}) }, options);
    call.meta(result.meta);
    if (result.value.length === 0) return call.empty(404);
    return call.sendShared(result.value, same);
  }
  if (call.params.has("recurse")) {
    const result = await backend.query({ kind: "kvList", prefix: key }, options);
    call.meta(result.meta);
    if (result.value.length === 0) return call.empty(404);
    return call.sendShared(result.value, kvListJson);
  }
  if (key === "") throw badRequest("Missing key name");
  const result = await backend.query({ kind: "kvGet", key }, options);
  call.meta(result.meta);
  const entry = result.value;
  if (entry === null) return call.empty(404);
  if (call.params.has("raw")) {
    call.ctx.set("X-Content-Type-Options", "nosniff");
    return call.bytes(entry.Value ?? new Uint8Array(0), "text/plain");
  }
  return call.sendShared(entry, kvGetJson);
}

const same = <T>(value: T): T => value;
const kvListJson = (entries: KvEntry[]): unknown => entries.map(kvJson);
const kvGetJson = (entry: KvEntry): unknown => [kvJson(entry)];

export async function kvPut(call: Call, backend: AgentBackend): Promise<void> {
  const key = call.arg;
  if (key === "") throw badRequest("Missing key name");
  conflicting(call, ["cas", "acquire", "release"]);
  const flags = call.params.kvFlags("flags") ?? 0;
  const value = await call.body(kvValueMaxBytes);
  let verb: KvVerb = "set";
  let index: number | undefined;
  let session: string | undefined;
  if (call.params.has("cas")) {
    verb = "cas";
    index = call.params.uint("cas", "cas index");
    if (index === undefined) throw badRequest("Invalid cas index: a number is required");
  } else if (call.params.has("acquire")) {
    verb = "lock";
    session = call.params.get("acquire") ?? "";
  } else if (call.params.has("release")) {
    verb = "unlock";
    session = call.params.get("release") ?? "";
  }
  const answer = await backend.write(
    { op: "kv", Verb: verb, Key: key, Value: value, Flags: flags, ...(index === undefined ? {} : { Index: index }), ...(session === undefined ? {} : { Session: session }) },
    call.writeOptions(),
  );
  call.send(answer === true);
}

export async function kvDelete(call: Call, backend: AgentBackend): Promise<void> {
  const key = call.arg;
  conflicting(call, ["recurse", "cas"]);
  const recurse = call.params.has("recurse");
  if (key === "" && !recurse) throw badRequest("Missing key name");
  let verb: KvVerb = recurse ? "delete-tree" : "delete";
  let index: number | undefined;
  if (call.params.has("cas")) {
    verb = "delete-cas";
    index = call.params.uint("cas", "cas index");
    if (index === undefined) throw badRequest("Invalid cas index: a number is required");
  }
  const answer = await backend.write({ op: "kv", Verb: verb, Key: key, ...(index === undefined ? {} : { Index: index }) }, call.writeOptions());
  call.send(answer === true);
}
