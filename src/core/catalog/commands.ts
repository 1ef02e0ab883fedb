/**
 * The catalog's Raft commands: versioned, self-describing records encoded as msgpack with sorted
 * keys, so the same command is the same bytes on every server and an old log replays on a newer
 * binary. Field names follow Consul's request bodies (RegisterRequest, DirEntry, TxnOps,
 * Session), so the HTTP layer adds `v`, `op` and the leader's `nowMs` to what it parsed.
 *
 * Decoding is tolerant where it is cheap: keys match case-insensitively (python-consul sends
 * `name`, `ttl`, `lockdelay`), a KV `Value` may be bytes or base64 text, and a malformed or
 * unknown command becomes an error result, never an exception.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { decodeBase64, parseGoDurationMs } from "./codec.ts";
import { kvFlagsWire, parseKvFlags, type KvFlags } from "./kv-flags.ts";
import type { CommandError, ServiceCheckRef, ServiceWeights } from "./types.ts";

export const commandVersion = 1;

// One reusable codec each: msgpack's encode()/decode() helpers build a new one per call, which
// costs more than decoding a small command.
const encoder = new Encoder({ sortKeys: true, ignoreUndefined: true });
const decoder = new Decoder();

export type KvVerb =
  | "set" | "cas" | "lock" | "unlock" | "get" | "get-or-empty" | "get-tree" | "check-index" | "check-session"
  | "check-not-exists" | "delete" | "delete-tree" | "delete-cas";
export const kvVerbs: readonly KvVerb[] = [
  "set", "cas", "lock", "unlock", "get", "get-or-empty", "get-tree", "check-index", "check-session",
  "check-not-exists", "delete", "delete-tree", "delete-cas",
];
/** Verbs of txn Node, Service and Check operations (Consul's api.NodeOp, ServiceOp, CheckOp). */
export type CatalogTxnVerb = "get" | "set" | "cas" | "delete" | "delete-cas";
export const catalogTxnVerbs: readonly CatalogTxnVerb[] = ["get", "set", "cas", "delete", "delete-cas"];
/** Verbs a single `kv` command may carry; reads go through queries or a txn. */
export const kvWriteVerbs: readonly KvVerb[] = ["set", "cas", "lock", "unlock", "delete", "delete-tree", "delete-cas"];

export interface ServiceInput {
  ID?: string;
  Service: string;
  Tags?: string[];
  Address?: string;
  Meta?: Record<string, string>;
  Port?: number;
  Weights?: ServiceWeights;
  EnableTagOverride?: boolean;
  Kind?: string;
}

export interface CheckInput {
  Node?: string;
  CheckID?: string;
  Name?: string;
  Status?: string;
  Notes?: string;
  Output?: string;
  ServiceID?: string;
  Type?: string;
}

export interface KvOp {
  Verb: KvVerb;
  Key: string;
  Value?: Uint8Array | null;
  Flags?: KvFlags;
  /** ModifyIndex for cas / check-index / delete-cas. */
  Index?: number;
  Session?: string;
}

/** A txn Node op: the node record only (services and checks have their own ops). */
export interface NodeTxnOp {
  Verb: CatalogTxnVerb;
  Node: {
    ID?: string; Node: string; Address?: string; Datacenter?: string;
    TaggedAddresses?: Record<string, string>; Meta?: Record<string, string>; ModifyIndex?: number;
  };
}

/** A txn Service op on the named node. */
export interface ServiceTxnOp {
  Verb: CatalogTxnVerb;
  Node: string;
  Service: ServiceInput & { ModifyIndex?: number };
}

/** A txn Check op; the check names its node. */
export interface CheckTxnOp {
  Verb: CatalogTxnVerb;
  Check: CheckInput & { ModifyIndex?: number };
}

/** A txn Session op: Consul's state store knows only `delete`. */
export interface SessionTxnOp {
  Verb: string;
  Session: { ID: string; Node?: string };
}

