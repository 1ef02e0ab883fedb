import test from "ava";
import { defaultRaftConfig, raftTicks, validateRaftConfig } from "../../src/core/raft/config.ts";
import { encodeConfEntry } from "../../src/core/raft/confchange.ts";
import { messageProblem } from "../../src/core/raft/validate.ts";
import type { Message, RaftConfig } from "../../src/core/raft/types.ts";
import { bytes } from "./harness.ts";

/** A message as it might arrive off the wire: any shape at all. */
type Wire = Record<string, unknown>;
const problem = (m: Wire | null | number) => messageProblem(m as unknown as Message, "n1");

const entry = (index: number, term: unknown, extra: Wire = {}): Wire => ({ index, term, type: "normal", data: bytes(`e${index}`), ...extra });
const append = (extra: Wire = {}): Wire => ({
  type: "append", from: "n2", to: "n1", term: 3, index: 4, logTerm: 2, commit: 4, entries: [entry(5, 2), entry(6, 3)], ...extra,
});
const snapshotMessage = (snapshot: unknown): Wire => ({ type: "snapshot", from: "n2", to: "n1", term: 3, snapshot });
const goodSnapshot = { meta: { index: 10, term: 2, conf: { voters: ["n1", "n2"], learners: ["n3"] } }, data: bytes("[]") };

/** One well-formed message of every type, with exactly the fields its type requires. */
const wellFormed: Wire[] = [
  { type: "preVote", from: "n2", to: "n1", term: 3, index: 0, logTerm: 0 },
  { type: "preVoteResp", from: "n2", to: "n1", term: 3 },
  { type: "vote", from: "n2", to: "n1", term: 3, index: 7, logTerm: 2 },
  { type: "voteResp", from: "n2", to: "n1", term: 3, reject: true },
  append(),
  append({ entries: [] }),
  { type: "appendResp", from: "n2", to: "n1", term: 3, index: 6, reject: true, rejectHint: 4, rejectHintTerm: 0 },
  snapshotMessage(goodSnapshot),
  { type: "heartbeat", from: "n2", to: "n1", term: 0, commit: 0, ctx: "" },
  { type: "heartbeatResp", from: "n2", to: "n1", term: 3, ctx: "r1" },
  { type: "timeoutNow", from: "n2", to: "n1", term: 3 },
  { type: "readIndex", from: "n2", to: "n1", term: 3, ctx: "r1", readMode: "lease" },
  { type: "readIndex", from: "n2", to: "n1", term: 3, ctx: "r1", readMode: "readIndex" },
  { type: "readIndexResp", from: "n2", to: "n1", term: 3, index: 9, ctx: "r1" },
];

test("validate: well-formed messages of every type pass", (t) => {
  for (const m of wellFormed) t.is(problem(m), null, String(m.type));
});

test("validate: envelopes — type, addresses and term", (t) => {
  const vote = wellFormed[2]!;
  const cases: [Wire | null | number, RegExp][] = [
    [null, /^not an object$/],
    [5, /^not an object$/],
    [{ ...vote, type: "bogus" }, /^unknown type bogus$/],
    [{ ...vote, type: undefined }, /^unknown type undefined$/],
    [{ ...vote, from: "" }, /^from\/to not node ids$/],
    [{ ...vote, from: 2 }, /^from\/to not node ids$/],
    [{ ...vote, to: "" }, /^from\/to not node ids$/],
    [{ ...vote, to: null }, /^from\/to not node ids$/],
    [{ ...vote, to: "n9" }, /^addressed to n9$/],
    [{ ...vote, from: "n1" }, /^from self$/],
    [{ ...vote, term: -1 }, /^bad term -1$/],
    [{ ...vote, term: 1.5 }, /^bad term 1.5$/],
    [{ ...vote, term: "3" }, /^bad term 3$/],
    [{ ...vote, term: 2 ** 53 }, /^bad term/],
    [{ ...vote, term: undefined }, /^bad term undefined$/],
  ];
  for (const [m, expected] of cases) t.regex(problem(m) ?? "null", expected, JSON.stringify(m));
});

