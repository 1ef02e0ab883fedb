import test from "ava";
import { TestPool } from "./pool.ts";

/**
 * GossipNode.nextWakeTick lets a real-clock owner sleep past ticks: every tick before it must be
 * quiet (no packet, no event), or a sleeping member would send late or miss a deadline. The pool
 * below runs joins, a crash (suspicion, failure), a user event, a query and a graceful leave, and
 * checks every member's every tick against the wake tick it announced after its last flush.
 */
function runChecked(pool: TestPool, ticks: number): { quiet: number; loud: number } {
  let quiet = 0;
  let loud = 0;
  for (let i = 0; i < ticks; i++) {
    for (const [name, node] of pool.nodes) {
      if (pool.down.has(name)) continue;
      const wake = node.nextWakeTick();
      if (node.tickCount + 1 < wake) {
        node.tick();
        const out = node.drain();
        if (out.packets.length > 0 || out.events.length > 0) {
          throw new Error(`${name} acted at tick ${node.tickCount}, before its wake tick ${wake}: ` +
            `${out.packets.length} packets, events ${out.events.map((e) => e.type).join(",")}`);
        }
        quiet++;
      } else {
        node.tick();
        loud++;
      }
    }
    pool.flush();
  }
  return { quiet, loud };
}

let scenarioPlant: (pool: TestPool) => void = () => {};

function scenario(pool: TestPool): { quiet: number; loud: number } {
  const totals = { quiet: 0, loud: 0 };
  const add = (r: { quiet: number; loud: number }): void => {
    totals.quiet += r.quiet;
    totals.loud += r.loud;
  };
  for (let i = 1; i <= 6; i++) pool.add(`n${i}`);
  scenarioPlant(pool);
  for (let i = 2; i <= 6; i++) pool.node(`n${i}`).join([pool.addrOf("n1")]);
  // What the constructors and joins queued leaves now: runChecked judges only what ticks produce.
  pool.flush();
  add(runChecked(pool, 200));
  pool.node("n2").userEvent("deploy", new Uint8Array([1, 2, 3]), false);
  pool.node("n3").query("ping", new Uint8Array(0));
  pool.flush();
  add(runChecked(pool, 100));
  pool.down.add("n6");
  add(runChecked(pool, 600));
  pool.node("n4").leave();
  pool.flush();
  add(runChecked(pool, 400));
  return totals;
}

test("nextWakeTick: no member acts before the tick it announced (joins, event, query, crash, leave)", (t) => {
  const pool = new TestPool();
  const { quiet, loud } = scenario(pool);
  t.deepEqual(pool.memberEvents("n1", "member-failed"), ["n6"]);
  t.true(pool.memberEvents("n1", "member-leave").includes("n4"));
  // The point of the wake tick: most ticks are quiet, so an owner on a real clock sleeps through them.
  t.true(quiet > loud, `quiet ${quiet}, loud ${loud}`);
});

test("nextWakeTick: the check catches a member that announces a wake tick too late", (t) => {
  const pool = new TestPool();
  // The planted bug: one member sleeps 50 ticks whatever is due (its probes, its probe timeouts).
  scenarioPlant = (p) => {
    const n2 = p.node("n2");
    n2.nextWakeTick = () => n2.tickCount + 50;
  };
  try {
    t.throws(() => scenario(pool), { message: /n2 acted at tick \d+, before its wake tick/ });
  } finally {
    scenarioPlant = () => {};
  }
});
