import type { Outcome, SeedResult } from "./scenarios/types.ts";

/**
 * Which checker failed a seed, and how: the first clause of its message without the numbers and
 * parenthesised details, e.g. "state machine safety", "linearizability", "liveness: leader
 * stepped down while connected to a quorum", or for a crash the error's name. Shrinking keeps a
 * schedule only while it fails with the same violation; summaries list it per failing seed.
 */
export function checkerOf(outcome: Outcome, message: string | null): string {
  if (outcome === "ok") return "none";
  // Checkers throw SafetyViolation / LivenessViolation, whose stack starts with the class name.
  const firstLine = (message ?? "").split("\n")[0]!.replace(/^[A-Za-z]+Violation: /, "");
  if (outcome === "crash") {
    const name = /^([A-Za-z]*Error)\b/.exec(firstLine)?.[1];
    if (name !== undefined) return name;
    if (firstLine.startsWith("hang:")) return "hang";
    return "crash";
  }
  const clauses = firstLine.split(":").map((c) => c.replace(/\([^)]*\)/g, "").trim());
  // "liveness: <what>" names its kind in the second clause; the others in the first.
  const head = outcome === "liveness" && clauses[0] === "liveness" && clauses.length > 1 ? `liveness: ${kindOf(clauses[1]!)}` : kindOf(clauses[0]!);
  return head.length > 0 ? head : outcome;
}

/** The words of a clause, without node names, numbers or quoted keys. */
function kindOf(clause: string): string {
  return clause.split(/\s+/).filter((w) => !/\d/.test(w) && !/^["'{[]/.test(w)).slice(0, 8).join(" ");
}

/** Two failing runs show the same violation: same outcome, same checker. */
export function sameViolation(a: Pick<SeedResult, "outcome" | "message">, b: Pick<SeedResult, "outcome" | "message">): boolean {
  return a.outcome === b.outcome && checkerOf(a.outcome, a.message) === checkerOf(b.outcome, b.message);
}
