import test from "ava";
import { register } from "node:module";
import { ExecutionContext } from "./ava-shim.ts";
import { MUTATION_TEST_FILES, loadSuite, runTests } from "./suite.ts";

const rootDir = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

function failsWith(t: import("ava").ExecutionContext, assertion: (s: ExecutionContext) => void, pattern: RegExp): void {
  const error = t.throws(() => assertion(new ExecutionContext("probe")));
  t.regex(error?.message ?? "", pattern);
}

test("shim: t.is and t.true are strict, as ava's are", (t) => {
  const s = new ExecutionContext("probe");
  t.notThrows(() => s.is(NaN, NaN));
  failsWith(t, (x) => x.is(1, "1" as unknown), /1 is not '1'/);
  failsWith(t, (x) => x.true(1), /1 is not true/);
  failsWith(t, (x) => x.false(0), /0 is not false/);
  failsWith(t, (x) => x.is(2, 3, "term"), /^term: 2 is not 3$/);
});

test("shim: deep equality, likeness and negations", (t) => {
  const s = new ExecutionContext("probe");
  t.notThrows(() => s.deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }));
  failsWith(t, (x) => x.deepEqual([1, 2], [1, 2, 3]), /not deeply equal/);
  failsWith(t, (x) => x.notDeepEqual(new Map([[1, 2]]), new Map([[1, 2]])), /should differ deeply/);
  t.notThrows(() => s.like({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } }));
  failsWith(t, (x) => x.like({ a: 1, b: { c: 2 } }, { b: { c: 3 } }), /is not like/);
  failsWith(t, (x) => x.not("a", "a"), /should differ/);
  failsWith(t, (x) => x.truthy(""), /is not truthy/);
});

test("shim: t.throws checks the message, returns the error, and fails when nothing throws", (t) => {
  const s = new ExecutionContext("probe");
  const error = s.throws(() => { throw new Error("inflights full (3/3)"); }, { message: /inflights full/ });
  t.is((error as Error).message, "inflights full (3/3)");
  failsWith(t, (x) => x.throws(() => { throw new Error("other"); }, { message: /inflights/ }), /does not match/);
  failsWith(t, (x) => x.throws(() => { throw new Error("a"); }, { message: "b" }), /is not 'b'/);
  failsWith(t, (x) => x.throws(() => 1), /did not throw/);
  failsWith(t, (x) => x.notThrows(() => { throw new Error("boom"); }), /threw .*boom/);
});

test("mutation suite: every listed file loads through the shim and passes unmutated", async (t) => {
  register(new URL("./ava-alias-hooks.mjs", import.meta.url));
  const tests = await loadSuite(rootDir, { seeds: 3, durationMs: 5_000 });
  for (const file of MUTATION_TEST_FILES) {
    t.true(tests.some((x) => x.fileName === file), `${file} registered no test`);
  }
  t.is(new Set(tests.map((x) => x.id)).size, tests.length, "test ids are unique");
  t.is(tests.filter((x) => x.id.startsWith("sim kv seed ")).length, 3);
  const outcomes = await runTests(tests, { bail: false });
  t.deepEqual(outcomes.filter((o) => o.failure !== null).map((o) => `${o.id}: ${o.failure}`), []);
});

test("mutation suite: the simulator part and the test-file part split the whole suite", async (t) => {
  register(new URL("./ava-alias-hooks.mjs", import.meta.url));
  const campaign = { seeds: 2, durationMs: 5_000 };
  const ids = async (part: "all" | "sim" | "tests") => (await loadSuite(rootDir, campaign, part)).map((x) => x.id);
  const [all, sim, files] = [await ids("all"), await ids("sim"), await ids("tests")];
  t.deepEqual(sim, ["sim kv seed 1", "sim kv seed 2"]);
  t.true(files.length > 100, `${files.length} tests from files`);
  t.deepEqual([...all].sort(), [...sim, ...files].sort());
});

test("mutation suite: a failing test stops the run when bailing, and is reported with its message", async (t) => {
  const make = (id: string, fails: boolean) => ({
    id, name: id, fileName: undefined,
    run: async () => { if (fails) throw new Error(`${id} broke`); },
  });
  const tests = [make("a", false), make("b", true), make("c", false)];
  const bailed = await runTests(tests, { bail: true });
  t.deepEqual(bailed.map((o) => [o.id, o.failure]), [["a", null], ["b", "Error: b broke"]]);
  const all = await runTests(tests, { bail: false });
  t.is(all.length, 3);
});
