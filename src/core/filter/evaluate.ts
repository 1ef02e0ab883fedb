/**
 * Evaluates a parsed filter against plain JSON-shaped values (Consul's API records). Selectors
 * match object keys exactly, or else case-insensitively; a selector that walks into a list
 * collects the field from every element (`Checks.Status` is the list of statuses).
 *
 * A selector that finds nothing (a missing `Meta` key) makes `==`, `in`, `contains` and `matches`
 * false, and their negations and `is empty` true, as go-bexpr does for missing map keys.
 * Values are compared in the selected field's type: `Port == 80` compares numbers,
 * `EnableTagOverride == true` booleans, and lists and maps are searched by `in`/`contains`
 * (elements and keys respectively; strings by substring). `==` on a list holds when any
 * element equals the value (Consul refuses `==` on a list field; this is the generous reading).
 */
import { FilterError } from "./error.ts";
import type { FilterNode, MatchOp } from "./parser.ts";
import { compileRe2, type Re2 } from "../util/re2.ts";

export type Predicate = (value: unknown) => boolean;

const missing = Symbol("missing");
type Selected = unknown | typeof missing;

export function compileTree(node: FilterNode): Predicate {
  switch (node.kind) {
    case "or": {
      const left = compileTree(node.left);
      const right = compileTree(node.right);
      return (value) => left(value) || right(value);
    }
    case "and": {
      const left = compileTree(node.left);
      const right = compileTree(node.right);
      return (value) => left(value) && right(value);
    }
    case "not": {
      const operand = compileTree(node.operand);
      return (value) => !operand(value);
    }
    case "match": return compileMatch(node.op, node.selector, node.value, node.position);
  }
}

function compileMatch(op: MatchOp, selector: readonly string[], value: string | null, position: number): Predicate {
  const select = (root: unknown): Selected => selectPath(root, selector, 0);
  switch (op) {
    case "equal": return (root) => equals(select(root), value!);
    case "notEqual": return (root) => !equals(select(root), value!);
    case "isEmpty": return (root) => isEmpty(select(root));
    case "isNotEmpty": return (root) => !isEmpty(select(root));
    case "in":
    case "contains": return (root) => contains(select(root), value!);
    case "notIn":
    case "notContains": return (root) => !contains(select(root), value!);
    case "matches":
    case "notMatches": {
      const regex = compileRegex(value!, position);
      const negate = op === "notMatches";
      return (root) => matches(select(root), regex) !== negate;
    }
  }
}

function selectPath(current: unknown, path: readonly string[], from: number): Selected {
  let value: unknown = current;
  for (let i = from; i < path.length; i++) {
    if (Array.isArray(value)) {
      const collected: unknown[] = [];
      for (const element of value) {
        const got = selectPath(element, path, i);
        if (got === missing) continue;
        if (Array.isArray(got)) collected.push(...got);
        else collected.push(got);
      }
      return collected;
    }
    if (typeof value !== "object" || value === null || value instanceof Uint8Array) return missing;
    const record = value as Record<string, unknown>;
    const key = path[i]!;
    if (Object.hasOwn(record, key)) {
      value = record[key];
      continue;
    }
    const folded = key.toLowerCase();
    const found = Object.keys(record).find((candidate) => candidate.toLowerCase() === folded);
    if (found === undefined) return missing;
    value = record[found];
  }
  return value;
}

/** Go's strconv.ParseBool spellings. */
function parseBool(text: string): boolean | null {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return null;
}

/** Compares one scalar with the expression's value text, in the scalar's type. */
function scalarEquals(field: unknown, text: string): boolean {
  if (typeof field === "string") return field === text;
  if (typeof field === "number") return text.trim() !== "" && Number(text) === field;
  if (typeof field === "boolean") return parseBool(text) === field;
  if (field === null) return text === "" || text === "null";
  return false;
}

/** A list (a list field, or a field collected through a list) equals a value when any element does. */
function equals(field: Selected, text: string): boolean {
  if (field === missing) return false;
  if (Array.isArray(field)) return field.some((element) => scalarEquals(element, text));
  return scalarEquals(field, text);
}

function isEmpty(field: Selected): boolean {
  if (field === missing || field === null || field === undefined) return true;
  if (typeof field === "string" || Array.isArray(field)) return field.length === 0;
  if (field instanceof Uint8Array) return field.length === 0;
  if (typeof field === "object") return Object.keys(field).length === 0;
  return false;
}

function contains(field: Selected, text: string): boolean {
  if (field === missing || field === null) return false;
  if (typeof field === "string") return field.includes(text);
  if (Array.isArray(field)) return field.some((element) => scalarEquals(element, text));
  if (typeof field === "object" && !(field instanceof Uint8Array)) return Object.hasOwn(field, text);
  return false;
}

function matches(field: Selected, regex: Re2): boolean {
  if (typeof field === "string") return regex.test(field);
  if (Array.isArray(field)) return field.some((element) => typeof element === "string" && regex.test(element));
  return false;
}

/** Go's RE2, as Consul's filter uses (inline flags such as `(?i)` included; linear-time matching). */
function compileRegex(pattern: string, position: number): Re2 {
  try {
    return compileRe2(pattern);
  } catch (error) {
    throw new FilterError(`invalid regular expression ${JSON.stringify(pattern)}: ${(error as Error).message}`, position);
  }
}