test("validate: optional index fields must be non-negative safe integers when present", (t) => {
  const resp = wellFormed[6]!;
  for (const field of ["index", "logTerm", "commit", "rejectHint", "rejectHintTerm"]) {
    for (const bad of [-1, 0.5, "1", null]) {
      t.is(problem({ ...resp, [field]: bad }), `bad ${field}`, `${field} ${String(bad)}`);
    }
    t.is(problem({ ...resp, [field]: 0 }), null, `${field} 0`);
  }
});

test("validate: each message type must carry its own fields", (t) => {
  const required: Record<string, string[]> = {
    preVote: ["index", "logTerm"], vote: ["index", "logTerm"], append: ["index", "logTerm", "commit", "entries"],
    appendResp: ["index"], snapshot: ["snapshot"], heartbeat: ["commit"], readIndex: ["ctx"], readIndexResp: ["index", "ctx"],
  };
  for (const [type, fields] of Object.entries(required)) {
    const m = wellFormed.find((w) => w.type === type)!;
    for (const field of fields) t.is(problem({ ...m, [field]: undefined }), `${type} without ${field}`);
  }
});

test("validate: ctx and readMode", (t) => {
  const read = wellFormed[11]!;
  t.is(problem({ ...read, ctx: 5 }), "ctx not a string");
  t.is(problem({ ...wellFormed[9]!, ctx: 5 }), "ctx not a string", "on any type that carries it");
  t.is(problem({ ...read, readMode: "stale" }), "bad readMode");
  t.is(problem({ ...read, readMode: undefined }), null, "readMode is optional");
});

test("validate: append entries must be consecutive objects with sane terms, types and bytes", (t) => {
  const cases: [Wire, string][] = [
    [append({ entries: "x" }), "entries not an array"],
    [append({ entries: [null] }), "entry 0 not an object"],
    [append({ entries: [entry(5, 2), 7] }), "entry 1 not an object"],
    [append({ entries: [entry(6, 2)] }), "entry 0 index 6 not consecutive"],
    [append({ entries: [entry(4, 2)] }), "entry 0 index 4 not consecutive"],
    [append({ entries: [entry(5, 2), entry(5, 2)] }), "entry 1 index 5 not consecutive"],
    [append({ entries: [entry(5, 1)] }), "entry 0 bad term 1"],
    [append({ entries: [entry(5, 3), entry(6, 2)] }), "entry 1 bad term 2"],
    [append({ entries: [entry(5, 4)] }), "entry 0 bad term 4"],
    [append({ entries: [entry(5, -1)] }), "entry 0 bad term -1"],
    [append({ entries: [entry(5, "2")] }), "entry 0 bad term 2"],
    [append({ entries: [entry(5, 2, { type: "bogus" })] }), "entry 0 bad type"],
    [append({ entries: [entry(5, 2, { data: "bytes" })] }), "entry 0 data not bytes"],
    [append({ entries: [entry(5, 2, { data: [1, 2] })] }), "entry 0 data not bytes"],
    [append({ entries: [entry(5, 2), entry(6, 3, { type: "config", data: bytes("{nope") })] }), "entry 1 config does not decode"],
  ];
  for (const [m, expected] of cases) t.is(problem(m), expected, expected);
  const config = encodeConfEntry({ type: "addVoter", node: "n4" }, { voters: ["n1", "n4"], learners: [] });
  const fine: Wire[] = [
    append({ entries: [entry(5, 2), entry(6, 2, { type: "config", data: config }), entry(7, 3, { type: "noop", data: new Uint8Array() })] }),
    append({ entries: [entry(5, 3), entry(6, 3)] }),
    append({ index: 0, logTerm: 0, entries: [entry(1, 0)] }),
  ];
  for (const m of fine) t.is(problem(m), null);
});