/** A prepared query as a create or update carries it (Consul's structs.PreparedQuery, JSON names). */
export interface PreparedQueryInput {
  ID?: string;
  Name?: string;
  Session?: string;
  Token?: string;
  Template?: { Type?: string; Regexp?: string; RemoveEmptyTags?: boolean };
  Service?: {
    Service?: string;
    Failover?: { NearestN?: number; Datacenters?: string[] };
    IgnoreCheckIDs?: string[];
    OnlyPassing?: boolean;
    Near?: string;
    Tags?: string[];
    NodeMeta?: Record<string, string>;
    ServiceMeta?: Record<string, string>;
    Connect?: boolean;
  };
  DNS?: { TTL?: string };
}

export type PreparedQueryVerb = "create" | "update" | "delete";

export type TxnOp = { KV: KvOp } | { Node: NodeTxnOp } | { Service: ServiceTxnOp } | { Check: CheckTxnOp } | { Session: SessionTxnOp };

export type Command =
  | {
      v: 1; op: "catalog.register"; nowMs?: number; Node: string; ID?: string; Address: string; Datacenter?: string;
      TaggedAddresses?: Record<string, string>; NodeMeta?: Record<string, string>;
      Service?: ServiceInput; Check?: CheckInput; Checks?: CheckInput[]; SkipNodeUpdate?: boolean;
    }
  | { v: 1; op: "catalog.deregister"; nowMs?: number; Node: string; ServiceID?: string; CheckID?: string }
  | ({ v: 1; op: "kv"; nowMs: number } & KvOp)
  | { v: 1; op: "txn"; nowMs: number; Ops: TxnOp[] }
  | {
      v: 1; op: "session.create"; nowMs: number; ID: string; Node: string; Name?: string;
      NodeChecks?: string[]; ServiceChecks?: { ID: string; Namespace?: string }[]; LockDelayMs?: number;
      Behavior?: string; TTL?: string;
    }
  /** Explicit destroy (`PUT /v1/session/destroy/:id`). */
  | { v: 1; op: "session.destroy"; nowMs: number; ID: string }
  /** Renew resets the TTL clock from the leader's `nowMs`. */
  | { v: 1; op: "session.renew"; nowMs: number; ID: string }
  /** The leader's TTL timer fired; applied only if the session is still expired at `nowMs`. */
  | { v: 1; op: "session.expire"; nowMs: number; ID: string }
  /**
   * A prepared query create (the leader fills an empty `Query.ID` with a UUID drawn from its
   * injected Rng), update or delete (only `Query.ID` is read).
   */
  | { v: 1; op: "query"; nowMs: number; Verb: PreparedQueryVerb; Query: PreparedQueryInput }
  /** Consul's leader reaps KV tombstones up to an index after its tombstone TTL. */
  | { v: 1; op: "tombstone.reap"; Index: number }
  /** An operator's restore (PUT /v1/snapshot): `Data` is a catalog snapshot (GET /v1/snapshot's bytes). */
  | { v: 1; op: "snapshot.restore"; nowMs: number; Data: Uint8Array };

export type CommandOp = Command["op"];

export function encodeCommand(command: Command): Uint8Array {
  return encoder.encode(wireFlags(command));
}

/** The command with any bigint KV flags as decimal strings (msgpack has no bigint here). */
function wireFlags(command: Command): Command {
  const kv = (op: KvOp): KvOp => (typeof op.Flags === "bigint" ? { ...op, Flags: kvFlagsWire(op.Flags) as unknown as KvFlags } : op);
  if (command.op === "kv") return kv(command) as Command;
  if (command.op === "txn" && command.Ops.some((op) => "KV" in op && typeof op.KV.Flags === "bigint")) {
    return { ...command, Ops: command.Ops.map((op) => ("KV" in op ? { KV: kv(op.KV) } : op)) };
  }
  return command;
}

export type DecodeResult = { ok: true; command: Command } | { ok: false; error: CommandError };

class DecodeError extends Error {}

function bad(message: string): never {
  throw new DecodeError(message);
}

