import test from "ava";
import {
  ConfTracker, applyConfChange, canonicalConf, checkConfChange, decodeConfChange, decodeConfEntry, encodeConfEntry, isMember,
} from "../../src/core/raft/confchange.ts";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { ConfChange, ConfState, Entry } from "../../src/core/raft/types.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { bytes } from "./harness.ts";

const conf = (voters: string[], learners: string[] = []): ConfState => ({ voters, learners });
const json = (value: unknown): Uint8Array => bytes(JSON.stringify(value));
const good = { type: "addVoter", node: "n4", voters: ["n1", "n2", "n3", "n4"], learners: [] };

test("confchange: an encoded entry decodes to its change and a canonical configuration", (t) => {
  const data = encodeConfEntry({ type: "promote", node: "n4" }, conf(["n4", "n1", "n1"], ["n5", "n3"]));
  t.deepEqual(decodeConfEntry(data), { change: { type: "promote", node: "n4" }, conf: { voters: ["n1", "n4"], learners: ["n3", "n5"] } });
  t.deepEqual(decodeConfChange(data), { type: "promote", node: "n4" });
  for (const type of ["addVoter", "addLearner", "promote", "remove"] as const) {
    t.deepEqual(decodeConfChange(encodeConfEntry({ type, node: "x" }, conf(["a"]))), { type, node: "x" });
  }
  t.deepEqual(decodeConfEntry(json({ ...good, voters: [] }))?.conf, { voters: [], learners: [] }, "empty lists are well-formed");
});

test("confchange: malformed config entries decode to null, never throw", (t) => {
  const invalidUtf8 = new Uint8Array([...bytes('{"type":"addVoter","node":"'), 0xff, ...bytes('","voters":[],"learners":[]}')]);
  const malformed: [string, Uint8Array][] = [
    ["not JSON", bytes("{nope")],
    ["empty bytes", new Uint8Array()],
    ["invalid UTF-8 inside a string", invalidUtf8],
    ["JSON null", json(null)],
    ["a number", json(5)],
    ["a string", json("addVoter")],
    ["an array", json([good.type, good.node, good.voters, good.learners])],
    ["no type", json({ ...good, type: undefined })],
    ["type not a string", json({ ...good, type: 1 })],
    ["unknown type", json({ ...good, type: "addWitness" })],
    ["type with the wrong case", json({ ...good, type: "AddVoter" })],
    ["no node", json({ ...good, node: undefined })],
    ["node null", json({ ...good, node: null })],
    ["node a number", json({ ...good, node: 4 })],
    ["node an array", json({ ...good, node: ["n4"] })],
    ["node empty", json({ ...good, node: "" })],
    ["no voters", json({ ...good, voters: undefined })],
    ["voters null", json({ ...good, voters: null })],
    ["voters a string", json({ ...good, voters: "n1,n2" })],
    ["voters an object", json({ ...good, voters: { 0: "n1", length: 1 } })],
    ["a voter id a number", json({ ...good, voters: ["n1", 2] })],
    ["a voter id null", json({ ...good, voters: [null] })],
    ["a voter id empty", json({ ...good, voters: ["n1", ""] })],
    ["a voter id an object with a length", json({ ...good, voters: [{ length: 2 }] })],
    ["no learners", json({ ...good, learners: undefined })],
    ["learners a string", json({ ...good, learners: "n5" })],
    ["a learner id a number", json({ ...good, learners: [5] })],
    ["a learner id empty", json({ ...good, learners: [""] })],
  ];
  for (const [what, data] of malformed) {
    t.notThrows(() => decodeConfEntry(data), what);
    t.is(decodeConfEntry(data), null, what);
    t.is(decodeConfChange(data), null, what);
  }
});

test("confchange: a malformed config entry in the log is an assertion naming it", (t) => {
  const tracker = new ConfTracker(0, conf(["n1"]));
  const entry: Entry = { term: 3, index: 1, type: "config", data: json({ ...good, voters: [""] }) };
  t.throws(() => tracker.onAppend(entry), { message: /config entry 1 \(term 3\) does not decode/ });
  t.deepEqual(tracker.current(), conf(["n1"]));
});

