/**
 * The HTTP API under random requests: every route, random methods, random and malformed query
 * parameters, random JSON, malformed JSON and raw bytes as bodies. Whatever arrives:
 *   - the server answers (no crash, no hang) and keeps answering;
 *   - nothing reaches the "request failed" path (an unexpected exception, logged as an error);
 *   - a 500 is only one of Consul's own 500 answers (`invalid session`, `No path to datacenter`...),
 *     and a 503 only the local service health of a critical service;
 *   - every 4xx but a bare 404 miss carries a reason.
 */
import test from "ava";
import fc from "fast-check";
import { Router } from "../src/http/routes.ts";
import { startApi } from "../test/http/harness.ts";

/** 500s Consul itself answers with, for requests that are well formed but refused by the agent. */
const consul500 = /^(Connect-capable lookups are not supported|invalid session|Error decoding key|Must provide |Invalid (node|service|tag) filter: |Cannot provide tag filter without service filter|Invalid Session TTL|Session TTL|Missing node registration|No path to datacenter|Missing check|Check '|failed to restore snapshot|1 error occurred|cannot find peer|id "|address "|missing session|Invalid session behavior|Session ID|Invalid prepared query: |Cannot modify non-existent prepared query|ID must be empty when creating|name '|a query template with an empty name|Bad Template\.Type|Bad Regexp|Bad format|Bad DNS TTL)/;

const routes = new Router().list().filter((route) => !route.includes("/v1/agent/monitor"));

const word = fc.oneof(fc.constantFrom("", "a", "web", "node-a", "serfHealth", "dc1", "dc2", "1", "0", "-1", "true", "false", "%", "%zz", "../..", "a/b", "é", "🙂", " "), fc.string({ maxLength: 8 }));
const paramNames = ["index", "wait", "stale", "consistent", "max_stale", "cas", "flags", "acquire", "release", "recurse", "keys", "separator", "raw", "filter",
  "passing", "tag", "node-meta", "dc", "token", "pretty", "enable", "reason", "note", "wan", "prune", "segment", "format", "name", "node", "service", "id", "address",
  "replace-existing-checks", "near", "cached", "limit", "connect"];
const filterText = fc.oneof(word, fc.constantFrom("Service == web", "Port ==", "(", "not", "a in b", 'x matches "("', "Meta.env is empty", "A == `b", "\\"));
const param = fc.oneof(
  fc.tuple(fc.constantFrom(...paramNames), word),
  fc.tuple(fc.constant("filter"), filterText),
  fc.tuple(word, word),
);
const jsonBody = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v));
const shapedBody = fc.record({
  Name: word, name: word, Node: word, Address: word, ID: word, TTL: fc.oneof(word, fc.constantFrom("10s", "15.0s", "5s", "25h")), LockDelay: fc.oneof(word, fc.integer(), fc.double()),
  Behavior: fc.constantFrom("release", "delete", "bogus"), Checks: fc.array(word, { maxLength: 2 }), Service: fc.oneof(word, fc.record({ Service: word, Port: fc.oneof(fc.integer(), word), Tags: fc.array(word) })),
  Status: word, Output: fc.oneof(word, fc.integer()), Check: fc.record({ CheckID: word, Name: word, Status: word, TTL: word }),
}, { requiredKeys: [] }).map((v) => JSON.stringify(v));
/** Prepared query bodies: templates with interpolations and regexps, TTLs, sessions, filters. */
const preparedQueryBody = fc.record({
  Name: word, Session: word, Token: word,
  Template: fc.record({ Type: fc.constantFrom("name_prefix_match", "", "bogus"), Regexp: fc.constantFrom("", "^(.*)$", "(", "(a+)+$", "[z-a]"), RemoveEmptyTags: fc.boolean() }, { requiredKeys: [] }),
  Service: fc.record({
    Service: fc.oneof(word, fc.constantFrom("${name.full}", "${match(1)}", "${nope}", "${", "$${x}", "web")),
    Tags: fc.array(fc.oneof(word, fc.constantFrom("!v1", "${match(2)}")), { maxLength: 3 }),
    OnlyPassing: fc.oneof({ arbitrary: fc.boolean(), weight: 9 }, { arbitrary: word, weight: 1 }),
    Failover: fc.record({ NearestN: fc.oneof({ arbitrary: fc.integer({ min: -1, max: 3 }), weight: 9 }, { arbitrary: word, weight: 1 }), Datacenters: fc.array(word, { maxLength: 2 }) }, { requiredKeys: [] }),
    NodeMeta: fc.dictionary(word, word, { maxKeys: 2 }), IgnoreCheckIDs: fc.array(word, { maxLength: 2 }), Near: word,
    Connect: fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 }),
  }, { requiredKeys: ["Service"] }),
  DNS: fc.record({ TTL: fc.oneof(word, fc.constantFrom("10s", "-1s", "1x")) }, { requiredKeys: [] }),
}, { requiredKeys: ["Service"] }).map((v) => JSON.stringify(v));
const txnBody = fc.array(fc.record({ KV: fc.record({ Verb: fc.constantFrom("set", "get", "cas", "lock", "unlock", "delete", "get-tree", "check-index", "bogus"), Key: word, Value: fc.oneof(word, fc.constant("dmFsdWU=")), Index: fc.oneof(fc.nat(), word), Session: word }, { requiredKeys: [] }) }), { maxLength: 4 }).map((v) => JSON.stringify(v));
const body = fc.oneof(fc.constant(undefined), jsonBody, shapedBody, txnBody, preparedQueryBody, fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 64 }));
const request = fc.record({
  route: fc.constantFrom(...routes),
  method: fc.oneof({ arbitrary: fc.constant("route"), weight: 5 }, { arbitrary: fc.constantFrom("GET", "PUT", "POST", "DELETE", "PATCH"), weight: 1 }),
  suffix: fc.oneof(fc.constant(""), word),
  params: fc.array(param, { maxLength: 5 }),
  body,
});

