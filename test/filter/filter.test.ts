/**
 * Consul's filter language, by table: each row is an expression and the IDs of the sample
 * services it keeps (Consul's documented examples among them), then the refusals with their
 * reason and position.
 */
import test from "ava";
import { applyFilter, compileFilter, FilterError, filterDepthMax } from "../../src/core/filter/index.ts";

const services = [
  { ID: "web1", Service: "web", Tags: ["v1", "primary"], Port: 80, Address: "10.0.0.1", EnableTagOverride: false, Meta: { env: "prod", "rack-id": "r1" }, Weights: { Passing: 1, Warning: 1 } },
  { ID: "web2", Service: "web", Tags: ["v2"], Port: 8080, Address: "", EnableTagOverride: true, Meta: { env: "staging" }, Weights: { Passing: 3, Warning: 1 } },
  { ID: "db1", Service: "db", Tags: [], Port: 5432, Address: "10.0.0.9", EnableTagOverride: false, Meta: {}, Weights: { Passing: 1, Warning: 1 } },
];

const health = [
  { Node: { Node: "n1", Meta: { zone: "a" } }, Service: { ID: "web1", Tags: ["v1"] }, Checks: [{ CheckID: "serfHealth", Status: "passing" }, { CheckID: "service:web1", Status: "critical" }] },
  { Node: { Node: "n2", Meta: { zone: "b" } }, Service: { ID: "web2", Tags: [] }, Checks: [{ CheckID: "serfHealth", Status: "passing" }] },
];

const keeps: [string, string[]][] = [
  ["Service == web", ["web1", "web2"]],
  ['Service == "web"', ["web1", "web2"]],
  ["Service == `db`", ["db1"]],
  ["Service != web", ["db1"]],
  ['Meta.env == "prod"', ["web1"]],
  ["Meta.env != prod", ["web2", "db1"]],
  ['Meta["rack-id"] == r1', ["web1"]],
  ['"primary" in Tags', ["web1"]],
  ["primary not in Tags", ["web2", "db1"]],
  ["Tags contains v2", ["web2"]],
  ["Tags not contains v2", ["web1", "db1"]],
  ["Tags is empty", ["db1"]],
  ["Tags is not empty", ["web1", "web2"]],
  ["Meta is empty", ["db1"]],
  ["Address is empty", ["web2"]],
  ["Meta.env is empty", ["db1"]],
  ['env in Meta', ["web1", "web2"]],
  ["Meta contains env", ["web1", "web2"]],
  ["Address contains \"10.0.0\"", ["web1", "db1"]],
  ['Address matches "^10\\\\.0\\\\.0\\\\.[0-9]$"', ["web1", "db1"]],
  ["ID not matches `^web`", ["db1"]],
  ['Service matches "(?i)^WEB$"', ["web1", "web2"]],
  ["Port == 80", ["web1"]],
  ["Port != 80", ["web2", "db1"]],
  ["Port == 80.0", ["web1"]],
  ["EnableTagOverride == true", ["web2"]],
  ["EnableTagOverride == false", ["web1", "db1"]],
  ["Weights.Passing == 3", ["web2"]],
  ["service == web and port == 8080", ["web2"]],
  ["Service == web and Port == 80 or Service == db", ["web1", "db1"]],
  ["Service == web and (Port == 80 or Port == 5432)", ["web1"]],
  ["not Service == web", ["db1"]],
  ["not (Service == web or Service == db)", []],
  ["not not Service == db", ["db1"]],
  ["Service == web and not Meta.env == staging", ["web1"]],
  ["Missing.Field == x", []],
  ["Missing.Field != x", ["web1", "web2", "db1"]],
  ["Missing is empty", ["web1", "web2", "db1"]],
];

for (const [expression, expected] of keeps) {
  test(`filter keeps ${JSON.stringify(expected)}: ${expression}`, (t) => {
    const keep = compileFilter(expression);
    t.deepEqual(services.filter(keep).map((s) => s.ID), expected);
  });
}

