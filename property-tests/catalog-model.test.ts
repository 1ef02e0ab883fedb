/**
 * Model-based test of the catalog: random sequences of every command run against the real
 * state machine and against a naive reference model (plain maps, full scans, no derived
 * indexes), comparing every command's result and every query's answer and index after each
 * step. The model's catalog indexes are derived, not tracked: a table's or a service's index is
 * the last Raft index at which its full answer changed, which is exactly Consul's promise
 * (no-op writes keep the index, deletes move it). A second real catalog is restored from a
 * snapshot whenever the sequence says so and must end byte-identical to the one never restored.
 */
import test from "ava";
import fc from "fast-check";
import type { KvFlags } from "../src/core/catalog/kv-flags.ts";
import { comparableJson } from "../src/core/util/json-key.ts";
import {
  Catalog, encodeCommand, type ApplyResult, type CheckRecord, type Command, type KvEntry, type KvOp,
  type NodeRecord, type ServiceRecord, type SessionRecord,
} from "../src/core/catalog/index.ts";

const nodeNames = ["n1", "n2", "n3"];
const serviceIds = ["web", "db", "x"];
const serviceNames = ["web", "db"];
const keys = ["a", "a/b", "a/c", "b"];
const prefixes = ["", "a", "a/", "b", "c"];
const sessionIds = ["s1", "s2"];
const statuses = ["passing", "warning", "critical"] as const;
type Status = (typeof statuses)[number];
const statusArb = fc.constantFrom<Status>("passing", "passing", "passing", "warning", "critical");

/** Coverage marks: the model counts the rare paths, and the test asserts each was reached. */
const marks = new Map<string, number>();
function mark(name: string): void {
  marks.set(name, (marks.get(name) ?? 0) + 1);
}

type Op =
  | { t: "register"; node: string; addr: string; rack: string; serf?: Status; svc?: { id: string; name: string; port: number; tags: string[]; check?: Status } }
  | { t: "deregister"; node: string; serviceId?: string; checkId?: string }
  | { t: "kv"; verb: "set" | "cas" | "delete" | "delete-tree" | "delete-cas" | "lock" | "unlock"; key: string; value: string; flags: KvFlags; index: number | "current"; session: string }
  | { t: "txn"; ops: { verb: "set" | "cas" | "delete" | "get" | "check-not-exists" | "lock" | "get-tree"; key: string; value: string; index: number | "current"; session: string }[] }
  | { t: "session"; id: string; node: string; ttl: string; behavior: "release" | "delete"; lockDelayMs: number; bindSerf: boolean }
  | { t: "destroy" | "renew" | "expire"; id: string }
  | { t: "advance"; ms: number }
  | { t: "reap"; back: number }
  | { t: "snapshot" };

const indexArb = fc.oneof(fc.constant("current" as const), fc.nat(40));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({
    t: fc.constant("register" as const), node: fc.constantFrom("n1", "n1", "n2", "n3"), addr: fc.constantFrom("10.0.0.1", "10.0.0.2"),
    rack: fc.constantFrom("r1", "r2"), serf: fc.option(statusArb, { nil: undefined }),
    svc: fc.option(fc.record({
      id: fc.constantFrom(...serviceIds), name: fc.constantFrom(...serviceNames), port: fc.constantFrom(80, 81),
      tags: fc.subarray(["v1", "v2"]), check: fc.option(statusArb, { nil: undefined }),
    }), { nil: undefined }),
  }) },
  { weight: 1, arbitrary: fc.record({
    t: fc.constant("deregister" as const), node: fc.constantFrom(...nodeNames),
    serviceId: fc.option(fc.constantFrom(...serviceIds), { nil: undefined }),
    checkId: fc.option(fc.constantFrom("serfHealth", "svc:web", "svc:x"), { nil: undefined }),
  }) },
  { weight: 6, arbitrary: fc.record({
    t: fc.constant("kv" as const), verb: fc.constantFrom("set", "cas", "delete", "delete-tree", "delete-cas", "lock", "lock", "unlock"),
    key: fc.constantFrom(...keys, ...prefixes), value: fc.constantFrom("", "v1", "v2"), flags: fc.constantFrom<KvFlags>(0, 7, 0x2ddccbc058a50c18n),
    index: indexArb, session: fc.constantFrom(...sessionIds),
  }) },
  { weight: 2, arbitrary: fc.record({
    t: fc.constant("txn" as const),
    ops: fc.array(fc.record({
      verb: fc.constantFrom("set", "cas", "delete", "get", "check-not-exists", "lock", "get-tree"),
      key: fc.constantFrom(...keys), value: fc.constantFrom("v1", "v3"), index: indexArb, session: fc.constantFrom(...sessionIds),
    }), { minLength: 1, maxLength: 3 }),
  }) },
  { weight: 3, arbitrary: fc.record({
    t: fc.constant("session" as const), id: fc.constantFrom(...sessionIds), node: fc.constantFrom("n1", "n1", "n2"),
    ttl: fc.constantFrom("", "10s", "5s"), behavior: fc.constantFrom("release" as const, "delete" as const),
    lockDelayMs: fc.constantFrom(0, 5000), bindSerf: fc.boolean(),
  }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom("destroy" as const, "renew" as const, "expire" as const), id: fc.constantFrom(...sessionIds) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: -3000, max: 25_000 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("reap" as const), back: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("snapshot" as const) }) },
);

