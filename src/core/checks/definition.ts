/**
 * Consul's check definitions, as config files write them (`args`, `tls_skip_verify`,
 * `deregister_critical_service_after`) and as the HTTP API sends them (`Args`, `TLSSkipVerify`,
 * `DeregisterCriticalServiceAfter`), parsed into one typed `CheckDefinition`.
 *
 * Keys match case-insensitively with `_` and `-` ignored, as Go's JSON decoding plus Consul's
 * key translation do, so `service_id`, `ServiceID` and `serviceid` are one key. Durations are Go
 * strings ("10s", "1m30s", "100ms") or numbers of nanoseconds (Go's `time.Duration` in JSON).
 * Validation follows Consul's `CheckType.Validate` and keeps its wording; the rest of the errors
 * name the key, what was expected and what came.
 */
import { parseGoDurationMs } from "../catalog/codec.ts";
import { assert } from "../util/assert.ts";
import type { CheckDefinition, CheckProbe, CheckResultStatus } from "./types.ts";
import { checkResultStatuses } from "./types.ts";

export interface CheckDefinitionContext {
  /** Where the definition came from, prefixed to errors: "config file web.json", "HTTP API". */
  readonly source: string;
  /** Set when the check is written inside a service definition; its ID and name default from it. */
  readonly serviceId?: string;
  readonly serviceName?: string;
  /** 0-based position among the service's checks, and how many it has (`service:<id>:<n>`). */
  readonly serviceCheckIndex?: number;
  readonly serviceCheckCount?: number;
}

export class CheckDefinitionError extends Error {
  override name = "CheckDefinitionError";
  constructor(
    /** The message without the source prefix, for an HTTP 400 body. */
    readonly detail: string,
    readonly source: string,
    /** The offending key as the input spelled it, when one key is to blame. */
    readonly key?: string,
  ) {
    super(source === "" ? detail : `${source}: ${detail}`);
  }
}

export type CheckDefinitionResult =
  | { readonly ok: true; readonly definition: CheckDefinition; readonly unknownKeys: readonly string[] }
  | { readonly ok: false; readonly error: CheckDefinitionError };

type FieldType = "string" | "strings" | "bool" | "count" | "duration" | "header";

/** Normalised key → [field, type]. Aliases (checkid, scriptargs) map onto the same field. */
const fields: Record<string, readonly [string, FieldType]> = {
  id: ["id", "string"],
  checkid: ["id", "string"],
  name: ["name", "string"],
  notes: ["notes", "string"],
  serviceid: ["serviceId", "string"],
  status: ["status", "string"],
  args: ["args", "strings"],
  scriptargs: ["args", "strings"],
  http: ["http", "string"],
  method: ["method", "string"],
  header: ["header", "header"],
  body: ["body", "string"],
  tlsskipverify: ["tlsSkipVerify", "bool"],
  tlsservername: ["tlsServerName", "string"],
  disableredirects: ["disableRedirects", "bool"],
  tcp: ["tcp", "string"],
  udp: ["udp", "string"],
  ttl: ["ttl", "duration"],
  interval: ["interval", "duration"],
  timeout: ["timeout", "duration"],
  aliasnode: ["aliasNode", "string"],
  aliasservice: ["aliasService", "string"],
  dockercontainerid: ["dockerContainerId", "string"],
  shell: ["shell", "string"],
  grpc: ["grpc", "string"],
  grpcusetls: ["grpcUseTls", "bool"],
  h2ping: ["h2ping", "string"],
  h2pingusetls: ["h2pingUseTls", "bool"],
  osservice: ["osService", "string"],
  successbeforepassing: ["successBeforePassing", "count"],
  failuresbeforewarning: ["failuresBeforeWarning", "count"],
  failuresbeforecritical: ["failuresBeforeCritical", "count"],
  deregistercriticalserviceafter: ["deregisterCriticalServiceAfter", "duration"],
  outputmaxsize: ["outputMaxSize", "count"],
};

