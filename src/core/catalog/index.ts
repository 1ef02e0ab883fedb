export { Catalog, catalogStateMachine, type CatalogCounters } from "./catalog.ts";
export {
  commandVersion, decodeCommand, encodeCommand, kvVerbs, kvWriteVerbs, lockDelayMs, normalizeCommand,
  type CheckInput, type Command, type CommandOp, type DecodeResult, type KvOp, type KvVerb, type ServiceInput,
} from "./commands.ts";
export { decodeBase64, encodeBase64, formatGoDuration, parseGoDurationMs } from "./codec.ts";
export { aggregatedStatus, nodeMaintenanceCheckId, queryScopes, serviceMaintenanceCheckPrefix, type NodeServicesAndChecks, type ServiceFilter } from "./queries.ts";
export { newSessionId } from "./session-id.ts";
export { defaultCatalogConfig, type CatalogConfig } from "./state.ts";
export * from "./types.ts";
export { scopeKey, Touch, WatchHub, type WatchCallback, type WatchScope } from "./watch.ts";