const text = (value: string): Uint8Array | null => (value === "" ? null : new TextEncoder().encode(value));
const same = (a: unknown, b: unknown): boolean => comparableJson(a) === comparableJson(b);
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const fail = (status: number, message: string): ApplyResult => ({ ok: false, error: { status, message } as never });

interface MSession { rec: SessionRecord; ttlMs: number; renewedAtMs: number; delayMs: number }

/** The reference: everything recomputed by scanning; written from Consul's rules, not the code. */
class Model {
  index = 0;
  clock = 0;
  nodes = new Map<string, NodeRecord>();
  services = new Map<string, ServiceRecord & { node: string }>();
  checks = new Map<string, CheckRecord>();
  kv = new Map<string, KvEntry>();
  tombs = new Map<string, number>();
  kvTable = 0;
  /** Highest tombstone index reaped so far: a prefix's index never reports less. */
  reapedMax = 0;
  sessions = new Map<string, MSession>();
  lockDelay = new Map<string, number>();
  /** view name -> [last JSON, index at which it last changed]. */
  views = new Map<string, [string, number]>();
  everSeen = new Set<string>();

  nodeChecks(node: string): CheckRecord[] {
    return [...this.checks.values()].filter((c) => c.Node === node).sort((a, b) => cmp(a.CheckID, b.CheckID));
  }
  instances(name: string): (ServiceRecord & { node: string })[] {
    return [...this.services.values()].filter((s) => s.Service === name).sort((a, b) => cmp(a.node, b.node) || cmp(a.ID, b.ID));
  }
  health(name: string, passing: boolean): unknown[] {
    return this.instances(name).flatMap((s) => {
      const all = this.nodeChecks(s.node);
      const checks = all.filter((c) => c.ServiceID === "" || c.ServiceID === s.ID);
      if (passing && checks.some((c) => c.Status !== "passing")) return [];
      const { node, ...service } = s;
      return [{ Node: this.nodes.get(node), Service: service, Checks: checks }];
    });
  }
  viewIndex(name: string): number {
    return this.views.get(name)?.[1] ?? 0;
  }
  catalogTables(): number {
    return Math.max(this.viewIndex("nodes"), this.viewIndex("services"), this.viewIndex("checks"));
  }
  serviceIndex(name: string): number {
    return this.everSeen.has(name) ? this.viewIndex(`svc:${name}`) : this.catalogTables();
  }
  /** After each apply: a view whose answer changed gets this index. */
  observe(): void {
    const sorted = <T>(m: Map<string, T>) => [...m].sort((a, b) => cmp(a[0], b[0])).map(([, v]) => v);
    const views: [string, unknown][] = [
      ["nodes", sorted(this.nodes)], ["services", sorted(this.services)], ["checks", sorted(this.checks)],
      ["sessions", sorted(this.sessions).map((s) => s.rec)],
      ...serviceNames.map((name): [string, unknown] => [`svc:${name}`, this.health(name, false)]),
    ];
    for (const [name, value] of views) {
      const json = comparableJson(value);
      if (this.views.get(name)?.[0] !== json) this.views.set(name, [json, this.index]);
    }
    for (const s of this.services.values()) this.everSeen.add(s.Service);
  }

