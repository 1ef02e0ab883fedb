/**
 * A gossip member on real sockets: owns the UDP/TCP sockets and a real timer, and drives the pure
 * gossip core with them. The core is ticked once per tickMs of real time passed; every decoded
 * message goes to core.receive(); after each, the core's outputs are drained: packets are encoded
 * and sent, events handed to the listener. The core never sees a socket or a clock.
 *
 * The timer sleeps until the core's next wake tick (GossipNode.nextWakeTick) rather than firing every
 * tickMs: an idle member then wakes about twice a second instead of 20 times, and a Node process
 * woken every 50 ms spends 0.2 % of a core on the wake-ups alone (more than a whole serf member).
 * Before each receive and API call the core is caught up to the current tick, so it sees the same
 * ticks as with a fixed timer.
 */
import type { GossipCounters, GossipEvent, Member, OutPacket, Via } from "../core/gossip/events.ts";
import type { MemberlistMessage } from "../core/gossip/messages.ts";
import type { QueryHandle, QueryParams } from "../core/gossip/query.ts";
import { type KeyringOp, type KeyringResult, KeyringTally, keyringQuery } from "../core/gossip/query-keyring.ts";
import { decodeKey } from "./gossip-keyring.ts";
import { type GossipSocketCounters, GossipSockets, type GossipSocketsOptions, splitHostPort } from "./gossip-sockets.ts";

/** What the endpoint needs from the gossip core (src/core/gossip): the caller-owns-I/O surface. */
export interface GossipCore {
  tick(): void;
  /** The first tick at which tick() may act (GossipNode has it); without it the core is woken every tick. */
  nextWakeTick?(): number;
  receive(from: string, msg: MemberlistMessage, via: Via): void;
  drain(): { readonly packets: readonly OutPacket[]; readonly events: readonly GossipEvent[] };
  join(addrs: readonly string[]): void;
  leave(): void;
  userEvent(name: string, payload: Uint8Array, coalesce: boolean): void;
  members(): readonly Member[];
  /** A Serf query; its acks, responses and close come back as events (GossipNode has it). */
  query?(name: string, payload: Uint8Array, params?: QueryParams): QueryHandle;
  respond?(lTime: number, id: number, payload: Uint8Array): void;
  /** A stream to `to` could not be opened. */
  unreachable?(to: string): void;
  /** What the core dropped or refused (GossipNode has them). */
  readonly counters?: GossipCounters;
}

/** Every counter of a member, as plain objects the agent's metrics read (they only grow). */
export interface GossipMetrics {
  readonly sockets: GossipSocketCounters;
  readonly core: GossipCounters | null;
}

export interface GossipEndpointOptions extends GossipSocketsOptions {
  /** The core's tick length: the timer fires this often. */
  readonly tickMs: number;
  /** Builds the core once the sockets are bound, so it knows its real address and port. */
  readonly createCore: (bound: { host: string; port: number; addr: string }) => GossipCore;
  /** Graceful leave gives up waiting for the core's "left" after this long. */
  readonly leaveTimeoutMs?: number;
  /** Sees every decoded message in and out (for --verbose and debugging); must not throw. */
  readonly trace?: GossipTrace;
}

export type GossipTrace = (direction: "in" | "out", peer: string, via: Via, msg: MemberlistMessage) => void;

export type GossipListener = (event: GossipEvent) => void;

/** What a query gathered by its timeout: who acked, and each member's response. */
export interface QueryResult {
  readonly acks: readonly string[];
  readonly responses: ReadonlyMap<string, Uint8Array>;
}