test("confchange: check refuses changes that do not fit the configuration, with the reason", (t) => {
  const c = conf(["n1", "n2"], ["n3"]);
  const cases: [ConfChange, string | null][] = [
    [{ type: "addVoter", node: "n4" }, null],
    [{ type: "addVoter", node: "n3" }, null], // a learner may be made a voter directly
    [{ type: "addVoter", node: "n1" }, "n1 is already a voter"],
    [{ type: "addLearner", node: "n4" }, null],
    [{ type: "addLearner", node: "n1" }, "n1 is already a member"],
    [{ type: "addLearner", node: "n3" }, "n3 is already a member"],
    [{ type: "promote", node: "n3" }, null],
    [{ type: "promote", node: "n1" }, "n1 is not a learner"],
    [{ type: "promote", node: "n4" }, "n4 is not a learner"],
    [{ type: "remove", node: "n1" }, null],
    [{ type: "remove", node: "n3" }, null],
    [{ type: "remove", node: "n4" }, "n4 is not a member"],
  ];
  for (const [cc, expected] of cases) t.is(checkConfChange(c, cc), expected, `${cc.type} ${cc.node}`);
  const lone = conf(["n1"], ["n2"]);
  t.is(checkConfChange(lone, { type: "remove", node: "n1" }), "cannot remove the last voter n1");
  t.is(checkConfChange(lone, { type: "remove", node: "n2" }), null, "a learner may go while one voter stays");
});

test("confchange: apply adds, promotes and removes, keeping the configuration canonical", (t) => {
  const c = conf(["n1", "n3"], ["n2", "n5"]);
  t.deepEqual(applyConfChange(c, { type: "addVoter", node: "n4" }), conf(["n1", "n3", "n4"], ["n2", "n5"]));
  t.deepEqual(applyConfChange(c, { type: "addVoter", node: "n0" }), conf(["n0", "n1", "n3"], ["n2", "n5"]), "sorted");
  t.deepEqual(applyConfChange(c, { type: "addVoter", node: "n2" }), conf(["n1", "n2", "n3"], ["n5"]), "a learner added as voter leaves the learners");
  t.deepEqual(applyConfChange(c, { type: "addLearner", node: "n4" }), conf(["n1", "n3"], ["n2", "n4", "n5"]));
  t.deepEqual(applyConfChange(c, { type: "promote", node: "n5" }), conf(["n1", "n3", "n5"], ["n2"]));
  t.deepEqual(applyConfChange(c, { type: "remove", node: "n3" }), conf(["n1"], ["n2", "n5"]));
  t.deepEqual(applyConfChange(c, { type: "remove", node: "n1" }), conf(["n3"], ["n2", "n5"]), "the first of several voters goes too");
  t.deepEqual(applyConfChange(c, { type: "remove", node: "n2" }), conf(["n1", "n3"], ["n5"]));
  const lone = conf(["n1"], ["n2"]);
  t.deepEqual(applyConfChange(lone, { type: "remove", node: "n2" }), conf(["n1"]), "a learner goes even beside a lone voter");
  t.deepEqual(applyConfChange(lone, { type: "remove", node: "n1" }), lone, "the last voter stays");
});

test("confchange: a change that does not fit is a no-op returning the configuration unchanged", (t) => {
  const c = conf(["n1", "n2"], ["n3"]);
  const misfits: ConfChange[] = [
    { type: "addLearner", node: "n1" },
    { type: "promote", node: "n1" },
    { type: "promote", node: "n9" },
    { type: "remove", node: "n9" },
  ];
  for (const cc of misfits) t.is(applyConfChange(c, cc), c, `${cc.type} ${cc.node}`);
  const lone = conf(["n1"]);
  t.is(applyConfChange(lone, { type: "remove", node: "n1" }), lone);
});

test("confchange: canonical configurations are sorted and free of duplicates", (t) => {
  t.deepEqual(canonicalConf(["n3", "n1", "n3", "n2"], ["n9", "n5", "n9"]), conf(["n1", "n2", "n3"], ["n5", "n9"]));
  t.true(isMember(conf(["n1"], ["n2"]), "n1"));
  t.true(isMember(conf(["n1"], ["n2"]), "n2"));
  t.false(isMember(conf(["n1"], ["n2"]), "n3"));
});

const configEntry = (index: number, voters: string[], learners: string[] = []): Entry => ({
  term: 1, index, type: "config", data: encodeConfEntry({ type: "addVoter", node: voters.at(-1)! }, conf(voters, learners)),
});

