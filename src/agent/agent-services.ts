/**
 * The agent's own services and checks: parsing Consul's service definitions (config files and
 * `/v1/agent/service/register`, keys case-insensitive), running their checks in the check runner,
 * maintenance mode, and TTL updates. Every change lands in LocalState, which anti-entropy syncs.
 */
import { parseCheckDefinition, type CheckDefinition } from "../core/checks/index.ts";
import type { LocalCheck, LocalService } from "../core/agent/anti-entropy.ts";
import { nodeMaintenanceCheck, serviceMaintenanceCheck, serviceMaintenanceCheckId } from "../core/agent/maintenance.ts";
import { nodeMaintenanceCheckId, serviceMaintenanceCheckPrefix } from "../core/catalog/queries.ts";
import { ApiError } from "./api.ts";
import { CheckRunner, CheckRunnerError, type AliasView } from "./checks/runner.ts";
import type { AgentConfig } from "./config/types.ts";
import type { LocalState, Origin } from "./local-state.ts";

interface AgentLike {
  readonly nodeName: string;
  query: import("./api.ts").AgentBackend["query"];
  deregisterService(id: string): Promise<void>;
}

interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}


/** Case-insensitive field access, as Go's JSON decoding matches keys. */
function fieldOf(raw: Record<string, unknown>, ...names: string[]): unknown {
  const wanted = new Set(names.map((n) => n.toLowerCase().replace(/_/g, "")));
  for (const [key, value] of Object.entries(raw)) if (wanted.has(key.toLowerCase().replace(/_/g, ""))) return value;
  return undefined;
}

function bad(message: string): never {
  throw new ApiError(400, message);
}

function asString(value: unknown, name: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") bad(`Request decode failed: ${name} must be a string`);
  return value;
}

