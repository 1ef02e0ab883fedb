/** Thrown when an invariant of a pure core breaks; the message names the values involved. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Always-on assertion: the core checks its own invariants in production too. */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof message === "function" ? message() : message);
}

/**
 * Documents that a condition is sometimes true and sometimes false, and that both are expected.
 * It does nothing at run time.
 */
export function maybe(_condition: unknown): void {}

export function unreachable(value: never, context: string): never {
  throw new AssertionError(`${context}: unexpected ${JSON.stringify(value)}`);
}
