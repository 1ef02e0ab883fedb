/**
 * Serf's queries (hashicorp/serf serf/query.go, internal_query.go, serf.go Query, handleQuery,
 * handleQueryResponse, relayResponse, delegate.go's relay): a query is gossiped like a user event,
 * de-duplicated by its Lamport time and ID in a ring the size of the query buffer; each member that
 * passes its filters acks (when asked) and answers straight to the asker by UDP, optionally also
 * through `RelayFactor` other members wrapped in relay messages, before the deadline the query
 * carries. The asker collects acks and responses, one of each per member, until its timeout.
 *
 * Queries named `_serf_...` are Serf's own and answered here: ping (the ack is the answer),
 * conflict (our record of a member by that name) and the keyring queries (install, use, remove,
 * list), which act on the keyring the owner passes in.
 *
 * Pure: deadlines are ticks, packets and events leave through the host as data.
 */
import { QueryFlag } from "./messages.ts";
import type { SerfMessage, SerfQuery, SerfQueryResponse, SerfRelay, Tags } from "./messages.ts";
import type { LamportClock } from "./lamport.ts";
import type { Rng } from "../util/rng.ts";
import { WireError } from "./wire/errors.ts";
import { bytesToString } from "./wire/gomsgpack.ts";
import { encodeSerfMessage } from "./wire/serf-codec.ts";
import { compileRe2, type Re2 } from "../util/re2.ts";
import {
  type NodeKeyResponse, type QueryFilter, type SerfMemberRecord, decodeKeyRequest, decodeQueryFilter, encodeConflictResponse,
  encodeKeyResponse, encodeQueryFilter,
} from "./wire/serf-query-codec.ts";

/** Serf's defaults (serf/config.go DefaultConfig). */
export interface QueryConfig {
  /** Queries remembered for de-duplication, indexed by Lamport time (QueryBuffer). */
  readonly queryBufferSize: number;
  /** Default timeout = gossipIntervalMs * queryTimeoutMult * ceil(log10(members + 1)). */
  readonly queryTimeoutMult: number;
  /** Largest encoded response (and relay) we send (QueryResponseSizeLimit). */
  readonly queryResponseSizeLimit: number;
  /** Largest encoded query we send (QuerySizeLimit). */
  readonly querySizeLimit: number;
}

export const defaultQueryConfig: QueryConfig = {
  queryBufferSize: 512, queryTimeoutMult: 16, queryResponseSizeLimit: 1024, querySizeLimit: 1024,
};

/** Serf's prefix for the queries it answers itself, never handed to the owner. */
export const internalQueryPrefix = "_serf_";

/**
 * The keyring the keyring queries act on (GossipKeyring in src/transports has this shape). Each
 * call either succeeds or throws an Error whose message goes back to the asker. An owner that
 * keeps its keyring on disk writes it inside these calls, so the answer leaves after the write.
 */
export interface QueryKeyring {
  /** Base64 keys, the primary first. */
  list(): string[];
  addKey(key: Uint8Array): void;
  useKey(key: Uint8Array): void;
  removeKey(key: Uint8Array): void;
}

export interface QueryParams {
  /** Only members with these names answer. */
  readonly filterNodes?: readonly string[];
  /** Only members whose tag matches the regular expression (unanchored, as Go's MatchString) answer. */
  readonly filterTags?: Readonly<Record<string, string>>;
  /** Ask every member that passes the filters for an ack. */
  readonly requestAck?: boolean;
  /** Each answer is also sent through this many other members (0..255). */
  readonly relayFactor?: number;
  /** Default: Serf's DefaultQueryTimeout. */
  readonly timeoutMs?: number;
}

/** One query as the owner sees it: (lTime, id) names it in respond(). */
export interface QueryHandle {
  readonly lTime: number;
  readonly id: number;
  readonly deadlineTick: number;
}

export type QueryEvent =
  /** A user query reached us (filters passed): answer with respond(lTime, id, payload) before deadlineTick. */
  | { readonly type: "query"; readonly name: string; readonly payload: Uint8Array; readonly lTime: number; readonly id: number; readonly from: string; readonly deadlineTick: number }
  | { readonly type: "query-ack"; readonly lTime: number; readonly id: number; readonly from: string }
  | { readonly type: "query-response"; readonly lTime: number; readonly id: number; readonly from: string; readonly payload: Uint8Array }
  /** Our query's timeout passed: no more acks or responses will be reported. */
  | { readonly type: "query-done"; readonly lTime: number; readonly id: number; readonly acks: number; readonly responses: number }
  /** Something about a query was refused or went unanswered; the reason is for the log (Serf logs these). */
  | { readonly type: "query-warning"; readonly message: string };