function asStringMap(value: unknown, name: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) bad(`Request decode failed: ${name} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== "string") bad(`Request decode failed: ${name}.${k} must be a string`);
    out[k] = v;
  }
  return out;
}

export interface ParsedService {
  readonly service: LocalService;
  readonly checks: readonly unknown[];
}

export function parseServiceDefinition(body: unknown): ParsedService {
  if (typeof body !== "object" || body === null || Array.isArray(body)) bad("Request decode failed: the body must be a JSON object");
  const raw = body as Record<string, unknown>;
  const name = asString(fieldOf(raw, "Name", "Service"), "Name");
  if (name === "") bad("Missing service name");
  const id = asString(fieldOf(raw, "ID"), "ID") || name;
  const tagsRaw = fieldOf(raw, "Tags");
  if (tagsRaw !== undefined && tagsRaw !== null && (!Array.isArray(tagsRaw) || tagsRaw.some((t) => typeof t !== "string"))) bad("Request decode failed: Tags must be a list of strings");
  const portRaw = fieldOf(raw, "Port");
  if (portRaw !== undefined && portRaw !== null && (typeof portRaw !== "number" || !Number.isInteger(portRaw) || portRaw < 0 || portRaw > 65535)) {
    bad(`Invalid Port ${JSON.stringify(portRaw)}: must be an integer in 0..65535`);
  }
  const weightsRaw = fieldOf(raw, "Weights");
  let weights = { Passing: 1, Warning: 1 };
  if (weightsRaw !== undefined && weightsRaw !== null) {
    if (typeof weightsRaw !== "object") bad("Request decode failed: Weights must be an object");
    const w = weightsRaw as Record<string, unknown>;
    const passing = fieldOf(w, "Passing");
    const warning = fieldOf(w, "Warning");
    weights = { Passing: typeof passing === "number" ? passing : 1, Warning: typeof warning === "number" ? warning : 1 };
    if (weights.Passing < 1) bad("Passing must be greater than 0");
  }
  const checks: unknown[] = [];
  const check = fieldOf(raw, "Check");
  if (check !== undefined && check !== null && (typeof check !== "object" || Object.keys(check).length > 0)) checks.push(check);
  const list = fieldOf(raw, "Checks");
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) bad("Request decode failed: Checks must be a list");
    checks.push(...list);
  }
  return {
    service: {
      ID: id, Service: name, Tags: (tagsRaw as string[] | undefined) ?? [], Address: asString(fieldOf(raw, "Address"), "Address"),
      Port: (portRaw as number | undefined) ?? 0, Meta: asStringMap(fieldOf(raw, "Meta"), "Meta"), Weights: weights,
      EnableTagOverride: fieldOf(raw, "EnableTagOverride") === true, Kind: asString(fieldOf(raw, "Kind"), "Kind"),
    },
    checks,
  };
}

function durationText(ms: number): string {
  if (ms === 0) return "";
  if (ms % 60_000 === 0) return `${ms / 60_000}m0s`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export class AgentServices {
  private readonly runner: CheckRunner;

  constructor(private readonly agent: AgentLike, private readonly local: LocalState, private readonly config: AgentConfig, private readonly log: Logger) {
    this.runner = new CheckRunner({
      enableScriptChecks: config.enableScriptChecks,
      enableLocalScriptChecks: config.enableLocalScriptChecks,
      outputMaxBytes: config.checkOutputMaxSizeBytes,
      aliasSource: (target) => this.aliasView(target),
      log: (level, message) => this.log[level === "error" ? "error" : level === "warn" ? "warn" : "debug"](message),
    });
    this.runner.onChange((id, status, output) => {
      this.local.updateCheck(id, status, output);
    });
    this.runner.onDeregisterCritical((serviceId, checkId, ms) => {
      this.log.warn(`check ${checkId} critical for ${Math.round(ms / 1000)}s: deregistering service ${serviceId}`);
      void this.agent.deregisterService(serviceId).catch(() => {});
    });
    this.local.onChange(() => this.runner.refreshAliases());
  }

  private async aliasView(target: { node: string; serviceId: string }): Promise<AliasView> {
    const node = target.node === "" ? this.agent.nodeName : target.node;
    if (node === this.agent.nodeName) {
      const checks = [...this.local.checks.values()].map((e) => e.check)
        .filter((c) => target.serviceId === "" || c.ServiceID === target.serviceId || c.ServiceID === "");
      return { checks: checks.map((c) => ({ Node: node, ServiceID: c.ServiceID, Name: c.Name, Status: c.Status, Output: c.Output })), serviceExists: target.serviceId === "" || this.local.services.has(target.serviceId) };
    }
    const result = await this.agent.query({ kind: "healthNode", name: node }, { consistency: "stale" });
    const checks = result.value.filter((c) => target.serviceId === "" || c.ServiceID === target.serviceId || c.ServiceID === "");
    return { checks: checks.map((c) => ({ Node: node, ServiceID: c.ServiceID, Name: c.Name, Status: c.Status, Output: c.Output })), serviceExists: target.serviceId === "" || checks.some((c) => c.ServiceID === target.serviceId) };
  }

  private parseCheck(raw: unknown, origin: Origin, service?: LocalService, index?: number, count?: number): CheckDefinition {
    const result = parseCheckDefinition(raw, {
      source: origin === "api" ? "" : "config",
      ...(service !== undefined ? { serviceId: service.ID, serviceName: service.Service, serviceCheckIndex: index ?? 0, serviceCheckCount: count ?? 1 } : {}),
    });
    if (!result.ok) bad(result.error.detail);
    return result.definition;
  }

  /**
   * `origin` says where the check is kept (an API service's checks persist with the service, so
   * they are stored as "config"); `from` says who asked, which decides whether scripts may run.
   */
  private async addCheck(def: CheckDefinition, origin: Origin, rawDefinition: Record<string, unknown>, from: Origin = origin): Promise<void> {
    try {
      this.runner.add(def, { origin: from === "api" ? "remote" : "local" });
    } catch (error) {
      if (error instanceof CheckRunnerError) throw new ApiError(error.httpStatus === 404 ? 404 : error.httpStatus, error.message);
      throw error;
    }
    const check: LocalCheck = {
      CheckID: def.id, Name: def.name, Status: def.status, Output: "", Notes: def.notes, ServiceID: def.serviceId, Type: def.probe.kind,
    };
    await this.local.addCheck({
      check, origin, definition: rawDefinition,
      interval: durationText(def.intervalMs), timeout: durationText(def.timeoutMs), outputSyncedMs: 0,
    });
    if (def.probe.kind === "ttl") {
      const saved = await this.local.checkState(def.id, Date.now());
      if (saved !== null && this.runner.get(def.id) !== undefined) this.runner.ttlUpdate(def.id, saved.Status, saved.Output);
    }
    const snapshot = this.runner.get(def.id);
    if (snapshot !== undefined) this.local.updateCheck(def.id, snapshot.status, snapshot.output);
  }

  async registerService(body: unknown, options: { replaceExistingChecks: boolean }, origin: Origin): Promise<void> {
    const parsed = parseServiceDefinition(body);
    const defs = parsed.checks.map((raw, i) => this.parseCheck(raw, origin, parsed.service, i, parsed.checks.length));
    for (const def of defs) {
      if (def.probe.kind === "script" && !(this.config.enableScriptChecks || (origin === "config" && this.config.enableLocalScriptChecks))) {
        throw new ApiError(500, `Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true (open script registration over the HTTP API is remote code execution): check ${def.id}`);
      }
    }
    const definition = { ...(body as Record<string, unknown>) };
    delete definition.source;
    await this.local.addService({ service: parsed.service, origin, definition });
    if (options.replaceExistingChecks) {
      const keep = new Set(defs.map((d) => d.id));
      for (const [id, entry] of [...this.local.checks]) {
        if (entry.check.ServiceID === parsed.service.ID && !keep.has(id) && !id.startsWith(serviceMaintenanceCheckPrefix)) {
          this.runner.remove(id);
          await this.local.removeCheck(id);
        }
      }
    }
    // Service checks persist with the service definition, not on their own.
    for (const [i, def] of defs.entries()) await this.addCheck(def, "config", parsed.checks[i] as Record<string, unknown>, origin);
  }

  async deregisterService(id: string): Promise<void> {
    for (const [checkId, entry] of this.local.checks) if (entry.check.ServiceID === id) this.runner.remove(checkId);
    if (!(await this.local.removeService(id))) throw new ApiError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
  }

  async registerCheck(body: unknown, origin: Origin): Promise<void> {
    if (typeof body !== "object" || body === null) bad("Request decode failed: the body must be a JSON object");
    const serviceId = asString(fieldOf(body as Record<string, unknown>, "ServiceID"), "ServiceID");
    const service = serviceId === "" ? undefined : this.local.services.get(serviceId)?.service;
    if (serviceId !== "" && service === undefined) throw new ApiError(404, `ServiceID "${serviceId}" does not exist`);
    const def = this.parseCheck(body, origin);
    const hasName = def.name !== "";
    if (!hasName) bad("Missing check name");
    await this.addCheck(def, origin, body as Record<string, unknown>);
  }

  async deregisterCheck(id: string): Promise<void> {
    this.runner.remove(id);
    if (!(await this.local.removeCheck(id))) throw new ApiError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
  }

  async updateTtl(id: string, status: "passing" | "warning" | "critical", output: string): Promise<void> {
    if (!this.local.checks.has(id)) throw new ApiError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
    try {
      const stored = this.runner.ttlUpdate(id, status, output);
      this.local.updateCheck(id, status, stored);
      const ttlMs = this.runner.ttlOf(id);
      if (ttlMs !== null) await this.local.saveCheckState(id, { Status: status, Output: stored, ExpiresMs: Date.now() + ttlMs });
    } catch (error) {
      if (error instanceof CheckRunnerError) throw new ApiError(error.httpStatus, error.message);
      throw error;
    }
  }

  async nodeMaintenance(enable: boolean, reason: string): Promise<void> {
    if (!enable) {
      await this.local.removeCheck(nodeMaintenanceCheckId);
      return;
    }
    const check = nodeMaintenanceCheck(reason);
    await this.local.addCheck({
      check, origin: "api", definition: { ID: check.CheckID, Name: check.Name, Notes: check.Notes, Status: check.Status },
      interval: "", timeout: "", outputSyncedMs: 0,
    });
  }

  async serviceMaintenance(id: string, enable: boolean, reason: string): Promise<void> {
    if (!this.local.services.has(id)) throw new ApiError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
    if (!enable) {
      await this.local.removeCheck(serviceMaintenanceCheckId(id));
      return;
    }
    await this.local.addCheck({ check: serviceMaintenanceCheck(id, reason), origin: "config", definition: {}, interval: "", timeout: "", outputSyncedMs: 0 });
  }

  stop(): void {
    this.runner.stop();
  }
}
