/**
 * Consul's DNS interface as one function from query bytes to answer bytes:
 *
 *   const handle = createDnsHandler(backend, defaultDnsConfig());
 *   const answer = await handle(packet, "udp"); // null: drop it (not a query, or no header)
 *
 * Names in the zone are read by `parseLookup` and answered from the catalog through the agent's
 * backend (stale reads by default, so a DNS question never waits on Raft); reverse names from the
 * node and service addresses; anything else goes to the recursors, or is REFUSED without one.
 * The handler never throws: a query it cannot read gets FORMERR (or is dropped without a header),
 * and a failure behind it SERVFAIL.
 */
import type { Answer } from "dns-packet";
import { ApiError, type AgentBackend, type ReadOptions, type ReadResult } from "../agent/api.ts";
import { parseGoDurationMs, type HealthServiceEntry, type NodeRecord } from "../core/catalog/index.ts";
import { ServiceReadCache, type CachedRead, type ServiceQuery } from "./cache.ts";
import { defaultDnsConfig, resolveDnsConfig, serviceTtlSeconds, type DnsConfig, type ResolvedDnsConfig } from "./config.ts";
import { assemble, buildTemplate, parseFastQuery, templateKeyOf, type Template } from "./fast.ts";
import {
  ipFromReverse, ipToBytes, isEncodableName, isHostnameLabel, isReverseName, matchZone, nodeCanonicalName,
  parseLookup, sameBytes, type Lookup, type ZoneMatch,
} from "./names.ts";
import {
  addressRecord, nodeAddressRecords, nodeMetaRecords, serviceAddressAnswers, serviceSrvAnswers, type AnswerSlot,
} from "./records.ts";
import { forwardQuery } from "./recursor.ts";
import { fitResponse, type Draft } from "./trim.ts";
import {
  encodeReject, headerBytes, parseQuery, QTYPE, RCODE, udpLimitBytes, type Query,
} from "./wire.ts";

export type DnsTransport = "udp" | "tcp";

export interface DnsHandler {
  (query: Buffer, transport: DnsTransport): Promise<Buffer | null>;
  /**
   * The answer at once when it is cached (encoded records of an unchanged catalog read), else
   * null: the caller then awaits the handler. Saves a promise per query on the hot path.
   */
  readonly answerNow?: (query: Buffer, transport: DnsTransport) => Buffer | null;
  /** Lets a UDP server answer cached questions itself (the native fast path, native.ts). */
  readonly fastPath?: FastPathHook;
}

/** Where copies of the handler's answer templates go (native.ts keeps them in C). */
export interface TemplateSink {
  /** `expiresInMs` < 0: the template lasts until it is deleted or its source is dropped. */
  set(qtype: number, nameKey: string, template: Template, expiresInMs: number): void;
  delete(qtype: number, nameKey: string): void;
  clear(): void;
  /** The cached read behind some templates went dead: every template built from it goes. */
  dropSource(source: CachedRead): void;
}

export interface FastPathHook {
  /** What assemble() needs besides the template, as this handler answers. */
  readonly options: { readonly udpAnswerLimit: number; readonly enableTruncate: boolean; readonly recursionAvailable: boolean };
  /** Copies every template kept now and from now on into `sink`; returns the detach. */
  attach(sink: TemplateSink): () => void;
}

export interface DnsLogger {
  debug?(message: string): void;
  warn(message: string): void;
}

export interface DnsHandlerDeps {
  /** Uniform in [0, 1): shuffles answers and draws upstream query IDs. */
  readonly random?: () => number;
  /** Wall clock for the SOA serial (Unix seconds, as Consul). */
  readonly nowMs?: () => number;
  readonly logger?: DnsLogger;
  /**
   * The backend reads this process's own catalog (a server agent): answers are cached, kept
   * fresh by blocking queries that wake the moment the catalog moves, whatever `use_cache` says.
   * Without it (a client agent) only `use_cache` caches, as Consul does.
   */
  readonly readsAreLocal?: boolean;
}

