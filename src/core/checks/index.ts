/** The pure parts of the agent's health checks: definitions, the status machine, output limits, alias math. */
export * from "./types.ts";
export * from "./definition.ts";
export * from "./status.ts";
export * from "./output.ts";
export * from "./alias.ts";
export * from "./sync.ts";
export * from "./grpc-health.ts";
