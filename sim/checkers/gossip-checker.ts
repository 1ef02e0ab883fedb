import type { GossipEvent } from "../../src/core/gossip/events.ts";

/** What the simulator knows about a member, which the members themselves cannot see. */
export interface Truth {
  /** Running (not crashed, not yet gone after a leave). */
  readonly up: boolean;
  /** leave() was called on it. */
  readonly leaving: boolean;
}

/**
 * Watches every member's events, from outside the core:
 * - no resurrection: after viewer V saw S fail or leave at incarnation i, V sees S join again only
 *   with an incarnation above i;
 * - a leaving member is reported left, never failed (checked strictly when the network is calm:
 *   with loss and partitions a member may miss both leave broadcasts, and push/pull repairs it);
 * - false positives: a member reported failed while it was up and not leaving (counted).
 */
export class GossipChecker {
  violation: string | null = null;
  falsePositives = 0;
  failedEvents = 0;
  private readonly lastDown = new Map<number, number>();

  constructor(private readonly memberCount: number, private readonly strictLeave: boolean) {}

  onEvent(viewer: number, subject: number, e: GossipEvent, truth: Truth, atMs: number): void {
    if (!("member" in e)) return;
    const key = viewer * this.memberCount + subject;
    const inc = e.member.incarnation;
    switch (e.type) {
      case "member-failed":
        this.failedEvents++;
        this.lastDown.set(key, inc);
        if (truth.up && !truth.leaving) this.falsePositives++;
        if (truth.leaving && this.strictLeave) this.fail(`at ${atMs} ms member ${viewer} marked leaving member ${e.member.name} failed, not left`);
        return;
      case "member-leave":
        this.lastDown.set(key, inc);
        return;
      case "member-join": {
        const down = this.lastDown.get(key);
        if (down !== undefined && inc <= down) {
          this.fail(`at ${atMs} ms member ${viewer} saw ${e.member.name} come back alive at incarnation ${inc} after it was down at ${down}`);
        }
        this.lastDown.delete(key);
        return;
      }
      case "member-reap":
        this.lastDown.delete(key);
        return;
      default:
        return;
    }
  }

  /** A restarted viewer is a new process that never saw anyone go down. */
  forgetViewer(viewer: number): void {
    for (let s = 0; s < this.memberCount; s++) this.lastDown.delete(viewer * this.memberCount + s);
  }

  fail(message: string): void {
    if (this.violation === null) this.violation = message;
  }
}
