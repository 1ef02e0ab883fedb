/**
 * Cluster-wide endpoints: `/v1/status/*`, `/v1/operator/raft/*`, `/v1/operator/autopilot/health`,
 * `/v1/snapshot`, `/v1/coordinate/*` and `/v1/event/*`.
 */
import { ApiError, type AgentBackend } from "../../agent/api.ts";
import { applyFilter } from "../../core/filter/index.ts";
import { kvValueMaxBytes, snapshotMaxBytes, type Call } from "../call.ts";
import { badRequest } from "../params.ts";
import { compileRe2 } from "../../core/util/re2.ts";

export async function statusLeader(call: Call, backend: AgentBackend): Promise<void> {
  call.send(await backend.statusLeader(call.writeOptions()));
}

export async function statusPeers(call: Call, backend: AgentBackend): Promise<void> {
  call.send((await backend.statusPeers(call.writeOptions())) ?? []);
}

export async function raftConfiguration(call: Call, backend: AgentBackend): Promise<void> {
  call.send(await backend.raftConfiguration(call.readOptions(false)));
}

/** `DELETE /v1/operator/raft/peer?id=` or `?address=`. */
export async function raftRemovePeer(call: Call, backend: AgentBackend): Promise<void> {
  const id = call.params.get("id");
  const address = call.params.get("address");
  if ((id === undefined || id === "") && (address === undefined || address === "")) {
    throw badRequest("Must specify either ?id with the server's ID or ?address with IP:port of peer to remove");
  }
  if (id && address) throw badRequest("Must specify only one of ?id or ?address");
  await backend.removeRaftPeer(id ? { id } : { address: address! });
  call.empty(200);
}

export async function raftTransferLeader(call: Call, backend: AgentBackend): Promise<void> {
  const id = call.params.get("id");
  await backend.transferLeader(id === "" ? undefined : id);
  call.send({ Success: true });
}

/** Consul answers 429 when the cluster is unhealthy, so load balancers can probe this path. */
export async function autopilotHealth(call: Call, backend: AgentBackend): Promise<void> {
  const health = await backend.autopilotHealth();
  const healthy = (health as { Healthy?: unknown } | null)?.Healthy;
  call.send(health, healthy === false ? 429 : 200);
}

export async function snapshotSave(call: Call, backend: AgentBackend): Promise<void> {
  const { meta, data } = await backend.snapshotSave(call.readOptions(false));
  call.meta(meta);
  call.bytes(data, "application/x-gzip");
}

export async function snapshotRestore(call: Call, backend: AgentBackend): Promise<void> {
  const data = await call.body(snapshotMaxBytes);
  if (data.length === 0) throw badRequest("Missing snapshot archive in the request body");
  await backend.snapshotRestore(data);
  call.empty(200);
}

export async function coordinateDatacenters(call: Call, backend: AgentBackend): Promise<void> {
  call.send((await backend.coordinateDatacenters()) ?? []);
}

export async function coordinateNodes(call: Call, backend: AgentBackend): Promise<void> {
  const options = call.readOptions();
  const result = await backend.coordinateNodes(options);
  call.meta(result.meta);
  call.send(applyFilter(options.filter, result.value ?? []));
}

export async function coordinateNode(call: Call, backend: AgentBackend): Promise<void> {
  const node = call.required("node name");
  const result = await backend.coordinateNodes(call.readOptions(false));
  call.meta(result.meta);
  const mine = (result.value ?? []).filter((entry) => (entry as { Node?: unknown }).Node === node);
  if (mine.length === 0) return call.empty(404);
  call.send(mine);
}

type EventFilters = { node?: string; service?: string; tag?: string };

/**
 * `?node=`, `?service=`, `?tag=`: regular expressions, matched anywhere in the string as Go's
 * `regexp.MatchString` does. A bad one is Consul's `Invalid node filter: ...` with `status`.
 */
function eventFilters(call: Call, status: number): EventFilters {
  const filters: EventFilters = {};
  for (const key of ["node", "service", "tag"] as const) {
    const value = call.params.get(key);
    if (value === undefined || value === "") continue;
    try {
      compileRe2(value);
    } catch (error) {
      throw new ApiError(status, `Invalid ${key} filter: ${(error as Error).message}`);
    }
    filters[key] = value;
  }
  return filters;
}

/**
 * `PUT /v1/event/fire/:name?node=&service=&tag=` with the payload as the raw body. The filters
 * travel with the event; every agent decides whether it records it (its node name, its services'
 * IDs and tags). Consul's agent validates them and answers a bad one with a 500.
 */
export async function eventFire(call: Call, backend: AgentBackend): Promise<void> {
  const name = call.required("name");
  const payload = await call.body(kvValueMaxBytes);
  const filters = eventFilters(call, 500);
  if (filters.tag !== undefined && filters.service === undefined) throw new ApiError(500, "Cannot provide tag filter without service filter");
  call.send(await backend.fireEvent(name, payload, filters), 200, true);
}

/**
 * `GET /v1/event/list?name=&node=&service=&tag=`, blocking on `?index` (a hash of the newest
 * event's ID, as in Consul). X-Consul-Index is never 0 here either: the agent treats `index=1`
 * like 0. Consul's documentation lists `node`, `service` and `tag` here and its agent ignores
 * them; Praetor keeps the events whose NodeFilter, ServiceFilter or TagFilter match them.
 */
export async function eventList(call: Call, backend: AgentBackend): Promise<void> {
  const name = call.params.get("name");
  const filters = eventFilters(call, 400);
  const { index, waitMs } = call.params.blocking();
  const result = await backend.events({
    ...(name === undefined || name === "" ? {} : { name }),
    ...filters,
    ...(index === undefined ? {} : { index }),
    ...(waitMs === undefined ? {} : { waitMs }),
  });
  call.ctx.set("X-Consul-Index", String(Math.max(1, result.index)));
  call.send(result.events ?? [], 200, true);
}

export function notFound(): never {
  throw new ApiError(404, "Invalid URL path: not a recognized HTTP API endpoint");
}