export function decodeCommand(bytes: Uint8Array): DecodeResult {
  let raw: unknown;
  try {
    raw = decoder.decode(bytes);
  } catch (error) {
    return { ok: false, error: { status: 400, message: `malformed command: ${String(error)}` } };
  }
  return normalizeCommand(raw);
}

/** Validates and canonicalizes a command given as a plain object (from msgpack or JSON). */
export function normalizeCommand(raw: unknown): DecodeResult {
  try {
    return { ok: true, command: toCommand(record(raw, "command")) };
  } catch (error) {
    if (error instanceof DecodeError) return { ok: false, error: { status: 400, message: error.message } };
    throw error;
  }
}

function toCommand(raw: Record<string, unknown>): Command {
  const version = num(raw, "v");
  if (version !== commandVersion) bad(`unsupported command version ${String(version)}`);
  const op = str(raw, "op");
  switch (op) {
    case "catalog.register": return toRegister(raw);
    case "catalog.deregister":
      return { v: 1, op, nowMs: num(raw, "nowMs"), Node: reqStr(raw, "Node"), ServiceID: str(raw, "ServiceID"), CheckID: str(raw, "CheckID") };
    case "kv": {
      const kvOp = toKvOp(raw);
      if (!kvWriteVerbs.includes(kvOp.Verb)) bad(`kv command cannot carry verb "${kvOp.Verb}"`);
      return { v: 1, op, nowMs: num(raw, "nowMs") ?? 0, ...kvOp };
    }
    case "txn": return toTxn(raw);
    case "session.create": return toSessionCreate(raw);
    case "session.destroy":
    case "session.renew":
    case "session.expire":
      return { v: 1, op, nowMs: num(raw, "nowMs") ?? 0, ID: reqStr(raw, "ID") };
    case "tombstone.reap": return { v: 1, op, Index: num(raw, "Index") ?? 0 };
    case "query": return toPreparedQueryCommand(raw);
    case "snapshot.restore": {
      const data = field(raw, "Data");
      if (!(data instanceof Uint8Array) || data.length === 0) bad("snapshot.restore needs the snapshot archive's bytes in Data");
      return { v: 1, op, nowMs: num(raw, "nowMs") ?? 0, Data: data };
    }
    default: return bad(`unknown command op ${JSON.stringify(op ?? null)}`);
  }
}

function toRegister(raw: Record<string, unknown>): Command {
  const service = field(raw, "Service");
  const check = field(raw, "Check");
  const checks = field(raw, "Checks");
  return {
    v: 1, op: "catalog.register", nowMs: num(raw, "nowMs"), Node: reqStr(raw, "Node"), ID: str(raw, "ID"),
    Address: str(raw, "Address") ?? "", Datacenter: str(raw, "Datacenter"),
    TaggedAddresses: strMap(raw, "TaggedAddresses"), NodeMeta: strMap(raw, "NodeMeta"),
    Service: service === undefined || service === null ? undefined : toService(record(service, "Service")),
    Check: check === undefined || check === null ? undefined : toCheck(record(check, "Check")),
    Checks: checks === undefined || checks === null ? undefined : list(checks, "Checks").map((c) => toCheck(record(c, "Checks[]"))),
    SkipNodeUpdate: bool(raw, "SkipNodeUpdate"),
  };
}

function toService(raw: Record<string, unknown>): ServiceInput {
  const weights = field(raw, "Weights");
  const weightsRecord = weights === undefined || weights === null ? undefined : record(weights, "Weights");
  return {
    ID: str(raw, "ID"), Service: reqStr(raw, "Service"), Tags: strList(raw, "Tags"),
    Address: str(raw, "Address"), Meta: strMap(raw, "Meta"), Port: num(raw, "Port"),
    Weights: weightsRecord && { Passing: num(weightsRecord, "Passing") ?? 1, Warning: num(weightsRecord, "Warning") ?? 1 },
    EnableTagOverride: bool(raw, "EnableTagOverride"), Kind: str(raw, "Kind"),
  };
}

