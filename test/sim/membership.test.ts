import test from "ava";
import { FAULT_KINDS } from "../../sim/faults.ts";
import { kvScenario } from "../../sim/scenarios/kv.ts";

interface ConfCommitted { readonly e: string; readonly change: { type: string; node: string }; readonly conf: { voters: string[]; learners: string[] } }

function committedChanges(trace: readonly string[]): ConfCommitted[] {
  return trace.map((line) => JSON.parse(line) as ConfCommitted).filter((r) => r.e === "confCommitted");
}

test("membership: seed 1 adds spares as learners, promotes one, removes voters, and ends in another configuration", (t) => {
  const result = kvScenario.runSeed({ seed: 1, durationMs: 60_000, faults: ["membership"], trace: true });
  t.is(result.outcome, "ok", result.message ?? "");
  const setup = (JSON.parse(result.trace![0]!) as { setup: { nodeIds: string[]; spares: string[] } }).setup;
  t.true(setup.spares.length > 0, "seed 1 should draw a spare server outside the bootstrap configuration");
  const changes = committedChanges(result.trace!);
  const learners = new Set(changes.filter((c) => c.change.type === "addLearner").map((c) => c.change.node));
  const promoted = changes.filter((c) => c.change.type === "promote" && learners.has(c.change.node));
  t.true(promoted.length > 0, `no learner was promoted: ${JSON.stringify(changes.map((c) => c.change))}`);
  t.true(changes.some((c) => c.change.type === "remove"), "no server was removed");
  for (const c of changes) t.true(c.conf.voters.length >= 3, `a change left ${c.conf.voters.length} voters`);
  const bootstrap = setup.nodeIds.filter((id) => !setup.spares.includes(id)).join(",");
  const final = changes[changes.length - 1]!.conf;
  t.not(`${final.voters.join(",")}|${final.learners.join(",")}`, `${bootstrap}|`);
  t.is(result.facts["conf.final"], `voters=${final.voters.join(",")} learners=${final.learners.join(",")}`);
  t.is(result.facts["conf.promote"], changes.filter((c) => c.change.type === "promote").length);
  t.true((result.facts["conf.retired"] as number) > 0, "a removed server should have been shut down");
});

test("membership: changes under every fault kind keep the seeds safe and live", (t) => {
  const faults = [...FAULT_KINDS];
  t.true(faults.includes("membership"), "--faults all must include membership");
  let promotions = 0;
  // Seeds of the default campaign's length: with leader churn in every schedule, 20 s seeds
  // rarely get a learner caught up and promoted.
  for (const seed of [2, 3, 5]) {
    const result = kvScenario.runSeed({ seed, durationMs: 60_000, faults });
    t.is(result.outcome, "ok", `seed ${seed}: ${result.message ?? ""}`);
    promotions += result.facts["conf.promote"] as number;
  }
  t.true(promotions > 0, "no promotion in three seeds with every fault kind");
});

test("membership: without the membership kind the seed draws no spares and proposes no change", (t) => {
  const result = kvScenario.runSeed({ seed: 1, durationMs: 5_000, faults: ["loss"], trace: true });
  const setup = (JSON.parse(result.trace![0]!) as { setup: { spares: string[] } }).setup;
  t.deepEqual(setup.spares, []);
  t.false("conf.proposed" in result.facts);
  t.is(committedChanges(result.trace!).length, 0);
});