/**
 * Keys a check may carry that do not change how it runs: ACL and tenancy fields, and the
 * read-only fields of a check echoed back from `/v1/agent/checks` or the catalog.
 */
const ignoredKeys = new Set([
  "token", "namespace", "partition", "node", "output", "servicename", "servicetags", "type",
  "definition", "createindex", "modifyindex", "exposedport", "peername",
]);

interface Raw {
  id?: string; name?: string; notes?: string; serviceId?: string; status?: string;
  args?: string[]; http?: string; method?: string; header?: Record<string, string[]>; body?: string;
  tlsSkipVerify?: boolean; tlsServerName?: string; disableRedirects?: boolean;
  tcp?: string; udp?: string; ttl?: number; interval?: number; timeout?: number;
  aliasNode?: string; aliasService?: string; dockerContainerId?: string; shell?: string;
  grpc?: string; grpcUseTls?: boolean; h2ping?: string; h2pingUseTls?: boolean; osService?: string;
  successBeforePassing?: number; failuresBeforeWarning?: number; failuresBeforeCritical?: number;
  deregisterCriticalServiceAfter?: number; outputMaxSize?: number;
}

/** Thrown inside the parser and turned into a result at its boundary. */
class Refusal {
  constructor(readonly detail: string, readonly key?: string) {}
}

export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, "");
}

