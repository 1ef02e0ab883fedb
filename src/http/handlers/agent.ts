/**
 * `/v1/agent/*` (agent_endpoint.go): this agent's own state. Services and checks are local, so
 * `?filter` is applied here; everything else is one call into the agent.
 */
import { PassThrough } from "node:stream";
import { ApiError, type AgentBackend, type AgentCheck, type AgentService } from "../../agent/api.ts";
import { aggregatedStatus, type CheckStatus } from "../../core/catalog/index.ts";
import { applyFilter } from "../../core/filter/index.ts";
import { field } from "../bodies.ts";
import type { Call } from "../call.ts";
import { badRequest, parseGoBool } from "../params.ts";

export async function agentSelf(call: Call, backend: AgentBackend): Promise<void> {
  call.send(await backend.self());
}

export async function agentMembers(call: Call, backend: AgentBackend): Promise<void> {
  const segment = call.params.get("segment");
  call.send(backend.members({ wan: call.params.flag("wan"), ...(segment === undefined ? {} : { segment }) }) ?? []);
}

export async function agentJoin(call: Call, backend: AgentBackend): Promise<void> {
  const address = call.required("address to join");
  await backend.join(address, { wan: call.params.flag("wan") });
  call.empty(200);
}

export async function agentLeave(call: Call, backend: AgentBackend): Promise<void> {
  await backend.leave();
  call.empty(200);
}

export async function agentForceLeave(call: Call, backend: AgentBackend): Promise<void> {
  const node = call.required("node name");
  await backend.forceLeave(node, { prune: call.params.flag("prune"), wan: call.params.flag("wan") });
  call.empty(200);
}

export async function agentReload(call: Call, backend: AgentBackend): Promise<void> {
  await backend.reload();
  call.empty(200);
}

/** `?enable=true|false` is required; `?reason` is optional. */
function maintenanceArgs(call: Call): { enable: boolean; reason: string } {
  const enable = call.params.get("enable");
  if (enable === undefined || enable === "") throw badRequest("Missing value for enable");
  const parsed = parseGoBool(enable);
  if (parsed === null) throw badRequest(`Invalid value for enable: ${JSON.stringify(enable)}`);
  return { enable: parsed, reason: call.params.get("reason") ?? "" };
}

export async function agentMaintenance(call: Call, backend: AgentBackend): Promise<void> {
  const { enable, reason } = maintenanceArgs(call);
  await backend.nodeMaintenance(enable, reason);
  call.empty(200);
}

export async function agentServiceMaintenance(call: Call, backend: AgentBackend): Promise<void> {
  const id = call.required("service id");
  const { enable, reason } = maintenanceArgs(call);
  await backend.serviceMaintenance(id, enable, reason);
  call.empty(200);
}

export async function agentServices(call: Call, backend: AgentBackend): Promise<void> {
  call.send(applyFilter(call.params.filter(), backend.localServices()));
}

export async function agentService(call: Call, backend: AgentBackend): Promise<void> {
  const id = call.required("service id");
  const service = backend.localServices()[id];
  if (service === undefined) throw new ApiError(404, `unknown service ID: ${id}`);
  call.send(service);
}

export async function agentChecks(call: Call, backend: AgentBackend): Promise<void> {
  call.send(applyFilter(call.params.filter(), backend.localChecks()));
}

export async function agentServiceRegister(call: Call, backend: AgentBackend): Promise<void> {
  const body = await call.jsonObject("service definition");
  const replaceExistingChecks = call.params.strictFlag("replace-existing-checks");
  await backend.registerService(body, { replaceExistingChecks, ...(call.token === undefined ? {} : { token: call.token }) });
  call.empty(200);
}

export async function agentServiceDeregister(call: Call, backend: AgentBackend): Promise<void> {
  await backend.deregisterService(call.required("service id"));
  call.empty(200);
}

export async function agentCheckRegister(call: Call, backend: AgentBackend): Promise<void> {
  const body = await call.jsonObject("check definition");
  await backend.registerCheck(body, { ...(call.token === undefined ? {} : { token: call.token }) });
  call.empty(200);
}

export async function agentCheckDeregister(call: Call, backend: AgentBackend): Promise<void> {
  await backend.deregisterCheck(call.required("check id"));
  call.empty(200);
}

