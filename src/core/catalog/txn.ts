/**
 * Transactions (Consul's state/txn.go): up to `txnOpsMax` KV, Node, Service, Check and Session
 * operations applied in order, each seeing the ones before it, all or nothing. Every failing op
 * is reported as `{OpIndex, What}` with Consul's text and the whole txn rolls back (409).
 *
 * Results use Consul's shapes, one per op that has one: `{"KV": entry}` (the value only for
 * `get`/`get-or-empty`/`get-tree`), `{"Node": node}`, `{"Service": service}`, `{"Check": check}`;
 * deletes and Session ops have none.
 *
 * Rollback: a txn of KV ops only runs on the KV store's journal; a txn that touches the catalog
 * tables keeps the state's snapshot bytes and puts them back on failure (those txns are rare,
 * and one code path for every table cannot miss a derived index).
 */
import { assert } from "../util/assert.ts";
import type { CheckInput, KvOp, NodeTxnOp, ServiceTxnOp, CheckTxnOp, SessionTxnOp, TxnOp } from "./commands.ts";
import { runKvOp } from "./kv-ops.ts";
import { deregister, register } from "./registration.ts";
import { invalidateSession } from "./sessions.ts";
import { decodeSnapshot, encodeSnapshot } from "./snapshot.ts";
import type { CatalogState } from "./state.ts";
import type { ApplyResult, CheckRecord, KvEntry, NodeRecord, ServiceRecord, TxnError, TxnResult } from "./types.ts";
import { Touch } from "./watch.ts";

export type TxnResultEntry = TxnResult;

type OpOutcome = { ok: true; results: TxnResultEntry[] } | { ok: false; what: string };

const okWith = (...results: TxnResultEntry[]): OpOutcome => ({ ok: true, results });
const failed = (what: string): OpOutcome => ({ ok: false, what });

const kvReadVerbs = new Set(["get", "get-or-empty", "get-tree", "check-index", "check-session", "check-not-exists"]);

/** Whether the op only reads (a txn of such ops is answered without Raft, Consul's TxnRO). */
export function isReadOp(op: TxnOp): boolean {
  if ("KV" in op) return kvReadVerbs.has(op.KV.Verb);
  if ("Node" in op) return op.Node.Verb === "get";
  if ("Service" in op) return op.Service.Verb === "get";
  if ("Check" in op) return op.Check.Verb === "get";
  return false;
}

export function isReadOnlyTxn(ops: readonly TxnOp[]): boolean {
  return ops.every(isReadOp);
}

/**
 * Applies a txn. `readOnly` runs it as Consul's TxnRO: write ops are refused and nothing stays
 * changed. Lock-delay is not consulted, as Consul's txn endpoint does not.
 */
export function applyTxn(state: CatalogState, ops: readonly TxnOp[], readOnly: boolean, nowMs: number): ApplyResult {
  const opsMax = state.config.txnOpsMax;
  if (ops.length > opsMax) {
    return { ok: false, error: { status: 413, message: `Transaction contains too many operations (${ops.length} > ${opsMax})` } };
  }
  const kvOnly = ops.every((op) => "KV" in op);
  const saved = kvOnly ? null : encodeSnapshot(state);
  const outer = state.touch;
  state.touch = new Touch();
  if (kvOnly) state.kv.begin();
  const results: TxnResultEntry[] = [];
  const errors: TxnError[] = [];
  ops.forEach((op, opIndex) => {
    const outcome = readOnly && !isReadOp(op) ? failed(`${describeVerb(op)} is not allowed in a read-only txn`) : runOp(state, op, nowMs);
    if (outcome.ok) results.push(...outcome.results);
    else errors.push({ OpIndex: opIndex, What: outcome.what });
  });
  const inner = state.touch;
  state.touch = outer;
  if (errors.length > 0 || readOnly) {
    rollback(state, saved);
    if (errors.length === 0) return { ok: true, value: { Results: results, Errors: null } };
    return { ok: false, error: { status: 409, message: "Transaction rolled back", errors } };
  }
  if (kvOnly) state.kv.commit();
  for (const scope of inner.scopes) outer.scopes.add(scope);
  for (const key of inner.kvKeys) outer.kvKeys.add(key);
  return { ok: true, value: { Results: results, Errors: null } };
}

function rollback(state: CatalogState, saved: Uint8Array | null): void {
  if (saved === null) {
    state.kv.rollback();
    return;
  }
  const index = state.index;
  const clockMs = state.clockMs;
  state.replaceWith(decodeSnapshot(saved, state.config));
  state.index = index;
  state.clockMs = clockMs;
  state.touch = new Touch();
}

