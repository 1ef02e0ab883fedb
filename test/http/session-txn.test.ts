import test from "ava";
import { matrix, startApi } from "./harness.ts";

/** Tests that speak only HTTP run over the fake backend and against a real dev agent (127.0.4.x). */
const both = matrix(4);

const b64 = (text: string) => Buffer.from(text).toString("base64");

both("session: create with lower-case keys (python-consul), defaults to this node and serfHealth", async (t, api) => {
  const created = await api.put("/v1/session/create", { name: "s", ttl: "15.0s", lockdelay: "0.001s", behavior: "delete" });
  t.is(created.status, 200, created.text);
  const { ID } = created.json();
  t.regex(ID, /^[0-9a-f-]{36}$/);
  const info = await api.get(`/v1/session/info/${ID}`);
  const [session] = info.json();
  t.like(session, { ID, Name: "s", Node: "node-a", TTL: "15.0s", Behavior: "delete", LockDelay: 1_000_000, NodeChecks: ["serfHealth"] });
  t.truthy(info.headers.get("x-consul-index"));
});

both("session: LockDelay as a bare number below 1000 is seconds; Checks: [] binds no checks", async (t, api) => {
  const { ID } = (await api.put("/v1/session/create", { LockDelay: 7, Checks: [] })).json();
  const [session] = (await api.get(`/v1/session/info/${ID}`)).json();
  t.is(session.LockDelay, 7_000_000_000);
  t.deepEqual(session.Checks, []);
  t.deepEqual(session.NodeChecks, []);
  const empty = await api.put("/v1/session/create", "");
  t.is(empty.status, 200, "an empty body creates a default session");
});

both("session: bad TTL and unknown nodes are Consul's 500s; malformed bodies are 400s", async (t, api) => {
  const ttl = await api.put("/v1/session/create", { TTL: "5s" });
  t.is(ttl.status, 500);
  t.regex(ttl.text, /^Invalid Session TTL '5000000000', must be between \[10s=24h0m0s\]/);
  const node = await api.put("/v1/session/create", { Node: "ghost" });
  t.is(node.status, 500);
  t.is(node.text, "Missing node registration");
  const json = await api.put("/v1/session/create", "{name:");
  t.is(json.status, 400);
  t.regex(json.text, /^Request decode failed: /);
  const list = await api.put("/v1/session/create", "[1]");
  t.is(list.status, 400);
  const badDelay = await api.put("/v1/session/create", { LockDelay: "soon" });
  t.is(badDelay.status, 400);
  t.regex(badDelay.text, /LockDelay/);
  t.is((await api.put("/v1/session/create", { Name: 5 })).status, 400);
});

both("session: list, node, renew and destroy; renew of an unknown session is Consul's 404", async (t, api) => {
  const { ID } = (await api.put("/v1/session/create", { TTL: "20s" })).json();
  t.deepEqual((await api.get("/v1/session/list")).json().map((s: { ID: string }) => s.ID), [ID]);
  t.deepEqual((await api.get("/v1/session/node/node-a")).json().map((s: { ID: string }) => s.ID), [ID]);
  t.deepEqual((await api.get("/v1/session/node/ghost")).json(), []);
  const renewed = await api.put(`/v1/session/renew/${ID}`);
  t.is(renewed.status, 200);
  t.is(renewed.json()[0].ID, ID);
  t.is((await api.put(`/v1/session/destroy/${ID}`)).text, "true");
  t.deepEqual((await api.get(`/v1/session/info/${ID}`)).json(), []);
  const gone = await api.put(`/v1/session/renew/${ID}`);
  t.is(gone.status, 404);
  t.is(gone.text, `Session id '${ID}' not found`);
  t.is((await api.put("/v1/session/destroy/")).text, "Missing session id");
  t.is((await api.get("/v1/session/renew/x")).status, 405);
});