/** What the query layer needs from the member that owns it. */
export interface QueryHost {
  readonly name: string;
  readonly addr: Uint8Array;
  readonly port: number;
  readonly tickMs: number;
  readonly gossipIntervalMs: number;
  tags(): Tags;
  nowTick(): number;
  /** memberlist's NumMembers: members not dead or left, ourselves included. */
  liveMembers(): number;
  /** Serf's Members(): every member known, in any status. */
  knownMembers(): number;
  /** Up to k random members that are alive, speak protocol >= 5 and are not us (Serf relayResponse). */
  relayTargets(k: number): { name: string; addr: Uint8Array; port: number }[];
  memberRecord(name: string): SerfMemberRecord | null;
  /** One Serf message straight to "ip:port" by UDP (memberlist SendToAddress). */
  send(to: { addr: Uint8Array; port: number }, msg: SerfMessage): void;
  broadcast(msg: SerfQuery): void;
  emit(e: QueryEvent): void;
}

interface Asked {
  readonly id: number;
  readonly deadlineTick: number;
  readonly acks: Set<string> | null;
  readonly responses: Set<string>;
}

interface Received {
  readonly lTime: number;
  readonly id: number;
  readonly addr: Uint8Array;
  readonly port: number;
  readonly sourceNode: string;
  readonly relayFactor: number;
  readonly deadlineTick: number;
}

const nsPerMs = 1_000_000;
/**
 * Bounds on what peers can make us hold: a received query stays answerable until its deadline, and
 * the deadline is the asker's to choose. Serf holds each in a goroutine; we cap count and lifetime.
 */
const receivedOpenMax = 4096;
const receivedTimeoutMsMax = 60 * 60 * 1000;
/** Serf's minEncodedKeyLength: a list-keys answer is cut to QueryResponseSizeLimit / 25 keys at most. */
const minEncodedKeyBytes = 25;

function keyOf(lTime: number, id: number): string {
  return `${lTime}/${id}`;
}