test("http: random requests to every route get an answer, never an unexpected 500 or crash", async (t) => {
  const api = await startApi(t);
  await api.put("/v1/kv/a", "1");
  await api.put("/v1/session/create", { Name: "s" });
  let answered = 0;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(request, async ({ route, method, suffix, params, body }) => {
      const [routeMethod, pattern] = route.split(" ") as [string, string];
      const path = pattern.endsWith("*") ? pattern.slice(0, -1) + encodeURIComponent(suffix).replace(/%2F/g, "/") : pattern;
      const query = new URLSearchParams(params);
      // A blocking read waits at most a few milliseconds here.
      if (query.has("index")) query.set("wait", "5ms");
      const qs = query.toString();
      const res = await api.call(method === "route" ? routeMethod : method, path + (qs === "" ? "" : `?${qs}`), body);
      answered++;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      // Local service health answers 429/503 by design (Consul's codes for warning and critical).
      const healthCode = path.startsWith("/v1/agent/health/service/") && (res.status === 429 || res.status === 503);
      if (res.status >= 500 && !healthCode) {
        if (res.status !== 500 || !consul500.test(res.text)) throw new Error(`${method} ${path}?${qs}: ${res.status} ${res.text}`);
      }
      if (res.status >= 400 && res.status < 500 && res.status !== 404 && res.text === "") throw new Error(`${path}?${qs}: ${res.status} without a reason`);
      const errors = api.logged.filter((entry) => entry.level === "error");
      if (errors.length > 0) throw new Error(`${path}?${qs}: logged ${errors[0]!.message}: ${String((errors[0]!.fields as { err?: unknown }).err)}`);
    }),
    { numRuns: 1500 },
  );
  t.log(`statuses: ${JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]))}`);
  t.true(answered >= 1500);
  t.true((statuses.get(200) ?? 0) > answered / 10, "a fair share of requests succeed, so the handlers are reached");
  t.is((await api.get("/v1/status/leader")).status, 200, "the server still answers");
});

test("http: random prepared queries then random executions by name keep the catalog's invariants and Consul's statuses", async (t) => {
  const api = await startApi(t);
  await api.put("/v1/catalog/register", { Node: "n1", Address: "10.0.0.1", Service: { Service: "web", Tags: ["v1"] } });
  const session = (await api.put("/v1/session/create", { Name: "s" })).json<{ ID: string }>().ID;
  let created = 0;
  await fc.assert(
    fc.asyncProperty(preparedQueryBody, fc.boolean(), fc.oneof(word, fc.constantFrom("web", "geo-web", "")), fc.constantFrom("execute", "explain"), async (body, bound, name, action) => {
      const sent = bound ? JSON.stringify({ ...JSON.parse(body), Session: session }) : body;
      const res = await api.call("POST", "/v1/query", sent);
      if (res.status === 200) created++;
      else if (!(res.status === 400 || (res.status === 500 && consul500.test(res.text)))) throw new Error(`create ${sent}: ${res.status} ${res.text}`);
      const run = await api.get(`/v1/query/${encodeURIComponent(name)}/${action}`);
      if (!([200, 404].includes(run.status) || (run.status === 500 && consul500.test(run.text)))) throw new Error(`${action} ${name}: ${run.status} ${run.text}`);
      if (run.status === 404 && run.text !== "Query not found" && name !== "") throw new Error(`${action} ${name}: 404 ${run.text}`);
      api.backend.catalog.invariants();
      if (api.logged.some((entry) => entry.level === "error")) throw new Error(`logged an error after ${sent}`);
    }),
    { numRuns: 400 },
  );
  t.log(`created ${created} prepared queries of 400`);
  t.true(created > 20, "a fair share of bodies are valid, so execute reaches real queries");
  await api.put(`/v1/session/destroy/${session}`);
  api.backend.catalog.invariants();
  t.false((await api.get("/v1/query")).json<{ Session: string }[]>().some((q) => q.Session === session), "the session's queries went with it");
});
