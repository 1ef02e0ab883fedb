import test from "ava";
import { FAULT_KINDS, describeFault, generateSchedule, parseFaults, selectFaults, type ScheduledFault } from "../../sim/faults.ts";
import { WorldRng } from "../../sim/world/rng.ts";

test("faults: all, none and lists parse; an unknown kind is a clear error", (t) => {
  t.deepEqual(parseFaults("all"), [...FAULT_KINDS]);
  t.deepEqual(parseFaults("none"), []);
  t.deepEqual(parseFaults("crash, loss"), ["crash", "loss"]);
  t.throws(() => parseFaults("crash,meteor"), { message: /unknown fault kind "meteor"/ });
});

test("faults: a schedule is a function of the seed, and fits inside the safety phase", (t) => {
  const draw = (seed: number) => generateSchedule(new WorldRng(seed, "faults"), [...FAULT_KINDS], 60_000);
  t.deepEqual(draw(1), draw(1));
  t.notDeepEqual(draw(1), draw(2));
  for (let seed = 1; seed <= 50; seed++) {
    for (const f of draw(seed)) {
      t.true(f.atMs >= 0 && f.atMs + f.durationMs <= 60_000, describeFault(f));
      t.not(f.kind, "drift");
    }
  }
});

test("faults: only enabled kinds are drawn, and swarm weights vary the mix between seeds", (t) => {
  const mixes = new Set<string>();
  for (let seed = 1; seed <= 30; seed++) {
    const schedule = generateSchedule(new WorldRng(seed, "faults"), ["crash", "loss", "halves"], 60_000);
    for (const f of schedule) t.true(["crash", "loss", "halves"].includes(f.kind));
    mixes.add([...new Set(schedule.map((f) => f.kind))].sort().join(","));
  }
  t.true(mixes.size >= 3, `only mixes ${[...mixes].join(" | ")}`);
  t.deepEqual(generateSchedule(new WorldRng(1, "faults"), ["drift"], 60_000), []);
});

test("faults: selecting ids keeps exactly those faults, unchanged", (t) => {
  const schedule = generateSchedule(new WorldRng(3, "faults"), [...FAULT_KINDS], 60_000);
  t.true(schedule.length > 3);
  t.deepEqual(selectFaults(schedule, [0, 2]), [schedule[0], schedule[2]]);
  t.throws(() => selectFaults(schedule, [schedule.length]), { instanceOf: RangeError, message: `fault id ${schedule.length} is not in this seed's schedule (ids 0 to ${schedule.length - 1})` });
});

test("faults: every seed with delay, crash-leader and crash carries one to three split-vote shapes, each at one moment", (t) => {
  for (let seed = 1; seed <= 50; seed++) {
    const schedule = generateSchedule(new WorldRng(seed, "faults"), [...FAULT_KINDS], 60_000);
    // The shapes come last: a slow network, a leader bounced back before any follower times out, a standing vote crash point.
    const shapes: ScheduledFault[][] = [];
    for (let i = schedule.length - 3; i >= 0; i -= 3) {
      const [slow, bounce, vote] = schedule.slice(i, i + 3) as [ScheduledFault, ScheduledFault, ScheduledFault];
      if (slow.kind !== "delay" || bounce.kind !== "crash-leader" || vote.trigger !== "beforeSecondVote" || bounce.trigger !== undefined) break;
      shapes.push([slow, bounce, vote]);
    }
    t.true(shapes.length >= 1 && shapes.length <= 3, `seed ${seed}: ${shapes.length} shapes`);
    for (const [slow, bounce, vote] of shapes) {
      t.true(slow.atMs === bounce.atMs && bounce.atMs === vote.atMs, describeFault(slow));
      t.true(slow.delayMs! >= 150 && bounce.durationMs <= 300 && bounce.burst === undefined, `${describeFault(slow)} / ${describeFault(bounce)}`);
    }
  }
  t.false(generateSchedule(new WorldRng(1, "faults"), ["crash", "crash-leader"], 60_000).some((f) => f.kind === "delay"));
});

test("faults: lease races are appended after the rest of the schedule, only where asked for, in separate stretches", (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const without = generateSchedule(new WorldRng(seed, "faults"), [...FAULT_KINDS], 60_000);
    const withRaces = generateSchedule(new WorldRng(seed, "faults"), [...FAULT_KINDS], 60_000, { leaseRaces: true });
    t.false(without.some((f) => f.kind === "lease-race"));
    t.deepEqual(withRaces.slice(0, without.length), without);
    const races = withRaces.slice(without.length);
    t.true(races.length >= 4 && races.length <= 6, `seed ${seed}: ${races.length} races`);
    for (const [i, f] of races.entries()) {
      t.is(f.kind, "lease-race");
      t.is(f.id, without.length + i);
      t.true(f.atMs + f.durationMs <= 60_000, describeFault(f));
      if (i > 0) t.true(f.atMs >= races[i - 1]!.atMs + races[i - 1]!.durationMs, `seed ${seed}: races overlap`);
    }
    const noRaceKind = generateSchedule(new WorldRng(seed, "faults"), FAULT_KINDS.filter((k) => k !== "lease-race"), 60_000, { leaseRaces: true });
    t.false(noRaceKind.some((f) => f.kind === "lease-race"));
  }
  t.is(generateSchedule(new WorldRng(1, "faults"), ["lease-race"], 60_000, { leaseRaces: true }).length >= 4, true);
});
