/**
 * Prepared queries (Consul's prepared_query_endpoint.go, state/prepared_query.go and
 * prepared_query/template.go): stored service lookups, created, updated and deleted through the
 * log, resolved by ID, by name, or by the longest `name_prefix_match` template prefix, and
 * executed against the health of the local datacenter. Shuffling, `near` sorting and `?limit`
 * draw on the answering agent's randomness and coordinates, so they happen outside the core.
 */
import { assert } from "../util/assert.ts";
import { compileRe2, Re2SyntaxError } from "../util/re2.ts";
import { parseGoDurationMs } from "./codec.ts";
import type { Command, PreparedQueryInput } from "./commands.ts";
import { healthService } from "./queries.ts";
import type { CatalogState } from "./state.ts";
import type { ApplyResult, CheckRecord, HealthServiceEntry, PreparedQueryRecord, QueryResult, RaftIndex } from "./types.ts";

type QueryCommand = Extract<Command, { op: "query" }>;

export const templateTypeNamePrefixMatch = "name_prefix_match";

export const connectUnsupported = "Connect-capable lookups are not supported by Praetor";

/** Consul's structs.ErrQueryNotFound: the HTTP layer answers it with a 404. */
export const queryNotFound = "Query not found";

function fail(message: string): ApplyResult {
  return { ok: false, error: { status: 500, message } };
}

const uuidShape = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function looksLikeUuid(text: string): boolean {
  return uuidShape.test(text);
}

export function applyPreparedQuery(state: CatalogState, cmd: QueryCommand): ApplyResult {
  const id = cmd.Query.ID ?? "";
  if (id === "") return fail("Missing Query ID");
  const existing = state.preparedQueries.get(id);
  if (cmd.Verb === "create" && existing !== undefined) return fail(`Prepared query ID "${id}" already exists`);
  // Lookups try the ID only for a UUID-shaped name, as Consul's memdb UUID index holds only those.
  if (cmd.Verb === "create" && !looksLikeUuid(id)) return fail(`Prepared query ID "${id}" is not a UUID`);
  if (cmd.Verb !== "create" && existing === undefined) return fail(`Cannot modify non-existent prepared query: '${id}'`);
  if (cmd.Verb === "delete") {
    state.preparedQueries.delete(id);
    state.bumpTable("queries");
    return { ok: true, value: null };
  }
  const record = recordFrom(cmd.Query, id, existing?.CreateIndex ?? state.index, state.index);
  const invalid = parseQuery(record) ?? conflicts(state, record);
  if (invalid !== null) return fail(invalid);
  state.preparedQueries.set(id, record);
  state.bumpTable("queries");
  assert(record.CreateIndex <= record.ModifyIndex, () => `prepared query ${id}: CreateIndex ${record.CreateIndex} > ModifyIndex ${record.ModifyIndex}`);
  return { ok: true, value: cmd.Verb === "create" ? { ID: id } : null };
}

function recordFrom(input: PreparedQueryInput, id: string, createIndex: RaftIndex, modifyIndex: RaftIndex): PreparedQueryRecord {
  const service = input.Service ?? {};
  return {
    ID: id, Name: input.Name ?? "", Session: input.Session ?? "", Token: input.Token ?? "",
    Template: { Type: input.Template?.Type ?? "", Regexp: input.Template?.Regexp ?? "", RemoveEmptyTags: input.Template?.RemoveEmptyTags ?? false },
    Service: {
      Service: service.Service ?? "",
      Failover: { NearestN: service.Failover?.NearestN ?? 0, Datacenters: [...(service.Failover?.Datacenters ?? [])] },
      IgnoreCheckIDs: [...(service.IgnoreCheckIDs ?? [])], OnlyPassing: service.OnlyPassing ?? false, Near: service.Near ?? "",
      Tags: [...(service.Tags ?? [])], NodeMeta: { ...service.NodeMeta }, ServiceMeta: { ...service.ServiceMeta },
      Connect: service.Connect ?? false,
    },
    DNS: { TTL: input.DNS?.TTL ?? "" },
    CreateIndex: createIndex, ModifyIndex: modifyIndex,
  };
}

