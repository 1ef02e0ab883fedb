import test from "ava";
import { Decoder, Encoder } from "@msgpack/msgpack";
import { inspectSnapshot } from "../../src/core/catalog/snapshot.ts";
import { Script } from "./harness.ts";
import { Catalog, type PreparedQueryInput } from "./imports.ts";

const id1 = "11111111-1111-4111-8111-111111111111";
const id2 = "22222222-2222-4222-8222-222222222222";
const id3 = "33333333-3333-4333-8333-333333333333";

function create(s: Script, id: string, query: PreparedQueryInput): unknown {
  return s.ok({ op: "query", Verb: "create", Query: { ...query, ID: id } });
}

/** web on n1 (passing, tags v1+primary), n2 (warning, v1), n3 (critical, v2); n2 and n3 meta rack=b. */
function world(): Script {
  const s = new Script();
  for (const node of ["n1", "n2", "n3"]) s.node(node, node === "n1" ? {} : { NodeMeta: { rack: "b" } });
  s.service("n1", "web", { ID: "web", Tags: ["v1", "Primary"], Meta: { version: "1" } }, [{ CheckID: "web-ok", Status: "passing", ServiceID: "web" }]);
  s.service("n2", "web", { ID: "web", Tags: ["v1"], Meta: { version: "2" } }, [{ CheckID: "web-ok", Status: "warning", ServiceID: "web" }]);
  s.service("n3", "web", { ID: "web", Tags: ["v2"] }, [{ CheckID: "web-ok", Status: "critical", ServiceID: "web" }]);
  return s;
}

function nodesOf(s: Script, idOrName: string): string[] {
  const value = s.catalog.preparedQueryExecute(idOrName).value;
  if (!value.ok) throw new Error(value.message);
  return value.result.Nodes.map((entry) => entry.Node.Node).sort();
}

test("create, get, list, update and delete go through the log with table indexes", (t) => {
  const s = world();
  t.deepEqual(s.catalog.preparedQueryList().value, []);
  t.deepEqual(create(s, id1, { Name: "web", Service: { Service: "web" }, DNS: { TTL: "10s" } }), { ID: id1 });
  const createdAt = s.index;
  const [query] = s.catalog.preparedQueryGet(id1).value;
  t.like(query, { ID: id1, Name: "web", Service: { Service: "web", Tags: [], OnlyPassing: false }, DNS: { TTL: "10s" }, CreateIndex: createdAt, ModifyIndex: createdAt });
  t.is(s.catalog.preparedQueryList().index, createdAt);
  t.is(s.ok({ op: "query", Verb: "update", Query: { ID: id1, Name: "web", Service: { Service: "web", OnlyPassing: true } } }), null);
  t.like(s.catalog.preparedQueryGet(id1).value[0], { CreateIndex: createdAt, ModifyIndex: s.index, Service: { OnlyPassing: true }, DNS: { TTL: "" } });
  s.ok({ op: "query", Verb: "delete", Query: { ID: id1 } });
  t.deepEqual(s.catalog.preparedQueryGet(id1).value, []);
  t.is(s.catalog.preparedQueryList().index, s.index);
  t.deepEqual(s.err({ op: "query", Verb: "delete", Query: { ID: id1 } }), { status: 500, message: `Cannot modify non-existent prepared query: '${id1}'` });
  t.deepEqual(s.err({ op: "query", Verb: "update", Query: { ID: id2, Service: { Service: "web" }, Name: "x" } }), { status: 500, message: `Cannot modify non-existent prepared query: '${id2}'` });
  s.catalog.invariants();
});

