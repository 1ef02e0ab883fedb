/**
 * The one routing table: method + path for every endpoint. A path ending in `/*` is a prefix;
 * the rest of the (decoded) path is the handler's argument, so KV keys, service names and IDs
 * may hold slashes as in Consul. A known path with another method is a 405 naming the allowed
 * ones; anything else is Consul's 404.
 *
 * GET is also accepted where Consul before 1.0 accepted it and python-consul 0.7 (Debian's
 * python3-consul) still sends it: agent join, force-leave, service and check deregister, and the
 * TTL check updates.
 */
import type { AgentBackend } from "../agent/api.ts";
import type { Call } from "./call.ts";
import * as agent from "./handlers/agent.ts";
import * as catalog from "./handlers/catalog.ts";
import * as cluster from "./handlers/cluster.ts";
import * as keyring from "./handlers/keyring.ts";
import * as kv from "./handlers/kv.ts";
import * as preparedQuery from "./handlers/query.ts";
import * as session from "./handlers/session.ts";
import { txn } from "./handlers/txn.ts";

export type Handler = (call: Call, backend: AgentBackend) => Promise<void>;
type Method = "GET" | "PUT" | "POST" | "DELETE";

const table: [Method, string, Handler][] = [
  // /v1/agent
  ["GET", "/v1/agent/self", agent.agentSelf],
  ["GET", "/v1/agent/members", agent.agentMembers],
  ["PUT", "/v1/agent/join/*", agent.agentJoin],
  ["GET", "/v1/agent/join/*", agent.agentJoin],
  ["PUT", "/v1/agent/leave", agent.agentLeave],
  ["PUT", "/v1/agent/force-leave/*", agent.agentForceLeave],
  ["GET", "/v1/agent/force-leave/*", agent.agentForceLeave],
  ["PUT", "/v1/agent/reload", agent.agentReload],
  ["PUT", "/v1/agent/maintenance", agent.agentMaintenance],
  ["GET", "/v1/agent/services", agent.agentServices],
  ["GET", "/v1/agent/service/*", agent.agentService],
  ["GET", "/v1/agent/checks", agent.agentChecks],
  ["PUT", "/v1/agent/service/register", agent.agentServiceRegister],
  ["PUT", "/v1/agent/service/deregister/*", agent.agentServiceDeregister],
  ["GET", "/v1/agent/service/deregister/*", agent.agentServiceDeregister],
  ["PUT", "/v1/agent/service/maintenance/*", agent.agentServiceMaintenance],
  ["PUT", "/v1/agent/check/register", agent.agentCheckRegister],
  ["PUT", "/v1/agent/check/deregister/*", agent.agentCheckDeregister],
  ["GET", "/v1/agent/check/deregister/*", agent.agentCheckDeregister],
  ["PUT", "/v1/agent/check/pass/*", agent.agentCheckTtl("passing")],
  ["GET", "/v1/agent/check/pass/*", agent.agentCheckTtl("passing")],
  ["PUT", "/v1/agent/check/warn/*", agent.agentCheckTtl("warning")],
  ["GET", "/v1/agent/check/warn/*", agent.agentCheckTtl("warning")],
  ["PUT", "/v1/agent/check/fail/*", agent.agentCheckTtl("critical")],
  ["GET", "/v1/agent/check/fail/*", agent.agentCheckTtl("critical")],
  ["PUT", "/v1/agent/check/update/*", agent.agentCheckUpdate],
  ["GET", "/v1/agent/health/service/name/*", agent.agentHealthByName],
  ["GET", "/v1/agent/health/service/id/*", agent.agentHealthById],
  ["GET", "/v1/agent/metrics", agent.agentMetrics],
  ["GET", "/v1/agent/monitor", agent.agentMonitor],
  ["GET", "/v1/agent/host", agent.agentHost],
  // /v1/catalog
  ["PUT", "/v1/catalog/register", catalog.catalogRegister],
  ["PUT", "/v1/catalog/deregister", catalog.catalogDeregister],
  ["GET", "/v1/catalog/datacenters", catalog.catalogDatacenters],
  ["GET", "/v1/catalog/nodes", catalog.catalogNodes],
  ["GET", "/v1/catalog/services", catalog.catalogServices],
  ["GET", "/v1/catalog/service/*", catalog.catalogService],
  ["GET", "/v1/catalog/node/*", catalog.catalogNode],
  ["GET", "/v1/catalog/node-services/*", catalog.catalogNodeServices],
  // /v1/health
  ["GET", "/v1/health/node/*", catalog.healthNode],
  ["GET", "/v1/health/checks/*", catalog.healthChecks],
  ["GET", "/v1/health/service/*", catalog.healthService],
  ["GET", "/v1/health/state/*", catalog.healthState],
  // /v1/kv
  ["GET", "/v1/kv/*", kv.kvGet],
  ["PUT", "/v1/kv/*", kv.kvPut],
  ["DELETE", "/v1/kv/*", kv.kvDelete],
  // /v1/session
  ["PUT", "/v1/session/create", session.sessionCreate],
  ["PUT", "/v1/session/destroy/*", session.sessionDestroy],
  ["PUT", "/v1/session/renew/*", session.sessionRenew],
  ["GET", "/v1/session/info/*", session.sessionInfo],
  ["GET", "/v1/session/node/*", session.sessionNode],
  ["GET", "/v1/session/list", session.sessionList],
  // /v1/query (prepared queries; execute and explain are GETs under /v1/query/*)
  ["POST", "/v1/query", preparedQuery.queryCreate],
  ["GET", "/v1/query", preparedQuery.queryList],
  ["GET", "/v1/query/*", preparedQuery.queryGet],
  ["PUT", "/v1/query/*", preparedQuery.queryUpdate],
  ["DELETE", "/v1/query/*", preparedQuery.queryDelete],
  // /v1/txn, events, status, operator, snapshot, coordinates
  ["PUT", "/v1/txn", txn],
  ["PUT", "/v1/event/fire/*", cluster.eventFire],
  ["GET", "/v1/event/list", cluster.eventList],
  ["GET", "/v1/status/leader", cluster.statusLeader],
  ["GET", "/v1/status/peers", cluster.statusPeers],
  ["GET", "/v1/operator/raft/configuration", cluster.raftConfiguration],
  ["DELETE", "/v1/operator/raft/peer", cluster.raftRemovePeer],
  ["POST", "/v1/operator/raft/transfer-leader", cluster.raftTransferLeader],
  ["GET", "/v1/operator/autopilot/health", cluster.autopilotHealth],
  ["GET", "/v1/operator/keyring", keyring.keyringList],
  ["POST", "/v1/operator/keyring", keyring.keyringInstall],
  ["PUT", "/v1/operator/keyring", keyring.keyringUse],
  ["DELETE", "/v1/operator/keyring", keyring.keyringRemove],
  ["GET", "/v1/snapshot", cluster.snapshotSave],
  ["PUT", "/v1/snapshot", cluster.snapshotRestore],
  ["GET", "/v1/coordinate/datacenters", cluster.coordinateDatacenters],
  ["GET", "/v1/coordinate/nodes", cluster.coordinateNodes],
  ["GET", "/v1/coordinate/node/*", cluster.coordinateNode],
];