/** Consul's parseQuery, prefixed as its Apply does; null when valid. */
function parseQuery(query: PreparedQueryRecord): string | null {
  const problem = parseQueryProblem(query);
  return problem === null ? null : `Invalid prepared query: ${problem}`;
}

function parseQueryProblem(query: PreparedQueryRecord): string | null {
  if (query.Name === "" && query.Template.Type === "" && query.Session === "") return "Must be bound to a session";
  if (query.Token === "<hidden>") return `Bad Token '${query.Token}', it looks like a query definition with a redacted token was submitted`;
  if (query.Service.Service === "") return "Must provide a Service name to query";
  if (!Number.isSafeInteger(query.Service.Failover.NearestN) || query.Service.Failover.NearestN < 0) {
    return `Bad NearestN '${query.Service.Failover.NearestN}', must be >= 0`;
  }
  if (Object.keys(query.Service.NodeMeta).some((key) => key === "")) return "Couldn't load metadata pair ('=')";
  if (query.DNS.TTL !== "") {
    const ttlMs = parseGoDurationMs(query.DNS.TTL);
    if (ttlMs === null) return `Bad DNS TTL '${query.DNS.TTL}': time: invalid duration ${JSON.stringify(query.DNS.TTL)}`;
    if (ttlMs < 0) return `DNS TTL '${Math.round(ttlMs * 1e6)}', must be >=0`;
  }
  return null;
}

/** The state store's checks (preparedQuerySetTxn): names, sessions, templates. */
function conflicts(state: CatalogState, query: PreparedQueryRecord): string | null {
  const folded = query.Name.toLowerCase();
  for (const other of state.preparedQueries.values()) {
    if (other.ID === query.ID) continue;
    if (query.Name !== "" && other.Name.toLowerCase() === folded) return `name '${query.Name}' aliases an existing query name`;
    if (query.Name === "" && isTemplate(query) && isTemplate(other) && other.Name === "") return "a query template with an empty name already exists";
  }
  if (query.Name !== "" && state.preparedQueries.has(query.Name)) return `name '${query.Name}' aliases an existing query ID`;
  if (query.Session !== "" && !state.sessions.has(query.Session)) return `invalid session ${JSON.stringify(query.Session)}`;
  if (isTemplate(query)) {
    const compiled = compileTemplate(query);
    if (typeof compiled === "string") return compiled;
    // Consul's Compile renders once with the bare prefix to catch errors before run time.
    const rendered = compiled.render(query.Name);
    if (typeof rendered === "string") return rendered;
  }
  return null;
}

function isTemplate(query: PreparedQueryRecord): boolean {
  return query.Template.Type !== "";
}

/** Session invalidation deletes the queries bound to it (Consul's sessionDestroy). */
export function deleteQueriesOfSession(state: CatalogState, sessionId: string): void {
  if (state.preparedQueries.size === 0) return;
  const bound = [...state.preparedQueries.values()].filter((query) => query.Session === sessionId).map((query) => query.ID).sort();
  for (const id of bound) state.preparedQueries.delete(id);
  if (bound.length > 0) state.bumpTable("queries");
}

// ---------------------------------------------------------------- Templates

type Piece = { text: string } | { variable: "name.full" | "name.prefix" | "name.suffix" | "agent.segment" } | { match: number };

interface CompiledTemplate {
  render(name: string): PreparedQueryRecord | string;
}

const variables = new Set(["name.full", "name.prefix", "name.suffix", "agent.segment"]);

/**
 * The HIL that templates use in practice: `${name.full}`, `${name.prefix}`, `${name.suffix}`,
 * `${match(N)}` and `${agent.segment}`, with `$${` for a literal `${`. Anything else is refused
 * at create time, as Consul refuses what HIL cannot parse or evaluate.
 */
