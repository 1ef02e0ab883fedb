/**
 * Regular expressions from users (`?filter=` `matches`, event filters, Serf query tag filters)
 * compiled as Go's RE2, which Consul and Serf use: the same syntax, and matching in linear time,
 * so a pattern like `(a+)+$` cannot stall the agent's event loop with backtracking (JavaScript's
 * RegExp would). `test` matches anywhere in the string, as Go's MatchString.
 */
import { createRequire } from "node:module";
import type * as Re2jsModule from "re2js";

/**
 * re2js is loaded on the first pattern, not with this module: most processes (a gossip member, an
 * agent nobody sends a regex filter) never compile one, and loading it costs each about 3 MB of RSS.
 * Loading code is not I/O the core depends on: the same pattern compiles the same way whenever.
 */
let re2js: typeof Re2jsModule | null = null;
function engine(): typeof Re2jsModule {
  re2js ??= createRequire(import.meta.url)("re2js") as typeof Re2jsModule;
  return re2js;
}

export interface Re2 {
  test(input: string): boolean;
}

export class Re2SyntaxError extends Error {
  override name = "Re2SyntaxError";
}

/** Compiles `pattern` (RE2 syntax, inline flags such as `(?i)` allowed); throws Re2SyntaxError naming the problem. */
export function compileRe2(pattern: string): Re2 {
  let compiled: Re2jsModule.RE2JS;
  try {
    compiled = engine().RE2JS.compile(pattern);
  } catch (error) {
    throw new Re2SyntaxError((error as Error).message);
  }
  return { test: (input) => compiled.matcher(input).find() };
}
