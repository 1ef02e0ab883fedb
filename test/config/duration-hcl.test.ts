import test from "ava";
import { ConfigError, formatDurationMs, parseDurationMs, parseHcl } from "../../src/agent/config/index.ts";

test("Go durations: the table from time.ParseDuration's own tests, in milliseconds", (t) => {
  const rows: [string, number | null][] = [
    ["0", 0], ["5s", 5_000], ["30s", 30_000], ["1478s", 1_478_000], ["-5s", -5_000], ["+5s", 5_000], ["-0", 0],
    ["5.0s", 5_000], ["5.6s", 5_600], ["5.s", 5_000], [".5s", 500], ["1.004s", 1_004], ["100ms", 100],
    ["10ns", 1e-5], ["11us", 0.011], ["12µs", 0.012], ["12μs", 0.012], ["13ms", 13], ["14s", 14_000], ["15m", 900_000],
    ["16h", 57_600_000], ["3h30m", 12_600_000], ["10.5s4m", 250_500], ["-2m3.4s", -123_400], ["1h2m3s4ms5us6ns", 3_723_004.005006],
    ["87600h", 315_360_000_000], ["72h", 259_200_000],
    ["", null], ["3", null], ["-", null], ["s", null], [".s", null], ["+.s", null], ["1d", null], ["1 s", null], ["1s ", null],
  ];
  for (const [text, ms] of rows) {
    const got = parseDurationMs(text);
    if (ms === null) t.is(got, null, text);
    else t.true(got !== null && Math.abs(got - ms) < 1e-9, `${text} → ${got}, want ${ms}`);
  }
});

test("durations print as Go prints them", (t) => {
  t.is(formatDurationMs(0), "0s");
  t.is(formatDurationMs(500), "500ms");
  t.is(formatDurationMs(1_500), "1.5s");
  t.is(formatDurationMs(90_000), "1m30s");
  t.is(formatDurationMs(8 * 3_600_000), "8h0m0s");
  t.is(formatDurationMs(-2_000), "-2s");
});

test("HCL: assignments, blocks, labels, lists, heredocs and all three comment styles", (t) => {
  const tree = parseHcl(`
    /* block comment
       over lines */
    datacenter = "dc1" // trailing
    server = true
    bootstrap_expect = 3
    raft_ratio = 1.5
    hex = 0x1F
    retry_join = ["a", "b",]
    "quoted key" = "x\\ty\\u00e9"
    ports { http = -1 }
    telemetry "statsd" { address = "x" }
    telemetry "prom" { retention = "1m" }
    check { id = "a" }
    check { id = "b" }
    script = <<EOF
line one
  line two
EOF
    indented = <<-EOT
      kept
      EOT
    empty {}
  `, "t.hcl");
  t.deepEqual(tree, {
    datacenter: "dc1", server: true, bootstrap_expect: 3, raft_ratio: 1.5, hex: 31, retry_join: ["a", "b"], "quoted key": "x\tyé",
    ports: { http: -1 }, telemetry: { statsd: { address: "x" }, prom: { retention: "1m" } }, check: [{ id: "a" }, { id: "b" }],
    script: "line one\n  line two\n", indented: "kept\n", empty: {},
  });
});

test("HCL errors name the file and line", (t) => {
  const cases: [string, string][] = [
    ['a = "x', "t.hcl:1: invalid HCL: unterminated string"],
    ["a = x", 't.hcl: invalid HCL at line 1: expected a value, found "x" (strings need quotes)'],
    ["\n\nports {\n http = 1\n", 't.hcl: invalid HCL at end of file: missing "}"'],
    ["a = [1 2]", 't.hcl: invalid HCL at line 1: expected "," or "]" in a list'],
    ["}", 't.hcl: invalid HCL at line 1: unexpected "}"'],
    ["a ? 1", 't.hcl:1: invalid HCL: unexpected "?"'],
    ['a = "\\q"', "t.hcl:1: invalid HCL: unknown escape \\q"],
    ["x = <<EOF\nnever closed\n", "t.hcl:1: invalid HCL: heredoc <<EOF is never closed"],
    ["/* open", "t.hcl:1: invalid HCL: unterminated /* comment"],
    ['a "label" = 1', 't.hcl: invalid HCL at line 1: a key with labels must be followed by a block: a label'],
  ];
  for (const [text, message] of cases) t.throws(() => parseHcl(text, "t.hcl"), { instanceOf: ConfigError, message }, text);
});
