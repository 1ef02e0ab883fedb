import test from "ava";
import type { GossipEvent, OutPacket } from "../../src/core/gossip/events.ts";
import { type GossipCore, GossipEndpoint } from "../../src/transports/gossip-endpoint.ts";

/** A core that only says when it wants to be woken, and counts how often its owner woke it. */
class WakeCore implements GossipCore {
  wake = Number.POSITIVE_INFINITY;
  ticks = 0;
  drains = 0;
  tick(): void {
    this.ticks++;
  }
  nextWakeTick(): number {
    return this.ticks >= this.wake ? Number.POSITIVE_INFINITY : this.wake;
  }
  receive(): void {}
  drain(): { packets: OutPacket[]; events: GossipEvent[] } {
    this.drains++;
    return { packets: [], events: [] };
  }
  join(): void {}
  leave(): void {}
  userEvent(): void {}
  members(): [] {
    return [];
  }
}

function busyMs(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/**
 * Node starts a timer from the event loop's cached time, so a wake armed after some work fires that
 * much before its tick. The endpoint must run the tick then, not find it "not yet due" and sleep
 * again: one wake-up per wake tick, whatever ran before the timer was set.
 */
test("endpoint: a wake armed after 5 ms of work still wakes the process once, not twice", async (t) => {
  const core = new WakeCore();
  const endpoint = await GossipEndpoint.start({ bindHost: "127.0.0.141", bindPort: 0, tickMs: 50, createCore: () => core });
  try {
    for (let round = 1; round <= 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      // Caught up to now, then the work of a receive before the timer is re-armed: the loop's cached time falls behind.
      endpoint.userEvent("x", new Uint8Array(0));
      const wakeTick = core.ticks + 4;
      busyMs(5);
      core.wake = wakeTick;
      endpoint.userEvent("x", new Uint8Array(0));
      const drainsBefore = core.drains;
      await new Promise((resolve) => setTimeout(resolve, 400));
      t.true(core.ticks >= wakeTick, `round ${round}: tick ${wakeTick} ran`);
      t.is(core.drains - drainsBefore, 1, `round ${round}: woken ${core.drains - drainsBefore} times for one wake tick`);
    }
  } finally {
    await endpoint.kill();
  }
});