test("confchange: the tracker answers the configuration in force at each index", (t) => {
  const tracker = new ConfTracker(2, conf(["n2", "n1"]));
  t.deepEqual(tracker.current(), conf(["n1", "n2"]), "the base is canonical");
  t.is(tracker.lastChangeIndex(), 2, "no change beyond the base: the base index");
  tracker.onAppend({ term: 1, index: 3, type: "normal", data: bytes("not a config") });
  t.is(tracker.lastChangeIndex(), 2, "normal entries are not configuration");
  tracker.onAppend(configEntry(5, ["n1", "n2", "n3"]));
  tracker.onAppend(configEntry(8, ["n1", "n2", "n3", "n4"]));
  t.is(tracker.lastChangeIndex(), 8);
  t.deepEqual(tracker.current(), conf(["n1", "n2", "n3", "n4"]));
  t.deepEqual([2, 4, 5, 7, 8, 9].map((i) => tracker.at(i).voters.length), [2, 2, 3, 3, 4, 4]);
  t.throws(() => tracker.at(1), { message: /conf at 1 before base 2/ });
  t.throws(() => tracker.onAppend(configEntry(8, ["n1"])), { message: /config entry 8 not after 8/ });
  t.throws(() => tracker.onAppend(configEntry(7, ["n1"])), { message: /config entry 7 not after 8/ });
});

test("confchange: truncating the log takes its config entries with it, down to the base", (t) => {
  const tracker = new ConfTracker(2, conf(["n1"]));
  tracker.onAppend(configEntry(5, ["n1", "n2"]));
  tracker.onAppend(configEntry(8, ["n1", "n2", "n3"]));
  tracker.truncateFrom(9);
  t.is(tracker.lastChangeIndex(), 8, "nothing at or after 9");
  tracker.truncateFrom(8);
  t.is(tracker.lastChangeIndex(), 5, "an entry at the truncation index goes");
  t.deepEqual(tracker.current(), conf(["n1", "n2"]));
  tracker.truncateFrom(3);
  t.deepEqual(tracker.current(), conf(["n1"]));
  t.is(tracker.lastChangeIndex(), 2);
  t.throws(() => tracker.truncateFrom(2), { message: /truncate conf history at 2 <= base 2/ });
});

test("confchange: compaction folds the changes it covers into the base", (t) => {
  const tracker = new ConfTracker(0, conf(["n1"]));
  tracker.onAppend(configEntry(3, ["n1", "n2"]));
  tracker.onAppend(configEntry(6, ["n1", "n2", "n3"]));
  tracker.compact(4);
  t.throws(() => tracker.at(3), { message: /conf at 3 before base 4/ });
  t.deepEqual(tracker.at(4), conf(["n1", "n2"]), "the base is the configuration in force at 4");
  t.is(tracker.lastChangeIndex(), 6);
  t.deepEqual(tracker.current(), conf(["n1", "n2", "n3"]), "a change after the compaction point survives");
  tracker.truncateFrom(5);
  t.deepEqual(tracker.current(), conf(["n1", "n2"]), "truncating after compaction falls back to the new base");
  t.is(tracker.lastChangeIndex(), 4);

  const exact = new ConfTracker(0, conf(["n1"]));
  exact.onAppend(configEntry(3, ["n1", "n2"]));
  exact.compact(3);
  t.deepEqual(exact.current(), conf(["n1", "n2"]));
  t.is(exact.lastChangeIndex(), 3);
  exact.onAppend(configEntry(4, ["n1", "n2", "n3"]));
  exact.compact(10);
  t.is(exact.lastChangeIndex(), 10, "every change compacted: the base index");
  t.deepEqual(exact.current(), conf(["n1", "n2", "n3"]));
});

test("confchange: restoring a snapshot replaces the whole history", (t) => {
  const tracker = new ConfTracker(0, conf(["n1"]));
  tracker.onAppend(configEntry(3, ["n1", "n2"]));
  tracker.restore(20, conf(["n9", "n7"], ["n8"]));
  t.deepEqual(tracker.current(), conf(["n7", "n9"], ["n8"]));
  t.is(tracker.lastChangeIndex(), 20);
  t.throws(() => tracker.at(19), { message: /before base 20/ });
});

test("confchange: a node with neither snapshot nor initial configuration starts with no members", (t) => {
  const node = new RaftNode(defaultRaftConfig("n1"), { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] }, mulberry32(1));
  t.deepEqual(node.status().conf, { voters: [], learners: [] });
  for (let i = 0; i < 100; i++) node.tick();
  t.is(node.status().role, "follower", "a node outside any configuration never campaigns");
});
