import test from "ava";
import fc from "fast-check";
import { SimDisk } from "../sim/disk.ts";
import type { Entry, HardState, PersistedState, Snapshot } from "../src/core/raft/types.ts";
import { mulberry32 } from "../src/core/util/rng.ts";
import { WalStorage } from "../src/storage/wal-storage.ts";

/** The obvious model of what Raft storage must hold: the effect of every save or compaction that returned. */
class ReferenceStorage {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshot: Snapshot | null = null;
  log = new Map<number, Entry>();

  get snapshotIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  get lastIndex(): number {
    let last = this.snapshotIndex;
    while (this.log.has(last + 1)) last++;
    return last;
  }

  save(update: { hardState?: HardState; entries: readonly Entry[]; snapshot?: Snapshot }): void {
    if (update.snapshot !== undefined) {
      this.snapshot = update.snapshot;
      this.log.clear();
    }
    if (update.entries.length > 0) {
      for (const index of [...this.log.keys()]) if (index >= update.entries[0]!.index) this.log.delete(index);
      for (const e of update.entries) this.log.set(e.index, e);
    }
    if (update.hardState !== undefined) this.hardState = update.hardState;
  }

  compact(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.snapshotIndex) return;
    for (const index of [...this.log.keys()]) if (index <= snapshot.meta.index) this.log.delete(index);
    this.snapshot = snapshot;
  }

  expected(): PersistedState {
    const entries = [...this.log.values()].sort((a, b) => a.index - b.index);
    return { hardState: this.hardState, snapshot: this.snapshot, entries };
  }
}

type Command =
  | { readonly kind: "save"; readonly from: number; readonly count: number; readonly bumpTerm: boolean; readonly commit: number; readonly withSnapshot: boolean }
  | { readonly kind: "compact"; readonly at: number }
  | { readonly kind: "crash"; readonly seed: number }
  | { readonly kind: "crashDuring"; readonly syncsAllowed: number; readonly save: boolean; readonly seed: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("save" as const), from: fc.nat(100), count: fc.nat(5), bumpTerm: fc.boolean(), commit: fc.nat(100), withSnapshot: fc.integer({ min: 0, max: 9 }).map((n) => n === 0) }), weight: 8 },
  { arbitrary: fc.record({ kind: fc.constant("compact" as const), at: fc.nat(100) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("crash" as const), seed: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("crashDuring" as const), syncsAllowed: fc.nat(2), save: fc.boolean(), seed: fc.nat() }), weight: 2 },
);

/** Turns a command's random numbers into a valid save or compaction for the model's current state. */
class Driver {
  term = 1;
  constructor(private readonly model: ReferenceStorage) {}

  saveFor(c: Extract<Command, { kind: "save" }>): Update {
    if (c.bumpTerm) this.term++;
    let snapshot: Snapshot | undefined;
    let base = this.model.snapshotIndex;
    let last = this.model.lastIndex;
    if (c.withSnapshot) {
      const index = last + (c.from % 4);
      snapshot = { meta: { index, term: this.term, conf: { voters: ["n1", "n2"], learners: [] } }, data: Uint8Array.of(index & 255) };
      base = index;
      last = index;
    }
    const first = base + 1 + (c.from % (last - base + 1));
    const entries = Array.from({ length: c.count }, (_, i) => ({ index: first + i, term: this.term, type: "normal" as const, data: Uint8Array.of(c.from, i) }));
    const hardState = { term: this.term, vote: c.bumpTerm ? "n2" : null, commit: Math.min(c.commit, base) };
    return { hardState, entries, snapshot };
  }

  compactionFor(at: number): Snapshot | null {
    const lo = this.model.snapshotIndex + 1;
    const hi = this.model.lastIndex;
    if (hi < lo) return null;
    const index = lo + (at % (hi - lo + 1));
    const term = this.model.log.get(index)!.term;
    return { meta: { index, term, conf: { voters: ["n1", "n2", "n3"], learners: [] } }, data: Uint8Array.of(index & 255, 7) };
  }
}

type Update = { hardState?: HardState; entries: Entry[]; snapshot?: Snapshot };

/** The save or compaction a command performs (a crash in the middle performs one too). */
function operationFor(c: Exclude<Command, { kind: "crash" }>, driver: Driver): { update: Update | null; snapshot: Snapshot | null } {
  switch (c.kind) {
    case "save":
      return { update: driver.saveFor(c), snapshot: null };
    case "compact":
      return { update: null, snapshot: driver.compactionFor(c.at) };
    case "crashDuring":
      if (!c.save) return { update: null, snapshot: driver.compactionFor(c.seed) };
      return { update: driver.saveFor({ kind: "save", from: c.seed % 100, count: 1 + (c.seed % 3), bumpTerm: c.seed % 2 === 0, commit: c.seed % 50, withSnapshot: c.seed % 7 === 0 }), snapshot: null };
  }
}

const crashOpts = { tornWriteProbability: 0.4, corruptWriteProbability: 0.3 };

test("after any sequence of saves, compactions and crashes, load() returns exactly what was synced", (t) => {
  fc.assert(
    fc.property(fc.array(commandArb, { maxLength: 60 }), (commands) => {
      const disk = new SimDisk();
      const model = new ReferenceStorage();
      const driver = new Driver(model);
      let wal = new WalStorage(disk);
      wal.load();
      const restart = (seed: number): void => {
        disk.crash(mulberry32(seed), crashOpts);
        // The simulator reloads the same instance after a crash; a restarted agent builds a new one.
        if (seed % 2 === 0) wal = new WalStorage(disk);
        const loaded = wal.load();
        t.deepEqual(loaded, model.expected());
        wal.invariants();
      };
      for (const c of commands) {
        if (c.kind === "crash") {
          restart(c.seed);
          continue;
        }
        const { update, snapshot } = operationFor(c, driver);
        if (c.kind === "crashDuring") disk.failSyncAfter(c.syncsAllowed);
        try {
          if (update !== null) wal.save(update);
          if (snapshot !== null) wal.compact(snapshot);
          if (update !== null) model.save(update);
          if (snapshot !== null) model.compact(snapshot);
        } catch (error) {
          if (c.kind !== "crashDuring") throw error;
        }
        if (c.kind === "crashDuring") restart(c.seed);
      }
      restart(1);
    }),
    { numRuns: 300 },
  );
  t.pass();
});
