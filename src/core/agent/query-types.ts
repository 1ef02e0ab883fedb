/** Catalog reads as data, shared by the agent's front ends, its RPC and the simulator. */
import type {
  CatalogServiceEntry, CheckRecord, CheckStatus, HealthServiceEntry, KvEntry, KvOp, NodeRecord,
  NodeServices, ServiceFilter, SessionRecord, TxnOp,
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
  readTxn: unknown;
}