function describeVerb(op: TxnOp): string {
  if ("KV" in op) return `verb "${op.KV.Verb}"`;
  if ("Node" in op) return `Node verb "${op.Node.Verb}"`;
  if ("Service" in op) return `Service verb "${op.Service.Verb}"`;
  if ("Check" in op) return `Check verb "${op.Check.Verb}"`;
  return `Session verb "${op.Session.Verb}"`;
}

function runOp(state: CatalogState, op: TxnOp, nowMs: number): OpOutcome {
  if ("KV" in op) return kvOp(state, op.KV);
  if ("Node" in op) return nodeOp(state, op.Node, nowMs);
  if ("Service" in op) return serviceOp(state, op.Service, nowMs);
  if ("Check" in op) return checkOp(state, op.Check, nowMs);
  return sessionOp(state, op.Session, nowMs);
}

function kvOp(state: CatalogState, op: KvOp): OpOutcome {
  const size = op.Value?.length ?? 0;
  if (size > state.config.kvValueMaxBytes) {
    return failed(`Value for key "${op.Key}" is too large (${size} > ${state.config.kvValueMaxBytes} bytes)`);
  }
  if (op.Verb === "get-or-empty") {
    const entry = state.kv.get(op.Key);
    const empty: KvEntry = {
      LockIndex: 0, Key: op.Key, Flags: op.Flags ?? 0, Value: null,
      ...(op.Session === undefined || op.Session === "" ? {} : { Session: op.Session }), CreateIndex: 0, ModifyIndex: op.Index ?? 0,
    };
    return okWith({ KV: entry === undefined ? empty : { ...entry } });
  }
  const outcome = runKvOp(state, op);
  if (outcome.kind !== "done") return failed(outcome.what);
  const keepValue = op.Verb === "get" || op.Verb === "get-tree";
  return okWith(...outcome.entries.map((entry) => ({ KV: keepValue ? { ...entry } : { ...entry, Value: null } })));
}

// ---- Node ----

function copyNode(node: NodeRecord): NodeRecord {
  return { ...node, TaggedAddresses: { ...node.TaggedAddresses }, Meta: { ...node.Meta } };
}

function nodeOp(state: CatalogState, op: NodeTxnOp, nowMs: number): OpOutcome {
  const name = op.Node.Node;
  const existing = state.nodes.get(name);
  switch (op.Verb) {
    case "get":
      return existing === undefined ? failed(`node "${name}" doesn't exist`) : okWith({ Node: copyNode(existing) });
    case "cas":
      if (!casMatches(existing, op.Node.ModifyIndex)) return failed(`failed to set node "${name}", index is stale`);
      return setNode(state, op, nowMs);
    case "set":
      return setNode(state, op, nowMs);
    case "delete":
      deregister(state, { v: 1, op: "catalog.deregister", Node: name }, nowMs);
      return okWith();
    case "delete-cas":
      if (existing === undefined || existing.ModifyIndex !== (op.Node.ModifyIndex ?? 0)) return failed(`failed to delete node "${name}", index is stale`);
      deregister(state, { v: 1, op: "catalog.deregister", Node: name }, nowMs);
      return okWith();
  }
}

/** Consul's CAS rule for catalog records: 0 creates only, otherwise the ModifyIndex must match. */
function casMatches(existing: { ModifyIndex: number } | undefined, index: number | undefined): boolean {
  const want = index ?? 0;
  return want === 0 ? existing === undefined : existing?.ModifyIndex === want;
}

function setNode(state: CatalogState, op: NodeTxnOp, nowMs: number): OpOutcome {
  const node = op.Node;
  const result = register(state, {
    v: 1, op: "catalog.register", Node: node.Node, ID: node.ID, Address: node.Address ?? "", Datacenter: node.Datacenter,
    TaggedAddresses: node.TaggedAddresses, NodeMeta: node.Meta,
  }, nowMs);
  if (!result.ok) return failed(result.error.message);
  return okWith({ Node: copyNode(state.nodes.get(node.Node)!) });
}

// ---- Service ----

function copyService(service: ServiceRecord): ServiceRecord {
  return { ...service, Tags: [...service.Tags], Meta: { ...service.Meta }, Weights: { ...service.Weights } };
}