  // ---- KV, after Consul's kvs.go rules ----
  put(key: string, value: Uint8Array | null, flags: KvFlags, session: string | undefined | "keep", lockIndex?: number): KvEntry {
    const old = this.kv.get(key);
    const holder = session === "keep" ? old?.Session : session;
    const next: KvEntry = {
      LockIndex: lockIndex ?? old?.LockIndex ?? 0, Key: key, Flags: flags, Value: value,
      ...(holder === undefined ? {} : { Session: holder }), CreateIndex: old?.CreateIndex ?? this.index, ModifyIndex: this.index,
    };
    if (old && old.LockIndex === next.LockIndex && old.Flags === next.Flags && old.Session === next.Session && same(old.Value && [...old.Value], next.Value && [...next.Value])) return old;
    this.kv.set(key, next);
    this.kvTable = this.index;
    return next;
  }
  del(key: string): void {
    if (!this.kv.delete(key)) return;
    this.tombs.set(key, this.index);
    this.kvTable = this.index;
  }
  prefixIndex(prefix: string): number {
    if (prefix === "") return this.kvTable;
    let hi = 0;
    for (const e of this.kv.values()) if (e.Key.startsWith(prefix)) hi = Math.max(hi, e.ModifyIndex);
    for (const [k, i] of this.tombs) if (k.startsWith(prefix)) hi = Math.max(hi, i);
    return hi === 0 ? this.kvTable : Math.max(hi, this.reapedMax);
  }
  /** One KV verb: ["done", entries] | ["refused", what] | ["error", status, what]. */
  kvOp(op: KvOp): ["done", KvEntry[]] | ["refused", string] | ["error", number, string] {
    const old = this.kv.get(op.Key);
    const idx = op.Index ?? 0;
    switch (op.Verb) {
      case "set": return ["done", [this.put(op.Key, op.Value ?? null, op.Flags ?? 0, "keep", 0)]];
      case "cas":
        if ((idx === 0 && old) || (idx !== 0 && old?.ModifyIndex !== idx)) return ["refused", `failed to set key "${op.Key}", index is stale`];
        return ["done", [this.put(op.Key, op.Value ?? null, op.Flags ?? 0, "keep", 0)]];
      case "delete": this.del(op.Key); return ["done", []];
      case "delete-tree": for (const k of [...this.kv.keys()]) if (k.startsWith(op.Key)) this.del(k); return ["done", []];
      case "delete-cas":
        if (!old) return ["done", []];
        if (old.ModifyIndex !== idx) return ["refused", `failed to delete key "${op.Key}", index is stale`];
        this.del(op.Key);
        return ["done", []];
      case "lock": {
        if (!this.sessions.has(op.Session!)) return ["error", 500, `invalid session "${op.Session}"`];
        if (old?.Session !== undefined && old.Session !== op.Session) {
          mark("lock refused: held by another");
          return ["refused", `failed to lock key "${op.Key}", lock is already held`];
        }
        mark(old?.Session === op.Session ? "lock: re-acquired by holder" : "lock: acquired");
        const li = !old ? 1 : old.Session === op.Session ? old.LockIndex : old.LockIndex + 1;
        return ["done", [this.put(op.Key, op.Value ?? null, op.Flags ?? 0, op.Session, li)]];
      }
      case "unlock":
        if (!old || old.Session !== op.Session) return ["refused", `failed to unlock key "${op.Key}", lock isn't held, or is held by another session`];
        return ["done", [this.put(op.Key, op.Value ?? null, op.Flags ?? 0, undefined)]];
      case "get": return old ? ["done", [old]] : ["error", 500, `key "${op.Key}" doesn't exist`];
      case "get-tree": return ["done", [...this.kv.values()].filter((e) => e.Key.startsWith(op.Key)).sort((a, b) => cmp(a.Key, b.Key))];
      case "check-not-exists": return old ? ["error", 500, `key "${op.Key}" exists`] : ["done", []];
      default: throw new Error(`model lacks verb ${op.Verb}`);
    }
  }