function parseInterpolation(text: string, path: string): Piece[] | string {
  const pieces: Piece[] = [];
  let rest = text;
  while (rest !== "") {
    const at = rest.indexOf("${");
    if (at < 0) {
      pieces.push({ text: rest });
      break;
    }
    if (at > 0 && rest[at - 1] === "$") {
      pieces.push({ text: `${rest.slice(0, at - 1)}\${` });
      rest = rest.slice(at + 2);
      continue;
    }
    if (at > 0) pieces.push({ text: rest.slice(0, at) });
    const end = rest.indexOf("}", at);
    if (end < 0) return `Bad format '${text}' in Service${path}: unterminated interpolation`;
    const expression = rest.slice(at + 2, end).trim();
    const match = /^match\(\s*(\d+)\s*\)$/.exec(expression);
    if (match !== null) pieces.push({ match: Number(match[1]) });
    else if (variables.has(expression)) pieces.push({ variable: expression as "name.full" });
    else return `Bad format '${text}' in Service${path}: unknown variable or function ${JSON.stringify(expression)}`;
    rest = rest.slice(end + 1);
  }
  return pieces;
}

/** Every string of the Service part, by path, as Consul's walk visits them. */
function serviceStrings(query: PreparedQueryRecord): [string, string][] {
  const s = query.Service;
  return [
    [".Service", s.Service], [".Near", s.Near],
    ...s.Failover.Datacenters.map((dc, i): [string, string] => [`.Failover.Datacenters[${i}]`, dc]),
    ...s.IgnoreCheckIDs.map((id, i): [string, string] => [`.IgnoreCheckIDs[${i}]`, id]),
    ...s.Tags.map((tag, i): [string, string] => [`.Tags[${i}]`, tag]),
    ...Object.entries(s.NodeMeta).map(([k, v]): [string, string] => [`.NodeMeta[${k}]`, v]),
    ...Object.entries(s.ServiceMeta).map(([k, v]): [string, string] => [`.ServiceMeta[${k}]`, v]),
  ];
}

/**
 * Compiled templates by stored record: an update stores a new record, so an entry never outlives
 * the definition it was compiled from, and a DNS lookup does not recompile the regexp each time.
 */
const compiledTemplates = new WeakMap<PreparedQueryRecord, CompiledTemplate | string>();

function compiledTemplateOf(query: PreparedQueryRecord): CompiledTemplate | string {
  let compiled = compiledTemplates.get(query);
  if (compiled === undefined) compiledTemplates.set(query, (compiled = compileTemplate(query)));
  return compiled;
}

function compileTemplate(query: PreparedQueryRecord): CompiledTemplate | string {
  if (query.Template.Type !== templateTypeNamePrefixMatch) return `Bad Template.Type '${query.Template.Type}'`;
  const trees = new Map<string, Piece[]>();
  for (const [path, text] of serviceStrings(query)) {
    const pieces = parseInterpolation(text, path);
    if (typeof pieces === "string") return pieces;
    trees.set(path, pieces);
  }
  let re: ReturnType<typeof compileRe2> | null = null;
  if (query.Template.Regexp !== "") {
    try {
      re = compileRe2(query.Template.Regexp);
    } catch (error) {
      if (!(error instanceof Re2SyntaxError)) throw error;
      return `Bad Regexp: ${error.message}`;
    }
  }
  return {
    render(name: string): PreparedQueryRecord | string {
      const matches = re?.submatches(name) ?? [];
      const suffix = name.startsWith(query.Name) ? name.slice(query.Name.length) : name;
      const values = { "name.full": name, "name.prefix": query.Name, "name.suffix": suffix, "agent.segment": "" };
      const evaluate = (path: string): string => {
        const pieces = trees.get(path);
        assert(pieces !== undefined, () => `template path ${path} was not compiled`);
        return pieces.map((piece) => ("text" in piece ? piece.text : "variable" in piece ? values[piece.variable] : matches[piece.match] ?? "")).join("");
      };
      const rendered = copyQuery(query);
      const s = rendered.Service;
      s.Service = evaluate(".Service");
      s.Near = evaluate(".Near");
      s.Failover.Datacenters = s.Failover.Datacenters.map((_, i) => evaluate(`.Failover.Datacenters[${i}]`));
      s.IgnoreCheckIDs = s.IgnoreCheckIDs.map((_, i) => evaluate(`.IgnoreCheckIDs[${i}]`));
      s.Tags = s.Tags.map((_, i) => evaluate(`.Tags[${i}]`));
      if (query.Template.RemoveEmptyTags) s.Tags = s.Tags.filter((tag) => tag !== "");
      for (const key of Object.keys(s.NodeMeta)) s.NodeMeta[key] = evaluate(`.NodeMeta[${key}]`);
      for (const key of Object.keys(s.ServiceMeta)) s.ServiceMeta[key] = evaluate(`.ServiceMeta[${key}]`);
      return rendered;
    },
  };
}