function toCheck(raw: Record<string, unknown>): CheckInput {
  return {
    Node: str(raw, "Node"), CheckID: str(raw, "CheckID") ?? str(raw, "ID"), Name: str(raw, "Name"),
    Status: str(raw, "Status"), Notes: str(raw, "Notes"), Output: str(raw, "Output"),
    ServiceID: str(raw, "ServiceID"), Type: str(raw, "Type"),
  };
}

function toKvOp(raw: Record<string, unknown>): KvOp {
  const verb = reqStr(raw, "Verb");
  if (!(kvVerbs as readonly string[]).includes(verb)) bad(`unknown KV verb ${JSON.stringify(verb)}`);
  return {
    Verb: verb as KvVerb, Key: str(raw, "Key") ?? "", Value: value(raw), Flags: flags(raw),
    Index: num(raw, "Index") ?? num(raw, "ModifyIndex"), Session: str(raw, "Session"),
  };
}

function toTxn(raw: Record<string, unknown>): Command {
  const ops = list(field(raw, "Ops") ?? [], "Ops").map((op, i) => toTxnOp(record(op, `Ops[${i}]`), `Ops[${i}]`));
  return { v: 1, op: "txn", nowMs: num(raw, "nowMs") ?? 0, Ops: ops };
}

/** One txn op: exactly one of KV, Node, Service, Check or Session (Consul's TxnOp). */
function toTxnOp(raw: Record<string, unknown>, what: string): TxnOp {
  const present = ["KV", "Node", "Service", "Check", "Session"].filter((kind) => {
    const got = field(raw, kind);
    return got !== undefined && got !== null;
  });
  if (present.length !== 1) bad(`${what}: expected exactly one of KV, Node, Service, Check or Session, got ${present.length === 0 ? "none" : present.join(", ")}`);
  const kind = present[0]!;
  const body = record(field(raw, kind), `${what}.${kind}`);
  switch (kind) {
    case "KV": return { KV: toKvOp(body) };
    case "Node": {
      const node = record(field(body, "Node") ?? bad(`${what}.Node: missing Node`), `${what}.Node.Node`);
      return {
        Node: {
          Verb: catalogTxnVerb(body, what),
          Node: {
            ID: str(node, "ID"), Node: reqStr(node, "Node"), Address: str(node, "Address"), Datacenter: str(node, "Datacenter"),
            TaggedAddresses: strMap(node, "TaggedAddresses"), Meta: strMap(node, "Meta"), ModifyIndex: num(node, "ModifyIndex"),
          },
        },
      };
    }
    case "Service": {
      const service = record(field(body, "Service") ?? bad(`${what}.Service: missing Service`), `${what}.Service.Service`);
      const verb = catalogTxnVerb(body, what);
      // Only set and cas need the service's name; get and delete name the instance by ID.
      const named = verb === "set" || verb === "cas";
      const input = named ? toService(service) : { ID: reqStr(service, "ID"), Service: str(service, "Service") ?? "" };
      return { Service: { Verb: verb, Node: reqStr(body, "Node"), Service: { ...input, ModifyIndex: num(service, "ModifyIndex") } } };
    }
    case "Check": {
      const check = record(field(body, "Check") ?? bad(`${what}.Check: missing Check`), `${what}.Check.Check`);
      return { Check: { Verb: catalogTxnVerb(body, what), Check: { ...toCheck(check), Node: reqStr(check, "Node"), ModifyIndex: num(check, "ModifyIndex") } } };
    }
    default: {
      const session = record(field(body, "Session") ?? bad(`${what}.Session: missing Session`), `${what}.Session.Session`);
      return { Session: { Verb: reqStr(body, "Verb"), Session: { ID: reqStr(session, "ID"), Node: str(session, "Node") } } };
    }
  }
}

function catalogTxnVerb(raw: Record<string, unknown>, what: string): CatalogTxnVerb {
  const verb = reqStr(raw, "Verb");
  if (!(catalogTxnVerbs as readonly string[]).includes(verb)) bad(`${what}: unknown verb ${JSON.stringify(verb)} (known: ${catalogTxnVerbs.join(", ")})`);
  return verb as CatalogTxnVerb;
}