  // ---- sessions ----
  invalidate(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    if ([...this.kv.values()].some((e) => e.Session === id)) mark(`invalidated holding locks: ${s.rec.Behavior}`);
    const delay = Math.min(s.delayMs, 60_000);
    for (const e of [...this.kv.values()].filter((e) => e.Session === id)) {
      if (s.rec.Behavior === "delete") this.del(e.Key);
      else this.put(e.Key, e.Value, e.Flags, undefined);
      if (delay > 0) this.lockDelay.set(e.Key, this.clock + delay);
    }
  }
  invalidateByCheck(node: string, checkId: string): void {
    for (const [id, s] of [...this.sessions]) {
      if (s.rec.Node !== node || !s.rec.Checks.includes(checkId)) continue;
      mark("session invalidated by its check");
      this.invalidate(id);
    }
  }

  // ---- catalog ----
  setCheck(node: string, checkId: string, status: Status, serviceId: string): void {
    const svc = serviceId === "" ? undefined : this.services.get(`${node}/${serviceId}`);
    const old = this.checks.get(`${node}/${checkId}`);
    const next: CheckRecord = {
      Node: node, CheckID: checkId, Name: checkId, Status: status, Notes: "", Output: "", ServiceID: serviceId,
      ServiceName: svc?.Service ?? "", ServiceTags: [...(svc?.Tags ?? [])], Type: "", CreateIndex: old?.CreateIndex ?? this.index, ModifyIndex: this.index,
    };
    if (!old || !same({ ...old, ModifyIndex: 0 }, { ...next, ModifyIndex: 0 })) this.checks.set(`${node}/${checkId}`, next);
    if (status === "critical") this.invalidateByCheck(node, checkId);
  }
  deleteCheck(node: string, checkId: string): void {
    if (!this.checks.delete(`${node}/${checkId}`)) return;
    this.invalidateByCheck(node, checkId);
  }
  deleteService(node: string, id: string): void {
    if (!this.services.has(`${node}/${id}`)) return;
    for (const c of this.nodeChecks(node)) if (c.ServiceID === id) this.deleteCheck(node, c.CheckID);
    this.services.delete(`${node}/${id}`);
  }
  deleteNode(node: string): void {
    if (!this.nodes.has(node)) return;
    for (const s of [...this.services.values()]) if (s.node === node) this.deleteService(node, s.ID);
    for (const c of this.nodeChecks(node)) this.deleteCheck(node, c.CheckID);
    for (const [id, s] of [...this.sessions]) if (s.rec.Node === node) this.invalidate(id);
    this.nodes.delete(node);
  }
}

function register(m: Model, op: Extract<Op, { t: "register" }>): ApplyResult {
  const old = m.nodes.get(op.node);
  if (!old || old.Address !== op.addr || old.Meta.rack !== op.rack) {
    m.nodes.set(op.node, { ID: "", Node: op.node, Address: op.addr, Datacenter: "dc1", TaggedAddresses: {}, Meta: { rack: op.rack }, CreateIndex: old?.CreateIndex ?? m.index, ModifyIndex: m.index });
  }
  if (op.svc) {
    const key = `${op.node}/${op.svc.id}`;
    const prev = m.services.get(key);
    const next = { Kind: "", ID: op.svc.id, Service: op.svc.name, Tags: op.svc.tags, Address: "", Meta: {}, Port: op.svc.port, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, CreateIndex: prev?.CreateIndex ?? m.index, ModifyIndex: m.index, node: op.node };
    if (!prev || !same({ ...prev, ModifyIndex: 0 }, { ...next, ModifyIndex: 0 })) m.services.set(key, next);
  }
  if (op.serf) m.setCheck(op.node, "serfHealth", op.serf, "");
  if (op.svc?.check) m.setCheck(op.node, `svc:${op.svc.id}`, op.svc.check, op.svc.id);
  return { ok: true, value: true };
}

