/**
 * Praetor as a library: the pure cores, the transport seam, the Raft runtime host, and the
 * deterministic simulator that tests them. The agent and the CLI are built from the same parts.
 */
export * from "./core/raft/index.ts";
export * as catalog from "./core/catalog/index.ts";
export * as gossip from "./core/gossip/index.ts";
export { AssertionError, assert, maybe } from "./core/util/assert.ts";
export { mulberry32, randomInt, shuffle, type Rng } from "./core/util/rng.ts";
export type { Transport } from "./transports/transport.ts";
export type { RaftStorage } from "./storage/types.ts";
export {
  RaftHost, defaultRaftHostConfig,
  type ProposeOutcome, type RaftHostConfig, type RaftHostHooks, type RaftNodeLike, type RaftNodeStatus,
  type ReadOutcome, type StateMachine,
} from "./agent/raft-host.ts";

// The simulator's programmatic API.
export { runCampaign, runSeed, type CampaignOptions, type CampaignSummary, type SeedOptions } from "../sim/run.ts";
export { loadScenario, registerScenario } from "../sim/scenarios/index.ts";
export type { Outcome, Scenario, ScenarioOptions, SeedResult } from "../sim/scenarios/types.ts";
export { FAULT_KINDS, parseFaults, type FaultKind, type ScheduledFault } from "../sim/faults.ts";
export { SimNetwork, SimEndpoint } from "../sim/network.ts";
export { World } from "../sim/world/world.ts";
export { WorldRng } from "../sim/world/rng.ts";
export type { HistoryOp, KvOp, KvResult, CheckResult } from "../sim/checkers/history.ts";

// Real-socket building blocks: the gossip member, the WAL storage, and the whole agent.
export { startGossipMember, type GossipMemberOptions } from "./transports/gossip-member.ts";
export { GossipEndpoint } from "./transports/gossip-endpoint.ts";
export { GossipKeyring } from "./transports/gossip-keyring.ts";
export { WalStorage, defaultWalConfig, type WalConfig } from "./storage/wal-storage.ts";
export { NodeFsDirectory } from "./storage/node-fs-directory.ts";
export { startAgent, type RunningAgent } from "./agent/run.ts";
export { Agent } from "./agent/agent.ts";
export { loadConfig } from "./agent/config/index.ts";
export type { AgentConfig } from "./agent/config/types.ts";
export { createLogger, type RootLogger } from "./agent/log.ts";
export type { AgentBackend } from "./agent/api.ts";
export {
  RpcServer, RpcClient, RaftTcpTransport, RpcError, RpcBindError, RpcStatus, rpcPortDefault, FrameError,
  type RpcHandler, type RpcMeta, type RpcServerOptions, type RpcClientOptions, type CallOptions, type RaftTcpTransportOptions,
} from "./transports/rpc/index.ts";
export { createHttpApi, startHttpServer, type HttpApiOptions, type HttpLogger } from "./http/server.ts";
export { compileFilter, applyFilter, parseFilter, FilterError } from "./core/filter/index.ts";
export { createDnsHandler } from "./dns/handler.ts";
export { startDnsServer } from "./dns/server.ts";
