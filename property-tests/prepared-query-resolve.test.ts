/**
 * Prepared query resolution against a reference model: random sets of named queries and
 * `name_prefix_match` templates (names that differ only in case, prefixes of each other, the
 * empty catch-all) are created through the log; the model says which creates Consul refuses
 * (a name held case-insensitively, a second empty-named template, an anonymous query without a
 * session) and which query any name resolves to (an exact name, case-insensitively, else the
 * template with the longest prefix), and the rendered `${name.suffix}` each lookup sees.
 */
import test from "ava";
import fc from "fast-check";
import { Catalog, encodeCommand } from "../src/core/catalog/index.ts";

const names = ["", "a", "A", "ab", "aB", "abc", "b"];
const lookups = [...names, "abcd", "ABC", "x", "b-1"];

interface Def { readonly name: string; readonly template: boolean }

function idOf(i: number): string {
  return `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
}

test("resolution by exact name, else the longest template prefix, as a model says", (t) => {
  let resolvedTemplates = 0;
  fc.assert(
    fc.property(fc.array(fc.record({ name: fc.constantFrom(...names), template: fc.boolean() }), { maxLength: 8 }), fc.array(fc.constantFrom(...lookups), { minLength: 1, maxLength: 6 }), (defs: Def[], asked: string[]) => {
      const catalog = new Catalog();
      const accepted: (Def & { id: string })[] = [];
      defs.forEach((def, i) => {
        const id = idOf(i);
        const query = def.template
          ? { ID: id, Name: def.name, Template: { Type: "name_prefix_match" }, Service: { Service: "${name.suffix}" } }
          : { ID: id, Name: def.name, Service: { Service: "svc" } };
        const result = catalog.applyBytes(encodeCommand({ v: 1, op: "query", nowMs: 0, Verb: "create", Query: query }), i + 1);
        const refused = (!def.template && def.name === "") ||
          (def.name !== "" && accepted.some((other) => other.name.toLowerCase() === def.name.toLowerCase())) ||
          (def.template && def.name === "" && accepted.some((other) => other.template && other.name === ""));
        if (result.ok === refused) throw new Error(`create ${JSON.stringify(def)} after ${JSON.stringify(accepted)}: model says refused=${refused}, catalog ${JSON.stringify(result)}`);
        if (result.ok) accepted.push({ ...def, id });
      });
      catalog.invariants();
      for (const name of asked) {
        const folded = name.toLowerCase();
        const exact = name === "" ? undefined : accepted.find((q) => q.name.toLowerCase() === folded);
        const templates = accepted.filter((q) => q.template && folded.startsWith(q.name.toLowerCase())).sort((a, b) => b.name.length - a.name.length);
        const expected = name === "" ? undefined : exact ?? templates[0];
        const explained = catalog.preparedQueryExplain(name).value;
        if (expected === undefined) {
          if (explained.ok || !explained.notFound) throw new Error(`${JSON.stringify(name)} resolved to ${JSON.stringify(explained)}, the model finds nothing`);
          continue;
        }
        if (!explained.ok || explained.query.ID !== expected.id) throw new Error(`${JSON.stringify(name)}: expected ${expected.id} (${JSON.stringify(expected)}), got ${JSON.stringify(explained)}`);
        if (expected.template) {
          resolvedTemplates++;
          const suffix = name.startsWith(expected.name) ? name.slice(expected.name.length) : name;
          if (explained.query.Service.Service !== suffix) throw new Error(`${JSON.stringify(name)}: rendered ${explained.query.Service.Service}, expected ${suffix}`);
        }
      }
    }),
    { numRuns: 500 },
  );
  t.true(resolvedTemplates > 50, `templates were resolved (${resolvedTemplates} times)`);
});