function toPreparedQueryCommand(raw: Record<string, unknown>): Command {
  const verb = reqStr(raw, "Verb");
  if (verb !== "create" && verb !== "update" && verb !== "delete") bad(`unknown prepared query operation: ${verb}`);
  const query = record(field(raw, "Query") ?? {}, "Query");
  return { v: 1, op: "query", nowMs: num(raw, "nowMs") ?? 0, Verb: verb, Query: toPreparedQuery(query) };
}

/** Shape only: what Consul's JSON decoder would refuse. Meaning (parseQuery, names, sessions) is checked at apply. */
export function toPreparedQuery(raw: Record<string, unknown>): PreparedQueryInput {
  const sub = (name: string): Record<string, unknown> | undefined => {
    const got = field(raw, name);
    return got === undefined || got === null ? undefined : record(got, name);
  };
  const template = sub("Template");
  const dns = sub("DNS");
  const service = sub("Service");
  const failoverRaw = service === undefined ? undefined : field(service, "Failover");
  const failover = failoverRaw === undefined || failoverRaw === null ? undefined : record(failoverRaw, "Failover");
  return {
    ID: str(raw, "ID"), Name: str(raw, "Name"), Session: str(raw, "Session"), Token: str(raw, "Token"),
    Template: template && { Type: str(template, "Type"), Regexp: str(template, "Regexp"), RemoveEmptyTags: bool(template, "RemoveEmptyTags") },
    Service: service && {
      Service: str(service, "Service"),
      Failover: failover && { NearestN: num(failover, "NearestN"), Datacenters: strList(failover, "Datacenters") },
      IgnoreCheckIDs: strList(service, "IgnoreCheckIDs"), OnlyPassing: bool(service, "OnlyPassing"), Near: str(service, "Near"),
      Tags: strList(service, "Tags"), NodeMeta: strMap(service, "NodeMeta"), ServiceMeta: strMap(service, "ServiceMeta"),
      Connect: bool(service, "Connect"),
    },
    DNS: dns && { TTL: str(dns, "TTL") },
  };
}

function toSessionCreate(raw: Record<string, unknown>): Command {
  const serviceChecks = field(raw, "ServiceChecks");
  const legacy = strList(raw, "Checks");
  const nodeChecks = strList(raw, "NodeChecks");
  return {
    v: 1, op: "session.create", nowMs: num(raw, "nowMs") ?? 0, ID: reqStr(raw, "ID"),
    Node: reqStr(raw, "Node"), Name: str(raw, "Name"),
    NodeChecks: sessionNodeChecks(legacy, nodeChecks),
    ServiceChecks: serviceChecks === undefined || serviceChecks === null ? [] : list(serviceChecks, "ServiceChecks").map((c) => {
      const ref = record(c, "ServiceChecks[]");
      return { ID: reqStr(ref, "ID"), Namespace: str(ref, "Namespace") ?? "" };
    }),
    LockDelayMs: lockDelayMs(raw), Behavior: str(raw, "Behavior"), TTL: str(raw, "TTL"),
  };
}

/**
 * Consul's session endpoint starts from `Checks` and `NodeChecks` both [serfHealth], lets the
 * body override either, then applies fixupEmptySessionChecks: `Checks: []` means no node checks
 * at all, a default `Checks` defers to NodeChecks, an empty NodeChecks defers to Checks. The
 * session is bound to both lists.
 */
function sessionNodeChecks(legacyGiven: string[] | undefined, nodeChecksGiven: string[] | undefined): string[] {
  const legacy = legacyGiven ?? ["serfHealth"];
  const nodeChecks = nodeChecksGiven ?? ["serfHealth"];
  if (legacy.length === 0) return [];
  if (legacy.length === 1 && legacy[0] === "serfHealth") return [...new Set(nodeChecks)];
  if (nodeChecks.length === 0) return [];
  return [...new Set([...nodeChecks, ...legacy])];
}

/**
 * Consul's FixupLockDelay: a duration string is parsed; a bare number below 1000 is seconds,
 * otherwise nanoseconds. `LockDelayMs` (already normalized) wins when present.
 */
