/** The agent's configuration: `loadConfig(argv, env)` → `{ config, warnings }`, or a ConfigError/FlagError. */
export { loadConfig, validateConfigFiles, nodeConfigIo, type ConfigIo, type LoadedConfig } from "./load.ts";
export { agentFlags } from "./agent-flags.ts";
export { parseDurationMs, formatDurationMs } from "./duration.ts";
export { parseHcl } from "./hcl.ts";
export * from "./types.ts";