test("validation has Consul's parseQuery and state store wording", (t) => {
  const s = world();
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: id1, Name: "x", Service: {} } }).message, "Invalid prepared query: Must provide a Service name to query");
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: id1, Service: { Service: "web" } } }).message, "Invalid prepared query: Must be bound to a session");
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: id1, Name: "x", Service: { Service: "web", Failover: { NearestN: -1 } } } }).message, "Invalid prepared query: Bad NearestN '-1', must be >= 0");
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: id1, Name: "x", Service: { Service: "web" }, DNS: { TTL: "soon" } } }).message, `Invalid prepared query: Bad DNS TTL 'soon': time: invalid duration "soon"`);
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: id1, Name: "x", Session: "nope", Service: { Service: "web" } } }).message, `invalid session "nope"`);
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: "q1", Name: "x", Service: { Service: "web" } } }).message, `Prepared query ID "q1" is not a UUID`);
  t.is(s.err({ op: "query", Verb: "create", Query: { Name: "x", Service: { Service: "web" } } }).message, "Missing Query ID");
  create(s, id1, { Name: "Web", Service: { Service: "web" } });
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: id2, Name: "web", Service: { Service: "web" } } }).message, "name 'web' aliases an existing query name");
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: id2, Name: id1, Service: { Service: "web" } } }).message, `name '${id1}' aliases an existing query ID`);
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: id2, Name: "t", Template: { Type: "other" }, Service: { Service: "web" } } }).message, "Bad Template.Type 'other'");
  t.regex(s.err({ op: "query", Verb: "create", Query: { ID: id2, Name: "t", Template: { Type: "name_prefix_match", Regexp: "(" }, Service: { Service: "web" } } }).message, /^Bad Regexp: /);
  t.regex(s.err({ op: "query", Verb: "create", Query: { ID: id2, Name: "t", Template: { Type: "name_prefix_match" }, Service: { Service: "${nope}" } } }).message, /^Bad format '\$\{nope\}' in Service\.Service/);
  create(s, id2, { Template: { Type: "name_prefix_match" }, Service: { Service: "${name.full}" } });
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: id3, Template: { Type: "name_prefix_match" }, Service: { Service: "x" } } }).message, "a query template with an empty name already exists");
  // A malformed body never reaches apply: it is refused as it decodes.
  t.is(s.err({ op: "query", Verb: "create", Query: { ID: id3, Name: 7 } as unknown as PreparedQueryInput }).status, 400);
  t.is(s.err({ op: "query", Verb: "move", Query: { ID: id3 } } as never).message, "unknown prepared query operation: move");
  s.catalog.invariants();
});

test("execute filters by health, OnlyPassing, IgnoreCheckIDs, tags with !exclusion, node and service meta", (t) => {
  const s = world();
  create(s, id1, { Name: "all", Service: { Service: "web" } });
  t.deepEqual(nodesOf(s, "all"), ["n1", "n2"]);
  create(s, id2, { Name: "passing", Service: { Service: "web", OnlyPassing: true } });
  t.deepEqual(nodesOf(s, "passing"), ["n1"]);
  create(s, id3, { Name: "ignoring", Service: { Service: "web", IgnoreCheckIDs: ["web-ok"] } });
  t.deepEqual(nodesOf(s, "IGNORING"), ["n1", "n2", "n3"], "names resolve case-insensitively");
  const more = ["44444444-4444-4444-8444-444444444444", "55555555-5555-4555-8555-555555555555", "66666666-6666-4666-8666-666666666666", "77777777-7777-4777-8777-777777777777"];
  create(s, more[0]!, { Name: "v1-not-primary", Service: { Service: "web", Tags: ["V1", "!primary"] } });
  t.deepEqual(nodesOf(s, "v1-not-primary"), ["n2"]);
  create(s, more[1]!, { Name: "rack-b", Service: { Service: "web", NodeMeta: { rack: "b" }, IgnoreCheckIDs: ["web-ok"] } });
  t.deepEqual(nodesOf(s, "rack-b"), ["n2", "n3"]);
  create(s, more[2]!, { Name: "version-2", Service: { Service: "web", ServiceMeta: { version: "2" } } });
  t.deepEqual(nodesOf(s, "version-2"), ["n2"]);
  const value = s.catalog.preparedQueryExecute(id1).value;
  t.true(value.ok);
  if (value.ok) t.like(value.result, { Service: "web", Datacenter: "dc1", Failovers: 0, DNS: { TTL: "" } });
  t.deepEqual(s.catalog.preparedQueryExecute("missing").value, { ok: false, notFound: true, message: "Query not found" });
  create(s, more[3]!, { Name: "mesh", Service: { Service: "web", Connect: true } });
  t.deepEqual(s.catalog.preparedQueryExecute("mesh").value, { ok: false, notFound: false, message: "Connect-capable lookups are not supported by Praetor" }, "never plain instances for a Connect query");
  t.deepEqual(s.catalog.preparedQueryExecute("").value, { ok: false, notFound: true, message: "Query not found" });
});