export function copyQuery(query: PreparedQueryRecord): PreparedQueryRecord {
  const s = query.Service;
  return {
    ...query, Template: { ...query.Template },
    Service: {
      ...s, Failover: { NearestN: s.Failover.NearestN, Datacenters: [...s.Failover.Datacenters] },
      IgnoreCheckIDs: [...s.IgnoreCheckIDs], Tags: [...s.Tags], NodeMeta: { ...s.NodeMeta }, ServiceMeta: { ...s.ServiceMeta },
    },
    DNS: { ...query.DNS },
  };
}

// ---------------------------------------------------------------- Reads

const byId = (a: PreparedQueryRecord, b: PreparedQueryRecord): number => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0);

function tableAnswer<T>(state: CatalogState, value: T): QueryResult<T> {
  return { index: Math.max(1, state.indexFloor, state.tableIndex("queries")), value };
}

export function preparedQueryList(state: CatalogState): QueryResult<PreparedQueryRecord[]> {
  return tableAnswer(state, [...state.preparedQueries.values()].sort(byId).map(copyQuery));
}

/** By ID only, as GET /v1/query/:uuid: an empty list when there is none. */
export function preparedQueryGet(state: CatalogState, id: string): QueryResult<PreparedQueryRecord[]> {
  const query = state.preparedQueries.get(id);
  return tableAnswer(state, query === undefined ? [] : [copyQuery(query)]);
}

/** A resolved (and, for a template, rendered) query; `error` for a template that fails to render. */
export type Resolved = { query: PreparedQueryRecord } | { error: string } | null;

/**
 * Consul's PreparedQueryResolve: an ID, else an exact name (case-insensitively), else the
 * template with the longest name that prefixes the given name; a template is rendered for the
 * name asked.
 */
export function resolvePreparedQuery(state: CatalogState, idOrName: string): Resolved {
  if (idOrName === "") return null;
  const prep = (query: PreparedQueryRecord): Resolved => {
    if (!isTemplate(query)) return { query: copyQuery(query) };
    const compiled = compiledTemplateOf(query);
    const rendered = typeof compiled === "string" ? compiled : compiled.render(idOrName);
    return typeof rendered === "string" ? { error: rendered } : { query: rendered };
  };
  if (looksLikeUuid(idOrName)) {
    const byIdQuery = state.preparedQueries.get(idOrName);
    if (byIdQuery !== undefined) return prep(byIdQuery);
  }
  const folded = idOrName.toLowerCase();
  let template: PreparedQueryRecord | null = null;
  for (const query of state.preparedQueries.values()) {
    if (query.Name !== "" && query.Name.toLowerCase() === folded) return prep(query);
    if (!isTemplate(query) || !folded.startsWith(query.Name.toLowerCase())) continue;
    if (template === null || query.Name.length > template.Name.length) template = query;
  }
  return template === null ? null : prep(template);
}

/** Execute's answer before the agent shuffles, sorts by `near` and applies `?limit`. */
export interface PreparedQueryExecution {
  Service: string;
  Nodes: HealthServiceEntry[];
  DNS: { TTL: string };
  Datacenter: string;
  Failovers: number;
  /** The rendered query's Service.Near: the sort the agent applies when the request names none. */
  near: string;
}

export type ExecuteValue = { ok: true; result: PreparedQueryExecution } | { ok: false; notFound: boolean; message: string };