test("validate: snapshots need a positive index and term, a configuration of ids, and bytes", (t) => {
  const meta = goodSnapshot.meta;
  const cases: [unknown, string][] = [
    [null, "snapshot without meta"],
    ["snap", "snapshot without meta"],
    [{ data: bytes("[]") }, "snapshot without meta"],
    [{ ...goodSnapshot, meta: null }, "snapshot without meta"],
    [{ ...goodSnapshot, meta: { ...meta, index: 0 } }, "snapshot bad index/term"],
    [{ ...goodSnapshot, meta: { ...meta, index: 1.5 } }, "snapshot bad index/term"],
    [{ ...goodSnapshot, meta: { ...meta, term: 0 } }, "snapshot bad index/term"],
    [{ ...goodSnapshot, meta: { ...meta, term: "2" } }, "snapshot bad index/term"],
    [{ ...goodSnapshot, meta: { index: 10, term: 2 } }, "snapshot bad conf"],
    [{ ...goodSnapshot, meta: { ...meta, conf: null } }, "snapshot bad conf"],
    [{ ...goodSnapshot, meta: { ...meta, conf: "n1" } }, "snapshot bad conf"],
    [{ ...goodSnapshot, meta: { ...meta, conf: { voters: ["n1"] } } }, "snapshot bad conf"],
    [{ ...goodSnapshot, meta: { ...meta, conf: { learners: [] } } }, "snapshot bad conf"],
    [{ ...goodSnapshot, meta: { ...meta, conf: { voters: ["n1", ""], learners: [] } } }, "snapshot conf ids"],
    [{ ...goodSnapshot, meta: { ...meta, conf: { voters: ["n1"], learners: [3] } } }, "snapshot conf ids"],
    [{ ...goodSnapshot, data: "[]" }, "snapshot data not bytes"],
  ];
  for (const [snapshot, expected] of cases) t.is(problem(snapshotMessage(snapshot)), expected, JSON.stringify(snapshot));
  t.is(problem(snapshotMessage({ ...goodSnapshot, meta: { ...meta, index: 1, term: 1 } })), null, "index and term 1 are the smallest");
});

const config = (overrides: Partial<RaftConfig>): RaftConfig => ({ ...defaultRaftConfig("n1"), ...overrides });

