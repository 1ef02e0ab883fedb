import test from "ava";
import { matrix, startApi } from "./harness.ts";

/** Tests that speak only HTTP run over the fake backend and against a real dev agent (127.0.2.x). */
const both = matrix(2);

both("kv: PUT answers true, GET returns Consul's entry with base64 Value and the read headers", async (t, api) => {
  const put = await api.put("/v1/kv/app/config", "hello");
  t.is(put.status, 200);
  t.is(put.text, "true");
  t.regex(put.headers.get("content-type") ?? "", /application\/json/);
  const got = await api.get("/v1/kv/app/config");
  t.is(got.status, 200);
  const [entry] = got.json();
  t.deepEqual(Object.keys(entry), ["LockIndex", "Key", "Flags", "Value", "CreateIndex", "ModifyIndex"]);
  t.is(entry.Key, "app/config");
  t.is(Buffer.from(entry.Value, "base64").toString(), "hello");
  t.is(got.headers.get("x-consul-index"), String(entry.ModifyIndex));
  t.is(got.headers.get("x-consul-knownleader"), "true");
  t.is(got.headers.get("x-consul-lastcontact"), "0");
  t.is(got.headers.get("x-consul-effective-consistency"), "leader");
});

both("kv: a missing key is 404 with X-Consul-Index (python-consul reads it), never 0", async (t, api) => {
  const miss = await api.get("/v1/kv/nope");
  t.is(miss.status, 404);
  t.is(miss.text, "");
  const index = Number(miss.headers.get("x-consul-index"));
  t.true(index >= 1, `X-Consul-Index ${miss.headers.get("x-consul-index")}`);
  t.is((await api.get("/v1/kv/nope/?recurse")).status, 404);
  t.is((await api.get("/v1/kv/nope/?keys")).status, 404);
  t.truthy((await api.get("/v1/kv/nope/?keys")).headers.get("x-consul-index"));
});

both("kv: an empty value stored is Value null; ?raw returns the bytes as they are", async (t, api) => {
  t.is((await api.put("/v1/kv/empty", "")).text, "true");
  t.is((await api.get("/v1/kv/empty")).json()[0].Value, null);
  t.is((await api.get("/v1/kv/empty?raw")).text, "");
  const bytes = new Uint8Array([0, 255, 10, 13, 128]);
  await api.put("/v1/kv/bin", bytes);
  const raw = await api.get("/v1/kv/bin?raw");
  t.is(raw.status, 200);
  t.deepEqual([...raw.bytes], [...bytes]);
  t.is(raw.headers.get("x-content-type-options"), "nosniff");
  t.truthy(raw.headers.get("x-consul-index"));
});

both("kv: ?flags is stored; bad ?flags is a 400 naming it", async (t, api) => {
  t.is((await api.put("/v1/kv/f?flags=42", "x")).text, "true");
  t.is((await api.get("/v1/kv/f")).json()[0].Flags, 42);
  const bad = await api.put("/v1/kv/f?flags=-1", "x");
  t.is(bad.status, 400);
  t.regex(bad.text, /Invalid flags/);
});