function serviceOp(state: CatalogState, op: ServiceTxnOp, nowMs: number): OpOutcome {
  const id = op.Service.ID || op.Service.Service;
  const existing = state.services.get(op.Node)?.get(id);
  const where = `service "${id}" on node "${op.Node}"`;
  switch (op.Verb) {
    case "get":
      return existing === undefined ? failed(`${where} doesn't exist`) : okWith({ Service: copyService(existing) });
    case "cas":
      if (!casMatches(existing, op.Service.ModifyIndex)) return failed(`failed to set ${where}, index is stale`);
      return setService(state, op, id, nowMs);
    case "set":
      return setService(state, op, id, nowMs);
    case "delete":
      deregister(state, { v: 1, op: "catalog.deregister", Node: op.Node, ServiceID: id }, nowMs);
      return okWith();
    case "delete-cas":
      if (existing === undefined || existing.ModifyIndex !== (op.Service.ModifyIndex ?? 0)) return failed(`failed to delete ${where}, index is stale`);
      deregister(state, { v: 1, op: "catalog.deregister", Node: op.Node, ServiceID: id }, nowMs);
      return okWith();
  }
}

function setService(state: CatalogState, op: ServiceTxnOp, id: string, nowMs: number): OpOutcome {
  if (!state.nodes.has(op.Node)) return failed("Missing node registration");
  if (op.Service.Service === "") return failed("Must provide service name");
  const { ModifyIndex: _ignored, ...service } = op.Service;
  const result = register(state, { v: 1, op: "catalog.register", Node: op.Node, Address: "", SkipNodeUpdate: true, Service: { ...service, ID: id } }, nowMs);
  if (!result.ok) return failed(result.error.message);
  return okWith({ Service: copyService(state.services.get(op.Node)!.get(id)!) });
}

// ---- Check ----

function copyCheck(check: CheckRecord): CheckRecord {
  return { ...check, ServiceTags: [...check.ServiceTags] };
}

function checkOp(state: CatalogState, op: CheckTxnOp, nowMs: number): OpOutcome {
  const node = op.Check.Node ?? "";
  const id = op.Check.CheckID || op.Check.Name || "";
  const existing = state.checks.get(node)?.get(id);
  const where = `check "${id}" on node "${node}"`;
  switch (op.Verb) {
    case "get":
      return existing === undefined ? failed(`${where} doesn't exist`) : okWith({ Check: copyCheck(existing) });
    case "cas":
      if (!casMatches(existing, op.Check.ModifyIndex)) return failed(`failed to set ${where}, index is stale`);
      return setCheck(state, op.Check, node, nowMs);
    case "set":
      return setCheck(state, op.Check, node, nowMs);
    case "delete":
      deregister(state, { v: 1, op: "catalog.deregister", Node: node, CheckID: id }, nowMs);
      return okWith();
    case "delete-cas":
      if (existing === undefined || existing.ModifyIndex !== (op.Check.ModifyIndex ?? 0)) return failed(`failed to delete ${where}, index is stale`);
      deregister(state, { v: 1, op: "catalog.deregister", Node: node, CheckID: id }, nowMs);
      return okWith();
  }
}

function setCheck(state: CatalogState, input: CheckInput & { ModifyIndex?: number }, node: string, nowMs: number): OpOutcome {
  if (!state.nodes.has(node)) return failed("Missing node registration");
  const { ModifyIndex: _ignored, ...check } = input;
  const result = register(state, { v: 1, op: "catalog.register", Node: node, Address: "", SkipNodeUpdate: true, Checks: [check] }, nowMs);
  if (!result.ok) return failed(result.error.message);
  const id = check.CheckID || check.Name!;
  const stored = state.checks.get(node)?.get(id);
  assert(stored !== undefined, () => `txn check set: ${node}/${id} missing after a successful register`);
  return okWith({ Check: copyCheck(stored) });
}

// ---- Session ----

/** Consul's txnSession: only `delete`, which invalidates the session (releasing or deleting its locks); an unknown session is no error. */
function sessionOp(state: CatalogState, op: SessionTxnOp, nowMs: number): OpOutcome {
  if (op.Verb !== "delete") return failed(`failed to delete session: unknown Session verb "${op.Verb}"`);
  const session = state.sessions.get(op.Session.ID);
  if (session !== undefined && op.Session.Node !== undefined && op.Session.Node !== "" && session.record.Node !== op.Session.Node) {
    return failed(`failed to delete session: session "${op.Session.ID}" is not on node "${op.Session.Node}"`);
  }
  invalidateSession(state, op.Session.ID, nowMs);
  return okWith();
}