test("filter: a selector through a list collects the field of every element (Checks.Status)", (t) => {
  const ids = (expression: string) => applyFilter(expression, health).map((entry) => entry.Service.ID);
  t.deepEqual(ids("critical in Checks.Status"), ["web1"]);
  t.deepEqual(ids("Checks.Status not contains critical"), ["web2"]);
  t.deepEqual(ids("Node.Meta.zone == b"), ["web2"]);
  t.deepEqual(ids("Service.Tags contains v1"), ["web1"]);
  t.deepEqual(ids("Checks.Status == critical"), ["web1"]);
  t.deepEqual(ids("Checks.Status != critical"), ["web2"]);
});

test("filter: applyFilter on a map keeps the entries whose value matches (agent/services)", (t) => {
  const byId = Object.fromEntries(services.map((s) => [s.ID, s]));
  t.deepEqual(Object.keys(applyFilter("Port == 1", {}) as object), []);
  t.deepEqual(Object.keys(applyFilter("Service == web", byId)), ["web1", "web2"]);
  t.is(applyFilter(undefined, byId), byId);
  t.is(applyFilter("", byId), byId);
});

const refusals: [string, RegExp, number][] = [
  ["", /expected a selector or a value/, 0],
  ["Service ==", /expected a selector or a value/, 10],
  ["Service = web", /expected "==" or "!="/, 8],
  ["Service web", /expected a match operator/, 8],
  ['"web" == Service', /expected a selector, got a quoted string/, 0],
  ["80 == Port", /expected a selector, got "80"/, 0],
  ["Service == web and", /expected a selector or a value/, 18],
  ["(Service == web", /expected "\)"/, 15],
  ["Service == web)", /expected "and", "or" or the end/, 14],
  ['Service == "web', /unterminated string/, 11],
  ["Service == `web", /unterminated raw string/, 11],
  ['Service == "a\\q"', /invalid escape/, 13],
  ["Tags is full", /expected "empty"/, 8],
  ['Service matches "("', /invalid regular expression/, 0],
  ["Service == web; drop", /unexpected character ";"/, 14],
  ["web in 80", /expected a selector after "in"/, 7],
  ["Meta[env] == x", /expected a quoted key/, 5],
  ["and == x", /expected a selector or a value/, 0],
];

for (const [expression, reason, position] of refusals) {
  test(`filter refuses ${JSON.stringify(expression)} at ${position}`, (t) => {
    const error = t.throws(() => compileFilter(expression), { instanceOf: FilterError });
    t.regex(error!.reason, reason);
    t.is(error!.position, position, `reason: ${error!.reason}`);
    t.true(error!.message.includes(`character ${position + 1}`), error!.message);
  });
}

test("filter: nesting deeper than the limit is refused, not a stack overflow", (t) => {
  const deep = "(".repeat(filterDepthMax + 2) + "A == b" + ")".repeat(filterDepthMax + 2);
  t.throws(() => compileFilter(deep), { instanceOf: FilterError, message: /nests deeper/ });
  const nots = "not ".repeat(filterDepthMax + 2) + "A == b";
  t.throws(() => compileFilter(nots), { instanceOf: FilterError, message: /nests deeper/ });
  t.notThrows(() => compileFilter("(".repeat(20) + "A == b" + ")".repeat(20)));
});

test("filter: predicates never throw on odd values", (t) => {
  const keep = compileFilter('A.B == x or A contains y or A matches "z" or A is empty or x in A.C');
  for (const value of [null, undefined, 0, "s", [], [null], { A: null }, { A: [1, { B: "x" }] }, { A: new Uint8Array(2) }, { A: { C: "xyz" } }]) {
    t.notThrows(() => keep(value));
  }
  t.true(keep({ A: [1, { B: "x" }] }));
  t.true(keep({ A: { C: "axb" } }));
});

test("filter: matches is RE2, linear in the input: a catastrophic-backtracking pattern cannot stall the agent", (t) => {
  // JavaScript's backtracking engine would not return from this within the test's timeout.
  const victim = [{ Service: `${"a".repeat(5_000)}!` }];
  t.deepEqual(applyFilter('Service matches "(a+)+$"', victim), []);
  t.throws(() => compileFilter('Service matches "(a)\\\\1"'), { instanceOf: FilterError, message: /invalid regular expression/ }, "backreferences are not RE2");
});