both("kv: ?flags is a uint64 (the Go api's Lock and Semaphore flags) and comes back digit for digit", async (t, api) => {
  // Parsed as JSON these would round: the text is checked, as Go's decoder reads it.
  t.is((await api.put("/v1/kv/lock/.lock?flags=3304740253564472344", "")).text, "true");
  t.regex((await api.get("/v1/kv/lock/.lock")).text, /"Flags":3304740253564472344,/);
  t.regex((await api.get("/v1/kv/lock/?recurse&pretty")).text, /"Flags": 3304740253564472344,/);
  t.is((await api.put("/v1/kv/max?flags=18446744073709551615", "")).text, "true");
  t.regex((await api.get("/v1/kv/max")).text, /"Flags":18446744073709551615,/);
  // A blocking read (what api.Lock's monitor does) compares answers to wake its waiters.
  const index = (await api.get("/v1/kv/lock/.lock")).headers.get("x-consul-index");
  const blocked = api.get(`/v1/kv/lock/.lock?index=${index}&wait=10s`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is((await api.put("/v1/kv/lock/.lock?flags=3304740253564472345", "")).text, "true");
  const woken = await blocked;
  t.is(woken.status, 200);
  t.regex(woken.text, /"Flags":3304740253564472345,/);
  const over = await api.put("/v1/kv/max?flags=18446744073709551616", "");
  t.is(over.status, 400);
  t.regex(over.text, /Invalid flags/);
});

both("kv: ?cas=0 creates only, ?cas=<ModifyIndex> replaces, a stale cas is false", async (t, api) => {
  t.is((await api.put("/v1/kv/c?cas=0", "1")).text, "true");
  t.is((await api.put("/v1/kv/c?cas=0", "2")).text, "false");
  const index = (await api.get("/v1/kv/c")).json()[0].ModifyIndex;
  t.is((await api.put(`/v1/kv/c?cas=${index - 1}`, "3")).text, "false");
  t.is((await api.put(`/v1/kv/c?cas=${index}`, "3")).text, "true");
  t.is(Buffer.from((await api.get("/v1/kv/c")).json()[0].Value, "base64").toString(), "3");
  t.is((await api.put("/v1/kv/c?cas=abc", "3")).status, 400);
});

both("kv: ?recurse lists a prefix, ?keys with ?separator folds sub-folders", async (t, api) => {
  for (const key of ["dir/x", "dir/y", "dir/sub/z", "other"]) await api.put(`/v1/kv/${key}`, key);
  const list = (await api.get("/v1/kv/dir/?recurse")).json();
  t.deepEqual(list.map((e: { Key: string }) => e.Key), ["dir/sub/z", "dir/x", "dir/y"]);
  t.deepEqual((await api.get("/v1/kv/dir/?keys&separator=/")).json(), ["dir/sub/", "dir/x", "dir/y"]);
  t.deepEqual((await api.get("/v1/kv/dir/?keys")).json(), ["dir/sub/z", "dir/x", "dir/y"]);
  t.deepEqual((await api.get("/v1/kv/?keys&separator=/")).json(), ["dir/", "other"]);
  const all = (await api.get("/v1/kv/?recurse")).json();
  t.is(all.length, 4);
});

both("kv: DELETE answers true, ?recurse removes a prefix, ?cas deletes only at the index", async (t, api) => {
  for (const key of ["d/a", "d/b", "e"]) await api.put(`/v1/kv/${key}`, "v");
  t.is((await api.del("/v1/kv/d/?recurse")).text, "true");
  t.is((await api.get("/v1/kv/d/?recurse")).status, 404);
  const index = (await api.get("/v1/kv/e")).json()[0].ModifyIndex;
  t.is((await api.del(`/v1/kv/e?cas=${index + 5}`)).text, "false");
  t.is((await api.del(`/v1/kv/e?cas=${index}`)).text, "true");
  t.is((await api.get("/v1/kv/e")).status, 404);
});

both("kv: conflicting flags, a missing key name and a key with encoded characters", async (t, api) => {
  const conflict = await api.put("/v1/kv/x?cas=0&acquire=abc", "v");
  t.is(conflict.status, 400);
  t.regex(conflict.text, /^Conflicting flags: /);
  t.is((await api.call("DELETE", "/v1/kv/x?recurse&cas=1")).status, 400);
  const missing = await api.put("/v1/kv/", "v");
  t.is(missing.status, 400);
  t.is(missing.text, "Missing key name");
  t.is((await api.get("/v1/kv/")).text, "Missing key name");
  t.is((await api.del("/v1/kv/")).status, 400);
  t.is((await api.put("/v1/kv/a%20b%2Fc", "v")).text, "true");
  t.is((await api.get("/v1/kv/a b/c")).json()[0].Key, "a b/c");
  t.is((await api.get("/v1/kv/%E0%A4%A")).status, 400);
});

both("kv: a value over 512 KiB is 413 with Consul's message; exactly 512 KiB is stored", async (t, api) => {
  const max = 512 * 1024;
  const tooBig = await api.put("/v1/kv/big", new Uint8Array(max + 1));
  t.is(tooBig.status, 413);
  t.is(tooBig.text, `Request body(${max + 1} bytes) too large, max size: ${max} bytes`);
  t.is((await api.put("/v1/kv/big", new Uint8Array(max))).text, "true");
});

test("kv: the token is carried in order ?token, X-Consul-Token, Authorization: Bearer", async (t) => {
  const api = await startApi(t);
  const tokens = () => api.backend.calls.filter((c) => c.method === "query").map((c) => (c.args[1] as { token?: string }).token);
  await api.get("/v1/kv/t?token=q", { "X-Consul-Token": "h", Authorization: "Bearer b" });
  await api.get("/v1/kv/t", { "X-Consul-Token": "h", Authorization: "Bearer b" });
  await api.get("/v1/kv/t", { Authorization: "Bearer b" });
  await api.get("/v1/kv/t");
  t.deepEqual(tokens(), ["q", "h", "b", undefined]);
  await api.put("/v1/kv/t?token=w", "v");
  const write = api.backend.calls.find((c) => c.method === "write")!;
  t.is((write.args[1] as { token?: string }).token, "w");
});

both("kv: blocking GET waits for a write to its key and not for other keys", async (t, api) => {
  await api.put("/v1/kv/w", "0");
  const index = Number((await api.get("/v1/kv/w")).headers.get("x-consul-index"));
  const started = Date.now();
  let settled = false;
  const pending = api.get(`/v1/kv/w?index=${index}&wait=60s`).then((res) => {
    settled = true;
    return res;
  });
  await new Promise((r) => setTimeout(r, 100));
  await api.put("/v1/kv/other", "x");
  await api.put("/v1/kv/w2", "x");
  await new Promise((r) => setTimeout(r, 200));
  t.false(settled, "writes to other keys (w2 shares the prefix) do not wake a single-key watcher");
  await api.put("/v1/kv/w", "woke");
  const woke = await pending;
  // Well before the 60 s wait: the write woke it (the margin is for loaded machines).
  t.true(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
  t.is(Buffer.from(woke.json()[0].Value, "base64").toString(), "woke");
  t.true(Number(woke.headers.get("x-consul-index")) > index);
});

both("kv: a blocking GET with nothing written returns after ?wait (Go duration, e.g. 300ms)", async (t, api) => {
  await api.put("/v1/kv/quiet", "0");
  const index = Number((await api.get("/v1/kv/quiet")).headers.get("x-consul-index"));
  const started = Date.now();
  const res = await api.get(`/v1/kv/quiet?index=${index}&wait=300ms`);
  const tookMs = Date.now() - started;
  t.is(res.status, 200);
  // Not before the wait; the upper bound only says it did not hang (loaded machines are slow).
  t.true(tookMs >= 250 && tookMs < 15_000, `took ${tookMs} ms`);
  t.is(res.headers.get("x-consul-index"), String(index));
});