both("session: acquire and release through KV; an unknown session is 500 invalid session", async (t, api) => {
  const { ID } = (await api.put("/v1/session/create", { LockDelay: "0s" })).json();
  t.is((await api.put(`/v1/kv/lock?acquire=${ID}`, "me")).text, "true");
  const held = (await api.get("/v1/kv/lock")).json()[0];
  t.is(held.Session, ID);
  t.is(held.LockIndex, 1);
  t.is((await api.put(`/v1/kv/lock?release=${ID}`, "me")).text, "true");
  t.false("Session" in (await api.get("/v1/kv/lock")).json()[0]);
  const bogus = await api.put("/v1/kv/lock?acquire=00000000-0000-0000-0000-000000000000", "x");
  t.is(bogus.status, 500);
  t.is(bogus.text, 'invalid session "00000000-0000-0000-0000-000000000000"');
});

both("txn: set and cas answer Results with the entries (values null for writes) and Errors null", async (t, api) => {
  const res = await api.put("/v1/txn", [
    { KV: { Verb: "set", Key: "t/1", Value: b64("v1"), Flags: 3 } },
    { kv: { verb: "cas", key: "t/2", value: b64("v2"), index: 0 } },
  ]);
  t.is(res.status, 200, res.text);
  const body = res.json();
  t.is(body.Errors, null);
  t.deepEqual(body.Results.map((r: { KV: { Key: string; Value: unknown; Flags: number } }) => [r.KV.Key, r.KV.Value, r.KV.Flags]), [["t/1", null, 3], ["t/2", null, 0]]);
  t.is(Buffer.from((await api.get("/v1/kv/t/2")).json()[0].Value, "base64").toString(), "v2");
});

test("txn: only reads is answered without a write, with values in base64 and the read headers", async (t) => {
  const api = await startApi(t);
  await api.put("/v1/kv/r/a", "A");
  await api.put("/v1/kv/r/b", "B");
  const writes = api.backend.calls.filter((c) => c.method === "write").length;
  const res = await api.put("/v1/txn", [{ KV: { Verb: "get", Key: "r/a" } }, { KV: { Verb: "get-tree", Key: "r/" } }]);
  t.is(res.status, 200, res.text);
  t.is(api.backend.calls.filter((c) => c.method === "write").length, writes, "no write for a read-only txn");
  t.truthy(res.headers.get("x-consul-index"));
  const values = res.json().Results.map((r: { KV: { Value: string } }) => Buffer.from(r.KV.Value, "base64").toString());
  t.deepEqual(values, ["A", "A", "B"]);
  const miss = await api.put("/v1/txn", [{ KV: { Verb: "get", Key: "r/none" } }]);
  t.is(miss.status, 409);
  t.deepEqual(miss.json(), { Results: null, Errors: [{ OpIndex: 0, What: 'key "r/none" doesn\'t exist' }] });
});

both("txn: a failing op rolls everything back: 409 with Errors naming OpIndex", async (t, api) => {
  await api.put("/v1/kv/x", "1");
  const res = await api.put("/v1/txn", [{ KV: { Verb: "set", Key: "y", Value: "" } }, { KV: { Verb: "check-index", Key: "x", Index: 999 } }]);
  t.is(res.status, 409);
  t.regex(res.headers.get("content-type") ?? "", /json/);
  const body = res.json();
  t.is(body.Results, null);
  t.is(body.Errors.length, 1);
  t.is(body.Errors[0].OpIndex, 1);
  t.regex(body.Errors[0].What, /failed index check for key "x"/);
  t.is((await api.get("/v1/kv/y")).status, 404);
});

both("txn: 128 operations pass, 129 is 413; bodies that are not a list of ops are 400s", async (t, api) => {
  const ops = (n: number) => Array.from({ length: n }, (_, i) => ({ KV: { Verb: "set", Key: `many/${i}`, Value: b64("v") } }));
  t.is((await api.put("/v1/txn", ops(128))).status, 200);
  const tooMany = await api.put("/v1/txn", ops(129));
  t.is(tooMany.status, 413);
  t.is(tooMany.text, "Transaction contains too many operations (129 > 128)");
  for (const bad of ['{"KV":{}}', "nope", '[{"KV":{"Verb":"explode","Key":"k"}}]', '[{"KV":{"Verb":"set","Key":"k","Value":"%%%"}}]', "[1]"]) {
    const res = await api.put("/v1/txn", bad);
    t.is(res.status, 400, `${bad}: ${res.status} ${res.text}`);
    t.true(res.text.length > 0, `${bad}: a reason is given`);
  }
});
