/**
 * `praetor agent` after its configuration is loaded: start the agent, its HTTP API and DNS
 * server, write the pid file, and turn signals into Consul's behaviour (SIGINT/SIGTERM leave the
 * pools gracefully and exit; SIGHUP reloads services, checks and the log level). Resolves with the
 * process's exit code.
 */
import * as fs from "node:fs";
import { Agent } from "./agent.ts";
import type { AgentConfig } from "./config/types.ts";
import type { LogLevel, RootLogger } from "./log.ts";

export interface RunningAgent {
  readonly agent: Agent;
  readonly httpPorts: readonly number[];
  readonly dnsPorts: readonly number[];
  /** Stops the front ends and the agent without leaving. */
  stop(): Promise<void>;
  /** Resolves when the agent has shut down (leave, signal, or stop()). */
  readonly stopped: Promise<void>;
}

/** Re-reads the configuration the agent was started with (the command line after `agent`). */
function reloadFromArgv(): () => Promise<AgentConfig> {
  const i = process.argv.indexOf("agent");
  const args = i < 0 ? [] : process.argv.slice(i + 1);
  return async () => {
    const { loadConfig } = await import("./config/index.ts");
    return loadConfig(args, process.env).config;
  };
}

/** Starts everything; used by the CLI, the examples and the tests (in-process agents). */
export async function startAgent(config: AgentConfig, logger: RootLogger, options: { reloadConfig?: () => Promise<AgentConfig> } = {}): Promise<RunningAgent> {
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => { resolveStopped = resolve; });
  const closers: (() => Promise<void>)[] = [];
  let stopping = false;
  const stopFrontEnds = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(closers.map((c) => c().catch(() => {})));
  };
  const reload = options.reloadConfig;
  const agent = await Agent.start(config, logger, {
    onShutdown: () => void stopFrontEnds().then(resolveStopped),
    subscribeLogs: (level, listener, json) => logger.subscribe({ level: level as LogLevel, json }, listener),
    ...(reload !== undefined ? {
      reloadConfig: async () => {
        const next = await reload();
        logger.setLevel(next.logLevel);
        return next;
      },
    } : {}),
  });
  const httpPorts: number[] = [];
  const dnsPorts: number[] = [];
  try {
    if (config.ports.http >= 0) {
      const { createHttpApi, startHttpServer } = await import("../http/server.ts");
      const app = createHttpApi(agent, { logger: httpLogger(logger.named("agent.http")) });
      for (const host of config.addresses.http) {
        const server = await startHttpServer({ host, port: config.ports.http, app });
        httpPorts.push(server.port);
        closers.push(() => server.close());
      }
    }
    if (config.ports.dns >= 0) {
      const { createDnsHandler } = await import("../dns/handler.ts");
      const { startDnsServer } = await import("../dns/server.ts");
      const dnsLog = logger.named("agent.dns");
      const handler = createDnsHandler(agent, {
        domain: config.domain, ...(config.altDomain !== undefined ? { altDomain: config.altDomain } : {}),
        nodeTtlMs: config.dnsConfig.nodeTtlMs, serviceTtlMs: config.dnsConfig.serviceTtlMs, allowStale: config.dnsConfig.allowStale,
        maxStaleMs: config.dnsConfig.maxStaleMs, udpAnswerLimit: config.dnsConfig.udpAnswerLimit, enableTruncate: config.dnsConfig.enableTruncate,
        onlyPassing: config.dnsConfig.onlyPassing, nodeMetaTxt: config.dnsConfig.enableAdditionalNodeMetaTxt, recursors: config.recursors,
        recursorTimeoutMs: config.dnsConfig.recursorTimeoutMs, useCache: config.dnsConfig.useCache, cacheMaxAgeMs: config.dnsConfig.cacheMaxAgeMs,
        soa: { refresh: config.dnsConfig.soa.refreshS, retry: config.dnsConfig.soa.retryS, expire: config.dnsConfig.soa.expireS, min: config.dnsConfig.soa.minTtlS },
      }, { logger: { debug: (m) => dnsLog.debug(m), warn: (m) => dnsLog.warn(m) }, readsAreLocal: config.server });
      closers.push(async () => handler.close());
      for (const host of config.addresses.dns) {
        const server = await startDnsServer({ host, port: config.ports.dns, handler, logger: { info: (m) => dnsLog.info(m), warn: (m) => dnsLog.warn(m) } });
        dnsPorts.push(server.udpPort);
        closers.push(() => server.close());
      }
    }
  } catch (error) {
    await stopFrontEnds();
    await agent.shutdown();
    throw error;
  }
  return {
    agent, httpPorts, dnsPorts, stopped,
    async stop() {
      await stopFrontEnds();
      await agent.shutdown();
      resolveStopped();
    },
  };
}

function httpLogger(log: RootLogger | ReturnType<RootLogger["named"]>) {
  return {
    error: (fields: object, message: string) => log.error(message, fields as Record<string, unknown>),
    warn: (fields: object, message: string) => log.warn(message, fields as Record<string, unknown>),
    debug: (fields: object, message: string) => log.debug(message, fields as Record<string, unknown>),
  };
}

export async function runAgent(config: AgentConfig, logger: RootLogger): Promise<number> {
  let running: RunningAgent;
  try {
    running = await startAgent(config, logger, { reloadConfig: reloadFromArgv() });
  } catch (error) {
    logger.error(`error starting agent: ${(error as Error).message}`);
    return 1;
  }
  if (config.pidFile !== undefined) {
    try {
      fs.writeFileSync(config.pidFile, `${process.pid}`);
    } catch (error) {
      logger.error(`cannot write pid file ${config.pidFile}: ${(error as Error).message}`);
    }
  }
  const { agent } = running;
  let signalled = false;
  const onTerminate = (signal: string) => {
    if (signalled) {
      logger.warn(`${signal} again: exiting at once`);
      process.exit(1);
    }
    signalled = true;
    logger.info(`caught signal: ${signal}`);
    // The issue asks for left, not failed, on SIGINT/SIGTERM for every agent.
    void agent.leave().catch((error: Error) => {
      logger.error(`leave failed: ${error.message}`);
      void running.stop();
    });
  };
  process.on("SIGINT", () => onTerminate("interrupt"));
  process.on("SIGTERM", () => onTerminate("terminated"));
  process.on("SIGHUP", () => {
    logger.info("caught signal: hangup; reloading configuration");
    void agent.reload().then(() => logger.info("reload complete"), (error: Error) => logger.error(`reload failed: ${error.message}`));
  });
  await running.stopped;
  if (config.pidFile !== undefined) fs.rmSync(config.pidFile, { force: true });
  logger.info("agent: shutdown complete");
  logger.close();
  return 0;
}