export function agentCheckTtl(status: "passing" | "warning" | "critical") {
  return async (call: Call, backend: AgentBackend): Promise<void> => {
    const id = call.required("check id");
    await backend.updateTtlCheck(id, status, call.params.get("note") ?? "");
    call.empty(200);
  };
}

/** `PUT /v1/agent/check/update/:id` with `{"Status": "passing|warning|critical", "Output": "..."}`. */
export async function agentCheckUpdate(call: Call, backend: AgentBackend): Promise<void> {
  const id = call.required("check id");
  const body = await call.jsonObject("check update");
  const status = field(body, "Status");
  const output = field(body, "Output") ?? "";
  if (status !== "passing" && status !== "warning" && status !== "critical") {
    throw badRequest(`Invalid check status: '${String(status ?? "")}'`);
  }
  if (typeof output !== "string") throw badRequest("Request decode failed: Output must be a string");
  await backend.updateTtlCheck(id, status, output);
  call.empty(200);
}

interface LocalHealth {
  AggregatedStatus: CheckStatus;
  Service: AgentService;
  Checks: AgentCheck[];
}

/** The local checks of one instance: its own and the node's (maintenance included). */
function localHealth(service: AgentService, checks: Record<string, AgentCheck>): LocalHealth {
  const own = Object.values(checks).filter((check) => check.ServiceID === service.ID || check.ServiceID === "");
  return { AggregatedStatus: aggregatedStatus(own), Service: service, Checks: own };
}

/** Consul's codes for local health: 200 passing, 429 warning, 503 critical or in maintenance. */
const statusCode: Record<CheckStatus, number> = { passing: 200, warning: 429, critical: 503, maintenance: 503 };

export async function agentHealthByName(call: Call, backend: AgentBackend): Promise<void> {
  const name = call.required("service name");
  const checks = backend.localChecks();
  const found = Object.values(backend.localServices()).filter((service) => service.Service === name).map((service) => localHealth(service, checks));
  if (found.length === 0) {
    if (call.params.get("format") === "text") return call.text(`ServiceName ${name} Not Found`, 404);
    return call.send([], 404);
  }
  const worst = aggregatedStatus(found.flatMap((entry) => entry.Checks));
  if (call.params.get("format") === "text") return call.text(worst, statusCode[worst]);
  call.send(found, statusCode[worst]);
}

export async function agentHealthById(call: Call, backend: AgentBackend): Promise<void> {
  const id = call.required("service id");
  const service = backend.localServices()[id];
  if (service === undefined) {
    if (call.params.get("format") === "text") return call.text(`ServiceId ${id} not found`, 404);
    throw new ApiError(404, `ServiceId ${id} not found`);
  }
  const health = localHealth(service, backend.localChecks());
  if (call.params.get("format") === "text") return call.text(health.AggregatedStatus, statusCode[health.AggregatedStatus]);
  call.send(health, statusCode[health.AggregatedStatus]);
}

export async function agentMetrics(call: Call, backend: AgentBackend): Promise<void> {
  if (call.params.get("format") === "prometheus") {
    const text = await backend.metrics("prometheus");
    return call.text(typeof text === "string" ? text : JSON.stringify(text), 200, "text/plain; version=0.0.4; charset=utf-8");
  }
  call.send(await backend.metrics("json"));
}

const logLevels = new Set(["trace", "debug", "info", "warn", "error"]);

/** Streams log lines at `?loglevel=` (default info) and above until the client goes away. */
export async function agentMonitor(call: Call, backend: AgentBackend): Promise<void> {
  const level = (call.params.get("loglevel") ?? "info").toLowerCase();
  if (!logLevels.has(level)) throw badRequest(`Unknown log level: ${level}`);
  const json = call.params.flag("logjson");
  const stream = new PassThrough();
  const stop = backend.monitor(level, (line) => {
    stream.write(line.endsWith("\n") ? line : line + "\n");
  }, json);
  const close = (): void => {
    stop();
    stream.end();
  };
  call.ctx.req.once("close", close);
  call.ctx.res.once("close", close);
  call.ctx.status = 200;
  call.ctx.type = "text/plain; charset=utf-8";
  call.ctx.set("Cache-Control", "no-cache");
  call.ctx.body = stream;
  // Send the headers now, so a client sees the stream open before the first line.
  call.ctx.res.flushHeaders();
}

export async function agentHost(call: Call, backend: AgentBackend): Promise<void> {
  call.send(await backend.host());
}
