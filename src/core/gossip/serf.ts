import { assert } from "../util/assert.ts";
import { BroadcastQueue } from "./broadcast-queue.ts";
import { LamportClock } from "./lamport.ts";
import { MlState, SerfStatus, type MemberTable } from "./member-table.ts";
import type { SerfJoin, SerfLeave, SerfMessage, SerfPushPull, SerfUserEvent, SerfUserEvents } from "./messages.ts";
import type { MemberEventType } from "./events.ts";
import { serfMessageBytes } from "./size.ts";

interface Intent {
  readonly kind: "join" | "leave";
  readonly lTime: number;
  readonly tick: number;
}

export interface SerfHooks {
  memberEvent(type: MemberEventType, id: number): void;
  userEvent(e: SerfUserEvent): void;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Serf's layer over memberlist (hashicorp/serf serf.go): member statuses alive, leaving, left and
 * failed; join and leave intents ordered by a Lamport clock; user events with their own clock,
 * de-duplicated in a ring indexed by Lamport time; and its own broadcast queue, drained after
 * memberlist's into the same packets.
 *
 * Invariant: failedIds = { id | status[id] = failed } and leftIds = { id | status[id] = left }.
 */
export class SerfLayer {
  readonly clock = new LamportClock();
  readonly eventClock = new LamportClock();
  readonly queryClock = new LamportClock();
  readonly broadcasts = new BroadcastQueue<SerfMessage>();
  readonly failedIds = new Set<number>();
  readonly leftIds = new Set<number>();
  aliveCount = 0;
  private readonly eventBuffer: (SerfUserEvents | null)[];
  private readonly recentIntents = new Map<string, Intent>();
  /**
   * Members held as left (or failed) whose status time is a newer JOIN's: memberlist has not yet
   * said they are back. A push/pull must not list them as left, or the receiver reads that join's
   * time as a leave's and holds a member that is back as leaving for good (agent-sim seed 820:
   * a server that left and rejoined, learned by a restarted peer from such a push/pull).
   */
  private readonly joinedWhileGone = new Set<number>();
  /** This member has asked to leave: a leave intent about it is not refuted. */
  leaving = false;

  constructor(
    private readonly table: MemberTable,
    private readonly selfId: number,
    eventBufferSize: number,
    private readonly hooks: SerfHooks,
  ) {
    this.eventBuffer = new Array<SerfUserEvents | null>(eventBufferSize).fill(null);
    // Serf starts every clock at 1, so that 0 means "never".
    this.clock.increment();
    this.eventClock.increment();
    this.queryClock.increment();
  }

  broadcast(msg: SerfMessage, onDone: (() => void) | null = null): void {
    this.broadcasts.queue(null, msg, serfMessageBytes(msg), onDone);
  }

  /** memberlist says the member is alive after being unknown, dead or left (NotifyJoin). */
  onJoin(id: number, nowTick: number): void {
    const t = this.table;
    const old = t.status[id]! as SerfStatus;
    this.joinedWhileGone.delete(id);
    if (old === SerfStatus.none) this.applyRecentIntent(id);
    else t.status[id] = SerfStatus.alive;
    this.countStatus(id, old);
    t.statusTick[id] = nowTick;
    this.hooks.memberEvent("member-join", id);
  }

  /** memberlist declared the member dead or left (NotifyLeave). */
  onLeave(id: number, nowTick: number): void {
    const t = this.table;
    const old = t.status[id]! as SerfStatus;
    if (old === SerfStatus.leaving || (old === SerfStatus.alive && t.state[id] === MlState.left)) {
      t.status[id] = SerfStatus.left;
    } else if (old === SerfStatus.alive) {
      t.status[id] = SerfStatus.failed;
    } else {
      return;
    }
    t.statusTick[id] = nowTick;
    this.countStatus(id, old);
    this.hooks.memberEvent(t.status[id] === SerfStatus.left ? "member-leave" : "member-failed", id);
  }

  /** The member is forgotten (reaped): drop it from the status sets. */
  onErase(id: number): void {
    this.joinedWhileGone.delete(id);
    this.countStatus(id, this.table.status[id]! as SerfStatus, SerfStatus.none);
  }

