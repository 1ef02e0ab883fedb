/**
 * `/v1/catalog/*` and `/v1/health/*` (catalog_endpoint.go, health_endpoint.go): registrations
 * through Raft, everything else a blocking read. `?filter` travels in ReadOptions and is applied
 * where the query runs; `?tag` (repeatable), `?node-meta=k:v` (repeatable) and `?passing` are
 * the catalog's own filters. `?near=` (catalog nodes, catalog service, health service) travels in
 * ReadOptions: the agent sorts by round-trip time from that node.
 */
import type { AgentBackend, ReadOptions, WriteOptions } from "../../agent/api.ts";
import type { CheckStatus, ServiceFilter } from "../../core/catalog/index.ts";
import { field, writeRequest } from "../bodies.ts";
import type { Call } from "../call.ts";
import { badRequest } from "../params.ts";

const same = <T>(value: T): T => value;

/** The read options with `?near=` (catalog nodes, catalog service, health service). */
function nearOptions(call: Call): ReadOptions {
  const near = call.params.get("near");
  return near === undefined || near === "" ? call.readOptions() : { ...call.readOptions(), near };
}

/**
 * Consul routes a catalog (de)registration by the body's `Datacenter` (the agent's own when
 * empty): python-consul puts `dc` there, and another datacenter is 500 No path to datacenter.
 */
function bodyDcOptions(call: Call, body: Record<string, unknown>): WriteOptions {
  const dc = field(body, "Datacenter");
  return typeof dc === "string" && dc !== "" ? { ...call.writeOptions(), dc } : call.writeOptions();
}

export async function catalogRegister(call: Call, backend: AgentBackend): Promise<void> {
  const body = await call.jsonObject("registration");
  const answer = await backend.write(writeRequest("catalog.register", body), bodyDcOptions(call, body));
  call.send(answer ?? true);
}

export async function catalogDeregister(call: Call, backend: AgentBackend): Promise<void> {
  const body = await call.jsonObject("deregistration");
  const answer = await backend.write(writeRequest("catalog.deregister", body), bodyDcOptions(call, body));
  call.send(answer ?? true);
}

export async function catalogDatacenters(call: Call, backend: AgentBackend): Promise<void> {
  call.send(await backend.datacenters());
}

function nodeMetaOf(call: Call): { nodeMeta?: Record<string, string> } {
  const nodeMeta = call.params.nodeMeta();
  return nodeMeta === undefined ? {} : { nodeMeta };
}

function serviceFilter(call: Call, passing: boolean): ServiceFilter {
  const tags = call.params.all("tag");
  const nodeMeta = call.params.nodeMeta();
  return {
    ...(tags.length > 0 ? { tags } : {}),
    ...(nodeMeta === undefined ? {} : { nodeMeta }),
    ...(passing ? { passing: true } : {}),
  };
}

export async function catalogNodes(call: Call, backend: AgentBackend): Promise<void> {
  const result = await backend.query({ kind: "catalogNodes", ...nodeMetaOf(call) }, nearOptions(call));
  call.meta(result.meta);
  call.sendShared(result.value ?? [], same);
}

export async function catalogServices(call: Call, backend: AgentBackend): Promise<void> {
  const result = await backend.query({ kind: "catalogServices", ...nodeMetaOf(call) }, call.readOptions());
  call.meta(result.meta);
  call.sendShared(result.value ?? {}, same);
}

export async function catalogService(call: Call, backend: AgentBackend): Promise<void> {
  const name = call.required("service name");
  const result = await backend.query({ kind: "catalogService", name, filter: serviceFilter(call, false) }, nearOptions(call));
  call.meta(result.meta);
  call.sendShared(result.value ?? [], same);
}

export async function catalogNode(call: Call, backend: AgentBackend): Promise<void> {
  const name = call.required("node name");
  const result = await backend.query({ kind: "catalogNode", name }, call.readOptions());
  call.meta(result.meta);
  call.send(result.value);
}

/** `/v1/catalog/node-services/:node`: the node and its services as a list (Consul 1.7+). */
export async function catalogNodeServices(call: Call, backend: AgentBackend): Promise<void> {
  const name = call.required("node name");
  const result = await backend.query({ kind: "catalogNode", name }, call.readOptions());
  call.meta(result.meta);
  const value = result.value;
  call.send(value === null ? null : { Node: value.Node, Services: Object.values(value.Services) });
}

export async function healthNode(call: Call, backend: AgentBackend): Promise<void> {
  const name = call.required("node name");
  const result = await backend.query({ kind: "healthNode", name }, call.readOptions());
  call.meta(result.meta);
  call.sendShared(result.value ?? [], same);
}

export async function healthChecks(call: Call, backend: AgentBackend): Promise<void> {
  const service = call.required("service name");
  const result = await backend.query({ kind: "healthChecks", service, filter: serviceFilter(call, false) }, call.readOptions());
  call.meta(result.meta);
  call.sendShared(result.value ?? [], same);
}

export async function healthService(call: Call, backend: AgentBackend): Promise<void> {
  const name = call.required("service name");
  const passing = call.params.strictFlag("passing");
  const result = await backend.query({ kind: "healthService", name, filter: serviceFilter(call, passing) }, nearOptions(call));
  call.meta(result.meta);
  call.sendShared(result.value ?? [], same);
}

const states = new Set(["any", "passing", "warning", "critical"]);

export async function healthState(call: Call, backend: AgentBackend): Promise<void> {
  const state = call.required("check state");
  if (!states.has(state)) throw badRequest("Invalid check state");
  const result = await backend.query({ kind: "healthState", status: state as CheckStatus | "any", ...nodeMetaOf(call) }, call.readOptions());
  call.meta(result.meta);
  call.sendShared(result.value ?? [], same);
}
