import test from "ava";
import { encode } from "@msgpack/msgpack";
import { Catalog, decodeCommand, encodeBase64, decodeBase64, encodeCommand, formatGoDuration, parseGoDurationMs, normalizeCommand } from "./imports.ts";

test("encode: the same command is the same bytes whatever the key order", (t) => {
  const a = encodeCommand({ v: 1, op: "kv", nowMs: 5, Verb: "set", Key: "k", Flags: 1 });
  const b = encodeCommand({ Flags: 1, Key: "k", Verb: "set", nowMs: 5, op: "kv", v: 1 } as never);
  t.deepEqual(a, b);
});

test("decode: malformed bytes, unknown ops and versions are error results, never exceptions", (t) => {
  const catalog = new Catalog();
  const inputs = [
    new Uint8Array([0xc1]), new Uint8Array([]), encode("hello"), encode({ v: 2, op: "kv" }),
    encode({ v: 1, op: "nope" }), encode({ v: 1, op: "kv", Verb: "explode", Key: "k" }),
    encode({ v: 1, op: "kv", Verb: "get", Key: "k" }), encode({ v: 1, op: "catalog.register", Node: 7 }),
    encode({ v: 1, op: "txn", Ops: [{ Node: {} }] }), encode({ v: 1, op: "kv", Verb: "set", Key: "k", Value: 12 }),
  ];
  inputs.forEach((bytes, i) => {
    const result = catalog.applyBytes(bytes, i + 1);
    t.false(result.ok);
    if (!result.ok) t.is(result.error.status, 400);
  });
  t.is(catalog.counters.malformed, inputs.length);
  t.is(catalog.appliedIndex, inputs.length, "a refused entry is still applied (as a no-op)");
});

test("decode: keys match case-insensitively and Value may be base64 text", (t) => {
  const decoded = normalizeCommand({ v: 1, op: "kv", nowms: 3, verb: "set", key: "k", value: "aGk=", flags: 9 });
  t.true(decoded.ok);
  if (!decoded.ok) return;
  t.like(decoded.command, { op: "kv", Verb: "set", Key: "k", Flags: 9, nowMs: 3 });
  t.deepEqual((decoded.command as { Value: Uint8Array }).Value, new TextEncoder().encode("hi"));
});

test("decode: LockDelay follows Consul: strings parse, numbers below 1000 are seconds, others nanoseconds", (t) => {
  const delay = (LockDelay: unknown) => {
    const decoded = decodeCommand(encodeCommand({ v: 1, op: "session.create", nowMs: 0, ID: "s", Node: "n", LockDelay } as never));
    return decoded.ok && decoded.command.op === "session.create" ? decoded.command.LockDelayMs : "error";
  };
  t.is(delay("0.001s"), 1);
  t.is(delay(15), 15_000);
  t.is(delay(2_000_000_000), 2_000);
  t.is(delay(undefined), undefined);
  t.is(delay("soon"), "error");
});

test("Go durations: parse and format like time.ParseDuration and Duration.String", (t) => {
  const rows: [string, number | null][] = [
    ["15s", 15_000], ["15.0s", 15_000], ["1m30s", 90_000], ["1h", 3_600_000], ["100ms", 100], ["0.001s", 1],
    ["0", 0], ["1500us", 1.5], ["-2s", -2_000], ["", null], ["10", null], ["1d", null], ["s", null],
  ];
  for (const [text, ms] of rows) t.is(parseGoDurationMs(text), ms, text);
  t.is(formatGoDuration(10_000), "10s");
  t.is(formatGoDuration(86_400_000), "24h0m0s");
  t.is(formatGoDuration(90_500), "1m30.5s");
});

test("base64 round-trips every length and rejects stray characters", (t) => {
  for (let n = 0; n < 20; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    t.deepEqual(decodeBase64(encodeBase64(bytes)), bytes);
  }
  t.is(encodeBase64(new TextEncoder().encode("hi")), "aGk=");
  t.is(decodeBase64("a$b="), null);
});

test("decode: session checks follow Consul's fixupEmptySessionChecks", (t) => {
  const checks = (body: Record<string, unknown>) => {
    const decoded = normalizeCommand({ v: 1, op: "session.create", ID: "s", Node: "n", ...body });
    return decoded.ok && decoded.command.op === "session.create" ? decoded.command.NodeChecks : "error";
  };
  t.deepEqual(checks({}), ["serfHealth"]);
  t.deepEqual(checks({ Checks: [] }), []);
  t.deepEqual(checks({ NodeChecks: [] }), []);
  t.deepEqual(checks({ NodeChecks: ["a"] }), ["a"]);
  t.deepEqual(checks({ Checks: ["serfHealth"], NodeChecks: ["a"] }), ["a"]);
  t.deepEqual(checks({ Checks: ["b"] }), ["serfHealth", "b"]);
  t.deepEqual(checks({ Checks: ["b"], NodeChecks: [] }), []);
  t.deepEqual(checks({ ServiceChecks: [{ ID: "svc" }] }), ["serfHealth"]);
});
