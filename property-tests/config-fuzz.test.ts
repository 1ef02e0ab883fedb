/**
 * Bad input never crashes the config loader or the flag parser: random config files, random
 * command lines and random HCL end in a config or in a ConfigError/FlagError with a message,
 * never in a TypeError. Plus round trips: Go durations, and HCL written from random trees.
 */
import test from "ava";
import fc from "fast-check";
import { ConfigError, formatDurationMs, loadConfig, parseDurationMs, parseHcl } from "../src/agent/config/index.ts";
import { agentSchema } from "../src/agent/config/schema.ts";
import { FlagError, HelpRequested } from "../src/cli/flags.ts";
import { fakeIo } from "../test/config/fake-io.ts";

const keys = Object.keys(agentSchema);
const nested = ["ports", "dns_config", "performance", "ui_config", "addresses", "gossip_lan", "autopilot"];
const leaf = fc.oneof(
  fc.boolean(), fc.integer({ min: -70_000, max: 70_000 }), fc.double(), fc.string(), fc.constant(null),
  fc.constantFrom("30s", "0", "1h", "-5s", "10.0.0.1", "127.0.0.1 10.0.0.1", "0.0.0.0", "dc1", "DEBUG", "::1", "{{ GetPrivateIP }}"),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("v"), { maxLength: 3 }), fc.dictionary(fc.oneof(fc.constantFrom(...keys, "name", "port", "http", "dns", "*"), fc.string()), tie("v"), { maxKeys: 4 })),
})).v;
const configObject = fc.dictionary(fc.oneof(fc.constantFrom(...keys, ...nested), fc.string({ maxLength: 8 })), value, { maxKeys: 8 });

function expectCleanFailure(run: () => unknown): void {
  try {
    run();
  } catch (e) {
    if (e instanceof ConfigError || e instanceof FlagError || e instanceof HelpRequested) {
      if (e.message === "") throw new Error(`${e.name} without a message`);
      return;
    }
    throw e;
  }
}

test("random config files load or fail with a ConfigError naming the file", (t) => {
  fc.assert(
    fc.property(configObject, (obj) => {
      const io = fakeIo({ "/c.json": JSON.stringify(obj) });
      try {
        const { config } = loadConfig(["-dev", "-config-file", "/c.json"], {}, io);
        // A loaded config is well-formed whatever went in.
        if (!Number.isInteger(config.ports.http) || typeof config.datacenter !== "string" || !config.domain.endsWith(".")) {
          throw new Error(`malformed config from ${JSON.stringify(obj)}`);
        }
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        if (!e.message.startsWith("/c.json: ") && !/^[a-z_.]+[ :]|^'|^Node name|^node_name/.test(e.message)) throw new Error(`message names neither file nor key: ${e.message}`);
      }
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

const flagWords = ["-dev", "-server", "-bootstrap", "-bootstrap-expect", "-node", "-datacenter", "-bind", "-client", "-http-port", "-retry-join", "-retry-interval", "-retry-max", "-config-dir", "-config-file", "-log-level", "-encrypt", "-recursor", "-node-meta", "-hcl", "-data-dir", "--", "-", "-h", "--ui=false", "-ui"];

test("random command lines end in a config, a FlagError, a ConfigError or a help request", (t) => {
  const arg = fc.oneof(fc.constantFrom(...flagWords), fc.string({ maxLength: 12 }), fc.constantFrom("3", "-1", "30s", "x", "127.0.0.1", "a:b", "/c.json", "=", "server = true", "{"));
  fc.assert(
    fc.property(fc.array(arg, { maxLength: 10 }), (argv) => {
      expectCleanFailure(() => loadConfig(argv, {}, fakeIo({ "/c.json": '{"data_dir": "/d"}' })));
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test("random text given as HCL parses or fails with a ConfigError", (t) => {
  const hclish = fc.array(fc.constantFrom("a", " = ", '"s"', "{", "}", "[", "]", ",", "1", "-2.5", "true", "#c\n", "\n", "<<EOF\nx\nEOF\n", '"\\u00e9"', "/*", "*/", "b \"l\" "), { maxLength: 20 }).map((parts) => parts.join(""));
  fc.assert(
    fc.property(fc.oneof(fc.string(), hclish), (text) => expectCleanFailure(() => parseHcl(text, "f.hcl"))),
    { numRuns: 5000 },
  );
  t.pass();
});

/** Writes a tree as HCL the way people do: scalars, lists of scalars, nested blocks. */
function toHcl(obj: Record<string, unknown>, indent = ""): string {
  return Object.entries(obj).map(([k, v]) => {
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return `${indent}${k} {\n${toHcl(v as Record<string, unknown>, `${indent}  `)}${indent}}\n`;
    return `${indent}${k} = ${JSON.stringify(v)}\n`;
  }).join("");
}

test("HCL written from a random tree parses back to the same tree", (t) => {
  const ident = fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/);
  const scalar = fc.oneof(fc.boolean(), fc.integer({ min: -1e6, max: 1e6 }), fc.string({ maxLength: 10, unit: "binary" }).filter((s) => !s.includes("${")));
  const tree = fc.letrec((tie) => ({
    obj: fc.dictionary(ident, fc.oneof({ depthSize: "small" }, scalar, fc.array(scalar, { maxLength: 3 }), tie("obj")), { maxKeys: 4 }),
  })).obj;
  fc.assert(
    fc.property(tree, (obj) => {
      const parsed = parseHcl(toHcl(obj as Record<string, unknown>), "gen.hcl");
      if (JSON.stringify(parsed) !== JSON.stringify(obj)) throw new Error(`${JSON.stringify(obj)} → ${JSON.stringify(parsed)}`);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test("Go durations round-trip through formatDurationMs", (t) => {
  fc.assert(
    fc.property(fc.integer({ min: -1e12, max: 1e12 }), (ms) => parseDurationMs(formatDurationMs(ms)) === ms),
    { numRuns: 5000 },
  );
  t.pass();
});

test("a flag always beats every file, whatever the files say", (t) => {
  const dc = fc.stringMatching(/^[a-z0-9_-]{1,10}$/);
  fc.assert(
    fc.property(fc.array(dc, { minLength: 1, maxLength: 4 }), dc, (fileDcs, flagDc) => {
      const files = Object.fromEntries(fileDcs.map((d, i) => [`/c/${i}.json`, JSON.stringify({ datacenter: d })]));
      const { config } = loadConfig(["-dev", "-config-dir", "/c", "-datacenter", flagDc], {}, fakeIo(files));
      const noFlag = loadConfig(["-dev", "-config-dir", "/c"], {}, fakeIo(files)).config;
      return config.datacenter === flagDc && noFlag.datacenter === fileDcs.at(-1);
    }),
    { numRuns: 500 },
  );
  t.pass();
});
