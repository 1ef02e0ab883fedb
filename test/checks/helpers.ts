/** Shared pieces of the check runner tests: a runner with test-sized timings and a change recorder. */
import {
  CheckRunner, parseCheckDefinition, type CheckDefinition, type CheckResultStatus, type CheckRunnerConfig,
} from "../../src/agent/checks/index.ts";

export interface Change {
  readonly id: string;
  readonly status: CheckResultStatus;
  readonly output: string;
  readonly atMs: number;
}

/** A runner whose checks may run every few ms, first runs not staggered unless asked. */
export function testRunner(config: Partial<CheckRunnerConfig> = {}): { runner: CheckRunner; changes: Change[]; t0: number } {
  const runner = new CheckRunner({
    enableScriptChecks: true,
    enableLocalScriptChecks: true,
    intervalMinMs: 1,
    random: () => 0,
    reapIntervalMs: 20,
    deregisterCriticalMinMs: 0,
    ...config,
  });
  const changes: Change[] = [];
  const t0 = Date.now();
  runner.onChange((id, status, output) => changes.push({ id, status, output, atMs: Date.now() - t0 }));
  return { runner, changes, t0 };
}

export function def(raw: Record<string, unknown>, serviceId?: string): CheckDefinition {
  const result = parseCheckDefinition(raw, { source: "test", ...(serviceId === undefined ? {} : { serviceId }) });
  if (!result.ok) throw new Error(result.error.message);
  return result.definition;
}

/** Resolves with the first change recorded (now or later) that matches, or rejects naming what was seen. */
export async function waitFor(changes: Change[], match: (c: Change) => boolean, what: string, timeoutMs = 20_000): Promise<Change> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = changes.find(match);
    if (found !== undefined) return found;
    if (Date.now() > deadline) {
      throw new Error(`no change matched "${what}" within ${timeoutMs} ms; saw ${JSON.stringify(changes.map((c) => [c.id, c.status, c.output.slice(0, 80)]))}`);
    }
    await sleep(5);
  }
}

/** Polls until the condition holds, or rejects naming it. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const signalNever = new AbortController().signal;
