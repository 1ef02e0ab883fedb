export { Catalog, catalogStateMachine, type CatalogCounters } from "./catalog.ts";
export {
  catalogTxnVerbs, commandVersion, decodeCommand, encodeCommand, kvVerbs, kvWriteVerbs, lockDelayMs, normalizeCommand,
  type CatalogTxnVerb, type CheckInput, type CheckTxnOp, type Command, type CommandOp, type DecodeResult, type KvOp, type KvVerb,
  type NodeTxnOp, type PreparedQueryInput, type PreparedQueryVerb, type ServiceInput, type ServiceTxnOp, type SessionTxnOp, type TxnOp,
} from "./commands.ts";
export { isReadOnlyTxn, isReadOp, type TxnResultEntry } from "./txn.ts";
export { decodeBase64, encodeBase64, formatGoDuration, parseGoDurationMs } from "./codec.ts";
export { aggregatedStatus, nodeMaintenanceCheckId, queryScopes, serviceMaintenanceCheckPrefix, type NodeServicesAndChecks, type ServiceFilter } from "./queries.ts";
export { connectUnsupported, looksLikeUuid, queryNotFound, type ExecuteValue, type PreparedQueryExecution } from "./prepared-queries.ts";
export { kvFlagsWire, parseKvFlags, type KvFlags } from "./kv-flags.ts";
export { newSessionId } from "./session-id.ts";
export { defaultCatalogConfig, type CatalogConfig } from "./state.ts";
export * from "./types.ts";
export { scopeKey, Touch, WatchHub, type WatchCallback, type WatchScope } from "./watch.ts";
