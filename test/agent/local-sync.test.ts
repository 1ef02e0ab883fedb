/**
 * Anti-entropy's timing (src/core/agent/local-sync.ts): with changeDelayTicks 0 (the agent's
 * setting) a registration reaches the catalog without waiting for a tick, as Consul's agent
 * syncs the moment an endpoint changes local state. python-consul's own suite reads the catalog
 * 40 ms after registering and after deregistering; the agent ticks every 50 ms.
 */
import test from "ava";
import type { SyncWrite } from "../../src/core/agent/anti-entropy.ts";
import { LocalSync, type LocalSyncConfig, type LocalSyncHost, type LocalView } from "../../src/core/agent/local-sync.ts";

/** A LocalSync over a catalog that answers reads at once and holds writes until the test acks them. */
function harness(config: Partial<LocalSyncConfig> = {}) {
  let services = new Map<string, { ID: string; Service: string }>();
  const reads: number[] = [];
  const pending: { write: SyncWrite; done: (ok: boolean) => void }[] = [];
  let readsFail = false;
  const host: LocalSyncHost = {
    readNode: (done) => {
      reads.push(reads.length);
      if (readsFail) return done(null);
      done({ node: { Node: { ID: "id", Node: "n1", Address: "10.0.0.1", Datacenter: "dc1", TaggedAddresses: {}, Meta: {}, CreateIndex: 1, ModifyIndex: 1 }, Services: {} }, checks: [] });
    },
    write: (write, done) => pending.push({ write, done }),
    nowMs: () => 0,
  };
  const local = (): LocalView => ({
    node: { name: "n1", id: "id", address: "10.0.0.1", datacenter: "dc1", taggedAddresses: {}, meta: {} },
    services: new Map([...services].map(([id, s]) => [id, { ...s, Tags: [], Meta: {}, Port: 0, Address: "", EnableTagOverride: false, Weights: { Passing: 1, Warning: 1 } } as never])),
    checks: new Map(),
  });
  const sync = new LocalSync(host, local, { periodicTicks: 100, changeDelayTicks: 0, retryTicks: 20, checkUpdateIntervalMs: 0, ...config });
  return {
    sync, reads, pending,
    set failReads(v: boolean) { readsFail = v; },
    register(id: string) { services = new Map(services).set(id, { ID: id, Service: id }); },
    ackAll() { for (const p of pending.splice(0)) p.done(true); },
  };
}

test("anti-entropy: with changeDelayTicks 0 a change syncs on runIfDue, without a tick", (t) => {
  const h = harness();
  h.sync.tick(); // the first sync after start
  h.ackAll();
  t.is(h.reads.length, 1);
  h.register("web");
  h.sync.changed();
  h.sync.runIfDue();
  t.is(h.reads.length, 2, "the change started a sync at once");
  t.is(h.pending.length, 1, "and its write left");
  h.sync.invariants();
});

test("anti-entropy: an urgent change made during a sync starts the next sync when that one ends", (t) => {
  const h = harness();
  h.sync.tick();
  h.ackAll();
  h.register("web");
  h.sync.changed();
  h.sync.runIfDue();
  h.register("db"); // arrives while web's write is in flight
  h.sync.changed();
  h.sync.runIfDue();
  t.is(h.reads.length, 2, "one sync at a time");
  h.ackAll();
  t.is(h.reads.length, 3, "the follow-up sync started when the first ended, no tick in between");
  const ids: string[] = [];
  while (h.pending.length > 0) {
    for (const p of h.pending) if (p.write.op === "catalog.register" && p.write.Service !== undefined) ids.push(p.write.Service.ID ?? "");
    h.ackAll();
  }
  t.true(ids.includes("db"), `the follow-up sync wrote db (wrote ${JSON.stringify(ids)})`);
});

test("anti-entropy: a change that is not urgent (a check's output) still waits a tick", (t) => {
  const h = harness();
  h.sync.tick();
  h.ackAll();
  h.sync.changed(false);
  h.sync.runIfDue();
  t.is(h.reads.length, 1, "no sync before the next tick");
  h.sync.tick();
  t.is(h.reads.length, 2);
});

test("anti-entropy: a failed read waits retryTicks even with an urgent change pending", (t) => {
  const h = harness({ retryTicks: 3 });
  h.failReads = true;
  h.sync.tick();
  t.is(h.reads.length, 1);
  h.sync.changed();
  h.sync.runIfDue();
  t.is(h.reads.length, 2, "a new change is worth one more try");
  h.sync.runIfDue();
  h.sync.tick();
  h.sync.tick();
  t.is(h.reads.length, 2, "then the retry delay holds");
  h.sync.tick();
  t.is(h.reads.length, 3);
});

test("anti-entropy: with changeDelayTicks 1 (the simulator's) runIfDue does not run a change early", (t) => {
  const h = harness({ changeDelayTicks: 1 });
  h.sync.tick();
  h.ackAll();
  h.register("web");
  h.sync.changed();
  h.sync.runIfDue();
  t.is(h.reads.length, 1);
  h.sync.tick();
  t.is(h.reads.length, 2);
});