/** Counters a test or the metrics endpoint can read. */
export interface DnsHandlerStats {
  queries: number;
  formErrors: number;
  dropped: number;
  serverFailures: number;
  truncated: number;
  forwarded: number;
}

export interface DnsHandlerWithStats extends DnsHandler {
  readonly stats: DnsHandlerStats;
  /** Service reads kept fresh by blocking queries; null when answers are not cached. */
  readonly cache: ServiceReadCache | null;
  /** Ends the cache's blocking queries. */
  close(): void;
}

/** A lookup the catalog could not serve: NXDOMAIN for an unknown datacenter, else SERVFAIL. */
class LookupFailed extends Error {
  constructor(readonly rcode: number, message: string) {
    super(message);
  }
}

const noDatacenter = /no path to datacenter/i;

interface Context {
  readonly backend: AgentBackend;
  readonly config: ResolvedDnsConfig;
  readonly random: () => number;
  readonly nowMs: () => number;
  readonly logger: DnsLogger | undefined;
  readonly reads: ServiceReadCache | null;
  readonly templates: Templates | null;
}

/**
 * Encoded answers per question type and name (as spelled); dropped wholesale past a bound. Every
 * change is mirrored into the attached sinks, so a copy never outlives the original.
 */
class Templates {
  private readonly byType = new Map<number, Map<string, Template>>();
  private count = 0;
  readonly sinks = new Set<TemplateSink>();

  constructor(private readonly countMax: number, private readonly nowMs: () => number) {}

  get(qtype: number, nameKey: string): Template | undefined {
    return this.byType.get(qtype)?.get(nameKey);
  }

  set(qtype: number, nameKey: string, template: Template): void {
    if (this.count >= this.countMax) {
      this.byType.clear();
      this.count = 0;
      for (const sink of this.sinks) sink.clear();
    }
    let names = this.byType.get(qtype);
    if (names === undefined) this.byType.set(qtype, (names = new Map()));
    if (!names.has(nameKey)) this.count++;
    names.set(nameKey, template);
    this.mirror(qtype, nameKey, template);
  }

  delete(qtype: number, nameKey: string): void {
    if (this.byType.get(qtype)?.delete(nameKey) === true) this.count--;
    for (const sink of this.sinks) sink.delete(qtype, nameKey);
  }

  /** Copies one template into the sinks again (a copy whose expiry moved on with its source's). */
  mirror(qtype: number, nameKey: string, template: Template): void {
    if (this.sinks.size === 0) return;
    const expiresAtMs = template.source.expiresAtMs;
    const expiresInMs = expiresAtMs === Number.POSITIVE_INFINITY ? -1 : Math.max(0, expiresAtMs - this.nowMs());
    for (const sink of this.sinks) sink.set(qtype, nameKey, template, expiresInMs);
  }

  attach(sink: TemplateSink): () => void {
    this.sinks.add(sink);
    for (const [qtype, names] of this.byType) {
      for (const [nameKey, template] of names) if (template.source.live) this.mirror(qtype, nameKey, template);
    }
    return () => void this.sinks.delete(sink);
  }
}

const templateTypes: ReadonlySet<number> = new Set([QTYPE.A, QTYPE.AAAA, QTYPE.ANY, QTYPE.SRV]);

function readOptions(ctx: Context, dc: string | null): ReadOptions {
  const remote = dc !== null && dc !== ctx.backend.datacenter.toLowerCase() ? { dc } : {};
  return ctx.config.allowStale
    ? { consistency: "stale", maxStaleMs: ctx.config.maxStaleMs, ...remote }
    : { consistency: "default", ...remote };
}

async function catalogRead<T>(read: () => Promise<{ value: T }>): Promise<T> {
  return (await catalogReadResult(read)).value;
}