  /** Keeps aliveCount, failedIds and leftIds in step with a status change. */
  private countStatus(id: number, old: SerfStatus, next: SerfStatus = this.table.status[id]! as SerfStatus): void {
    if (old === next) return;
    if (old === SerfStatus.alive) this.aliveCount--;
    if (old === SerfStatus.failed) this.failedIds.delete(id);
    if (old === SerfStatus.left) this.leftIds.delete(id);
    if (next === SerfStatus.alive) this.aliveCount++;
    if (next === SerfStatus.failed) this.failedIds.add(id);
    if (next === SerfStatus.left) this.leftIds.add(id);
  }

  private applyRecentIntent(id: number): void {
    const t = this.table;
    const name = t.index.nameOf(id);
    const intent = this.recentIntents.get(name);
    t.status[id] = SerfStatus.alive;
    t.statusLTime[id] = 0;
    if (intent === undefined) return;
    this.recentIntents.delete(name);
    t.statusLTime[id] = intent.lTime;
    if (intent.kind === "leave") t.status[id] = SerfStatus.leaving;
  }

  /** An intent about a member not yet known is kept; the newest one per member wins. */
  private rememberIntent(name: string, kind: "join" | "leave", lTime: number, nowTick: number): boolean {
    const old = this.recentIntents.get(name);
    if (old !== undefined && old.lTime >= lTime) return false;
    this.recentIntents.set(name, { kind, lTime, tick: nowTick });
    return true;
  }

  expireIntents(nowTick: number, timeoutTicks: number): void {
    for (const [name, intent] of this.recentIntents) {
      if (nowTick - intent.tick > timeoutTicks) this.recentIntents.delete(name);
    }
  }

  /** Returns true when the intent was news and should be re-broadcast. */
  onJoinIntent(msg: SerfJoin, nowTick: number): boolean {
    this.clock.witness(msg.LTime);
    const id = this.table.known(msg.Node);
    if (id === undefined) return this.rememberIntent(msg.Node, "join", msg.LTime, nowTick);
    const t = this.table;
    if (msg.LTime <= t.statusLTime[id]!) return false;
    t.statusLTime[id] = msg.LTime;
    if (t.status[id] === SerfStatus.left || t.status[id] === SerfStatus.failed) this.joinedWhileGone.add(id);
    if (t.status[id] === SerfStatus.leaving) {
      t.status[id] = SerfStatus.alive;
      this.countStatus(id, SerfStatus.leaving);
    }
    return true;
  }

  /** Returns true when the intent was news and should be re-broadcast. */
  onLeaveIntent(msg: SerfLeave, nowTick: number): boolean {
    this.clock.witness(msg.LTime);
    const id = this.table.known(msg.Node);
    if (id === undefined) return this.rememberIntent(msg.Node, "leave", msg.LTime, nowTick);
    const t = this.table;
    // A failed member, or this member itself, also takes a leave stamped with the time it already
    // has: that time may have reached us as a join (a push/pull lists statuses without saying which
    // intent set them). Once a member has failed nothing but this leave can ever arrive to say it
    // left; and a member that is not leaving must refute it, or whoever holds it as leaving at that
    // time keeps it so for good (our own join at the same time is stale to them).
    const sameTimeCounts = t.status[id] === SerfStatus.failed || (id === this.selfId && !this.leaving);
    const stale = sameTimeCounts ? msg.LTime < t.statusLTime[id]! : msg.LTime <= t.statusLTime[id]!;
    if (stale) return false;
    this.joinedWhileGone.delete(id);
    if (id === this.selfId && !this.leaving) {
      // Someone says we are leaving and we are not: refute with a newer join intent.
      this.broadcastJoin(this.clock.time());
      return false;
    }
    const old = t.status[id]! as SerfStatus;
    if (old === SerfStatus.alive) {
      t.status[id] = SerfStatus.leaving;
      t.statusLTime[id] = msg.LTime;
      this.countStatus(id, old);
      return true;
    }
    if (old === SerfStatus.left) {
      // Still left in memberlist, now with a leave newer than the join we held: list it as that leave.
      t.statusLTime[id] = msg.LTime;
      return false;
    }
    if (old === SerfStatus.failed) {
      // force-leave: a failed member is moved to left.
      t.status[id] = SerfStatus.left;
      t.statusLTime[id] = msg.LTime;
      t.statusTick[id] = nowTick;
      this.countStatus(id, old);
      this.hooks.memberEvent("member-leave", id);
      return true;
    }
    return false;
  }

