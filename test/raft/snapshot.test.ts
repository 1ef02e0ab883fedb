import test from "ava";
import { Harness, bytes } from "./harness.ts";

test("snapshot: a lagging follower whose entries were compacted receives an InstallSnapshot", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 21 });
  const leader = c.electLeader();
  const lagging = [...c.nodes.keys()].find((id) => id !== leader.id)!;
  c.isolate(lagging);
  for (let i = 0; i < 30; i++) c.propose(`k${i}`);
  c.tick(2);
  const snapshot = c.compact(leader.id);
  t.true(snapshot.meta.index >= 31);
  t.is(leader.status().firstIndex, snapshot.meta.index + 1, "the log prefix is gone");
  c.heal();
  c.tick(30);
  t.is(c.snapshotsInstalled.get(lagging), 1);
  t.true((leader.marksHit().get("snapshot sent") ?? 0) >= 1);
  t.deepEqual(c.applied.get(lagging), c.applied.get(leader.id));
  t.is(c.disks.get(lagging)!.snapshot?.meta.index, snapshot.meta.index, "the follower persisted the snapshot");
  c.propose("after");
  c.tick(2);
  t.is(c.applied.get(lagging)!.at(-1), "after", "and replicates normally afterwards");
});

test("snapshot: a lost snapshot is sent again after the leader stops waiting", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 22 });
  const leader = c.electLeader();
  const lagging = [...c.nodes.keys()].find((id) => id !== leader.id)!;
  c.isolate(lagging);
  for (let i = 0; i < 5; i++) c.propose(`k${i}`);
  c.tick(1);
  c.compact(leader.id);
  c.cutLink(leader.id, lagging, true);
  c.cutLink(lagging, leader.id, false);
  c.heal();
  c.cutLink(leader.id, lagging, true); // heartbeats answered, snapshots lost
  c.tick(5);
  c.heal();
  c.tick(40);
  t.deepEqual(c.applied.get(lagging), c.applied.get(leader.id));
});

test("snapshot: a node restarts from snapshot plus entries and rejoins", (t) => {
  const c = new Harness(["n1", "n2", "n3"], { seed: 23 });
  const leader = c.electLeader();
  for (let i = 0; i < 10; i++) c.propose(`a${i}`);
  c.tick(2);
  for (const id of c.ids) c.compact(id);
  for (let i = 0; i < 5; i++) c.propose(`b${i}`);
  c.tick(2);
  const before = c.applied.get(leader.id);
  for (const id of c.ids) c.crash(id);
  for (const id of c.ids) c.start(id);
  c.electLeader();
  c.tick(3);
  for (const id of c.ids) t.deepEqual(c.applied.get(id), before, `${id} rebuilt its state machine`);
  c.propose("c");
  for (const id of c.ids) t.is(c.applied.get(id)!.at(-1), "c");
});

test("snapshot: compact refuses an index that is not applied, with a plain message", (t) => {
  const c = new Harness(["n1"]);
  c.electLeader();
  t.throws(() => c.node("n1").compact(50, bytes("[]")), { message: /not applied/ });
});