test("a template answers for the longest matching prefix, rendered with name parts and regexp matches", (t) => {
  const s = world();
  s.service("n1", "db-primary", { ID: "db" });
  create(s, id1, { Name: "", Template: { Type: "name_prefix_match" }, Service: { Service: "${name.full}" } });
  create(s, id2, {
    Name: "geo-", Template: { Type: "name_prefix_match", Regexp: "^geo-([a-z]+)-(.*)$", RemoveEmptyTags: true },
    Service: { Service: "${match(1)}", Tags: ["${match(2)}", "${match(7)}"], Near: "_agent" },
  });
  t.deepEqual(nodesOf(s, "web"), ["n1", "n2"], "the empty-named template catches every name");
  t.deepEqual(nodesOf(s, "db-primary"), ["n1"]);
  const explained = s.catalog.preparedQueryExplain("geo-web-v1").value;
  t.true(explained.ok);
  if (explained.ok) t.like(explained.query, { ID: id2, Name: "geo-", Service: { Service: "web", Tags: ["v1"], Near: "_agent" } });
  t.deepEqual(nodesOf(s, "geo-web-v1"), ["n1", "n2"]);
  const executed = s.catalog.preparedQueryExecute("geo-web-v1").value;
  t.true(executed.ok && executed.result.near === "_agent");
  // The stored template is untouched by rendering.
  t.like(s.catalog.preparedQueryGet(id2).value[0], { Service: { Service: "${match(1)}", Tags: ["${match(2)}", "${match(7)}"] } });
  // An exact name beats a template prefix.
  create(s, id3, { Name: "geo-web-v2", Service: { Service: "db-primary" } });
  t.deepEqual(nodesOf(s, "geo-web-v2"), ["n1"]);
  t.like(s.catalog.preparedQueryExplain("geo-web-v2").value, { ok: true, query: { ID: id3 } });
});

test("invalidating the session deletes the queries bound to it", (t) => {
  const s = world();
  s.session("s1", "n1");
  create(s, id1, { Session: "s1", Service: { Service: "web" } });
  create(s, id2, { Name: "kept", Service: { Service: "web" } });
  t.deepEqual(nodesOf(s, id1), ["n1", "n2"], "an anonymous query answers by its ID");
  s.ok({ op: "session.destroy", ID: "s1" });
  t.deepEqual(s.catalog.preparedQueryList().value.map((q) => q.ID), [id2]);
  t.is(s.catalog.preparedQueryList().index, s.index);
  s.catalog.invariants();
});

test("snapshots carry prepared queries; a catalog without any writes the bytes it always wrote", (t) => {
  const s = world();
  const before = s.catalog.snapshot();
  const empty = new Catalog();
  empty.restore(before);
  t.deepEqual(empty.snapshot(), before);
  s.session("s1", "n1");
  create(s, id1, { Session: "s1", Service: { Service: "web", Tags: ["v1"] }, DNS: { TTL: "5s" } });
  create(s, id2, { Name: "t-", Template: { Type: "name_prefix_match" }, Service: { Service: "${name.suffix}" } });
  const restored = new Catalog();
  restored.restore(s.catalog.snapshot());
  restored.invariants();
  t.deepEqual(restored.preparedQueryList(), s.catalog.preparedQueryList());
  t.deepEqual(JSON.stringify(restored.preparedQueryList().value), JSON.stringify(s.catalog.preparedQueryList().value), "field order survives");
  t.deepEqual(restored.snapshot(), s.catalog.snapshot());
  t.deepEqual(restored.preparedQueryExecute("t-web"), s.catalog.preparedQueryExecute("t-web"));
  const summary = inspectSnapshot(s.catalog.snapshot());
  t.is(typeof summary === "string" ? summary : summary.types.find((type) => type.type === "PreparedQuery")?.count, 2, "snapshot inspect counts them");
});

test("an operator restore carries the queries, and refuses an archive whose query names a missing session", (t) => {
  const s = world();
  s.session("s1", "n1");
  create(s, id1, { Session: "s1", Service: { Service: "web" } });
  const archive = s.catalog.snapshot();
  const target = new Script();
  target.node("x");
  target.ok({ op: "snapshot.restore", Data: archive });
  t.deepEqual(target.catalog.preparedQueryList().value.map((q) => q.ID), [id1]);
  t.is(target.catalog.preparedQueryList().index, target.index);
  target.catalog.invariants();
  const data = new Decoder().decode(archive) as { sessions: unknown[] };
  data.sessions = [];
  const orphaned = new Encoder({ sortKeys: true }).encode(data);
  t.regex(target.err({ op: "snapshot.restore", Data: orphaned }).message, /prepared query .* bound to missing session s1/);
  t.deepEqual(target.catalog.preparedQueryList().value.map((q) => q.ID), [id1], "nothing changed");
  target.catalog.invariants();
});
