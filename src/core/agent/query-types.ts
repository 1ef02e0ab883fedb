/** Catalog reads as data, shared by the agent's front ends, its RPC and the simulator. */
import type {
  CatalogServiceEntry, CheckRecord, CheckStatus, HealthServiceEntry, KvEntry, KvOp, NodeRecord,
  NodeServices, PreparedQueryRecord, ServiceFilter, SessionRecord, TxnOp, ExecuteValue,
} from "../catalog/index.ts";

/** A catalog read, as data, so it can run locally or travel to a server over RPC. */
export type CatalogQuery =
  | { readonly kind: "catalogNodes"; readonly nodeMeta?: Record<string, string> }
  | { readonly kind: "catalogServices"; readonly nodeMeta?: Record<string, string> }
  | { readonly kind: "catalogService"; readonly name: string; readonly filter?: ServiceFilter }
  | { readonly kind: "catalogNode"; readonly name: string }
  | { readonly kind: "healthNode"; readonly name: string }
  | { readonly kind: "healthChecks"; readonly service: string; readonly filter?: ServiceFilter }
  | { readonly kind: "healthService"; readonly name: string; readonly filter?: ServiceFilter }
  | { readonly kind: "healthState"; readonly status: CheckStatus | "any"; readonly nodeMeta?: Record<string, string> }
  | { readonly kind: "kvGet"; readonly key: string }
  | { readonly kind: "kvList"; readonly prefix: string }
  | { readonly kind: "kvKeys"; readonly prefix: string; readonly separator?: string }
  | { readonly kind: "sessionInfo"; readonly id: string }
  | { readonly kind: "sessionList"; readonly node?: string }
  | { readonly kind: "preparedQueryList" }
  /** By ID only (GET /v1/query/:uuid). */
  | { readonly kind: "preparedQueryGet"; readonly id: string }
  /** Resolved by ID, name or template prefix; the agent shuffles, near-sorts and limits the answer. */
  | { readonly kind: "preparedQueryExecute"; readonly id: string }
  | { readonly kind: "preparedQueryExplain"; readonly id: string }
  /** A txn of reads only (Consul answers it without Raft). */
  | { readonly kind: "readTxn"; readonly ops: readonly (TxnOp | KvOp)[] };

/** What each query answers with (the HTTP layer serialises it as Consul does). */
export interface QueryValues {
  catalogNodes: NodeRecord[];
  catalogServices: Record<string, string[]>;
  catalogService: CatalogServiceEntry[];
  catalogNode: NodeServices | null;
  healthNode: CheckRecord[];
  healthChecks: CheckRecord[];
  healthService: HealthServiceEntry[];
  healthState: CheckRecord[];
  kvGet: KvEntry | null;
  kvList: KvEntry[];
  kvKeys: string[];
  sessionInfo: SessionRecord[];
  sessionList: SessionRecord[];
  preparedQueryList: PreparedQueryRecord[];
  preparedQueryGet: PreparedQueryRecord[];
  preparedQueryExecute: ExecuteValue;
  preparedQueryExplain: { ok: true; query: PreparedQueryRecord } | { ok: false; notFound: boolean; message: string };
  readTxn: unknown;
}