function sessionCreate(m: Model, op: Extract<Op, { t: "session" }>): ApplyResult {
  if (op.ttl === "5s") return fail(500, "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]");
  if (m.sessions.has(op.id)) return fail(500, `Session ID "${op.id}" already exists`);
  if (!m.nodes.has(op.node)) return fail(500, "Missing node registration");
  const checks = op.bindSerf ? ["serfHealth"] : [];
  for (const c of checks) {
    const check = m.checks.get(`${op.node}/${c}`);
    if (!check) return fail(500, `Missing check '${c}' registration`);
    if (check.Status === "critical") return fail(500, `Check '${c}' is in critical state`);
  }
  const rec: SessionRecord = {
    ID: op.id, Name: "", Node: op.node, Checks: checks, NodeChecks: checks, ServiceChecks: [], LockDelay: op.lockDelayMs * 1e6,
    Behavior: op.behavior, TTL: op.ttl, CreateIndex: m.index, ModifyIndex: m.index,
  };
  m.sessions.set(op.id, { rec, ttlMs: op.ttl === "10s" ? 10_000 : 0, renewedAtMs: m.clock, delayMs: op.lockDelayMs });
  return { ok: true, value: { ID: op.id } };
}

function resolveIndex(m: Model, key: string, index: number | "current"): number {
  return index === "current" ? m.kv.get(key)?.ModifyIndex ?? 0 : index;
}

function kvOps(m: Model, op: Extract<Op, { t: "txn" }>): KvOp[] {
  return op.ops.map((o) => ({ Verb: o.verb, Key: o.key, Value: text(o.value), Index: resolveIndex(m, o.key, o.index), Session: o.session }));
}

function modelApply(m: Model, op: Op, txnOps: KvOp[]): ApplyResult {
  switch (op.t) {
    case "register": return register(m, op);
    case "deregister":
      if (op.serviceId) m.deleteService(op.node, op.serviceId);
      else if (op.checkId) m.deleteCheck(op.node, op.checkId);
      else m.deleteNode(op.node);
      return { ok: true, value: true };
    case "kv": {
      const kvOp: KvOp = { Verb: op.verb, Key: op.key, Value: text(op.value), Flags: op.flags, Index: resolveIndex(m, op.key, op.index), Session: op.session };
      if (op.verb === "lock" && (m.lockDelay.get(op.key) ?? 0) > m.clock) {
        mark("lock refused: lock-delay");
        return { ok: true, value: false };
      }
      const out = m.kvOp(kvOp);
      return out[0] === "error" ? fail(out[1], out[2]) : { ok: true, value: out[0] === "done" };
    }
    case "txn": return modelTxn(m, txnOps);
    case "session": return sessionCreate(m, op);
    case "destroy": m.invalidate(op.id); return { ok: true, value: true };
    case "renew": {
      const s = m.sessions.get(op.id);
      if (!s) return fail(404, `Session id '${op.id}' not found`);
      s.renewedAtMs = m.clock;
      return { ok: true, value: [s.rec] };
    }
    case "expire": {
      const s = m.sessions.get(op.id);
      if (!s || s.ttlMs === 0 || m.clock < s.renewedAtMs + 2 * s.ttlMs) return { ok: true, value: false };
      mark("session expired by TTL");
      m.invalidate(op.id);
      return { ok: true, value: true };
    }
    case "reap": {
      let reaped = 0;
      for (const [k, i] of [...m.tombs]) if (i <= m.index - op.back) { m.tombs.delete(k); m.reapedMax = Math.max(m.reapedMax, i); reaped++; }
      if (reaped > 0) m.kvTable = m.index;
      return { ok: true, value: reaped };
    }
    default: throw new Error(`model cannot apply ${op.t}`);
  }
}