test("validate: config numbers must be positive integers; durations no shorter than a tick", (t) => {
  const bad: [Partial<RaftConfig>, RegExp][] = [
    [{ id: 7 as unknown as string }, /^raft config: id must be a non-empty string$/],
    [{ tickMs: -5 }, /^raft config: tickMs must be a positive integer, got -5$/],
    [{ tickMs: 2.5 }, /^raft config: tickMs must be a positive integer, got 2.5$/],
    [{ heartbeatTimeoutMs: 0 }, /^raft config: heartbeatTimeoutMs must be a positive integer/],
    [{ leaderLeaseTimeoutMs: 10.5 }, /^raft config: leaderLeaseTimeoutMs must be a positive integer/],
    [{ heartbeatIntervalMs: 49 }, /^raft config: heartbeatIntervalMs 49 is shorter than tickMs 50$/],
    [{ leaderLeaseTimeoutMs: 49 }, /^raft config: leaderLeaseTimeoutMs 49 is shorter than tickMs 50$/],
    [{ electionTimeoutMs: 49 }, /^raft config: electionTimeoutMs 49 is shorter than tickMs 50$/],
    [{ tickMs: 1001 }, /^raft config: heartbeatTimeoutMs 1000 is shorter than tickMs 1001$/],
    [{ maxEntriesPerMsg: 0 }, /^raft config: maxEntriesPerMsg must be a positive integer, got 0$/],
    [{ maxInflightMsgs: 1.5 }, /^raft config: maxInflightMsgs must be a positive integer, got 1.5$/],
    [{ heartbeatIntervalMs: 1001 }, /heartbeatIntervalMs 1001 must be below heartbeatTimeoutMs 1000/],
    [{ leaderLeaseTimeoutMs: 1001 }, /^raft config: leaderLeaseTimeoutMs 1001 \(1000 ms in ticks\) must be shorter than the followers' election timeout/],
    [{ maxClockDriftPpm: -1 }, /^raft config: maxClockDriftPpm must be an integer in \[0, 500000\), got -1$/],
    [{ maxClockDriftPpm: 500_000 }, /^raft config: maxClockDriftPpm must be an integer in \[0, 500000\), got 500000$/],
    [{ preVote: "yes" as unknown as boolean }, /^raft config: preVote and checkQuorum must be booleans$/],
    [{ checkQuorum: 1 as unknown as boolean }, /^raft config: preVote and checkQuorum must be booleans$/],
  ];
  for (const [override, message] of bad) {
    t.throws(() => validateRaftConfig(config(override)), { instanceOf: RangeError, message }, JSON.stringify(override));
  }
});

test("validate: config boundaries that are allowed", (t) => {
  const fine: Partial<RaftConfig>[] = [
    { heartbeatIntervalMs: 50, leaderLeaseTimeoutMs: 50, electionTimeoutMs: 50 }, // exactly one tick
    { heartbeatIntervalMs: 999 }, // just below the heartbeat timeout
    { leaderLeaseTimeoutMs: 850 }, // 1000 - one tick (50) - drift (2 x 1000 ms x 5 %)
    { leaderLeaseTimeoutMs: 950, maxClockDriftPpm: 0 }, // no drift: one tick of margin is enough
    { tickMs: 1, maxEntriesPerMsg: 1, maxInflightMsgs: 1, preVote: false, checkQuorum: false },
  ];
  for (const override of fine) t.notThrows(() => validateRaftConfig(config(override)), JSON.stringify(override));
});

test("validate: a lease must leave one tick plus the drift bound of the followers' timeout, and the error says so (issue 14 defect 2)", (t) => {
  const refused: [Partial<RaftConfig>, string][] = [
    [{ leaderLeaseTimeoutMs: 1000 }, "leaderLeaseTimeoutMs 1000 (1000 ms in ticks) must be shorter than the followers' election timeout (heartbeatTimeoutMs 1000, 1000 ms in ticks) by at least one tick (50 ms) plus the drift bound (50000 ppm over both clocks: 100 ms), so at most 850 ms"],
    [{ leaderLeaseTimeoutMs: 900 }, "so at most 850 ms"],
    [{ leaderLeaseTimeoutMs: 1000, maxClockDriftPpm: 0 }, "by at least one tick (50 ms) plus the drift bound (0 ppm over both clocks: 0 ms), so at most 950 ms"],
    [{ leaderLeaseTimeoutMs: 600, maxClockDriftPpm: 200_000 }, "(200000 ppm over both clocks: 400 ms), so at most 550 ms"],
    // 860 ms rounds to 17 ticks = 850 ms, which fits; 880 rounds to 18 ticks = 900 ms, which does not.
    [{ leaderLeaseTimeoutMs: 880 }, "leaderLeaseTimeoutMs 880 (900 ms in ticks)"],
  ];
  for (const [override, part] of refused) {
    const error = t.throws(() => validateRaftConfig(config(override)), { instanceOf: RangeError }, JSON.stringify(override));
    t.true(error.message.includes(part), `${JSON.stringify(override)}: ${error.message}`);
    t.true(error.message.endsWith("otherwise a deposed leader may serve a lease read after a new leader committed a newer value"), error.message);
  }
  t.notThrows(() => validateRaftConfig(config({ leaderLeaseTimeoutMs: 860 })));
  t.notThrows(() => validateRaftConfig(config({ leaderLeaseTimeoutMs: 550, maxClockDriftPpm: 200_000 })));
});

test("validate: durations round to whole ticks, at least one; the stall is half the heartbeat timeout, at least two", (t) => {
  t.deepEqual(raftTicks(config({ tickMs: 30 })), {
    heartbeatTimeoutTicks: 33, electionTimeoutTicks: 33, leaderLeaseTicks: 17, heartbeatIntervalTicks: 3, replicationStallTicks: 16,
  });
  t.like(raftTicks(config({ tickMs: 200 })), { heartbeatTimeoutTicks: 5, replicationStallTicks: 2 });
  t.like(raftTicks(config({ tickMs: 140 })), { heartbeatTimeoutTicks: 7, replicationStallTicks: 3 });
  // raftTicks does not validate: a duration under half a tick (refused by validateRaftConfig) still
  // becomes one tick, and a 3-tick heartbeat timeout still leaves a 2-tick stall.
  t.like(raftTicks(config({ tickMs: 400, heartbeatIntervalMs: 100 })), { heartbeatIntervalTicks: 1, heartbeatTimeoutTicks: 3, replicationStallTicks: 2 });
});
