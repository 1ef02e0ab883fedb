import test from "ava";
import fc from "fast-check";
import { defaultLanConfig } from "../src/core/gossip/config.ts";
import { GossipNode } from "../src/core/gossip/node.ts";
import type { MemberlistMessage } from "../src/core/gossip/messages.ts";
import { mulberry32 } from "../src/core/util/rng.ts";
import { TestPool, testConfig } from "../test/gossip/pool.ts";

const names = ["a", "b", "c"];
const vsn = [1, 5, 2, 2, 5, 5] as const;

const message: fc.Arbitrary<MemberlistMessage> = fc.oneof(
  fc.record({ name: fc.constantFrom(...names), inc: fc.integer({ min: 0, max: 6 }) })
    .map(({ name, inc }): MemberlistMessage => ({ type: "alive", Incarnation: inc, Node: name, Addr: new Uint8Array([10, 1, 0, names.indexOf(name) + 1]), Port: 7946, Meta: new Uint8Array(0), Vsn: vsn })),
  fc.record({ name: fc.constantFrom(...names, "self"), inc: fc.integer({ min: 0, max: 6 }), from: fc.constantFrom(...names) })
    .map(({ name, inc, from }): MemberlistMessage => ({ type: "suspect", Incarnation: inc, Node: name, From: from })),
  fc.record({ name: fc.constantFrom(...names, "self"), inc: fc.integer({ min: 0, max: 6 }), from: fc.constantFrom(...names, "self") })
    .map(({ name, inc, from }): MemberlistMessage => ({ type: "dead", Incarnation: inc, Node: name, From: from === "self" ? name : from })),
);

const step = fc.oneof(
  { weight: 6, arbitrary: message.map((m) => ({ kind: "msg" as const, m })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 40 }).map((ticks) => ({ kind: "ticks" as const, ticks })) },
);

test("property: random interleavings of alive/suspect/dead never resurrect a dead member or lose a higher incarnation", (t) => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 80 }), fc.integer({ min: 1, max: 1_000 }), (steps, seed) => {
      const node = new GossipNode({ ...defaultLanConfig(), tickMs: 100 }, { name: "self", addr: new Uint8Array([10, 1, 0, 9]), port: 7946, tags: {} }, mulberry32(seed));
      const seen = new Map<string, { state: string; incarnation: number }>();
      for (const s of steps) {
        if (s.kind === "msg") node.receive("10.1.0.1:7946", s.m, "udp");
        else for (let i = 0; i < s.ticks; i++) node.tick();
        node.deepInvariants();
        node.drain();
        for (const name of [...names, "self"]) {
          const now = node.memberState(name);
          const before = seen.get(name);
          if (now === null) {
            if (before !== undefined) throw new Error(`${name} forgotten`);
            continue;
          }
          if (before !== undefined) {
            if (now.incarnation < before.incarnation) throw new Error(`${name}: incarnation went back ${before.incarnation} -> ${now.incarnation}`);
            const wasDown = before.state === "dead" || before.state === "left";
            const isUp = now.state === "alive" || now.state === "suspect";
            if (wasDown && isUp && now.incarnation <= before.incarnation) throw new Error(`${name} resurrected at ${now.incarnation}`);
          }
          seen.set(name, now);
        }
        if (node.memberState("self")?.state !== "alive") throw new Error("self is not alive without leaving");
      }
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test("property: a pool under random packet loss converges with no member seen alive again at an older incarnation", (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0, max: 0.3, noNaN: true }), (seed, loss) => {
      const pool = new TestPool(testConfig(), seed);
      for (let i = 1; i <= 4; i++) pool.add(`n${i}`);
      const rng = mulberry32(seed);
      pool.drop = (f) => f.packet.via === "udp" && rng.next() < loss;
      for (let i = 2; i <= 4; i++) pool.node(`n${i}`).join([pool.addrOf("n1")]);
      pool.run(100);
      // n4 crashes and comes back as a fresh process at incarnation 1: others must see a higher one.
      pool.down.add("n4");
      pool.run(150);
      const fresh = new TestPool(pool.config, seed + 1).add("n4");
      pool.nodes.set("n4", fresh);
      pool.down.delete("n4");
      fresh.join([pool.addrOf("n1")]);
      pool.run(100);
      for (const v of ["n1", "n2", "n3"]) {
        // In event order: after a member is seen failed or left, it may only come back at a higher incarnation.
        const down = new Map<string, number>();
        for (const e of pool.events.get(v)!) {
          if (!("member" in e)) continue;
          const { name, incarnation } = e.member;
          if (e.type === "member-failed" || e.type === "member-leave") down.set(name, incarnation);
          if (e.type === "member-join") {
            const was = down.get(name);
            if (was !== undefined && incarnation <= was) throw new Error(`${v} saw ${name} rejoin at ${incarnation} after down at ${was}`);
            down.delete(name);
          }
        }
      }
      pool.drop = () => false;
      pool.runUntil(() => pool.converged(), 3_000);
    }),
    { numRuns: 15 },
  );
  t.pass();
});
