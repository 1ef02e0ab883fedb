/**
 * `/v1/query` (Consul's prepared_query_endpoint.go): create, list, get, update, delete, execute
 * and explain prepared queries. Writes go through Raft like any catalog write; list and get are
 * blocking reads of the queries table; execute and explain answer at once.
 */
import { ApiError, type AgentBackend } from "../../agent/api.ts";
import { connectUnsupported, type PreparedQueryRecord } from "../../core/catalog/index.ts";
import { field, writeRequest } from "../bodies.ts";
import type { Call } from "../call.ts";
import { badRequest } from "../params.ts";

/** A decode problem is Consul's 400 `Request decode failed: ...`; its other refusals come from the apply. */
function queryWrite(verb: "create" | "update" | "delete", query: Record<string, unknown>) {
  try {
    return writeRequest("query", { Verb: verb, Query: query });
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) throw badRequest(`Request decode failed: ${error.message}`);
    throw error;
  }
}

export async function queryCreate(call: Call, backend: AgentBackend): Promise<void> {
  const body = await call.jsonObject("prepared query");
  const id = field(body, "ID");
  if (id !== undefined && id !== null && id !== "") throw new ApiError(500, "ID must be empty when creating a new prepared query");
  const answer = await backend.write(queryWrite("create", { ...body, ID: "" }), call.writeOptions());
  call.send(answer);
}

export async function queryList(call: Call, backend: AgentBackend): Promise<void> {
  const result = await backend.query({ kind: "preparedQueryList" }, call.readOptions(false));
  call.meta(result.meta);
  call.send(result.value);
}

/** `/v1/query/:id`, `/v1/query/:id-or-name/execute` and `/explain`, split as Consul splits them. */
function specific(call: Call): { id: string; action: "execute" | "explain" | null } {
  const arg = call.required("query ID");
  for (const action of ["execute", "explain"] as const) {
    if (arg.endsWith(`/${action}`)) return { id: arg.slice(0, -action.length - 1), action };
  }
  return { id: arg, action: null };
}

export async function queryGet(call: Call, backend: AgentBackend): Promise<void> {
  const { id, action } = specific(call);
  if (action === "execute") return queryExecute(call, backend, id);
  if (action === "explain") return queryExplain(call, backend, id);
  const result = await backend.query({ kind: "preparedQueryGet", id }, call.readOptions(false));
  call.meta(result.meta);
  if (result.value.length === 0) return call.text("Query not found", 404);
  call.send(result.value);
}

export async function queryUpdate(call: Call, backend: AgentBackend): Promise<void> {
  const { id, action } = specific(call);
  if (action !== null) throw new ApiError(405, `method ${call.method} not allowed`);
  const body = await call.jsonObject("prepared query");
  await backend.write(queryWrite("update", { ...body, ID: id }), call.writeOptions());
  call.empty(200);
}

export async function queryDelete(call: Call, backend: AgentBackend): Promise<void> {
  const { id, action } = specific(call);
  if (action !== null) throw new ApiError(405, `method ${call.method} not allowed`);
  await backend.write(queryWrite("delete", { ID: id }), call.writeOptions());
  call.empty(200);
}

/** Consul's QueryMeta fields, which its execute and explain answers embed. */
function queryMeta(meta: { index: number; lastContactMs: number; knownLeader: boolean; consistency: string }) {
  return {
    Index: meta.index, LastContact: Math.round(meta.lastContactMs * 1e6), KnownLeader: meta.knownLeader,
    ConsistencyLevel: meta.consistency === "default" ? "leader" : meta.consistency, NotModified: false, Backend: 0,
    ResultsFilteredByACLs: false,
  };
}

function limitParam(call: Call): number {
  const text = call.params.get("limit");
  if (text === undefined || text === "") return 0;
  if (!/^-?\d+$/.test(text)) throw badRequest(`Bad limit: strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}

async function queryExecute(call: Call, backend: AgentBackend, id: string): Promise<void> {
  if (call.params.flag("connect")) throw badRequest(connectUnsupported);
  const limit = limitParam(call);
  const { index: _index, waitMs: _waitMs, signal: _signal, ...options } = call.readOptions(false);
  const near = call.params.get("near");
  const result = await backend.query({ kind: "preparedQueryExecute", id }, near === undefined || near === "" ? options : { ...options, near });
  call.meta(result.meta);
  const value = result.value;
  if (!value.ok) throw new ApiError(value.notFound ? 404 : 500, value.message);
  const { near: _near, ...answer } = value.result;
  const nodes = limit > 0 ? answer.Nodes.slice(0, limit) : answer.Nodes;
  call.send({ ...answer, Nodes: nodes, ...queryMeta(result.meta) });
}

async function queryExplain(call: Call, backend: AgentBackend, id: string): Promise<void> {
  const { index: _index, waitMs: _waitMs, signal: _signal, ...options } = call.readOptions(false);
  const result = await backend.query({ kind: "preparedQueryExplain", id }, options);
  call.meta(result.meta);
  const value = result.value;
  if (!value.ok) throw new ApiError(value.notFound ? 404 : 500, value.message);
  const query: PreparedQueryRecord = value.query;
  call.send({ Query: query, ...queryMeta(result.meta) });
}