export function parseCheckDefinition(raw: unknown, ctx: CheckDefinitionContext): CheckDefinitionResult {
  try {
    const { values, spelled, unknownKeys } = readFields(raw);
    const definition = buildDefinition(values, spelled, ctx);
    return { ok: true, definition, unknownKeys };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, error: new CheckDefinitionError(err.detail, ctx.source, err.key) };
    throw err;
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list (${JSON.stringify(value).slice(0, 60)})`;
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  return `${typeof value} ${String(value)}`;
}

function readFields(raw: unknown): { values: Raw; spelled: Map<string, string>; unknownKeys: string[] } {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Refusal(`a check definition must be a JSON object, got ${describe(raw)}`);
  }
  const values: Record<string, unknown> = {};
  const spelled = new Map<string, string>();
  const unknownKeys: string[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const normalized = normalizeKey(key);
    if (normalized === "script") {
      throw new Refusal(`key "${key}": the "script" field is no longer supported; use "args", a list of the program and its arguments (run without a shell)`, key);
    }
    const field = fields[normalized];
    if (field === undefined) {
      if (!ignoredKeys.has(normalized)) unknownKeys.push(key);
      continue;
    }
    if (value === null || value === undefined) continue;
    const [name, type] = field;
    const parsed = convert(key, type, value);
    const earlier = spelled.get(name);
    if (earlier !== undefined && !preferLater(earlier, key, name, values[name], parsed)) continue;
    values[name] = parsed;
    spelled.set(name, key);
  }
  return { values: values as Raw, spelled, unknownKeys };
}

/**
 * Two keys landed on one field. The canonical spelling wins over an alias (`ID` over `CheckID`,
 * `args` over `ScriptArgs`), as Consul's key translation does; one key spelled twice with
 * different values (`Interval` and `interval`) is a mistake worth naming.
 */
function preferLater(earlier: string, later: string, field: string, earlierValue: unknown, laterValue: unknown): boolean {
  const canonical = field.toLowerCase();
  const earlierCanonical = normalizeKey(earlier) === canonical;
  const laterCanonical = normalizeKey(later) === canonical;
  if (earlierCanonical !== laterCanonical) return laterCanonical;
  if (JSON.stringify(earlierValue) !== JSON.stringify(laterValue)) {
    throw new Refusal(`keys "${earlier}" and "${later}" are the same key with different values`, later);
  }
  return false;
}

function convert(key: string, type: FieldType, value: unknown): unknown {
  switch (type) {
    case "string":
      if (typeof value !== "string") throw new Refusal(`key "${key}": expected a string, got ${describe(value)}`, key);
      return value;
    case "strings":
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        throw new Refusal(`key "${key}": expected a list of strings (the program and its arguments), got ${describe(value)}`, key);
      }
      return [...value];
    case "bool":
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      throw new Refusal(`key "${key}": expected true or false, got ${describe(value)}`, key);
    case "count":
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
        throw new Refusal(`key "${key}": expected a whole number >= 0, got ${describe(value)}`, key);
      }
      return value;
    case "duration":
      return convertDuration(key, value);
    case "header":
      return convertHeader(key, value);
  }
}

function convertDuration(key: string, value: unknown): number {
  let ms: number | null;
  if (typeof value === "number") {
    // Go's time.Duration marshals as nanoseconds.
    ms = Number.isFinite(value) ? value / 1e6 : null;
  } else if (typeof value === "string") {
    ms = parseGoDurationMs(value);
  } else {
    ms = null;
  }
  if (ms === null) {
    const shown = typeof value === "string" ? `time: invalid duration ${JSON.stringify(value)}` : `got ${describe(value)}`;
    throw new Refusal(`key "${key}": ${shown} (expected a Go duration such as "10s", "1m30s" or "100ms", or a number of nanoseconds)`, key);
  }
  if (ms < 0) throw new Refusal(`key "${key}": a duration must not be negative, got ${JSON.stringify(value)}`, key);
  return ms;
}

function convertHeader(key: string, value: unknown): Record<string, string[]> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Refusal(`key "${key}": expected an object of header name to a list of values, got ${describe(value)}`, key);
  }
  const header: Record<string, string[]> = {};
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === "string") header[name] = [v];
    else if (Array.isArray(v) && v.every((x) => typeof x === "string")) header[name] = [...v];
    else throw new Refusal(`key "${key}": header "${name}" must be a list of strings, got ${describe(v)}`, key);
  }
  return header;
}

function buildDefinition(v: Raw, spelled: Map<string, string>, ctx: CheckDefinitionContext): CheckDefinition {
  const key = (name: string, fallback: string): string => spelled.get(name) ?? fallback;
  const status = v.status === undefined || v.status === "" ? "critical" : v.status;
  if (!checkResultStatuses.includes(status as CheckResultStatus)) {
    throw new Refusal(`key "${key("status", "status")}": Bad check status ${JSON.stringify(status)}: expected "passing", "warning" or "critical"`, key("status", "status"));
  }
  validateLikeConsul(v);
  const probe = buildProbe(v);
  const { id, name } = identity(v, ctx);
  const failuresBeforeCritical = v.failuresBeforeCritical ?? 0;
  const isTimed = probe.kind !== "ttl" && probe.kind !== "alias";
  const definition: CheckDefinition = {
    id,
    name,
    notes: v.notes ?? "",
    // A check inside a service definition belongs to that service whatever its own key says.
    serviceId: ctx.serviceId ?? v.serviceId ?? "",
    status: status as CheckResultStatus,
    probe,
    intervalMs: isTimed ? (v.interval ?? 0) : 0,
    timeoutMs: v.timeout ?? 0,
    ttlMs: probe.kind === "ttl" ? (v.ttl ?? 0) : 0,
    successBeforePassing: v.successBeforePassing ?? 0,
    // Consul's agent: "FailuresBeforeWarning has to default to same value as FailuresBeforeCritical".
    failuresBeforeWarning: v.failuresBeforeWarning === undefined || v.failuresBeforeWarning === 0 ? failuresBeforeCritical : v.failuresBeforeWarning,
    failuresBeforeCritical,
    deregisterCriticalServiceAfterMs: v.deregisterCriticalServiceAfter ?? 0,
    outputMaxSize: v.outputMaxSize ?? 0,
  };
  assert(definition.failuresBeforeWarning <= definition.failuresBeforeCritical, `failuresBeforeWarning ${definition.failuresBeforeWarning} > failuresBeforeCritical ${definition.failuresBeforeCritical}`);
  assert(!isTimed || definition.intervalMs > 0, `a ${probe.kind} check has interval ${definition.intervalMs}`);
  return definition;
}

/** Consul's `CheckType.Validate`, in its order and with its messages. */
function validateLikeConsul(v: Raw): void {
  const isScript = (v.args?.length ?? 0) > 0;
  const intervalCheck = isScript || !!v.http || !!v.tcp || !!v.udp || !!v.grpc || !!v.h2ping || !!v.osService;
  const isAlias = !!v.aliasNode || !!v.aliasService;
  const intervalMs = v.interval ?? 0;
  const ttlMs = v.ttl ?? 0;
  if (intervalMs > 0 && ttlMs > 0) throw new Refusal("Interval and TTL cannot both be specified");
  if (intervalCheck && intervalMs <= 0) {
    throw new Refusal("Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks", "interval");
  }
  if (intervalCheck && isAlias) throw new Refusal("Interval cannot be set for Alias checks");
  if (isAlias && ttlMs > 0) throw new Refusal("TTL must be not be set for Alias checks", "ttl");
  if (!intervalCheck && !isAlias && ttlMs <= 0) {
    throw new Refusal("TTL must be > 0 for TTL checks (a check needs one of args, http, tcp, udp, grpc with an interval, a ttl, or alias_service/alias_node)", "ttl");
  }
  if ((v.failuresBeforeWarning ?? 0) > (v.failuresBeforeCritical ?? 0)) {
    throw new Refusal(`FailuresBeforeWarning can't be higher than FailuresBeforeCritical (failures_before_warning ${v.failuresBeforeWarning}, failures_before_critical ${v.failuresBeforeCritical ?? 0})`, "failures_before_warning");
  }
}

