import test from "ava";
import { checkRecordFields, parseCheckDefinition, parseServiceChecks, type CheckDefinition, type CheckDefinitionContext } from "../../src/core/checks/index.ts";

const api: CheckDefinitionContext = { source: "HTTP API" };
const inService = (id: string, name = id, index = 0, count = 1): CheckDefinitionContext => ({
  source: "config file web.json", serviceId: id, serviceName: name, serviceCheckIndex: index, serviceCheckCount: count,
});

function parsed(raw: unknown, ctx: CheckDefinitionContext = api): CheckDefinition {
  const result = parseCheckDefinition(raw, ctx);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(raw)} to parse, got: ${result.error.message}`);
  return result.definition;
}

function refused(raw: unknown, ctx: CheckDefinitionContext = api): string {
  const result = parseCheckDefinition(raw, ctx);
  if (result.ok) throw new Error(`expected ${JSON.stringify(raw)} to be refused, got ${JSON.stringify(result.definition)}`);
  return result.error.message;
}

test("the seed's web check (config file, snake_case): service:web, default name, critical until it runs", (t) => {
  const def = parsed({ args: ["curl", "-si", "localhost:8080/health"], interval: "10s" }, inService("web"));
  t.is(def.id, "service:web");
  t.is(def.name, "Service 'web' check");
  t.is(def.serviceId, "web");
  t.is(def.status, "critical");
  t.deepEqual(def.probe, { kind: "script", args: ["curl", "-si", "localhost:8080/health"] });
  t.is(def.intervalMs, 10_000);
  t.is(def.timeoutMs, 0);
});

test("several checks in one service are service:<id>:<n>, counted from 1; the name uses the service's name", (t) => {
  t.is(parsed({ tcp: "127.0.0.1:80", interval: "5s" }, inService("web-1", "web", 0, 2)).id, "service:web-1:1");
  t.is(parsed({ tcp: "127.0.0.1:80", interval: "5s" }, inService("web-1", "web", 1, 2)).id, "service:web-1:2");
  t.is(parsed({ tcp: "127.0.0.1:80", interval: "5s" }, inService("web-1", "web", 1, 2)).name, "Service 'web' check");
  t.is(parsed({ id: "mine", name: "Mine", ttl: "5s" }, inService("web-1", "web", 1, 2)).id, "mine");
});

test("the seed's redis check keeps its unused Shell key (Consul reads it for docker checks only)", (t) => {
  const def = parsed(
    { args: ["sh", "-c", "/usr/local/consuldata/check_redis_master.sh 172.18.0.21 8888 x"], Shell: "/bin/bash", interval: "15s" },
    inService("w-master-redis-8888"),
  );
  t.is(def.probe.kind, "script");
  t.is(def.intervalMs, 15_000);
});

test("the HTTP API's CamelCase and the config files' snake_case give the same definition", (t) => {
  const camel = parsed({
    ID: "api", Name: "API health", Notes: "n", ServiceID: "web", HTTP: "https://127.0.0.1:8443/health", Method: "post",
    Header: { "X-Token": ["a", "b"] }, Body: "{}", TLSSkipVerify: true, TLSServerName: "api.local", Interval: "1m30s",
    Timeout: "100ms", SuccessBeforePassing: 2, FailuresBeforeWarning: 1, FailuresBeforeCritical: 3,
    DeregisterCriticalServiceAfter: "90m", Status: "passing",
  });
  const snake = parsed({
    id: "api", name: "API health", notes: "n", service_id: "web", http: "https://127.0.0.1:8443/health", method: "post",
    header: { "X-Token": ["a", "b"] }, body: "{}", tls_skip_verify: true, tls_server_name: "api.local", interval: "1m30s",
    timeout: "100ms", success_before_passing: 2, failures_before_warning: 1, failures_before_critical: 3,
    deregister_critical_service_after: "90m", status: "passing",
  });
  t.deepEqual(camel, snake);
  t.deepEqual(camel.probe, {
    kind: "http", url: "https://127.0.0.1:8443/health", method: "POST", header: { "X-Token": ["a", "b"] }, body: "{}",
    tlsSkipVerify: true, tlsServerName: "api.local", disableRedirects: false,
  });
  t.is(camel.intervalMs, 90_000);
  t.is(camel.timeoutMs, 100);
  t.is(camel.deregisterCriticalServiceAfterMs, 90 * 60_000);
  t.is(camel.status, "passing");
  t.deepEqual([camel.successBeforePassing, camel.failuresBeforeWarning, camel.failuresBeforeCritical], [2, 1, 3]);
});

test("keys match case-insensitively (python-consul sends lower case), CheckID is an alias of ID, ScriptArgs of args", (t) => {
  const def = parsed({ checkid: "c1", NAME: "x", ttl: "15s", NOTES: "hi" });
  t.is(def.id, "c1");
  t.is(def.notes, "hi");
  t.deepEqual(parsed({ Name: "s", ScriptArgs: ["true"], Interval: "1s" }).probe, { kind: "script", args: ["true"] });
  t.is(parsed({ ID: "canonical", CheckID: "alias", Name: "x", TTL: "1s" }).id, "canonical");
  t.is(parsed({ CheckID: "alias", ID: "canonical", Name: "x", TTL: "1s" }).id, "canonical");
});

test("a check outside a service takes its name as ID; without a name it is refused", (t) => {
  t.is(parsed({ name: "mem", ttl: "30s" }).id, "mem");
  t.regex(refused({ id: "x", ttl: "30s" }), /^HTTP API: Missing check name/);
});

test("each kind is recognised with its fields", (t) => {
  t.deepEqual(parsed({ name: "t", tcp: "localhost:22", interval: "10s" }).probe, { kind: "tcp", address: "localhost:22" });
  t.deepEqual(parsed({ name: "u", udp: "127.0.0.1:53", interval: "10s" }).probe, { kind: "udp", address: "127.0.0.1:53" });
  t.deepEqual(parsed({ name: "ttl", ttl: "30s" }).probe, { kind: "ttl" });
  t.is(parsed({ name: "ttl", ttl: "30s" }).ttlMs, 30_000);
  t.deepEqual(parsed({ name: "a", alias_service: "web", alias_node: "n1" }).probe, { kind: "alias", aliasNode: "n1", aliasService: "web" });
  t.deepEqual(parsed({ name: "g", grpc: "127.0.0.1:9090/svc", grpc_use_tls: true, interval: "10s" }).probe, { kind: "grpc", target: "127.0.0.1:9090/svc", useTls: true, tlsSkipVerify: false });
  t.deepEqual(parsed({ name: "d", docker_container_id: "f972c95ebf0e", args: ["/bin/check"], shell: "/bin/bash", interval: "10s" }).probe,
    { kind: "docker", containerId: "f972c95ebf0e", args: ["/bin/check"], shell: "/bin/bash" });
  t.is(parsed({ name: "h", http: "http://x/", interval: "10s" }).probe.kind, "http");
  const h = parsed({ name: "h", http: "http://x/", interval: "10s" }).probe;
  t.true(h.kind === "http" && h.method === "GET" && h.body === "" && !h.tlsSkipVerify);
});

test("durations: Go strings, or numbers of nanoseconds as Go's JSON carries time.Duration", (t) => {
  const rows: Array<[unknown, number]> = [
    ["10s", 10_000], ["1m30s", 90_000], ["100ms", 100], ["1h", 3_600_000], ["1.5s", 1500], ["2m0s", 120_000],
    [10_000_000_000, 10_000], [1e6, 1],
  ];
  for (const [interval, ms] of rows) t.is(parsed({ name: "x", tcp: "a:1", interval }).intervalMs, ms, `interval ${JSON.stringify(interval)}`);
});

test("failures_before_warning defaults to failures_before_critical, as Consul's agent sets it", (t) => {
  const def = parsed({ name: "x", tcp: "a:1", interval: "1s", failures_before_critical: 3 });
  t.is(def.failuresBeforeWarning, 3);
  t.is(def.failuresBeforeCritical, 3);
  const zero = parsed({ name: "x", tcp: "a:1", interval: "1s" });
  t.deepEqual([zero.successBeforePassing, zero.failuresBeforeWarning, zero.failuresBeforeCritical], [0, 0, 0]);
});

test("headers accept a single string per name too", (t) => {
  const probe = parsed({ name: "h", http: "http://x/", interval: "1s", header: { Host: "example.com", "X-A": ["1", "2"] } }).probe;
  t.true(probe.kind === "http");
  if (probe.kind === "http") t.deepEqual(probe.header, { Host: ["example.com"], "X-A": ["1", "2"] });
});

test("unknown keys are reported, not fatal; echoed read-only fields are ignored quietly", (t) => {
  const result = parseCheckDefinition({ name: "x", ttl: "1s", Definition: {}, Output: "", CreateIndex: 3, Frobnicate: 1, Token: "t" }, api);
  t.true(result.ok);
  if (result.ok) t.deepEqual(result.unknownKeys, ["Frobnicate"]);
});

test("Consul's validation, in Consul's words", (t) => {
  const rows: Array<[unknown, RegExp]> = [
    [{ name: "x", args: ["true"] }, /Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks/],
    [{ name: "x", http: "http://a/", interval: "0s" }, /Interval must be > 0/],
    [{ name: "x", tcp: "a:1", interval: "10s", ttl: "10s" }, /Interval and TTL cannot both be specified/],
    [{ name: "x" }, /TTL must be > 0 for TTL checks/],
    [{ name: "x", alias_service: "web", ttl: "5s" }, /TTL must be not be set for Alias checks/],
    [{ name: "x", alias_service: "web", tcp: "a:1", interval: "5s" }, /Interval cannot be set for Alias checks/],
    [{ name: "x", ttl: "5s", failures_before_warning: 2 }, /FailuresBeforeWarning can't be higher than FailuresBeforeCritical/],
    [{ name: "x", ttl: "5s", status: "maintenance" }, /key "status": Bad check status "maintenance"/],
  ];
  for (const [raw, expected] of rows) t.regex(refused(raw), expected, JSON.stringify(raw));
});

test("bad values name the key as written and what was expected", (t) => {
  const rows: Array<[unknown, RegExp]> = [
    [{ name: "x", tcp: "a:1", Interval: "ten" }, /key "Interval": time: invalid duration "ten" \(expected a Go duration such as "10s"/],
    [{ name: "x", tcp: "a:1", interval: "-5s" }, /key "interval": a duration must not be negative/],
    [{ name: "x", tcp: "a:1", interval: true }, /key "interval": got boolean true/],
    [{ name: "x", args: "curl localhost", interval: "1s" }, /key "args": expected a list of strings/],
    [{ name: "x", args: ["ok", 3], interval: "1s" }, /key "args": expected a list of strings/],
    [{ name: "x", ttl: "1s", failures_before_critical: -1 }, /key "failures_before_critical": expected a whole number >= 0, got number -1/],
    [{ name: "x", ttl: "1s", SuccessBeforePassing: 1.5 }, /key "SuccessBeforePassing": expected a whole number >= 0/],
    [{ name: "x", http: "http://a/", interval: "1s", tls_skip_verify: "yes" }, /key "tls_skip_verify": expected true or false, got "yes"/],
    [{ name: "x", http: "http://a/", interval: "1s", header: ["a"] }, /key "header": expected an object/],
    [{ name: "x", http: "http://a/", interval: "1s", header: { A: 1 } }, /header "A" must be a list of strings/],
    [{ name: 7, ttl: "1s" }, /key "name": expected a string, got number 7/],
    [{ name: "x", script: "curl localhost", interval: "1s" }, /key "script": the "script" field is no longer supported; use "args"/],
    [{ name: "x", Interval: "1s", interval: "2s", tcp: "a:1" }, /keys "Interval" and "interval" are the same key with different values/],
    [{ name: "x", http: "http://a/", tcp: "a:1", interval: "1s" }, /this one sets "http" and "tcp": keep exactly one/],
    [[{ name: "x" }], /a check definition must be a JSON object, got a list/],
    [null, /must be a JSON object, got null/],
    ["ttl", /must be a JSON object, got "ttl"/],
  ];
  for (const [raw, expected] of rows) t.regex(refused(raw), expected, JSON.stringify(raw));
});

test("errors carry the source as a prefix, and the bare detail and key for an HTTP 400", (t) => {
  const result = parseCheckDefinition({ name: "x", tcp: "a:1", interval: "soon" }, { source: "config file /etc/praetor.d/web.json" });
  t.false(result.ok);
  if (result.ok) return;
  t.true(result.error.message.startsWith("config file /etc/praetor.d/web.json: key \"interval\""), result.error.message);
  t.false(result.error.detail.includes("web.json"));
  t.is(result.error.key, "interval");
});

test("null values count as absent (Go clients send zero values, some JSON encoders send null)", (t) => {
  const def = parsed({ Name: "x", TTL: "5s", Notes: null, HTTP: null, ServiceID: null });
  t.is(def.notes, "");
  t.is(def.probe.kind, "ttl");
});

test("service definitions: `check` then `checks`, numbered as Consul numbers them; empty checks dropped", (t) => {
  const ctx = { source: "config file web.json", serviceId: "web-1", serviceName: "web" };
  const one = parseServiceChecks({ name: "web", check: { args: ["curl", "localhost:8080"], interval: "10s" } }, ctx);
  t.true(one.ok && one.definitions.map((d) => d.id).join() === "service:web-1");
  const many = parseServiceChecks({
    Checks: [{ tcp: "127.0.0.1:8080", interval: "5s" }, {}, { name: "beat", ttl: "30s" }],
    Check: { http: "http://127.0.0.1:8080/health", interval: "10s" },
  }, ctx);
  t.true(many.ok);
  if (!many.ok) return;
  t.deepEqual(many.definitions.map((d) => [d.id, d.name, d.probe.kind, d.serviceId]), [
    ["service:web-1:1", "Service 'web' check", "http", "web-1"],
    ["service:web-1:2", "Service 'web' check", "tcp", "web-1"],
    ["service:web-1:3", "beat", "ttl", "web-1"],
  ]);
  const none = parseServiceChecks({ name: "web", check: {} }, ctx);
  t.true(none.ok && none.definitions.length === 0);
});

test("service definitions: a bad check names its position and the service; a duplicate ID is refused", (t) => {
  const ctx = { source: "HTTP API", serviceId: "web", serviceName: "web" };
  const bad = parseServiceChecks({ checks: [{ ttl: "5s" }, { args: ["true"] }] }, ctx);
  t.false(bad.ok);
  if (!bad.ok) t.is(bad.error.message, 'HTTP API: Check is not valid (check 2 of service "web"): Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks');
  const dup = parseServiceChecks({ checks: [{ id: "x", ttl: "5s" }, { id: "x", ttl: "6s" }] }, ctx);
  t.false(dup.ok);
  if (!dup.ok) t.regex(dup.error.message, /defines check ID "x" twice/);
  const notList = parseServiceChecks({ checks: { ttl: "5s" } }, ctx);
  t.false(notList.ok);
  if (!notList.ok) t.regex(notList.error.message, /key "checks": expected a list of check definitions, got an object/);
});

test("record fields as /v1/agent/checks shows them: Type, and Go durations with 0s for unset", (t) => {
  t.deepEqual(checkRecordFields(parsed({ name: "h", http: "http://x/", interval: "10s", timeout: "1500ms" })), { Type: "http", Interval: "10s", Timeout: "1.5s" });
  t.deepEqual(checkRecordFields(parsed({ name: "b", ttl: "30s" })), { Type: "ttl", Interval: "0s", Timeout: "0s" });
  t.deepEqual(checkRecordFields(parsed({ args: ["true"], interval: "1m30s" }, inService("web"))), { Type: "script", Interval: "1m30s", Timeout: "0s" });
});
