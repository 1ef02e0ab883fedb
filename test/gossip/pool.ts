import { defaultLanConfig, type GossipConfig } from "../../src/core/gossip/config.ts";
import type { GossipEvent, MemberStatus, OutPacket } from "../../src/core/gossip/events.ts";
import { GossipNode, type GossipOptions } from "../../src/core/gossip/node.ts";
import type { Tags } from "../../src/core/gossip/messages.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";

/** A packet in flight in the test pool's network. */
export interface Flight {
  readonly from: string;
  readonly to: string;
  readonly packet: OutPacket;
}

/**
 * A tiny in-test network for gossip scripts: members n1..nN at 10.0.0.i:7946, one tick at a time,
 * every packet delivered within the tick (replies included) unless a rule drops it.
 */
export class TestPool {
  readonly nodes = new Map<string, GossipNode>();
  private readonly byAddr = new Map<string, string>();
  readonly events = new Map<string, GossipEvent[]>();
  readonly down = new Set<string>();
  /** Return true to drop the flight. */
  drop: (f: Flight) => boolean = () => false;
  delivered = 0;

  constructor(readonly config: GossipConfig = testConfig(), readonly seed = 1) {}

  static addrOf(i: number): string {
    return `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:7946`;
  }

  add(name: string, tags: Tags = {}, options: GossipOptions = {}): GossipNode {
    const i = this.nodes.size;
    const self = { name, addr: new Uint8Array([10, 0, Math.floor(i / 250), (i % 250) + 1]), port: 7946, tags };
    const node = new GossipNode(this.config, self, mulberry32(this.seed * 1000 + i), options);
    this.nodes.set(name, node);
    this.byAddr.set(TestPool.addrOf(i), name);
    this.events.set(name, []);
    return node;
  }

  addrOf(name: string): string {
    for (const [addr, n] of this.byAddr) if (n === name) return addr;
    throw new Error(`no member ${name}`);
  }

  node(name: string): GossipNode {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no member ${name}`);
    return n;
  }

  /** n members, all joining the first, run until every one sees every other alive. */
  static formed(n: number, config: GossipConfig = testConfig(), seed = 1): TestPool {
    const pool = new TestPool(config, seed);
    for (let i = 1; i <= n; i++) pool.add(`n${i}`);
    for (let i = 2; i <= n; i++) pool.node(`n${i}`).join([pool.addrOf("n1")]);
    pool.runUntil(() => pool.converged(), 2_000);
    return pool;
  }

  converged(): boolean {
    const up = [...this.nodes.keys()].filter((n) => !this.down.has(n));
    return up.every((a) => up.every((b) => this.status(a, b) === "alive"));
  }

  status(viewer: string, subject: string): MemberStatus | null {
    return this.node(viewer).member(subject)?.status ?? null;
  }

  tick(): void {
    for (const [name, node] of this.nodes) {
      if (this.down.has(name)) continue;
      node.tick();
      node.deepInvariants();
    }
    this.flush();
  }

  /** Deliver until no member has anything left to send. */
  flush(): void {
    for (let round = 0; round < 100; round++) {
      const flights: Flight[] = [];
      for (const [name, node] of this.nodes) {
        const out = node.drain();
        this.events.get(name)!.push(...out.events);
        if (this.down.has(name)) continue;
        for (const p of out.packets) flights.push({ from: this.addrOf(name), to: p.to, packet: p });
      }
      if (flights.length === 0) return;
      for (const f of flights) this.deliver(f);
    }
    throw new Error("test pool: messages still flowing after 100 rounds");
  }

  private deliver(f: Flight): void {
    const target = this.byAddr.get(f.to);
    if (target === undefined || this.down.has(target) || this.drop(f)) {
      const sender = this.byAddr.get(f.from);
      if (f.packet.via === "tcp" && sender !== undefined) this.node(sender).unreachable(f.to);
      return;
    }
    const node = this.node(target);
    for (const m of f.packet.msgs) {
      this.delivered++;
      node.receive(f.from, m, f.packet.via === "tcp" ? "tcp" : f.packet.via === "tcp-reply" ? "tcp-reply" : "udp");
    }
    node.deepInvariants();
  }

  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.tick();
  }

  /** Ticks until `done` holds; returns the ticks taken, throws past `maxTicks`. */
  runUntil(done: () => boolean, maxTicks: number): number {
    for (let i = 0; i < maxTicks; i++) {
      if (done()) return i;
      this.tick();
    }
    if (done()) return maxTicks;
    throw new Error(`condition not reached in ${maxTicks} ticks`);
  }

  eventsOf(name: string, type: GossipEvent["type"]): GossipEvent[] {
    return this.events.get(name)!.filter((e) => e.type === type);
  }

  /** Subjects of member events of `type` seen by `viewer`. */
  memberEvents(viewer: string, type: GossipEvent["type"]): string[] {
    return this.eventsOf(viewer, type).flatMap((e) => ("member" in e ? [e.member.name] : []));
  }
}

/** LAN defaults with a 100 ms tick, so scripts read in whole ticks. */
export function testConfig(overrides: Partial<GossipConfig> = {}): GossipConfig {
  return { ...defaultLanConfig(), tickMs: 100, ...overrides };
}