export function lockDelayMs(raw: Record<string, unknown>): number | undefined {
  const normalized = num(raw, "LockDelayMs");
  if (normalized !== undefined) return normalized;
  const given = field(raw, "LockDelay");
  if (given === undefined || given === null) return undefined;
  if (typeof given === "string") {
    const ms = parseGoDurationMs(given);
    if (ms === null) bad(`invalid LockDelay ${JSON.stringify(given)}`);
    return ms;
  }
  if (typeof given !== "number" || !Number.isFinite(given)) bad("LockDelay must be a duration");
  return given < 1000 ? given * 1000 : given / 1e6;
}

/** Per decoded object: its keys by lowercase, built on the first lookup that misses. */
const foldedKeys = new WeakMap<Record<string, unknown>, Map<string, string>>();
const foldedNames = new Map<string, string>();

/** Finds a key exactly, or else case-insensitively, as Go's encoding/json does. */
function field(raw: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(raw, name)) return raw[name];
  let keys = foldedKeys.get(raw);
  if (keys === undefined) {
    keys = new Map(Object.keys(raw).map((key) => [key.toLowerCase(), key]));
    foldedKeys.set(raw, keys);
  }
  let folded = foldedNames.get(name);
  if (folded === undefined) foldedNames.set(name, (folded = name.toLowerCase()));
  const key = keys.get(folded);
  return key === undefined ? undefined : raw[key];
}

function record(raw: unknown, what: string): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) bad(`${what} must be an object`);
  return raw as Record<string, unknown>;
}

function list(raw: unknown, what: string): unknown[] {
  if (!Array.isArray(raw)) bad(`${what} must be a list`);
  return raw;
}

function str(raw: Record<string, unknown>, name: string): string | undefined {
  const got = field(raw, name);
  if (got === undefined || got === null) return undefined;
  if (typeof got !== "string") bad(`${name} must be a string`);
  return got;
}

function reqStr(raw: Record<string, unknown>, name: string): string {
  const got = str(raw, name);
  if (got === undefined || got === "") bad(`Must provide ${name}`);
  return got;
}

function num(raw: Record<string, unknown>, name: string): number | undefined {
  const got = field(raw, name);
  if (got === undefined || got === null) return undefined;
  if (typeof got === "bigint") return Number(got);
  if (typeof got !== "number" || !Number.isFinite(got)) bad(`${name} must be a number`);
  return got;
}

function flags(raw: Record<string, unknown>): KvFlags | undefined {
  const got = field(raw, "Flags");
  if (got === undefined || got === null) return undefined;
  const parsed = parseKvFlags(got);
  if (parsed === undefined) bad(`Flags must be an unsigned 64-bit integer (a JSON number above 2^53 - 1 arrives rounded: send it in ?flags), got ${String(got)}`);
  return parsed;
}

function bool(raw: Record<string, unknown>, name: string): boolean | undefined {
  const got = field(raw, name);
  if (got === undefined || got === null) return undefined;
  if (typeof got !== "boolean") bad(`${name} must be a boolean`);
  return got;
}

function strList(raw: Record<string, unknown>, name: string): string[] | undefined {
  const got = field(raw, name);
  if (got === undefined || got === null) return undefined;
  return list(got, name).map((item) => {
    if (typeof item !== "string") bad(`${name} must hold strings`);
    return item;
  });
}

function strMap(raw: Record<string, unknown>, name: string): Record<string, string> | undefined {
  const got = field(raw, name);
  if (got === undefined || got === null) return undefined;
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(record(got, name))) {
    if (typeof item !== "string") bad(`${name}.${key} must be a string`);
    out[key] = item;
  }
  return out;
}

function value(raw: Record<string, unknown>): Uint8Array | null | undefined {
  const got = field(raw, "Value");
  if (got === undefined) return undefined;
  if (got === null || got instanceof Uint8Array) return got;
  if (typeof got === "string") return decodeBase64(got) ?? bad("Value is not valid base64");
  return bad("Value must be bytes or base64 text");
}
