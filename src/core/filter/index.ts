/**
 * Consul's `?filter=` expression language (hashicorp/go-bexpr), pure:
 *
 *   const keep = compileFilter('Service.Meta.env == prod and "primary" in Service.Tags');
 *   entries.filter(keep);
 *
 * `compileFilter` throws `FilterError` (reason and character position) for an expression it
 * cannot parse; the predicate it returns never throws.
 */
import { compileTree, type Predicate } from "./evaluate.ts";
import { parseFilter } from "./parser.ts";

export { FilterError } from "./error.ts";
export { filterDepthMax, filterLengthMax, parseFilter, type FilterNode, type MatchOp } from "./parser.ts";
export type { Predicate } from "./evaluate.ts";

export function compileFilter(expression: string): Predicate {
  const predicate = compileTree(parseFilter(expression));
  return (value) => predicate(value);
}

/** Keeps the list entries, or the values of a map (`/v1/agent/services`), that the filter accepts. */
export function applyFilter<T>(expression: string | undefined, items: T[]): T[];
export function applyFilter<T>(expression: string | undefined, items: Record<string, T>): Record<string, T>;
export function applyFilter<T>(expression: string | undefined, items: T[] | Record<string, T>): T[] | Record<string, T> {
  if (expression === undefined || expression === "") return items;
  const keep = compileFilter(expression);
  if (Array.isArray(items)) return items.filter((item) => keep(item));
  const out: Record<string, T> = {};
  for (const [key, item] of Object.entries(items)) if (keep(item)) out[key] = item;
  return out;
}