async function catalogReadResult<R>(read: () => Promise<R>): Promise<R> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ApiError && noDatacenter.test(error.message)) throw new LookupFailed(RCODE.NXDOMAIN, error.message);
    throw new LookupFailed(RCODE.SERVFAIL, error instanceof Error ? error.message : String(error));
  }
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Critical instances never; warning ones unless `only_passing` (Consul's CheckServiceNodes.Filter). */
function answerable(entry: HealthServiceEntry, onlyPassing: boolean): boolean {
  return entry.Checks.every((check) => check.Status === "passing" || (!onlyPassing && check.Status === "warning"));
}

function soaRecord(ctx: Context, zone: string): Answer {
  const { soa } = ctx.config;
  return {
    type: "SOA", name: zone, ttl: soa.min, class: "IN",
    data: {
      mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: Math.floor(ctx.nowMs() / 1000) >>> 0,
      refresh: soa.refresh, retry: soa.retry, expire: soa.expire, minimum: soa.min,
    },
  };
}

function draftOf(rcode: number, answers: AnswerSlot[] = [], rest: Partial<Omit<Draft, "rcode" | "answers">> = {}): Draft {
  return {
    rcode, answers, glue: rest.glue ?? new Map(), authorities: rest.authorities ?? [], additionals: rest.additionals ?? [],
    authoritative: rest.authoritative ?? true,
  };
}

const bare = (records: readonly Answer[]): AnswerSlot[] => records.map((record) => ({ record, glueKey: null }));

// --- Services ---------------------------------------------------------------------------------

interface Instances {
  readonly entries: HealthServiceEntry[];
  /** The cached read they came from, or null (not cached, or found under another spelling). */
  readonly source: CachedRead | null;
}

/** Healthy instances of a service; the catalog's names are case-sensitive, DNS is not. */
async function serviceInstances(ctx: Context, service: string, tag: string | null, dc: string | null): Promise<Instances> {
  const options = readOptions(ctx, dc);
  const queryFor = (name: string): ServiceQuery => ({ kind: "healthService", name, ...(tag === null ? {} : { filter: { tags: [tag] } }) });
  const read = (name: string) => catalogRead(() => ctx.backend.query(queryFor(name), options));
  let source: CachedRead | null = null;
  let entries: readonly HealthServiceEntry[];
  if (ctx.reads === null) {
    entries = await read(service);
  } else {
    const key = `${dc ?? ""}\u0000${service}\u0000${tag ?? "\u0001"}`;
    source = ctx.reads.lookup(key) ?? null;
    if (source === null) {
      const result: ReadResult<HealthServiceEntry[]> = await catalogReadResult(() => ctx.backend.query(queryFor(service), options));
      if (result.value.length > 0) source = ctx.reads.store(key, queryFor(service), options, result);
      entries = result.value;
    } else {
      entries = source.value;
    }
  }
  if (entries.length === 0) {
    source = null;
    const names = await catalogRead(() => ctx.backend.query({ kind: "catalogServices" }, options));
    const spelled = Object.keys(names).find((name) => name !== service && name.toLowerCase() === service);
    if (spelled !== undefined) entries = await read(spelled);
  }
  return { entries: entries.filter((entry) => answerable(entry, ctx.config.onlyPassing)), source };
}

async function answerService(ctx: Context, query: Query, zone: ZoneMatch, lookup: Extract<Lookup, { kind: "service" }>): Promise<Draft> {
  const { entries, source } = await serviceInstances(ctx, lookup.service, lookup.tag, lookup.dc);
  if (entries.length === 0) return draftOf(RCODE.NXDOMAIN);
  const recordContext = {
    qtype: query.qtype, qname: query.name, dc: lookup.dc ?? ctx.backend.datacenter, responseZone: zone.responseZone,
    ttl: serviceTtlSeconds(ctx.config, lookup.service), nodeMetaTxt: ctx.config.nodeMetaTxt,
  };
  if (source !== null && ctx.templates !== null && query.plainName && templateTypes.has(query.qtype)) {
    // Each entry's records alone, in the order the shuffle below starts from.
    const perEntry = entries.map((entry) => (query.qtype === QTYPE.SRV ? serviceSrvAnswers([entry], recordContext) : serviceAddressAnswers([entry], recordContext)));
    const template = buildTemplate({ source, qtype: query.qtype, qnameLower: query.name.toLowerCase(), perEntry, udpAnswerLimit: ctx.config.udpAnswerLimit });
    if (template !== null) ctx.templates.set(query.qtype, templateKeyOf(query.questionBytes), template);
  }
  shuffle(entries, ctx.random);
  return instanceDraft(entries, recordContext);
}

/** Service instances as SRV (with glue) or address records; another type: the name exists, with no record of it. */
function instanceDraft(entries: Parameters<typeof serviceSrvAnswers>[0], recordContext: Parameters<typeof serviceSrvAnswers>[1]): Draft {
  switch (recordContext.qtype) {
    case QTYPE.SRV: {
      const built = serviceSrvAnswers(entries, recordContext);
      return draftOf(RCODE.NOERROR, built.answers, { glue: built.glue });
    }
    case QTYPE.A: case QTYPE.AAAA: case QTYPE.ANY:
      return draftOf(RCODE.NOERROR, serviceAddressAnswers(entries, recordContext).answers);
    default:
      return draftOf(RCODE.NOERROR);
  }
}

/**
 * `NAME.query.consul` (Consul's preparedQueryLookup): the query's own filters decide the
 * instances (the agent shuffles them and sorts by the query's Near); its DNS.TTL, else the
 * service_ttl for the service, is the records' TTL. An unknown query is NXDOMAIN.
 */
async function answerPreparedQuery(ctx: Context, query: Query, zone: ZoneMatch, lookup: Extract<Lookup, { kind: "query" }>): Promise<Draft> {
  const result = await catalogRead(() => ctx.backend.query({ kind: "preparedQueryExecute", id: lookup.query }, readOptions(ctx, lookup.dc)));
  if (!result.ok) {
    if (result.notFound) return draftOf(RCODE.NXDOMAIN);
    throw new LookupFailed(RCODE.SERVFAIL, result.message);
  }
  const entries = [...result.result.Nodes];
  if (entries.length === 0) return draftOf(RCODE.NXDOMAIN);
  const ttlMs = result.result.DNS.TTL === "" ? null : parseGoDurationMs(result.result.DNS.TTL);
  const recordContext = {
    qtype: query.qtype, qname: query.name, dc: result.result.Datacenter || ctx.backend.datacenter, responseZone: zone.responseZone,
    ttl: ttlMs === null ? serviceTtlSeconds(ctx.config, result.result.Service) : Math.floor(ttlMs / 1000), nodeMetaTxt: ctx.config.nodeMetaTxt,
  };
  return instanceDraft(entries, recordContext);
}

// --- Nodes ------------------------------------------------------------------------------------

async function findNode(ctx: Context, name: string, dc: string | null): Promise<NodeRecord | null> {
  const options = readOptions(ctx, dc);
  const exact = await catalogRead(() => ctx.backend.query({ kind: "catalogNode", name }, options));
  if (exact !== null) return exact.Node;
  const lower = name.toLowerCase();
  const nodes = await catalogRead(() => ctx.backend.query({ kind: "catalogNodes" }, options));
  return nodes.find((node) => node.Node.toLowerCase() === lower) ?? null;
}

async function answerNode(ctx: Context, query: Query, lookup: Extract<Lookup, { kind: "node" }>): Promise<Draft> {
  const node = await findNode(ctx, lookup.node, lookup.dc);
  if (node === null) return draftOf(RCODE.NXDOMAIN);
  const ttl = ctx.config.nodeTtlSeconds;
  const qtype = query.qtype;
  const served = qtype === QTYPE.A || qtype === QTYPE.AAAA || qtype === QTYPE.ANY || qtype === QTYPE.TXT;
  if (!served) return draftOf(RCODE.NOERROR);
  const answers = qtype === QTYPE.TXT ? [] : nodeAddressRecords(node, qtype, query.name, ttl);
  const meta = ctx.config.nodeMetaTxt || qtype === QTYPE.TXT || qtype === QTYPE.ANY ? nodeMetaRecords(node, query.name, ttl) : [];
  // TXT and ANY questions get the meta as answers; A and AAAA as additional records (Consul).
  if (qtype === QTYPE.TXT || qtype === QTYPE.ANY) return draftOf(RCODE.NOERROR, bare([...answers, ...meta]));
  return draftOf(RCODE.NOERROR, bare(answers), { additionals: meta });
}

// --- The zone apex ----------------------------------------------------------------------------

/** Up to three servers (the `consul` service) as name servers, else this agent's own node. */
async function nameServers(ctx: Context, zone: ZoneMatch): Promise<{ ns: Answer[]; glue: Answer[] }> {
  const ttl = ctx.config.nodeTtlSeconds;
  let nodes: NodeRecord[];
  try {
    nodes = shuffle((await serviceInstances(ctx, "consul", null, null)).entries.map((entry) => entry.Node), ctx.random);
    if (nodes.length === 0) {
      const self = await findNode(ctx, ctx.backend.nodeName, null);
      nodes = self === null ? [] : [self];
    }
  } catch (error) {
    ctx.logger?.warn(`dns: cannot list name servers: ${error instanceof Error ? error.message : String(error)}`);
    return { ns: [], glue: [] };
  }
  const ns: Answer[] = [];
  const glue: Answer[] = [];
  const seen = new Set<string>();
  for (const node of nodes) {
    if (!isHostnameLabel(node.Node)) continue;
    const target = nodeCanonicalName(node.Node, node.Datacenter || ctx.backend.datacenter, zone.responseZone).toLowerCase();
    if (seen.has(target) || !isEncodableName(target)) continue;
    seen.add(target);
    ns.push({ type: "NS", name: zone.responseZone, ttl, class: "IN", data: target });
    glue.push(...nodeAddressRecords(node, QTYPE.ANY, target, ttl));
    if (ns.length === 3) break;
  }
  return { ns, glue };
}

async function answerApex(ctx: Context, query: Query, zone: ZoneMatch): Promise<Draft> {
  const soa = soaRecord(ctx, zone.zone);
  switch (query.qtype) {
    case QTYPE.SOA: {
      const { ns, glue } = await nameServers(ctx, zone);
      return draftOf(RCODE.NOERROR, bare([soa]), { authorities: ns, additionals: glue });
    }
    case QTYPE.NS: {
      const { ns, glue } = await nameServers(ctx, zone);
      return draftOf(RCODE.NOERROR, bare(ns), { additionals: glue });
    }
    case QTYPE.ANY: {
      const { ns, glue } = await nameServers(ctx, zone);
      return draftOf(RCODE.NOERROR, bare([soa, ...ns]), { additionals: glue });
    }
    default:
      return draftOf(RCODE.NOERROR);
  }
}

// --- Addresses and reverse names ----------------------------------------------------------------

function answerAddr(ctx: Context, query: Query, ip: Uint8Array): Draft {
  const record = addressRecord(QTYPE.ANY, ip, query.name, ctx.config.nodeTtlSeconds)!;
  const wanted = query.qtype === QTYPE.ANY || (record.type === "A" ? query.qtype === QTYPE.A : query.qtype === QTYPE.AAAA);
  // As Consul: the address rides in the additional section when the question asked another type.
  return wanted ? draftOf(RCODE.NOERROR, bare([record])) : draftOf(RCODE.NOERROR, [], { additionals: [record] });
}

/** PTR: the node with that address, else a service instance with it as its own address. */
async function reverseTarget(ctx: Context, ip: Uint8Array): Promise<string | null> {
  const options = readOptions(ctx, null);
  const matches = (address: string): boolean => {
    const bytes = ipToBytes(address);
    return bytes !== null && sameBytes(bytes, ip);
  };
  const nodes = await catalogRead(() => ctx.backend.query({ kind: "catalogNodes" }, options));
  for (const node of nodes) {
    if (matches(node.Address)) return nodeCanonicalName(node.Node, node.Datacenter || ctx.backend.datacenter, ctx.config.domain);
  }
  const services = await catalogRead(() => ctx.backend.query({ kind: "catalogServices" }, options));
  for (const name of Object.keys(services)) {
    const instances = await catalogRead(() => ctx.backend.query({ kind: "catalogService", name }, options));
    const hit = instances.find((instance) => instance.ServiceAddress !== "" && matches(instance.ServiceAddress));
    if (hit !== undefined) return `${hit.ServiceName}.service.${hit.Datacenter || ctx.backend.datacenter}.${ctx.config.domain}`;
  }
  return null;
}

/** A reverse answer, or null when nothing matched (then the recursors, or NXDOMAIN, decide). */
async function answerReverse(ctx: Context, query: Query, lower: readonly string[]): Promise<Draft | null> {
  const ip = ipFromReverse(lower);
  if (ip === null) return null;
  const target = await reverseTarget(ctx, ip);
  if (target === null || !isEncodableName(target)) return null;
  if (query.qtype !== QTYPE.PTR && query.qtype !== QTYPE.ANY) return draftOf(RCODE.NOERROR);
  return draftOf(RCODE.NOERROR, bare([{ type: "PTR", name: query.name, ttl: ctx.config.nodeTtlSeconds, class: "IN", data: target }]));
}

// --- Dispatch ---------------------------------------------------------------------------------

async function answerInZone(ctx: Context, query: Query, zone: ZoneMatch): Promise<Draft> {
  if (query.qtype === QTYPE.AXFR || query.qtype === QTYPE.IXFR) return draftOf(RCODE.NOTIMP);
  // A name dns-packet cannot round-trip names nothing in the catalog.
  const lookup: Lookup = query.plainName ? parseLookup(zone, query.qtype) : { kind: "invalid", reason: "name has non-printable bytes" };
  switch (lookup.kind) {
    case "apex": return answerApex(ctx, query, zone);
    case "service": return answerService(ctx, query, zone, lookup);
    case "query": return answerPreparedQuery(ctx, query, zone, lookup);
    case "node": return answerNode(ctx, query, lookup);
    case "addr": return answerAddr(ctx, query, lookup.ip);
    case "invalid":
      ctx.logger?.debug?.(`dns: ${query.name}: ${lookup.reason}`);
      return draftOf(RCODE.NXDOMAIN);
  }
}

/** NXDOMAIN and NODATA carry the zone's SOA in the authority section (RFC 2308). */
function withNegativeSoa(ctx: Context, draft: Draft, zone: string): Draft {
  const negative = draft.rcode === RCODE.NXDOMAIN || (draft.rcode === RCODE.NOERROR && draft.answers.length === 0);
  return negative ? { ...draft, authorities: [...draft.authorities, soaRecord(ctx, zone)] } : draft;
}

/**
 * Whether answers are cached: on a server (reads are local, and a blocking query wakes the moment
 * the catalog moves) unless stale reads are off; on a client only with `use_cache`, as Consul.
 * Entries expire after `cache_max_age` (with use_cache) and after a `max_stale` set below Consul's default.
 */
function readCacheFor(backend: AgentBackend, config: ResolvedDnsConfig, deps: DnsHandlerDeps, nowMs: () => number, onStale: (entry: CachedRead) => void): ServiceReadCache | null {
  const cached = deps.readsAreLocal === true ? config.allowStale : config.useCache;
  if (!cached) return null;
  const bounds = [config.useCache ? config.cacheMaxAgeMs : 0, config.maxStaleMs < defaultDnsConfig().maxStaleMs ? config.maxStaleMs : 0].filter((ms) => ms > 0);
  return new ServiceReadCache(backend, {
    nowMs, maxAgeMs: bounds.length === 0 ? 0 : Math.min(...bounds),
    onError: (message) => deps.logger?.debug?.(message),
    onStale,
  });
}

export function createDnsHandler(backend: AgentBackend, config: DnsConfig, deps: DnsHandlerDeps = {}): DnsHandlerWithStats {
  const resolved = resolveDnsConfig(config);
  const nowMs = deps.nowMs ?? Date.now;
  let templates: Templates | null = null;
  const reads = readCacheFor(backend, resolved, deps, nowMs, (entry) => {
    for (const sink of templates?.sinks ?? []) sink.dropSource(entry);
  });
  templates = reads === null ? null : new Templates(4_096, nowMs);
  const ctx: Context = {
    backend,
    config: resolved,
    random: deps.random ?? Math.random,
    nowMs,
    logger: deps.logger,
    reads,
    templates,
  };
  const stats: DnsHandlerStats = { queries: 0, formErrors: 0, dropped: 0, serverFailures: 0, truncated: 0, forwarded: 0 };
  const recursionAvailable = ctx.config.recursors.length > 0;

  const respond = (query: Query, draft: Draft, transport: DnsTransport): Buffer => {
    const fitted = fitResponse(query, draft, {
      transport, udpAnswerLimit: ctx.config.udpAnswerLimit, enableTruncate: ctx.config.enableTruncate, recursionAvailable,
    });
    if (fitted.droppedAnswers > 0 || fitted.truncated) stats.truncated++;
    return fitted.bytes;
  };

  const recurse = async (raw: Buffer, query: Query, transport: DnsTransport): Promise<Buffer> => {
    if (!recursionAvailable) return respond(query, draftOf(RCODE.REFUSED, [], { authoritative: false }), transport);
    stats.forwarded++;
    const outcome = await forwardQuery(raw, headerBytes + query.questionBytes.length, {
      recursors: ctx.config.recursors, timeoutMs: ctx.config.recursorTimeoutMs, transport,
      nextId: () => Math.floor(ctx.random() * 0x10000),
    });
    if (!outcome.ok) {
      stats.serverFailures++;
      ctx.logger?.warn(`dns: every recursor failed for ${query.name}: ${outcome.failures.join("; ")}`);
      return respond(query, draftOf(RCODE.SERVFAIL, [], { authoritative: false }), transport);
    }
    if (transport === "udp" && outcome.response.length > udpLimitBytes(query)) {
      // Too big for this client over UDP: the header and question with TC, so it asks over TCP.
      const truncated = Buffer.concat([outcome.response.subarray(0, headerBytes), query.questionBytes]);
      truncated[2] = truncated[2]! | 0x02;
      truncated.writeUInt16BE(1, 4);
      truncated.fill(0, 6, 12);
      return truncated;
    }
    return outcome.response;
  };

  const answer = async (raw: Buffer, query: Query, transport: DnsTransport): Promise<Buffer> => {
    if (query.edns !== null && query.edns.version > 0) return respond(query, draftOf(RCODE.BADVERS), transport);
    const zone = matchZone(ctx.config, query.labels);
    const lower = query.labels.map((label) => label.toLowerCase());
    if (zone === null) {
      if (!isReverseName(lower)) return recurse(raw, query, transport);
      const reverse = await answerReverse(ctx, query, lower);
      if (reverse !== null) return respond(query, reverse, transport);
      if (recursionAvailable) return recurse(raw, query, transport);
      return respond(query, withNegativeSoa(ctx, draftOf(RCODE.NXDOMAIN), ctx.config.domain), transport);
    }
    const draft = await answerInZone(ctx, query, zone);
    return respond(query, withNegativeSoa(ctx, draft, zone.zone), transport);
  };

  const answerNow = (raw: Buffer, transport: DnsTransport): Buffer | null => {
    if (ctx.templates === null) return null;
    try {
      return answerCached(raw, transport);
    } catch (error) {
      // The full handler still answers; the socket's message handler must never see a throw.
      ctx.logger?.warn(`dns: cached answer failed, answering in full: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  };

  const answerCached = (raw: Buffer, transport: DnsTransport): Buffer | null => {
    const templates = ctx.templates;
    if (templates === null) return null;
    const query = parseFastQuery(raw);
    if (query === null) return null;
    const template = templates.get(query.qtype, query.nameKey);
    if (template === undefined) return null;
    const source = template.source;
    if (!source.live || (source.expiresAtMs !== Number.POSITIVE_INFINITY && ctx.nowMs() >= source.expiresAtMs)) {
      templates.delete(query.qtype, query.nameKey);
      return null;
    }
    const assembled = assemble(template, raw, query, {
      transport, udpAnswerLimit: ctx.config.udpAnswerLimit, enableTruncate: ctx.config.enableTruncate, recursionAvailable, random: ctx.random,
    });
    if (assembled === null) return null;
    // A UDP question the fast path's copy did not answer (its expiry lapsed while the source's moved on).
    if (transport === "udp") templates.mirror(query.qtype, query.nameKey, template);
    stats.queries++;
    if (assembled.droppedAnswers > 0) stats.truncated++;
    return assembled.bytes;
  };

  const handler = async (raw: Buffer, transport: DnsTransport): Promise<Buffer | null> => {
    const now = answerNow(raw, transport);
    if (now !== null) return now;
    stats.queries++;
    let parsed;
    try {
      parsed = parseQuery(raw);
    } catch (error) {
      ctx.logger?.warn(`dns: query parser failed: ${error instanceof Error ? error.message : String(error)}`);
      stats.dropped++;
      return null;
    }
    if (parsed.kind === "drop") {
      stats.dropped++;
      return null;
    }
    if (parsed.kind === "reject") {
      stats.formErrors++;
      ctx.logger?.debug?.(`dns: rejected query ${parsed.id}: ${parsed.reason}`);
      return encodeReject(parsed.id, parsed.opcode, parsed.flags, parsed.rcode);
    }
    const query = parsed.query;
    try {
      return await answer(raw, query, transport);
    } catch (error) {
      const rcode = error instanceof LookupFailed ? error.rcode : RCODE.SERVFAIL;
      if (rcode === RCODE.SERVFAIL) {
        stats.serverFailures++;
        ctx.logger?.warn(`dns: ${query.name}: ${error instanceof Error ? error.message : String(error)}`);
      }
      try {
        const zone = matchZone(ctx.config, query.labels);
        const draft = rcode === RCODE.NXDOMAIN ? withNegativeSoa(ctx, draftOf(rcode), zone?.zone ?? ctx.config.domain) : draftOf(rcode);
        return respond(query, draft, transport);
      } catch {
        return encodeReject(query.id, query.opcode, query.recursionDesired ? 0x100 : 0, RCODE.SERVFAIL);
      }
    }
  };
  const fastPath: FastPathHook | undefined = templates === null ? undefined : {
    options: { udpAnswerLimit: ctx.config.udpAnswerLimit, enableTruncate: ctx.config.enableTruncate, recursionAvailable },
    attach: (sink) => templates.attach(sink),
  };
  return Object.assign(handler, { stats, answerNow, cache: reads, close: () => reads?.close(), ...(fastPath === undefined ? {} : { fastPath }) });
}