function sameAddr(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class SerfQueries {
  /** Serf's queryBuffer; made on the first query, so a pool that never queries pays nothing per member. */
  private seen: ({ lTime: number; ids: number[] } | null)[] | null = null;
  /** Our own queries still open, by Lamport time (one per time: the clock moves on for each). */
  private readonly asked = new Map<number, Asked>();
  /** Queries we received and may still answer, by lTime/id. */
  private readonly received = new Map<string, Received>();

  constructor(
    private readonly host: QueryHost,
    private readonly clock: LamportClock,
    private readonly rng: Rng,
    private readonly keyring: QueryKeyring | null,
    readonly config: QueryConfig = defaultQueryConfig,
  ) {}

  /** Serf's DefaultQueryTimeout, in milliseconds. */
  defaultTimeoutMs(): number {
    const n = this.host.liveMembers();
    return this.host.gossipIntervalMs * this.config.queryTimeoutMult * Math.ceil(Math.log10(n + 1));
  }

  /** Open queries (asked and received), for tests and invariants. */
  get openCount(): { asked: number; received: number } {
    return { asked: this.asked.size, received: this.received.size };
  }

  /** Serf's Query: handled here first (we may ack and answer ourselves), then gossiped. */
  query(name: string, payload: Uint8Array, params: QueryParams = {}): QueryHandle {
    if (name.length === 0) throw new RangeError("a query needs a name");
    const relayFactor = params.relayFactor ?? 0;
    if (!Number.isInteger(relayFactor) || relayFactor < 0 || relayFactor > 255) throw new RangeError(`relay factor ${relayFactor} is not in 0..255`);
    const timeoutMs = params.timeoutMs ?? this.defaultTimeoutMs();
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`query timeout ${timeoutMs} ms is not positive`);
    const filters: Uint8Array[] = [];
    if (params.filterNodes !== undefined && params.filterNodes.length > 0) filters.push(encodeQueryFilter({ kind: "node", names: params.filterNodes }));
    for (const [tag, expr] of Object.entries(params.filterTags ?? {})) {
      compileTagExpr(expr);
      filters.push(encodeQueryFilter({ kind: "tag", tag, expr }));
    }
    const msg: SerfQuery = {
      type: "query", LTime: this.clock.time(), ID: Math.floor(this.rng.next() * 0x80000000), Addr: this.host.addr, Port: this.host.port,
      SourceNode: this.host.name, Filters: filters, Flags: params.requestAck === true ? QueryFlag.ack : 0, RelayFactor: relayFactor,
      Timeout: Math.round(timeoutMs * nsPerMs), Name: name, Payload: payload,
    };
    const bytes = encodeSerfMessage(msg).length;
    if (bytes > this.config.querySizeLimit) throw new RangeError(`query ${name} is ${bytes} bytes, over the limit of ${this.config.querySizeLimit}`);
    const deadlineTick = this.host.nowTick() + this.ticksOf(timeoutMs);
    this.asked.set(msg.LTime, { id: msg.ID, deadlineTick, acks: params.requestAck === true ? new Set() : null, responses: new Set() });
    this.onQuery(msg);
    this.host.broadcast(msg);
    return { lTime: msg.LTime, id: msg.ID, deadlineTick };
  }

  /** Serf's handleQuery. Returns true when the query is news and should be gossiped on. */
  onQuery(q: SerfQuery): boolean {
    this.clock.witness(q.LTime);
    this.seen ??= new Array<{ lTime: number; ids: number[] } | null>(this.config.queryBufferSize).fill(null);
    const size = this.seen.length;
    const now = this.clock.time();
    if (now > size && q.LTime < now - size) {
      this.warn(`received old query ${q.Name} from time ${q.LTime} (current: ${now})`);
      return false;
    }
    const idx = q.LTime % size;
    let slot = this.seen[idx] ?? null;
    if (slot !== null && slot.lTime === q.LTime) {
      if (slot.ids.includes(q.ID)) return false;
    } else {
      slot = { lTime: q.LTime, ids: [] };
      this.seen[idx] = slot;
    }
    slot.ids.push(q.ID);
    const rebroadcast = (q.Flags & QueryFlag.noBroadcast) === 0;
    // A member that does not pass the filters still gossips the query on: it is news to it.
    if (!this.passesFilters(q)) return rebroadcast;
    if (q.Addr.length !== 4 && q.Addr.length !== 16) {
      this.warn(`query ${q.Name} from ${q.SourceNode} has a reply address of ${q.Addr.length} bytes; not answered`);
      return rebroadcast;
    }
    const deadlineTick = this.host.nowTick() + this.ticksOf(Math.min(Math.max(0, q.Timeout) / nsPerMs, receivedTimeoutMsMax));
    const r: Received = {
      lTime: q.LTime, id: q.ID, addr: q.Addr, port: q.Port, sourceNode: q.SourceNode, relayFactor: q.RelayFactor, deadlineTick,
    };
    if ((q.Flags & QueryFlag.ack) !== 0) {
      this.deliver(r, { type: "queryResponse", LTime: q.LTime, ID: q.ID, From: this.host.name, Flags: QueryFlag.ack, Payload: null });
    }
    if (q.Name.startsWith(internalQueryPrefix)) {
      this.internal(q, r);
    } else if (this.received.size >= receivedOpenMax) {
      this.warn(`query ${q.Name} from ${q.SourceNode}: ${receivedOpenMax} queries already open; not delivered`);
    } else {
      this.received.set(keyOf(q.LTime, q.ID), r);
      this.host.emit({ type: "query", name: q.Name, payload: q.Payload, lTime: q.LTime, id: q.ID, from: q.SourceNode, deadlineTick });
    }
    return rebroadcast;
  }

  /** Answer a query we received (Serf's Query.Respond): once, before its deadline, within the size limit. */
  respond(lTime: number, id: number, payload: Uint8Array): void {
    const key = keyOf(lTime, id);
    const r = this.received.get(key);
    if (r === undefined) throw new RangeError(`no open query ${key} to respond to (already answered, timed out or never received)`);
    this.sendResponse(r, payload);
    this.received.delete(key);
  }

  /** Serf's handleQueryResponse: acks and responses of our own open queries, one of each per member. */
  onResponse(resp: SerfQueryResponse): void {
    const q = this.asked.get(resp.LTime);
    if (q === undefined) {
      this.warn(`reply for non-running query (LTime: ${resp.LTime}, ID: ${resp.ID}) from ${resp.From}`);
      return;
    }
    if (q.id !== resp.ID) {
      this.warn(`query reply ID mismatch (local: ${q.id}, response: ${resp.ID}) from ${resp.From}`);
      return;
    }
    if ((resp.Flags & QueryFlag.ack) !== 0) {
      // Serf drops acks to a query that did not ask for them (its ack channel is nil).
      if (q.acks === null || q.acks.has(resp.From)) return;
      q.acks.add(resp.From);
      this.host.emit({ type: "query-ack", lTime: resp.LTime, id: resp.ID, from: resp.From });
      return;
    }
    if (q.responses.has(resp.From)) return;
    q.responses.add(resp.From);
    this.host.emit({ type: "query-response", lTime: resp.LTime, id: resp.ID, from: resp.From, payload: resp.Payload ?? new Uint8Array(0) });
  }

  /**
   * A relay (delegate.go messageRelayType): forward the wrapped message to its destination. Serf
   * forwards whatever is wrapped; only query responses are ever relayed, so we refuse anything else
   * rather than let a peer bounce arbitrary gossip off us to any address.
   */
  onRelay(m: SerfRelay): void {
    if (m.Msg.type !== "queryResponse") {
      this.warn(`relay to ${m.DestName} wraps a ${m.Msg.type} message, not a query response; not forwarded`);
      return;
    }
    this.host.send({ addr: m.DestAddr.IP, port: m.DestAddr.Port }, m.Msg);
  }

  /** Closes our queries whose timeout passed and forgets received ones past their deadline. */
  tick(): void {
    const now = this.host.nowTick();
    for (const [lTime, q] of this.asked) {
      if (now < q.deadlineTick) continue;
      this.asked.delete(lTime);
      this.host.emit({ type: "query-done", lTime, id: q.id, acks: q.acks?.size ?? 0, responses: q.responses.size });
    }
    for (const [key, r] of this.received) if (now >= r.deadlineTick) this.received.delete(key);
  }

  /** The tick at which the first query we asked closes (Infinity when none is open). */
  nextDeadlineTick(): number {
    let tick = Number.POSITIVE_INFINITY;
    for (const q of this.asked.values()) tick = Math.min(tick, q.deadlineTick);
    return tick;
  }

  private ticksOf(ms: number): number {
    return Math.max(1, Math.ceil(ms / this.host.tickMs));
  }

  private warn(message: string): void {
    this.host.emit({ type: "query-warning", message });
  }

  /** Serf's shouldProcessQuery: every filter must pass; one we cannot read fails the query. */
  private passesFilters(q: SerfQuery): boolean {
    for (const raw of q.Filters) {
      let f: QueryFilter;
      try {
        f = decodeQueryFilter(raw);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        this.warn(`query ${q.Name} from ${q.SourceNode}: bad filter (${e.message}); not answered`);
        return false;
      }
      if (f.kind === "node") {
        if (!f.names.includes(this.host.name)) return false;
        continue;
      }
      let re: Re2;
      try {
        re = compileTagExpr(f.expr);
      } catch (e) {
        this.warn(`query ${q.Name} from ${q.SourceNode}: tag filter ${f.tag}: ${(e as Error).message}; not answered`);
        return false;
      }
      if (!re.test(this.host.tags()[f.tag] ?? "")) return false;
    }
    return true;
  }

  private sendResponse(r: Received, payload: Uint8Array): void {
    if (this.host.nowTick() > r.deadlineTick) throw new RangeError(`query ${keyOf(r.lTime, r.id)} is past its deadline`);
    const resp: SerfQueryResponse = { type: "queryResponse", LTime: r.lTime, ID: r.id, From: this.host.name, Flags: 0, Payload: payload };
    const bytes = encodeSerfMessage(resp).length;
    if (bytes > this.config.queryResponseSizeLimit) {
      throw new RangeError(`response is ${bytes} bytes, over the limit of ${this.config.queryResponseSizeLimit}`);
    }
    this.deliver(r, resp);
  }

  /** Straight to the asker, then through relayFactor others (Serf relayResponse). */
  private deliver(r: Received, resp: SerfQueryResponse): void {
    if (r.sourceNode === this.host.name && r.port === this.host.port && sameAddr(r.addr, this.host.addr)) {
      // Serf sends to itself through its own socket; the answer is the same handed over directly.
      this.onResponse(resp);
    } else {
      this.host.send({ addr: r.addr, port: r.port }, resp);
    }
    if (r.relayFactor === 0 || this.host.knownMembers() < r.relayFactor + 1) return;
    const relay: SerfRelay = { type: "relay", DestAddr: { IP: r.addr, Port: r.port, Zone: "" }, DestName: r.sourceNode, Msg: resp };
    const bytes = encodeSerfMessage(relay).length;
    if (bytes > this.config.queryResponseSizeLimit) {
      this.warn(`relayed response is ${bytes} bytes, over the limit of ${this.config.queryResponseSizeLimit}; not relayed`);
      return;
    }
    for (const m of this.host.relayTargets(r.relayFactor)) this.host.send({ addr: m.addr, port: m.port }, relay);
  }

  /** Serf's serfQueries.handleQuery. */
  private internal(q: SerfQuery, r: Received): void {
    const what = q.Name.slice(internalQueryPrefix.length);
    switch (what) {
      case "ping":
        return;
      case "conflict": {
        const node = bytesToString(q.Payload);
        // A conflict about our own name is for the others to judge.
        if (node === this.host.name) return;
        return this.sendInternal(r, encodeConflictResponse(this.host.memberRecord(node)));
      }
      case "install-key":
      case "use-key":
      case "remove-key":
      case "list-keys":
        return this.sendInternal(r, this.keyResponse(what, q.Payload, r));
      default:
        this.warn(`unhandled internal query ${q.Name} from ${q.SourceNode}`);
    }
  }

  private sendInternal(r: Received, payload: Uint8Array): void {
    try {
      this.sendResponse(r, payload);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      this.warn(`internal query answer not sent: ${e.message}`);
    }
  }

  private keyResponse(what: "install-key" | "use-key" | "remove-key" | "list-keys", payload: Uint8Array, r: Received): Uint8Array {
    const fail = (message: string): Uint8Array => encodeKeyResponse({ Result: false, Message: message, Keys: [], PrimaryKey: "" });
    if (this.keyring === null) return fail(what === "list-keys" ? "Keyring is empty (encryption not enabled)" : "No keyring to modify (encryption not enabled)");
    if (what === "list-keys") return this.listKeysResponse(this.keyring.list(), r);
    let key: Uint8Array;
    try {
      key = decodeKeyRequest(payload);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      return fail(`Failed to decode key request: ${e.message}`);
    }
    try {
      if (what === "install-key") this.keyring.addKey(key);
      else if (what === "use-key") this.keyring.useKey(key);
      else this.keyring.removeKey(key);
    } catch (e) {
      return fail((e as Error).message);
    }
    return encodeKeyResponse({ Result: true, Message: "", Keys: [], PrimaryKey: "" });
  }

  /** Serf's keyListResponseWithCorrectSize: as many keys as fit one response, saying so when cut. */
  private listKeysResponse(keys: string[], r: Received): Uint8Array {
    const all = keys.length;
    let resp: NodeKeyResponse = { Result: true, Message: "", Keys: keys, PrimaryKey: keys[0] ?? "" };
    const probe = (payload: Uint8Array): number =>
      encodeSerfMessage({ type: "queryResponse", LTime: r.lTime, ID: r.id, From: this.host.name, Flags: 0, Payload: payload }).length;
    for (let n = Math.floor(this.config.queryResponseSizeLimit / minEncodedKeyBytes); n >= 0; n--) {
      const payload = encodeKeyResponse(resp);
      if (probe(payload) <= this.config.queryResponseSizeLimit) return payload;
      resp = { ...resp, Keys: keys.slice(0, n), Message: `truncated key list response, showing first ${n} of ${all} keys` };
    }
    return encodeKeyResponse({ Result: false, Message: "failed to truncate the key list to fit one response", Keys: [], PrimaryKey: "" });
  }
}

/** A tag filter's expression, in Serf's RE2 syntax (linear-time matching: a peer cannot stall us). */
function compileTagExpr(expr: string): Re2 {
  if (expr.length > 256) throw new RangeError(`tag filter expression of ${expr.length} characters (limit 256)`);
  try {
    return compileRe2(expr);
  } catch (e) {
    throw new RangeError(`tag filter ${JSON.stringify(expr)} does not compile as RE2: ${(e as Error).message}`);
  }
}