export function preparedQueryExecute(state: CatalogState, idOrName: string): QueryResult<ExecuteValue> {
  const resolved = resolvePreparedQuery(state, idOrName);
  const tableIndex = Math.max(1, state.indexFloor, state.tableIndex("queries"));
  if (resolved === null) return { index: tableIndex, value: { ok: false, notFound: true, message: queryNotFound } };
  if ("error" in resolved) return { index: tableIndex, value: { ok: false, notFound: false, message: resolved.error } };
  const { query } = resolved;
  // Consul would answer with the service's Connect proxies; Praetor has no Connect to answer from.
  if (query.Service.Connect) return { index: tableIndex, value: { ok: false, notFound: false, message: connectUnsupported } };
  const health = healthService(state, query.Service.Service);
  const nodes = health.value.filter((entry) =>
    healthy(entry.Checks, query.Service.OnlyPassing, query.Service.IgnoreCheckIDs) &&
    metaSatisfies(entry.Node.Meta, query.Service.NodeMeta) &&
    metaSatisfies(entry.Service.Meta, query.Service.ServiceMeta) &&
    tagsSatisfy(entry.Service.Tags, query.Service.Tags));
  return {
    index: Math.max(tableIndex, health.index),
    value: {
      ok: true,
      result: { Service: query.Service.Service, Nodes: nodes, DNS: { ...query.DNS }, Datacenter: state.config.datacenter, Failovers: 0, near: query.Service.Near },
    },
  };
}

/** Explain: the resolved (rendered) query. */
export function preparedQueryExplain(state: CatalogState, idOrName: string): QueryResult<{ ok: true; query: PreparedQueryRecord } | { ok: false; notFound: boolean; message: string }> {
  const resolved = resolvePreparedQuery(state, idOrName);
  const index = Math.max(1, state.indexFloor, state.tableIndex("queries"));
  if (resolved === null) return { index, value: { ok: false, notFound: true, message: queryNotFound } };
  if ("error" in resolved) return { index, value: { ok: false, notFound: false, message: resolved.error } };
  return { index, value: { ok: true, query: resolved.query } };
}

/** Consul's FilterIgnore: critical (and, with OnlyPassing, warning) checks drop an instance unless ignored. */
function healthy(checks: readonly CheckRecord[], onlyPassing: boolean, ignore: readonly string[]): boolean {
  return checks.every((check) => ignore.includes(check.CheckID) ||
    (check.Status === "passing" || (check.Status === "warning" && !onlyPassing)));
}

/** structs.SatisfiesMetaFilters: every filter key present with the same value. */
function metaSatisfies(meta: Readonly<Record<string, string>>, filters: Readonly<Record<string, string>>): boolean {
  return Object.entries(filters).every(([key, value]) => Object.hasOwn(meta, key) && meta[key] === value);
}

/** Consul's tagFilter: every tag present and no "!tag" present, case-insensitively. */
function tagsSatisfy(tags: readonly string[], wanted: readonly string[]): boolean {
  if (wanted.length === 0) return true;
  const have = new Set(tags.map((tag) => tag.toLowerCase()));
  return wanted.every((tag) => {
    const folded = tag.toLowerCase();
    return folded.startsWith("!") ? !have.has(folded.slice(1)) : have.has(folded);
  });
}

/** Invariants: IDs match keys, names unique (case-folded), every bound session live, indexes in order. */
export function checkPreparedQueryInvariants(state: CatalogState): void {
  const names = new Set<string>();
  for (const [id, query] of state.preparedQueries) {
    assert(query.ID === id, () => `prepared query ${id} stored as ${query.ID}`);
    assert(query.CreateIndex > 0 && query.CreateIndex <= query.ModifyIndex, () => `prepared query ${id}: indexes ${query.CreateIndex} > ${query.ModifyIndex}`);
    assert(query.ModifyIndex <= state.tableIndex("queries"), () => `prepared query ${id}: ModifyIndex ${query.ModifyIndex} > table index ${state.tableIndex("queries")}`);
    if (query.Name !== "") {
      const folded = query.Name.toLowerCase();
      assert(!names.has(folded), () => `prepared query name ${query.Name} held twice`);
      names.add(folded);
    }
    if (query.Session !== "") assert(state.sessions.has(query.Session), () => `prepared query ${id} bound to dead session ${query.Session}`);
  }
  assert(state.tableIndex("queries") <= state.appliedIndex, () => `queries table index ${state.tableIndex("queries")} > applied ${state.appliedIndex}`);
}