export interface Route {
  readonly path: string;
  readonly methods: ReadonlyMap<string, Handler>;
}

export type RouteMatch =
  | { kind: "found"; route: Route; handler: Handler; arg: string }
  | { kind: "method"; route: Route }
  | { kind: "none" };

export class Router {
  private readonly exact = new Map<string, Route>();
  /** Prefix routes, longest first, so `/v1/agent/service/register` never falls into `/v1/agent/service/*`. */
  private readonly prefixes: Route[] = [];

  constructor(entries: readonly [string, string, Handler][] = table) {
    const byPath = new Map<string, Map<string, Handler>>();
    for (const [method, path, handler] of entries) {
      let methods = byPath.get(path);
      if (methods === undefined) byPath.set(path, (methods = new Map()));
      if (methods.has(method)) throw new Error(`route ${method} ${path} registered twice`);
      methods.set(method, handler);
    }
    for (const [path, methods] of byPath) {
      if (path.endsWith("/*")) this.prefixes.push({ path: path.slice(0, -1), methods });
      else this.exact.set(path, { path, methods });
    }
    this.prefixes.sort((a, b) => b.path.length - a.path.length);
  }

  match(method: string, path: string): RouteMatch {
    let route = this.exact.get(path);
    let arg = "";
    if (route === undefined) {
      route = this.prefixes.find((candidate) => path.startsWith(candidate.path));
      if (route === undefined) return { kind: "none" };
      arg = path.slice(route.path.length);
    }
    const handler = route.methods.get(method === "HEAD" ? "GET" : method);
    if (handler === undefined) return { kind: "method", route };
    return { kind: "found", route, handler, arg };
  }

  /** Every route as `METHOD path`, for docs and tests. */
  list(): string[] {
    return [...this.exact.values(), ...this.prefixes].flatMap((route) =>
      [...route.methods.keys()].map((method) => `${method} ${route.path}${this.exact.has(route.path) ? "" : "*"}`),
    );
  }
}
