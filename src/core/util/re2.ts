/**
 * Regular expressions from users (`?filter=` `matches`, event filters, Serf query tag filters)
 * compiled as Go's RE2, which Consul and Serf use: the same syntax, and matching in linear time,
 * so a pattern like `(a+)+$` cannot stall the agent's event loop with backtracking (JavaScript's
 * RegExp would). `test` matches anywhere in the string, as Go's MatchString.
 */
import { RE2JS } from "re2js";

export interface Re2 {
  test(input: string): boolean;
  /** Go's FindStringSubmatch: the leftmost match and its groups ("" for a group that did not take part), or null. */
  submatches(input: string): string[] | null;
}

export class Re2SyntaxError extends Error {
  override name = "Re2SyntaxError";
}

/** Compiles `pattern` (RE2 syntax, inline flags such as `(?i)` allowed); throws Re2SyntaxError naming the problem. */
export function compileRe2(pattern: string): Re2 {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (error) {
    throw new Re2SyntaxError((error as Error).message);
  }
  return {
    test: (input) => compiled.matcher(input).find(),
    submatches: (input) => {
      const matcher = compiled.matcher(input);
      if (!matcher.find()) return null;
      const groups: string[] = [];
      for (let i = 0; i <= matcher.groupCount(); i++) groups.push(matcher.group(i) ?? "");
      return groups;
    },
  };
}