function modelTxn(m: Model, ops: KvOp[]): ApplyResult {
  const saved = { kv: new Map(m.kv), tombs: new Map(m.tombs), kvTable: m.kvTable, reapedMax: m.reapedMax };
  const results: { KV: KvEntry }[] = [];
  const errors: { OpIndex: number; What: string }[] = [];
  ops.forEach((op, i) => {
    const out = m.kvOp(op);
    if (out[0] !== "done") errors.push({ OpIndex: i, What: out[0] === "refused" ? out[1] : out[2] });
    else for (const e of out[1]) results.push({ KV: op.Verb === "get" || op.Verb === "get-tree" ? e : { ...e, Value: null } });
  });
  if (errors.length === 0) {
    mark(results.length > 0 ? "txn committed with results" : "txn committed");
    return { ok: true, value: { Results: results, Errors: null } };
  }
  mark("txn rolled back");
  Object.assign(m, saved);
  return { ok: false, error: { status: 409, message: "Transaction rolled back", errors } };
}

function toCommand(m: Model, op: Op, txnOps: KvOp[], nowMs: number): Command | null {
  switch (op.t) {
    case "register": {
      const checks = [
        ...(op.serf ? [{ CheckID: "serfHealth", Name: "serfHealth", Status: op.serf }] : []),
        ...(op.svc?.check ? [{ CheckID: `svc:${op.svc.id}`, Name: `svc:${op.svc.id}`, Status: op.svc.check, ServiceID: op.svc.id }] : []),
      ];
      const service = op.svc && { ID: op.svc.id, Service: op.svc.name, Port: op.svc.port, Tags: op.svc.tags };
      return { v: 1, op: "catalog.register", nowMs, Node: op.node, Address: op.addr, NodeMeta: { rack: op.rack }, Service: service, Checks: checks };
    }
    case "deregister": return { v: 1, op: "catalog.deregister", nowMs, Node: op.node, ServiceID: op.serviceId, CheckID: op.checkId };
    case "kv":
      return { v: 1, op: "kv", nowMs, Verb: op.verb, Key: op.key, Value: text(op.value), Flags: op.flags, Index: resolveIndex(m, op.key, op.index), Session: op.session };
    case "txn": return { v: 1, op: "txn", nowMs, Ops: txnOps.map((kv) => ({ KV: kv })) };
    case "session":
      return { v: 1, op: "session.create", nowMs, ID: op.id, Node: op.node, TTL: op.ttl, Behavior: op.behavior, LockDelayMs: op.lockDelayMs, NodeChecks: op.bindSerf ? ["serfHealth"] : [] };
    case "destroy": return { v: 1, op: "session.destroy", nowMs, ID: op.id };
    case "renew": return { v: 1, op: "session.renew", nowMs, ID: op.id };
    case "expire": return { v: 1, op: "session.expire", nowMs, ID: op.id };
    case "reap": return { v: 1, op: "tombstone.reap", Index: m.index + 1 - op.back };
    default: return null;
  }
}

function compareQueries(real: Catalog, m: Model, where: string): void {
  const expect = (what: string, actual: unknown, expected: unknown) => {
    if (!same(actual, expected)) throw new Error(`${where}: ${what}\n  real:  ${comparableJson(actual)}\n  model: ${comparableJson(expected)}`);
  };
  const at = (index: number) => Math.max(1, index);
  for (const key of [...keys, ...prefixes]) {
    const entry = m.kv.get(key);
    expect(`kvGet(${key})`, real.kvGet(key), { index: at(entry?.ModifyIndex ?? m.kvTable), value: entry ?? null });
  }
  for (const prefix of prefixes) {
    const entries = [...m.kv.values()].filter((e) => e.Key.startsWith(prefix)).sort((a, b) => cmp(a.Key, b.Key));
    expect(`kvList(${prefix})`, real.kvList(prefix), { index: at(m.prefixIndex(prefix)), value: entries });
  }
  expect("catalogNodes", real.catalogNodes(), { index: at(m.viewIndex("nodes")), value: [...m.nodes.values()].sort((a, b) => cmp(a.Node, b.Node)) });
  expect("healthState(any).index", real.healthState("any").index, at(m.viewIndex("checks")));
  expect("catalogServices.index", real.catalogServices().index, at(m.viewIndex("services")));
  for (const name of serviceNames) {
    const index = at(m.serviceIndex(name));
    expect(`healthService(${name})`, real.healthService(name), { index, value: m.health(name, false) });
    expect(`healthService(${name}, passing)`, real.healthService(name, { passing: true }), { index, value: m.health(name, true) });
    expect(`catalogService(${name}) order`, real.catalogService(name).value.map((e) => `${e.Node}/${e.ServiceID}`), m.instances(name).map((s) => `${s.node}/${s.ID}`));
  }
  const sessions = [...m.sessions.values()].map((s) => s.rec).sort((a, b) => cmp(a.ID, b.ID));
  expect("sessionList", real.sessionList(), { index: at(m.viewIndex("sessions")), value: sessions });
  const expired = [...m.sessions.values()].filter((s) => s.ttlMs > 0 && m.clock + 5000 >= s.renewedAtMs + 2 * s.ttlMs).map((s) => s.rec.ID).sort();
  expect("expiredSessions", real.expiredSessions(m.clock + 5000), expired);
}