export class GossipEndpoint {
  private readonly listeners: GossipListener[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  /** Real time of tick 0, moved forward past an event-loop stall (see catchUp). */
  private epochMs = performance.now();
  private ticksDone = 0;
  private wakeTick = Number.POSITIVE_INFINITY;
  private onLeft: (() => void) | null = null;

  private constructor(
    private readonly sockets: GossipSockets,
    readonly core: GossipCore,
    private readonly options: GossipEndpointOptions,
  ) {}

  static async start(options: GossipEndpointOptions): Promise<GossipEndpoint> {
    const sockets = await GossipSockets.open(options);
    const addr = sockets.localAddr;
    const bound = { ...splitHostPort(addr), addr };
    const endpoint = new GossipEndpoint(sockets, options.createCore(bound), options);
    sockets.onMessage((from, msg, via) => {
      options.trace?.("in", from, via, msg);
      endpoint.catchUp();
      endpoint.core.receive(from, msg, via);
      endpoint.flush();
    });
    sockets.onUnreachable((to) => {
      endpoint.catchUp();
      endpoint.core.unreachable?.(to);
      endpoint.flush();
    });
    endpoint.running = true;
    endpoint.epochMs = performance.now();
    endpoint.schedule();
    return endpoint;
  }

  get localAddr(): string {
    return this.sockets.localAddr;
  }

  get counters(): GossipSockets["counters"] {
    return this.sockets.counters;
  }

  /** Socket counters (bytes, packets, drops by reason, refused push/pulls) and the core's. */
  get metrics(): GossipMetrics {
    return { sockets: this.sockets.counters, core: this.core.counters ?? null };
  }

  /** Drop-log lines written and folded into later lines (rate limiting), for tests. */
  get logStats(): { logged: number; suppressed: number } {
    return this.sockets.logStats;
  }

  onEvent(listener: GossipListener): void {
    this.listeners.push(listener);
  }

  join(addrs: readonly string[]): void {
    this.catchUp();
    this.core.join(addrs);
    this.flush();
  }

  /** Joins and resolves with the address that answered, or rejects when none did. */
  joinAndWait(addrs: readonly string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const listener: GossipListener = (e) => {
        if (e.type === "join-complete") resolve(e.addr);
        if (e.type === "join-failed") reject(new Error(`join failed: no answer from ${e.addrs.join(", ")}`));
      };
      this.listeners.push(listener);
      this.join(addrs);
    });
  }

  userEvent(name: string, payload: Uint8Array, coalesce = false): void {
    this.catchUp();
    this.core.userEvent(name, payload, coalesce);
    this.flush();
  }

  members(): readonly Member[] {
    return this.core.members();
  }

  /**
   * A Serf query to the pool; resolves with the acks and responses gathered when its timeout passes,
   * or as soon as `until` holds of each response.
   */
  query(name: string, payload: Uint8Array, params: QueryParams = {}, until?: (from: string, payload: Uint8Array) => boolean): Promise<QueryResult> {
    const core = this.core;
    if (core.query === undefined) return Promise.reject(new Error("this gossip core does not speak Serf queries"));
    this.catchUp();
    // The core holds the query's events (our own ack and response among them) until the flush below.
    const handle = core.query(name, payload, params);
    return new Promise((resolve) => {
      const acks: string[] = [];
      const responses = new Map<string, Uint8Array>();
      const listener: GossipListener = (e) => {
        if (!("lTime" in e) || e.lTime !== handle.lTime || !("id" in e) || e.id !== handle.id) return;
        if (e.type === "query-ack") acks.push(e.from);
        if (e.type === "query-response") responses.set(e.from, e.payload);
        if (e.type === "query-done" || (e.type === "query-response" && until?.(e.from, e.payload) === true)) {
          this.listeners.splice(this.listeners.indexOf(listener), 1);
          resolve({ acks, responses });
        }
      };
      this.listeners.push(listener);
      this.flush();
    });
  }

  /**
   * Serf's KeyManager: a keyring operation on every member of the pool through the keyring queries
   * (`key` in base64; none to list). `error` is Serf's verdict ("N/M nodes reported failure").
   */
  async keyringOperation(op: KeyringOp, key = "", relayFactor = 0): Promise<{ result: KeyringResult; error: string | null }> {
    const { name, payload } = keyringQuery(op, key === "" ? new Uint8Array(0) : decodeKey(key));
    const live = this.members().filter((m) => m.status === "alive" || m.status === "leaving").length;
    const tally = new KeyringTally(live);
    await this.query(name, payload, { relayFactor }, (from, answer) => {
      tally.add(from, answer);
      return tally.complete;
    });
    return { result: tally.result(), error: tally.error() };
  }

  /** Answers a `query` event (throws RangeError when it is unknown, answered, late or too large). */
  respond(lTime: number, id: number, payload: Uint8Array): void {
    if (this.core.respond === undefined) throw new Error("this gossip core does not speak Serf queries");
    this.catchUp();
    this.core.respond(lTime, id, payload);
    this.flush();
  }

  /** Graceful leave: broadcast the intent, wait for the core to finish (or time out), then close. */
  async leave(): Promise<void> {
    if (!this.running) return;
    const left = new Promise<void>((resolve) => {
      this.onLeft = resolve;
      setTimeout(resolve, this.options.leaveTimeoutMs ?? 5_000).unref();
    });
    this.catchUp();
    this.core.leave();
    this.flush();
    await left;
    await this.kill();
  }

  /** Stops at once with no goodbye, as a crash would: peers must detect the silence. */
  async kill(): Promise<void> {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.sockets.close();
  }

  /**
   * Ticks the core once for every tickMs passed since the last tick. Ticks before the wake tick are
   * quiet by the core's word, so running them late changes nothing; past it, at most one more runs
   * and the clock's epoch moves over the rest, as a fixed timer delayed by a stalled event loop
   * ticks once: a member that was itself frozen does not time out every probe and suspicion at once.
   */
  private catchUp(wokenFor = 0): void {
    if (!this.running) return;
    const tickMs = this.options.tickMs;
    const dueTick = Math.max(Math.floor((performance.now() - this.epochMs) / tickMs), wokenFor);
    const lastTick = Math.min(dueTick, Math.max(this.wakeTick, this.ticksDone + 1));
    if (dueTick > lastTick) this.epochMs += (dueTick - lastTick) * tickMs;
    while (this.ticksDone < lastTick) {
      this.ticksDone++;
      this.core.tick();
    }
  }

  /** (Re)arms the timer for the core's next wake tick. */
  private schedule(): void {
    if (!this.running) return;
    const wake = this.core.nextWakeTick?.() ?? this.ticksDone + 1;
    const wakeTick = Math.max(wake, this.ticksDone + 1);
    // Re-armed when the wake moves later too (an ack ends a probe before its timeout), so that our
    // callback does not run for nothing. The process still wakes at the old time: Node keeps one
    // libuv timer for all its timers and never moves it later, so it fires, finds nothing due and
    // re-arms (strace: one such wake-up per probe answered; there is no public API to avoid it).
    if (this.timer !== null && wakeTick === this.wakeTick) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.wakeTick = wakeTick;
    if (!Number.isFinite(wakeTick)) return void (this.timer = null);
    const delayMs = Math.max(0, this.epochMs + wakeTick * this.options.tickMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      // Node starts a timer from the event loop's cached time, older than performance.now() by
      // whatever ran since the loop last woke, so the timer fires up to that much before the tick
      // it was set for. Running that tick a little early beats sleeping again for the rest: a
      // second wake-up of the process for nothing. Earlier than a whole tick, it sleeps again.
      const earlyMs = this.epochMs + wakeTick * this.options.tickMs - performance.now();
      this.catchUp(earlyMs <= this.options.tickMs ? wakeTick : 0);
      this.wakeTick = Number.POSITIVE_INFINITY;
      this.flush();
    }, delayMs);
  }

  private flush(): void {
    const { packets, events } = this.core.drain();
    for (const p of packets) {
      if (this.options.trace) for (const m of p.msgs) this.options.trace("out", p.to, p.via, m);
      this.sockets.send(p.to, p.msgs, p.via, p.crc === undefined ? {} : { crc: p.crc });
    }
    for (const e of events) {
      if (e.type === "left") this.onLeft?.();
      if (e.type === "query-warning") this.options.logger?.("warn", e.message, {});
      for (const l of this.listeners) l(e);
    }
    this.schedule();
  }
}
