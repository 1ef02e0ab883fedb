import { assert } from "../util/assert.ts";
import type { Alive } from "./messages.ts";

/**
 * Names to dense integer ids. A node owns one by default; a simulator running thousands of
 * members in one process shares one among them, so each member's view costs a few bytes per peer
 * in typed arrays instead of a map of objects (10,000 members see 10^8 entries in total).
 */
export class MemberIndex {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];

  get size(): number {
    return this.names.length;
  }

  idOf(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }

  lookup(name: string): number | undefined {
    return this.ids.get(name);
  }

  nameOf(id: number): string {
    const name = this.names[id];
    assert(name !== undefined, `no member with id ${id}`);
    return name;
  }
}

/** memberlist node states, plus 0 for a member this node has never heard of. */
export const MlState = { unknown: 0, alive: 1, suspect: 2, dead: 3, left: 4 } as const;
export type MlState = (typeof MlState)[keyof typeof MlState];

/** Serf member statuses, plus 0 for none. */
export const SerfStatus = { none: 0, alive: 1, leaving: 2, left: 3, failed: 4 } as const;
export type SerfStatus = (typeof SerfStatus)[keyof typeof SerfStatus];

/** Address, port, metadata and versions of a member: the Alive that last told us about it. */
export type MemberInfo = Pick<Alive, "Node" | "Addr" | "Port" | "Meta" | "Vsn">;

function grown<T extends Uint8Array | Uint32Array | Int32Array>(old: T, size: number, make: (n: number) => T): T {
  const next = make(size);
  next.set(old);
  return next;
}

/**
 * One node's view of every member, column by column, indexed by MemberIndex id.
 *
 * Invariant: state[id] === unknown  <=>  info[id] === undefined.
 * Invariant: status[id] === none    <=>  state[id] === unknown.
 */
export class MemberTable {
  state = new Uint8Array(0);
  incarnation = new Uint32Array(0);
  /** Tick of the last memberlist state change (alive/suspect/dead/left). */
  stateTick = new Int32Array(0);
  status = new Uint8Array(0);
  /** Serf's Lamport time of the last join or leave intent applied. */
  statusLTime = new Uint32Array(0);
  /** Tick the member became failed or left (Serf's leaveTime), for reaping. */
  statusTick = new Int32Array(0);
  /** 1 while the member is in the probe list (memberlist's m.nodes). */
  listed = new Uint8Array(0);
  readonly info: (MemberInfo | undefined)[] = [];

  constructor(readonly index: MemberIndex) {}

  get capacity(): number {
    return this.state.length;
  }

  /** Makes room for `id`; columns grow by doubling. */
  ensure(id: number): void {
    assert(id >= 0 && id < this.index.size, `id ${id} outside the index (${this.index.size})`);
    if (id < this.state.length) return;
    const size = Math.max(16, this.index.size, this.state.length * 2);
    this.state = grown(this.state, size, (n) => new Uint8Array(n));
    this.incarnation = grown(this.incarnation, size, (n) => new Uint32Array(n));
    this.stateTick = grown(this.stateTick, size, (n) => new Int32Array(n));
    this.status = grown(this.status, size, (n) => new Uint8Array(n));
    this.statusLTime = grown(this.statusLTime, size, (n) => new Uint32Array(n));
    this.statusTick = grown(this.statusTick, size, (n) => new Int32Array(n));
    this.listed = grown(this.listed, size, (n) => new Uint8Array(n));
  }

  /** The id of a member this node knows, or undefined. */
  known(name: string): number | undefined {
    const id = this.index.lookup(name);
    if (id === undefined || id >= this.state.length || this.state[id] === MlState.unknown) return undefined;
    return id;
  }

  erase(id: number): void {
    this.state[id] = MlState.unknown;
    this.status[id] = SerfStatus.none;
    this.incarnation[id] = 0;
    this.statusLTime[id] = 0;
    this.info[id] = undefined;
  }
}

/** A growable list of member ids, for probe order and random picks. */
export class IdList {
  private items = new Int32Array(16);
  length = 0;

  get(i: number): number {
    assert(i >= 0 && i < this.length, `index ${i} outside list of ${this.length}`);
    return this.items[i]!;
  }

  set(i: number, id: number): void {
    assert(i >= 0 && i < this.length, `index ${i} outside list of ${this.length}`);
    this.items[i] = id;
  }

  push(id: number): void {
    if (this.length === this.items.length) {
      const next = new Int32Array(this.items.length * 2);
      next.set(this.items);
      this.items = next;
    }
    this.items[this.length++] = id;
  }

  /** Keeps the ids for which `keep` holds, in order. */
  retain(keep: (id: number) => boolean): void {
    let w = 0;
    for (let r = 0; r < this.length; r++) {
      const id = this.items[r]!;
      if (keep(id)) this.items[w++] = id;
    }
    this.length = w;
  }
}