function run(ops: Op[]): void {
  const m = new Model();
  const plain = new Catalog();
  let restored = new Catalog();
  let nowMs = 1_000_000;
  for (const [step, op] of ops.entries()) {
    if (op.t === "advance") { nowMs += op.ms; continue; }
    if (op.t === "snapshot") {
      const next = new Catalog();
      next.restore(restored.snapshot());
      restored = next;
      continue;
    }
    const txnOps = op.t === "txn" ? kvOps(m, op) : [];
    const command = toCommand(m, op, txnOps, nowMs)!;
    const bytes = encodeCommand(command);
    m.index++;
    if (op.t !== "reap") m.clock = Math.max(m.clock, nowMs);
    const expected = modelApply(m, op, txnOps);
    m.observe();
    const actual = plain.applyBytes(bytes, m.index);
    restored.applyBytes(bytes, m.index);
    if (!same(actual, expected)) {
      throw new Error(`step ${step} ${comparableJson(op)}\n  real:  ${comparableJson(actual)}\n  model: ${comparableJson(expected)}`);
    }
    compareQueries(plain, m, `after step ${step} ${comparableJson(op)}`);
    plain.invariants();
  }
  const a = plain.snapshot();
  const b = restored.snapshot();
  if (!same([...a], [...b])) throw new Error("restored catalog's snapshot differs from the never-restored one");
  // The answers a client sees must be the same bytes too (field order included).
  const answers = (c: Catalog) => comparableJson([
    c.kvList(""), c.catalogNodes(), c.sessionList(), c.healthState("any"),
    ...serviceNames.flatMap((name) => [c.healthService(name), c.catalogService(name)]),
  ]);
  if (answers(plain) !== answers(restored)) throw new Error("restored catalog answers differ from the never-restored one");
}

const requiredMarks = [
  "lock: acquired", "lock: re-acquired by holder", "lock refused: held by another", "lock refused: lock-delay",
  "invalidated holding locks: release", "invalidated holding locks: delete", "session invalidated by its check",
  "session expired by TTL", "txn committed with results", "txn rolled back",
];

test.serial("catalog matches the reference model on random command sequences (results, answers, indexes)", (t) => {
  marks.clear();
  fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 80, size: "max" }), (ops) => run(ops)), { numRuns: 300, seed: 4242, includeErrorInReport: true });
  t.log(comparableJson(Object.fromEntries([...marks].sort())));
  for (const name of requiredMarks) t.true((marks.get(name) ?? 0) > 0, `coverage mark never hit: ${name}`);
});

test.serial("restore(snapshot) then the rest of the log gives the same bytes as never snapshotting", (t) => {
  fc.assert(fc.property(fc.array(opArb, { minLength: 5, maxLength: 80, size: "max" }), fc.nat(79), (ops, cut) => {
    const at = Math.min(cut, ops.length);
    run([...ops.slice(0, at), { t: "snapshot" }, ...ops.slice(at)]);
  }), { numRuns: 150, seed: 7, includeErrorInReport: true });
  t.pass();
});
