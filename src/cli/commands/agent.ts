/**
 * `praetor agent [flags]`: loads the configuration, prints Consul's start-up banner, sets up the
 * logger and hands over to the runtime (`runAgent` in src/agent/run.ts, imported only now).
 */
import { randomUUID } from "node:crypto";
import type { AgentConfig } from "../../agent/config/types.ts";
import type { RootLogger } from "../../agent/log.ts";
import type { Command } from "../command.ts";
import { type FlagSpec, formatFlagUsage, FlagError, type ParsedFlags } from "../flags.ts";
import { type CliIo, println } from "../io.ts";
import { VERSION } from "../version.ts";

/** What src/agent/run.ts is expected to export. It resolves with the exit code once the agent has stopped. */
export type RunAgent = (config: AgentConfig, logger: RootLogger) => Promise<number | void>;

/** The banner lines between "==> Starting Praetor agent..." and the log stream, labels right-aligned as Consul's. */
export function formatBanner(config: AgentConfig, nodeId: string | undefined): string {
  const gossip = config.encrypt !== undefined;
  const rows: [string, string][] = [
    ["Version", `'${VERSION}'`],
    ...(nodeId === undefined ? [] : [["Node ID", `'${nodeId}'`] as [string, string]]),
    ["Node name", `'${config.nodeName}'`],
    ["Datacenter", `'${config.datacenter}' (Segment: '${config.server ? "<all>" : ""}')`],
    ["Server", `${config.server} (Bootstrap: ${config.bootstrap})`],
    ["Client Addr", `[${config.clientAddrs.join(" ")}] (HTTP: ${config.ports.http}, HTTPS: ${config.ports.https}, gRPC: ${config.ports.grpc}, DNS: ${config.ports.dns})`],
    ["Cluster Addr", `${config.advertiseAddr ?? config.bindAddr} (LAN: ${config.ports.serfLan}, WAN: ${config.ports.serfWan})`],
    ["Encrypt", `Gossip: ${gossip}, TLS-Outgoing: false, TLS-Incoming: false, Auto-Encrypt-TLS: false`],
  ];
  return rows.map(([label, value]) => `${label.padStart(18)}: ${value}`).join("\n");
}

const agentHelp = `
Usage: praetor agent [options]

  Starts the Praetor agent and runs until an interrupt is received. The
  agent represents a single node in a cluster.
`;

/** The agent's flags come from the config package; listed lazily so `praetor version` never loads them. */
let flagsCache: readonly FlagSpec[] | undefined;

export const agentCommand: Command = {
  help: agentHelp,
  // Parsed by loadConfig itself (it needs every occurrence in order).
  flags: [],
  rawArgs: true,
  async run(parsed: ParsedFlags, io: CliIo): Promise<number> {
    const { loadConfig, agentFlags } = await import("../../agent/config/index.ts");
    flagsCache = agentFlags;
    let loaded: ReturnType<typeof loadConfig>;
    try {
      loaded = loadConfig(parsed.args, io.env);
    } catch (e) {
      if (e instanceof FlagError) {
        println(io.stderr, e.message);
        println(io.stderr, "Run 'praetor agent -h' for the list of options.");
        return 1;
      }
      if (e instanceof Error && e.name === "HelpRequested") {
        println(io.stdout, `${agentHelp.trim()}\n\nCommand Options:\n\n${formatFlagUsage(flagsCache)}`);
        return 0;
      }
      if (e instanceof Error && e.name === "ConfigError") {
        println(io.stderr, `==> ${e.message}`);
        return 1;
      }
      throw e;
    }
    return startAgent(loaded.config, loaded.warnings, io);
  },
};

async function startAgent(loadedConfig: AgentConfig, warnings: readonly string[], io: CliIo): Promise<number> {
  // A dev agent keeps nothing, so it gets a fresh node ID each start, as Consul's does.
  const config: AgentConfig = loadedConfig.dev && loadedConfig.nodeId === undefined ? { ...loadedConfig, nodeId: randomUUID() } : loadedConfig;
  const { createLogger } = await import("../../agent/log.ts");
  let logger: RootLogger;
  try {
    logger = createLogger({ level: config.logLevel, json: config.logJson, write: io.stdout, ...(config.logFile === undefined ? {} : { file: config.logFile }) });
  } catch (e) {
    println(io.stderr, `==> Error opening log file ${config.logFile}: ${(e as Error).message}`);
    return 1;
  }
  println(io.stdout, "==> Starting Praetor agent...");
  println(io.stdout, formatBanner(config, config.nodeId));
  println(io.stdout, "");
  println(io.stdout, "==> Log data will now stream in as it occurs:");
  println(io.stdout, "");
  const agentLog = logger.named("agent");
  for (const w of warnings) agentLog.warn(w);
  const runAgent = await importRunAgent(io);
  if (runAgent === undefined) {
    logger.close();
    return 1;
  }
  try {
    const code = await runAgent(config, logger);
    return typeof code === "number" ? code : 0;
  } catch (e) {
    agentLog.error("agent stopped with an error", { error: e instanceof Error ? e : String(e) });
    println(io.stderr, `==> ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    logger.close();
  }
}

/** The runtime (src/agent/run.ts), loaded only for `praetor agent`. */
async function importRunAgent(_io: CliIo): Promise<RunAgent | undefined> {
  const mod = await import("../../agent/run.ts");
  return mod.runAgent;
}
