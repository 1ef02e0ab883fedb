/**
 * The filter language under random input:
 *   - any string either compiles or throws FilterError with a position inside the expression
 *     (never another error, never a hang or a stack overflow);
 *   - a compiled predicate never throws, whatever JSON value it is given;
 *   - a random expression tree printed as text parses back to the same tree, and its predicate
 *     agrees with a naive evaluator written here from the documentation.
 */
import test from "ava";
import fc from "fast-check";
import { compileFilter, FilterError, parseFilter, type FilterNode, type MatchOp } from "../src/core/filter/index.ts";

const fragments = ["Service", "Meta", ".", "env", "==", "!=", " ", "and", "or", "not", "in", "contains", "matches", "is", "empty",
  "(", ")", '"', "`", "[", "]", "\\", "prod", "80", "Tags", "\"x\"", "=", "!", "\u00e9", "\n", "*", "-", "1.5"];

test("filter: any text compiles or is a FilterError with a position within it", (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.array(fc.constantFrom(...fragments), { maxLength: 30 }).map((parts) => parts.join(""))), (text) => {
      try {
        compileFilter(text);
      } catch (error) {
        if (!(error instanceof FilterError)) throw error;
        if (error.position < 0 || error.position > text.length) throw new Error(`position ${error.position} outside 0..${text.length}`);
        if (error.reason === "") throw new Error("empty reason");
      }
    }),
    { numRuns: 5000 },
  );
  t.pass();
});

const segment = fc.constantFrom("Service", "Meta", "env", "Tags", "Port", "ID", "Checks", "Status", "x");
const selector = fc.array(segment, { minLength: 1, maxLength: 3 });
const value = fc.oneof(fc.constantFrom("prod", "web", "80", "", "true", "v1", "a b", 'q"uote', "back\\slash"), fc.string({ maxLength: 6 }));
const ops: MatchOp[] = ["equal", "notEqual", "isEmpty", "isNotEmpty", "in", "notIn", "contains", "notContains", "matches", "notMatches"];

const tree: fc.Arbitrary<FilterNode> = fc.letrec<{ node: FilterNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ op: fc.constantFrom(...ops), selector, value }).map(({ op, selector, value }): FilterNode => ({
      kind: "match", op, selector, value: op === "isEmpty" || op === "isNotEmpty" ? null : op.includes("atches") ? escapeRegex(value) : value, position: 0,
    })),
    fc.record({ kind: fc.constantFrom("and" as const, "or" as const), left: tie("node"), right: tie("node") }),
    tie("node").map((operand): FilterNode => ({ kind: "not", operand })),
  ),
})).node;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Fully parenthesised text for a tree, values always quoted. */
function print(node: FilterNode): string {
  switch (node.kind) {
    case "and":
    case "or": return `(${print(node.left)}) ${node.kind} (${print(node.right)})`;
    case "not": return `not (${print(node.operand)})`;
    case "match": {
      const sel = node.selector.join(".");
      const val = JSON.stringify(node.value ?? "");
      switch (node.op) {
        case "equal": return `${sel} == ${val}`;
        case "notEqual": return `${sel} != ${val}`;
        case "isEmpty": return `${sel} is empty`;
        case "isNotEmpty": return `${sel} is not empty`;
        case "in": return `${val} in ${sel}`;
        case "notIn": return `${val} not in ${sel}`;
        case "contains": return `${sel} contains ${val}`;
        case "notContains": return `${sel} not contains ${val}`;
        case "matches": return `${sel} matches ${val}`;
        case "notMatches": return `${sel} not matches ${val}`;
      }
    }
  }
}

function strip(node: FilterNode): unknown {
  switch (node.kind) {
    case "and":
    case "or": return { kind: node.kind, left: strip(node.left), right: strip(node.right) };
    case "not": return { kind: "not", operand: strip(node.operand) };
    case "match": return { op: node.op, selector: node.selector, value: node.value };
  }
}

/** The documentation's semantics, written plainly: missing fields fail positive matches. */
function naive(node: FilterNode, root: unknown): boolean {
  if (node.kind !== "match") {
    if (node.kind === "not") return !naive(node.operand, root);
    return node.kind === "and" ? naive(node.left, root) && naive(node.right, root) : naive(node.left, root) || naive(node.right, root);
  }
  let field: unknown = root;
  let found = true;
  for (const part of node.selector) {
    if (field !== null && typeof field === "object" && !Array.isArray(field) && part in (field as object)) field = (field as Record<string, unknown>)[part];
    else found = false;
  }
  const v = node.value ?? "";
  const eq = (x: unknown): boolean => (typeof x === "string" ? x === v : typeof x === "number" ? v.trim() !== "" && Number(v) === x : typeof x === "boolean" ? (v === "true" ? x : v === "false" ? !x : false) : false);
  const has = (): boolean => found && (typeof field === "string" ? field.includes(v) : Array.isArray(field) ? field.some(eq) : field !== null && typeof field === "object" ? v in (field as object) : false);
  const empty = (): boolean => !found || field === null || (typeof field === "string" && field === "") || (Array.isArray(field) && field.length === 0) || (typeof field === "object" && field !== null && !Array.isArray(field) && Object.keys(field).length === 0);
  const re = (): boolean => found && (typeof field === "string" ? new RegExp(v).test(field) : Array.isArray(field) && field.some((x) => typeof x === "string" && new RegExp(v).test(x)));
  switch (node.op) {
    case "equal": return found && (Array.isArray(field) ? field.some(eq) : eq(field));
    case "notEqual": return !(found && (Array.isArray(field) ? field.some(eq) : eq(field)));
    case "isEmpty": return empty();
    case "isNotEmpty": return !empty();
    case "in":
    case "contains": return has();
    case "notIn":
    case "notContains": return !has();
    case "matches": return re();
    case "notMatches": return !re();
  }
}

const record = fc.record({
  Service: fc.constantFrom("web", "db", "", "prod"),
  Meta: fc.dictionary(fc.constantFrom("env", "x", "Status"), fc.constantFrom("prod", "web", "", "v1")),
  Tags: fc.array(fc.constantFrom("v1", "prod", "80", ""), { maxLength: 3 }),
  Port: fc.constantFrom(0, 80, 8080),
  ID: fc.string({ maxLength: 4 }),
}, { requiredKeys: ["Service"] });

test("filter: printed trees parse back to themselves and agree with a naive evaluator", (t) => {
  fc.assert(
    fc.property(tree, fc.array(record, { minLength: 1, maxLength: 5 }), (node, records) => {
      const text = print(node);
      const parsed = parseFilter(text);
      if (JSON.stringify(strip(parsed)) !== JSON.stringify(strip(node))) throw new Error(`round trip of ${text} gave ${JSON.stringify(strip(parsed))}`);
      const keep = compileFilter(text);
      for (const r of records) {
        if (keep(r) !== naive(node, r)) throw new Error(`${text} on ${JSON.stringify(r)}: compiled ${keep(r)}, naive ${naive(node, r)}`);
      }
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test("filter: compiled predicates never throw on arbitrary JSON", (t) => {
  fc.assert(
    fc.property(tree, fc.jsonValue(), (node, input) => {
      compileFilter(print(node))(input);
    }),
    { numRuns: 3000 },
  );
  t.pass();
});
