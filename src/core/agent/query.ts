/**
 * Catalog reads as data: `runQuery` evaluates a `CatalogQuery` against a catalog, and
 * `queryScopes` names what a blocking query must watch. The same two functions serve a server's
 * local reads, reads forwarded to it over RPC, and the simulator's agents.
 */
import type { CatalogQuery, QueryValues } from "./query-types.ts";
import type { Catalog } from "../catalog/catalog.ts";
import type { QueryResult } from "../catalog/types.ts";
import type { WatchScope } from "../catalog/watch.ts";
import { queryScopes as scopes } from "../catalog/queries.ts";

export function runQuery<K extends CatalogQuery["kind"]>(catalog: Catalog, query: Extract<CatalogQuery, { kind: K }>): QueryResult<QueryValues[K]> {
  return run(catalog, query) as QueryResult<QueryValues[K]>;
}

function run(catalog: Catalog, query: CatalogQuery): QueryResult<unknown> {
  switch (query.kind) {
    case "catalogNodes": return catalog.catalogNodes(query.nodeMeta);
    case "catalogServices": return catalog.catalogServices(query.nodeMeta);
    case "catalogService": return catalog.catalogService(query.name, query.filter);
    case "catalogNode": return catalog.catalogNode(query.name);
    case "healthNode": return catalog.healthNode(query.name);
    case "healthChecks": return catalog.healthChecks(query.service, query.filter);
    case "healthService": return catalog.healthService(query.name, query.filter);
    case "healthState": return catalog.healthState(query.status, query.nodeMeta);
    case "kvGet": return catalog.kvGet(query.key);
    case "kvList": return catalog.kvList(query.prefix);
    case "kvKeys": return catalog.kvKeys(query.prefix, query.separator);
    case "sessionInfo": return catalog.sessionInfo(query.id);
    case "sessionList": return catalog.sessionList(query.node);
    case "preparedQueryList": return catalog.preparedQueryList();
    case "preparedQueryGet": return catalog.preparedQueryGet(query.id);
    case "preparedQueryExecute": return catalog.preparedQueryExecute(query.id);
    case "preparedQueryExplain": return catalog.preparedQueryExplain(query.id);
    case "readTxn": {
      const result = catalog.readTxn(query.ops);
      return { index: Math.max(1, catalog.appliedIndex), value: result };
    }
  }
}

/** The scopes whose writes can change the query's answer: the catalog's own table (queries.ts). */
export function queryScopes(query: CatalogQuery): WatchScope[] {
  switch (query.kind) {
    case "catalogNodes": return scopes.catalogNodes();
    case "catalogServices": return scopes.catalogServices(query.nodeMeta);
    case "catalogService": return scopes.catalogService(query.name);
    case "healthService": return scopes.healthService(query.name);
    case "healthChecks": return scopes.healthChecks(query.service);
    case "catalogNode": return scopes.catalogNode(query.name);
    case "healthNode": return scopes.healthNode(query.name);
    case "healthState": return scopes.healthState(query.nodeMeta);
    case "kvGet": return scopes.kvGet(query.key);
    case "kvList": return scopes.kvList(query.prefix);
    case "kvKeys": return scopes.kvKeys(query.prefix);
    case "sessionInfo": return scopes.sessionInfo();
    case "sessionList": return scopes.sessionList();
    case "preparedQueryList":
    case "preparedQueryGet": return scopes.preparedQueries();
    case "preparedQueryExecute":
    case "preparedQueryExplain": return scopes.preparedQueryExecute();
    case "readTxn": return query.ops.map((op): WatchScope => {
      if ("KV" in op) return { kind: "kvPrefix", prefix: op.KV.Key };
      if ("Node" in op) return { kind: "table", table: "nodes" };
      if ("Service" in op) return { kind: "table", table: "services" };
      if ("Check" in op) return { kind: "table", table: "checks" };
      if ("Session" in op) return { kind: "table", table: "sessions" };
      return { kind: "kvPrefix", prefix: op.Key };
    });
  }
}

const queryKinds: ReadonlySet<string> = new Set<CatalogQuery["kind"]>([
  "catalogNodes", "catalogServices", "catalogService", "catalogNode", "healthNode", "healthChecks",
  "healthService", "healthState", "kvGet", "kvList", "kvKeys", "sessionInfo", "sessionList", "readTxn",
  "preparedQueryList", "preparedQueryGet", "preparedQueryExecute", "preparedQueryExplain",
]);

/** A query that arrived over the network: its kind and fields are checked before it runs. */
export function validQuery(raw: unknown): raw is CatalogQuery {
  if (typeof raw !== "object" || raw === null) return false;
  const q = raw as Record<string, unknown>;
  if (typeof q.kind !== "string" || !queryKinds.has(q.kind)) return false;
  for (const field of ["name", "service", "key", "prefix", "id", "status"]) {
    if (field in q && typeof q[field] !== "string") return false;
  }
  if ("ops" in q && !Array.isArray(q.ops)) return false;
  return true;
}
