/**
 * Consul's DNS interface: `createDnsHandler` answers query bytes from the agent's catalog view,
 * `startDnsServer` serves a handler on UDP and TCP.
 *
 *   const handler = createDnsHandler(backend, { ...defaultDnsConfig(), recursors: ["8.8.8.8"] }, { logger });
 *   const dns = await startDnsServer({ host: "127.0.0.1", port: 8600, handler, logger });
 */
export { defaultDnsConfig, DnsConfigError, parseRecursor, resolveDnsConfig, type DnsConfig, type SoaConfig } from "./config.ts";
export {
  createDnsHandler, type DnsHandler, type DnsHandlerDeps, type DnsHandlerStats, type DnsHandlerWithStats, type DnsLogger,
  type DnsTransport,
} from "./handler.ts";
export { DnsPortError, startDnsServer, type DnsServer, type DnsServerLogger, type DnsServerOptions } from "./server.ts";