function buildProbe(v: Raw): CheckProbe {
  // Consul picks one kind by priority when several are set; naming the clash is kinder.
  const targets = (
    [["args", (v.args?.length ?? 0) > 0], ["http", !!v.http], ["tcp", !!v.tcp], ["udp", !!v.udp],
     ["grpc", !!v.grpc], ["h2ping", !!v.h2ping], ["os_service", !!v.osService]] as const
  ).filter(([, set]) => set).map(([name]) => name);
  if (targets.length > 1) {
    throw new Refusal(`a check runs one probe, but this one sets ${targets.map((t) => `"${t}"`).join(" and ")}: keep exactly one`);
  }
  if (v.grpc) return { kind: "grpc", target: v.grpc, useTls: v.grpcUseTls ?? false, tlsSkipVerify: v.tlsSkipVerify ?? false };
  if (v.http) {
    return {
      kind: "http",
      url: v.http,
      method: v.method === undefined || v.method === "" ? "GET" : v.method.toUpperCase(),
      header: v.header ?? {},
      body: v.body ?? "",
      tlsSkipVerify: v.tlsSkipVerify ?? false,
      tlsServerName: v.tlsServerName ?? "",
      disableRedirects: v.disableRedirects ?? false,
    };
  }
  if ((v.ttl ?? 0) > 0) return { kind: "ttl" };
  if (v.tcp) return { kind: "tcp", address: v.tcp };
  if (v.udp) return { kind: "udp", address: v.udp };
  if (v.aliasNode || v.aliasService) return { kind: "alias", aliasNode: v.aliasNode ?? "", aliasService: v.aliasService ?? "" };
  if ((v.args?.length ?? 0) > 0 && v.dockerContainerId) {
    return { kind: "docker", containerId: v.dockerContainerId, args: v.args!, shell: v.shell ?? "" };
  }
  if ((v.args?.length ?? 0) > 0) return { kind: "script", args: v.args! };
  if (v.h2ping) return { kind: "h2ping", target: v.h2ping, useTls: v.h2pingUseTls ?? true };
  assert(v.osService, "validateLikeConsul let a check without a probe through");
  return { kind: "os_service", service: v.osService };
}

