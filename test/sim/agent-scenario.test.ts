import test from "ava";
import { FAULT_KINDS } from "../../sim/faults.ts";
import { leaverFate, RequestLog } from "../../sim/checkers/agent-checker.ts";
import { runAgentSeed } from "../../sim/scenarios/agent.ts";
import { loadScenario } from "../../sim/scenarios/index.ts";

const faults = [...FAULT_KINDS];

test("agent scenario: seeds under every fault kind end ok, with convergence and real traffic", (t) => {
  for (const seed of [1, 2, 3]) {
    const result = runAgentSeed({ seed, durationMs: 30_000, faults });
    t.is(result.outcome, "ok", `seed ${seed}: ${result.message}`);
    t.true(Number(result.facts["ok"]) > 20, `seed ${seed}: only ${result.facts["ok"]} RPCs answered`);
    t.true(Number(result.facts["writesProposed"]) > 5, `seed ${seed}: only ${result.facts["writesProposed"]} writes proposed`);
    t.true(typeof result.facts["convergedAfterHealMs"] === "number", `seed ${seed}: no convergence time in ${JSON.stringify(result.facts)}`);
  }
});

test("agent scenario: the same seed gives the same trace and facts", (t) => {
  const a = runAgentSeed({ seed: 11, durationMs: 15_000, faults, trace: true });
  const b = runAgentSeed({ seed: 11, durationMs: 15_000, faults, trace: true });
  t.true(a.trace!.length > 100, `trace of ${a.trace!.length} lines is too short to mean anything`);
  t.deepEqual(a.trace, b.trace);
  t.deepEqual(a.facts, b.facts);
});

test("agent scenario: a leader whose duties never propose fails checker (1), catalog vs gossip", (t) => {
  const result = runAgentSeed({ seed: 1, durationMs: 15_000, faults: [], plant: "duties-never-propose" });
  t.not(result.outcome, "ok");
  t.regex(result.message ?? "", /catalog vs gossip: .*serfHealth (absent|passing)/);
});

test("agent scenario: anti-entropy that never deregisters a service fails checker (2)", (t) => {
  // Without faults every seed converges; find seeds where some agent drops a service.
  const failing = [1, 2, 3, 4, 5, 6].map((seed) => runAgentSeed({ seed, durationMs: 15_000, faults: [], plant: "sync-never-deletes" })).filter((r) => r.outcome !== "ok");
  t.true(failing.length > 0, "no seed exercised a service removal");
  // The plant drops every deregistration: of a service, or of a check (maintenance switched off).
  for (const r of failing) t.regex(r.message ?? "", /anti-entropy: .*catalog has (service|check) .* the agent does not own/);
});

test("agent scenario: an agent whose node meta differs on every sync fails checker (3), zero writes in a steady state", (t) => {
  const result = runAgentSeed({ seed: 1, durationMs: 15_000, faults: [], plant: "node-meta-drifts" });
  t.is(result.outcome, "safety", result.message ?? "");
  t.regex(result.message ?? "", /steady state: \d+ writes proposed in a 5000 ms window with nothing changing \(want 0\)/);
});

test("agent scenario: a leader that acknowledges KV writes before they commit fails checker (4), acknowledged writes survive", (t) => {
  for (const seed of [1, 2]) {
    const result = runAgentSeed({ seed, durationMs: 30_000, faults, plant: "kv-ack-before-commit" });
    t.is(result.outcome, "safety", `seed ${seed}: ${result.message}`);
    t.regex(result.message ?? "", /^acknowledged writes: \d+ of \d+ lost: kv\/\w+\/\d+=\S+ reads missing/);
  }
});

test("agent scenario: acknowledged KV writes are checked (many acknowledged, some not, across crashes)", (t) => {
  // Leader churn in every crash-leader schedule keeps some seeds nearly leaderless: count over two.
  let acked = 0;
  for (const seed of [1, 3]) {
    const result = runAgentSeed({ seed, durationMs: 30_000, faults });
    t.is(result.outcome, "ok", `seed ${seed}: ${result.message ?? ""}`);
    acked += Number(result.facts["kvAcked"]);
    t.true(Number(result.facts["kvUnacknowledged"]) > 0, `seed ${seed}: faults made no write fail: the run proves little about acknowledgement`);
    t.true(Number(result.facts["restarts"]) > 0, `seed ${seed}: no server restarted`);
  }
  t.true(acked > 50, `only ${acked} writes acknowledged over two seeds`);
});

test("agent scenario: a client whose RPC never reconnects after its cut fails checker (2): its change made while cut off never lands", (t) => {
  // No other fault: only the cut separates the client from the servers. With three clients one
  // survives the churn, and it is the one cut off.
  const result = runAgentSeed({ seed: 4, durationMs: 20_000, faults: [], clients: 3, plant: "rpc-never-reconnects" });
  const cut = String(result.facts["cutClient"]);
  t.not(cut, String(result.facts["killed"]));
  t.not(cut, String(result.facts["left"]));
  t.is(result.outcome, "liveness", result.message ?? "");
  t.regex(result.message ?? "", new RegExp(`anti-entropy: ${cut}: (local service \\w+ \\(\\S+\\[cut\\]\\) missing from the catalog|service \\w+ is \\S+\\[cut\\] locally but)`));
  const healthy = runAgentSeed({ seed: 4, durationMs: 20_000, faults: [], clients: 3 });
  t.is(healthy.outcome, "ok", `the same seed without the plant: ${healthy.message}`);
  t.is(healthy.facts["cutClient"], cut);
});

