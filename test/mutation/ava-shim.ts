import { isDeepStrictEqual, inspect } from "node:util";

/**
 * Just enough of ava's API to run our Raft test files inside one process, so Stryker can switch
 * mutants between tests without spawning ava for each. Test files import "ava" as usual; the
 * mutation runner's resolve hook (`ava-alias-hooks.mjs`) points that import here. Each `test()`
 * call registers a test instead of running it; `collectTests` hands them to the runner.
 *
 * Assertions follow ava's semantics where our tests rely on them (`t.true` wants `true`, not a
 * truthy value; `t.throws` returns the error and matches `message` as a string or RegExp).
 * `t.deepEqual` uses Node's strict deep equality rather than concordance; both reject the
 * differences our tests look for. The shim has only what the Raft tests use: a missing assertion
 * or `test.serial`/`test.before`… is a TypeError that fails the dry run (and `ava-shim.test.ts`
 * in `npm test`) loudly instead of passing silently.
 */

export type Implementation = (t: ExecutionContext) => void | Promise<void>;

export interface RegisteredTest {
  readonly title: string;
  readonly run: Implementation;
}

export class AssertionError extends Error {
  override name = "AssertionError";
}

interface ThrowsExpectation {
  readonly message?: string | RegExp | ((message: string) => boolean);
  readonly instanceOf?: new (...args: never[]) => unknown;
  readonly name?: string;
  readonly code?: string;
  readonly is?: unknown;
  readonly any?: boolean;
}

const show = (value: unknown): string => inspect(value, { depth: 6, breakLength: 120 });

function fail(message: string | undefined, detail: string): never {
  throw new AssertionError(message === undefined ? detail : `${message}: ${detail}`);
}

function isLike(actual: unknown, selector: unknown): boolean {
  if (selector === null || typeof selector !== "object" || Array.isArray(selector)) {
    return isDeepStrictEqual(actual, selector);
  }
  if (actual === null || typeof actual !== "object") return false;
  const record = actual as Record<string, unknown>;
  return Object.entries(selector as Record<string, unknown>).every(([key, value]) => isLike(record[key], value));
}

function checkThrown(error: unknown, expectation: ThrowsExpectation | undefined, message: string | undefined): void {
  if (expectation === undefined) {
    if (!(error instanceof Error)) fail(message, `threw a non-Error: ${show(error)}`);
    return;
  }
  if (!expectation.any && !(error instanceof Error)) fail(message, `threw a non-Error: ${show(error)}`);
  const errorMessage = error instanceof Error ? error.message : String(error);
  const expected = expectation.message;
  if (typeof expected === "string" && errorMessage !== expected) {
    fail(message, `error message ${show(errorMessage)} is not ${show(expected)}`);
  }
  if (expected instanceof RegExp && !expected.test(errorMessage)) {
    fail(message, `error message ${show(errorMessage)} does not match ${expected}`);
  }
  if (typeof expected === "function" && !expected(errorMessage)) {
    fail(message, `error message ${show(errorMessage)} rejected by the expectation`);
  }
  if (expectation.instanceOf !== undefined && !(error instanceof expectation.instanceOf)) {
    fail(message, `error is not an instance of ${expectation.instanceOf.name}`);
  }
  if (expectation.name !== undefined && (error as Error).name !== expectation.name) {
    fail(message, `error name ${show((error as Error).name)} is not ${show(expectation.name)}`);
  }
  if (expectation.code !== undefined && (error as { code?: unknown }).code !== expectation.code) {
    fail(message, `error code ${show((error as { code?: unknown }).code)} is not ${show(expectation.code)}`);
  }
  if ("is" in expectation && error !== expectation.is) fail(message, "error is not the expected instance");
}

export class ExecutionContext {
  readonly title: string;

  constructor(title: string) {
    this.title = title;
  }

  is(actual: unknown, expected: unknown, message?: string): void {
    if (!Object.is(actual, expected)) fail(message, `${show(actual)} is not ${show(expected)}`);
  }

  not(actual: unknown, expected: unknown, message?: string): void {
    if (Object.is(actual, expected)) fail(message, `${show(actual)} should differ`);
  }

  deepEqual(actual: unknown, expected: unknown, message?: string): void {
    if (!isDeepStrictEqual(actual, expected)) fail(message, `${show(actual)} is not deeply equal to ${show(expected)}`);
  }

  notDeepEqual(actual: unknown, expected: unknown, message?: string): void {
    if (isDeepStrictEqual(actual, expected)) fail(message, `${show(actual)} should differ deeply`);
  }

  like(actual: unknown, selector: unknown, message?: string): void {
    if (!isLike(actual, selector)) fail(message, `${show(actual)} is not like ${show(selector)}`);
  }

  true(actual: unknown, message?: string): void {
    if (actual !== true) fail(message, `${show(actual)} is not true`);
  }

  false(actual: unknown, message?: string): void {
    if (actual !== false) fail(message, `${show(actual)} is not false`);
  }

  truthy(actual: unknown, message?: string): void {
    if (!actual) fail(message, `${show(actual)} is not truthy`);
  }

  pass(): void {}

  throws(fn: () => unknown, expectation?: ThrowsExpectation, message?: string): unknown {
    let result: unknown;
    try {
      result = fn();
    } catch (error) {
      checkThrown(error, expectation, message);
      return error;
    }
    if (result instanceof Promise) fail(message, "t.throws() got a promise: the shim has no throwsAsync");
    return fail(message, "function did not throw");
  }

  notThrows(fn: () => unknown, message?: string): void {
    try {
      fn();
    } catch (error) {
      fail(message, `threw ${show(error)}`);
    }
  }

  regex(actual: string, pattern: RegExp, message?: string): void {
    if (!pattern.test(actual)) fail(message, `${show(actual)} does not match ${pattern}`);
  }

  log(): void {}
}

const registry: RegisteredTest[] = [];
/** Every test registered since the last call, in registration order. */
export function collectTests(): RegisteredTest[] {
  return registry.splice(0, registry.length);
}

function test(title: string, run: Implementation): void {
  registry.push({ title, run });
}

export default test;
