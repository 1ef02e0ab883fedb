import test from "ava";
import { ESLint } from "eslint";

// The lint step is what keeps src/core pure; these lines prove it rejects each kind of impurity
// and accepts the same code outside the core.
const eslint = new ESLint();

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => m.ruleId ?? m.message);
}

const impure: [string, string][] = [
  ["a clock", "export const now = Date.now();"],
  ["a Date object", "export const d = new Date();"],
  ["a timer", "setTimeout(() => {}, 10);"],
  ["an interval", "setInterval(() => {}, 10);"],
  ["randomness", "export const r = Math.random();"],
  ["process", "export const env = process.env;"],
  ["performance", "export const t = performance.now();"],
  ["the fs module", 'import { readFileSync } from "node:fs"; export const f = readFileSync;'],
  ["the dgram module", 'import dgram from "dgram"; export const s = dgram;'],
  ["the net module", 'import * as net from "node:net"; export const n = net;'],
  ["seedrandom", 'import seedrandom from "seedrandom"; export const s = seedrandom;'],
];

for (const [what, code] of impure) {
  test(`lint rejects ${what} inside src/core`, async (t) => {
    const ids = await ruleIds(code, "src/core/raft/purity-probe.ts");
    t.true(ids.some((id) => id.startsWith("no-restricted")), `expected a no-restricted-* error, got ${JSON.stringify(ids)}`);
  });
}

test("lint accepts the same code outside src/core", async (t) => {
  for (const [, code] of impure) {
    const ids = await ruleIds(code, "src/agent/purity-probe.ts");
    t.false(ids.some((id) => id.startsWith("no-restricted")), `${code}: ${JSON.stringify(ids)}`);
  }
});

test("lint accepts pure code inside src/core", async (t) => {
  const ids = await ruleIds("export function add(a: number, b: number): number { return a + b; }", "src/core/raft/purity-probe.ts");
  t.deepEqual(ids, []);
});