test("agent scenario: with drift every agent ticks at its own rate, within Raft's drift bound, and the seed ends ok", (t) => {
  const drifting = runAgentSeed({ seed: 3, durationMs: 20_000, faults: ["drift", "crash"] });
  t.is(drifting.outcome, "ok", drifting.message ?? "");
  const periods = String(drifting.facts["tickPeriodsMs"]).split(",").map(Number);
  t.true(new Set(periods).size > 1, `periods ${periods.join(",")} are all alike`);
  for (const p of periods) t.true(p >= 47 && p <= 53, `tick period ${p} ms beyond 5 % of 50 ms`);
  const steady = runAgentSeed({ seed: 3, durationMs: 20_000, faults: ["crash"] });
  t.deepEqual(new Set(String(steady.facts["tickPeriodsMs"]).split(",")), new Set(["50"]));
});

test("agent scenario: loadable as --scenario agent", async (t) => {
  const scenario = await loadScenario("agent");
  t.is(scenario.name, "agent");
});

test("request log: a request ending after its deadline, or twice, throws; one still open past it is reported", (t) => {
  const log = new RequestLog();
  const late = log.begin("c1", "readNode", 0, 2_000);
  t.throws(() => log.end(late, 2_001, "ok"), { message: /after its deadline 2000 ms/ });
  const twice = log.begin("c1", "write", 0, 2_000);
  log.end(twice, 2_000, "timeout");
  t.throws(() => log.end(twice, 2_000, "ok"), { message: /ended twice/ });
  const open = new RequestLog();
  open.begin("c2", "write", 100, 2_000);
  t.is(open.overdue(2_100), null);
  t.regex(open.overdue(2_101) ?? "", /write from c2\) began at 100 ms, deadline 2100 ms, still open at 2101 ms/);
});

test("leaver's fate: failed only when the leader's pool holds it failed and no running member remembers the leave (seed 1017)", (t) => {
  t.is(leaverFate("failed", false), "failed");
  t.is(leaverFate("failed", true), "left", "a leave someone remembers must reach the leader: failed there is a defect");
  t.is(leaverFate("left", false), "left");
  t.is(leaverFate(null, false), "left");
  t.is(leaverFate("alive", false), "left", "still alive to the leader is not settled either way");
});

test("agent scenario: checks run from the seed, flapping, failing and recovering, and reach the catalog batched", (t) => {
  let deregistrations = 0;
  for (const seed of [1, 3]) {
    const result = runAgentSeed({ seed, durationMs: 60_000, faults });
    t.is(result.outcome, "ok", `seed ${seed}: ${result.message}`);
    const f = result.facts;
    t.true(Number(f["checkRuns"]) > 10, `seed ${seed}: only ${f["checkRuns"]} check runs`);
    t.true(Number(f["checkResults"]) > 200, `seed ${seed}: only ${f["checkResults"]} raw results`);
    t.true(Number(f["checkWrites"]) > 20, `seed ${seed}: only ${f["checkWrites"]} check writes`);
    t.true(Number(f["checkWrites"]) < Number(f["checkResults"]) / 3, `seed ${seed}: ${f["checkWrites"]} writes for ${f["checkResults"]} results: batching and thresholds should write far fewer`);
    const interval = Number(f["checkUpdateIntervalMs"]);
    t.true(interval >= 2_000 && interval <= 8_000, `check_update_interval ${interval} ms`);
    deregistrations += Number(f["criticalDeregistrations"]);
  }
  t.true(deregistrations > 0, "no service was deregistered for staying critical");
});

test("agent scenario: with membership, spares join and servers leave; Raft's configuration follows the pool", (t) => {
  let joins = 0;
  let leaves = 0;
  let leftOut = 0;
  for (const seed of [3, 12]) {
    const result = runAgentSeed({ seed, durationMs: 60_000, faults });
    t.is(result.outcome, "ok", `seed ${seed}: ${result.message}`);
    const f = result.facts;
    const [voters, learners] = String(f["conf.final"]).split(" ").map((part) => part.replace(/^\w+=/, "").split(",").filter((id) => id !== ""));
    t.deepEqual(learners, [], `seed ${seed}: a non-voter left over in ${f["conf.final"]}`);
    joins += Number(f["membership.joins"]);
    leaves += Number(f["membership.leaves"]);
    // Every server that joined became a voter: fewer voters than servers means a leaver was removed.
    if (voters!.length < 3 + Number(f["membership.joins"])) leftOut++;
  }
  t.true(joins > 0, "no spare server joined");
  t.true(leaves > 0, "no server left");
  t.true(leftOut > 0, "every server that left came back: removal from Raft was never exercised");
});

test("agent scenario: an autopilot that never promotes fails the membership check: a live server stays a non-voter", (t) => {
  const result = runAgentSeed({ seed: 1, durationMs: 60_000, faults, plant: "autopilot-never-promotes" });
  t.is(result.outcome, "liveness", result.message ?? "");
  t.regex(result.message ?? "", /raft membership: s\d is a live server but still a non-voter/);
});

test("agent scenario: an autopilot that never removes fails the membership check: a server that left stays a voter", (t) => {
  const result = runAgentSeed({ seed: 12, durationMs: 60_000, faults, plant: "autopilot-never-removes" });
  t.is(result.outcome, "liveness", result.message ?? "");
  t.regex(result.message ?? "", /raft membership: s\d left \(left to the leader\) but is still a voter/);
});
