/**
 * The agent's health checks: parse a definition, run it. The agent builds one `CheckRunner`,
 * adds each check it registers (`origin: "local"` from config files, `"remote"` from the HTTP
 * API), and writes each `onChange` into its local state for anti-entropy.
 */
export {
  parseCheckDefinition, parseServiceChecks, CheckDefinitionError, normalizeKey, type ServiceChecksResult,
  type CheckDefinitionContext, type CheckDefinitionResult,
} from "../../core/checks/definition.ts";
export type { CheckDefinition, CheckKind, CheckProbe, CheckResultStatus } from "../../core/checks/types.ts";
export { checkKind, checkRecordFields } from "../../core/checks/types.ts";
export { outputMaxBytesDefault } from "../../core/checks/output.ts";
export { planCheckSync, checkUpdateIntervalMsDefault, type CheckSyncPlan } from "../../core/checks/sync.ts";
export {
  CheckRunner, CheckRunnerError, scriptRefusal,
  type AliasSource, type AliasView, type CheckChangeListener, type CheckOrigin, type CheckRunnerConfig,
  type CheckSnapshot, type DeregisterListener,
} from "./runner.ts";
export { BoundedPool } from "./pool.ts";
export { scriptTimeoutMsDefault } from "./script.ts";
export { httpTimeoutMsDefault, redirectsMax } from "./http.ts";
export { tcpTimeoutMsDefault } from "./tcp.ts";
export { udpTimeoutMsDefault } from "./udp.ts";
export { grpcTimeoutMsDefault } from "./grpc.ts";