/** Consul's defaults: `service:<id>` (`:<n>` when the service has several checks), else the name. */
function identity(v: Raw, ctx: CheckDefinitionContext): { id: string; name: string } {
  if (ctx.serviceId !== undefined) {
    assert(ctx.serviceId !== "", "a service check's context names an empty service ID");
    const count = ctx.serviceCheckCount ?? 1;
    const index = ctx.serviceCheckIndex ?? 0;
    assert(index >= 0 && index < count, `service check index ${index} outside count ${count}`);
    const id = v.id !== undefined && v.id !== "" ? v.id : `service:${ctx.serviceId}${count > 1 ? `:${index + 1}` : ""}`;
    const name = v.name !== undefined && v.name !== "" ? v.name : `Service '${ctx.serviceName ?? ctx.serviceId}' check`;
    return { id, name };
  }
  if (v.name === undefined || v.name === "") {
    throw new Refusal(`Missing check name: a check outside a service definition needs "name" (its ID defaults to the name)`, "name");
  }
  return { id: v.id !== undefined && v.id !== "" ? v.id : v.name, name: v.name };
}

export type ServiceChecksResult =
  | { readonly ok: true; readonly definitions: readonly CheckDefinition[]; readonly unknownKeys: readonly string[] }
  | { readonly ok: false; readonly error: CheckDefinitionError };

/** Consul's `CheckType.Empty()`: a check whose every field is a zero value is dropped, not refused. */
function isEmptyCheck(raw: unknown): boolean {
  if (raw === null || raw === undefined) return true;
  if (typeof raw !== "object" || Array.isArray(raw)) return false;
  return Object.values(raw as Record<string, unknown>).every((v) =>
    v === null || v === "" || v === 0 || v === false || (Array.isArray(v) && v.length === 0) ||
    (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0));
}

/**
 * The checks of one service definition, from its `check` (one) and `checks` (a list) keys in
 * either spelling, in Consul's order (`check` first) so that defaulted IDs come out as Consul
 * numbers them: `service:<id>` for a lone check, `service:<id>:1`, `:2` ... for several.
 */
export function parseServiceChecks(
  service: unknown,
  ctx: { readonly source: string; readonly serviceId: string; readonly serviceName: string },
): ServiceChecksResult {
  if (service === null || typeof service !== "object" || Array.isArray(service)) {
    return { ok: false, error: new CheckDefinitionError(`a service definition must be a JSON object, got ${describe(service)}`, ctx.source) };
  }
  const raws: unknown[] = [];
  for (const [key, value] of Object.entries(service as Record<string, unknown>)) {
    const normalized = normalizeKey(key);
    if (normalized === "check" && !isEmptyCheck(value)) raws.unshift(value);
    if (normalized === "checks" && value !== null && value !== undefined) {
      if (!Array.isArray(value)) {
        return { ok: false, error: new CheckDefinitionError(`key "${key}": expected a list of check definitions, got ${describe(value)}`, ctx.source, key) };
      }
      raws.push(...value.filter((v) => !isEmptyCheck(v)));
    }
  }
  const definitions: CheckDefinition[] = [];
  const unknownKeys: string[] = [];
  for (const [index, raw] of raws.entries()) {
    const result = parseCheckDefinition(raw, { ...ctx, serviceCheckIndex: index, serviceCheckCount: raws.length });
    if (!result.ok) {
      const detail = `Check is not valid (check ${index + 1} of service ${JSON.stringify(ctx.serviceName)}): ${result.error.detail}`;
      return { ok: false, error: new CheckDefinitionError(detail, ctx.source, result.error.key) };
    }
    definitions.push(result.definition);
    unknownKeys.push(...result.unknownKeys);
  }
  const ids = new Set<string>();
  for (const d of definitions) {
    if (ids.has(d.id)) return { ok: false, error: new CheckDefinitionError(`service ${JSON.stringify(ctx.serviceName)} defines check ID ${JSON.stringify(d.id)} twice`, ctx.source) };
    ids.add(d.id);
  }
  return { ok: true, definitions, unknownKeys };
}