  broadcastJoin(lTime: number): void {
    const msg: SerfJoin = { type: "join", LTime: lTime, Node: this.table.index.nameOf(this.selfId) };
    this.clock.witness(lTime);
    this.onJoinIntent(msg, 0);
    this.broadcast(msg);
  }

  /** Serf handleUserEvent: true when the event is new (delivered and worth re-broadcasting). */
  onUserEvent(msg: SerfUserEvent): boolean {
    this.eventClock.witness(msg.LTime);
    const size = this.eventBuffer.length;
    const now = this.eventClock.time();
    if (now > size && msg.LTime < now - size) return false;
    const idx = msg.LTime % size;
    let seen = this.eventBuffer[idx] ?? null;
    if (seen !== null && seen.LTime === msg.LTime) {
      if (seen.Events.some((e) => e.Name === msg.Name && sameBytes(e.Payload, msg.Payload))) return false;
    } else {
      seen = { LTime: msg.LTime, Events: [] };
    }
    this.eventBuffer[idx] = { LTime: seen.LTime, Events: [...seen.Events, { Name: msg.Name, Payload: msg.Payload }] };
    this.hooks.userEvent(msg);
    return true;
  }

  /** Serf's push/pull user state. */
  localState(): SerfPushPull {
    const t = this.table;
    const statusLTimes: Record<string, number> = {};
    const left: string[] = [];
    for (let id = 0; id < t.capacity; id++) {
      if (t.status[id] === SerfStatus.none) continue;
      const name = t.index.nameOf(id);
      statusLTimes[name] = t.statusLTime[id]!;
      // Serf lists only left members here; a leaving member's statusLTime would then read as a
      // join's time to the receiver and hide the leave for good. Listing it makes it a leave intent.
      if ((t.status[id] === SerfStatus.left && !this.joinedWhileGone.has(id)) || t.status[id] === SerfStatus.leaving) left.push(name);
    }
    return {
      type: "pushPull", LTime: this.clock.time(), StatusLTimes: statusLTimes, LeftMembers: left,
      EventLTime: this.eventClock.time(), Events: this.eventBuffer.filter((e) => e !== null), QueryLTime: this.queryClock.time(),
    };
  }

  mergeRemoteState(pp: SerfPushPull, nowTick: number): void {
    // No message stamped with the sender's current time has been sent yet: witness one less.
    if (pp.LTime > 0) this.clock.witness(pp.LTime - 1);
    if (pp.EventLTime > 0) this.eventClock.witness(pp.EventLTime - 1);
    if (pp.QueryLTime > 0) this.queryClock.witness(pp.QueryLTime - 1);
    const left = new Set(pp.LeftMembers);
    for (const [name, lTime] of Object.entries(pp.StatusLTimes)) {
      if (!Number.isInteger(lTime) || lTime < 0) continue;
      if (left.has(name)) this.onLeaveIntent({ type: "leave", LTime: lTime, Node: name, Prune: false }, nowTick);
      else this.onJoinIntent({ type: "join", LTime: lTime, Node: name }, nowTick);
    }
    for (const events of pp.Events) {
      if (events === null) continue;
      for (const e of events.Events) this.onUserEvent({ type: "userEvent", LTime: events.LTime, Name: e.Name, Payload: e.Payload, CC: false });
    }
  }

  invariants(): void {
    for (const id of this.failedIds) assert(this.table.status[id] === SerfStatus.failed, () => `failed set holds ${id} with status ${this.table.status[id]}`);
    for (const id of this.leftIds) assert(this.table.status[id] === SerfStatus.left, () => `left set holds ${id} with status ${this.table.status[id]}`);
    assert(this.aliveCount >= 1 || this.leaving, () => `alive count ${this.aliveCount} < 1 while not leaving`);
  }
}
